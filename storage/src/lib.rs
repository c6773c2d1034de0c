//! The storage seam: the traits every backend implements, and the backends.
//!
//! - [`SpanWriter`]: write a batch of spans; idempotent per span.
//! - [`SpanReader`]: traces by id, trace search, services, operations.
//! - [`DependencyStore`]: service links per time window.
//!
//! Backends: [`memory`], [`embedded`] (the persistent default) and [`cassandra`]
//! (Jaeger's v004 layout), and [`grpc`] (a client of a remote storage server; the
//! server is there too). Every backend must
//! pass the [`conformance`] suite.

pub mod cassandra;
pub mod conformance;
pub mod context;
pub mod elasticsearch;
pub mod embedded;
pub mod grpc;
pub mod memory;
pub mod offload;
pub mod sampling;
pub mod span_links;

use std::sync::Arc;

use async_trait::async_trait;
use jaeger_model::otlp::ResourceSpans;
use jaeger_model::{Trace, TraceId};
pub use span_links::{SpanLinkChunk, SpanLinkScan};

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The backend is reachable but refuses work for now (full, shutting down, overloaded).
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The query itself cannot be answered by this backend (for example a missing service).
    #[error("{0}")]
    InvalidQuery(String),
    #[error("storage i/o error: {0}")]
    Io(#[from] std::io::Error),
    #[error("embedded store error: {0}")]
    Engine(String),
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The backend does not offer this operation.
    #[error("not supported by this storage backend: {0}")]
    Unsupported(&'static str),
}

/// Time is nanoseconds since the Unix epoch throughout the seam.
pub type UnixNanos = u64;

/// Arguments of a trace lookup. The time window is a hint a backend may use to narrow
/// its search; it never filters spans out of a found trace.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GetTraceParams {
    pub trace_id: TraceId,
    pub start: Option<UnixNanos>,
    pub end: Option<UnixNanos>,
}

/// A trace search. A trace matches when one of its spans matches every condition given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TraceQuery {
    /// Required by some backends (Cassandra); optional for memory and embedded.
    pub service_name: Option<String>,
    pub operation_name: Option<String>,
    /// Each pair must match a span attribute, a resource attribute or an event attribute
    /// of the same span, compared as strings.
    pub tags: Vec<(String, String)>,
    pub start_time_min: UnixNanos,
    pub start_time_max: UnixNanos,
    pub duration_min: Option<u64>,
    pub duration_max: Option<u64>,
    /// Maximum number of traces returned (Jaeger's `limit` / `searchDepth`).
    pub num_traces: usize,
}

/// An operation name with the span kind it was seen with (`""` when unspecified).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Operation {
    pub name: String,
    pub span_kind: String,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct OperationQuery {
    pub service_name: String,
    /// `None` means all kinds.
    pub span_kind: Option<String>,
}

/// One edge of the service graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DependencyLink {
    pub parent: String,
    pub child: String,
    pub call_count: u64,
    /// Where the link came from; Jaeger's default is `"jaeger"`.
    pub source: String,
}

/// A trace from [`SpanReader::get_trace_shared`]: the caller's own, or shared with the
/// store (read-only: copy what must change, see `jaeger_model::CowTrace`).
pub enum SharedTrace {
    /// The caller's own, to be taken apart by the adjusters.
    Owned(Trace),
    /// The caller's own, with attribute lists already in key order (as
    /// `jaeger_model::trace::sort_collections` leaves them): the adjusters change next
    /// to no span of it, so they read it in place rather than move every span into
    /// their view and out again.
    Sorted(Trace),
    Shared(Arc<dyn AsRef<[ResourceSpans]> + Send + Sync>),
}

impl SharedTrace {
    pub fn resource_spans(&self) -> &[ResourceSpans] {
        match self {
            SharedTrace::Owned(t) | SharedTrace::Sorted(t) => &t.resource_spans,
            SharedTrace::Shared(s) => (**s).as_ref(),
        }
    }

    pub fn is_empty(&self) -> bool {
        jaeger_model::trace::span_count(self.resource_spans()) == 0
    }

    /// An owned trace (copying a shared one).
    pub fn into_trace(self) -> Trace {
        match self {
            SharedTrace::Owned(t) | SharedTrace::Sorted(t) => t,
            SharedTrace::Shared(s) => Trace::new((*s).as_ref().to_vec()),
        }
    }
}

