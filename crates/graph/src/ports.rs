//! Port sets per protocol, the currency of network reachability.

use std::fmt;

/// Transport protocols NetworkPolicy knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Protocol {
    /// SCTP.
    Sctp,
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// All protocols, in display order.
    pub const ALL: [Protocol; 3] = [Protocol::Sctp, Protocol::Tcp, Protocol::Udp];

    /// Parses a Kubernetes protocol name (`TCP` when absent).
    pub fn parse(s: Option<&str>) -> Option<Protocol> {
        match s.unwrap_or("TCP") {
            "TCP" | "tcp" => Some(Protocol::Tcp),
            "UDP" | "udp" => Some(Protocol::Udp),
            "SCTP" | "sctp" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    fn index(self) -> usize {
        match self {
            Protocol::Sctp => 0,
            Protocol::Tcp => 1,
            Protocol::Udp => 2,
        }
    }

    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Sctp => "SCTP",
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
        }
    }
}

/// Lowest and highest port numbers.
pub const MIN_PORT: u16 = 1;
/// Highest port number.
pub const MAX_PORT: u16 = 65535;

/// A set of (protocol, port) pairs as sorted, disjoint, non-adjacent ranges per protocol.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PortSet {
    ranges: [Vec<(u16, u16)>; 3],
}

impl PortSet {
    /// Nothing.
    pub fn empty() -> PortSet {
        PortSet::default()
    }

    /// Every port of every protocol.
    pub fn all() -> PortSet {
        PortSet {
            ranges: [
                vec![(MIN_PORT, MAX_PORT)],
                vec![(MIN_PORT, MAX_PORT)],
                vec![(MIN_PORT, MAX_PORT)],
            ],
        }
    }

    /// Every port of one protocol.
    pub fn all_of(p: Protocol) -> PortSet {
        PortSet::range(p, MIN_PORT, MAX_PORT)
    }

    /// One range (empty when `start > end`).
    pub fn range(p: Protocol, start: u16, end: u16) -> PortSet {
        let mut s = PortSet::empty();
        if start <= end {
            s.ranges[p.index()].push((start.max(MIN_PORT), end));
        }
        s
    }

    /// One port.
    pub fn single(p: Protocol, port: u16) -> PortSet {
        PortSet::range(p, port, port)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(Vec::is_empty)
    }

    /// True when every port of every protocol is in the set.
    pub fn is_all(&self) -> bool {
        self.ranges
            .iter()
            .all(|r| r.as_slice() == [(MIN_PORT, MAX_PORT)])
    }

    /// Ranges of one protocol.
    pub fn ranges(&self, p: Protocol) -> &[(u16, u16)] {
        &self.ranges[p.index()]
    }

    /// Whether the port is in the set.
    pub fn contains(&self, p: Protocol, port: u16) -> bool {
        self.ranges[p.index()]
            .iter()
            .any(|&(a, b)| a <= port && port <= b)
    }

    /// Adds every port of `other`.
    pub fn union_with(&mut self, other: &PortSet) {
        for i in 0..3 {
            if other.ranges[i].is_empty() {
                continue;
            }
            let mut all: Vec<(u16, u16)> = self.ranges[i]
                .iter()
                .chain(&other.ranges[i])
                .copied()
                .collect();
            all.sort_unstable();
            let mut out: Vec<(u16, u16)> = Vec::with_capacity(all.len());
            for (a, b) in all {
                match out.last_mut() {
                    Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                    _ => out.push((a, b)),
                }
            }
            self.ranges[i] = out;
        }
    }

    /// The union.
    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut s = self.clone();
        s.union_with(other);
        s
    }

    /// The intersection.
    pub fn intersect(&self, other: &PortSet) -> PortSet {
        let mut out = PortSet::empty();
        for i in 0..3 {
            let (a, b) = (&self.ranges[i], &other.ranges[i]);
            let (mut x, mut y) = (0, 0);
            while x < a.len() && y < b.len() {
                let lo = a[x].0.max(b[y].0);
                let hi = a[x].1.min(b[y].1);
                if lo <= hi {
                    out.ranges[i].push((lo, hi));
                }
                if a[x].1 < b[y].1 {
                    x += 1;
                } else {
                    y += 1;
                }
            }
        }
        out
    }

    /// Whether the two sets share a port.
    pub fn overlaps(&self, other: &PortSet) -> bool {
        !self.intersect(other).is_empty()
    }
}

impl fmt::Display for PortSet {
    /// `All Connections`, or `PROTO a-b,c,...` per protocol in alphabetical order, the form
    /// np-guard's connectivity lists use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("All Connections");
        }
        if self.is_empty() {
            return f.write_str("No Connections");
        }
        let mut first = true;
        for p in Protocol::ALL {
            let r = self.ranges(p);
            if r.is_empty() {
                continue;
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            write!(f, "{} ", p.as_str())?;
            for (i, (a, b)) in r.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if a == b {
                    write!(f, "{a}")?;
                } else {
                    write!(f, "{a}-{b}")?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn display() {
        let mut s = PortSet::range(Protocol::Tcp, 1, 79);
        s.union_with(&PortSet::range(Protocol::Tcp, 81, 65535));
        s.union_with(&PortSet::single(Protocol::Udp, 53));
        assert_eq!(s.to_string(), "TCP 1-79,81-65535,UDP 53");
        assert_eq!(PortSet::all().to_string(), "All Connections");
    }

    #[test]
    fn adjacent_ranges_merge() {
        let mut s = PortSet::range(Protocol::Tcp, 1, 10);
        s.union_with(&PortSet::range(Protocol::Tcp, 11, 20));
        assert_eq!(s.ranges(Protocol::Tcp), &[(1, 20)]);
    }

    fn arb_set() -> impl Strategy<Value = PortSet> {
        proptest::collection::vec((0usize..3, 1u16..200, 0u16..50), 0..6).prop_map(|v| {
            let mut s = PortSet::empty();
            for (p, a, len) in v {
                s.union_with(&PortSet::range(Protocol::ALL[p], a, a.saturating_add(len)));
            }
            s
        })
    }

    proptest! {
        #[test]
        fn set_algebra_matches_membership(a in arb_set(), b in arb_set(), port in 1u16..260, p in 0usize..3) {
            let p = Protocol::ALL[p];
            prop_assert_eq!(a.union(&b).contains(p, port), a.contains(p, port) || b.contains(p, port));
            prop_assert_eq!(a.intersect(&b).contains(p, port), a.contains(p, port) && b.contains(p, port));
        }
    }
}
