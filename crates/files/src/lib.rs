//! The file-system adapter in front of [`rampart_model::parse_source`]: walks files and
//! directories (recursively, in sorted order so results are deterministic), reads `.yaml`,
//! `.yml` and `.json` files, enforces a per-file size cap, and collects every object into one
//! [`Snapshot`]. Per-document errors are collected, never fatal.
//!
//! Inputs are untrusted, and so is their layout:
//!
//! * only regular files are read. A FIFO, socket or device found in a directory is skipped
//!   (and reported when its name says it is a manifest); one named explicitly is refused, since
//!   opening a FIFO can block forever and a device can stream forever;
//! * every read is capped at [`ParseLimits::max_bytes`] while it happens, not only by the size
//!   the file system reports (which is 0 for devices and `/proc` files);
//! * each directory is walked once and each file read once, by device and inode, so symlink
//!   loops (`ln -s . d/self`) and hard links neither multiply the work nor the objects;
//! * during a directory walk, a symlink whose target lies outside that (canonicalized) input
//!   directory is not followed and is reported; a path named explicitly is taken as given.
//!
//! [`read_bounded`] and [`read_text_bounded`] are the same reader for single files named by
//! flags (policy files, intel feeds, mappings).

mod read;

use std::collections::{BTreeMap, HashSet};
use std::fs::Metadata;
use std::path::{Path, PathBuf};

use rampart_model::{
    LoadError, Located, Object, ParseLimits, RawDocument, Snapshot, Source, parse_source,
    raw_documents,
};

pub use read::{
    ReadError, decode_text, open_regular, read_bounded, read_capped, read_text_bounded,
};

/// Largest secret file read (a token): a token is a line, so anything larger is a mistake.
pub const MAX_SECRET_FILE_BYTES: u64 = 64 * 1024;

/// Largest configuration file read (a mapping, a Pod Security configuration).
pub const MAX_CONFIG_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// What was loaded.
#[derive(Debug, Default)]
pub struct Loaded {
    /// All objects, later definitions winning.
    pub snapshot: Snapshot,
    /// Problems, per file and document.
    pub errors: Vec<LoadError>,
    /// Unmodelled kinds and their counts.
    pub ignored: BTreeMap<String, usize>,
    /// Files read.
    pub files: Vec<PathBuf>,
    /// Objects parsed (before de-duplication).
    pub objects: usize,
}

/// Options for loading.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadOptions {
    /// Per-file limits.
    pub limits: ParseLimits,
}

/// Expands the inputs to the files to read: files as given, directories walked recursively for
/// regular `.yaml`, `.yml` and `.json` files, sorted. A file reached twice (named twice, through
/// a symlink or a hard link) is listed once.
pub fn collect_files(inputs: &[PathBuf], errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    let mut walk = Walk::default();
    for input in inputs {
        walk.input(input, errors);
    }
    walk.out
}

fn io_error(path: &Path, message: String) -> LoadError {
    LoadError {
        location: Source {
            file: path.display().to_string().into(),
            doc: 0,
            line: 0,
            item: None,
        },
        message,
    }
}

/// Where a file or directory lives on disk, whatever path reached it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Identity {
    /// Device and inode.
    #[cfg(unix)]
    Inode(u64, u64),
    /// The canonical path, where there are no inodes to compare.
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

