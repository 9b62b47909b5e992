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
///
/// One boxed slice holds the three protocols' ranges one after the other: every network edge
/// of a graph carries a set, and three vectors made each set 72 bytes instead of 24. Ordered
/// and hashed as the three lists, SCTP first.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct PortSet {
    /// SCTP's ranges, then TCP's, then UDP's.
    ranges: Box<[(u16, u16)]>,
    /// Where TCP's and UDP's ranges start.
    starts: [u32; 2],
}

impl PortSet {
    /// Nothing.
    pub fn empty() -> PortSet {
        PortSet::default()
    }

    /// The set of the three protocols' ranges (each already sorted, disjoint, non-adjacent).
    fn from_parts(parts: [Vec<(u16, u16)>; 3]) -> PortSet {
        let [sctp, tcp, udp] = parts;
        // A protocol has at most 32,768 disjoint non-adjacent ranges: the offsets fit.
        let tcp_at = u32::try_from(sctp.len()).unwrap_or(u32::MAX);
        let udp_at = tcp_at.saturating_add(u32::try_from(tcp.len()).unwrap_or(u32::MAX));
        let mut ranges = sctp;
        ranges.extend(tcp);
        ranges.extend(udp);
        PortSet {
            ranges: ranges.into_boxed_slice(),
            starts: [tcp_at, udp_at],
        }
    }

    /// The ranges of the protocol at `i` (SCTP, TCP, UDP).
    fn part(&self, i: usize) -> &[(u16, u16)] {
        let at = |j: usize| self.starts[j] as usize;
        let (from, to) = match i {
            0 => (0, at(0)),
            1 => (at(0), at(1)),
            _ => (at(1), self.ranges.len()),
        };
        self.ranges.get(from..to).unwrap_or_default()
    }

    /// Every port of every protocol.
    pub fn all() -> PortSet {
        let all = || vec![(MIN_PORT, MAX_PORT)];
        PortSet::from_parts([all(), all(), all()])
    }

    /// Every port of one protocol.
    pub fn all_of(p: Protocol) -> PortSet {
        PortSet::range(p, MIN_PORT, MAX_PORT)
    }

    /// One range (empty when `start > end`).
    pub fn range(p: Protocol, start: u16, end: u16) -> PortSet {
        let mut parts: [Vec<(u16, u16)>; 3] = Default::default();
        if start <= end {
            parts[p.index()].push((start.max(MIN_PORT), end));
        }
        PortSet::from_parts(parts)
    }

    /// One port.
    pub fn single(p: Protocol, port: u16) -> PortSet {
        PortSet::range(p, port, port)
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// True when every port of every protocol is in the set.
    pub fn is_all(&self) -> bool {
        (0..3).all(|i| self.part(i) == [(MIN_PORT, MAX_PORT)])
    }

    /// Ranges of one protocol.
    pub fn ranges(&self, p: Protocol) -> &[(u16, u16)] {
        self.part(p.index())
    }

    /// Whether the port is in the set.
    pub fn contains(&self, p: Protocol, port: u16) -> bool {
        self.ranges(p).iter().any(|&(a, b)| a <= port && port <= b)
    }

    /// Adds every port of `other`.
    pub fn union_with(&mut self, other: &PortSet) {
        if other.is_empty() {
            return;
        }
        let parts = [0, 1, 2].map(|i| {
            let mut all: Vec<(u16, u16)> =
                self.part(i).iter().chain(other.part(i)).copied().collect();
            all.sort_unstable();
            let mut out: Vec<(u16, u16)> = Vec::with_capacity(all.len());
            for (a, b) in all {
                match out.last_mut() {
                    Some(last) if u32::from(a) <= u32::from(last.1) + 1 => last.1 = last.1.max(b),
                    _ => out.push((a, b)),
                }
            }
            out
        });
        *self = PortSet::from_parts(parts);
    }

    /// The union.
    pub fn union(&self, other: &PortSet) -> PortSet {
        let mut s = self.clone();
        s.union_with(other);
        s
    }

    /// The intersection.
    pub fn intersect(&self, other: &PortSet) -> PortSet {
        let parts = [0, 1, 2].map(|i| {
            let (a, b) = (self.part(i), other.part(i));
            let mut out = Vec::new();
            let (mut x, mut y) = (0, 0);
            while let (Some(&(a0, a1)), Some(&(b0, b1))) = (a.get(x), b.get(y)) {
                let (lo, hi) = (a0.max(b0), a1.min(b1));
                if lo <= hi {
                    out.push((lo, hi));
                }
                if a1 < b1 {
                    x += 1;
                } else {
                    y += 1;
                }
            }
            out
        });
        PortSet::from_parts(parts)
    }

    /// The ports of `self` not in `other`.
    pub fn subtract(&self, other: &PortSet) -> PortSet {
        let parts = [0, 1, 2].map(|i| {
            let mut out = Vec::new();
            let mut cut = other.part(i).iter().peekable();
            for &(a0, a1) in self.part(i) {
                let mut lo = u32::from(a0);
                let hi = u32::from(a1);
                while let Some(&&(b0, b1)) = cut.peek() {
                    let (b0, b1) = (u32::from(b0), u32::from(b1));
                    if b1 < lo {
                        cut.next();
                        continue;
                    }
                    if b0 > hi {
                        break;
                    }
                    if b0 > lo {
                        out.push((lo, b0 - 1));
                    }
                    lo = b1 + 1;
                    if b1 > hi {
                        break;
                    }
                    cut.next();
                }
                if lo <= hi {
                    out.push((lo, hi));
                }
            }
            out.into_iter()
                .filter_map(|(a, b)| Some((u16::try_from(a).ok()?, u16::try_from(b).ok()?)))
                .collect()
        });
        PortSet::from_parts(parts)
    }

    /// Whether the two sets share a port.
    pub fn overlaps(&self, other: &PortSet) -> bool {
        !self.intersect(other).is_empty()
    }
}

impl PortSet {
    /// The three protocols' ranges, as the order and hash compare them.
    fn parts(&self) -> [&[(u16, u16)]; 3] {
        [self.part(0), self.part(1), self.part(2)]
    }
}

impl fmt::Debug for PortSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortSet")
            .field("ranges", &self.parts())
            .finish()
    }
}

impl Ord for PortSet {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl PartialOrd for PortSet {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl std::hash::Hash for PortSet {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.parts().hash(state);
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

    /// Ordered as the three protocols' lists, SCTP's first, as before they shared a slice.
    #[test]
    fn order_is_by_protocol_then_ranges() {
        let sctp = PortSet::single(Protocol::Sctp, 9);
        let tcp = PortSet::single(Protocol::Tcp, 1);
        assert!(PortSet::empty() < tcp && tcp < sctp);
        let mut both = tcp.clone();
        both.union_with(&PortSet::single(Protocol::Udp, 1));
        assert!(tcp < both && both < sctp);
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
            let diff = a.subtract(&b);
            prop_assert_eq!(diff.contains(p, port), a.contains(p, port) && !b.contains(p, port));
            // Canonical: the same set built by union compares equal.
            prop_assert_eq!(diff.union(&a.intersect(&b)), a.clone());
        }
    }
}
