//! Maximum flow (Dinic) that can start from a previous flow.
//!
//! The cut of a patched graph is the cut of a network that differs from the last one in a few
//! arcs, and its maximum flow is a few augmenting paths away from the last flow. petgraph's
//! `dinics` always starts from zero, so this is a small Dinic over a compressed adjacency
//! array that takes a starting flow: flow on arcs that shrank or vanished is first cancelled
//! along the paths that carry it, then Dinic augments as usual. Whatever the start, the source
//! side of the final residual network is the same (the vertices every maximum flow leaves
//! reachable), so the cut is the one a computation from zero finds.
//!
//! Vertices are the graph's vertex indices (plus a sink), so a flow stays meaningful across
//! patches that add vertices and move edges but never remove a vertex.

use std::collections::VecDeque;

/// Capacity standing for "never cut".
pub(crate) const INF: u64 = 1 << 40;

/// The sink in a stored [`Flow`].
const SINK: u32 = u32::MAX;

/// A flow: per arc `(from, to)` with positive flow, the amount, sorted; the sink is
/// [`SINK`], whatever its index in the network (the graph, and the sink's index after it, grow
/// with patches).
#[derive(Debug, Clone, Default)]
pub(crate) struct Flow {
    arcs: Vec<(u32, u32, u64)>,
    /// The network's arc array, kept for the next network to fill (a fresh one costs page
    /// faults on every cut).
    spare: Vec<Arc>,
}

#[derive(Debug, Clone, Copy)]
struct Arc {
    to: u32,
    /// Index of the paired arc.
    rev: u32,
    /// Residual capacity.
    res: u64,
    /// Capacity (0 for the reverse half of a pair).
    cap: u64,
    /// The forward half of a pair (the network's own arc).
    forward: bool,
}

/// A flow network in compressed adjacency form.
pub(crate) struct Network {
    start: Vec<u32>,
    arcs: Vec<Arc>,
    s: u32,
    t: u32,
}

/// Why a starting flow could not be used (the caller starts from zero).
#[derive(Debug)]
pub(crate) struct Unusable;

impl Network {
    /// A network over `n` vertices from its arcs `(from, to, capacity)`, sorted by
    /// `(from, to)` without repeats, carrying `flow` where it fits (see [`Network::repair`]).
    pub(crate) fn new(n: usize, s: u32, t: u32, pairs: &[(u32, u32, u64)], flow: Flow) -> Network {
        // Arcs that carried flow but are gone stay, with no capacity, until it is cancelled.
        let mut all: Vec<(u32, u32, u64, u64)> = Vec::with_capacity(pairs.len());
        let at = |v: u32| if v == SINK { t } else { v };
        let renamed: Vec<(u32, u32, u64)> =
            flow.arcs.iter().map(|&(a, b, f)| (a, at(b), f)).collect();
        let mut old = renamed.iter().peekable();
        for &(a, b, cap) in pairs {
            while let Some(&&(x, y, f)) = old.peek() {
                if (x, y) >= (a, b) {
                    break;
                }
                all.push((x, y, 0, f));
                old.next();
            }
            let f = match old.peek() {
                Some(&&(x, y, f)) if (x, y) == (a, b) => {
                    old.next();
                    f
                }
                _ => 0,
            };
            all.push((a, b, cap, f));
        }
        all.extend(old.map(|&(x, y, f)| (x, y, 0, f)));

        let mut degree = vec![0u32; n + 1];
        for &(a, b, _, _) in &all {
            degree[a as usize + 1] += 1;
            degree[b as usize + 1] += 1;
        }
        for i in 0..n {
            degree[i + 1] += degree[i];
        }
        let start = degree.clone();
        let mut fill = degree;
        let blank = Arc {
            to: 0,
            rev: 0,
            res: 0,
            cap: 0,
            forward: false,
        };
        let mut arcs = flow.spare;
        arcs.clear();
        arcs.resize(all.len() * 2, blank);
        for &(a, b, cap, f) in &all {
            let (i, j) = (fill[a as usize], fill[b as usize]);
            fill[a as usize] += 1;
            fill[b as usize] += 1;
            // A flow above the capacity leaves a negative residual: recorded as zero here and
            // cancelled by `repair`, which reads the excess from `cap` and the reverse half.
            arcs[i as usize] = Arc {
                to: b,
                rev: j,
                res: cap.saturating_sub(f),
                cap,
                forward: true,
            };
            arcs[j as usize] = Arc {
                to: a,
                rev: i,
                res: f,
                cap: 0,
                forward: false,
            };
        }
        Network { start, arcs, s, t }
    }

