//! Request-body reading shared by the Jaeger Thrift HTTP and Zipkin receivers: a
//! length limit on the raw and the decompressed body, and gzip / zlib (deflate)
//! `Content-Encoding`.

use std::io::Read;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Bodies (raw) larger than this are decompressed and decoded on the blocking pool.
pub(crate) const DECODE_INLINE_LIMIT: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error("unsupported Content-Encoding: {0}")]
    UnsupportedEncoding(String),
    #[error("request body too large: the limit is {0} bytes")]
    TooLarge(usize),
    #[error("failed to read the request body: {0}")]
    Read(String),
    #[error("failed to decompress the request body: {0}")]
    Decompress(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zlib,
}

pub(crate) fn compression(headers: &HeaderMap) -> Result<Compression, BodyError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Compression::None);
    };
    let raw = String::from_utf8_lossy(value.as_bytes());
    match raw.trim().to_ascii_lowercase().as_str() {
        "" | "identity" => Ok(Compression::None),
        "gzip" | "x-gzip" => Ok(Compression::Gzip),
        // Go reads "deflate" as a zlib stream, as browsers send it.
        "deflate" | "zlib" => Ok(Compression::Zlib),
        _ => Err(BodyError::UnsupportedEncoding(raw.into_owned())),
    }
}

/// Reads at most `max` raw bytes.
pub(crate) async fn read_raw(body: Body, max: usize) -> Result<Bytes, BodyError> {
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge(max)),
        Err(e) => Err(BodyError::Read(e.to_string())),
    }
}

/// Decompresses `raw`, refusing output over `max` bytes. CPU work: call it on the
/// blocking pool for large bodies.
pub(crate) fn decompress(
    raw: Bytes,
    compression: Compression,
    max: usize,
) -> Result<Bytes, BodyError> {
    let reader: Box<dyn Read + '_> = match compression {
        Compression::None => return Ok(raw),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(&raw[..])),
        Compression::Zlib => Box::new(flate2::read::ZlibDecoder::new(&raw[..])),
    };
    let mut out = Vec::with_capacity(raw.len().saturating_mul(4).min(max));
    // One byte past the limit tells "exactly the limit" from "over it".
    reader
        .take(max as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Decompress(e.to_string()))?;
    if out.len() > max {
        return Err(BodyError::TooLarge(max));
    }
    Ok(Bytes::from(out))
}

/// A `text/plain` answer with Go's `http.Error` trailing newline.
pub(crate) fn text(status: StatusCode, msg: &str) -> axum::response::Response {
    use axum::response::IntoResponse;
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{msg}\n"),
    )
        .into_response()
}

/// The media type without parameters, lower-cased; `None` when absent or not text.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    Some(
        value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}
