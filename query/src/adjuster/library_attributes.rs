//! `MoveLibraryAttributes`: some SDKs put the `telemetry.sdk.*` and `telemetry.distro.*`
//! attributes on spans instead of the resource. They are moved to the span's resource
//! (which every span of that resource then shows); a span whose value conflicts with the
//! resource's keeps its attribute and gets a warning.

use jaeger_model::CowTrace;
use jaeger_model::otlp::{Resource, Span};
use jaeger_model::sanitize::add_warning;

use crate::adjust::Adjuster;

pub const LIBRARY_KEYS: [&str; 5] = [
    "telemetry.sdk.language",
    "telemetry.sdk.name",
    "telemetry.sdk.version",
    "telemetry.distro.name",
    "telemetry.distro.version",
];

#[derive(Debug, Clone, Copy, Default)]
pub struct MoveLibraryAttributes;

impl Adjuster for MoveLibraryAttributes {
    fn name(&self) -> &'static str {
        "MoveLibraryAttributes"
    }

    fn adjust_cow(&self, trace: &mut CowTrace<'_>) {
        super::for_each_span_mut(trace, |resource, span| {
            if has_library_attributes(span.span()) {
                move_library_attributes(resource.to_mut(), span.to_mut());
            }
        });
    }
}

/// Whether the span carries a library attribute (checked before copying anything).
pub(crate) fn has_library_attributes(span: &Span) -> bool {
    span.attributes
        .iter()
        .any(|kv| LIBRARY_KEYS.contains(&kv.key.as_str()))
}

/// Moves the span's library attributes to its resource (one span of the step).
pub(crate) fn move_library_attributes(resource: &mut Option<Resource>, span: &mut Span) {
    if !has_library_attributes(span) {
        return;
    }
    let resource = resource.get_or_insert_with(Resource::default);
    for key in LIBRARY_KEYS {
        let Some(pos) = span.attributes.iter().position(|kv| kv.key == key) else {
            continue;
        };
        let existing = resource.attributes.iter_mut().find(|kv| kv.key == key);
        match existing {
            Some(kv) if kv.value != span.attributes[pos].value => {
                add_warning(
                    &mut span.attributes,
                    format!("conflicting values between Span and Resource for attribute {key}"),
                );
            }
            Some(_) => {
                span.attributes.remove(pos);
            }
            None => {
                let kv = span.attributes.remove(pos);
                resource.attributes.push(kv);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use jaeger_model::trace::{find_attr, kv};

    #[test]
    fn moves_to_resource_and_shares_it() {
        let mut a = span(1, 0);
        a.attributes = vec![
            kv("telemetry.sdk.language", str("go")),
            kv("http.method", str("GET")),
            kv("telemetry.distro.version", str("1.2")),
        ];
        let b = span(2, 0);
        let mut t = trace(vec![resource(vec![("service.name", str("s"))], vec![a, b])]);
        MoveLibraryAttributes.adjust(&mut t);
        let r = &t.resource_spans[0].resource.as_ref().unwrap().attributes;
        assert_eq!(find_attr(r, "telemetry.sdk.language"), Some(&str("go")));
        assert_eq!(find_attr(r, "telemetry.distro.version"), Some(&str("1.2")));
        let s = spans(&t);
        assert_eq!(s[0].attributes.len(), 1);
        assert_eq!(s[0].attributes[0].key, "http.method");
        assert!(warnings(s[0]).is_empty());
    }

    #[test]
    fn equal_value_is_dropped_from_span_conflict_warns() {
        let mut a = span(1, 0);
        a.attributes = vec![
            kv("telemetry.sdk.language", str("go")),
            kv("telemetry.sdk.name", str("custom")),
        ];
        let mut t = trace(vec![resource(
            vec![
                ("telemetry.sdk.language", str("go")),
                ("telemetry.sdk.name", str("opentelemetry")),
            ],
            vec![a],
        )]);
        MoveLibraryAttributes.adjust(&mut t);
        let r = &t.resource_spans[0].resource.as_ref().unwrap().attributes;
        assert_eq!(
            find_attr(r, "telemetry.sdk.name"),
            Some(&str("opentelemetry"))
        );
        let s = spans(&t)[0];
        assert_eq!(find_attr(&s.attributes, "telemetry.sdk.language"), None);
        assert_eq!(
            find_attr(&s.attributes, "telemetry.sdk.name"),
            Some(&str("custom"))
        );
        assert_eq!(
            warnings(s),
            ["conflicting values between Span and Resource for attribute telemetry.sdk.name"]
        );
    }

    #[test]
    fn spans_without_a_resource_get_one() {
        let mut a = span(1, 0);
        a.attributes = vec![kv("telemetry.sdk.version", str("1"))];
        let mut rs = resource(vec![], vec![a]);
        rs.resource = None;
        let mut t = trace(vec![rs]);
        MoveLibraryAttributes.adjust(&mut t);
        let r = &t.resource_spans[0].resource.as_ref().unwrap().attributes;
        assert_eq!(find_attr(r, "telemetry.sdk.version"), Some(&str("1")));
    }
}
