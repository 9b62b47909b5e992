//! Deterministic mutation testing of the whole offline pipeline on stable Rust (the libFuzzer
//! targets in `fuzz/` go further): the demo cluster and corpus manifests, mangled thousands of
//! ways, must parse to objects or errors and analyse without a panic.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::path::Path;

use rampart_graph::{Options, analyze};
use rampart_model::{ParseLimits, Snapshot, parse_source};

/// SplitMix64: the randomness is an input (a fixed seed), so a failure replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Tokens that steer YAML/JSON and Kubernetes semantics into odd corners.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    "- ",
    "\n",
    "---\n",
    "&a ",
    "*a",
    "!!str ",
    "null",
    "~",
    "0",
    "-1",
    "65536",
    "4294967296",
    "\"",
    "'",
    "#",
    "0.0.0.0/0",
    "::/0",
    "10.0.0.0/33",
    "*",
    "NotIn",
    "DoesNotExist",
    "Exists",
    "kind: List\nitems:\n",
    "endPort: 1",
    "SCTP",
    "ownerReferences: [{kind: Pod, name: x}]",
    "matchExpressions: [{key: a, operator: In}]",
    "\u{feff}",
    "é",
    "\t",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut s: Vec<u8> = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(s.len() + 1);
        match rng.below(5) {
            0 => {
                let end = (at + rng.below(64)).min(s.len());
                s.drain(at..end);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                s.splice(at..at, t.bytes());
            }
            2 => {
                let end = (at + rng.below(200)).min(s.len());
                let chunk: Vec<u8> = s[at..end].to_vec();
                let to = rng.below(s.len() + 1);
                s.splice(to..to, chunk);
            }
            3 => s.truncate(at),
            _ => {
                if at < s.len() {
                    const BYTES: &[u8] = b" :{}[]-\n\"'0a";
                    s[at] = BYTES[rng.below(BYTES.len())];
                }
            }
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

fn seeds() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut out = Vec::new();
    for dir in [
        "examples/demo-cluster",
        "tests/corpora/kubernetes-goat/scenarios",
    ] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
            .collect();
        files.sort();
        for f in files.into_iter().take(8) {
            out.push((
                f.display().to_string(),
                std::fs::read_to_string(&f).unwrap(),
            ));
        }
    }
    out.push((
        "list.json".into(),
        r#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"a","labels":{"app":"p"},"ownerReferences":[{"kind":"ReplicaSet","name":"r"}]},"spec":{"hostNetwork":true,"containers":[{"name":"c","ports":[{"containerPort":80,"hostPort":80}]}]}},{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy","metadata":{"name":"n","namespace":"a"},"spec":{"podSelector":{},"ingress":[{"from":[{"ipBlock":{"cidr":"0.0.0.0/0","except":["10.0.0.0/8"]}}],"ports":[{"port":"http","endPort":90}]}]}}]}"#.into(),
    ));
    assert!(out.len() >= 9, "seed files are in the repository");
    out
}

#[test]
fn mangled_manifests_never_panic_the_pipeline() {
    let limits = ParseLimits {
        max_bytes: 1 << 20,
        max_documents: 200,
        max_list_items: 1000,
    };
    let mut rng = Rng(0x5eed);
    let seeds = seeds();
    let (mut objects, mut errors) = (0usize, 0usize);
    for round in 0..1500 {
        let (name, text) = &seeds[round % seeds.len()];
        let mangled = mutate(&mut rng, text);
        for file in [name.as_str(), "as.json"] {
            let parsed = parse_source(file, &mangled, &limits);
            objects += parsed.objects.len();
            errors += parsed.errors.len();
            for e in &parsed.errors {
                assert!(!e.message.is_empty(), "round {round}: empty error message");
            }
            if file == name {
                let analysis =
                    analyze(&Snapshot::from_objects(parsed.objects), &Options::default());
                for c in &analysis.proof.chains {
                    assert!(!c.edges.is_empty());
                }
            }
        }
    }
    // The mutations are mild enough that most documents still parse, and wild enough that some
    // do not: both paths were exercised.
    assert!(objects > 5_000, "{objects} objects");
    assert!(errors > 500, "{errors} errors");
}
