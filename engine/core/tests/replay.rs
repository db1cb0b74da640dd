//! Read models: rebuild equals incremental catch-up, time travel, deterministic seeds,
//! commands racing through cqrs-es.

use chrono::{TimeZone, Utc};
use leadorch_core::projection::{advance, as_of, catch_up, current, rebuild, Projections, Table};
use leadorch_core::seed::{seed, SeedOptions};
use leadorch_core::Error;
use leadorch_domain::campaign::{Bidding, CampaignChange, CampaignSnapshot, CampaignStatus};
use leadorch_domain::{Campaign, CampaignCommand, Lead, LeadCommand, LeadStatus};
use leadorch_store::{ExpectedVersion, Metadata, NewEvent, Reveal};
use leadorch_test_support::{TestDb, BOTH};

mod common;
use common::{engine, receive_lead};

fn table<D: serde::Serialize>(t: &Table<D>) -> serde_json::Value {
    t.iter().map(|(k, d)| serde_json::json!([k, d])).collect()
}

/// Every read model's rows.
fn all_docs(p: &Projections) -> serde_json::Value {
    serde_json::json!([
        table(&p.campaigns),
        table(&p.capacity),
        table(&p.leads),
        table(&p.consents),
        table(&p.data_subjects),
        table(&p.rules),
        table(&p.google_accounts),
        table(&p.teams),
        table(&p.subject_index),
        table(&p.audit)
    ])
}

#[tokio::test]
async fn advancing_row_by_row_saves_what_a_rebuild_computes_and_a_lost_race_saves_nothing() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let end = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        let options = |events, seed| SeedOptions { events, seed, end };
        seed(&e, &options(2200, 7)).await.unwrap();
        // Persisted as of 1500; the 700 events after it change rows saved before (leads
        // worked, consents withdrawn, subjects erased, the audit's counts).
        let mut first = Projections::default();
        first
            .fold_until(&e.store, Some(1500), &mut |_| {})
            .await
            .unwrap();
        first.save(e.store.db(), true).await.unwrap();
        assert_eq!(advance(&e.store).await.unwrap(), 2200);
        let stored = Projections::load(e.store.db()).await.unwrap();
        let folded = as_of(&e.store, 2200, &mut |_| {}).await.unwrap();
        assert!(
            !folded.leads.is_empty() && !folded.audit.is_empty(),
            "{} leads, {} audit rows",
            folded.leads.len(),
            folded.audit.len()
        );
        assert_eq!(all_docs(&stored), all_docs(&folded), "{d:?}");
        assert_eq!(advance(&e.store).await.unwrap(), 2200, "nothing new");

        // `current` loads what it names, and nothing else; it cannot be saved.
        let mut some = current(&e.store, &["rules", "audit"]).await.unwrap();
        assert_eq!(table(&some.rules), table(&folded.rules));
        assert_eq!(table(&some.audit), table(&folded.audit));
        assert!(some.leads.is_empty() && some.campaigns.is_empty());
        assert!(some.save(e.store.db(), false).await.is_err());
        let unknown = current(&e.store, &["rules", "lead"]).await.unwrap_err();
        assert!(unknown.to_string().contains("\"lead\""), "{unknown}");

        // Read models loaded at 2200, and another process moves the persisted ones first:
        // saving them writes nothing, and the checkpoint stays where the other one put it.
        let mut stale = Projections::load(e.store.db()).await.unwrap();
        seed(&e, &options(300, 8)).await.unwrap();
        // `current` moves the persisted read models to the head on its way.
        let teams = current(&e.store, &["teams"]).await.unwrap();
        assert_eq!(teams.position, 2500);
        assert_eq!(e.store.db().checkpoint("projections").await.unwrap(), 2500);
        stale
            .fold_until(&e.store, Some(2400), &mut |_| {})
            .await
            .unwrap();
        assert!(!stale.save(e.store.db(), false).await.unwrap());
        assert_eq!(e.store.db().checkpoint("projections").await.unwrap(), 2500);
        let stored = Projections::load(e.store.db()).await.unwrap();
        let folded = as_of(&e.store, 2500, &mut |_| {}).await.unwrap();
        assert_eq!(all_docs(&stored), all_docs(&folded), "{d:?}");
        e.store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn incremental_catch_up_and_a_full_rebuild_agree() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let end = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
        seed(
            &e,
            &SeedOptions {
                events: 2200,
                seed: 7,
                end,
            },
        )
        .await
        .unwrap();
        // Persist the read models as of 1500, then catch up incrementally to the head.
        let mut first = Projections::default();
        first
            .fold_until(&e.store, Some(1500), &mut |_| {})
            .await
            .unwrap();
        assert_eq!(first.position, 1500);
        first.save(e.store.db(), true).await.unwrap();
        let incremental = catch_up(&e.store).await.unwrap();
        assert_eq!(incremental.position, 2200);
        // What is stored equals what a rebuild from 0 computes.
        let stored = Projections::load(e.store.db()).await.unwrap();
        let rebuilt = rebuild(&e.store, &mut |_| {}).await.unwrap();
        assert_eq!(all_docs(&stored), all_docs(&rebuilt));
        assert_eq!(all_docs(&incremental), all_docs(&rebuilt));
        assert_eq!(rebuilt.applied, 2200);
        // Read models never hold plaintext personal data.
        let text = all_docs(&rebuilt).to_string();
        assert!(!text.contains("@example.com"), "plaintext in a read model");
        // A second seed continues the history where the first stopped.
        let more = seed(
            &e,
            &SeedOptions {
                events: 800,
                seed: 8,
                end,
            },
        )
        .await
        .unwrap();
        assert_eq!(more.events, 800);
        assert_eq!(more.head, 3000);
        let after = catch_up(&e.store).await.unwrap();
        assert_eq!(after.campaigns.len(), 6, "the same campaigns, continued");
        assert_eq!(after.capacity.len(), 3, "the same teams, continued");
        assert_eq!(after.rules.len(), 1, "the same rule");
        assert!(matches!(
            e.store.log.verify(|_| {}).await.unwrap(),
            leadorch_store::Verification::Intact { count: 3000, .. }
        ));
        e.store.db().close().await;
        t.cleanup().await;
    }
}

