//! Per-request values that storage backends forward: the caller's tenant and bearer
//! token. The query service's HTTP/gRPC layers set them (jaeger-query re-exports this
//! type); the remote storage server sets them from the call's metadata; the `grpc`
//! backend reads them and sends them on as gRPC metadata.

/// Values visible to everything a request's handler awaits (storage calls run in the
/// handler's task).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestContext {
    pub bearer_token: Option<String>,
    pub tenant: Option<String>,
}

tokio::task_local! {
    /// The context of the request being served. Set with [`RequestContext::scope`].
    pub static REQUEST_CONTEXT: RequestContext;
}

impl RequestContext {
    /// The context of the request being served, if any.
    pub fn current() -> Option<RequestContext> {
        REQUEST_CONTEXT.try_with(Clone::clone).ok()
    }

    /// Runs `f` with this context as the current one.
    pub async fn scope<F: Future>(self, f: F) -> F::Output {
        REQUEST_CONTEXT.scope(self, f).await
    }
}
