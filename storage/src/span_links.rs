//! The projection of spans that the dependencies job reads: [`SpanReader::scan_span_links`].
//!
//! The job needs six fields of a span (trace id, span id, parent, kind, start, service),
//! one attribute (`peer.service`) and its links. Decoding whole OTLP spans (names,
//! attributes, events, each a heap allocation) only to drop them was most of the job's
//! time, so a backend that can decode less does: the embedded store walks the stored
//! protobuf bytes and picks these fields out. Backends without such a path get the
//! default, [`SpanLinkChunk::push_resource_spans`] over `scan_spans`.
//!
//! [`SpanReader::scan_span_links`]: crate::SpanReader::scan_span_links

use jaeger_model::otlp::{ResourceSpans, Value};
use jaeger_model::trace::{find_attr, service_name};

use crate::UnixNanos;

/// OTLP span kinds whose peer attribute is projected.
const KIND_CLIENT: i32 = 3;
const KIND_PRODUCER: i32 = 4;

/// Link attribute with the Jaeger reference type (set by Jaeger's OTLP translator).
pub const REF_TYPE_ATTRIBUTE: &str = "opentracing.ref_type";

/// What a `scan_span_links` call reads.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanLinkScan {
    /// Spans starting in `[start, end)`.
    pub start: UnixNanos,
    pub end: UnixNanos,
    /// The string span attribute projected as [`ProjectedSpan::peer`] (`peer.service`).
    pub peer_attribute: String,
    /// Threads a backend may read and decode with (a hint).
    pub parallelism: usize,
}

/// A link's Jaeger reference type (its `opentracing.ref_type` attribute).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RefType {
    /// No (or another) reference type: a plain OTLP span link.
    #[default]
    Link,
    ChildOf,
    FollowsFrom,
}

impl RefType {
    fn of(value: Option<&str>) -> Self {
        match value {
            Some("child_of") => Self::ChildOf,
            Some("follows_from") => Self::FollowsFrom,
            _ => Self::Link,
        }
    }
}

/// A span as the dependencies job sees it. Ids are big-endian `u64`s; `0` stands for a
/// missing or malformed id (not 8 bytes, or all zero), which the job treats as invalid.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectedSpan {
    /// `None` when the trace id is not 16 bytes.
    pub trace_id: Option<[u8; 16]>,
    pub span_id: u64,
    /// `parent_span_id`; 0 when there is none (or it is malformed).
    pub parent: u64,
    /// OTLP `SpanKind` as stored.
    pub kind: i32,
    pub start: UnixNanos,
    /// Index into [`SpanLinkChunk::names`] of the resource's `service.name` (0: none).
    pub service: u32,
    /// Index into [`SpanLinkChunk::names`] of the peer attribute's non-empty string value,
    /// for client and producer spans only (0: none, or another kind).
    pub peer: u32,
    /// How many entries of [`SpanLinkChunk::links`] belong to this span: they follow the
    /// links of the spans before it, in order.
    pub links: u32,
}

/// An OTLP span link of a [`ProjectedSpan`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProjectedLink {
    pub trace_id: Option<[u8; 16]>,
    pub span_id: u64,
    pub ref_type: RefType,
}

/// Spans of any traces, with the names they refer to. A chunk is self-contained: its
/// indices point into its own `names`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanLinkChunk {
    /// Service and peer names; index 0 is always `""` (no name).
    pub names: Vec<String>,
    pub spans: Vec<ProjectedSpan>,
    pub links: Vec<ProjectedLink>,
}

impl Default for SpanLinkChunk {
    fn default() -> Self {
        Self {
            names: vec![String::new()],
            spans: Vec::new(),
            links: Vec::new(),
        }
    }
}

/// A big-endian span id, 0 unless exactly 8 bytes.
pub fn span_id_u64(bytes: &[u8]) -> u64 {
    <[u8; 8]>::try_from(bytes).map_or(0, u64::from_be_bytes)
}

/// A trace id, `None` unless exactly 16 bytes.
pub fn trace_id_16(bytes: &[u8]) -> Option<[u8; 16]> {
    <[u8; 16]>::try_from(bytes).ok()
}

impl SpanLinkChunk {
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The index of `name` in `names`, added if new; `""` is 0. Chunks hold a handful of
    /// names, so a linear search beats hashing.
    pub fn name_index(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        let i = match self.names.iter().rposition(|n| n == name) {
            Some(i) => i,
            None => {
                self.names.push(name.to_string());
                self.names.len() - 1
            }
        };
        u32::try_from(i).unwrap_or(0)
    }

    /// The name an index refers to (`""` when out of range).
    pub fn name(&self, index: u32) -> &str {
        self.names.get(index as usize).map_or("", String::as_str)
    }

