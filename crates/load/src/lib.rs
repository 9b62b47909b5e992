//! The file-system adapter in front of [`rampart_model::parse_source`]: walks files and
//! directories (recursively, in sorted order so results are deterministic), reads `.yaml`,
//! `.yml` and `.json` files, enforces a per-file size cap, and collects every object into one
//! [`Snapshot`]. Per-document errors are collected, never fatal.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rampart_model::{
    LoadError, Located, Object, ParseLimits, RawDocument, Snapshot, Source, parse_source,
    raw_documents,
};

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
/// `.yaml`, `.yml` and `.json`, sorted.
pub fn collect_files(inputs: &[PathBuf], errors: &mut Vec<LoadError>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for input in inputs {
        walk(input, true, &mut out, errors);
    }
    out
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

fn walk(path: &Path, explicit: bool, out: &mut Vec<PathBuf>, errors: &mut Vec<LoadError>) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return errors.push(io_error(path, format!("cannot read: {e}"))),
    };
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => return errors.push(io_error(path, format!("cannot list directory: {e}"))),
        };
        entries.sort();
        for e in entries {
            let hidden = e
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if !hidden {
                walk(&e, false, out, errors);
            }
        }
    } else if explicit
        || matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml" | "json")
        )
    {
        out.push(path.to_path_buf());
    }
}

/// Reads one file as text, enforcing the size cap and UTF-8.
fn read_text(f: &Path, options: &LoadOptions) -> Result<String, LoadError> {
    let size = std::fs::metadata(f).map(|m| m.len()).unwrap_or(0);
    if size > options.limits.max_bytes as u64 {
        return Err(io_error(
            f,
            format!(
                "file is {size} bytes, over the limit of {} bytes (raise --max-file-size)",
                options.limits.max_bytes
            ),
        ));
    }
    let bytes = std::fs::read(f).map_err(|e| io_error(f, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        io_error(
            f,
            format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
        )
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
