//! The query service between the HTTP edge and storage: archive fallback, the
//! `max_trace_size` cap, the adjuster pipeline and archiving. Handlers call this, never
//! the reader directly, for traces.

use std::sync::Arc;

use jaeger_model::cow::CowResourceSpans;
use jaeger_model::otlp::{ResourceSpans, Span};
use jaeger_model::sanitize::add_warning;
use jaeger_model::{CowTrace, Trace};
use jaeger_storage::{
    GetTraceParams, SharedTrace, SpanReader, SpanWriter, StorageError, TraceQuery,
};

use crate::adjust::Adjusters;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A blocking task died (an adjuster or converter panicked).
    #[error("internal error: {0}")]
    Task(String),
    /// `POST /api/archive/{id}` without an archive store.
    #[error("archive span storage was not configured")]
    NoArchiveStorage,
    /// The trace to archive does not exist.
    #[error("trace not found")]
    TraceNotFound,
}

/// What serving a trace through [`QueryService::write_adjusted`] leaves to free: the
/// spans it copied and the store's trace it borrowed.
pub struct Leftovers(
    #[allow(dead_code)] Vec<Span>,
    #[allow(dead_code)] Option<Arc<dyn AsRef<[ResourceSpans]> + Send + Sync>>,
);

#[derive(Clone)]
pub struct QueryService {
    reader: Arc<dyn SpanReader>,
    archive: Option<Arc<dyn SpanReader>>,
    archive_writer: Option<Arc<dyn SpanWriter>>,
    adjusters: Adjusters,
    /// Spans kept per trace; 0 keeps all.
    max_trace_size: usize,
}

impl QueryService {
    pub fn new(
        reader: Arc<dyn SpanReader>,
        archive: Option<Arc<dyn SpanReader>>,
        adjusters: Adjusters,
    ) -> Self {
        QueryService {
            reader,
            archive,
            archive_writer: None,
            adjusters,
            max_trace_size: 0,
        }
    }

    /// Where `POST /api/archive/{id}` writes.
    pub fn with_archive_writer(mut self, writer: Option<Arc<dyn SpanWriter>>) -> Self {
        self.archive_writer = writer;
        self
    }

    /// Keeps at most `n` spans per trace returned (0: no limit).
    pub fn with_max_trace_size(mut self, n: usize) -> Self {
        self.max_trace_size = n;
        self
    }

    /// Both archive reader and writer are configured (the UI's `archiveStorage`).
    pub fn archive_enabled(&self) -> bool {
        self.archive.is_some() && self.archive_writer.is_some()
    }

    pub fn reader(&self) -> &Arc<dyn SpanReader> {
        &self.reader
    }

    /// The trace from primary storage, else from the archive, as the store lends it:
    /// not adjusted yet (see [`Self::adjust_cow`]). A trace without spans counts as not
    /// found.
    pub async fn get_trace_shared(
        &self,
        params: GetTraceParams,
    ) -> Result<Option<SharedTrace>, QueryError> {
        let mut found = self
            .reader
            .get_trace_shared(params.clone())
            .await?
            .filter(|t| !t.is_empty());
        if found.is_none()
            && let Some(archive) = &self.archive
        {
            found = archive
                .get_trace_shared(params)
                .await?
                .filter(|t| !t.is_empty());
        }
        Ok(found)
    }

    /// `max_trace_size` and, unless `raw`, the adjusters, on a trace that may be
    /// borrowed from the store. CPU work: for a blocking thread.
    pub fn adjust_cow(&self, trace: &mut CowTrace<'_>, raw: bool) {
        truncate_trace(trace, self.max_trace_size);
        if !raw {
            self.adjusters.apply_cow(trace);
        }
    }

