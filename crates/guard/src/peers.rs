//! The pod's outbound peers, from `/proc/net/{tcp,tcp6,udp,udp6}` of the shared network
//! namespace: the remote addresses of connected sockets that are public (private, loopback,
//! link-local and other special ranges are the cluster's own). Bounded: at most
//! [`MAX_LINES`] lines are read and [`MAX_PEERS`] peers kept.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const MAX_LINES: usize = 100_000;
pub const MAX_PEERS: usize = 1024;

/// Public remote addresses of connected sockets in one `/proc/net/*` table. Lines that do not
/// parse are skipped (the kernel's format has one header line and fixed columns).
pub fn parse(table: &str) -> Vec<IpAddr> {
    let mut out: Vec<IpAddr> = Vec::new();
    for line in table.lines().skip(1).take(MAX_LINES) {
        let mut cols = line.split_ascii_whitespace();
        let (Some(_slot), Some(_local), Some(remote), Some(state)) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            continue;
        };
        // 01 ESTABLISHED (a connected UDP socket shows 01 too), 02 SYN_SENT.
        if state != "01" && state != "02" {
            continue;
        }
        let Some((addr, port)) = remote.split_once(':') else {
            continue;
        };
        if port == "0000" {
            continue;
        }
        let Some(ip) = address(addr) else {
            continue;
        };
        if is_public(ip) && !out.contains(&ip) && out.len() < MAX_PEERS {
            out.push(ip);
        }
    }
    out
}

/// The kernel prints each 32-bit word of the address in host byte order.
fn address(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b.get_mut(i * 4..i * 4 + 4)?.copy_from_slice(&word(i)?);
            }
            let v6 = Ipv6Addr::from(b);
            Some(match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6(v6),
            })
        }
        _ => None,
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_multicast()
                || v4.is_broadcast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_public_connected_peers_only() {
        // 8.8.8.8:443 established, 10.0.0.1:80 established (private), a listener, garbage.
        let v4 = |ip: [u8; 4]| format!("{:08X}", u32::from_ne_bytes(ip));
        let table = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue\n   0: {}:1F90 {}:01BB 01 0:0\n   1: {}:1F90 {}:0050 01 0:0\n   2: {}:1F90 00000000:0000 0A 0:0\n nonsense\n",
            v4([10, 1, 2, 3]),
            v4([8, 8, 8, 8]),
            v4([10, 1, 2, 3]),
            v4([10, 0, 0, 1]),
            v4([0, 0, 0, 0]),
        );
        assert_eq!(parse(&table), vec![IpAddr::from([8, 8, 8, 8])]);
        assert!(!is_public(
            "100.64.1.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
        ));
        assert!(is_public(
            "2606:4700::1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
        ));
    }
}
