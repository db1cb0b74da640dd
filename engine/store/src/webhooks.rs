//! Webhook endpoints, deliveries and attempts: three tables beside the log (ADR 0033).
//!
//! An endpoint's secrets are sealed (AES-256-GCM) with its own data key — subject
//! `webhook:<id>`, purpose [`KeyPurpose::Account`] — bound to the endpoint id; removing the
//! endpoint deletes its row and destroys that key. A delivery names the event (position, id,
//! type), never its content: the sender rebuilds the body from the log at each attempt. What
//! a secret looks like and how it signs is `leadorch-webhooks`' business; this module keeps
//! the rows.

use leadorch_domain::personal::KeyPurpose;
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};
use crate::keys::Keyring;
use crate::on_pool;

/// What a delivery is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx came back: never sent again.
    Delivered,
    /// The whole retry schedule failed.
    GivenUp,
    /// Its endpoint was disabled (a 410, a failed schedule, or removed) before it was delivered.
    Disabled,
}

impl DeliveryState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::GivenUp => "given_up",
            DeliveryState::Disabled => "disabled",
        }
    }

    fn parse(s: &str) -> Result<DeliveryState> {
        Ok(match s {
            "pending" => DeliveryState::Pending,
            "delivered" => DeliveryState::Delivered,
            "given_up" => DeliveryState::GivenUp,
            "disabled" => DeliveryState::Disabled,
            other => {
                return Err(StoreError::Internal(format!(
                    "unknown webhook delivery state {other:?}"
                )))
            }
        })
    }
}

/// One endpoint (never its secrets).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Endpoint {
    /// Its id, `we_…`.
    pub endpoint_id: String,
    /// The project whose events it receives.
    pub project: String,
    /// Where deliveries go.
    pub url: String,
    /// The event types it receives.
    pub events: Vec<String>,
    /// When it was made, µs since the epoch.
    pub created_at: i64,
    /// Who made it (the actor).
    pub created_by: String,
    /// When it was disabled, if it is.
    pub disabled_at: Option<i64>,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
}

/// A delivery to make.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewDelivery {
    /// The `webhook-id` its attempts carry, `msg_…`.
    pub delivery_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The endpoint's project.
    pub project: String,
    /// The webhook event type.
    pub event_type: String,
    /// The event's log position.
    pub position: i64,
    /// The event's id.
    pub event_id: String,
    /// Which of the event's webhooks of this type (several `notify(…)` in one evaluation).
    pub part: u32,
    /// When its first attempt is due (µs).
    pub due_at: i64,
}

/// A delivery as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Delivery {
    /// The `webhook-id`.
    pub delivery_id: String,
    /// The endpoint.
    pub endpoint_id: String,
    /// The endpoint's project.
    pub project: String,
    /// The webhook event type.
    pub event_type: String,
    /// The event's log position.
    pub position: i64,
    /// The event's id.
    pub event_id: String,
    /// Which of the event's webhooks of this type.
    pub part: u32,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// When pending: the next attempt (µs).
    pub next_at: Option<i64>,
    /// When it was made (µs).
    pub created_at: i64,
    /// When it reached its final state (µs).
    pub finished_at: Option<i64>,
}

/// One attempt as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AttemptRow {
    /// The delivery.
    pub delivery_id: String,
    /// 1 for the first attempt.
    pub n: u32,
    /// When it was made (µs).
    pub at: i64,
    /// The answer's status, if one came.
    pub status: Option<u16>,
    /// Why there was no answer, or the start of a non-2xx answer.
    pub error: Option<String>,
    /// How long it took, milliseconds.
    pub millis: i64,
}

/// A delivery with its last attempt, as `webhooks deliveries` shows it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct DeliverySummary {
    /// The delivery.
    pub delivery: Delivery,
    /// Its last attempt, if one was made.
    pub last: Option<AttemptRow>,
}

/// What an attempt leads to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterAttempt {
    /// Try again at this time (µs).
    RetryAt(i64),
    /// A 2xx: delivered.
    Delivered,
    /// The schedule is used up: given up, and the endpoint disabled with this reason.
    GiveUp(String),
    /// The receiver said `410 Gone`: the endpoint is disabled with this reason.
    Gone(String),
}

