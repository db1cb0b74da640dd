//! Capture of request and response bodies for conformance checks.
//!
//! `tests/conformance/google_ads.py` reads JSON Lines of [`Capture::to_json_line`] and checks
//! every body against Google's protos. Only JSON bodies are captured (a non-JSON answer such
//! as an HTML 502 is not Google's API speaking and has no schema). Bodies never contain the
//! access token: headers are not captured.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};

/// Names of the RPCs, as the conformance checker knows them.
pub mod rpc {
    /// `GET customers:listAccessibleCustomers`.
    pub const LIST_ACCESSIBLE_CUSTOMERS: &str = "ListAccessibleCustomers";
    /// `googleAds:search`.
    pub const SEARCH: &str = "Search";
    /// `googleAds:searchStream`.
    pub const SEARCH_STREAM: &str = "SearchStream";
    /// `campaigns:mutate`.
    pub const MUTATE_CAMPAIGNS: &str = "MutateCampaigns";
    /// `campaignBudgets:mutate`.
    pub const MUTATE_CAMPAIGN_BUDGETS: &str = "MutateCampaignBudgets";
    /// `campaignCriteria:mutate`.
    pub const MUTATE_CAMPAIGN_CRITERIA: &str = "MutateCampaignCriteria";
}

/// One captured body.
#[derive(Debug, Clone, PartialEq)]
pub struct Capture {
    /// RPC name (see [`rpc`]).
    pub rpc: &'static str,
    /// `"request"` (sent), `"response"` (2xx answer) or `"error"` (error envelope).
    pub kind: &'static str,
    /// The JSON body (`{}` for the body-less GET).
    pub body: Value,
}

impl Capture {
    /// `{"rpc":…,"kind":…,"body":…}` on one line, without the trailing newline.
    pub fn to_json_line(&self) -> String {
        json!({"rpc": self.rpc, "kind": self.kind, "body": self.body}).to_string()
    }
}

/// Receives every capture; set with [`crate::GoogleAdsClient::with_capture`].
pub type CaptureSink = Arc<dyn Fn(Capture) + Send + Sync>;

/// A sink appending JSON lines to `path` (created or appended to). Write errors are logged
/// once per capture and otherwise ignored: capture must never break a call.
pub fn jsonl_file_sink(path: &Path) -> io::Result<CaptureSink> {
    let file = File::options().create(true).append(true).open(path)?;
    let file = Mutex::new(file);
    Ok(Arc::new(move |c: Capture| {
        let mut line = c.to_json_line();
        line.push('\n');
        let mut f = file.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = f.write_all(line.as_bytes()) {
            tracing::warn!(error = %e, "could not write a Google Ads capture");
        }
    }))
}

/// A sink collecting captures in memory (tests, tools).
pub fn memory_sink() -> (CaptureSink, Arc<Mutex<Vec<Capture>>>) {
    let store = Arc::new(Mutex::new(Vec::new()));
    let s = store.clone();
    (
        Arc::new(move |c| s.lock().unwrap_or_else(|p| p.into_inner()).push(c)),
        store,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_line_shape() {
        let c = Capture {
            rpc: rpc::SEARCH,
            kind: "request",
            body: json!({"query": "SELECT campaign.id FROM campaign"}),
        };
        let v: Value = serde_json::from_str(&c.to_json_line()).unwrap();
        assert_eq!(
            v,
            json!({"rpc": "Search", "kind": "request", "body": {"query": "SELECT campaign.id FROM campaign"}})
        );
        assert!(!c.to_json_line().contains('\n'));
    }

    #[test]
    fn file_sink_appends_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.jsonl");
        let sink = jsonl_file_sink(&path).unwrap();
        for kind in ["request", "response"] {
            sink(Capture {
                rpc: rpc::SEARCH,
                kind,
                body: json!({}),
            });
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().nth(1).unwrap().contains("\"response\""));
    }
}
