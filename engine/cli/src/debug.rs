//! `leadorch debug-append-loop` (hidden): appends one event at a time forever, for the crash
//! tests.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use leadorch_store::{ExpectedVersion, Metadata, NewEvent};

use crate::common::{open, Open};
use crate::Global;

/// Appends forever; each line on stdout is an event id whose append was acknowledged.
pub async fn append_loop(g: &Global, stream: &str) -> Result<ExitCode> {
    let engine = open(g, Open::Create).await?;
    let stdout = std::io::stdout();
    let meta = Metadata::actor("crash-test");
    let mut n: u64 = 0;
    loop {
        n += 1;
        let e = NewEvent::new(
            "CrashProbe",
            "1.0",
            format!("{{\"n\":{n}}}").into_bytes(),
            &meta,
        );
        let id = e.event_id;
        engine
            .store
            .log
            .append(stream, ExpectedVersion::Any, vec![e])
            .await?;
        let mut out = stdout.lock();
        writeln!(out, "{id}")?;
        out.flush()?;
    }
}