/// Whether a recorded attempt disabled its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The attempt is stored.
    Stored {
        /// The delivery's state moved as asked (it was pending, or a 2xx delivered one whose
        /// endpoint was disabled meanwhile); else it kept its final state.
        moved: bool,
        /// The endpoint was disabled by it (a 410 or a used-up schedule).
        disabled_endpoint: bool,
    },
    /// The attempt is not the delivery's next one, or the delivery was delivered already:
    /// nothing changed.
    Stale,
}

/// The webhook tables of one database.
#[derive(Clone, Debug)]
pub struct Webhooks {
    keys: Keyring,
}

fn subject(endpoint_id: &str) -> String {
    format!("webhook:{endpoint_id}")
}

fn aad(endpoint_id: &str) -> Vec<u8> {
    format!("webhook-secrets:{endpoint_id}").into_bytes()
}

type RawEndpoint = (
    String,
    String,
    String,
    String,
    i64,
    String,
    Option<i64>,
    Option<String>,
);

const ENDPOINT_COLUMNS: &str =
    "endpoint_id, project, url, events, created_at, created_by, disabled_at, disabled_reason";

fn endpoint(r: RawEndpoint) -> Endpoint {
    Endpoint {
        endpoint_id: r.0,
        project: r.1,
        url: r.2,
        events: r
            .3
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        created_at: r.4,
        created_by: r.5,
        disabled_at: r.6,
        disabled_reason: r.7,
    }
}

type RawDelivery = (
    String,
    String,
    String,
    String,
    i64,
    String,
    i32,
    String,
    i32,
    Option<i64>,
    i64,
    Option<i64>,
);

const DELIVERY_COLUMNS: &str = "delivery_id, endpoint_id, project, event_type, position, \
    event_id, part, state, attempts, next_at, created_at, finished_at";

