//! Where a webhook may go (ADR 0033, decision 14 of issue 15's plan).
//!
//! A webhook URL is typed by whoever holds an admin key, and the daemon that sends it sits
//! inside the operator's network, so a URL must not reach what only that network can reach:
//! loopback, private ranges, link-local (the cloud metadata address 169.254.169.254 among
//! them), carrier-grade NAT, unique-local IPv6, multicast, unspecified and reserved addresses,
//! and the IPv4-mapped and NAT64 forms of all of them. The check runs when an endpoint is
//! registered (an address literal, `localhost`) and again for every connection, on the
//! addresses DNS answered ([`GuardedResolver`]), so a name that later resolves to a private
//! address is refused too. Redirects are never followed. The operator may allow private
//! addresses altogether or list the hosts and networks that are allowed ([`Reach`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use ipnet::IpNet;
use url::{Host, Url};

/// Why a URL or an address is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SsrfError {
    /// Not an `http` or `https` URL.
    #[error("a webhook URL must be http or https, not '{0}'")]
    Scheme(String),
    /// The URL names no host.
    #[error("the webhook URL has no host")]
    NoHost,
    /// The URL carries a user name or password.
    #[error("a webhook URL must not carry a user name or password")]
    Credentials,
    /// The host is (or resolves to) an address of a kind webhooks may not reach.
    #[error("the webhook host '{host}' is {kind} ({addr}); allow it with [webhooks] allow_private or allow_hosts")]
    Forbidden {
        /// The host as written.
        host: String,
        /// The address refused.
        addr: IpAddr,
        /// What kind of address it is.
        kind: &'static str,
    },
    /// An entry of `allow_hosts` is neither a host name nor an address or network.
    #[error("[webhooks] allow_hosts: '{0}' is not a host name, an address or a network (CIDR)")]
    BadAllow(String),
}

/// What kind of address `ip` is when webhooks may not reach it, `None` when they may.
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => v4_kind(v4),
        IpAddr::V6(v6) => v6_kind(v6),
    }
}

fn v4_kind(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified (0.0.0.0/8)")
    } else if ip.is_private() {
        Some("private")
    } else if ip.is_link_local() {
        Some("link-local (cloud metadata among them)")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("carrier-grade NAT (100.64.0.0/10)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() || o[0] >= 240 {
        Some("reserved (240.0.0.0/4)")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        Some("IETF protocol assignments (192.0.0.0/24)")
    } else if o[0] == 198 && (o[1] & 0xfe) == 18 {
        Some("benchmarking (198.18.0.0/15)")
    } else {
        None
    }
}

fn v6_kind(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return v4_kind(v4);
    }
    // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6].iter().all(|&x| x == 0) {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        return v4_kind(Ipv4Addr::new(a, b, c, d));
    }
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("unique-local (fc00::/7)")
    } else if (s[0] & 0xffc0) == 0xfe80 || (s[0] & 0xffc0) == 0xfec0 {
        Some("link-local")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if s[..6].iter().all(|&x| x == 0) {
        // The deprecated IPv4-compatible form (::a.b.c.d).
        Some("IPv4-compatible (::/96)")
    } else {
        None
    }
}

/// What the operator allows beyond public addresses (`[webhooks]` in the configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Reach {
    allow_private: bool,
    hosts: Vec<String>,
    nets: Vec<IpNet>,
}

impl Reach {
    /// Public addresses only.
    pub fn public_only() -> Reach {
        Reach::default()
    }

    /// Any address, private ones too (`allow_private = true`; the tests' loopback receivers).
    pub fn any() -> Reach {
        Reach {
            allow_private: true,
            ..Reach::default()
        }
    }

