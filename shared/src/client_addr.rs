//! The client's address (docs/operations.md#trusting-the-proxy, "Trusted proxies"): the
//! peer's, or the one a trusted proxy vouches for in `X-Forwarded-For`.
//!
//! The rule, for a request from `peer`:
//! 1. `X-Forwarded-For` is ignored unless `peer` is in a trusted CIDR
//!    (`BFF_TRUSTED_PROXIES`; none by default, so by default the client is
//!    the peer);
//! 2. then all the header's values, in order, are read as one
//!    comma-separated list, and the client is its *rightmost* address that
//!    is not itself trusted: entries to its right were appended by proxies
//!    we trust, entries to its left were written by the client and may be
//!    anything;
//! 3. with no such address (every entry trusted, or none), or a malformed
//!    header, the client is the peer.
//!
//! "Malformed": an entry that has to be read (scanning from the right, up
//! to and including the client's) that is not a bare IPv4 or IPv6 address
//! as Rust's [`IpAddr`] parses it, such as `1.2.3.4:80`, `[::1]`,
//! `fe80::1%eth0`, `unknown`, `_hidden` (RFC 7239 obfuscated names), text
//! that is not ASCII, or junk. Such an entry sits where only trusted proxies
//! write, so the chain cannot be followed past it and the client is the
//! peer. Entries *left* of the client's are the client's own words and are
//! never read: junk or a spoofed address there changes nothing (a client
//! cannot escape its bucket by writing a header, nor drag its neighbours
//! into the proxy's bucket because some proxy before ours wrote
//! `unknown`). Empty entries (`a,,b`, a leading comma) are skipped, as RFC
//! 9110 section 5.6.1 asks of list headers, and spaces or tabs around
//! entries are allowed.
//!
//! Every address is compared and returned in canonical form: an
//! IPv4-mapped IPv6 address (`::ffff:10.0.0.1`, what a dual-stack socket
//! reports) is the IPv4 address, so IPv4 CIDRs match it.
//!
//! The anonymous rate limit keys a client by [`ClientAddr::rate_limit_key`]:
//! the IPv4 address, or an IPv6 address's /64 (one subscriber usually holds
//! a whole /64, so keying by full address would hand out 2^64 buckets).
//!
//! [`layer`] resolves the address once per request and leaves it in the
//! request's extensions, where the [`ClientAddr`] extractor (and the rate
//! limiter, and an access log mounted inside the layer) finds it.
//!
//! ```
//! use bff_shared::client_addr::TrustedProxies;
//!
//! let trusted = TrustedProxies::new(["10.0.0.0/8".parse().unwrap()]);
//! let nginx = "10.0.0.5".parse().unwrap();
//! // nginx appended the client's address to what the client sent.
//! let header: &[u8] = b"198.51.100.7, 203.0.113.9";
//! assert_eq!(trusted.resolve(nginx, [header]).to_string(), "203.0.113.9");
//! // From an untrusted peer, the header is ignored.
//! let stranger = "192.0.2.1".parse().unwrap();
//! assert_eq!(trusted.resolve(stranger, [header]), stranger);
//! ```

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, OptionalFromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::{IpNet, Ipv6Net};

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The proxies whose `X-Forwarded-For` is believed (`BFF_TRUSTED_PROXIES`).
/// Cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// Trusts the peers in `nets`.
    pub fn new(nets: impl IntoIterator<Item = IpNet>) -> Self {
        Self(nets.into_iter().collect())
    }

    /// Whether `ip` (in canonical form) is in a trusted CIDR.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client address of a request from `peer` whose `X-Forwarded-For`
    /// header has `values` (each a raw header value, in order), by the
    /// rule of the module docs. Never fails: the fallback is the peer.
    pub fn resolve<'a, I>(&self, peer: IpAddr, values: I) -> IpAddr
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: DoubleEndedIterator,
    {
        let peer = peer.to_canonical();
        if !self.contains(peer) {
            return peer;
        }
        // From the right: past trusted proxies, up to the first address
        // they vouch for that is not one of them.
        for value in values.into_iter().rev() {
            for entry in value.rsplit(|b| *b == b',') {
                let entry = entry.trim_ascii();
                if entry.is_empty() {
                    continue;
                }
                match parse_address(entry) {
                    None => return peer,
                    Some(ip) if !self.contains(ip) => return ip,
                    Some(_) => {}
                }
            }
        }
        peer
    }

    /// [`resolve`](Self::resolve) with the header values of `headers`.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        self.resolve(peer, headers.get_all(&X_FORWARDED_FOR).iter().map(|v| v.as_bytes()))
    }

    /// The client address of a request: the one [`layer`] left in its
    /// extensions, else resolved here from the peer ([`ConnectInfo`]).
    /// `None` when the peer is unknown (a router driven without a socket).
    pub fn of_request(&self, extensions: &Extensions, headers: &HeaderMap) -> Option<ClientAddr> {
        if let Some(known) = extensions.get::<ClientAddr>() {
            return Some(*known);
        }
        let ConnectInfo(peer) = extensions.get::<ConnectInfo<SocketAddr>>()?;
        Some(ClientAddr(self.client_of(peer.ip(), headers)))
    }
}

