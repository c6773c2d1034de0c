//! The query service between the HTTP edge and storage: archive fallback and the
//! adjuster pipeline. Handlers call this, never the reader directly, for traces.

use std::sync::Arc;

use jaeger_model::Trace;
use jaeger_storage::{GetTraceParams, SpanReader, StorageError, TraceQuery};

use crate::adjust::Adjusters;

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A blocking task died (an adjuster or converter panicked).
    #[error("internal error: {0}")]
    Task(String),
}

#[derive(Clone)]
pub struct QueryService {
    reader: Arc<dyn SpanReader>,
    archive: Option<Arc<dyn SpanReader>>,
    adjusters: Adjusters,
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
            adjusters,
        }
    }

    pub fn reader(&self) -> &Arc<dyn SpanReader> {
        &self.reader
    }

    /// The trace from primary storage, else from the archive; adjusted unless `raw`.
    /// A trace without spans counts as not found.
    pub async fn get_trace(
        &self,
        params: GetTraceParams,
        raw: bool,
    ) -> Result<Option<Trace>, QueryError> {
        let mut found = self
            .reader
            .get_trace(params.clone())
            .await?
            .filter(|t| !t.is_empty());
        if found.is_none()
            && let Some(archive) = &self.archive
        {
            found = archive.get_trace(params).await?.filter(|t| !t.is_empty());
        }
        match found {
            Some(t) => Ok(self.adjust(vec![t], raw).await?.pop()),
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

    async fn adjust(&self, mut traces: Vec<Trace>, raw: bool) -> Result<Vec<Trace>, QueryError> {
        if raw || self.adjusters.is_empty() {
            return Ok(traces);
        }
        // Adjusters walk every span: keep that work off the async workers.
        let adjusters = self.adjusters.clone();
        tokio::task::spawn_blocking(move || {
            for t in traces.iter_mut() {
                adjusters.apply(t);
            }
            traces
        })
        .await
        .map_err(|e| QueryError::Task(e.to_string()))
    }
}
