//! Bounded reads of files named by users.
//!
//! A path on the command line or found in an input directory can be anything: a FIFO (opening
//! one blocks until a writer appears, possibly forever), a device (`/dev/zero` never ends), a
//! socket, or a regular file that grows while it is read. [`read_bounded`] reads only regular
//! files and never more than its limit, so no input can hang rampart or exhaust its memory.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::Path;

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The operating system refused (missing file, permissions, …).
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// A directory, FIFO, socket or device: only regular files are read.
    #[error("not a regular file (a {0}); only regular files are read")]
    NotRegular(&'static str),
    /// More bytes than the limit. `size` is known when the file system said so up front; a file
    /// that grows while it is read is cut at the limit instead.
    #[error("{}", too_large(*.size, *.limit))]
    TooLarge {
        /// The file's size, when known.
        size: Option<u64>,
        /// The limit, in bytes.
        limit: u64,
    },
    /// UTF-16 (or UTF-32) text, which YAML allows but rampart does not read.
    #[error("looks like UTF-16; convert to UTF-8 (e.g. iconv -f UTF-16 -t UTF-8)")]
    Utf16,
    /// Bytes that are not UTF-8; the offset of the first bad byte.
    #[error("not UTF-8 text (byte {0})")]
    NotUtf8(usize),
}

fn too_large(size: Option<u64>, limit: u64) -> String {
    match size {
        Some(size) => format!("file is {size} bytes, over the limit of {limit} bytes"),
        None => format!("file is over the limit of {limit} bytes"),
    }
}

/// Reads the regular file at `path`, at most `max_bytes` of it.
///
/// Symlinks are followed (a path given explicitly is taken as given). Anything but a regular
/// file is refused before it is opened, so a FIFO cannot block the open and a device cannot
/// stream forever; the opened file is checked again, so a path swapped for a device between the
/// check and the open is refused too. The read itself stops one byte past the limit, so a file
/// whose reported size is wrong (`/proc`, a file still being written) is still bounded.
///
/// Not covered: a regular file swapped for a FIFO in the instant between the check and the
/// open blocks that open (refusing it would need a non-blocking open, which `std` does not
/// offer portably). That needs write access to the input directory and exact timing.
pub fn read_bounded(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReadError> {
    let before = std::fs::metadata(path)?;
    check_regular(&before)?;
    check_size(&before, max_bytes)?;
    let file = File::open(path)?;
    let opened = file.metadata()?;
    check_regular(&opened)?;
    check_size(&opened, max_bytes)?;
    read_capped(file, opened.len(), max_bytes)
}

/// Opens the regular file at `path` for streaming (a flow capture of any size is read a line
/// at a time by its parser, which bounds each line): anything but a regular file is refused,
/// before and after the open, as [`read_bounded`] does.
pub fn open_regular(path: &Path) -> Result<File, ReadError> {
    check_regular(&std::fs::metadata(path)?)?;
    let file = File::open(path)?;
    check_regular(&file.metadata()?)?;
    Ok(file)
}

/// Reads the regular file at `path` as text: [`read_bounded`], then [`decode_text`].
pub fn read_text_bounded(path: &Path, max_bytes: u64) -> Result<String, ReadError> {
    decode_text(read_bounded(path, max_bytes)?)
}

/// Reads at most `max_bytes` from `reader`; one byte more is [`ReadError::TooLarge`].
/// `size_hint` only sizes the first allocation.
pub fn read_capped(
    reader: impl Read,
    size_hint: u64,
    max_bytes: u64,
) -> Result<Vec<u8>, ReadError> {
    let capacity = usize::try_from(size_hint.min(max_bytes)).unwrap_or(0);
    let mut buf = Vec::with_capacity(capacity);
    reader
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut buf)?;
    if buf.len() as u64 > max_bytes {
        return Err(ReadError::TooLarge {
            size: None,
            limit: max_bytes,
        });
    }
    Ok(buf)
}