/// [`DELIVERY_COLUMNS`], each prefixed with a table alias.
fn prefixed(alias: &str) -> String {
    DELIVERY_COLUMNS
        .split(", ")
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn delivery(r: RawDelivery) -> Result<Delivery> {
    Ok(Delivery {
        delivery_id: r.0,
        endpoint_id: r.1,
        project: r.2,
        event_type: r.3,
        position: r.4,
        event_id: r.5,
        part: r.6.max(0) as u32,
        state: DeliveryState::parse(&r.7)?,
        attempts: r.8.max(0) as u32,
        next_at: r.9,
        created_at: r.10,
        finished_at: r.11,
    })
}

impl Webhooks {
    /// How long a finished delivery and its attempts are kept, days ([`Webhooks::purge`]
    /// with a cutoff this far back: the delivery worker hourly, `leadorch retention enforce`).
    pub const KEPT_DAYS: i64 = 30;

    /// The tables of the keyring's database.
    pub fn new(keys: Keyring) -> Webhooks {
        Webhooks { keys }
    }

    async fn seal(&self, endpoint_id: &str, secrets: &[&str], now: i64) -> Result<Vec<u8>> {
        if secrets.is_empty() || secrets.iter().any(|s| s.is_empty() || s.contains(' ')) {
            return Err(StoreError::Crypto(
                "webhook secrets must be non-empty and without spaces".into(),
            ));
        }
        let key = self
            .keys
            .key_for_write(&subject(endpoint_id), KeyPurpose::Account, now, None)
            .await?;
        let plain = Zeroizing::new(secrets.join(" "));
        key.seal(&aad(endpoint_id), plain.as_bytes())
    }

    /// Stores a new endpoint with its first secret.
    pub async fn add(&self, e: &Endpoint, secret: &str) -> Result<()> {
        if e.events.is_empty() {
            return Err(StoreError::InvalidInput(
                "a webhook endpoint needs at least one event type".into(),
            ));
        }
        let sealed = self.seal(&e.endpoint_id, &[secret], e.created_at).await?;
        on_pool!(self.keys.db(), p => sqlx::query(
            "INSERT INTO webhook_endpoints (endpoint_id, project, url, events, secrets, \
             created_at, created_by, disabled_at, disabled_reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
            .bind(&e.endpoint_id)
            .bind(&e.project)
            .bind(&e.url)
            .bind(e.events.join(","))
            .bind(sealed)
            .bind(e.created_at)
            .bind(&e.created_by)
            .bind(e.disabled_at)
            .bind(&e.disabled_reason)
            .execute(p)
            .await
            .map(|_| ()))?;
        Ok(())
    }

    /// One endpoint.
    pub async fn endpoint(&self, endpoint_id: &str) -> Result<Option<Endpoint>> {
        let sql =
            format!("SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE endpoint_id = $1");
        let raw: Option<RawEndpoint> = on_pool!(self.keys.db(), p => sqlx::query_as(&sql)
            .bind(endpoint_id)
            .fetch_optional(p)
            .await)?;
        Ok(raw.map(endpoint))
    }

    /// The endpoints of `project` (of every project when `None`), oldest first.
    pub async fn list(&self, project: Option<&str>) -> Result<Vec<Endpoint>> {
        let sql = format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints \
             WHERE ($1 IS NULL OR project = $1) ORDER BY created_at, endpoint_id"
        );
        let raw: Vec<RawEndpoint> = on_pool!(self.keys.db(), p => sqlx::query_as(&sql)
            .bind(project)
            .fetch_all(p)
            .await)?;
        Ok(raw.into_iter().map(endpoint).collect())
    }

    /// The endpoint's live secrets, newest first; `None` when the endpoint or its key is gone.
    pub async fn secrets(&self, endpoint_id: &str) -> Result<Option<Vec<Zeroizing<String>>>> {
        let sealed: Option<Vec<u8>> = on_pool!(self.keys.db(), p => sqlx::query_scalar(
            "SELECT secrets FROM webhook_endpoints WHERE endpoint_id = $1")
            .bind(endpoint_id)
            .fetch_optional(p)
            .await)?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let Some(key) = self
            .keys
            .key(&subject(endpoint_id), KeyPurpose::Account)
            .await?
        else {
            return Ok(None);
        };
        let plain = Zeroizing::new(key.open(&aad(endpoint_id), &sealed)?);
        let text = std::str::from_utf8(&plain)
            .map_err(|_| StoreError::Crypto("stored webhook secrets are not text".into()))?;
        Ok(Some(
            text.split(' ')
                .map(|s| Zeroizing::new(s.to_string()))
                .collect(),
        ))
    }

    /// Makes `secret` the endpoint's newest secret; the previous newest one stays valid (both
    /// sign each attempt) until the next rotation. Returns whether the endpoint exists.
    pub async fn rotate(&self, endpoint_id: &str, secret: &str, now: i64) -> Result<bool> {
        let Some(old) = self.secrets(endpoint_id).await? else {
            return Ok(false);
        };
        let mut live: Vec<&str> = vec![secret];
        if let Some(previous) = old.first() {
            live.push(previous.as_str());
        }
        let sealed = self.seal(endpoint_id, &live, now).await?;
        let n = on_pool!(self.keys.db(), p => sqlx::query(
            "UPDATE webhook_endpoints SET secrets = $1 WHERE endpoint_id = $2")
            .bind(sealed)
            .bind(endpoint_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Disables the endpoint with `reason`; its pending deliveries end as disabled. Returns
    /// whether it was enabled.
    pub async fn disable(&self, endpoint_id: &str, reason: &str, now: i64) -> Result<bool> {
        let n = on_pool!(self.keys.db(), p => async {
            let mut tx = p.begin().await?;
            let n = sqlx::query(
                "UPDATE webhook_endpoints SET disabled_at = $1, disabled_reason = $2 \
                 WHERE endpoint_id = $3 AND disabled_at IS NULL")
                .bind(now)
                .bind(reason)
                .bind(endpoint_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(
                "UPDATE webhook_deliveries SET state = 'disabled', next_at = NULL, \
                 finished_at = $1 WHERE endpoint_id = $2 AND state = 'pending'")
                .bind(now)
                .bind(endpoint_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(n)
        }.await)?;
        Ok(n == 1)
    }

    /// Enables a disabled endpoint again (new events only). Returns whether it was disabled.
    pub async fn enable(&self, endpoint_id: &str) -> Result<bool> {
        let n = on_pool!(self.keys.db(), p => sqlx::query(
            "UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL \
             WHERE endpoint_id = $1 AND disabled_at IS NOT NULL")
            .bind(endpoint_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Removes the endpoint and destroys its secrets' key; its pending deliveries end as
    /// disabled, and its delivery history stays until purged. Returns whether it existed.
    pub async fn remove(&self, endpoint_id: &str, now: i64) -> Result<bool> {
        self.disable(endpoint_id, "removed", now).await?;
        let n = on_pool!(self.keys.db(), p => sqlx::query(
            "DELETE FROM webhook_endpoints WHERE endpoint_id = $1")
            .bind(endpoint_id)
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        self.keys.destroy(&subject(endpoint_id), None).await?;
        Ok(n == 1)
    }

    /// Stores deliveries; one already stored for the same endpoint, event and type is kept
    /// as it is (a dispatcher that read an event twice sends it once). Returns how many were new.
    pub async fn enqueue(&self, rows: &[NewDelivery], now: i64) -> Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let n = on_pool!(self.keys.db(), p => async {
            let mut tx = p.begin().await?;
            let mut n = 0;
            for r in rows {
                n += sqlx::query(
                    "INSERT INTO webhook_deliveries (delivery_id, endpoint_id, project, \
                     event_type, position, event_id, part, state, attempts, next_at, \
                     created_at, finished_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $9, NULL) \
                     ON CONFLICT (endpoint_id, event_id, event_type, part) DO NOTHING")
                    .bind(&r.delivery_id)
                    .bind(&r.endpoint_id)
                    .bind(&r.project)
                    .bind(&r.event_type)
                    .bind(r.position)
                    .bind(&r.event_id)
                    .bind(i32::try_from(r.part).unwrap_or(i32::MAX))
                    .bind(r.due_at)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(n)
        }.await)?;
        Ok(n)
    }

    /// Pending deliveries of enabled endpoints due at `now`, earliest first; only
    /// `project`'s when given (each project's leading daemon delivers its own).
    pub async fn due(&self, project: Option<&str>, now: i64, limit: u32) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {} FROM webhook_deliveries d JOIN webhook_endpoints e \
             ON e.endpoint_id = d.endpoint_id \
             WHERE d.state = 'pending' AND d.next_at <= $1 AND e.disabled_at IS NULL \
             AND ($3 IS NULL OR d.project = $3) \
             ORDER BY d.next_at, d.position LIMIT $2",
            DELIVERY_COLUMNS
                .split(", ")
                .map(|c| format!("d.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let raw: Vec<RawDelivery> = on_pool!(self.keys.db(), p => sqlx::query_as(&sql)
            .bind(now)
            .bind(i64::from(limit))
            .bind(project)
            .fetch_all(p)
            .await)?;
        raw.into_iter().map(delivery).collect()
    }

    /// When the next pending delivery of an enabled endpoint (of `project`, when given) is
    /// due, if any.
    pub async fn next_due(&self, project: Option<&str>) -> Result<Option<i64>> {
        let at: Option<i64> = on_pool!(self.keys.db(), p => sqlx::query_scalar(
            "SELECT MIN(d.next_at) FROM webhook_deliveries d JOIN webhook_endpoints e \
             ON e.endpoint_id = d.endpoint_id \
             WHERE d.state = 'pending' AND e.disabled_at IS NULL \
             AND ($1 IS NULL OR d.project = $1)")
            .bind(project)
            .fetch_one(p)
            .await)?;
        Ok(at)
    }

    /// Records attempt `a` of its delivery and what follows, in one transaction. The attempt
    /// must be the delivery's next (`a.n - 1` made) and the delivery not delivered, else
    /// nothing changes ([`Recorded::Stale`]): a delivered message is never marked for another
    /// attempt. A delivery that ended meanwhile (its endpoint disabled) keeps its state, but
    /// for a 2xx, which delivers it.
    pub async fn record(&self, a: &AttemptRow, after: &AfterAttempt) -> Result<Recorded> {
        let (state, next_at, finished, reason) = match after {
            AfterAttempt::RetryAt(at) => (DeliveryState::Pending, Some(*at), None, None),
            AfterAttempt::Delivered => (DeliveryState::Delivered, None, Some(a.at), None),
            AfterAttempt::GiveUp(r) => (DeliveryState::GivenUp, None, Some(a.at), Some(r)),
            AfterAttempt::Gone(r) => (DeliveryState::Disabled, None, Some(a.at), Some(r)),
        };
        let n = i32::try_from(a.n)
            .map_err(|_| StoreError::Internal("too many webhook attempts".into()))?;
        let status = a.status.map(i32::from);
        let done = on_pool!(self.keys.db(), p => async {
            let mut tx = p.begin().await?;
            // The attempt is recorded when it is the delivery's next one and the delivery
            // was not delivered already.
            let next = sqlx::query(
                "UPDATE webhook_deliveries SET attempts = $1 \
                 WHERE delivery_id = $2 AND attempts = $3 AND state <> 'delivered'")
                .bind(n)
                .bind(&a.delivery_id)
                .bind(n - 1)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if next != 1 {
                tx.rollback().await?;
                return Ok::<Option<(bool, bool)>, sqlx::Error>(None);
            }
            sqlx::query(
                "INSERT INTO webhook_attempts (delivery_id, n, at, status, error, millis) \
                 VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(&a.delivery_id)
                .bind(n)
                .bind(a.at)
                .bind(status)
                .bind(&a.error)
                .bind(a.millis)
                .execute(&mut *tx)
                .await?;
            // Its state moves while it is pending; a 2xx also delivers one whose endpoint
            // was disabled while the attempt was under way (the receiver has it).
            let moved = sqlx::query(
                "UPDATE webhook_deliveries SET state = $1, next_at = $2, finished_at = $3 \
                 WHERE delivery_id = $4 AND (state = 'pending' \
                 OR (state = 'disabled' AND $1 = 'delivered'))")
                .bind(state.as_str())
                .bind(next_at)
                .bind(finished)
                .bind(&a.delivery_id)
                .execute(&mut *tx)
                .await?
                .rows_affected() == 1;
            let mut disabled = false;
            if let (true, Some(reason)) = (moved, reason) {
                disabled = sqlx::query(
                    "UPDATE webhook_endpoints SET disabled_at = $1, disabled_reason = $2 \
                     WHERE disabled_at IS NULL AND endpoint_id = \
                     (SELECT endpoint_id FROM webhook_deliveries WHERE delivery_id = $3)")
                    .bind(a.at)
                    .bind(reason)
                    .bind(&a.delivery_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected() == 1;
                sqlx::query(
                    "UPDATE webhook_deliveries SET state = 'disabled', next_at = NULL, \
                     finished_at = $1 WHERE state = 'pending' AND endpoint_id = \
                     (SELECT endpoint_id FROM webhook_deliveries WHERE delivery_id = $2)")
                    .bind(a.at)
                    .bind(&a.delivery_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Some((moved, disabled)))
        }.await)?;
        Ok(match done {
            Some((moved, disabled_endpoint)) => Recorded::Stored {
                moved,
                disabled_endpoint,
            },
            None => Recorded::Stale,
        })
    }

    /// The endpoint's deliveries, newest first.
    pub async fn deliveries(&self, endpoint_id: &str, limit: u32) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries WHERE endpoint_id = $1 \
             ORDER BY created_at DESC, position DESC LIMIT $2"
        );
        let raw: Vec<RawDelivery> = on_pool!(self.keys.db(), p => sqlx::query_as(&sql)
            .bind(endpoint_id)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await)?;
        raw.into_iter().map(delivery).collect()
    }

    /// A delivery's attempts, first first.
    pub async fn attempts(&self, delivery_id: &str) -> Result<Vec<AttemptRow>> {
        type Raw = (String, i32, i64, Option<i32>, Option<String>, i64);
        let raw: Vec<Raw> = on_pool!(self.keys.db(), p => sqlx::query_as(
            "SELECT delivery_id, n, at, status, error, millis FROM webhook_attempts \
             WHERE delivery_id = $1 ORDER BY n")
            .bind(delivery_id)
            .fetch_all(p)
            .await)?;
        Ok(raw
            .into_iter()
            .map(|r| AttemptRow {
                delivery_id: r.0,
                n: r.1.max(0) as u32,
                at: r.2,
                status: r.3.and_then(|s| u16::try_from(s).ok()),
                error: r.4,
                millis: r.5,
            })
            .collect())
    }

    /// The endpoint's deliveries, newest first, each with its last attempt (one query).
    pub async fn history(&self, endpoint_id: &str, limit: u32) -> Result<Vec<DeliverySummary>> {
        let sql = format!(
            "SELECT {}, a.at, a.status, a.error, a.millis FROM webhook_deliveries d \
             LEFT JOIN webhook_attempts a ON a.delivery_id = d.delivery_id AND a.n = d.attempts \
             WHERE d.endpoint_id = $1 ORDER BY d.created_at DESC, d.position DESC LIMIT $2",
            prefixed("d")
        );
        type Flat = (
            String,
            String,
            String,
            String,
            i64,
            String,
            i32,
            String,
            i32,
            Option<i64>,
            i64,
            Option<i64>,
            Option<i64>,
            Option<i32>,
            Option<String>,
            Option<i64>,
        );
        let flat: Vec<Flat> = on_pool!(self.keys.db(), p => sqlx::query_as(&sql)
            .bind(endpoint_id)
            .bind(i64::from(limit))
            .fetch_all(p)
            .await)?;
        let raw = flat.into_iter().map(|r| {
            (
                (r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.7, r.8, r.9, r.10, r.11),
                (r.12, r.13, r.14, r.15),
            )
        });
        raw.into_iter()
            .map(|(d, (at, status, error, millis))| {
                let delivery = delivery(d)?;
                let last = at.map(|at| AttemptRow {
                    delivery_id: delivery.delivery_id.clone(),
                    n: delivery.attempts,
                    at,
                    status: status.and_then(|s| u16::try_from(s).ok()),
                    error,
                    millis: millis.unwrap_or(0),
                });
                Ok(DeliverySummary { delivery, last })
            })
            .collect()
    }

    /// How many deliveries each project has in each state (`/metrics`): one grouped count.
    pub async fn state_counts(&self) -> Result<Vec<(String, DeliveryState, i64)>> {
        let raw: Vec<(String, String, i64)> = on_pool!(self.keys.db(), p => sqlx::query_as(
            "SELECT project, state, COUNT(*) FROM webhook_deliveries \
             GROUP BY project, state ORDER BY project, state")
            .fetch_all(p)
            .await)?;
        raw.into_iter()
            .map(|(project, state, n)| Ok((project, DeliveryState::parse(&state)?, n)))
            .collect()
    }

    /// How many endpoints each project has, and how many of them are disabled (`/metrics`).
    pub async fn endpoint_counts(&self) -> Result<Vec<(String, i64, i64)>> {
        let raw: Vec<(String, i64, i64)> = on_pool!(self.keys.db(), p => sqlx::query_as(
            "SELECT project, COUNT(*), \
             SUM(CASE WHEN disabled_at IS NULL THEN 0 ELSE 1 END) \
             FROM webhook_endpoints GROUP BY project ORDER BY project")
            .fetch_all(p)
            .await)?;
        Ok(raw)
    }

    /// Whether any endpoint (of `project`, when given) exists, enabled or not: the
    /// dispatcher skips decrypting events when none does.
    pub async fn any_endpoint(&self, project: Option<&str>) -> Result<bool> {
        let found: Option<i32> = on_pool!(self.keys.db(), p => sqlx::query_scalar(
            "SELECT 1 FROM webhook_endpoints WHERE ($1 IS NULL OR project = $1) LIMIT 1")
            .bind(project)
            .fetch_optional(p)
            .await)?;
        Ok(found.is_some())
    }

    /// How many finished deliveries finished before `before` (µs): what [`Webhooks::purge`]
    /// would delete.
    pub async fn count_purgeable(&self, before: i64) -> Result<u64> {
        let n: i64 = on_pool!(self.keys.db(), p => sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < $1")
            .bind(before)
            .fetch_one(p)
            .await)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Deletes finished deliveries (and their attempts) that finished before `before` (µs).
    /// Returns how many deliveries went.
    pub async fn purge(&self, before: i64) -> Result<u64> {
        let n = on_pool!(self.keys.db(), p => async {
            let mut tx = p.begin().await?;
            sqlx::query(
                "DELETE FROM webhook_attempts WHERE delivery_id IN (SELECT delivery_id FROM \
                 webhook_deliveries WHERE state <> 'pending' AND finished_at < $1)")
                .bind(before)
                .execute(&mut *tx)
                .await?;
            let n = sqlx::query(
                "DELETE FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < $1")
                .bind(before)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            tx.commit().await?;
            Ok::<u64, sqlx::Error>(n)
        }.await)?;
        Ok(n)
    }
}
