//! Address sets for `ipBlock` peers: IPv4 and IPv6 interval sets.

use std::net::IpAddr;

use ipnet::IpNet;

/// A set of IPv4 and IPv6 addresses as sorted disjoint intervals.
#[derive(Debug, Clone, PartialEq, Eq, Default, Hash)]
pub struct IpSet {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

/// A CIDR that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR {0:?}")]
pub struct CidrError(pub String);

fn normalize<T: Copy + Ord + num_like::Succ>(mut v: Vec<(T, T)>) -> Vec<(T, T)> {
    v.sort_unstable();
    let mut out: Vec<(T, T)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if last.1.succ().is_none_or(|n| a <= n) => {
                if b > last.1 {
                    last.1 = b;
                }
            }
            _ => out.push((a, b)),
        }
    }
    out
}

fn subtract<T: Copy + Ord + num_like::Succ>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::new();
    for &(mut lo, hi) in a {
        let mut done = false;
        for &(blo, bhi) in b {
            if bhi < lo || blo > hi {
                continue;
            }
            if blo > lo {
                out.push((lo, blo.pred()));
            }
            match bhi.succ() {
                Some(n) if bhi < hi => lo = n,
                _ => {
                    done = true;
                    break;
                }
            }
        }
        if !done {
            out.push((lo, hi));
        }
    }
    out
}

fn intersect<T: Copy + Ord>(a: &[(T, T)], b: &[(T, T)]) -> Vec<(T, T)> {
    let mut out = Vec::new();
    let (mut x, mut y) = (0, 0);
    while x < a.len() && y < b.len() {
        let lo = a[x].0.max(b[y].0);
        let hi = a[x].1.min(b[y].1);
        if lo <= hi {
            out.push((lo, hi));
        }
        if a[x].1 < b[y].1 {
            x += 1;
        } else {
            y += 1;
        }
    }
    out
}

mod num_like {
    pub trait Succ: Sized {
        fn succ(self) -> Option<Self>;
        fn pred(self) -> Self;
    }
    impl Succ for u32 {
        fn succ(self) -> Option<u32> {
            self.checked_add(1)
        }
        fn pred(self) -> u32 {
            self.saturating_sub(1)
        }
    }
    impl Succ for u128 {
        fn succ(self) -> Option<u128> {
            self.checked_add(1)
        }
        fn pred(self) -> u128 {
            self.saturating_sub(1)
        }
    }
}

impl IpSet {
    /// The empty set.
    pub fn empty() -> IpSet {
        IpSet::default()
    }

    /// Every address.
    pub fn all() -> IpSet {
        IpSet {
            v4: vec![(0, u32::MAX)],
            v6: vec![(0, u128::MAX)],
        }
    }

    /// Parses a CIDR (host bits are ignored, as the API server's validation would reject them
    /// anyway).
    pub fn from_cidr(cidr: &str) -> Result<IpSet, CidrError> {
        let net: IpNet = cidr
            .trim()
            .parse()
            .map_err(|_| CidrError(cidr.to_string()))?;
        let mut s = IpSet::empty();
        match net {
            IpNet::V4(n) => {
                s.v4.push((u32::from(n.network()), u32::from(n.broadcast())))
            }
            IpNet::V6(n) => {
                s.v6.push((u128::from(n.network()), u128::from(n.broadcast())))
            }
        }
        Ok(s)
    }

    /// An `ipBlock`: `cidr` minus every `except`.
    pub fn from_block(cidr: &str, except: &[String]) -> Result<IpSet, CidrError> {
        let mut s = IpSet::from_cidr(cidr)?;
        for e in except {
            s = s.subtract(&IpSet::from_cidr(e)?);
        }
        Ok(s)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The union.
    pub fn union(&self, other: &IpSet) -> IpSet {
        IpSet {
            v4: normalize(self.v4.iter().chain(&other.v4).copied().collect()),
            v6: normalize(self.v6.iter().chain(&other.v6).copied().collect()),
        }
    }

    /// The difference.
    pub fn subtract(&self, other: &IpSet) -> IpSet {
        IpSet {
            v4: subtract(&self.v4, &other.v4),
            v6: subtract(&self.v6, &other.v6),
        }
    }

    /// The intersection.
    pub fn intersect(&self, other: &IpSet) -> IpSet {
        IpSet {
            v4: intersect(&self.v4, &other.v4),
            v6: intersect(&self.v6, &other.v6),
        }
    }

    /// Whether every address of `other` is in `self`.
    pub fn contains_set(&self, other: &IpSet) -> bool {
        other.subtract(self).is_empty()
    }

    /// Whether the address is in the set.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().any(|&(lo, hi)| lo <= a && a <= hi)
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().any(|&(lo, hi)| lo <= a && a <= hi)
            }
        }
    }

    /// IPv4 intervals.
    pub fn v4_ranges(&self) -> &[(u32, u32)] {
        &self.v4
    }

    /// IPv6 intervals.
    pub fn v6_ranges(&self) -> &[(u128, u128)] {
        &self.v6
    }

    /// Builds a set from IPv4 intervals.
    pub fn from_v4_ranges(r: Vec<(u32, u32)>) -> IpSet {
        IpSet {
            v4: normalize(r),
            v6: Vec::new(),
        }
    }

    /// The public internet: every address outside private, loopback, link-local, shared (CGNAT),
    /// multicast and reserved ranges. An `ipBlock` admits the internet when it overlaps this.
    pub fn internet() -> IpSet {
        let mut s = IpSet::all();
        for c in [
            "0.0.0.0/8",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "127.0.0.0/8",
            "169.254.0.0/16",
            "172.16.0.0/12",
            "192.168.0.0/16",
            "224.0.0.0/3",
            "::1/128",
            "fc00::/7",
            "fe80::/10",
            "ff00::/8",
            "::/128",
        ] {
            if let Ok(p) = IpSet::from_cidr(c) {
                s = s.subtract(&p);
            }
        }
        s
    }
}

/// Formats an IPv4 number.
pub fn v4_to_string(a: u32) -> String {
    std::net::Ipv4Addr::from(a).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn except_is_subtracted() {
        let s = IpSet::from_block("10.0.0.0/8", &["10.1.0.0/16".to_string()]).unwrap();
        assert!(s.contains("10.0.0.1".parse().unwrap()));
        assert!(!s.contains("10.1.2.3".parse().unwrap()));
        assert!(s.contains("10.2.0.0".parse().unwrap()));
    }

    #[test]
    fn internet() {
        let i = IpSet::internet();
        assert!(i.contains("8.8.8.8".parse().unwrap()));
        assert!(!i.contains("10.0.0.1".parse().unwrap()));
        assert!(i.contains("2001:db8::1".parse().unwrap()));
        assert!(
            IpSet::from_cidr("0.0.0.0/0")
                .unwrap()
                .intersect(&i)
                .v4_ranges()
                .len()
                > 1
        );
        assert!(
            IpSet::from_cidr("192.168.0.0/16")
                .unwrap()
                .intersect(&i)
                .is_empty()
        );
    }

    #[test]
    fn bad_cidr() {
        assert!(IpSet::from_cidr("300.0.0.0/8").is_err());
        assert!(IpSet::from_cidr("nonsense").is_err());
    }
}
