//! `NormalizeIPAttributes`: old Jaeger clients sent IPv4 addresses as numbers. The `ip`
//! and `peer.ipv4` attributes of resources and spans holding an integer (or a double)
//! become the dotted-quad string of its big-endian bytes: 134744072 → `"8.8.8.8"`.

use std::borrow::Cow;

use jaeger_model::CowTrace;
use jaeger_model::cow::to_mut_if;
use jaeger_model::otlp::{KeyValue, Resource, Value};

use crate::adjust::Adjuster;

const IP_KEYS: [&str; 2] = ["ip", "peer.ipv4"];

#[derive(Debug, Clone, Copy, Default)]
pub struct NormalizeIPAttributes;

impl Adjuster for NormalizeIPAttributes {
    fn name(&self) -> &'static str {
        "NormalizeIPAttributes"
    }

    fn adjust_cow(&self, trace: &mut CowTrace<'_>) {
        for rs in trace.resource_spans.iter_mut() {
            normalize_resource(&mut rs.resource);
            for ss in rs.scope_spans.iter_mut() {
                for span in ss.spans.iter_mut() {
                    if needs_normalizing(&span.span().attributes) {
                        normalize(&mut span.to_mut().attributes);
                    }
                }
            }
        }
    }
}

/// [`normalize`] on a resource's attributes, copying a borrowed resource only if they
/// change.
pub(crate) fn normalize_resource(resource: &mut Cow<'_, Option<Resource>>) {
    if let Some(r) = to_mut_if(resource, |r| needs_normalizing(&r.attributes)) {
        normalize(&mut r.attributes);
    }
}

/// Whether [`normalize`] would change anything (checked before copying a span).
pub(crate) fn needs_normalizing(attrs: &[KeyValue]) -> bool {
    attrs.iter().any(|kv| {
        IP_KEYS.contains(&kv.key.as_str())
            && matches!(
                kv.value.as_ref().and_then(|v| v.value.as_ref()),
                Some(Value::IntValue(_) | Value::DoubleValue(_))
            )
    })
}

pub(crate) fn normalize(attrs: &mut [KeyValue]) {
    for kv in attrs.iter_mut() {
        if !IP_KEYS.contains(&kv.key.as_str()) {
            continue;
        }
        let Some(any) = kv.value.as_mut() else {
            continue;
        };
        // Go's uint32 conversions: an int keeps its low 32 bits; a double is truncated
        // (through int64, as amd64 does).
        let ip = match any.value {
            Some(Value::IntValue(i)) => i as u32,
            Some(Value::DoubleValue(d)) => (d as i64) as u32,
            _ => continue,
        };
        let [a, b, c, d] = ip.to_be_bytes();
        any.value = Some(Value::StringValue(format!("{a}.{b}.{c}.{d}")));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;
    use jaeger_model::trace::{find_attr, kv};

    #[test]
    fn numbers_become_dotted_quads() {
        let mut sp = span(1, 0);
        sp.attributes = vec![
            kv("peer.ipv4", Value::IntValue(134_744_072)),
            kv("ip", Value::DoubleValue(16_909_060.9)),
            kv("other", Value::IntValue(134_744_072)),
        ];
        let mut t = trace(vec![resource(
            vec![
                ("ip", Value::IntValue(0x7f00_0001)),
                ("peer.ipv4", str("10.0.0.1")),
            ],
            vec![sp],
        )]);
        NormalizeIPAttributes.adjust(&mut t);
        let r = &t.resource_spans[0].resource.as_ref().unwrap().attributes;
        assert_eq!(find_attr(r, "ip"), Some(&str("127.0.0.1")));
        assert_eq!(find_attr(r, "peer.ipv4"), Some(&str("10.0.0.1")));
        let a = &spans(&t)[0].attributes;
        assert_eq!(find_attr(a, "peer.ipv4"), Some(&str("8.8.8.8")));
        assert_eq!(find_attr(a, "ip"), Some(&str("1.2.3.4")));
        assert_eq!(find_attr(a, "other"), Some(&Value::IntValue(134_744_072)));
    }

    #[test]
    fn large_and_negative_ints_keep_their_low_32_bits() {
        let mut attrs = vec![
            kv("ip", Value::IntValue(-1)),
            kv("peer.ipv4", Value::IntValue(0x1_0102_0304)),
        ];
        normalize(&mut attrs);
        assert_eq!(find_attr(&attrs, "ip"), Some(&str("255.255.255.255")));
        assert_eq!(find_attr(&attrs, "peer.ipv4"), Some(&str("1.2.3.4")));
    }
}