    /// Projects whole OTLP spans: the reference projection every backend's
    /// `scan_span_links` must agree with. Spans are not filtered by time: a backend hands
    /// out what its `scan_spans` would (the job ignores and counts spans outside its
    /// window). Returns the spans added.
    pub fn push_resource_spans(&mut self, groups: &[ResourceSpans], peer_attribute: &str) -> usize {
        let before = self.spans.len();
        for rs in groups {
            let service = self.name_index(rs.resource.as_ref().map(service_name).unwrap_or(""));
            for ss in &rs.scope_spans {
                for span in &ss.spans {
                    let client_side = span.kind == KIND_CLIENT || span.kind == KIND_PRODUCER;
                    let peer = match find_attr(&span.attributes, peer_attribute) {
                        Some(Value::StringValue(s))
                            if client_side && !peer_attribute.is_empty() =>
                        {
                            self.name_index(s)
                        }
                        _ => 0,
                    };
                    for link in &span.links {
                        let ref_type = match find_attr(&link.attributes, REF_TYPE_ATTRIBUTE) {
                            Some(Value::StringValue(s)) => RefType::of(Some(s)),
                            _ => RefType::Link,
                        };
                        self.links.push(ProjectedLink {
                            trace_id: trace_id_16(&link.trace_id),
                            span_id: span_id_u64(&link.span_id),
                            ref_type,
                        });
                    }
                    self.spans.push(ProjectedSpan {
                        trace_id: trace_id_16(&span.trace_id),
                        span_id: span_id_u64(&span.span_id),
                        parent: span_id_u64(&span.parent_span_id),
                        kind: span.kind,
                        start: span.start_time_unix_nano,
                        service,
                        peer,
                        links: u32::try_from(span.links.len()).unwrap_or(u32::MAX),
                    });
                }
            }
        }
        self.spans.len() - before
    }

    /// Spans with their links and names resolved, sorted: for comparing two scans.
    pub fn resolved(&self) -> Vec<ResolvedSpan> {
        let mut out = Vec::with_capacity(self.spans.len());
        let mut next_link = 0usize;
        for s in &self.spans {
            let n = s.links as usize;
            let mut links: Vec<ProjectedLink> = self
                .links
                .get(next_link..next_link + n)
                .map(<[ProjectedLink]>::to_vec)
                .unwrap_or_default();
            next_link += n;
            links.sort();
            out.push(ResolvedSpan {
                span: ProjectedSpan {
                    service: 0,
                    peer: 0,
                    links: 0,
                    ..*s
                },
                service: self.name(s.service).to_string(),
                peer: self.name(s.peer).to_string(),
                links,
            });
        }
        out.sort();
        out
    }
}

/// A [`ProjectedSpan`] with its names and links attached (see [`SpanLinkChunk::resolved`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ResolvedSpan {
    pub span: ProjectedSpan,
    pub service: String,
    pub peer: String,
    pub links: Vec<ProjectedLink>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use jaeger_model::otlp::{KeyValue, Link, Resource, ScopeSpans, Span};

    fn kv(key: &str, value: &str) -> KeyValue {
        jaeger_model::trace::kv(key, Value::StringValue(value.into()))
    }

    #[test]
    fn projects_ids_names_and_links() {
        let span = |id: u64, start: u64| Span {
            trace_id: vec![7; 16],
            span_id: id.to_be_bytes().to_vec(),
            parent_span_id: 9u64.to_be_bytes().to_vec(),
            kind: 3,
            start_time_unix_nano: start,
            attributes: vec![kv("peer.service", "db")],
            links: vec![Link {
                trace_id: vec![8; 16],
                span_id: 5u64.to_be_bytes().to_vec(),
                attributes: vec![kv(REF_TYPE_ATTRIBUTE, "follows_from")],
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut bad = span(2, 100);
        bad.trace_id = vec![1; 3];
        bad.span_id = vec![1; 4];
        let groups = vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "api")],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![span(1, 100), bad],
                ..Default::default()
            }],
            ..Default::default()
        }];
        let mut c = SpanLinkChunk::default();
        assert_eq!(c.push_resource_spans(&groups, "peer.service"), 2);
        assert_eq!(c.names, vec!["", "api", "db"]);
        assert_eq!(c.spans[0].trace_id, Some([7; 16]));
        assert_eq!((c.spans[0].span_id, c.spans[0].parent), (1, 9));
        assert_eq!((c.spans[0].service, c.spans[0].peer), (1, 2));
        assert_eq!((c.spans[1].trace_id, c.spans[1].span_id), (None, 0));
        assert_eq!(c.links.len(), 2);
        assert_eq!(c.links[0].ref_type, RefType::FollowsFrom);
        assert_eq!(c.resolved()[0].links.len(), 1);
    }
}
