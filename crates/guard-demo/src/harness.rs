//! The detection harness: learn on benign traffic, judge held-out benign traffic and every
//! placed CRS payload with `rampart guard replay`'s code, and count.

use std::collections::BTreeMap;
use std::path::Path;

use rampart_api::GuardControl;
use rampart_guard::{Judge, har, replay};

use crate::har::{Req, document};
use crate::traffic;

/// Sizes and seeds of one run.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub clients: usize,
    pub learn: usize,
    pub holdout: usize,
}

impl Default for Plan {
    fn default() -> Self {
        Plan {
            clients: 300,
            learn: 20_000,
            holdout: 20_000,
        }
    }
}

/// The traffic of one run.
pub struct Traffic {
    pub learn: Vec<Req>,
    pub holdout: Vec<Req>,
    pub attacks: Vec<Req>,
}

pub fn traffic(corpus: &Path, plan: Plan) -> anyhow::Result<Traffic> {
    let mut r = crate::rng::Rng::new(7);
    let clients = traffic::clients(&mut r, plan.clients);
    let payloads = crate::crs::load(corpus)?;
    Ok(Traffic {
        learn: traffic::benign(1, plan.learn, &clients),
        holdout: traffic::benign(2, plan.holdout, &clients),
        attacks: traffic::attacks(3, &payloads, &clients),
    })
}

impl Report {
    /// Counts one tagged request: `no_fire` apart, attacks overall, at PL1, by family and by
    /// location. Returns whether it was an attack.
    pub fn count_attack(&mut self, tag: &crate::har::Tag, flagged: bool) -> bool {
        if tag.kind == "no_fire" {
            self.no_fire.add(flagged);
            return false;
        }
        self.attacks.add(flagged);
        if tag.paranoia == 1 {
            self.attacks_pl1.add(flagged);
        }
        self.by_family
            .entry(tag.family.clone())
            .or_default()
            .add(flagged);
        self.by_location
            .entry(tag.location.to_string())
            .or_default()
            .add(flagged);
        true
    }
}

/// Counts: judged and flagged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    pub total: usize,
    pub flagged: usize,
}

impl Count {
    pub fn add(&mut self, flagged: bool) {
        self.total += 1;
        self.flagged += usize::from(flagged);
    }
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.flagged as f64 / self.total as f64
        }
    }
}

/// The harness's result.
#[derive(Debug, Default)]
pub struct Report {
    pub routes: usize,
    pub benign: Count,
    /// Held-out benign requests that alerted, with their reasons (for tuning).
    pub false_positives: Vec<String>,
    pub attacks: Count,
    pub attacks_pl1: Count,
    pub by_family: BTreeMap<String, Count>,
    pub by_location: BTreeMap<String, Count>,
    pub no_fire: Count,
    pub by_reason: BTreeMap<String, usize>,
}

fn records(reqs: &[Req]) -> anyhow::Result<Vec<har::Recorded>> {
    let doc = serde_json::to_vec(&document(reqs, "shop.example"))?;
    Ok(har::read(&doc, 1 << 20)?)
}

/// Learns, judges, counts.
pub fn run(t: &Traffic, control: &GuardControl) -> anyhow::Result<Report> {
    let (criteria, learned) = replay::learn(&records(&t.learn)?, control);
    let judge = Judge::new(Some(&criteria), None);
    let mut rep = Report {
        routes: learned.routes,
        ..Report::default()
    };
    for (i, r) in records(&t.holdout)?.iter().enumerate() {
        let j = replay::judge(&judge, i, r);
        let flagged = j.decision != "pass";
        rep.benign.add(flagged);
        if flagged && rep.false_positives.len() < 50 {
            let why: Vec<String> = j
                .reasons
                .iter()
                .map(|x| format!("{}: {}", x.location, x.reason))
                .collect();
            rep.false_positives
                .push(format!("{} {} — {}", j.method, j.url, why.join("; ")));
        }
    }
    for (i, (r, req)) in records(&t.attacks)?.iter().zip(&t.attacks).enumerate() {
        let Some(tag) = &req.tag else { continue };
        let j = replay::judge(&judge, i, r);
        let flagged = j.decision != "pass";
        if !rep.count_attack(tag, flagged) {
            continue;
        }
        if let Some(first) = j.reasons.first() {
            let key = first.reason.split(':').next().unwrap_or("").to_string();
            *rep.by_reason.entry(key).or_default() += 1;
        }
    }
    Ok(rep)
}

