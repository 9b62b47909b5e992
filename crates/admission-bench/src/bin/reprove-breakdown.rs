//! Where a re-proof's time goes: `cargo run --release -p rampart-admission-bench --bin
//! reprove-breakdown [PODS]` — the synthetic cluster, one pod's label changed, then analysis,
//! threat diff and findings rendering timed separately (medians of 5).

use std::time::{Duration, Instant};

use rampart_graph::diff::diff;
use rampart_graph::{Options, analyze};
use rampart_model::{Change, Kind, Object};
use rampart_synth::{Config, snapshot};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let pods: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let mut s = snapshot(&Config::with_pods(pods));
    let before = analyze(&s, &Options::default());
    let (mut ta, mut td) = (Vec::new(), Vec::new());
    for i in 0..5 {
        let mut pod = s.of_kind(Kind::Pod).next().cloned().expect("a pod");
        if let Object::Pod(p) = &mut pod.object {
            p.metadata.labels.insert("bench".into(), format!("v{i}"));
        }
        s.apply(Change::Upsert(Box::new(pod)));
        let t = Instant::now();
        let after = analyze(&s, &Options::default());
        ta.push(t.elapsed());
        let t = Instant::now();
        let d = diff(&before, &after);
        td.push(t.elapsed());
        std::hint::black_box(d);
    }
    println!(
        "{pods} pods: analyze {:?}, diff {:?}",
        median(ta),
        median(td)
    );
}
