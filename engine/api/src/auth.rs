//! Who is calling: every endpoint but `/healthz` needs an API key (`Authorization: Bearer
//! lo_…`). [`authenticate`] finds the key by its hash, refuses a missing, malformed, unknown
//! or revoked one (`401`) and one used from an address its allowlist does not name (`403`),
//! puts the [`Caller`] in the request, and writes the access-log row once the answer is known.
//! Each handler names the scope it needs in its arguments ([`Scoped`], e.g.
//! `Scoped<scope::Read>`): checked as the request's head is read, before any body is parsed or
//! validated, so a key without the scope gets `403` whatever it sends.
//!
//! A request sent in process by [`crate::local::Local`] (the desktop's own backend) carries
//! its operator's [`Caller`] already: it is taken as is, with no key, rate limit or access-log
//! row (ADR 0039). Only code in this process can put it there: nothing a client sends over the
//! network becomes a request extension.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use leadorch_store::AccessRow;

use crate::keys::{self, Scope};
use crate::limits::Verdict;

/// Rate-limit checks made, to forget idle keys now and then.
static CHECKS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
use crate::{Api, Problem};

/// The key a request came with, once checked.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The key's public id.
    pub key_id: String,
    /// Its name.
    pub name: String,
    /// The project it belongs to: everything the request sees and changes is this project's.
    pub project: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Who the log records as having acted: `api-key:<key id>` for a key, the operator's
    /// actor (the desktop's `desktop:<user>`) for a [`crate::local::Local`] call.
    pub actor: String,
}

/// The caller a [`crate::local::Local`] call puts in its request, taken by [`authenticate`]
/// instead of a key (crate-private, so nothing else can make one).
#[derive(Clone, Debug)]
pub(crate) struct Operator(pub(crate) Caller);

impl Caller {
    /// `Ok` when the key holds `scope` (or `admin`), else a `403` that names what is missing.
    pub fn need(&self, scope: Scope) -> Result<(), Problem> {
        if scope.granted_by(&self.scopes) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "key {} ({}) lacks the {scope} scope this endpoint needs; it holds {}",
                self.key_id,
                self.name,
                self.scopes
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(",")
            )))
        }
    }
}

/// The scopes as types, for [`Scoped`].
pub mod scope {
    use super::Scope;

    /// A scope an endpoint needs.
    pub trait Needed {
        /// Which.
        const SCOPE: Scope;
    }

    macro_rules! scopes {
        ($($(#[$doc:meta])* $name:ident),*) => {$(
            $(#[$doc])*
            #[derive(Debug)]
            pub struct $name;
            impl Needed for $name {
                const SCOPE: Scope = Scope::$name;
            }
        )*};
    }
    scopes!(
        /// `ingest`: leads and their statuses.
        Ingest,
        /// `capacity`: capacity readings.
        Capacity,
        /// `read`: every read.
        Read,
        /// `rules`: saving, enabling and rolling back rules.
        Rules,
        /// `admin`: keys, Google accounts, teams, subjects, webhooks (and every other scope).
        Admin
    );
}

/// A caller whose key holds `S`'s scope (or `admin`), checked from the request's head: as a
/// handler's argument it is read before the body, so a key without the scope is refused
/// (`403`, naming what is missing) before the body is parsed or validated, and learns nothing
/// of the endpoint but that.
#[derive(Debug)]
pub struct Scoped<S>(pub Caller, std::marker::PhantomData<S>);

impl<S> std::ops::Deref for Scoped<S> {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
}

impl<S: scope::Needed, St: Send + Sync> FromRequestParts<St> for Scoped<S> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Scoped<S>, Problem> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.need(S::SCOPE)?;
        Ok(Scoped(caller, std::marker::PhantomData))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, Problem> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Problem::unauthorized("this endpoint needs an API key"))
    }
}

/// Whether `ip` may use a key whose allowlist is `allow` (empty: any address). A malformed
/// stored entry allows nothing.
pub fn ip_allowed(allow: &[String], ip: Option<IpAddr>) -> bool {
    if allow.is_empty() {
        return true;
    }
    let Some(ip) = ip else {
        return false;
    };
    let ip = match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    allow.iter().any(|entry| match entry.parse::<IpNet>() {
        Ok(net) => net.contains(&ip),
        Err(_) => entry.parse::<IpAddr>().is_ok_and(|one| one == ip),
    })
}