    fn range(&self, v: u32) -> std::ops::Range<usize> {
        self.start[v as usize] as usize..self.start[v as usize + 1] as usize
    }

    /// Flow on a forward arc.
    fn flow(&self, i: usize) -> u64 {
        self.arcs[self.arcs[i].rev as usize].res
    }

    /// Cancels flow above capacity (on arcs that shrank or vanished) along the source → sink
    /// paths, or cycles, that carry it; `budget` bounds the searches.
    pub(crate) fn repair(&mut self, mut budget: usize) -> Result<(), Unusable> {
        for i in 0..self.arcs.len() {
            loop {
                let a = &self.arcs[i];
                let (cap, flow) = (a.cap, self.flow(i));
                if !a.forward || flow <= cap {
                    break;
                }
                if budget == 0 {
                    return Err(Unusable);
                }
                budget -= 1;
                let excess = flow - cap;
                let from = self.arcs[a.rev as usize].to;
                let to = a.to;
                let ahead = self.carrying(to, |v| v == self.t, true);
                let back = self.carrying(from, |v| v == self.s, false);
                let joined = match (ahead, back) {
                    (Some(f), Some(b)) => Some([b, f].concat()),
                    _ => None,
                };
                let (through, amount) = match joined.map(|p| {
                    let a = self.cancellable(&p, excess);
                    (p, a)
                }) {
                    Some((p, a)) if a > 0 => (p, a),
                    // No source → sink walk through the arc can give any: it lies on a cycle of
                    // flow (a simple one, each arc once), cancelled instead.
                    _ if to != from => {
                        let c = self.carrying(to, |v| v == from, true).ok_or(Unusable)?;
                        let a = self.cancellable(&c, excess);
                        if a == 0 {
                            return Err(Unusable);
                        }
                        (c, a)
                    }
                    _ => return Err(Unusable),
                };
                for k in through.into_iter().chain(std::iter::once(i)) {
                    let r = self.arcs[k].rev as usize;
                    self.arcs[r].res -= amount;
                    self.arcs[k].res = self.arcs[k].cap.saturating_sub(self.arcs[r].res);
                }
            }
        }
        Ok(())
    }

    /// How much flow can be taken off every arc of `walk` at once, at most `limit`: the two
    /// paths of a walk may share arcs (when they meet on a cycle of flow), and a shared arc
    /// gives up its flow once per pass.
    fn cancellable(&self, walk: &[usize], limit: u64) -> u64 {
        let mut arcs = walk.to_vec();
        arcs.sort_unstable();
        arcs.chunk_by(|a, b| a == b)
            .map(|run| self.flow(run[0]) / run.len() as u64)
            .fold(limit, u64::min)
    }

    /// Forward arcs carrying flow from `v` to a vertex `stop` accepts (`forward`), or into `v`
    /// from one (otherwise, listed in flow order), by breadth-first search.
    fn carrying(&self, v: u32, stop: impl Fn(u32) -> bool, forward: bool) -> Option<Vec<usize>> {
        let mut via: Vec<Option<usize>> = vec![None; self.start.len() - 1];
        let mut seen = vec![false; self.start.len() - 1];
        seen[v as usize] = true;
        let mut q = VecDeque::from([v]);
        while let Some(u) = q.pop_front() {
            if stop(u) {
                let mut out = Vec::new();
                let mut at = u;
                while at != v {
                    let k = via[at as usize]?;
                    out.push(k);
                    let r = self.arcs[k].rev as usize;
                    at = if forward {
                        self.arcs[r].to
                    } else {
                        self.arcs[k].to
                    };
                }
                if forward {
                    out.reverse();
                }
                return Some(out);
            }
            for i in self.range(u) {
                let arc = self.arcs[i];
                let r = arc.rev as usize;
                // Forward: an arc u → x with flow. Backward: a reverse half at u whose forward
                // arc x → u carries flow.
                let (k, x) = if forward && arc.forward && self.flow(i) > 0 {
                    (i, arc.to)
                } else if !forward && !arc.forward && arc.res > 0 {
                    (r, arc.to)
                } else {
                    continue;
                };
                if !seen[x as usize] {
                    seen[x as usize] = true;
                    via[x as usize] = Some(k);
                    q.push_back(x);
                }
            }
        }
        None
    }

