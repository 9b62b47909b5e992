//! `rampart guard explain` as a user runs it: a Guardian's criteria in words, clear errors.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::process::{Command, Output};

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .output()
        .unwrap()
}

/// A directory of this test's own, removed when dropped.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("rampart-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

#[test]
fn explain_says_what_a_guardian_admits_and_refuses_what_it_cannot_read() {
    let dir = TempDir::new("guard-explain");
    let good = write(
        dir.path(),
        "g.yaml",
        r#"apiVersion: rampart.dev/v1alpha1
kind: Guardian
metadata: {name: shop-api, namespace: shop}
spec:
  control: {mode: block, minSessions: 5, minClients: 3}
  configured:
    routes:
    - method: GET
      template: /items/{int}
      values:
        query.q: {kinds: [string], specials: "-'", length: {p50: 10, p99: 40, max: 80}, letters: {p50: 8, p99: 30, max: 64}}
status:
  samples: 1200
  learned:
    routes:
    - method: POST
      template: "/orders\u001b[31m"
      statuses: [201]
      values:
        json.qty: {kinds: [number]}
"#,
    );
    let out = rampart(&["guard", "explain", &good]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for want in [
        "Guardian shop-api: mode block, learning (a shape is normal after 5 sessions from 3 clients)",
        "configured (by hand): 1 route\n",
        "GET /items/{int}",
        "  `query.q`: text of letters; punctuation `-` `'`; up to 80 characters (median 10, 99 % within 40)",
        "learned: 1 route\n",
        "; answers 201",
        "  `json.qty`: a number",
        "learned from 1200 requests",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    assert!(
        !text.contains('\u{1b}'),
        "a terminal escape from the file reached the terminal"
    );

    let old = write(
        dir.path(),
        "old.yaml",
        "kind: Guardian\nmetadata: {name: a}\nspec:\n  learned: {routes: []}\n",
    );
    let out = rampart(&["guard", "explain", &old]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("status.learned"));

    let out = rampart(&[
        "guard",
        "explain",
        &dir.path().join("missing.yaml").to_string_lossy(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.yaml"));
}
