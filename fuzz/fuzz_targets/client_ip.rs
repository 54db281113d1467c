//! The client address from X-Forwarded-For: never panics, and the answer is the peer or one
//! of the addresses in the header (never made up).
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use gatehouse::http::client_ip;
use http::{HeaderMap, HeaderValue};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let peer = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    let trusted: Vec<IpNet> = vec!["127.0.0.0/8".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
    let mut headers = HeaderMap::new();
    // Several header lines are allowed: split the input at newlines.
    for line in data.split(|b| *b == b'\n') {
        if let Ok(value) = HeaderValue::from_bytes(line) {
            headers.append("x-forwarded-for", value);
        }
    }
    let ip = client_ip(peer, &headers, &trusted);
    if ip != peer {
        let text = String::from_utf8_lossy(data);
        assert!(text.split([',', '\n']).any(|hop| hop.trim().parse::<IpAddr>() == Ok(ip)));
    }
});
