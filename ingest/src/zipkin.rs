//! Zipkin receiver (default port 9411): `POST /api/v2/spans` with a JSON array of
//! spans or (`Content-Type: application/x-protobuf`) a `zipkin.proto3.ListOfSpans`;
//! `POST /api/v1/spans` with a v1 JSON array or (`Content-Type: application/x-thrift`)
//! a TBinaryProtocol `list<zipkincore.Span>`.
//! Spans are mapped to OTLP as Jaeger v2's Zipkin receiver does (ingest spec §2.6) and
//! go through the same [`SpanQueue`] as OTLP, so traces mix freely.
//!
//! Answers (text/plain):
//! - 202 with an empty body on success;
//! - 400 with the error text for an undecodable body, invalid ids (wrong length,
//!   all zeros), unsupported `Content-Encoding` or a body over the limit;
//! - 503 + `Retry-After` when the queue is full, stopping, or storage failed (the
//!   contrib receiver answers 500; 503 tells clients to retry);
//! - 404 for other paths, 405 for other methods.

pub mod model;
pub mod v1;
pub mod v2;

#[cfg(feature = "server")]
mod server;
#[cfg(feature = "server")]
pub use server::*;

#[cfg(test)]
mod tests;
