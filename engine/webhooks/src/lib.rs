//! Signed webhooks (issue 15, ADR 0033): what the engine did, told to the operators' other
//! systems as [Standard Webhooks](https://www.standardwebhooks.com/).
//!
//! - [`sign`]: `whsec_` secrets, the `webhook-id`/`webhook-timestamp`/`webhook-signature`
//!   headers, and the verifier a receiver (and every test here) uses.
//! - [`ssrf`]: which addresses a webhook may reach, checked when an endpoint is registered
//!   and again at connect time (a DNS resolver filter; redirects are not followed).
//! - [`schedule`]: the retry schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h,
//!   20 h, 24 h, with jitter), `Retry-After`, and what an answer means.
//! - [`send`]: one attempt over HTTP: signed, 15 s timeout, classified.
//! - [`manage`]: registering endpoints (URL and event types checked, the secret made and
//!   shown once) and rotating secrets, for the CLI and the HTTP API.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod events;
pub mod manage;
pub mod schedule;
pub mod send;
pub mod sign;
pub mod ssrf;
pub mod worker;
