//! OTLP/JSON decoding, as Jaeger's pdata reader accepts it. A pure function (no I/O),
//! shared by the OTLP/HTTP receiver and the query service's `POST /api/transform`.
//!
//! opentelemetry-proto's `with-serde` derive covers only part of OTLP/JSON: it knows
//! camelCase keys only, enums only as integers, and fails on `null`. Jaeger (pdata)
//! also takes snake_case keys, enum names (`"SPAN_KIND_SERVER"`), `null` for any field,
//! and integers as strings or numbers. So this module decodes into its own mirror types
//! with those rules and converts them into the prost types:
//!
//! - `traceId`/`spanId`/`parentSpanId`: hex, either case, `""` = unset (lengths are
//!   checked later by the receiver's validation, so a bad length rejects one span, not the
//!   request);
//! - int64/fixed64/uint32/int32: number or decimal string;
//! - `doubleValue`: number, or `"NaN"`, `"Infinity"`, `"-Infinity"`, or a numeric string;
//! - `bytesValue`: base64, standard or URL-safe, padded or not;
//! - enums: integer, or the enum value name; unknown names are an error;
//! - unknown fields are ignored.
//!
//! Errors name the JSON path (`resourceSpans[0].scopeSpans[0].spans[2].kind: ...`).

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use crate::otlp::common::{ArrayValue, EntityRef, KeyValueList};
use crate::otlp::trace::span::SpanKind;
use crate::otlp::trace::status::StatusCode;
use crate::otlp::{
    AnyValue, InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Status,
    Value, collector::ExportTraceServiceRequest, trace::span::Event, trace::span::Link,
};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

