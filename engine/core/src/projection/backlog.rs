//! [`Backlog`]: each team's open leads, folded from its leads' events — the capacity reading
//! of a team whose capacity comes from its leads' statuses (ADR 0022, capacity source
//! `leads`) rather than from a CRM's push.
//!
//! A lead is open while it is in the funnel with status `New`, `Contacted` or `Qualified`;
//! `Won` and `Lost` close it. Duplicates and blocked leads never enter the funnel, so they
//! never count. Pure: no I/O, no clock.

use std::collections::{BTreeMap, HashMap};

use leadorch_domain::{split_stream_id, AnyEvent, Lead, LeadEvent};

/// Open leads per team.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Every lead in the funnel folded in: its team and whether it is open.
    leads: HashMap<String, Tracked>,
    /// Open leads per team; a team whose leads all closed stays, at 0.
    open: BTreeMap<String, u32>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Tracked {
    team: String,
    open: bool,
}

impl Backlog {
    /// An empty backlog.
    pub fn new() -> Backlog {
        Backlog::default()
    }

    /// Folds in one event of the lead `lead_id` (the id of its stream, `lead:<id>`), in log
    /// order. A status change of a lead whose arrival was not folded in is ignored: its team
    /// is not known.
    pub fn apply(&mut self, lead_id: &str, event: &LeadEvent) {
        match event {
            LeadEvent::LeadReceived(arrival) => {
                self.set(lead_id, Some(&arrival.team), true);
            }
            // Not in the funnel, never open.
            LeadEvent::LeadDeduplicated(_) | LeadEvent::LeadBlocked(_) => {}
            LeadEvent::LeadStatusChanged { to, .. } => self.set(lead_id, None, to.is_open()),
        }
    }

    /// Folds in any event of the stream `stream_id`: a lead's events count, all others are
    /// ignored.
    pub fn apply_any(&mut self, stream_id: &str, event: &AnyEvent) {
        if let (Some((_, lead_id)), AnyEvent::Lead(event)) = (split_stream_id(stream_id), event) {
            self.apply(lead_id, event);
        }
    }

    /// The backlog of leads already folded into their aggregate states (the `leads` read
    /// model: `(lead id, state)`), the same as folding their events.
    pub fn from_states<'a>(leads: impl IntoIterator<Item = (&'a str, &'a Lead)>) -> Backlog {
        let mut backlog = Backlog::new();
        for (lead_id, lead) in leads {
            if let (Some(team), Some(status)) = (lead.team(), lead.status()) {
                backlog.set(lead_id, Some(team), status.is_open());
            }
        }
        backlog
    }

    /// The open leads of `team` (0 for a team with none).
    pub fn open_leads(&self, team: &str) -> u32 {
        self.open.get(team).copied().unwrap_or(0)
    }

    /// Every team that has had a lead in the funnel, with its open leads, by name.
    pub fn teams(&self) -> impl Iterator<Item = (&str, u32)> {
        self.open.iter().map(|(team, n)| (team.as_str(), *n))
    }

    /// Sets whether `lead_id` is open; an arrival (`team` given) starts tracking it in that
    /// team, a status change (`None`) never moves it.
    fn set(&mut self, lead_id: &str, team: Option<&str>, open: bool) {
        if let Some(team) = team {
            // A lead id received again (not in a log the domain wrote): the last arrival
            // counts.
            if let Some(before) = self.leads.remove(lead_id) {
                if before.open {
                    self.count(&before.team, false);
                }
            }
            self.open.entry(team.to_owned()).or_insert(0);
            self.leads.insert(
                lead_id.to_owned(),
                Tracked {
                    team: team.to_owned(),
                    open: false,
                },
            );
        }
        let Some(tracked) = self.leads.get_mut(lead_id) else {
            return;
        };
        if tracked.open != open {
            tracked.open = open;
            let team = tracked.team.clone();
            self.count(&team, open);
        }
    }

    /// One more (`up`) or one fewer open lead in `team`.
    fn count(&mut self, team: &str, up: bool) {
        let n = self.open.entry(team.to_owned()).or_insert(0);
        *n = if up { *n + 1 } else { n.saturating_sub(1) };
    }
}

