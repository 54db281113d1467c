//! The client's address: the socket peer, or, when the peer is a trusted proxy, the nearest
//! untrusted address in `X-Forwarded-For` (read right to left, so a client cannot spoof it by
//! sending its own header through the proxy).

use std::net::IpAddr;

use ipnet::IpNet;
use poem::http::HeaderMap;

/// The resolved client address of a request, in the request's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect::<Vec<_>>();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        match hop.parse::<IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip,
            Ok(ip) => return ip,
            // A hop we cannot read: stop at the last address we could vouch for.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use poem::http::HeaderValue;

    fn headers(xff: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert("x-forwarded-for", HeaderValue::from_str(xff).unwrap());
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ignores_the_header_from_an_untrusted_peer() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        assert_eq!(client_ip(ip("203.0.113.9"), &headers("1.2.3.4"), &trusted), ip("203.0.113.9"));
    }

    #[test]
    fn believes_a_trusted_proxy_and_skips_trusted_hops() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers("6.6.6.6, 198.51.100.7, 10.0.0.2");
        assert_eq!(client_ip(ip("10.0.0.1"), &h, &trusted), ip("198.51.100.7"));
    }

    #[test]
    fn falls_back_to_the_peer_without_a_header_or_with_garbage() {
        let trusted: Vec<IpNet> = vec!["127.0.0.1/32".parse().unwrap()];
        assert_eq!(client_ip(ip("127.0.0.1"), &HeaderMap::new(), &trusted), ip("127.0.0.1"));
        assert_eq!(client_ip(ip("127.0.0.1"), &headers("not-an-ip"), &trusted), ip("127.0.0.1"));
    }

    #[test]
    fn a_chain_with_garbage_stops_at_the_nearest_readable_untrusted_hop() {
        let trusted: Vec<IpNet> =
            vec!["127.0.0.1/32".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let peer = ip("127.0.0.1");
        // Garbage further away than a real client address cannot reach the answer.
        for chain in [
            "evil, 198.51.100.7",
            "1.2.3.4, <script>, 198.51.100.7, 10.0.0.3",
            ",,, 198.51.100.7",
            "198.51.100.7,",
        ] {
            let expected = if chain.ends_with(',') { peer } else { ip("198.51.100.7") };
            assert_eq!(client_ip(peer, &headers(chain), &trusted), expected, "{chain:?}");
        }
        // Garbage nearer than any readable address: the last hop we trust is the answer.
        for chain in
            ["198.51.100.7, nonsense", "198.51.100.7, [2001:db8::1]:443", "1.2.3.4, 999.1.1.1"]
        {
            assert_eq!(client_ip(peer, &headers(chain), &trusted), peer, "{chain:?}");
        }
        assert_eq!(
            client_ip(peer, &headers("198.51.100.7, junk, 10.0.0.3"), &trusted),
            ip("10.0.0.3")
        );
        let long = format!("{}198.51.100.8", "x, ".repeat(5_000));
        assert_eq!(client_ip(peer, &headers(&long), &trusted), ip("198.51.100.8"));
    }
}
