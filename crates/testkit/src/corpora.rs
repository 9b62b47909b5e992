//! The bundled corpora (`tests/corpora/`), as tests walk them.

use std::path::{Path, PathBuf};

/// Every `.yaml`/`.yml` file under `dir`, in order (none for a directory that is missing).
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

/// The YAML files of the bundled corpora that hold Kubernetes objects: Pod Security Admission's
/// fixtures, Kubernetes Goat, KubeHound's attacks and the Gatekeeper library.
pub fn manifest_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpora");
    [
        "pod-security-admission",
        "kubernetes-goat",
        "kubehound-attacks",
        "gatekeeper-library",
    ]
    .iter()
    .flat_map(|dir| yaml_files(&root.join(dir)))
    .collect()
}