/// Decodes an OTLP/JSON `ExportTraceServiceRequest`.
pub fn decode_request(body: &[u8]) -> Result<ExportTraceServiceRequest, String> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let req: JRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        if path == "." {
            format!("failed to decode OTLP JSON: {}", e.inner())
        } else {
            format!("failed to decode OTLP JSON at {path}: {}", e.inner())
        }
    })?;
    de.end()
        .map_err(|e| format!("failed to decode OTLP JSON: {e}"))?;
    Ok(ExportTraceServiceRequest {
        resource_spans: req.resource_spans.into_iter().map(Into::into).collect(),
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JRequest {
    #[serde(alias = "resource_spans", deserialize_with = "null_default")]
    resource_spans: Vec<JResourceSpans>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JResourceSpans {
    #[serde(deserialize_with = "null_default")]
    resource: Option<JResource>,
    #[serde(alias = "scope_spans", deserialize_with = "null_default")]
    scope_spans: Vec<JScopeSpans>,
    #[serde(alias = "schema_url", deserialize_with = "null_default")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JResource {
    #[serde(deserialize_with = "null_default")]
    attributes: Vec<JKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
    #[serde(alias = "entity_refs", deserialize_with = "null_default")]
    entity_refs: Vec<JEntityRef>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JEntityRef {
    #[serde(alias = "schema_url", deserialize_with = "null_default")]
    schema_url: String,
    #[serde(rename = "type", deserialize_with = "null_default")]
    kind: String,
    #[serde(alias = "id_keys", deserialize_with = "null_default")]
    id_keys: Vec<String>,
    #[serde(alias = "description_keys", deserialize_with = "null_default")]
    description_keys: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JScopeSpans {
    #[serde(deserialize_with = "null_default")]
    scope: Option<JScope>,
    #[serde(deserialize_with = "null_default")]
    spans: Vec<JSpan>,
    #[serde(alias = "schema_url", deserialize_with = "null_default")]
    schema_url: String,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JScope {
    #[serde(deserialize_with = "null_default")]
    name: String,
    #[serde(deserialize_with = "null_default")]
    version: String,
    #[serde(deserialize_with = "null_default")]
    attributes: Vec<JKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JSpan {
    #[serde(alias = "trace_id", deserialize_with = "hex_bytes")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "hex_bytes")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state", deserialize_with = "null_default")]
    trace_state: String,
    #[serde(alias = "parent_span_id", deserialize_with = "hex_bytes")]
    parent_span_id: Vec<u8>,
    #[serde(deserialize_with = "int")]
    flags: u32,
    #[serde(deserialize_with = "null_default")]
    name: String,
    #[serde(deserialize_with = "span_kind")]
    kind: i32,
    #[serde(alias = "start_time_unix_nano", deserialize_with = "int")]
    start_time_unix_nano: u64,
    #[serde(alias = "end_time_unix_nano", deserialize_with = "int")]
    end_time_unix_nano: u64,
    #[serde(deserialize_with = "null_default")]
    attributes: Vec<JKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "null_default")]
    events: Vec<JEvent>,
    #[serde(alias = "dropped_events_count", deserialize_with = "int")]
    dropped_events_count: u32,
    #[serde(deserialize_with = "null_default")]
    links: Vec<JLink>,
    #[serde(alias = "dropped_links_count", deserialize_with = "int")]
    dropped_links_count: u32,
    #[serde(deserialize_with = "null_default")]
    status: Option<JStatus>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JEvent {
    #[serde(alias = "time_unix_nano", deserialize_with = "int")]
    time_unix_nano: u64,
    #[serde(deserialize_with = "null_default")]
    name: String,
    #[serde(deserialize_with = "null_default")]
    attributes: Vec<JKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JLink {
    #[serde(alias = "trace_id", deserialize_with = "hex_bytes")]
    trace_id: Vec<u8>,
    #[serde(alias = "span_id", deserialize_with = "hex_bytes")]
    span_id: Vec<u8>,
    #[serde(alias = "trace_state", deserialize_with = "null_default")]
    trace_state: String,
    #[serde(deserialize_with = "null_default")]
    attributes: Vec<JKeyValue>,
    #[serde(alias = "dropped_attributes_count", deserialize_with = "int")]
    dropped_attributes_count: u32,
    #[serde(deserialize_with = "int")]
    flags: u32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JStatus {
    #[serde(deserialize_with = "null_default")]
    message: String,
    #[serde(deserialize_with = "status_code")]
    code: i32,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JKeyValue {
    #[serde(deserialize_with = "null_default")]
    key: String,
    #[serde(deserialize_with = "null_default")]
    value: Option<JAnyValue>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct JAnyValue {
    #[serde(alias = "string_value")]
    string_value: Option<String>,
    #[serde(alias = "bool_value")]
    bool_value: Option<bool>,
    #[serde(alias = "int_value", deserialize_with = "opt_int")]
    int_value: Option<i64>,
    #[serde(alias = "double_value", deserialize_with = "opt_double")]
    double_value: Option<f64>,
    #[serde(alias = "array_value")]
    array_value: Option<JValues<JAnyValue>>,
    #[serde(alias = "kvlist_value")]
    kvlist_value: Option<JValues<JKeyValue>>,
    #[serde(alias = "bytes_value", deserialize_with = "opt_base64")]
    bytes_value: Option<Vec<u8>>,
}

#[derive(Deserialize)]
#[serde(default, bound(deserialize = "T: Deserialize<'de>"))]
struct JValues<T> {
    #[serde(deserialize_with = "null_default")]
    values: Vec<T>,
}

impl<T> Default for JValues<T> {
    fn default() -> Self {
        Self { values: Vec::new() }
    }
}

// Conversions into the prost types.

impl From<JResourceSpans> for ResourceSpans {
    fn from(j: JResourceSpans) -> Self {
        ResourceSpans {
            resource: j.resource.map(Into::into),
            scope_spans: j.scope_spans.into_iter().map(Into::into).collect(),
            schema_url: j.schema_url,
        }
    }
}

impl From<JResource> for Resource {
    fn from(j: JResource) -> Self {
        Resource {
            attributes: kvs(j.attributes),
            dropped_attributes_count: j.dropped_attributes_count,
            entity_refs: j
                .entity_refs
                .into_iter()
                .map(|e| EntityRef {
                    schema_url: e.schema_url,
                    r#type: e.kind,
                    id_keys: e.id_keys,
                    description_keys: e.description_keys,
                })
                .collect(),
        }
    }
}

impl From<JScopeSpans> for ScopeSpans {
    fn from(j: JScopeSpans) -> Self {
        ScopeSpans {
            scope: j.scope.map(|s| InstrumentationScope {
                name: s.name,
                version: s.version,
                attributes: kvs(s.attributes),
                dropped_attributes_count: s.dropped_attributes_count,
            }),
            spans: j.spans.into_iter().map(Into::into).collect(),
            schema_url: j.schema_url,
        }
    }
}

impl From<JSpan> for Span {
    fn from(j: JSpan) -> Self {
        Span {
            trace_id: j.trace_id,
            span_id: j.span_id,
            trace_state: j.trace_state,
            parent_span_id: j.parent_span_id,
            flags: j.flags,
            name: j.name,
            kind: j.kind,
            start_time_unix_nano: j.start_time_unix_nano,
            end_time_unix_nano: j.end_time_unix_nano,
            attributes: kvs(j.attributes),
            dropped_attributes_count: j.dropped_attributes_count,
            events: j
                .events
                .into_iter()
                .map(|e| Event {
                    time_unix_nano: e.time_unix_nano,
                    name: e.name,
                    attributes: kvs(e.attributes),
                    dropped_attributes_count: e.dropped_attributes_count,
                })
                .collect(),
            dropped_events_count: j.dropped_events_count,
            links: j
                .links
                .into_iter()
                .map(|l| Link {
                    trace_id: l.trace_id,
                    span_id: l.span_id,
                    trace_state: l.trace_state,
                    attributes: kvs(l.attributes),
                    dropped_attributes_count: l.dropped_attributes_count,
                    flags: l.flags,
                })
                .collect(),
            dropped_links_count: j.dropped_links_count,
            status: j.status.map(|s| Status {
                message: s.message,
                code: s.code,
            }),
        }
    }
}

fn kvs(v: Vec<JKeyValue>) -> Vec<KeyValue> {
    v.into_iter().map(Into::into).collect()
}

impl From<JKeyValue> for KeyValue {
    fn from(j: JKeyValue) -> Self {
        KeyValue {
            key: j.key,
            value: j.value.map(Into::into),
            ..Default::default()
        }
    }
}

impl From<JAnyValue> for AnyValue {
    fn from(j: JAnyValue) -> Self {
        let value = if let Some(s) = j.string_value {
            Some(Value::StringValue(s))
        } else if let Some(b) = j.bool_value {
            Some(Value::BoolValue(b))
        } else if let Some(i) = j.int_value {
            Some(Value::IntValue(i))
        } else if let Some(d) = j.double_value {
            Some(Value::DoubleValue(d))
        } else if let Some(a) = j.array_value {
            Some(Value::ArrayValue(ArrayValue {
                values: a.values.into_iter().map(Into::into).collect(),
            }))
        } else if let Some(kv) = j.kvlist_value {
            Some(Value::KvlistValue(KeyValueList {
                values: kvs(kv.values),
            }))
        } else {
            j.bytes_value.map(Value::BytesValue)
        };
        AnyValue { value }
    }
}

// Field deserializers. Each accepts `null` as the field's default, as protojson does.

fn null_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// An integer given as a JSON number or a decimal string.
struct IntVisitor<T>(PhantomData<T>);

impl<'de, T> Visitor<'de> for IntVisitor<T>
where
    T: TryFrom<i64> + TryFrom<u64> + FromStr + Default,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an integer as a number or a decimal string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("integer {v} out of range")))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<T, E> {
        T::try_from(v).map_err(|_| E::custom(format!("integer {v} out of range")))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<T, E> {
        // protojson takes `1e3` for an integer field when it is integral.
        if v.fract() == 0.0 && v >= i64::MIN as f64 && v <= u64::MAX as f64 {
            if v < 0.0 {
                self.visit_i64(v as i64)
            } else {
                self.visit_u64(v as u64)
            }
        } else {
            Err(E::custom(format!("expected an integer, got {v}")))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<T, E> {
        v.trim()
            .parse::<T>()
            .map_err(|_| E::custom(format!("invalid integer {v:?}")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<T, E> {
        Ok(T::default())
    }
}

fn int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i64> + TryFrom<u64> + FromStr + Default,
{
    d.deserialize_any(IntVisitor(PhantomData))
}

fn opt_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct OptInt;
    impl<'de> Visitor<'de> for OptInt {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an integer as a number or a decimal string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            int(d).map(Some)
        }
    }
    d.deserialize_option(OptInt)
}

fn opt_double<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    struct Double;
    impl Visitor<'_> for Double {
        type Value = Option<f64>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a number, or \"NaN\", \"Infinity\", \"-Infinity\"")
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v as f64))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            match v {
                "NaN" => Ok(Some(f64::NAN)),
                "Infinity" => Ok(Some(f64::INFINITY)),
                "-Infinity" => Ok(Some(f64::NEG_INFINITY)),
                other => other
                    .trim()
                    .parse::<f64>()
                    .map(Some)
                    .map_err(|_| E::custom(format!("invalid double {other:?}"))),
            }
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Double)
}

fn opt_base64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let Some(s) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    // protojson accepts both alphabets, with or without padding.
    let trimmed = s.trim_end_matches('=');
    let engine = if trimmed.contains(['-', '_']) {
        URL_SAFE_NO_PAD
    } else {
        STANDARD_NO_PAD
    };
    engine
        .decode(trimmed)
        .map(Some)
        .map_err(|e| de::Error::custom(format!("invalid base64: {e}")))
}

fn hex_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let Some(s) = Option::<String>::deserialize(d)? else {
        return Ok(Vec::new());
    };
    hex::decode(&s).map_err(|e| de::Error::custom(format!("invalid hex id {s:?}: {e}")))
}

/// An enum given as an integer or as its value name.
struct EnumVisitor {
    what: &'static str,
    by_name: fn(&str) -> Option<i32>,
}

impl Visitor<'_> for EnumVisitor {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a {} as an integer or a name", self.what)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
        i32::try_from(v).map_err(|_| E::custom(format!("{} {v} out of range", self.what)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
        i32::try_from(v).map_err(|_| E::custom(format!("{} {v} out of range", self.what)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i32, E> {
        (self.by_name)(v).ok_or_else(|| E::custom(format!("unknown {} {v:?}", self.what)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<i32, E> {
        Ok(0)
    }
}

fn span_kind<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    d.deserialize_any(EnumVisitor {
        what: "span kind",
        by_name: |s| SpanKind::from_str_name(s).map(|k| k as i32),
    })
}

fn status_code<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    d.deserialize_any(EnumVisitor {
        what: "status code",
        by_name: |s| StatusCode::from_str_name(s).map(|c| c as i32),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: &str = r#"{
      "resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "frontend"}}],
                     "droppedAttributesCount": 1},
        "scopeSpans": [{
          "scope": {"name": "lib", "version": "1.0"},
          "spans": [{
            "traceId": "5B8EFFF798038103D269B633813FC60C",
            "spanId": "eee19b7ec3c1b174",
            "parentSpanId": "",
            "name": "GET /",
            "kind": 2,
            "startTimeUnixNano": "1544712660000000000",
            "endTimeUnixNano": 1544712661000000000,
            "flags": 257,
            "attributes": [
              {"key": "i", "value": {"intValue": "42"}},
              {"key": "i2", "value": {"intValue": -7}},
              {"key": "d", "value": {"doubleValue": 1.5}},
              {"key": "nan", "value": {"doubleValue": "NaN"}},
              {"key": "b", "value": {"boolValue": true}},
              {"key": "bytes", "value": {"bytesValue": "aGk="}},
              {"key": "arr", "value": {"arrayValue": {"values": [{"stringValue": "x"}, {"intValue": 1}]}}},
              {"key": "kv", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"boolValue": false}}]}}},
              {"key": "empty", "value": {}}
            ],
            "events": [{"timeUnixNano": "1544712660500000000", "name": "ev",
                        "attributes": [{"key": "e", "value": {"stringValue": "v"}}]}],
            "links": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "0000000000000001"}],
            "status": {"code": 2, "message": "boom"},
            "unknownField": {"ignored": true}
          }]
        }]
      }]
    }"#;

    #[test]
    fn decodes_canonical_otlp_json() {
        let req = decode_request(FULL.as_bytes()).expect("valid");
        let rs = &req.resource_spans[0];
        assert_eq!(
            crate::trace::service_name(rs.resource.as_ref().expect("resource")),
            "frontend"
        );
        assert_eq!(
            rs.resource.as_ref().map(|r| r.dropped_attributes_count),
            Some(1)
        );
        let span = &rs.scope_spans[0].spans[0];
        assert_eq!(
            hex::encode(&span.trace_id),
            "5b8efff798038103d269b633813fc60c"
        );
        assert_eq!(span.span_id, hex::decode("eee19b7ec3c1b174").expect("hex"));
        assert!(span.parent_span_id.is_empty());
        assert_eq!(span.kind, 2);
        assert_eq!(span.start_time_unix_nano, 1_544_712_660_000_000_000);
        assert_eq!(span.end_time_unix_nano, 1_544_712_661_000_000_000);
        assert_eq!(span.flags, 257);
        let attr = |k: &str| {
            crate::trace::find_attr(&span.attributes, k)
                .cloned()
                .unwrap_or_else(|| panic!("attribute {k} missing"))
        };
        assert_eq!(attr("i"), Value::IntValue(42));
        assert_eq!(attr("i2"), Value::IntValue(-7));
        assert_eq!(attr("d"), Value::DoubleValue(1.5));
        assert!(matches!(attr("nan"), Value::DoubleValue(d) if d.is_nan()));
        assert_eq!(attr("b"), Value::BoolValue(true));
        assert_eq!(attr("bytes"), Value::BytesValue(b"hi".to_vec()));
        match attr("arr") {
            Value::ArrayValue(a) => assert_eq!(a.values.len(), 2),
            other => panic!("not an array: {other:?}"),
        }
        match attr("kv") {
            Value::KvlistValue(kv) => assert_eq!(kv.values[0].key, "k"),
            other => panic!("not a kvlist: {other:?}"),
        }
        let empty = span
            .attributes
            .iter()
            .find(|kv| kv.key == "empty")
            .expect("empty");
        assert_eq!(empty.value, Some(AnyValue { value: None }));
        assert_eq!(span.events[0].time_unix_nano, 1_544_712_660_500_000_000);
        assert_eq!(span.links[0].span_id, vec![0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(span.status.as_ref().map(|s| s.code), Some(2));
    }

    #[test]
    fn accepts_snake_case_enum_names_and_nulls() {
        let body = r#"{"resource_spans": [{"resource": null, "scope_spans": [{"spans": [{
            "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "eee19b7ec3c1b174",
            "parent_span_id": null, "name": null, "kind": "SPAN_KIND_CLIENT",
            "start_time_unix_nano": 5, "end_time_unix_nano": "6",
            "attributes": [{"key": "s", "value": {"string_value": "v", "int_value": null}}],
            "status": {"code": "STATUS_CODE_ERROR"}, "events": null, "links": null,
            "dropped_attributes_count": "3"
        }]}]}]}"#;
        let req = decode_request(body.as_bytes()).expect("valid");
        let span = &req.resource_spans[0].scope_spans[0].spans[0];
        assert_eq!(span.kind, SpanKind::Client as i32);
        assert_eq!(span.end_time_unix_nano, 6);
        assert_eq!(span.dropped_attributes_count, 3);
        assert_eq!(
            span.status.as_ref().map(|s| s.code),
            Some(StatusCode::Error as i32)
        );
        assert_eq!(
            crate::trace::find_attr(&span.attributes, "s"),
            Some(&Value::StringValue("v".into()))
        );
    }

    #[test]
    fn empty_object_is_an_empty_request() {
        let req = decode_request(b"{}").expect("valid");
        assert!(req.resource_spans.is_empty());
    }

    #[test]
    fn errors_name_the_path() {
        let bad_kind =
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_WHATEVER"}]}]}]}"#;
        let e = decode_request(bad_kind.as_bytes()).expect_err("unknown kind");
        assert!(
            e.contains("resourceSpans[0].scopeSpans[0].spans[0].kind")
                && e.contains("unknown span kind \"SPAN_KIND_WHATEVER\""),
            "{e}"
        );

        let bad_hex = r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"xyz"}]}]}]}"#;
        let e = decode_request(bad_hex.as_bytes()).expect_err("bad hex");
        assert!(
            e.contains("spans[0].traceId") && e.contains("invalid hex id"),
            "{e}"
        );

        let bad_int =
            r#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"soon"}]}]}]}"#;
        let e = decode_request(bad_int.as_bytes()).expect_err("bad int");
        assert!(
            e.contains("startTimeUnixNano") && e.contains("invalid integer"),
            "{e}"
        );

        let e = decode_request(b"{\"resourceSpans\": [").expect_err("truncated");
        assert!(e.starts_with("failed to decode OTLP JSON"), "{e}");

        let e = decode_request(b"{} trailing").expect_err("trailing");
        assert!(e.contains("trailing"), "{e}");
    }

    #[test]
    fn matches_the_prost_serde_encoding_of_a_request() {
        // What opentelemetry-proto's own serializer writes must decode to the same value.
        let span = |i: u8| Span {
            trace_id: vec![1; 16],
            span_id: vec![i; 8],
            name: format!("op-{i}"),
            kind: 2,
            start_time_unix_nano: 1_000 + i as u64,
            end_time_unix_nano: 2_000 + i as u64,
            attributes: vec![crate::trace::kv("k", Value::IntValue(i as i64))],
            ..Default::default()
        };
        let req = ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: Some(Resource {
                    attributes: vec![crate::trace::kv(
                        "service.name",
                        Value::StringValue("svc".into()),
                    )],
                    ..Default::default()
                }),
                scope_spans: vec![ScopeSpans {
                    scope: Some(InstrumentationScope {
                        name: "lib".into(),
                        ..Default::default()
                    }),
                    spans: vec![span(1), span(2)],
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        };
        let json = serde_json::to_vec(&req).expect("serialize");
        assert_eq!(decode_request(&json).expect("decode"), req);
    }
}
