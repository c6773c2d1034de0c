//! The ingest error type, and its one mapping to gRPC and HTTP answers.

use std::sync::Arc;
use std::time::Duration;

use jaeger_storage::StorageError;

/// How long a client should wait before retrying after the queue was full or the
/// process was stopping.
pub const RETRY_AFTER_BUSY: Duration = Duration::from_secs(1);
/// How long a client should wait before retrying after a storage failure: longer,
/// since a failing store rarely recovers within a second.
pub const RETRY_AFTER_STORAGE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The queue in front of storage holds `max_bytes` already: retry later.
    #[error("span queue is full, retry later")]
    QueueFull,
    /// The queue stopped accepting work because the process is shutting down.
    #[error("span queue is shutting down, retry later")]
    ShuttingDown,
    /// The storage write of the batch holding these spans failed: retry later.
    #[error("storage write failed, retry later: {0}")]
    Storage(Arc<StorageError>),
    /// Every span of the request was invalid; the message names the field.
    #[error("{0}")]
    InvalidArgument(String),
    /// A server could not bind or serve.
    #[error("{transport} server: {source}")]
    Server {
        transport: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl IngestError {
    /// The delay a retrying client should wait, when the error is worth retrying.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            IngestError::QueueFull | IngestError::ShuttingDown => Some(RETRY_AFTER_BUSY),
            IngestError::Storage(_) => Some(RETRY_AFTER_STORAGE),
            IngestError::InvalidArgument(_) | IngestError::Server { .. } => None,
        }
    }

    /// The gRPC status a receiver answers with. Retryable errors are `UNAVAILABLE`
    /// with a `google.rpc.RetryInfo` detail, which OTLP exporters honour.
    pub fn to_grpc_status(&self) -> tonic::Status {
        use tonic_types::{ErrorDetails, StatusExt};
        match self {
            IngestError::InvalidArgument(msg) => tonic::Status::invalid_argument(msg.clone()),
            IngestError::Server { .. } => tonic::Status::internal(self.to_string()),
            _ => tonic::Status::with_error_details(
                tonic::Code::Unavailable,
                self.to_string(),
                ErrorDetails::with_retry_info(self.retry_after()),
            ),
        }
    }

    /// The HTTP status a receiver answers with.
    pub fn http_status(&self) -> http::StatusCode {
        match self {
            IngestError::InvalidArgument(_) => http::StatusCode::BAD_REQUEST,
            IngestError::Server { .. } => http::StatusCode::INTERNAL_SERVER_ERROR,
            _ => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `google.rpc.Code` matching [`Self::http_status`].
    pub fn rpc_code(&self) -> tonic::Code {
        match self {
            IngestError::InvalidArgument(_) => tonic::Code::InvalidArgument,
            IngestError::Server { .. } => tonic::Code::Internal,
            _ => tonic::Code::Unavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic_types::StatusExt;

    #[test]
    fn retryable_errors_carry_retry_info() {
        let status = IngestError::QueueFull.to_grpc_status();
        assert_eq!(status.code(), tonic::Code::Unavailable);
        assert!(status.message().contains("retry later"));
        let info = status
            .get_details_retry_info()
            .expect("retry info detail is attached");
        assert_eq!(info.retry_delay, Some(RETRY_AFTER_BUSY));

        let storage = IngestError::Storage(Arc::new(StorageError::Unavailable("down".into())));
        assert_eq!(storage.http_status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(storage.retry_after(), Some(RETRY_AFTER_STORAGE));
    }

    #[test]
    fn invalid_argument_is_not_retryable() {
        let e = IngestError::InvalidArgument("spans[0].trace_id: bad".into());
        assert_eq!(e.to_grpc_status().code(), tonic::Code::InvalidArgument);
        assert_eq!(e.http_status(), http::StatusCode::BAD_REQUEST);
        assert_eq!(e.retry_after(), None);
    }
}