/// The open leads of `team` among `events` (each with its lead's id), folded in log order.
pub fn open_leads<'a>(
    team: &str,
    events: impl IntoIterator<Item = (&'a str, &'a LeadEvent)>,
) -> u32 {
    let mut backlog = Backlog::new();
    for (lead_id, event) in events {
        backlog.apply(lead_id, event);
    }
    backlog.open_leads(team)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use cqrs_es::Aggregate;
    use leadorch_domain::lead::{BlockReason, BlockedLead, LeadArrival};
    use leadorch_domain::LeadStatus;

    fn at(minute: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_760_000_000 + minute * 60, 0).expect("valid time")
    }

    fn arrival(lead_id: &str, team: &str) -> LeadArrival {
        LeadArrival {
            lead_id: lead_id.into(),
            subject_id: format!("s-{lead_id}"),
            team: team.into(),
            source: "api".into(),
            at: at(0),
            ..LeadArrival::default()
        }
    }

    fn received(lead_id: &str, team: &str) -> (String, LeadEvent) {
        (
            lead_id.into(),
            LeadEvent::LeadReceived(arrival(lead_id, team)),
        )
    }

    fn moved(lead_id: &str, from: LeadStatus, to: LeadStatus) -> (String, LeadEvent) {
        (
            lead_id.into(),
            LeadEvent::LeadStatusChanged {
                from,
                to,
                subject_id: Some(format!("s-{lead_id}")),
                owner: None,
                at: at(1),
            },
        )
    }

    fn history() -> Vec<(String, LeadEvent)> {
        use LeadStatus::*;
        vec![
            received("a", "north"),
            received("b", "north"),
            received("c", "north"),
            received("d", "south"),
            (
                "e".into(),
                LeadEvent::LeadDeduplicated(arrival("e", "north").into_duplicate_of("a".into())),
            ),
            (
                "f".into(),
                LeadEvent::LeadBlocked(BlockedLead {
                    reason: BlockReason::TeamNotAccepting,
                    detail: "north is full".into(),
                    arrival: arrival("f", "north"),
                }),
            ),
            moved("a", New, Contacted),
            moved("a", Contacted, Qualified),
            moved("b", New, Won),
            moved("d", New, Lost),
            // A lead whose arrival is not in the history: its team is unknown.
            moved("zz", New, Contacted),
        ]
    }

    fn fold(events: &[(String, LeadEvent)]) -> Backlog {
        let mut backlog = Backlog::new();
        for (id, event) in events {
            backlog.apply(id, event);
        }
        backlog
    }

    #[test]
    fn open_statuses_count_closed_ones_duplicates_and_blocked_leads_do_not() {
        let backlog = fold(&history());
        // a (qualified) and c (new) are open; b won; e is a duplicate, f blocked.
        assert_eq!(backlog.open_leads("north"), 2);
        // d was lost: the team stays known, at 0.
        assert_eq!(backlog.open_leads("south"), 0);
        assert_eq!(backlog.open_leads("west"), 0);
        assert_eq!(
            backlog.teams().collect::<Vec<_>>(),
            vec![("north", 2), ("south", 0)]
        );
        let events = history();
        assert_eq!(
            open_leads("north", events.iter().map(|(id, e)| (id.as_str(), e))),
            2
        );
    }

    #[test]
    fn each_event_moves_the_count_by_at_most_one() {
        use LeadStatus::*;
        let mut backlog = Backlog::new();
        let steps = [
            (received("a", "north"), 1),
            (moved("a", New, Contacted), 1),
            (received("b", "north"), 2),
            (moved("a", Contacted, Lost), 1),
            (moved("b", New, Qualified), 1),
            (moved("b", Qualified, Won), 0),
        ];
        for ((id, event), open) in steps {
            backlog.apply(&id, &event);
            assert_eq!(backlog.open_leads("north"), open, "after {event:?}");
        }
    }

    #[test]
    fn other_streams_and_aggregates_are_ignored() {
        let mut backlog = Backlog::new();
        let (_, event) = received("a", "north");
        backlog.apply_any("lead:a", &AnyEvent::Lead(event.clone()));
        backlog.apply_any("a", &AnyEvent::Lead(event));
        let capacity = leadorch_domain::CapacityEvent::CapacityRecorded {
            team: "north".into(),
            agents_available: 1,
            open_leads: 9,
            max_open_leads: 9,
            source: "crm".into(),
            max_age_secs: None,
            at: at(0),
        };
        backlog.apply_any("capacity:north", &AnyEvent::Capacity(capacity));
        assert_eq!(backlog.open_leads("north"), 1);
    }

    #[test]
    fn states_give_the_same_backlog_as_events() {
        let events = history();
        let mut states: BTreeMap<String, Lead> = BTreeMap::new();
        for (id, event) in &events {
            states.entry(id.clone()).or_default().apply(event.clone());
        }
        let from_states = Backlog::from_states(states.iter().map(|(id, l)| (id.as_str(), l)));
        // The status change of an unknown lead made a state without a team: both leave it out.
        assert_eq!(from_states, fold(&events));
    }
}
