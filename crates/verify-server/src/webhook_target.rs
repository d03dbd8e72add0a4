//! Where webhooks may be delivered. A webhook URL is chosen by whoever holds
//! the backend credentials, and the server POSTs to it from inside the
//! network it runs in; unless `--allow-private-webhooks` is given, loopback,
//! private, link-local and unspecified addresses are refused, both as IP
//! literals (on create/update and at delivery) and as what a host name
//! resolves to at delivery time (the resolver below, so the address checked
//! is the address connected to).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an address a webhook must not reach by default.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_private_v4(v4),
            None => is_private_v6(v6),
        },
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    // 127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, 0/8 (0.0.0.0 reaches
    // this host), broadcast and multicast.
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.octets()[0] == 0
        || ip.is_broadcast()
        || ip.is_multicast()
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // fc00::/7 (unique local) and fe80::/10 (link-local).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
}

/// Why a URL's literal host is refused, if it is.
pub fn literal_refusal(url: &reqwest::Url) -> Option<String> {
    // The URL parser has already normalised literal forms (`127.1`,
    // `0x7f000001`) to dotted quads; IPv6 literals keep their brackets.
    let host = url.host_str()?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let ip: IpAddr = host.parse().ok()?;
    is_private(ip).then(|| format!("{ip} is a loopback or private address"))
}

/// System DNS resolution that yields public addresses only; a name with
/// nothing else fails to resolve, so the delivery fails like any
/// unreachable receiver.
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .iter()
                .copied()
                .filter(|a| !is_private(a.ip()))
                .collect();
            if public.is_empty() {
                return Err(
                    format!("{host} resolves to loopback or private addresses only").into(),
                );
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_refused_and_public_ones_allowed() {
        for refused in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(refused.parse().unwrap()), "{refused}");
        }
        for allowed in [
            "8.8.8.8",
            "172.32.0.1",
            "192.169.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_private(allowed.parse().unwrap()), "{allowed}");
        }
    }

    #[test]
    fn literal_hosts_are_checked_including_shorthand_forms() {
        let refused = |u: &str| literal_refusal(&reqwest::Url::parse(u).unwrap()).is_some();
        assert!(refused("http://127.0.0.1:8080/hook"));
        // The URL parser normalises these to 127.0.0.1.
        assert!(refused("http://127.1/hook"));
        assert!(refused("http://0x7f000001/hook"));
        assert!(refused("https://[::1]/hook"));
        assert!(!refused("https://example.com/hook"));
        assert!(!refused("https://93.184.216.34/hook"));
    }
}
