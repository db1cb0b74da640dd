//! Chain verification: recomputing every event's hash and comparing with the log head.

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

impl EventLog {
    /// Recomputes the whole chain; reports the first position where anything disagrees.
    /// `progress` is called with the number of events checked so far.
    pub async fn verify(&self, mut progress: impl FnMut(u64)) -> Result<Verification> {
        const PAGE: u64 = 10_000;
        let mut expected_position = 1u64;
        let mut prev = GENESIS;
        loop {
            let page = match self.read_after(expected_position - 1, PAGE).await {
                Ok(p) => p,
                Err(StoreError::Decode { position, reason }) => {
                    return Ok(Verification::Broken { position, reason })
                }
                Err(e) => return Err(e),
            };
            let n = page.len() as u64;
            for e in page {
                if e.position != expected_position {
                    return Ok(Verification::Broken {
                        position: expected_position,
                        reason: format!(
                            "position {expected_position} is missing (next stored is {})",
                            e.position
                        ),
                    });
                }
                if e.prev_hash != prev {
                    return Ok(Verification::Broken {
                        position: e.position,
                        reason: "prev_hash does not match the hash of the event before".into(),
                    });
                }
                let h = event_hash(&prev, &e.hash_input());
                if h != e.hash {
                    return Ok(Verification::Broken {
                        position: e.position,
                        reason: "stored bytes do not match the event's hash".into(),
                    });
                }
                prev = h;
                expected_position += 1;
            }
            progress(expected_position - 1);
            if n < PAGE {
                break;
            }
        }
        let count = expected_position - 1;
        let head = self.head().await?;
        if head.position != count || head.hash != prev {
            return Ok(Verification::Broken {
                position: count.min(head.position) + 1,
                reason: format!(
                    "the log head says position {} but the chain ends at {count}",
                    head.position
                ),
            });
        }
        Ok(Verification::Intact { count, head: prev })
    }
}