/// A bare IPv4 or IPv6 address, canonical; `None` for anything else.
fn parse_address(entry: &[u8]) -> Option<IpAddr> {
    let text = std::str::from_utf8(entry).ok()?;
    text.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The client's address, resolved by the rule of the module docs.
///
/// As an extractor it reads what [`layer`] resolved; without the layer it
/// falls back to the peer address (`X-Forwarded-For` ignored, the safe
/// default). As `Option<ClientAddr>` it is `None` when the peer is unknown;
/// plain `ClientAddr` then rejects with 500 `internal`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// The anonymous rate-limit key: `ip:<IPv4>`, or `ip:<prefix>/64` for
    /// IPv6 (canonical, so an IPv4-mapped address is keyed as IPv4).
    pub fn rate_limit_key(&self) -> String {
        match self.0.to_canonical() {
            IpAddr::V4(v4) => format!("ip:{v4}"),
            IpAddr::V6(v6) => {
                // A /64 is a valid prefix length: this never falls back.
                let net = Ipv6Net::new(v6, 64)
                    .map(|n| n.trunc())
                    .unwrap_or_else(|_| Ipv6Net::from(v6));
                format!("ip:{net}")
            }
        }
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for ClientAddr {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(TrustedProxies::default().of_request(&parts.extensions, &parts.headers))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = crate::error::ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match <Self as OptionalFromRequestParts<S>>::from_request_parts(parts, state).await {
            Ok(Some(addr)) => Ok(addr),
            _ => {
                tracing::error!("no client address: the router is not served with connect info");
                Err(crate::error::ApiError::Internal)
            }
        }
    }
}

/// Middleware: resolves the request's [`ClientAddr`] once and leaves it in
/// the extensions for everything inside it. Mount it outside whatever
/// reads the address (rate limiting, an access log).
pub async fn layer(State(trusted): State<TrustedProxies>, mut request: Request, next: Next) -> Response {
    if let Some(client) = trusted.of_request(request.extensions(), request.headers()) {
        request.extensions_mut().insert(client);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| n.parse().expect("CIDR")))
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn client(proxies: &TrustedProxies, peer: &str, values: &[&str]) -> String {
        proxies
            .resolve(ip(peer), values.iter().map(|v| v.as_bytes()))
            .to_string()
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_trusted() {
        let none = TrustedProxies::default();
        assert_eq!(client(&none, "10.0.0.5", &["203.0.113.9"]), "10.0.0.5");
        let lan = trusted(&["10.0.0.0/8"]);
        assert_eq!(client(&lan, "192.0.2.1", &["203.0.113.9"]), "192.0.2.1");
        assert_eq!(client(&lan, "10.0.0.5", &["203.0.113.9"]), "203.0.113.9");
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_entry_across_all_values() {
        let lan = trusted(&["10.0.0.0/8", "fd00::/8"]);
        assert_eq!(
            client(&lan, "10.0.0.5", &["1.1.1.1, 2.2.2.2", "3.3.3.3,10.1.1.1", " fd00::7 "]),
            "3.3.3.3"
        );
        assert_eq!(client(&lan, "10.0.0.5", &["2001:db8::1, 10.9.9.9"]), "2001:db8::1");
    }

    #[test]
    fn with_only_trusted_entries_or_none_the_client_is_the_peer() {
        let lan = trusted(&["10.0.0.0/8"]);
        assert_eq!(client(&lan, "10.0.0.5", &["10.0.0.1, 10.0.0.2"]), "10.0.0.5");
        assert_eq!(client(&lan, "10.0.0.5", &[]), "10.0.0.5");
        assert_eq!(client(&lan, "10.0.0.5", &["", " , "]), "10.0.0.5");
    }

    const JUNK: [&str; 8] = [
        "1.2.3.4:80",
        "[2001:db8::1]",
        "fe80::1%eth0",
        "unknown",
        "_hidden",
        "1.2.3",
        "1.2.3.4 5.6.7.8",
        "caf\u{e9}",
    ];

    #[test]
    fn a_malformed_entry_where_proxies_write_makes_the_peer_the_client() {
        let lan = trusted(&["10.0.0.0/8"]);
        for junk in JUNK {
            assert_eq!(client(&lan, "10.0.0.5", &["203.0.113.9", junk]), "10.0.0.5", "{junk}");
            assert_eq!(
                client(&lan, "10.0.0.5", &[&format!("203.0.113.9, {junk}, 10.0.0.7")]),
                "10.0.0.5",
                "{junk}"
            );
        }
        assert_eq!(lan.resolve(ip("10.0.0.5"), [&b"203.0.113.9, \xff"[..]]), ip("10.0.0.5"));
    }

    #[test]
    fn what_the_client_wrote_left_of_its_own_entry_is_never_read() {
        let lan = trusted(&["10.0.0.0/8"]);
        for junk in JUNK {
            assert_eq!(
                client(&lan, "10.0.0.5", &[junk, "203.0.113.9"]),
                "203.0.113.9",
                "{junk}"
            );
        }
        assert_eq!(client(&lan, "10.0.0.5", &["198.51.100.1, 203.0.113.9"]), "203.0.113.9");
        assert_eq!(
            lan.resolve(ip("10.0.0.5"), [&b"\xff\xfe, 203.0.113.9"[..]]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn empty_entries_and_spaces_are_tolerated() {
        let lan = trusted(&["10.0.0.0/8"]);
        assert_eq!(client(&lan, "10.0.0.5", &[", 203.0.113.9 ,,\t"]), "203.0.113.9");
    }

    #[test]
    fn ipv4_mapped_addresses_are_treated_as_ipv4() {
        let loopback = trusted(&["127.0.0.1/32"]);
        assert_eq!(
            client(&loopback, "::ffff:127.0.0.1", &["::ffff:203.0.113.9"]),
            "203.0.113.9"
        );
        assert_eq!(ClientAddr(ip("::ffff:203.0.113.9")).rate_limit_key(), "ip:203.0.113.9");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let key = |s: &str| ClientAddr(ip(s)).rate_limit_key();
        assert_eq!(key("2001:db8:1:2::1"), "ip:2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:ffff:ffff:ffff:ffff"), key("2001:db8:1:2::1"));
        assert_ne!(key("2001:db8:1:3::1"), key("2001:db8:1:2::1"));
        assert_eq!(key("198.51.100.7"), "ip:198.51.100.7");
    }

    #[test]
    fn of_request_prefers_the_resolved_extension_and_falls_back_to_the_peer() {
        let lan = trusted(&["10.0.0.0/8"]);
        let mut headers = HeaderMap::new();
        headers.insert(&X_FORWARDED_FOR, "203.0.113.9".parse().expect("value"));
        let mut extensions = Extensions::new();
        assert_eq!(lan.of_request(&extensions, &headers), None, "no peer known");
        extensions.insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 5], 4000))));
        assert_eq!(
            lan.of_request(&extensions, &headers),
            Some(ClientAddr(ip("203.0.113.9")))
        );
        assert_eq!(
            TrustedProxies::default().of_request(&extensions, &headers),
            Some(ClientAddr(ip("10.0.0.5")))
        );
        extensions.insert(ClientAddr(ip("192.0.2.1")));
        assert_eq!(lan.of_request(&extensions, &headers), Some(ClientAddr(ip("192.0.2.1"))));
    }

    // ---- properties

    fn any_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
            // Small spaces, so that addresses fall into the trusted nets often.
            (0u8..4, 0u8..4).prop_map(|(a, b)| IpAddr::from([10, 0, a, b])),
            (0u16..4).prop_map(|a| IpAddr::from([0xfd00, 0, 0, 0, 0, 0, 0, a])),
            (0u8..4).prop_map(|a| IpAddr::from(std::net::Ipv4Addr::new(10, 0, 0, a).to_ipv6_mapped())),
        ]
    }

    fn any_trusted() -> impl Strategy<Value = TrustedProxies> {
        let net = prop_oneof![
            Just("10.0.0.0/8"),
            Just("10.0.0.0/30"),
            Just("fd00::/8"),
            Just("0.0.0.0/0"),
            Just("::/0"),
            Just("127.0.0.1/32"),
        ];
        prop::collection::vec(net, 0..3).prop_map(|nets| trusted(&nets))
    }

    /// Header values: arbitrary bytes, or lists of addresses with junk.
    fn any_values() -> impl Strategy<Value = Vec<Vec<u8>>> {
        let entry = prop_oneof![
            4 => any_ip().prop_map(|ip| ip.to_string()),
            1 => Just(String::new()),
            1 => "[ -~]{0,12}",
        ];
        let listed = prop::collection::vec(entry, 0..6).prop_map(|entries| entries.join(",").into_bytes());
        let raw = prop::collection::vec(any::<u8>(), 0..40);
        prop::collection::vec(prop_oneof![3 => listed, 1 => raw], 0..4)
    }

    fn entries(values: &[Vec<u8>]) -> Vec<IpAddr> {
        values
            .iter()
            .flat_map(|v| v.split(|b| *b == b','))
            .filter_map(|e| parse_address(e.trim_ascii()))
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn the_result_is_the_peer_or_an_address_of_the_header(
            trusted in any_trusted(), peer in any_ip(), values in any_values()
        ) {
            let result = trusted.resolve(peer, values.iter().map(Vec::as_slice));
            prop_assert!(result == peer.to_canonical() || entries(&values).contains(&result));
        }

        #[test]
        fn an_untrusted_peer_is_always_the_client(
            trusted in any_trusted(), peer in any_ip(), values in any_values()
        ) {
            prop_assume!(!trusted.contains(peer));
            prop_assert_eq!(trusted.resolve(peer, values.iter().map(Vec::as_slice)), peer.to_canonical());
        }

        #[test]
        fn appending_trusted_addresses_on_the_right_changes_nothing(
            trusted in any_trusted(), peer in any_ip(), values in any_values(),
            appended in prop::collection::vec(any_ip(), 1..4), as_new_value in any::<bool>()
        ) {
            let before = trusted.resolve(peer, values.iter().map(Vec::as_slice));
            let appended: Vec<String> = appended.iter().filter(|ip| trusted.contains(**ip)).map(ToString::to_string).collect();
            let mut longer = values.clone();
            match longer.last_mut() {
                Some(last) if !as_new_value => {
                    for ip in &appended {
                        last.extend_from_slice(b", ");
                        last.extend_from_slice(ip.as_bytes());
                    }
                }
                _ => longer.push(appended.join(", ").into_bytes()),
            }
            prop_assert_eq!(trusted.resolve(peer, longer.iter().map(Vec::as_slice)), before);
        }

        #[test]
        fn whatever_a_client_writes_left_of_its_own_entry_changes_nothing(
            peer in (0u8..4).prop_map(|a| IpAddr::from([10, 0, 0, a])),
            spoof in any_values(),
            client in prop_oneof![
                any::<u8>().prop_map(|a| IpAddr::from([203, 0, 113, a])),
                any::<u16>().prop_map(|a| IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, a])),
            ],
            proxies in prop::collection::vec((0u8..4).prop_map(|a| IpAddr::from([10, 0, 1, a])), 0..3),
            one_value in any::<bool>()
        ) {
            let lan = trusted(&["10.0.0.0/8", "fd00::/8"]);
            let chain: Vec<String> = std::iter::once(client).chain(proxies).map(|ip| ip.to_string()).collect();
            let mut values = spoof;
            if one_value {
                let mut last = values.pop().unwrap_or_default();
                last.extend_from_slice(b",");
                last.extend_from_slice(chain.join(",").as_bytes());
                values.push(last);
            } else {
                values.push(chain.join(", ").into_bytes());
            }
            prop_assert_eq!(lan.resolve(peer, values.iter().map(Vec::as_slice)), client);
        }
    }
}