    /// Augments to a maximum flow; returns its value.
    pub(crate) fn max_flow(&mut self) -> u64 {
        let n = self.start.len() - 1;
        let mut level = vec![u32::MAX; n];
        let mut next = vec![0usize; n];
        loop {
            level.fill(u32::MAX);
            level[self.s as usize] = 0;
            let mut q = VecDeque::from([self.s]);
            while let Some(u) = q.pop_front() {
                for i in self.range(u) {
                    let a = self.arcs[i];
                    if a.res > 0 && level[a.to as usize] == u32::MAX {
                        level[a.to as usize] = level[u as usize] + 1;
                        q.push_back(a.to);
                    }
                }
            }
            if level[self.t as usize] == u32::MAX {
                break;
            }
            for (v, x) in next.iter_mut().enumerate() {
                *x = self.start[v] as usize;
            }
            while self.augment(&level, &mut next) > 0 {}
        }
        let (out, into): (Vec<usize>, Vec<usize>) =
            self.range(self.s).partition(|&i| self.arcs[i].forward);
        let out: u64 = out.iter().map(|&i| self.flow(i)).sum();
        let into: u64 = into
            .iter()
            .map(|&i| self.flow(self.arcs[i].rev as usize))
            .sum();
        out.saturating_sub(into)
    }

    /// One augmenting path in the level graph (iterative depth-first search); its amount.
    fn augment(&mut self, level: &[u32], next: &mut [usize]) -> u64 {
        let mut path: Vec<usize> = Vec::new();
        let mut u = self.s;
        loop {
            if u == self.t {
                let amount = path.iter().map(|&i| self.arcs[i].res).min().unwrap_or(0);
                for &i in &path {
                    let r = self.arcs[i].rev as usize;
                    self.arcs[i].res -= amount;
                    self.arcs[r].res += amount;
                }
                return amount;
            }
            let end = self.start[u as usize + 1] as usize;
            let mut advanced = false;
            while next[u as usize] < end {
                let i = next[u as usize];
                let a = self.arcs[i];
                if a.res > 0 && level[a.to as usize] == level[u as usize] + 1 {
                    path.push(i);
                    u = a.to;
                    advanced = true;
                    break;
                }
                next[u as usize] += 1;
            }
            if !advanced {
                // Dead end: retreat, and never try the arc into it again in this phase.
                let Some(i) = path.pop() else {
                    return 0;
                };
                let r = self.arcs[i].rev as usize;
                u = self.arcs[r].to;
                next[u as usize] += 1;
            }
        }
    }

    /// Whether each vertex is on the source side of the residual network.
    pub(crate) fn source_side(&self) -> Vec<bool> {
        let mut side = vec![false; self.start.len() - 1];
        side[self.s as usize] = true;
        let mut q = VecDeque::from([self.s]);
        while let Some(u) = q.pop_front() {
            for i in self.range(u) {
                let a = self.arcs[i];
                if a.res > 0 && !side[a.to as usize] {
                    side[a.to as usize] = true;
                    q.push_back(a.to);
                }
            }
        }
        side
    }