async fn check(
    api: &Api,
    authorization: Option<header::HeaderValue>,
    ip: Option<IpAddr>,
) -> Result<Caller, Problem> {
    let Some(value) = authorization else {
        return Err(Problem::unauthorized(
            "no API key: send `Authorization: Bearer lo_…` (create one with `leadorch keys create`)",
        ));
    };
    let text = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(|| Problem::unauthorized("the Authorization header must read `Bearer lo_…`"))?;
    let project = keys::check_format(text).map_err(|e| Problem::unauthorized(e.to_string()))?;
    let row = api
        .keys
        .by_hash(&keys::hash(text))
        .await
        .map_err(|e| Problem::from_store(&e))?
        .filter(|row| row.project == project)
        .ok_or_else(|| Problem::unauthorized("no such API key"))?;
    if row.revoked_at.is_some() {
        return Err(Problem::unauthorized(format!(
            "key {} ({}) was revoked",
            row.key_id, row.name
        )));
    }
    if !ip_allowed(&row.allow_ips, ip) {
        return Err(Problem::forbidden(format!(
            "key {} ({}) may not be used from this address",
            row.key_id, row.name
        )));
    }
    let scopes = row
        .scopes
        .iter()
        .filter_map(|s| s.parse::<Scope>().ok())
        .collect();
    Ok(Caller {
        actor: format!("api-key:{}", row.key_id),
        key_id: row.key_id,
        name: row.name,
        project: row.project,
        scopes,
    })
}

/// The middleware on every route but `/healthz`.
pub async fn authenticate(State(api): State<Api>, mut req: Request, next: Next) -> Response {
    if let Some(Operator(caller)) = req.extensions_mut().remove::<Operator>() {
        // In process (ADR 0039): the operator holds the database itself; no key to check,
        // no rate limit, and no access-log row (that log is about keys and addresses).
        req.extensions_mut().insert(caller);
        return next.run(req).await;
    }
    let started = Instant::now();
    let at = chrono::Utc::now().timestamp_micros();
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let authorization = req.headers().get(header::AUTHORIZATION).cloned();
    let caller = match check(&api, authorization, ip).await {
        Ok(caller) => caller,
        Err(problem) => return problem.into_response(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(unmatched)".to_string());
    let method = req.method().to_string();
    let verdict = api.limits.as_ref().map(|l| {
        if CHECKS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10_000 == 9_999 {
            l.shrink();
        }
        l.check(&caller.key_id)
    });
    let response = match verdict {
        Some(Verdict::Refused(problem)) => {
            api.metrics.rate_limited();
            problem.into_response()
        }
        fields => {
            req.extensions_mut().insert(caller.clone());
            let mut response = next.run(req).await;
            if let Some(Verdict::Allowed(fields)) = fields {
                for (name, value) in fields {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
    };
    api.access
        .record(AccessRow {
            project: caller.project,
            key_id: caller.key_id,
            method,
            route,
            status: response.status().as_u16(),
            ip: ip.map(|i| i.to_string()).unwrap_or_default(),
            at,
            millis: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
        })
        .await;
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlists_take_networks_single_addresses_and_mapped_v4() {
        let allow = vec!["10.0.0.0/8".to_string(), "192.0.2.7".to_string()];
        assert!(ip_allowed(&allow, Some("10.1.2.3".parse().unwrap())));
        assert!(ip_allowed(&allow, Some("192.0.2.7".parse().unwrap())));
        assert!(ip_allowed(&allow, Some("::ffff:10.9.9.9".parse().unwrap())));
        assert!(!ip_allowed(&allow, Some("192.0.2.8".parse().unwrap())));
        assert!(!ip_allowed(&allow, None));
        assert!(ip_allowed(&[], None));
        assert!(!ip_allowed(
            &["garbage".to_string()],
            Some("10.0.0.1".parse().unwrap())
        ));
    }
}