fn pct(c: &Count) -> String {
    format!("{:>6.2} %  ({}/{})", c.rate() * 100.0, c.flagged, c.total)
}

/// The report as text tables.
pub fn render(rep: &Report) -> String {
    let mut s = String::new();
    s.push_str(&format!("learned routes: {}\n", rep.routes));
    s.push_str(&format!(
        "false positives, held-out benign: {}\n",
        pct(&rep.benign)
    ));
    s.push_str(&format!(
        "attacks detected:                 {}\n",
        pct(&rep.attacks)
    ));
    s.push_str(&format!(
        "  of them PL1 rules:              {}\n",
        pct(&rep.attacks_pl1)
    ));
    s.push_str(&format!(
        "no_fire (hard negatives) flagged: {}\n",
        pct(&rep.no_fire)
    ));
    s.push_str("\nby CRS family:\n");
    for (f, c) in &rep.by_family {
        s.push_str(&format!("  {f:<6} {}\n", pct(c)));
    }
    s.push_str("\nby location:\n");
    for (l, c) in &rep.by_location {
        let free = if traffic::FREE_TEXT.contains(&l.as_str()) {
            " (free text)"
        } else {
            ""
        };
        s.push_str(&format!("  {:<26} {}{free}\n", l, pct(c)));
    }
    s.push_str("\nfirst reason of detected attacks:\n");
    let mut reasons: Vec<(&String, &usize)> = rep.by_reason.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1));
    for (r, n) in reasons {
        s.push_str(&format!("  {n:>7}  {r}\n"));
    }
    s
}

/// Two reports side by side: the guard's and a peer's (detection, false positives, by family
/// and by location).
pub fn render_side_by_side(
    guard: &Report,
    peer_name: &str,
    peer: &Report,
    peer_other: &Count,
) -> String {
    let cell = |c: &Count| format!("{:>6.2} % ({}/{})", c.rate() * 100.0, c.flagged, c.total);
    let mut s = String::new();
    s.push_str(&format!(
        "{:<28} {:<28} {}\n",
        "", "rampart guard", peer_name
    ));
    s.push_str(&format!(
        "{:<28} {:<28} {}\n",
        "false positives (held-out)",
        cell(&guard.benign),
        cell(&peer.benign)
    ));
    s.push_str(&format!(
        "{:<28} {:<28} {}\n",
        "attacks detected",
        cell(&guard.attacks),
        cell(&peer.attacks)
    ));
    s.push_str(&format!(
        "{:<28} {:<28} {}\n",
        "  PL1 rules' attacks",
        cell(&guard.attacks_pl1),
        cell(&peer.attacks_pl1)
    ));
    s.push_str(&format!(
        "{:<28} {:<28} {}\n",
        "no_fire (hard negatives)",
        cell(&guard.no_fire),
        cell(&peer.no_fire)
    ));
    for (f, c) in &guard.by_family {
        let p = peer.by_family.get(f).copied().unwrap_or_default();
        s.push_str(&format!(
            "{:<28} {:<28} {}\n",
            format!("  family {f}"),
            cell(c),
            cell(&p)
        ));
    }
    for (l, c) in &guard.by_location {
        let p = peer.by_location.get(l).copied().unwrap_or_default();
        s.push_str(&format!(
            "{:<28} {:<28} {}\n",
            format!("  {l}"),
            cell(c),
            cell(&p)
        ));
    }
    s.push_str(&format!(
        "{peer_name}: {} requests answered with another status (400/413/5xx), counted apart\n",
        peer_other.total
    ));
    s
}
