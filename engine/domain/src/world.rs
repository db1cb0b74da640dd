//! The world a database records: marked **simulated** when `leadorch demo`, `leadorch seed`
//! or the first `leadorch daemon --adapter sim` made it (ADR 0018).
//!
//! The marker is an event of its own (stream `world:simulated`), written before anything
//! else the simulation writes, so the log itself says that its leads, capacity and campaigns
//! are synthetic, who made them and with which seed. `leadorch daemon --adapter sim` runs only
//! on a database that carries it; it never writes invented campaigns into a real one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::is_blank;
use crate::personal::{PersonalData, PersonalField};

crate::event_table!(WorldEvent {
    WorldSimulated => "1.0",
});

/// The aggregate id of the marker's stream (`world:simulated`).
pub const SIMULATED: &str = "simulated";

/// Commands of the [`World`].
#[derive(Clone, Debug, PartialEq)]
pub enum WorldCommand {
    /// Mark the database's world as simulated.
    MarkSimulated {
        /// What made it (`demo`, `seed`, `daemon`).
        by: String,
        /// The simulator's seed.
        seed: u64,
        /// When.
        at: DateTime<Utc>,
    },
}

/// Events of the [`World`]. None has personal fields.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WorldEvent {
    /// Everything simulated in this database is synthetic: made by `by` with `seed`.
    WorldSimulated {
        /// What made it (`demo`, `seed`, `daemon`).
        by: String,
        /// The simulator's seed.
        seed: u64,
        /// When.
        #[serde(deserialize_with = "crate::time::utc")]
        at: DateTime<Utc>,
    },
}

/// Why a [`WorldCommand`] was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WorldError {
    /// The world is already marked simulated (by whom). HTTP 409.
    #[error("the world is already marked simulated (by {by})")]
    AlreadySimulated {
        /// What marked it.
        by: String,
    },
    /// A required field is empty. HTTP 422.
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
}

/// The database's world: simulated or not.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct World {
    simulated: Option<(String, u64)>,
}

impl World {
    /// `(by, seed)` when the world is marked simulated.
    pub fn simulated(&self) -> Option<(&str, u64)> {
        self.simulated
            .as_ref()
            .map(|(by, seed)| (by.as_str(), *seed))
    }

    /// Decides a command.
    pub fn decide(&self, command: WorldCommand) -> Result<Vec<WorldEvent>, WorldError> {
        match command {
            WorldCommand::MarkSimulated { by, seed, at } => {
                if let Some((by, _)) = &self.simulated {
                    return Err(WorldError::AlreadySimulated { by: by.clone() });
                }
                if is_blank(&by) {
                    return Err(WorldError::EmptyField("by"));
                }
                Ok(vec![WorldEvent::WorldSimulated { by, seed, at }])
            }
        }
    }

    pub(crate) fn evolve(&mut self, event: WorldEvent) {
        match event {
            WorldEvent::WorldSimulated { by, seed, .. } => self.simulated = Some((by, seed)),
        }
    }
}

impl PersonalData for WorldEvent {
    fn data_subject(&self) -> Option<&str> {
        None
    }

    fn personal_fields(&self) -> &'static [PersonalField] {
        &[]
    }
}

#[cfg(test)]
pub(crate) fn samples() -> Vec<WorldEvent> {
    vec![WorldEvent::WorldSimulated {
        by: "demo".into(),
        seed: 7,
        at: crate::testutil::t(0),
    }]
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type Fixture = TestFramework<World>;

    #[test]
    fn marks_a_world_simulated_once() {
        let at = crate::testutil::t(0);
        let mark = |by: &str| WorldCommand::MarkSimulated {
            by: by.into(),
            seed: 7,
            at,
        };
        Fixture::with(())
            .given_no_previous_events()
            .when(mark("demo"))
            .then_expect_events(samples());
        Fixture::with(())
            .given(samples())
            .when(mark("seed"))
            .then_expect_error(WorldError::AlreadySimulated { by: "demo".into() });
        Fixture::with(())
            .given_no_previous_events()
            .when(mark(" "))
            .then_expect_error(WorldError::EmptyField("by"));
    }

    #[test]
    fn the_world_remembers_who_simulated_it() {
        let mut w = World::default();
        assert_eq!(w.simulated(), None);
        for e in samples() {
            w.evolve(e);
        }
        assert_eq!(w.simulated(), Some(("demo", 7)));
    }
}
