//! The client's address, for sessions, audit entries and the sign-in sentinel's records. A client can write any
//! `X-Forwarded-For` it likes, so the header is believed only when the TCP peer is a proxy the operator named
//! (`trusted_proxies`), and then only as far back as the chain of trusted proxies reaches: the first address, from
//! the right, that is not a trusted proxy is the client. Without trusted proxies (the default) the peer is the
//! client, whatever the headers say.

use std::net::IpAddr;

use actix_web::HttpRequest;
use actix_web::http::header::HeaderName;
use actix_web::web;
use latchkey_domain::net::AddressRange;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// The proxies whose `X-Forwarded-For` is believed. Registered as app data by the server; absent means none.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies {
    ranges: Vec<AddressRange>,
}

impl TrustedProxies {
    pub fn new(ranges: Vec<AddressRange>) -> Self {
        Self { ranges }
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.ranges.iter().any(|range| range.contains(address))
    }

    /// The client's address given the TCP peer and the `X-Forwarded-For` values in the order they arrived.
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let mut client = peer;
        if !self.trusts(peer) {
            return client;
        }
        // Each proxy appends the address it received the request from, so the chain is read right to left.
        let hops = forwarded_for.iter().flat_map(|value| value.split(',')).map(str::trim).rev();
        for hop in hops {
            // An unreadable entry ends what can be believed: the last address known good stands.
            let Ok(address) = hop.parse::<IpAddr>() else { break };
            client = address;
            if !self.trusts(address) {
                break;
            }
        }
        client
    }
}

/// The client's address for `request` under the server's [`TrustedProxies`] (none when not registered).
pub fn client_ip(request: &HttpRequest) -> Option<IpAddr> {
    let peer = request.peer_addr()?.ip().to_canonical();
    let Some(proxies) = request.app_data::<web::Data<TrustedProxies>>() else {
        return Some(peer);
    };
    let forwarded_for: Vec<&str> =
        request.headers().get_all(X_FORWARDED_FOR).filter_map(|value| value.to_str().ok()).collect();
    Some(proxies.client(peer, &forwarded_for))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn proxies(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|range| AddressRange::parse(range).unwrap()).collect())
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        assert_eq!(TrustedProxies::default().client(ip("198.51.100.1"), &["203.0.113.7"]), ip("198.51.100.1"));
    }

    #[test]
    fn a_peer_that_is_not_a_trusted_proxy_cannot_name_another_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(trusted.client(ip("198.51.100.1"), &["203.0.113.7"]), ip("198.51.100.1"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_address_it_saw_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &["203.0.113.7"]), ip("203.0.113.7"));
    }

    #[test]
    fn addresses_a_client_prepended_are_not_believed() {
        // The client sent `X-Forwarded-For: 1.1.1.1`; the trusted proxy appended the address it really saw.
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &["1.1.1.1, 203.0.113.7"]), ip("203.0.113.7"));
        assert_eq!(trusted.client(ip("10.0.0.2"), &["1.1.1.1", "203.0.113.7"]), ip("203.0.113.7"));
    }

    #[test]
    fn a_chain_of_trusted_proxies_is_walked_to_the_first_untrusted_address() {
        let trusted = proxies(&["10.0.0.0/8", "192.168.0.0/16"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &["203.0.113.7, 192.168.1.1"]), ip("203.0.113.7"));
    }

    #[test]
    fn garbage_in_the_chain_stops_at_the_last_good_address() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(trusted.client(ip("10.0.0.2"), &["203.0.113.7, not-an-ip"]), ip("10.0.0.2"));
        assert_eq!(trusted.client(ip("10.0.0.2"), &[]), ip("10.0.0.2"));
    }
}
