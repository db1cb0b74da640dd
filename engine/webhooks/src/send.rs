//! One attempt: the signed POST, its timeout, and what came back.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderValue, CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use url::Url;

use crate::schedule::{parse_retry_after, verdict, Verdict};
use crate::sign::{signature_header, Secret, HEADER_ID, HEADER_SIGNATURE, HEADER_TIMESTAMP};
use crate::ssrf::{GuardedResolver, Reach};

/// How long an attempt may take, connecting and answering included (the spec says 15–30 s).
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// The most of an answer's body kept with an attempt (for `webhooks deliveries`).
const KEPT_ANSWER: usize = 200;

/// What one attempt did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// The answer's `Retry-After`, read.
    pub retry_after: Option<Duration>,
    /// Why there was no answer (timeout, refused address, connection error), or the start of
    /// a non-2xx answer's body.
    pub error: Option<String>,
    /// What it means for the delivery.
    pub verdict: Verdict,
}

/// Sends webhooks: a client that never follows redirects, resolves names through the
/// [`GuardedResolver`] and gives up on an attempt after its timeout.
#[derive(Clone, Debug)]
pub struct Sender {
    client: reqwest::Client,
    reach: Arc<Reach>,
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the webhook client: {0}")]
pub struct SenderError(String);

impl Sender {
    /// A sender for `reach`, with `timeout` per attempt ([`TIMEOUT`] in production).
    pub fn new(reach: Reach, timeout: Duration) -> Result<Sender, SenderError> {
        let reach = Arc::new(reach);
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(GuardedResolver::new(reach.clone())))
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_max_idle_per_host(2)
            .build()
            .map_err(|e| SenderError(e.without_url().to_string()))?;
        Ok(Sender { client, reach })
    }

    /// The addresses this sender may reach.
    pub fn reach(&self) -> &Reach {
        &self.reach
    }

    /// POSTs `body` (JSON) to `url` as message `id`, signed with every secret at `now`.
    /// Never fails: a refusal or a transport error is an [`Attempt`] to retry. Error texts
    /// never carry the URL (its query may hold a receiver's token).
    pub async fn send(
        &self,
        url: &Url,
        secrets: &[Secret],
        id: &str,
        now: DateTime<Utc>,
        body: &[u8],
    ) -> Attempt {
        if let Err(e) = self.reach.check_url(url) {
            return Attempt {
                status: None,
                retry_after: None,
                error: Some(e.to_string()),
                verdict: Verdict::Retry,
            };
        }
        let ts = now.timestamp();
        let signature = signature_header(secrets, id, ts, body);
        let sent = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header(
                USER_AGENT,
                HeaderValue::from_static(concat!("leadorch-webhooks/", env!("CARGO_PKG_VERSION"))),
            )
            .header(HEADER_ID, id)
            .header(HEADER_TIMESTAMP, ts.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(body.to_vec())
            .send()
            .await;
        match sent {
            Ok(answer) => {
                let status = answer.status().as_u16();
                let retry_after = answer
                    .headers()
                    .get(RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, now));
                let v = verdict(status);
                let error = if v == Verdict::Delivered {
                    None
                } else {
                    let text = answer.text().await.unwrap_or_default();
                    let kept: String = text.chars().take(KEPT_ANSWER).collect();
                    Some(format!("HTTP {status}: {kept}").trim_end().to_string())
                };
                Attempt {
                    status: Some(status),
                    retry_after,
                    error,
                    verdict: v,
                }
            }
            Err(e) => {
                let what = if e.is_timeout() {
                    format!("no answer within {} s", TIMEOUT.as_secs())
                } else {
                    describe(&e.without_url())
                };
                Attempt {
                    status: None,
                    retry_after: None,
                    error: Some(what),
                    verdict: Verdict::Retry,
                }
            }
        }
    }
}

/// An error and its causes on one line (the resolver's refusal is a cause).
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}