/// Bytes → text: a UTF-8 byte-order mark is dropped, UTF-16 is named as such (instead of a bare
/// "not UTF-8 (byte 0)"), anything else must be UTF-8.
pub fn decode_text(mut bytes: Vec<u8>) -> Result<String, ReadError> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    if looks_like_utf16(&bytes) {
        return Err(ReadError::Utf16);
    }
    String::from_utf8(bytes).map_err(|e| ReadError::NotUtf8(e.utf8_error().valid_up_to()))
}

/// A UTF-16 byte-order mark (also the start of a UTF-32 one), or the pattern of mostly-ASCII
/// UTF-16 without one: a zero byte in the same half of (nearly) every code unit. Manifests are
/// mostly ASCII, and NUL bytes never occur in UTF-8 text, so a quarter of slack covers the odd
/// non-Latin character without mistaking real UTF-8 for UTF-16.
fn looks_like_utf16(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    let sample = &bytes[..bytes.len().min(512)];
    let units = sample.len() / 2;
    if units == 0 {
        return false;
    }
    let (mut high_zero, mut low_zero) = (0usize, 0usize);
    for unit in sample.chunks_exact(2) {
        match (unit[0], unit[1]) {
            (0, 0) => {}
            (_, 0) => high_zero += 1,
            (0, _) => low_zero += 1,
            _ => {}
        }
    }
    high_zero * 4 >= units * 3 || low_zero * 4 >= units * 3
}

fn check_regular(meta: &Metadata) -> Result<(), ReadError> {
    if meta.is_file() {
        Ok(())
    } else {
        Err(ReadError::NotRegular(file_kind(meta)))
    }
}

fn check_size(meta: &Metadata, max_bytes: u64) -> Result<(), ReadError> {
    if meta.len() > max_bytes {
        return Err(ReadError::TooLarge {
            size: Some(meta.len()),
            limit: max_bytes,
        });
    }
    Ok(())
}

/// What a non-regular file is, in words.
pub(crate) fn file_kind(meta: &Metadata) -> &'static str {
    let t = meta.file_type();
    if t.is_dir() {
        return "directory";
    }
    if t.is_symlink() {
        return "symlink";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_socket() {
            return "socket";
        }
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
    }
    if t.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endless_reader_is_cut_at_the_limit() {
        let e = read_capped(std::io::repeat(b'a'), 0, 1000);
        assert!(
            matches!(
                e,
                Err(ReadError::TooLarge {
                    size: None,
                    limit: 1000
                })
            ),
            "{e:?}"
        );
        let ok = read_capped(&b"abc"[..], 3, 3);
        assert_eq!(ok.ok(), Some(b"abc".to_vec()));
    }

    #[test]
    fn utf16_is_named_and_a_utf8_bom_is_dropped() {
        let utf16le: Vec<u8> = "\u{feff}kind: Pod\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let utf16be_no_bom: Vec<u8> = "kind: Pod\n"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect();
        let utf16le_no_bom: Vec<u8> = "kind: Pod # ünïcödé\n"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        for bytes in [utf16le, utf16be_no_bom, utf16le_no_bom] {
            let e = decode_text(bytes);
            assert!(matches!(e, Err(ReadError::Utf16)), "{e:?}");
        }
        let msg = ReadError::Utf16.to_string();
        assert!(msg.contains("iconv -f UTF-16 -t UTF-8"), "{msg}");
        assert_eq!(
            decode_text(b"\xEF\xBB\xBFkind: Pod\n".to_vec())
                .ok()
                .as_deref(),
            Some("kind: Pod\n")
        );
        assert!(matches!(
            decode_text(b"kind: \xFF".to_vec()),
            Err(ReadError::NotUtf8(6))
        ));
        // Non-ASCII UTF-8 is not mistaken for UTF-16.
        assert!(decode_text("名前: 値\n".as_bytes().to_vec()).is_ok());
        assert!(decode_text(Vec::new()).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn devices_are_refused_without_reading() {
        for dev in ["/dev/zero", "/dev/null"] {
            let e = read_bounded(Path::new(dev), 1000);
            assert!(
                matches!(e, Err(ReadError::NotRegular("character device"))),
                "{dev}: {e:?}"
            );
        }
        let e = read_bounded(Path::new("/"), 1000);
        assert!(
            matches!(e, Err(ReadError::NotRegular("directory"))),
            "{e:?}"
        );
    }
}