    /// Public addresses plus `allow`: host names (exact, any case), addresses and networks
    /// (`10.1.0.0/16`, `fd00::/8`).
    pub fn new(allow_private: bool, allow: &[String]) -> Result<Reach, SsrfError> {
        let mut reach = Reach {
            allow_private,
            ..Reach::default()
        };
        for entry in allow {
            let e = entry.trim();
            if let Ok(net) = e.parse::<IpNet>() {
                reach.nets.push(net);
            } else if let Ok(ip) = e.parse::<IpAddr>() {
                reach.nets.push(IpNet::from(ip));
            } else if !e.is_empty()
                && e.len() <= 253
                && e.split('.').all(|l| {
                    !l.is_empty()
                        && l.len() <= 63
                        && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
            {
                reach.hosts.push(e.to_ascii_lowercase());
            } else {
                return Err(SsrfError::BadAllow(entry.clone()));
            }
        }
        Ok(reach)
    }

    fn host_allowed(&self, host: &str) -> bool {
        self.allow_private || self.hosts.iter().any(|h| h.eq_ignore_ascii_case(host))
    }

    /// Whether a connection to `ip` for `host` may go ahead.
    pub fn check_addr(&self, host: &str, ip: IpAddr) -> Result<(), SsrfError> {
        if self.host_allowed(host) || self.nets.iter().any(|n| n.contains(&ip)) {
            return Ok(());
        }
        match forbidden_kind(ip) {
            Some(kind) => Err(SsrfError::Forbidden {
                host: host.to_string(),
                addr: ip,
                kind,
            }),
            None => Ok(()),
        }
    }

    /// Whether the operator allowed the URL's host beyond public addresses
    /// (`allow_private`, or the host, its address or a network of `allow_hosts`). A receiver
    /// registered with plain `http` must be one of those: a webhook to the Internet is sent
    /// over TLS.
    pub fn allows_plain_http(&self, url: &Url) -> bool {
        if self.allow_private {
            return true;
        }
        match url.host() {
            Some(Host::Ipv4(v4)) => self.nets.iter().any(|n| n.contains(&IpAddr::V4(v4))),
            Some(Host::Ipv6(v6)) => self.nets.iter().any(|n| n.contains(&IpAddr::V6(v6))),
            Some(Host::Domain(name)) => self.host_allowed(name.trim_end_matches('.')),
            None => false,
        }
    }

    /// The checks made when an endpoint is registered and before each attempt: the scheme,
    /// no credentials, and the host when it is an address literal or `localhost`. A name is
    /// checked again on the addresses DNS gives for every connection ([`GuardedResolver`]).
    pub fn check_url(&self, url: &Url) -> Result<(), SsrfError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SsrfError::Scheme(url.scheme().to_string()));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(SsrfError::Credentials);
        }
        match url.host().ok_or(SsrfError::NoHost)? {
            Host::Ipv4(v4) => self.check_addr(&v4.to_string(), IpAddr::V4(v4)),
            Host::Ipv6(v6) => self.check_addr(&v6.to_string(), IpAddr::V6(v6)),
            Host::Domain(name) => {
                let lower = name.trim_end_matches('.').to_ascii_lowercase();
                if lower == "localhost" || lower.ends_with(".localhost") {
                    self.check_addr(name, IpAddr::V4(Ipv4Addr::LOCALHOST))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A reqwest resolver that drops the addresses [`Reach`] refuses, and fails when none is
/// left, so a connection never goes to them (reqwest only resolves names; address literals
/// are checked by [`Reach::check_url`] before each attempt).
#[derive(Clone, Debug)]
pub struct GuardedResolver {
    reach: Arc<Reach>,
}

impl GuardedResolver {
    /// A resolver for `reach`.
    pub fn new(reach: Arc<Reach>) -> GuardedResolver {
        GuardedResolver { reach }
    }

    /// The addresses of `host` the webhook may connect to, or why there are none.
    pub async fn resolve_host(&self, host: &str) -> Result<Vec<SocketAddr>, std::io::Error> {
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, 0)).await?.collect();
        let mut refused = None;
        let kept: Vec<SocketAddr> = found
            .into_iter()
            .filter(|a| match self.reach.check_addr(host, a.ip()) {
                Ok(()) => true,
                Err(e) => {
                    refused.get_or_insert(e);
                    false
                }
            })
            .collect();
        match (kept.is_empty(), refused) {
            (true, Some(e)) => Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                e.to_string(),
            )),
            (true, None) => Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("'{host}' has no address"),
            )),
            (false, _) => Ok(kept),
        }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let me = self.clone();
        Box::pin(async move {
            let addrs = me.resolve_host(name.as_str()).await?;
            let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_forbidden_kinds_are_refused() {
        for bad in [
            "127.0.0.1",
            "127.8.9.10",
            "10.0.0.1",
            "172.16.5.4",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::ffff:0.0.0.0",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
        ] {
            assert!(forbidden_kind(ip(bad)).is_some(), "{bad} must be refused");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for good in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.0.1",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert_eq!(forbidden_kind(ip(good)), None, "{good} must pass");
        }
    }

    #[test]
    fn urls_are_checked_at_registration() {
        let reach = Reach::public_only();
        let check = |u: &str| reach.check_url(&Url::parse(u).unwrap());
        assert!(check("https://hooks.example.com/x").is_ok());
        assert!(check("https://8.8.8.8/x").is_ok());
        assert_eq!(
            check("ftp://example.com/").unwrap_err(),
            SsrfError::Scheme("ftp".into())
        );
        assert_eq!(
            check("https://user:pw@example.com/").unwrap_err(),
            SsrfError::Credentials
        );
        for bad in [
            "http://127.0.0.1:8080/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00::1]/",
            "http://localhost:9000/",
            "http://api.localhost/",
            "http://LOCALHOST./",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://100.64.1.1/",
        ] {
            let err = check(bad).unwrap_err();
            assert!(matches!(err, SsrfError::Forbidden { .. }), "{bad}: {err:?}");
        }
        let msg = check("http://169.254.169.254/").unwrap_err().to_string();
        assert!(
            msg.contains("169.254.169.254") && msg.contains("link-local"),
            "{msg}"
        );
    }

    #[test]
    fn the_operator_may_allow_hosts_networks_or_everything() {
        let reach = Reach::new(
            false,
            &[
                "10.1.0.0/16".into(),
                "hooks.internal".into(),
                "fd00::5".into(),
            ],
        )
        .unwrap();
        let check = |u: &str| reach.check_url(&Url::parse(u).unwrap());
        assert!(check("http://10.1.2.3/").is_ok());
        assert!(check("http://10.2.0.1/").is_err());
        assert!(check("http://[fd00::5]/").is_ok());
        assert!(check("http://[fd00::6]/").is_err());
        assert!(reach
            .check_addr("HOOKS.internal", ip("192.168.0.1"))
            .is_ok());
        assert!(reach
            .check_addr("other.internal", ip("192.168.0.1"))
            .is_err());
        assert!(Reach::any()
            .check_url(&Url::parse("http://127.0.0.1/").unwrap())
            .is_ok());
        assert_eq!(
            Reach::new(false, &["not a host/".into()]).unwrap_err(),
            SsrfError::BadAllow("not a host/".into())
        );
    }

    #[tokio::test]
    async fn the_resolver_drops_forbidden_addresses() {
        let guarded = GuardedResolver::new(Arc::new(Reach::public_only()));
        let err = guarded.resolve_host("localhost").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("loopback"), "{err}");
        let open = GuardedResolver::new(Arc::new(Reach::any()));
        let addrs = open.resolve_host("localhost").await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