impl std::fmt::Debug for SharedTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            SharedTrace::Owned(_) => "Owned",
            SharedTrace::Sorted(_) => "Sorted",
            SharedTrace::Shared(_) => "Shared",
        };
        f.debug_struct("SharedTrace")
            .field("kind", &kind)
            .field(
                "spans",
                &jaeger_model::trace::span_count(self.resource_spans()),
            )
            .finish()
    }
}

#[async_trait]
pub trait SpanWriter: Send + Sync {
    /// Writes the spans durably: when this returns `Ok`, the spans survive a crash.
    /// Writing the same span twice must not make it appear twice.
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> Result<()>;
}

#[async_trait]
pub trait SpanReader: Send + Sync {
    /// The trace with all its spans, or `None` when no span has that id.
    async fn get_trace(&self, params: GetTraceParams) -> Result<Option<Trace>>;
    /// The trace as `get_trace` returns it, lent rather than copied by a backend that
    /// holds it in memory (the query reads and adjusts a large trace without copying
    /// it). The default hands over `get_trace`'s own copy.
    async fn get_trace_shared(&self, params: GetTraceParams) -> Result<Option<SharedTrace>> {
        Ok(self.get_trace(params).await?.map(SharedTrace::Owned))
    }
    /// Traces matching the query, most recent first, at most `num_traces`.
    async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>>;
    /// Ids of the traces `find_traces` would return.
    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>>;
    /// Service names, sorted.
    async fn get_services(&self) -> Result<Vec<String>>;
    /// Operations of a service, sorted by name then kind.
    async fn get_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>>;

    /// Streams every stored span whose start time is in `[start, end)`, in chunks, for
    /// batch jobs (the dependencies job). A chunk holds spans of any traces; the spans of
    /// one trace may arrive in several chunks. Returns when everything was sent or the
    /// receiver hung up.
    async fn scan_spans(
        &self,
        start: UnixNanos,
        end: UnixNanos,
        sink: tokio::sync::mpsc::Sender<Vec<ResourceSpans>>,
    ) -> Result<()> {
        let _ = (start, end, sink);
        Err(StorageError::Unsupported("scan_spans"))
    }

    /// Streams the projection of the spans starting in `[scan.start, scan.end)` that the
    /// dependencies job reads (ids, parent, kind, start, service, one attribute, links), in
    /// chunks, like `scan_spans`. The default projects `scan_spans`' chunks; a backend that
    /// can decode only these fields (or read in parallel) overrides it.
    async fn scan_span_links(
        &self,
        scan: &SpanLinkScan,
        sink: tokio::sync::mpsc::Sender<SpanLinkChunk>,
    ) -> Result<()> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<ResourceSpans>>(2);
        let project = async move {
            while let Some(groups) = rx.recv().await {
                let mut chunk = SpanLinkChunk::default();
                chunk.push_resource_spans(&groups, &scan.peer_attribute);
                if chunk.is_empty() {
                    continue;
                }
                if sink.send(chunk).await.is_err() {
                    // Dropping `rx` makes the scan stop too.
                    return;
                }
            }
        };
        let (scanned, ()) = tokio::join!(self.scan_spans(scan.start, scan.end, tx), project);
        scanned
    }
}

#[async_trait]
pub trait DependencyStore: Send + Sync {
    /// Links whose window overlaps `[end - lookback, end]`.
    async fn get_dependencies(&self, end: UnixNanos, lookback: u64) -> Result<Vec<DependencyLink>>;
    /// Replaces the links stored for the window starting at `window_start`.
    async fn write_dependencies(
        &self,
        window_start: UnixNanos,
        window_end: UnixNanos,
        links: Vec<DependencyLink>,
    ) -> Result<()>;
}

/// Health of a backend, for the health check.
#[async_trait]
pub trait StorageHealth: Send + Sync {
    async fn is_healthy(&self) -> bool {
        true
    }
}

/// One opened backend: the handles every role takes from the factory.
#[derive(Clone)]
pub struct Storage {
    pub writer: Arc<dyn SpanWriter>,
    pub reader: Arc<dyn SpanReader>,
    pub dependencies: Arc<dyn DependencyStore>,
    pub health: Arc<dyn StorageHealth>,
}

impl Storage {
    /// Builds the handles from one value implementing every trait.
    pub fn from_backend<B>(backend: Arc<B>) -> Self
    where
        B: SpanWriter + SpanReader + DependencyStore + StorageHealth + 'static,
    {
        Self {
            writer: backend.clone(),
            reader: backend.clone(),
            dependencies: backend.clone(),
            health: backend,
        }
    }
}