fn snapshot(status: CampaignStatus) -> CampaignSnapshot {
    CampaignSnapshot {
        name: "Brand".into(),
        labels: vec![],
        status,
        daily_budget_micros: 50_000_000,
        bidding: Bidding::ManualCpc,
        ad_schedule: vec![],
        currency: None,
    }
}

#[tokio::test]
async fn time_travel_shows_a_campaign_as_it_was() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let meta = Metadata::actor("test");
        let at = Utc::now();
        let id = "123/9";
        e.execute::<Campaign>(
            id,
            CampaignCommand::Observe {
                customer_id: "123".into(),
                campaign_id: "9".into(),
                snapshot: snapshot(CampaignStatus::Enabled),
                manual_hold: chrono::Duration::hours(1),
                google_account: None,
                at,
            },
            &meta,
        )
        .await
        .unwrap();
        let enabled_at = e.store.log.head().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        for (n, change) in [("c1", CampaignChange::Pause)] {
            e.execute::<Campaign>(
                id,
                CampaignCommand::RequestChange {
                    change_id: n.into(),
                    change,
                    reason: "team full".into(),
                    decision_ref: None,
                    google_account: None,
                    at,
                },
                &meta,
            )
            .await
            .unwrap();
            e.execute::<Campaign>(
                id,
                CampaignCommand::MarkApplied {
                    change_id: n.into(),
                    at,
                },
                &meta,
            )
            .await
            .unwrap();
        }
        let now = rebuild(&e.store, &mut |_| {}).await.unwrap();
        assert_eq!(
            now.campaigns.get(id).unwrap().state.status(),
            Some(CampaignStatus::Paused)
        );

        let then = as_of(&e.store, enabled_at.position, &mut |_| {})
            .await
            .unwrap();
        assert_eq!(
            then.campaigns.get(id).unwrap().state.status(),
            Some(CampaignStatus::Enabled)
        );
        assert_eq!(then.position, enabled_at.position);
        // By time: the position recorded at or before the first event's time.
        let p = e
            .store
            .log
            .position_at_time(enabled_at.recorded_at)
            .await
            .unwrap();
        assert_eq!(p, enabled_at.position);
        // Time travel saved nothing: the stored read model is still the current one.
        let stored = Projections::load(e.store.db()).await.unwrap();
        assert_eq!(
            stored.campaigns.get(id).unwrap().state.status(),
            Some(CampaignStatus::Paused)
        );
        e.store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_same_seed_writes_the_same_history() {
    let end = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let mut runs = Vec::new();
    for _ in 0..2 {
        let t = TestDb::sqlite();
        let e = engine(&t).await;
        let report = seed(
            &e,
            &SeedOptions {
                events: 3000,
                seed: 99,
                end,
            },
        )
        .await
        .unwrap();
        assert_eq!(report.events, 3000);
        assert!(report.leads > 50, "{report:?}");
        assert!(report.consents + 1 >= report.leads, "{report:?}");
        assert!(report.capacity_snapshots > 100);
        let events = e.store.log.read_after(0, 10_000).await.unwrap();
        assert_eq!(events.len(), 3000);
        // Event ids, nonces and recorded-at differ between runs; what happened, in which
        // stream and in which order, does not.
        let mut decoder = e.store.codec.decoder(Reveal::Redact);
        let mut history = Vec::new();
        for ev in &events {
            let payload = decoder.payload(ev).await.unwrap();
            history.push((ev.stream_id.clone(), ev.event_type.clone(), payload));
        }
        runs.push(history);
        e.store.db().close().await;
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn racing_commands_are_decided_again_on_fresh_state() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let meta = Metadata::actor("test");
        let at = Utc::now();
        receive_lead(&e, "l1", "s1", at).await;
        // Two agents mark the lead contacted at once: one wins, the other is told the lead
        // already has that status (decided on the winner's state, not silently overwritten).
        let (a, b) = tokio::join!(
            e.execute::<Lead>(
                "l1",
                LeadCommand::ChangeStatus {
                    status: LeadStatus::Contacted,
                    owner: None,
                    at
                },
                &meta
            ),
            e.execute::<Lead>(
                "l1",
                LeadCommand::ChangeStatus {
                    status: LeadStatus::Contacted,
                    owner: None,
                    at
                },
                &meta
            ),
        );
        assert!(a.is_ok() != b.is_ok(), "{a:?} {b:?}");
        let err = a.err().or(b.err()).unwrap().to_string();
        assert!(err.contains("already"), "{err}");
        assert_eq!(e.store.log.stream_version("lead:l1").await.unwrap(), 2);
        e.store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn following_the_log_keeps_read_models_and_checkpoint_current() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let store = e.store.clone();
        let follower =
            tokio::spawn(async move { leadorch_core::projection::follow(&store, stop_rx).await });
        let meta = Metadata::actor("test");
        let at = Utc::now();
        e.execute::<Campaign>(
            "1/2",
            CampaignCommand::Observe {
                customer_id: "1".into(),
                campaign_id: "2".into(),
                snapshot: snapshot(CampaignStatus::Enabled),
                manual_hold: chrono::Duration::hours(1),
                google_account: None,
                at,
            },
            &meta,
        )
        .await
        .unwrap();
        let head = e.store.log.head().await.unwrap().position;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while e
            .store
            .db()
            .checkpoint(leadorch_core::projection::CHECKPOINT)
            .await
            .unwrap()
            < head
        {
            assert!(
                std::time::Instant::now() < deadline,
                "follower did not catch up"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let stored = Projections::load(e.store.db()).await.unwrap();
        assert_eq!(
            stored.campaigns.get("1/2").unwrap().state.status(),
            Some(CampaignStatus::Enabled)
        );
        stop_tx.send(true).unwrap();
        let p = follower.await.unwrap().unwrap();
        assert_eq!(p.position, head);
        e.store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_rebuild_upcasts_old_events_and_names_the_position_of_a_bad_one() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let meta = Metadata::actor("test");
        let raw = |version: &str, payload: &str| {
            NewEvent::new(
                "CapacityRecorded",
                version,
                payload.as_bytes().to_vec(),
                &meta,
            )
        };
        // Schema 1.0 had no `source`: decoded through the upcaster, not the fast path.
        let old = r#"{"CapacityRecorded":{"team":"north","agents_available":2,"open_leads":3,"max_open_leads":10,"at":"2026-05-01T09:00:00Z"}}"#;
        let current = r#"{"CapacityRecorded":{"team":"south","agents_available":1,"open_leads":1,"max_open_leads":5,"source":"crm-push","at":"2026-05-01T09:00:00Z"}}"#;
        let log = &e.store.log;
        log.append(
            "capacity:north",
            ExpectedVersion::NoStream,
            vec![raw("1.0", old)],
        )
        .await
        .unwrap();
        log.append(
            "capacity:south",
            ExpectedVersion::NoStream,
            vec![raw("1.1", current)],
        )
        .await
        .unwrap();
        let p = rebuild(&e.store, &mut |_| {}).await.unwrap();
        assert_eq!(p.applied, 2);
        let north = p.capacity.get("north").expect("north folded");
        assert_eq!(north.state.source(), Some("unknown"), "upcast 1.0 -> 1.1");
        let south = p.capacity.get("south").expect("south folded");
        assert_eq!(south.state.source(), Some("crm-push"));
        // A payload that does not decode stops the rebuild with its position, and the
        // read models saved before stay as they were.
        log.append(
            "capacity:west",
            ExpectedVersion::NoStream,
            vec![raw("1.1", r#"{"CapacityRecorded":{"team":5}}"#)],
        )
        .await
        .unwrap();
        match rebuild(&e.store, &mut |_| {}).await {
            Err(Error::Decode { position, .. }) => assert_eq!(position, 3),
            other => panic!("expected a decode error at position 3, got {other:?}"),
        }
        let stored = Projections::load(e.store.db()).await.unwrap();
        assert_eq!(stored.position, 2);
        assert_eq!(stored.capacity.len(), 2);
        e.store.db().close().await;
        t.cleanup().await;
    }
}

#[tokio::test]
async fn decoding_opens_sealed_fields_only_for_a_decrypting_decoder() {
    let t = TestDb::new(BOTH[0]).await;
    let e = engine(&t).await;
    let at = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
    receive_lead(&e, "lead-1", "subject-1", at).await;
    let events = e.store.log.read_after(0, 10).await.unwrap();
    let email = |event: leadorch_domain::AnyEvent| match event {
        leadorch_domain::AnyEvent::Lead(leadorch_domain::LeadEvent::LeadReceived(arrival)) => {
            arrival.email
        }
        other => panic!("expected LeadReceived, got {other:?}"),
    };
    // Read models redact: the typed fast path reads the sealed field as absent.
    let mut redact = e.store.codec.decoder(Reveal::Redact);
    let redacted = leadorch_core::projection::decode(&mut redact, &events[0])
        .await
        .unwrap();
    assert_eq!(email(redacted), None);
    // A decrypting decoder gets the value, though the event is at the current schema version.
    let mut open = e.store.codec.decoder(Reveal::Decrypt);
    let opened = leadorch_core::projection::decode(&mut open, &events[0])
        .await
        .unwrap();
    assert_eq!(email(opened).as_deref(), Some(common::EMAIL));
    e.store.db().close().await;
    t.cleanup().await;
}

#[tokio::test]
async fn a_view_as_of_an_event_time_is_a_filter_and_known_at_a_prefix() {
    use leadorch_core::projection::as_of_view;
    use leadorch_core::time_travel::{AsOf, Point};
    let time = |s: &str| s.parse::<chrono::DateTime<Utc>>().unwrap();
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let meta = Metadata::actor("test");
        let observe = |id: &'static str, at| CampaignCommand::Observe {
            customer_id: "123".into(),
            campaign_id: id.into(),
            snapshot: snapshot(CampaignStatus::Enabled),
            manual_hold: chrono::Duration::hours(1),
            google_account: None,
            at,
        };
        // A happened at 08:00 and is written first; B happened at 07:00 and is written
        // later (event time need not follow log order).
        e.execute::<Campaign>("123/a", observe("a", time("2026-03-02T08:00:00Z")), &meta)
            .await
            .unwrap();
        let first = e.store.log.head().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        e.execute::<Campaign>("123/b", observe("b", time("2026-03-02T07:00:00Z")), &meta)
            .await
            .unwrap();
        let paused_at = time("2026-03-02T09:00:00Z");
        e.execute::<Campaign>(
            "123/a",
            CampaignCommand::RequestChange {
                change_id: "c1".into(),
                change: CampaignChange::Pause,
                reason: "team full".into(),
                decision_ref: None,
                google_account: None,
                at: paused_at,
            },
            &meta,
        )
        .await
        .unwrap();
        e.execute::<Campaign>(
            "123/a",
            CampaignCommand::MarkApplied {
                change_id: "c1".into(),
                at: paused_at,
            },
            &meta,
        )
        .await
        .unwrap();
        let store = &e.store;
        let view = |point, known| async move {
            let v = AsOf::resolve(&store.log, point, known).await.unwrap();
            let p = as_of_view(store, &v, &mut |_| {}).await.unwrap();
            let mut ids: Vec<(String, Option<CampaignStatus>)> = p
                .campaigns
                .iter()
                .map(|(id, d)| (id.clone(), d.state.status()))
                .collect();
            ids.sort_by(|x, y| x.0.cmp(&y.0));
            ids
        };
        let b = ("123/b".to_string(), Some(CampaignStatus::Enabled));
        let a = |s| ("123/a".to_string(), Some(s));
        // Event time: B (written second) is in the world at 07:30, A is not.
        let t730 = Some(Point::Time(time("2026-03-02T07:30:00Z")));
        assert_eq!(view(t730, None).await, std::slice::from_ref(&b));
        let t830 = Some(Point::Time(time("2026-03-02T08:30:00Z")));
        assert_eq!(
            view(t830, None).await,
            [a(CampaignStatus::Enabled), b.clone()]
        );
        let t930 = Some(Point::Time(time("2026-03-02T09:30:00Z")));
        assert_eq!(
            view(t930, None).await,
            [a(CampaignStatus::Paused), b.clone()]
        );
        // Recorded time: what the log held when only A was written.
        let known = chrono::DateTime::from_timestamp_micros(first.recorded_at).unwrap();
        assert_eq!(view(None, Some(known)).await, [a(CampaignStatus::Enabled)]);
        // Both: known then, about 07:30: nothing yet.
        assert_eq!(view(t730, Some(known)).await, []);
        // A position is a prefix, capped at the head.
        assert_eq!(
            view(Some(Point::Position(first.position)), None).await,
            [a(CampaignStatus::Enabled)]
        );
        let all = view(Some(Point::Position(1_000)), None).await;
        assert_eq!(all, [a(CampaignStatus::Paused), b]);
        e.store.db().close().await;
        t.cleanup().await;
    }
}

/// Each team's open leads folded from the log's lead events equal those counted from the
/// `leads` read model, and every team the seed routes leads to has some history.
#[tokio::test]
async fn backlog_from_events_equals_backlog_from_the_read_model() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let end = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    seed(
        &e,
        &SeedOptions {
            events: 1500,
            seed: 11,
            end,
        },
    )
    .await
    .unwrap();
    let mut folded = leadorch_core::projection::Backlog::new();
    let mut decoder = e.store.codec.decoder(Reveal::Redact);
    for rec in e.store.log.read_after(0, 10_000).await.unwrap() {
        let event = leadorch_core::projection::decode(&mut decoder, &rec)
            .await
            .unwrap();
        folded.apply_any(&rec.stream_id, &event);
    }
    let views = rebuild(&e.store, &mut |_| {}).await.unwrap();
    let from_states = views.backlog();
    assert_eq!(
        folded.teams().collect::<Vec<_>>(),
        from_states.teams().collect::<Vec<_>>()
    );
    let open: u32 = folded.teams().map(|(_, n)| n).sum();
    let counted = views
        .leads
        .iter()
        .filter(|(_, doc)| doc.state.is_open())
        .count();
    assert_eq!(open as usize, counted);
    assert!(open > 0 && folded.teams().count() > 1, "{folded:?}");
    e.store.db().close().await;
    t.cleanup().await;
}

/// The accounts' read model alone (what listing them loads) equals the one a full catch-up
/// folds: with no read models persisted yet, and with events after their checkpoint (an
/// account connected, another revoked) that only the log holds.
#[tokio::test]
async fn the_google_accounts_alone_are_what_a_catch_up_folds() {
    use leadorch_core::projection::google_accounts;
    use leadorch_domain::{GoogleAccount, GoogleAccountCommand};
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let at = Utc.with_ymd_and_hms(2026, 6, 1, 9, 0, 0).unwrap();
        let grant = |name: &str| GoogleAccountCommand::GrantConsent {
            account_id: name.to_string(),
            email: None,
            scopes: vec!["https://www.googleapis.com/auth/adwords".into()],
            accessible_customers: vec!["1234567890".into()],
            at,
        };
        let actor = Metadata::actor("test");
        receive_lead(&e, "f-1", "subject-1", at).await;
        for name in ["ops", "acme/ops"] {
            e.execute::<GoogleAccount>(name, grant(name), &actor)
                .await
                .unwrap();
        }
        let alone = google_accounts(&e.store).await.unwrap();
        assert_eq!(alone.len(), 2, "{d:?}");
        // Persisted as of now; then the log moves on.
        catch_up(&e.store).await.unwrap();
        e.execute::<GoogleAccount>("second", grant("second"), &actor)
            .await
            .unwrap();
        e.execute::<GoogleAccount>("ops", GoogleAccountCommand::Revoke { at }, &actor)
            .await
            .unwrap();
        receive_lead(&e, "f-2", "subject-2", at).await;
        let alone = google_accounts(&e.store).await.unwrap();
        let folded = catch_up(&e.store).await.unwrap();
        assert_eq!(alone.len(), 3, "{d:?}");
        assert_eq!(table(&alone), table(&folded.google_accounts), "{d:?}");
        t.cleanup().await;
    }
}

