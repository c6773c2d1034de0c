//! The sanitizers Jaeger v2's storage exporter applies to every batch before writing
//! (ingest spec §2.5): service name, span name, UTF-8 (guaranteed by prost already)
//! and non-positive durations.

use crate::otlp::{AnyValue, KeyValue, ResourceSpans, Value};
use crate::{SERVICE_NAME, WARNINGS_ATTRIBUTE};

pub const MISSING_SERVICE_NAME: &str = "missing-service-name";
pub const SERVICE_NAME_WRONG_TYPE: &str = "service-name-wrong-type";
pub const EMPTY_SERVICE_NAME: &str = "empty-service-name";
pub const EMPTY_SPAN_NAME: &str = "empty-span-name";

/// Applies the sanitizers in place.
pub fn sanitize(batch: &mut [ResourceSpans]) {
    for rs in batch.iter_mut() {
        let resource = rs.resource.get_or_insert_with(Default::default);
        let fixed = match resource.attributes.iter().find(|kv| kv.key == SERVICE_NAME) {
            None => Some(MISSING_SERVICE_NAME),
            Some(kv) => match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) if s.is_empty() => Some(EMPTY_SERVICE_NAME),
                Some(Value::StringValue(_)) => None,
                _ => Some(SERVICE_NAME_WRONG_TYPE),
            },
        };
        if let Some(name) = fixed {
            resource.attributes.retain(|kv| kv.key != SERVICE_NAME);
            resource.attributes.push(KeyValue {
                key: SERVICE_NAME.into(),
                value: Some(AnyValue {
                    value: Some(Value::StringValue(name.into())),
                }),
                ..Default::default()
            });
        }
        for ss in rs.scope_spans.iter_mut() {
            for span in ss.spans.iter_mut() {
                if span.name.is_empty() {
                    span.name = EMPTY_SPAN_NAME.into();
                }
                if span.end_time_unix_nano <= span.start_time_unix_nano {
                    let adjusted = span.start_time_unix_nano.saturating_add(1);
                    add_warning(
                        &mut span.attributes,
                        format!(
                            "Negative duration detected, sanitizing end timestamp. Original end timestamp: {}, adjusted to: {}",
                            span.end_time_unix_nano, adjusted
                        ),
                    );
                    span.end_time_unix_nano = adjusted;
                }
            }
        }
    }
}

/// Appends a warning to the `@jaeger@warnings` attribute, converting a plain string
/// value to an array first.
pub fn add_warning(attrs: &mut Vec<KeyValue>, warning: String) {
    use crate::otlp::common::ArrayValue;
    let new = AnyValue {
        value: Some(Value::StringValue(warning)),
    };
    if let Some(kv) = attrs.iter_mut().find(|kv| kv.key == WARNINGS_ATTRIBUTE) {
        let existing = kv.value.take().and_then(|v| v.value);
        let mut values = match existing {
            Some(Value::ArrayValue(a)) => a.values,
            Some(other) => vec![AnyValue { value: Some(other) }],
            None => Vec::new(),
        };
        values.push(new);
        kv.value = Some(AnyValue {
            value: Some(Value::ArrayValue(ArrayValue { values })),
        });
    } else {
        attrs.push(KeyValue {
            key: WARNINGS_ATTRIBUTE.into(),
            value: Some(AnyValue {
                value: Some(Value::ArrayValue(ArrayValue { values: vec![new] })),
            }),
            ..Default::default()
        });
    }
}

/// The warnings stored on a span's attributes.
pub fn warnings(attrs: &[KeyValue]) -> Vec<String> {
    match crate::trace::find_attr(attrs, WARNINGS_ATTRIBUTE) {
        Some(Value::ArrayValue(a)) => a
            .values
            .iter()
            .filter_map(|v| match &v.value {
                Some(Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        Some(Value::StringValue(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}
