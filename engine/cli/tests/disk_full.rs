//! A full disk through the binary: the error names the database and says what to do, what
//! was stored before stays intact, and once space is freed writing resumes with no manual step. The disk is a 1 MiB tmpfs mounted in a private mount
//! namespace (`unshare -rm`: a user namespace, no root needed), gone when the test ends.

mod common;

use std::process::Command;

use common::{repo, text};

#[test]
fn a_full_disk_names_the_database_and_loses_nothing_stored() {
    let dir = tempfile::tempdir().unwrap();
    let disk = dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let bin = env!("CARGO_BIN_EXE_leadorch");
    // Inside the namespace: mount the small disk, run a demo that outgrows it, then verify
    // what it stored. Each command's output and exit code go to files outside the disk.
    let script = format!(
        r#"set -u
mount -t tmpfs -o size=1m tmpfs "{disk}" || exit 90
LEADORCH_HOME="{out}" "{bin}" demo --minutes 2000 --db "{disk}/demo.db" >"{out}/demo.out" 2>"{out}/demo.err"
echo $? >"{out}/demo.rc"
"{bin}" --database-url "sqlite://{disk}/demo.db" audit verify >"{out}/verify.out" 2>"{out}/verify.err"
echo $? >"{out}/verify.rc"
mount -o remount,size=64m "{disk}" || exit 91
LEADORCH_HOME="{out}" "{bin}" --database-url "sqlite://{disk}/demo.db" teams set after-the-disk --time-zone Europe/Amsterdam --hours "mon-fri 08:00-18:00" >"{out}/resume.out" 2>"{out}/resume.err"
echo $? >"{out}/resume.rc"
"{bin}" --database-url "sqlite://{disk}/demo.db" audit verify >"{out}/verify2.out" 2>"{out}/verify2.err"
echo $? >"{out}/verify2.rc"
"#,
        disk = disk.display(),
        out = out.display(),
    );
    let o = Command::new("unshare")
        .args(["-rm", "sh", "-c", &script])
        .current_dir(repo())
        .env("LEADORCH__LIMITS__WALL_CLOCK_MS", "60000")
        .env_remove("DATABASE_URL")
        .output()
        .expect("unshare (util-linux) runs");
    assert!(
        o.status.success(),
        "this test needs user and mount namespaces (unshare -rm) to mount a small disk: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap_or_default();
    assert_eq!(
        read("demo.rc").trim(),
        "1",
        "the demo did not fail: {}",
        read("demo.err")
    );
    let err = read("demo.err");
    let db = format!("sqlite://{}/demo.db", disk.display());
    assert!(
        err.contains(&format!("no space left for the database {db}")),
        "the error does not name the database: {err}"
    );
    assert!(err.contains("free space on its disk"), "{err}");
    assert!(!err.contains("internal error"), "{err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains("nothing already stored is lost"), "{err}");
    // What was stored before the disk filled up is intact.
    assert_eq!(
        read("verify.rc").trim(),
        "0",
        "{}{}",
        read("verify.out"),
        read("verify.err")
    );
    assert!(
        read("verify.out").contains("intact"),
        "{}",
        read("verify.out")
    );
    // Space freed (the disk made larger): writing resumes with no manual step, and the log,
    // one event longer, still verifies.
    assert_eq!(
        read("resume.rc").trim(),
        "0",
        "{}{}",
        read("resume.out"),
        read("resume.err")
    );
    assert_eq!(
        read("verify2.rc").trim(),
        "0",
        "{}{}",
        read("verify2.out"),
        read("verify2.err")
    );
    assert!(
        read("verify2.out").contains("intact") && read("verify2.out") != read("verify.out"),
        "before: {}after: {}",
        read("verify.out"),
        read("verify2.out")
    );
}