/// `leads_where` shows `keep` every persisted lead and holds only the kept ones, then folds
/// in the lead events after the checkpoint: a kept lead's later status, a new lead whole, and
/// an unkept lead's later events alone (no `lead_id`: it was not its first event).
#[tokio::test]
async fn leads_where_keeps_only_what_it_is_asked_to_and_is_current() {
    for d in BOTH {
        let t = TestDb::new(d).await;
        let e = engine(&t).await;
        let meta = Metadata::actor("test");
        let at = Utc::now();
        let status = |status| LeadCommand::ChangeStatus {
            status,
            owner: None,
            at,
        };
        for (lead, subject) in [("l1", "s1"), ("l2", "s2"), ("l3", "s3")] {
            receive_lead(&e, lead, subject, at).await;
        }
        e.execute::<Lead>("l2", status(LeadStatus::Contacted), &meta)
            .await
            .unwrap();
        catch_up(&e.store).await.unwrap();
        // After the checkpoint: l1 (kept) contacted, l2 (not kept) qualified, l4 new.
        e.execute::<Lead>("l1", status(LeadStatus::Contacted), &meta)
            .await
            .unwrap();
        e.execute::<Lead>("l2", status(LeadStatus::Qualified), &meta)
            .await
            .unwrap();
        receive_lead(&e, "l4", "s4", at).await;

        let mut seen = Vec::new();
        let leads = leadorch_core::projection::leads_where(&e.store, &mut |key, doc| {
            seen.push(key.to_string());
            doc.state.status() == Some(LeadStatus::New)
        })
        .await
        .unwrap();
        assert_eq!(seen, ["l1", "l2", "l3"], "every persisted row shown once");
        let rows: Vec<(String, Option<String>, Option<LeadStatus>)> = leads
            .iter()
            .map(|(k, d)| {
                (
                    k.clone(),
                    d.state.lead_id().map(str::to_string),
                    d.state.status(),
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("l1".into(), Some("l1".into()), Some(LeadStatus::Contacted)),
                ("l2".into(), None, Some(LeadStatus::Qualified)),
                ("l3".into(), Some("l3".into()), Some(LeadStatus::New)),
                ("l4".into(), Some("l4".into()), Some(LeadStatus::New)),
            ]
        );
        e.store.db().close().await;
        t.cleanup().await;
    }
}
