//! Leases on both backends: a second holder is refused while the first holds the lease, and
//! gets it once the first is dropped; each project has its own lease.

use std::time::Duration;

use leadorch_store::Db;
use leadorch_test_support::{TestDb, BOTH};

#[tokio::test]
async fn one_lease_holder_at_a_time_on_both_backends() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let db = Db::connect(&t.url).await.expect("connect");
        let mut first = db
            .try_lease("default")
            .await
            .expect("try")
            .expect("the first holder gets the lease");
        assert!(first.check().await, "{d:?}: the lease is held");
        assert!(
            db.try_lease("default").await.expect("try again").is_none(),
            "{d:?}: a second holder is refused while the first holds the lease"
        );
        // Another project's daemon leads beside the default one, one per project too.
        let acme = db
            .try_lease("acme")
            .await
            .expect("try acme")
            .expect("acme's lease is its own");
        assert!(
            db.try_lease("acme")
                .await
                .expect("try acme again")
                .is_none(),
            "{d:?}: acme's second holder is refused"
        );
        assert!(
            db.try_lease("globex").await.expect("try globex").is_some(),
            "{d:?}: a third project leads too"
        );
        drop(acme);
        drop(first);
        // PostgreSQL releases the advisory lock once it notices the holder's connection
        // closed: wait for that, however long the machine takes.
        let second = loop {
            if let Some(l) = db.try_lease("default").await.expect("try after drop") {
                break l;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        drop(second);
        db.close().await;
        t.cleanup().await;
    }
}

#[cfg(unix)]
#[tokio::test]
async fn a_link_to_the_sqlite_file_names_the_same_lease() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("leadorch.db");
    let real = Db::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("connect by the file's name");
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let linked = Db::connect(&format!("sqlite://{}", link.display()))
        .await
        .expect("connect through the link");
    let held = real
        .try_lease("default")
        .await
        .expect("try")
        .expect("the first holder gets the lease");
    assert!(
        linked.try_lease("default").await.expect("try").is_none(),
        "a daemon given a link to the same file does not lead beside the first"
    );
    drop(held);
    assert!(linked.try_lease("default").await.expect("try").is_some());
    real.close().await;
    linked.close().await;
}
