//! Chain verification: recomputing every event's hash and comparing with the log head, with
//! a progress counter and a cancellation check between pages ([`VerifyControl`]) for a
//! verification that runs in the background.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::error::{Result, StoreError};
use crate::hash::{event_hash, Hash, GENESIS};
use crate::log::EventLog;

/// Result of verifying the chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verification {
    /// Every event and the head agree.
    Intact {
        /// Events checked.
        count: u64,
        /// The head hash.
        head: Hash,
    },
    /// The first position where stored bytes disagree with the chain.
    Broken {
        /// First bad position.
        position: u64,
        /// What is wrong there.
        reason: String,
    },
}

/// Watches and stops a verification running elsewhere ([`EventLog::verify_controlled`]):
/// how many events it has checked, and a flag it reads between pages of 10,000 events.
/// Clones share both.
#[derive(Clone, Debug, Default)]
pub struct VerifyControl {
    checked: Arc<AtomicU64>,
    cancelled: Arc<AtomicBool>,
}

impl VerifyControl {
    /// A control for a verification not started yet.
    pub fn new() -> VerifyControl {
        VerifyControl::default()
    }

    /// Events checked so far.
    pub fn checked(&self) -> u64 {
        self.checked.load(Ordering::Relaxed)
    }

    /// Asks the verification to stop at its next page.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether [`VerifyControl::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }
}

impl EventLog {
    /// Recomputes the whole chain; reports the first position where anything disagrees.
    /// `progress` is called with the number of events checked so far.
    pub async fn verify(&self, mut progress: impl FnMut(u64)) -> Result<Verification> {
        let outcome = self
            .verify_while(|n| {
                progress(n);
                true
            })
            .await?;
        outcome.ok_or_else(|| StoreError::Internal("a verification stopped unasked".into()))
    }

    /// [`EventLog::verify`] reporting progress to `control` and stopping when it is
    /// cancelled: `None` then. It yields to other tasks after each page, so it can run on a
    /// server's runtime beside the requests.
    pub async fn verify_controlled(&self, control: &VerifyControl) -> Result<Option<Verification>> {
        self.verify_while(|n| {
            control.checked.store(n, Ordering::Relaxed);
            !control.is_cancelled()
        })
        .await
    }

    /// The verification: `go_on` is called with the events checked so far after each page,
    /// and the check stops (`None`) when it answers `false`.
    ///
    /// Safe while others append (a running daemon, the API): the head is read first and the
    /// chain checked up to it; events found beyond it are checked too once a newer head covers
    /// them (the head and its events commit together). An event stored beyond a head that does
    /// not cover it is a break.
    async fn verify_while(
        &self,
        mut go_on: impl FnMut(u64) -> bool,
    ) -> Result<Option<Verification>> {
        const PAGE: u64 = 10_000;
        let mut expected_position = 1u64;
        let mut prev = GENESIS;
        let mut head = self.head().await?;
        loop {
            // The chain up to the head as read.
            while expected_position <= head.position {
                let want = PAGE.min(head.position - (expected_position - 1));
                let page = match self.read_after(expected_position - 1, want).await {
                    Ok(p) => p,
                    Err(StoreError::Decode { position, reason }) => {
                        return Ok(Some(Verification::Broken { position, reason }))
                    }
                    Err(e) => return Err(e),
                };
                let n = page.len() as u64;
                for e in page {
                    if e.position != expected_position {
                        return Ok(Some(Verification::Broken {
                            position: expected_position,
                            reason: format!(
                                "position {expected_position} is missing (next stored is {})",
                                e.position
                            ),
                        }));
                    }
                    if e.prev_hash != prev {
                        return Ok(Some(Verification::Broken {
                            position: e.position,
                            reason: "prev_hash does not match the hash of the event before".into(),
                        }));
                    }
                    let h = event_hash(&prev, &e.hash_input());
                    if h != e.hash {
                        return Ok(Some(Verification::Broken {
                            position: e.position,
                            reason: "stored bytes do not match the event's hash".into(),
                        }));
                    }
                    prev = h;
                    expected_position += 1;
                }
                if !go_on(expected_position - 1) {
                    return Ok(None);
                }
                tokio::task::yield_now().await;
                if n < want {
                    break;
                }
            }
            let count = expected_position - 1;
            if head.position != count || head.hash != prev {
                return Ok(Some(Verification::Broken {
                    position: count.min(head.position) + 1,
                    reason: format!(
                        "the log head says position {} but the chain ends at {count}",
                        head.position
                    ),
                }));
            }
            // Anything stored beyond it was appended since (a newer head covers it), or is
            // not part of the chain.
            let beyond = match self.read_after(head.position, 1).await {
                Ok(p) => p,
                Err(StoreError::Decode { position, reason }) => {
                    return Ok(Some(Verification::Broken { position, reason }))
                }
                Err(e) => return Err(e),
            };
            let Some(next) = beyond.first() else {
                return Ok(Some(Verification::Intact { count, head: prev }));
            };
            let newer = self.head().await?;
            if newer.position < next.position {
                return Ok(Some(Verification::Broken {
                    position: next.position,
                    reason: format!(
                        "position {} is stored beyond the log head (position {})",
                        next.position, newer.position
                    ),
                }));
            }
            head = newer;
        }
    }
}
