//! Hostile input trees: FIFOs, devices, sockets, symlink loops, links out of the tree, hard
//! links, files whose reported size lies, UTF-16, and secrets in malformed documents. Each case
//! must finish (inside a deadline, so a regression fails instead of hanging the suite) and say
//! what it skipped.
#![cfg(unix)]
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use rampart_files::{LoadOptions, Loaded, collect_files, load_paths, load_raw};
use rampart_model::ParseLimits;

const NAMESPACE: &str = "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n";

/// A fresh directory under the system temp dir, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "rampart-files-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn path(&self) -> &Path {
        &self.0
    }
    fn join(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn write(&self, rel: &str, bytes: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn mkfifo(&self, rel: &str) -> PathBuf {
        let p = self.join(rel);
        let status = std::process::Command::new("mkfifo")
            .arg(&p)
            .status()
            .unwrap();
        assert!(status.success(), "mkfifo {}", p.display());
        p
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `f` on its own thread and fails the test if it has not returned within the deadline (a
/// thread blocked on a FIFO cannot be cancelled, but it no longer hangs the suite).
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{what} did not finish within 30 s"))
}

fn load(paths: Vec<PathBuf>, max_bytes: usize) -> Loaded {
    let options = LoadOptions {
        limits: ParseLimits {
            max_bytes,
            ..ParseLimits::default()
        },
    };
    within("load_paths", move || load_paths(&paths, &options))
}

fn messages(loaded: &Loaded) -> Vec<String> {
    loaded.errors.iter().map(ToString::to_string).collect()
}

#[test]
fn a_fifo_or_socket_in_a_directory_is_skipped_not_waited_on() {
    let s = Scratch::new("fifo");
    s.write("d/ok.yaml", NAMESPACE);
    s.mkfifo("d/x.yaml");
    s.mkfifo("d/not-a-manifest");
    let _socket = std::os::unix::net::UnixListener::bind(s.join("d/s.json")).unwrap();

    let loaded = load(vec![s.join("d")], 1 << 20);
    assert_eq!(loaded.files, vec![s.join("d/ok.yaml")]);
    assert_eq!(loaded.snapshot.len(), 1);
    let m = messages(&loaded);
    assert_eq!(m.len(), 2, "{m:?}");
    assert!(
        m[0].contains("s.json") && m[0].contains("not a regular file (a socket); skipped"),
        "{m:?}"
    );
    assert!(
        m[1].contains("x.yaml") && m[1].contains("not a regular file (a FIFO); skipped"),
        "{m:?}"
    );

    // The admission-check reader shares the walk.
    let dir = s.join("d");
    let (docs, errors) = within("load_raw", move || {
        load_raw(&[dir], &LoadOptions::default())
    });
    assert_eq!((docs.len(), errors.len()), (1, 2));
}

#[test]
fn an_explicit_fifo_or_device_is_refused_not_read() {
    let s = Scratch::new("explicit-fifo");
    let fifo = s.mkfifo("x.yaml");
    let loaded = load(vec![fifo], 1000);
    let m = messages(&loaded);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].contains("not a regular file (a FIFO)"), "{m:?}");

    // `/dev/zero` reports size 0 and never ends: refused, not read until memory runs out.
    let loaded = load(vec!["/dev/zero".into()], 1000);
    let m = messages(&loaded);
    assert!(
        m.len() == 1 && m[0].contains("not a regular file (a character device)"),
        "{m:?}"
    );

    // Whatever the test harness's stdin is (a terminal, a pipe, /dev/null), it does not hang.
    let _ = load(vec!["/dev/stdin".into()], 1000);
}

#[cfg(target_os = "linux")]
#[test]
fn the_size_cap_holds_when_the_reported_size_lies() {
    // A `/proc` file is regular but reports size 0; the cap must hold on the read itself.
    let loaded = load(vec!["/proc/self/status".into()], 100);
    let m = messages(&loaded);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(
        m[0].contains("over the limit of 100 bytes (raise --max-file-size)"),
        "{m:?}"
    );
    // The size the file system does report is still checked before reading.
    let s = Scratch::new("big");
    let big = s.write("big.yaml", "#".repeat(101));
    let m = messages(&load(vec![big], 100));
    assert!(
        m.len() == 1 && m[0].contains("file is 101 bytes, over the limit of 100 bytes"),
        "{m:?}"
    );
}

#[test]
fn symlinks_to_the_directory_itself_are_walked_once() {
    let s = Scratch::new("loops");
    s.write("d/x.yaml", NAMESPACE);
    s.write(
        "d/sub/y.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n",
    );
    // Two links to `.` made the walk exponential (~2^40 paths); a link to `..` from below is
    // the same loop one level down.
    symlink(".", s.join("d/a")).unwrap();
    symlink(".", s.join("d/b")).unwrap();
    symlink("..", s.join("d/sub/up")).unwrap();

    let loaded = load(vec![s.join("d")], 1 << 20);
    assert_eq!(messages(&loaded), Vec::<String>::new());
    assert_eq!(
        loaded.files,
        vec![s.join("d/sub/y.yaml"), s.join("d/x.yaml")]
    );
    // Each file read once: before, one `ln -s . d/self` read every file 41 times.
    assert_eq!(loaded.objects, 2);
}

#[test]
fn a_file_reached_twice_is_read_once() {
    let s = Scratch::new("dupes");
    let x = s.write("d/x.yaml", NAMESPACE);
    std::fs::hard_link(&x, s.join("d/h.yaml")).unwrap();
    symlink("x.yaml", s.join("d/l.yaml")).unwrap();
    let loaded = load(vec![s.join("d"), x.clone(), x], 1 << 20);
    assert_eq!(messages(&loaded), Vec::<String>::new());
    assert_eq!(loaded.files, vec![s.join("d/h.yaml")]);
    assert_eq!(loaded.objects, 1);
}

#[test]
fn symlinks_out_of_the_input_directory_are_not_followed() {
    let s = Scratch::new("escape");
    s.write("outside/secret.yaml", NAMESPACE);
    s.write("outside/README", "not a manifest");
    s.write(
        "d/in.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: in}\n",
    );
    symlink(s.join("outside"), s.join("d/dir")).unwrap();
    symlink("../outside/secret.yaml", s.join("d/file.yaml")).unwrap();
    // A link out of the tree that could not have been a manifest is skipped silently.
    symlink("../outside/README", s.join("d/README")).unwrap();

    let loaded = load(vec![s.join("d")], 1 << 20);
    assert_eq!(loaded.files, vec![s.join("d/in.yaml")]);
    assert_eq!(loaded.objects, 1);
    let m = messages(&loaded);
    assert_eq!(m.len(), 2, "{m:?}");
    for (msg, name) in m.iter().zip(["d/dir", "d/file.yaml"]) {
        assert!(
            msg.contains(name)
                && msg.contains("symlink leads outside the input directory, not followed"),
            "{m:?}"
        );
    }

    // A path named explicitly is taken as given, link or not.
    let loaded = load(vec![s.join("d/file.yaml"), s.join("d/dir")], 1 << 20);
    assert_eq!(messages(&loaded), Vec::<String>::new());
    assert_eq!(
        loaded.objects, 1,
        "the same file through two links is read once"
    );
}

#[test]
fn an_input_directory_named_through_a_symlink_keeps_its_inner_links() {
    let s = Scratch::new("alias");
    s.write("real/a/x.yaml", NAMESPACE);
    symlink("a", s.join("real/b")).unwrap();
    symlink("a/x.yaml", s.join("real/y.yaml")).unwrap();
    symlink(s.join("real"), s.join("alias")).unwrap();
    let loaded = load(vec![s.join("alias")], 1 << 20);
    assert_eq!(messages(&loaded), Vec::<String>::new());
    assert_eq!(loaded.files, vec![s.join("alias/a/x.yaml")]);
}

#[test]
fn utf16_is_named_and_a_utf8_bom_is_accepted() {
    let s = Scratch::new("utf16");
    let utf16: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(NAMESPACE.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    s.write("d/a-utf16.yaml", utf16);
    s.write(
        "d/b-utf16-no-bom.yaml",
        NAMESPACE
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>(),
    );
    s.write("d/c-bom.yaml", format!("\u{feff}{NAMESPACE}"));
    s.write("d/d-latin1.yaml", b"kind: Namespace # caf\xE9\n");
    let loaded = load(vec![s.join("d")], 1 << 20);
    let m = messages(&loaded);
    assert_eq!(m.len(), 3, "{m:?}");
    for msg in &m[..2] {
        assert!(
            msg.contains("looks like UTF-16; convert to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)"),
            "{m:?}"
        );
    }
    assert!(m[2].contains("not UTF-8 text (byte 21)"), "{m:?}");
    assert_eq!(loaded.objects, 1, "the BOM-prefixed UTF-8 file is read");
}

#[test]
fn malformed_documents_do_not_echo_secrets() {
    let s = Scratch::new("secrets");
    let jwt = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJl";
    s.write(
        "d/a.yaml",
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers: {jwt}\n"),
    );
    s.write(
        "d/b.json",
        format!(
            "{{\"apiVersion\":\"v1\",\"kind\":\"ServiceAccount\",\"metadata\":{{\"name\":\"s\",\"labels\":\"{jwt}\"}}}}"
        ),
    );
    s.write("d/c.yaml", format!("apiVersion: v1\nkind: {jwt}\n"));
    let loaded = load(vec![s.join("d")], 1 << 20);
    let shown = format!("{:?} {:?}", messages(&loaded), loaded.ignored);
    assert_eq!(loaded.errors.len(), 2, "{shown}");
    assert_eq!(loaded.ignored.len(), 1, "{shown}");
    for part in jwt.split('.') {
        assert!(!shown.contains(&part[4..]), "{part} in {shown}");
    }
}

#[test]
fn a_yaml_list_whose_items_is_not_a_list_is_an_error_like_json() {
    let s = Scratch::new("list");
    s.write(
        "d/a.yaml",
        "apiVersion: v1\nkind: List\nitems: {kind: Pod}\n",
    );
    s.write(
        "d/b.json",
        "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":7}",
    );
    let loaded = load(vec![s.join("d")], 1 << 20);
    let m = messages(&loaded);
    assert_eq!(m.len(), 2, "{m:?}");
    for msg in &m {
        assert!(
            msg.ends_with("the `items` of a List must be a list"),
            "{m:?}"
        );
    }
    assert!(loaded.ignored.is_empty(), "not silently 'not modelled'");
}

#[test]
fn collect_files_keeps_sorted_depth_first_order() {
    let s = Scratch::new("order");
    for f in [
        "b/2.yaml",
        "b/1.yml",
        "a.json",
        "c.yaml",
        ".hidden/x.yaml",
        "b/.h.yaml",
        "z.txt",
    ] {
        s.write(f, NAMESPACE);
    }
    let mut errors = Vec::new();
    let files = collect_files(&[s.path().to_path_buf()], &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        files,
        vec![
            s.join("a.json"),
            s.join("b/1.yml"),
            s.join("b/2.yaml"),
            s.join("c.yaml")
        ]
    );
}
