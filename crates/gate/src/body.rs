//! Request bodies: read up to the inspection cap, then forwarded whole (what was read, then the
//! rest as it streams) — never buffered past the cap.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

/// What the gate read of a body.
pub struct Prefix {
    pub bytes: Bytes,
    /// The body ended within the cap.
    pub complete: bool,
}

/// Reads frames until the body ends or `cap` bytes are held. A chunk that crosses the cap is
/// kept whole for forwarding; only `cap` bytes of it are inspected.
pub async fn read_prefix(body: &mut axum::body::Body, cap: usize) -> Result<Prefix, axum::Error> {
    let mut buf = bytes::BytesMut::new();
    loop {
        if buf.len() >= cap {
            return Ok(Prefix {
                bytes: buf.freeze(),
                complete: body.is_end_stream(),
            });
        }
        match body.frame().await {
            None => {
                return Ok(Prefix {
                    bytes: buf.freeze(),
                    complete: true,
                });
            }
            Some(Err(e)) => return Err(e),
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
        }
    }
}

/// The forwarded body: the prefix read, then the rest of the client's body.
pub struct Chained {
    prefix: Option<Bytes>,
    rest: Option<axum::body::Body>,
}

impl Chained {
    pub fn new(prefix: Bytes, rest: Option<axum::body::Body>) -> Self {
        Self {
            prefix: (!prefix.is_empty()).then_some(prefix),
            rest,
        }
    }
}

impl Body for Chained {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Some(p) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none() && self.rest.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        let p = self.prefix.as_ref().map_or(0, |b| b.len() as u64);
        match &self.rest {
            None => SizeHint::with_exact(p),
            Some(r) => {
                let h = r.size_hint();
                let mut s = SizeHint::new();
                s.set_lower(h.lower() + p);
                if let Some(u) = h.upper() {
                    s.set_upper(u + p);
                }
                s
            }
        }
    }
}

/// Undoes `Content-Encoding: gzip`/`deflate` for inspection, never past `cap` bytes (a gzip
/// bomb stops at the cap). Returns the decoded bytes and whether the cap cut them, or `None`
/// when the encoding is unknown or broken.
pub fn decode(encoding: &str, bytes: &[u8], cap: usize) -> Option<(Vec<u8>, bool)> {
    use std::io::Read;
    let mut out = Vec::new();
    let limit = cap as u64 + 1;
    let r = match encoding.trim().to_ascii_lowercase().as_str() {
        "gzip" | "x-gzip" => flate2::read::GzDecoder::new(bytes)
            .take(limit)
            .read_to_end(&mut out),
        "deflate" => flate2::read::ZlibDecoder::new(bytes)
            .take(limit)
            .read_to_end(&mut out),
        "identity" | "" => {
            out.extend_from_slice(bytes.get(..cap.min(bytes.len()))?);
            return Some((out, bytes.len() > cap));
        }
        _ => return None,
    };
    match r {
        Ok(_) => {
            let cut = out.len() > cap;
            out.truncate(cap);
            Some((out, cut))
        }
        // A prefix cut at the cap is not a complete stream; what decoded is still inspected.
        Err(_) if !out.is_empty() => {
            out.truncate(cap);
            Some((out, true))
        }
        Err(_) => None,
    }
}