#[cfg(unix)]
fn identity(_path: &Path, meta: &Metadata) -> Identity {
    use std::os::unix::fs::MetadataExt;
    Identity::Inode(meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(path: &Path, _meta: &Metadata) -> Identity {
    Identity::Path(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
}

fn is_manifest_name(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}

/// The state of one expansion: what was found, and what was already seen, across all inputs.
#[derive(Default)]
struct Walk {
    out: Vec<PathBuf>,
    dirs: HashSet<Identity>,
    files: HashSet<Identity>,
}

impl Walk {
    /// One path as given by the user: followed wherever it leads.
    fn input(&mut self, path: &Path, errors: &mut Vec<LoadError>) {
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => return errors.push(io_error(path, format!("cannot read: {e}"))),
        };
        if meta.is_dir() {
            let root = match std::fs::canonicalize(path) {
                Ok(r) => r,
                Err(e) => return errors.push(io_error(path, format!("cannot read: {e}"))),
            };
            self.dir(path, &meta, &root, errors);
        } else if self.files.insert(identity(path, &meta)) {
            // Named explicitly, so read whatever its name; a non-regular file is refused by the
            // reader, with the reason.
            self.out.push(path.to_path_buf());
        }
    }

    /// Walks a directory given as input, depth first in sorted order. An explicit stack, not
    /// recursion: nesting is bounded only by the file system.
    fn dir(&mut self, path: &Path, meta: &Metadata, root: &Path, errors: &mut Vec<LoadError>) {
        if !self.dirs.insert(identity(path, meta)) {
            return;
        }
        let mut stack = Vec::new();
        self.list(path, &mut stack, errors);
        while let Some(entry) = stack.pop() {
            let Some(meta) = self.entry_metadata(&entry, root, errors) else {
                continue;
            };
            if meta.is_dir() {
                // A directory reached again (a symlink to `.` or to a sibling) is walked once.
                if self.dirs.insert(identity(&entry, &meta)) {
                    self.list(&entry, &mut stack, errors);
                }
            } else if is_manifest_name(&entry) {
                if !meta.is_file() {
                    errors.push(io_error(
                        &entry,
                        format!("not a regular file (a {}); skipped", read::file_kind(&meta)),
                    ));
                } else if self.files.insert(identity(&entry, &meta)) {
                    self.out.push(entry);
                }
            }
        }
    }

    /// Pushes a directory's visible entries onto the stack so that they pop in sorted order.
    fn list(&self, dir: &Path, stack: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| !is_hidden(p))
                .collect(),
            Err(e) => return errors.push(io_error(dir, format!("cannot list directory: {e}"))),
        };
        entries.sort_by(|a, b| b.cmp(a));
        stack.extend(entries);
    }

    /// The metadata of an entry found in a walk, following a symlink only when its target is
    /// inside `root`: a link out of the tree would read files the user did not point at.
    fn entry_metadata(
        &self,
        entry: &Path,
        root: &Path,
        errors: &mut Vec<LoadError>,
    ) -> Option<Metadata> {
        let meta = match std::fs::symlink_metadata(entry) {
            Ok(m) => m,
            Err(e) => {
                errors.push(io_error(entry, format!("cannot read: {e}")));
                return None;
            }
        };
        if !meta.file_type().is_symlink() {
            return Some(meta);
        }
        let target = match std::fs::canonicalize(entry) {
            Ok(t) => t,
            Err(e) => {
                errors.push(io_error(entry, format!("cannot read: {e}")));
                return None;
            }
        };
        let meta = match std::fs::metadata(&target) {
            Ok(m) => m,
            Err(e) => {
                errors.push(io_error(entry, format!("cannot read: {e}")));
                return None;
            }
        };
        if !target.starts_with(root) {
            // Reported only when following it could have read manifests; a link to, say, a
            // shared README outside the tree is skipped silently like the README would be.
            if meta.is_dir() || is_manifest_name(entry) {
                errors.push(io_error(
                    entry,
                    "symlink leads outside the input directory, not followed (name its target \
                     explicitly to read it)"
                        .into(),
                ));
            }
            return None;
        }
        Some(meta)
    }
}

/// Reads one file as text, enforcing the size cap (on the read itself) and UTF-8.
fn read_text(f: &Path, options: &LoadOptions) -> Result<String, LoadError> {
    let limit = options.limits.max_bytes as u64;
    read_text_bounded(f, limit).map_err(|e| {
        let hint = match e {
            ReadError::TooLarge { .. } => " (raise --max-file-size)",
            _ => "",
        };
        io_error(f, format!("{e}{hint}"))
    })
}

/// Reads every input into one snapshot.
pub fn load_paths(inputs: &[PathBuf], options: &LoadOptions) -> Loaded {
    let mut loaded = Loaded::default();
    let files = collect_files(inputs, &mut loaded.errors);
    let mut all: Vec<Located<Object>> = Vec::new();
    for f in &files {
        let text = match read_text(f, options) {
            Ok(t) => t,
            Err(e) => {
                loaded.errors.push(e);
                continue;
            }
        };
        let parsed = parse_source(&f.display().to_string(), &text, &options.limits);
        loaded.errors.extend(parsed.errors);
        for (k, n) in parsed.ignored {
            *loaded.ignored.entry(k).or_default() += n;
        }
        all.extend(parsed.objects);
    }
    loaded.objects = all.len();
    loaded.snapshot = Snapshot::from_objects(all);
    loaded.files = files;
    loaded
}

/// Every input as whole JSON objects (for admission checks, which need every field).
pub fn load_raw(inputs: &[PathBuf], options: &LoadOptions) -> (Vec<RawDocument>, Vec<LoadError>) {
    let mut errors = Vec::new();
    let mut docs = Vec::new();
    for f in collect_files(inputs, &mut errors) {
        match read_text(&f, options) {
            Ok(text) => {
                let (d, e) = raw_documents(&f.display().to_string(), &text, &options.limits);
                docs.extend(d);
                errors.extend(e);
            }
            Err(e) => errors.push(e),
        }
    }
    (docs, errors)
}
