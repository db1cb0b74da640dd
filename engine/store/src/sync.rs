//! SQLite group commit with the `fsync` off the writer's path (ADR 0055).
//!
//! With `synchronous = FULL`, SQLite syncs the write-ahead log inside every commit, while it
//! holds the database's one write lock: on this project's machines that `fsync` takes about
//! 4 ms whatever a group wrote, and the writer did nothing else meanwhile — the next group
//! could not start before the last one was on disk. The writer's connection now commits with
//! `synchronous = NORMAL` (SQLite writes the frames and makes them visible, no sync) and hands
//! the group to the syncer, a thread of its own that syncs the log file and only then answers
//! the group's appends and moves the log head. So:
//!
//! - **nothing is acknowledged before it is on disk**: a reply, the head that subscribers
//!   follow and the appended count move only after an `fsync` that began after the group's
//!   commit returned (one `fsync` of the file covers every frame written before it);
//! - the next group's statements run while the last one syncs, and a sync covers every
//!   group that committed while the one before it ran;
//! - another connection may read a committed group before it is synced (for at most one
//!   `fsync`). A power cut in that moment loses it, as it loses every group not yet
//!   acknowledged; nothing acknowledged depends on it, since the log file is written in order
//!   and the sync of a later group covers every earlier frame;
//! - a failed `fsync` (the disk refused a write: the kernel may have dropped the pages) stops
//!   every later acknowledgement: what is on disk is not known until the process restarts and
//!   SQLite reads the log back, so every append after it fails with the reason.
//!
//! SQLite's own guarantee for `NORMAL` in WAL mode holds either way: a power cut never leaves
//! a damaged database, only a log that ends earlier.

use std::path::PathBuf;
use std::sync::{mpsc, Arc, OnceLock};

use tokio::sync::{oneshot, watch};

use crate::error::{Result, StoreError};
use crate::log::Appended;

/// One append's reply and what it is.
pub(crate) type Reply = (
    oneshot::Sender<Result<Vec<Appended>>>,
    Result<Vec<Appended>>,
);

/// A group that committed, waiting to be acknowledged.
pub(crate) struct Committed {
    /// Each append's reply.
    pub(crate) replies: Vec<Reply>,
    /// Where the log head is after the group (none when it wrote nothing and knows of
    /// nothing written).
    pub(crate) last: Option<u64>,
    /// Events the group wrote.
    pub(crate) written: u64,
    /// The group's place in the pipeline ([`Syncer::place`]), freed once it is answered.
    pub(crate) place: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// Where acknowledged groups are made known: the log head and the count of appended events.
#[derive(Clone)]
pub(crate) struct Announce {
    pub(crate) head: watch::Sender<u64>,
    pub(crate) appended: Arc<std::sync::atomic::AtomicU64>,
}

impl Announce {
    /// Counts the group, moves the head to it and answers its appends.
    pub(crate) fn acknowledge(&self, group: Committed) {
        self.appended
            .fetch_add(group.written, std::sync::atomic::Ordering::Relaxed);
        if let Some(last) = group.last {
            self.head.send_if_modified(|h| {
                let moved = last > *h;
                if moved {
                    *h = last;
                }
                moved
            });
        }
        for (reply, outcome) in group.replies {
            let _ = reply.send(outcome);
        }
        // Answered: the next group may commit.
        drop(group.place);
    }
}

/// The syncer: acknowledges committed groups once the log file is on disk.
pub(crate) struct Syncer {
    tx: mpsc::Sender<Committed>,
    failed: Arc<OnceLock<StoreError>>,
    places: Arc<tokio::sync::Semaphore>,
}

/// Groups committed and not yet answered, at most: one syncing while the next commits. A
/// writer that committed whenever a request waited would commit a group of two or three
/// appends every few hundred microseconds while one `fsync` runs, each commit rewriting the
/// last page of every table and index it touches; waiting for a place lets the appends that
/// arrive meanwhile join one group.
const PLACES: usize = 2;

/// Makes the log file durable: an `fsync` of the write-ahead log (tests give another).
pub(crate) type SyncFn = Box<dyn FnMut() -> std::io::Result<()> + Send>;

impl Syncer {
    /// Starts the syncer's thread. It ends when the [`Syncer`] is dropped, after answering
    /// every group handed to it.
    pub(crate) fn spawn(mut sync: SyncFn, announce: Announce, what: String) -> Result<Syncer> {
        let (tx, rx) = mpsc::channel::<Committed>();
        let failed: Arc<OnceLock<StoreError>> = Arc::default();
        let failure = Arc::clone(&failed);
        std::thread::Builder::new()
            .name("leadorch-sync".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut groups = vec![first];
                    groups.extend(rx.try_iter());
                    let synced = match failure.get() {
                        Some(e) => Err(e.clone()),
                        None => sync().map_err(|e| {
                            let e = StoreError::Io {
                                what: format!(
                                    "syncing {what} to disk failed, so nothing written after \
                                     the last acknowledged append is known to be on disk; every \
                                     append is refused until leadorch restarts"
                                ),
                                source: Arc::new(e),
                            };
                            tracing::error!("{e}");
                            failure.get_or_init(|| e).clone()
                        }),
                    };
                    for group in groups {
                        match &synced {
                            Ok(()) => announce.acknowledge(group),
                            Err(e) => {
                                for (reply, _) in group.replies {
                                    let _ = reply.send(Err(e.clone()));
                                }
                            }
                        }
                    }
                }
            })
            .map_err(|e| StoreError::Io {
                what: "starting the log's syncer thread".into(),
                source: Arc::new(e),
            })?;
        Ok(Syncer {
            tx,
            failed,
            places: Arc::new(tokio::sync::Semaphore::new(PLACES)),
        })
    }

    /// Waits for a place for the next group: until fewer than [`PLACES`] groups are committed
    /// and not yet answered.
    pub(crate) async fn place(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        Arc::clone(&self.places).acquire_owned().await.ok()
    }

    /// Hands a committed group over; it is answered once synced.
    pub(crate) fn hand_over(&self, group: Committed) {
        if let Err(mpsc::SendError(group)) = self.tx.send(group) {
            // The thread is gone (it panicked): nothing can be acknowledged.
            let e = StoreError::Internal("the log's syncer thread has stopped".into());
            for (reply, _) in group.replies {
                let _ = reply.send(Err(e.clone()));
            }
        }
    }

    /// The failed sync that stops every append, once there was one.
    pub(crate) fn failed(&self) -> Option<&StoreError> {
        self.failed.get()
    }
}