    /// The flow, to start from next time.
    pub(crate) fn flow_state(self) -> Flow {
        let mut arcs = Vec::new();
        for u in 0..self.start.len() - 1 {
            for i in self.range(u as u32) {
                let a = self.arcs[i];
                if a.forward && self.flow(i) > 0 {
                    let to = if a.to == self.t { SINK } else { a.to };
                    arcs.push((u as u32, to, self.flow(i)));
                }
            }
        }
        arcs.sort_unstable();
        Flow {
            arcs,
            spare: self.arcs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn solve(n: usize, pairs: &[(u32, u32, u64)], start: &Flow) -> (u64, Vec<bool>, Flow) {
        let mut net = Network::new(n, 0, (n - 1) as u32, pairs, start.clone());
        net.repair(1000).expect("repairable");
        let v = net.max_flow();
        (v, net.source_side(), net.flow_state())
    }

    /// A small network: s=0 → {1, 2} → 3 → t=4, and 1 → 2.
    const NET: &[(u32, u32, u64)] = &[
        (0, 1, 3),
        (0, 2, 2),
        (1, 2, 1),
        (1, 3, 2),
        (2, 3, 4),
        (3, 4, 4),
    ];

    #[test]
    fn maximum_flow_and_source_side() {
        let (v, side, flow) = solve(5, NET, &Flow::default());
        assert_eq!(v, 4);
        assert_eq!(side, vec![true, true, true, true, false]);
        assert!(!flow.arcs.is_empty());
    }

    #[test]
    fn starting_from_an_old_flow_gives_the_same_cut() {
        let (_, _, flow) = solve(5, NET, &Flow::default());
        // The arc 3 → t narrows and 2 → 3 vanishes: the old flow no longer fits.
        let changed: Vec<(u32, u32, u64)> =
            vec![(0, 1, 3), (0, 2, 2), (1, 2, 1), (1, 3, 2), (3, 4, 1)];
        let (v, side, _) = solve(5, &changed, &flow);
        let (v0, side0, _) = solve(5, &changed, &Flow::default());
        assert_eq!((v, &side), (v0, &side0));
        assert_eq!(v, 1);
        // And widening again from there.
        let (v2, side2, _) = solve(5, NET, &Flow::default());
        let (_, _, narrow) = solve(5, &changed, &flow);
        let (v3, side3, _) = solve(5, NET, &narrow);
        assert_eq!((v2, side2), (v3, side3));
    }

    /// Random networks changed at random: starting from the old flow always ends at the value
    /// and source side that starting from zero does (cycles of flow and vanished arcs included).
    #[test]
    fn warm_starts_agree_with_cold_ones_on_random_networks() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |m: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % m
        };
        let random = |next: &mut dyn FnMut(u64) -> u64, n: u32| {
            let mut pairs = Vec::new();
            for a in 0..n - 1 {
                for b in 0..n {
                    if a != b && next(4) == 0 {
                        let cap = if next(8) == 0 { INF } else { 1 + next(9) };
                        pairs.push((a, b, cap));
                    }
                }
            }
            pairs
        };
        let mut repaired = 0;
        for _ in 0..300 {
            let n = 4 + next(9) as u32;
            let first = random(&mut next, n);
            let (_, _, flow) = solve(n as usize, &first, &Flow::default());
            // Change some arcs: drop, narrow, widen, add.
            let mut second: Vec<(u32, u32, u64)> = Vec::new();
            for &(a, b, c) in &first {
                match next(5) {
                    0 => {}
                    1 => second.push((a, b, c / 2)),
                    2 => second.push((a, b, c + next(5))),
                    _ => second.push((a, b, c)),
                }
            }
            second.extend(random(&mut next, n));
            second.sort_unstable_by_key(|p| (p.0, p.1));
            second.dedup_by_key(|p| (p.0, p.1));
            second.retain(|p| p.2 > 0);
            let cold = solve(n as usize, &second, &Flow::default());
            let mut net = Network::new(n as usize, 0, n - 1, &second, flow.clone());
            if net.repair(1000).is_ok() {
                repaired += 1;
                let v = net.max_flow();
                assert_eq!(
                    (v, net.source_side()),
                    (cold.0, cold.1),
                    "{first:?} -> {second:?}"
                );
            }
        }
        assert!(repaired > 250, "only {repaired} repairs");
    }

    /// A cycle of flow the two cancellation paths both cross: taking the flow off once per
    /// crossing would drive an arc below zero.
    #[test]
    fn cancelling_through_a_cycle_of_flow() {
        // s=0 u=1 v=2 x=3 y=4 z=5 t=6; the cycle u → v → x → y → u carries flow.
        let arcs: &[(u32, u32, u64)] = &[
            (0, 1, 1),
            (1, 2, 1),
            (1, 5, 1),
            (2, 3, 1),
            (2, 6, 1),
            (3, 4, 1),
            (4, 1, 1),
            (5, 2, 1),
        ];
        let flow = Flow {
            arcs: arcs.to_vec(),
            spare: Vec::new(),
        };
        let without: Vec<(u32, u32, u64)> = arcs
            .iter()
            .copied()
            .filter(|a| (a.0, a.1) != (3, 4))
            .collect();
        let mut net = Network::new(7, 0, 6, &without, flow);
        net.repair(100).expect("repairable");
        for (i, a) in net.arcs.iter().enumerate() {
            if a.forward {
                assert!(net.flow(i) <= a.cap, "arc {i} over capacity");
            }
        }
        let v = net.max_flow();
        let cold = solve(7, &without, &Flow::default());
        assert_eq!((v, net.source_side()), (cold.0, cold.1));
    }
}