    /// Adjusts a trace from [`Self::get_trace_shared`] where it lies (an owned trace
    /// in place, a lent one copying only the spans an adjuster changes) and hands it to
    /// `write`. Returns what `write` made and what is left to free, for the caller to
    /// drop after answering. CPU work: for a blocking thread.
    pub fn write_adjusted<R>(
        &self,
        stored: SharedTrace,
        raw: bool,
        write: impl FnOnce(&[CowResourceSpans<'_>]) -> R,
    ) -> (R, Leftovers) {
        let shared: Arc<dyn AsRef<[ResourceSpans]> + Send + Sync> = match stored {
            SharedTrace::Owned(trace) => {
                let mut view = CowTrace::from(trace);
                self.adjust_cow(&mut view, raw);
                let made = write(&view.resource_spans);
                return (made, Leftovers(view.into_owned_spans(), None));
            }
            SharedTrace::Sorted(trace) => Arc::new(trace),
            SharedTrace::Shared(shared) => shared,
        };
        let mut view = CowTrace::borrowed((*shared).as_ref());
        self.adjust_cow(&mut view, raw);
        let made = write(&view.resource_spans);
        (made, Leftovers(view.into_owned_spans(), Some(shared)))
    }

    /// The trace from primary storage, else from the archive; adjusted unless `raw`.
    /// A trace without spans counts as not found.
    pub async fn get_trace(
        &self,
        params: GetTraceParams,
        raw: bool,
    ) -> Result<Option<Trace>, QueryError> {
        match self.get_trace_shared(params).await? {
            Some(t) => Ok(self.adjust(vec![t.into_trace()], raw).await?.pop()),
            None => Ok(None),
        }
    }

    /// Traces matching the query, in storage order; adjusted unless `raw`.
    pub async fn find_traces(
        &self,
        query: &TraceQuery,
        raw: bool,
    ) -> Result<Vec<Trace>, QueryError> {
        let traces = self.reader.find_traces(query).await?;
        self.adjust(traces, raw).await
    }

    /// Reads the trace as `GET /api/traces/{id}` does (fallback, adjusted) and writes
    /// it to archive storage, warnings included.
    pub async fn archive_trace(&self, params: GetTraceParams) -> Result<(), QueryError> {
        let Some(writer) = &self.archive_writer else {
            return Err(QueryError::NoArchiveStorage);
        };
        let trace = self
            .get_trace(params, false)
            .await?
            .ok_or(QueryError::TraceNotFound)?;
        writer.write_spans(trace.resource_spans).await?;
        Ok(())
    }

    async fn adjust(&self, mut traces: Vec<Trace>, raw: bool) -> Result<Vec<Trace>, QueryError> {
        let max = self.max_trace_size;
        let truncate = max > 0 && traces.iter().any(|t| t.span_count() > max);
        if !truncate && (raw || self.adjusters.is_empty()) {
            return Ok(traces);
        }
        // Adjusters walk every span: keep that work off the async workers (inline when
        // the caller is already on a blocking thread, see `on_query_thread`).
        let service = self.clone();
        jaeger_storage::offload::run(move || {
            for t in traces.iter_mut() {
                CowTrace::edit(t, |view| service.adjust_cow(view, raw));
            }
            traces
        })
        .await
        .map_err(|e| QueryError::Task(e.to_string()))
    }
}

/// `max_trace_size`: keeps the first `max` spans in resource/scope/span order and warns
/// on the first span. Applied before the adjusters (and to raw traces too), so that an
/// oversized trace costs no more than `max` spans of work downstream.
pub fn truncate_trace(trace: &mut CowTrace<'_>, max: usize) {
    let total = trace.span_count();
    if max == 0 || total <= max {
        return;
    }
    let mut left = max;
    for rs in trace.resource_spans.iter_mut() {
        for ss in rs.scope_spans.iter_mut() {
            let keep = ss.spans.len().min(left);
            ss.spans.truncate(keep);
            left -= keep;
        }
        rs.scope_spans.retain(|ss| !ss.spans.is_empty());
    }
    trace.resource_spans.retain(|rs| !rs.scope_spans.is_empty());
    if let Some(first) = trace
        .resource_spans
        .first_mut()
        .and_then(|rs| rs.scope_spans.first_mut())
        .and_then(|ss| ss.spans.first_mut())
    {
        add_warning(
            &mut first.to_mut().attributes,
            format!("trace has more than {max} spans, showing first {max} spans only"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adjuster::testing::{resource, span, spans, trace, warnings};

    #[test]
    fn truncation_keeps_the_first_spans_in_order() {
        let mut t = trace(vec![
            resource(vec![], vec![span(1, 0), span(2, 1)]),
            resource(vec![], vec![span(3, 1), span(4, 1)]),
            resource(vec![], vec![span(5, 1)]),
        ]);
        CowTrace::edit(&mut t, |view| truncate_trace(view, 3));
        assert_eq!(t.span_count(), 3);
        assert_eq!(t.resource_spans.len(), 2, "an emptied resource is dropped");
        let s = spans(&t);
        assert_eq!(
            warnings(s[0]),
            ["trace has more than 3 spans, showing first 3 spans only"]
        );
        assert!(warnings(s[1]).is_empty());
        let mut small = trace(vec![resource(vec![], vec![span(1, 0)])]);
        CowTrace::edit(&mut small, |view| {
            truncate_trace(view, 1);
            truncate_trace(view, 0);
        });
        assert!(warnings(spans(&small)[0]).is_empty());
    }
}
