//! Which addresses a webhook may be delivered to. A hook's URL is chosen by an administrator, but the request is
//! made from inside the server's network: without a check, a hook could reach the database, a cloud metadata
//! service or anything else only the server can see (server-side request forgery). Every address a hook's host
//! resolves to is checked at delivery time, and only checked addresses are connected to.

use std::net::{IpAddr, Ipv4Addr};

pub use crate::net::AddressRange;

/// Addresses that are not on the public internet: loopback, private (RFC 1918, unique local), link-local (cloud
/// metadata services live there), shared (CGNAT), unspecified, broadcast, multicast, documentation and the
/// IPv4-mapped or -translated forms of any of those.
pub fn is_internal(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_internal_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_internal_v4(v4);
            }
            let segments = v6.segments();
            // NAT64 (64:ff9b::/96) reaches the embedded IPv4 address.
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_internal_v4(Ipv4Addr::new(a, b, c, d));
            }
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (segments[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated, still routed internally)
                || segments[..2] == [0x2001, 0x0db8] // documentation
                || segments[..6] == [0; 6] // deprecated IPv4-compatible ::a.b.c.d
        }
    }
}

fn is_internal_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT) 100.64.0.0/10
        || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments 192.0.0.0/24
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || a >= 240 // reserved
}

/// The server's rule for delivery targets: public addresses always, internal ones only inside a configured range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    pub allowed_internal: Vec<AddressRange>,
}

impl TargetPolicy {
    pub fn allows(&self, address: IpAddr) -> bool {
        !is_internal(address) || self.allowed_internal.iter().any(|range| range.contains(address))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_recognised_in_every_spelling() {
        for internal in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
        ] {
            assert!(is_internal(ip(internal)), "{internal}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"] {
            assert!(!is_internal(ip(public)), "{public}");
        }
    }

    #[test]
    fn configured_ranges_open_internal_addresses_and_nothing_more() {
        let policy = TargetPolicy {
            allowed_internal: vec![AddressRange::parse("127.0.0.0/8").unwrap(), AddressRange::parse("::1").unwrap()],
        };
        assert!(policy.allows(ip("127.0.0.1")));
        assert!(policy.allows(ip("127.9.9.9")));
        assert!(policy.allows(ip("::1")));
        assert!(policy.allows(ip("::ffff:127.0.0.1")));
        assert!(policy.allows(ip("8.8.8.8")));
        assert!(!policy.allows(ip("10.0.0.1")));
        assert!(!policy.allows(ip("169.254.169.254")));
        assert!(!TargetPolicy::default().allows(ip("127.0.0.1")));
    }

    #[test]
    fn ranges_parse_as_cidr() {
        assert!(AddressRange::parse("10.0.0.0/8").unwrap().contains(ip("10.200.0.1")));
        assert!(!AddressRange::parse("10.0.0.0/8").unwrap().contains(ip("11.0.0.1")));
        assert!(AddressRange::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
        assert!(AddressRange::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert_eq!(AddressRange::parse("10.0.0.0/33"), None);
        assert_eq!(AddressRange::parse("nonsense"), None);
    }
}