/// The database's write-ahead log file, synced by path: opened on first use and again when
/// the file at the path is another one (SQLite deletes the log when its last connection
/// closes and makes a new one on the next open).
pub(crate) struct WalFile {
    path: PathBuf,
    open: Option<(std::fs::File, u64)>,
}

impl WalFile {
    pub(crate) fn new(path: PathBuf) -> WalFile {
        WalFile { path, open: None }
    }

    /// Syncs the file's data (and the size that finds it) to disk.
    pub(crate) fn sync(&mut self) -> std::io::Result<()> {
        let now = identity(&std::fs::metadata(&self.path)?);
        if self.open.as_ref().map(|(_, id)| *id) != Some(now) {
            let file = std::fs::File::open(&self.path)?;
            let id = identity(&file.metadata()?);
            self.open = Some((file, id));
        }
        match &self.open {
            Some((file, _)) => file.sync_data(),
            None => Ok(()),
        }
    }
}

#[cfg(unix)]
fn identity(m: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    m.ino()
}

#[cfg(not(unix))]
fn identity(_: &std::fs::Metadata) -> u64 {
    0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    fn announce() -> (Announce, watch::Receiver<u64>) {
        let (head, rx) = watch::channel(0);
        (
            Announce {
                head,
                appended: Arc::new(AtomicU64::new(0)),
            },
            rx,
        )
    }

    fn group(last: u64) -> (Committed, oneshot::Receiver<Result<Vec<Appended>>>) {
        let (tx, rx) = oneshot::channel();
        let appended = Appended {
            first_position: last,
            last_position: last,
            stream_version: 1,
        };
        (
            Committed {
                replies: vec![(tx, Ok(vec![appended]))],
                last: Some(last),
                written: 1,
                place: None,
            },
            rx,
        )
    }

    #[tokio::test]
    async fn a_group_is_answered_and_the_head_moves_only_after_the_sync() {
        let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let release_rx = std::sync::Mutex::new(release_rx);
        let (announce, head) = announce();
        let appended = Arc::clone(&announce.appended);
        let syncer = Syncer::spawn(
            Box::new(move || {
                entered_tx.send(()).ok();
                release_rx.lock().unwrap().recv().ok();
                Ok(())
            }),
            announce,
            "the test's log".into(),
        )
        .unwrap();
        let (g, mut reply) = group(7);
        syncer.hand_over(g);
        // The sync has begun and not finished: nothing is known yet.
        tokio::task::spawn_blocking(move || entered_rx.recv().unwrap())
            .await
            .unwrap();
        assert!(reply.try_recv().is_err(), "answered before the sync ended");
        assert_eq!(*head.borrow(), 0, "the head moved before the sync ended");
        assert_eq!(appended.load(std::sync::atomic::Ordering::Relaxed), 0);
        release_tx.send(()).unwrap();
        let answered = reply.await.unwrap().unwrap();
        assert_eq!(answered[0].last_position, 7);
        assert_eq!(*head.borrow(), 7);
        assert_eq!(appended.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn a_failed_sync_refuses_its_group_and_every_later_one() {
        let (announce, head) = announce();
        let syncs = Arc::new(AtomicU64::new(0));
        let counted = Arc::clone(&syncs);
        let syncer = Syncer::spawn(
            Box::new(move || {
                counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(std::io::Error::other("the disk said no"))
            }),
            announce,
            "the test's log".into(),
        )
        .unwrap();
        let (g, reply) = group(3);
        syncer.hand_over(g);
        let e = reply.await.unwrap().unwrap_err();
        assert!(e.to_string().contains("the disk said no"), "{e}");
        assert!(e.to_string().contains("until leadorch restarts"), "{e}");
        assert!(syncer.failed().is_some());
        // A later group is refused without another sync: what is on disk is not known.
        let (g, reply) = group(4);
        syncer.hand_over(g);
        assert!(reply.await.unwrap().is_err());
        assert_eq!(syncs.load(std::sync::atomic::Ordering::Relaxed), 1);
        assert_eq!(*head.borrow(), 0);
    }

    #[tokio::test]
    async fn on_sqlite_every_append_is_acknowledged_through_the_sync() {
        use crate::db::{Db, Open};
        use crate::log::{EventLog, ExpectedVersion, NewEvent};
        use std::sync::atomic::{AtomicBool, Ordering};

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("log.db").display());
        let db = Db::connect_with(&url, Open::Create).await.unwrap();
        let syncs = Arc::new(AtomicU64::new(0));
        let fail = Arc::new(AtomicBool::new(false));
        let (counted, failing) = (Arc::clone(&syncs), Arc::clone(&fail));
        let log = EventLog::open_syncing_with(
            db,
            Box::new(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                if failing.load(Ordering::SeqCst) {
                    Err(std::io::Error::other("the disk said no"))
                } else {
                    Ok(())
                }
            }),
        )
        .await
        .unwrap();
        let event = || {
            vec![NewEvent::new(
                "Noted",
                "1.0",
                b"{}".to_vec(),
                &crate::Metadata::actor("test"),
            )]
        };
        let first = log
            .append("note:1", ExpectedVersion::NoStream, event())
            .await
            .unwrap();
        assert!(
            syncs.load(Ordering::SeqCst) >= 1,
            "acknowledged without a sync"
        );
        assert_eq!(*log.watch_head().borrow(), first.last_position);

        fail.store(true, Ordering::SeqCst);
        let e = log
            .append("note:2", ExpectedVersion::NoStream, event())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("the disk said no"), "{e}");
        // Committed but not known to be on disk: the head stays where the last sync left it.
        assert_eq!(*log.watch_head().borrow(), first.last_position);
        // And nothing more is written or acknowledged until a restart.
        let syncs_then = syncs.load(Ordering::SeqCst);
        let e = log
            .append("note:3", ExpectedVersion::NoStream, event())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("until leadorch restarts"), "{e}");
        assert_eq!(syncs.load(Ordering::SeqCst), syncs_then);
        let positions = log.read_after(0, 100).await.unwrap();
        assert_eq!(positions.len(), 2, "note:3 was written");
    }

    #[test]
    fn the_wal_file_is_opened_again_when_it_was_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db-wal");
        std::fs::write(&path, b"one").unwrap();
        let mut wal = WalFile::new(path.clone());
        wal.sync().unwrap();
        let first = wal.open.as_ref().unwrap().1;
        // The old file stays (under another name), so the new one is another inode.
        std::fs::rename(&path, dir.path().join("old")).unwrap();
        std::fs::write(&path, b"two").unwrap();
        wal.sync().unwrap();
        let second = wal.open.as_ref().unwrap().1;
        assert_eq!(second, identity(&std::fs::metadata(&path).unwrap()));
        if cfg!(unix) {
            assert_ne!(first, second);
        }
        std::fs::remove_file(&path).unwrap();
        assert!(wal.sync().is_err(), "a missing log file is an error");
    }
}
