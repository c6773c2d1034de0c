//! Every HTTP error and success envelope, in one place.
//!
//! Jaeger answers errors through Go's `http.Error`: the status, `text/plain;
//! charset=utf-8`, `X-Content-Type-Options: nosniff`, and a JSON body followed by a
//! newline. `/api` wraps the message in its envelope, `/api/v3` in `{"error":{...}}`.

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use jaeger_model::gojson;
use jaeger_storage::StorageError;
use serde::Serialize;

use crate::params::ParamError;
use crate::service::QueryError;

/// An error of the `/api` routes, answered with the envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Internal(String),
    /// A capability the server does not have (no metrics backend).
    #[error("{0}")]
    NotImplemented(String),
}

impl ApiError {
    pub const TRACE_NOT_FOUND: &'static str = "trace not found";

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Internal(m)
            | ApiError::NotImplemented(m) => m,
        }
    }

    pub fn trace_not_found() -> Self {
        ApiError::NotFound(Self::TRACE_NOT_FOUND.into())
    }

    fn log(&self) {
        if let ApiError::Internal(m) = self {
            tracing::error!(error = %m, "HTTP handler, Internal Server Error");
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::InvalidQuery(m) => ApiError::BadRequest(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        match e {
            QueryError::Storage(s) => s.into(),
            QueryError::TraceNotFound => ApiError::trace_not_found(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<ParamError> for ApiError {
    fn from(e: ParamError) -> Self {
        ApiError::BadRequest(e.0)
    }
}

/// One entry of the envelope's `errors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StructuredError {
    #[serde(skip_serializing_if = "is_zero")]
    pub code: u16,
    pub msg: String,
    #[serde(rename = "traceID", skip_serializing_if = "String::is_empty")]
    pub trace_id: String,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

/// `{"data","total","limit","offset","errors"}`; `limit` and `offset` are always 0.
#[derive(Serialize)]
pub struct Envelope<T> {
    pub data: T,
    pub total: usize,
    pub limit: usize,
    pub offset: usize,
    pub errors: Option<Vec<StructuredError>>,
}

impl<T: Serialize> Envelope<T> {
    pub fn new(data: T) -> Self {
        Envelope {
            data,
            total: 0,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }

    pub fn total(mut self, total: usize) -> Self {
        self.total = total;
        self
    }

    pub fn errors(mut self, errors: Vec<StructuredError>) -> Self {
        self.errors = (!errors.is_empty()).then_some(errors);
        self
    }

    /// Serializes as Go's `writeJSON`; an unencodable value (NaN) becomes a 500.
    pub fn to_body(&self, pretty: bool) -> Result<Vec<u8>, ApiError> {
        gojson::to_vec(self, pretty).map_err(|e| {
            ApiError::Internal(format!(
                "failed writing HTTP response: failed marshalling HTTP response to JSON: {e}"
            ))
        })
    }

    pub fn into_response(self, pretty: bool) -> Result<Response, ApiError> {
        Ok(json_response(self.to_body(pretty)?))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let env = Envelope::<()>::new(()).errors(vec![StructuredError {
            code: self.status().as_u16(),
            msg: self.message().to_string(),
            trace_id: String::new(),
        }]);
        let body = gojson::to_vec(&env, false).expect("an error envelope holds only strings");
        http_error(self.status(), body)
    }
}

/// An error of the `/api/v3` routes: `{"error":{"httpCode":N,"message":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V3Error(pub ApiError);

impl V3Error {
    pub const NO_TRACES: &'static str = "No traces found";

    pub fn no_traces() -> Self {
        V3Error(ApiError::NotFound(Self::NO_TRACES.into()))
    }
}

impl<E: Into<ApiError>> From<E> for V3Error {
    fn from(e: E) -> Self {
        V3Error(e.into())
    }
}

impl IntoResponse for V3Error {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Details<'a> {
            http_code: u16,
            message: &'a str,
        }
        #[derive(Serialize)]
        struct Body<'a> {
            error: Details<'a>,
        }
        self.0.log();
        let status = self.0.status();
        let body = gojson::to_vec(
            &Body {
                error: Details {
                    http_code: status.as_u16(),
                    message: self.0.message(),
                },
            },
            false,
        )
        .expect("an error body holds only strings");
        http_error(status, body)
    }
}

/// Go's `http.Error`.
pub fn http_error(status: StatusCode, mut body: Vec<u8>) -> Response {
    body.push(b'\n');
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

/// ServeMux's and FileServer's plain 404.
pub fn not_found_text() -> Response {
    http_error(StatusCode::NOT_FOUND, b"404 page not found".to_vec())
}

/// A success body: `application/json`, no trailing newline.
pub fn json_response(body: impl Into<Body>) -> Response {
    let mut resp = Response::new(body.into());
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_errors_map_to_status() {
        let e: ApiError = StorageError::InvalidQuery("service required".into()).into();
        assert_eq!(e, ApiError::BadRequest("service required".into()));
        let e: ApiError = StorageError::Unavailable("full".into()).into();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(e.message(), "storage unavailable: full");
    }

    #[test]
    fn envelope_keys_in_order() {
        let env = Envelope::new(vec!["a"])
            .total(1)
            .errors(vec![StructuredError {
                code: 0,
                msg: "trace not found".into(),
                trace_id: "0000000000000001".into(),
            }]);
        assert_eq!(
            String::from_utf8(env.to_body(false).unwrap()).unwrap(),
            r#"{"data":["a"],"total":1,"limit":0,"offset":0,"errors":[{"msg":"trace not found","traceID":"0000000000000001"}]}"#
        );
    }
}
