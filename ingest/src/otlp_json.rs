//! OTLP/JSON decoding. The decoder lives in `jaeger_model::otlp_json_decode` (a pure
//! function the query service's `POST /api/transform` shares); it is re-exported here so
//! the receiver's code keeps its path.

pub use jaeger_model::otlp_json_decode::decode_request;

#[cfg(test)]
mod tests {
    use super::*;
    use jaeger_model::otlp::collector::ExportTraceServiceRequest;

    #[test]
    fn matches_the_prost_serde_encoding_of_a_request() {
        // What opentelemetry-proto's own serializer writes must decode to the same value.
        let batch = crate::test_support::spans_batch("svc", 2);
        let req = ExportTraceServiceRequest {
            resource_spans: batch,
        };
        let json = serde_json::to_vec(&req).expect("serialize");
        assert_eq!(decode_request(&json).expect("decode"), req);
    }
}
