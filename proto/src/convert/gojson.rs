//! Text as Go writes it: pdata's `AsString` of maps and slices (`encoding/json` of the
//! raw value) and of doubles. Kept in step with `jaeger_model::gojson`, which renders
//! the same values for the HTTP APIs.

use std::collections::BTreeMap;

use base64::Engine;
use opentelemetry_proto::tonic::common::v1::any_value::Value;

/// A float as `encoding/json` writes it; `None` for NaN and infinities.
pub fn float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        // Rust gives `1e21` / `1.5e-7`; Go gives `1e+21` / `1.5e-07`, and encoding/json
        // then drops the padding zero of a negative exponent: `1.5e-7`.
        let s = format!("{f:e}");
        let (mant, exp) = s.split_once('e').expect("`{:e}` always has an exponent");
        return Some(match exp.strip_prefix('-') {
            Some(digits) => format!("{mant}e-{digits}"),
            None if exp.len() < 2 => format!("{mant}e+0{exp}"),
            None => format!("{mant}e+{exp}"),
        });
    }
    Some(format!("{f}"))
}

/// pdata `AsString` of a double.
pub fn float_as_string(f: f64) -> String {
    float(f).unwrap_or_else(|| {
        let g = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "+Inf"
        } else {
            "-Inf"
        };
        format!("json: unsupported value: {g}")
    })
}

/// A JSON string literal (with quotes), HTML-escaped as Go does.
pub fn string(s: &str) -> String {
    let plain = serde_json::to_string(s).expect("serializing a str cannot fail");
    if !plain.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return plain;
    }
    let mut out = String::with_capacity(plain.len() + 16);
    for c in plain.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// pdata `AsString` of a map or slice: `json.Marshal(v.AsRaw())`, map keys sorted,
/// last duplicate wins; an unencodable float makes the whole text empty.
pub fn as_json(v: &Value) -> String {
    let mut out = String::new();
    if write(v, &mut out) {
        out
    } else {
        String::new()
    }
}

fn write(v: &Value, out: &mut String) -> bool {
    match v {
        Value::StringValue(s) => out.push_str(&string(s)),
        Value::BoolValue(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::IntValue(i) => out.push_str(&i.to_string()),
        Value::DoubleValue(d) => match float(*d) {
            Some(s) => out.push_str(&s),
            None => return false,
        },
        // A nil []byte encodes as null.
        Value::BytesValue(b) if b.is_empty() => out.push_str("null"),
        Value::BytesValue(b) => {
            out.push('"');
            out.push_str(&base64::engine::general_purpose::STANDARD.encode(b));
            out.push('"');
        }
        Value::StringValueStrindex(_) => out.push_str("null"),
        Value::ArrayValue(a) => {
            out.push('[');
            for (i, x) in a.values.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                match &x.value {
                    Some(x) if !write(x, out) => return false,
                    Some(_) => {}
                    None => out.push_str("null"),
                }
            }
            out.push(']');
        }
        Value::KvlistValue(kvs) => {
            let map: BTreeMap<&str, Option<&Value>> = kvs
                .values
                .iter()
                .map(|kv| {
                    (
                        kv.key.as_str(),
                        kv.value.as_ref().and_then(|v| v.value.as_ref()),
                    )
                })
                .collect();
            out.push('{');
            for (i, (k, x)) in map.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&string(k));
                out.push(':');
                match x {
                    Some(x) if !write(x, out) => return false,
                    Some(_) => {}
                    None => out.push_str("null"),
                }
            }
            out.push('}');
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, ArrayValue, KeyValue, KeyValueList};

    fn any(v: Value) -> AnyValue {
        AnyValue { value: Some(v) }
    }

    #[test]
    fn floats_as_encoding_json() {
        assert_eq!(float(1.0).unwrap(), "1");
        assert_eq!(float(72.5).unwrap(), "72.5");
        assert_eq!(float(1e21).unwrap(), "1e+21");
        assert_eq!(float(1e300).unwrap(), "1e+300");
        assert_eq!(float(1e-7).unwrap(), "1e-7");
        assert_eq!(float(1.5e-12).unwrap(), "1.5e-12");
        assert_eq!(float(0.000001).unwrap(), "0.000001");
        assert_eq!(float(1e20).unwrap(), "100000000000000000000");
        assert_eq!(float(-0.0).unwrap(), "-0");
        assert!(float(f64::NAN).is_none());
        assert_eq!(float_as_string(f64::NAN), "json: unsupported value: NaN");
    }

    #[test]
    fn maps_sorted_strings_escaped_nan_empties() {
        let map = Value::KvlistValue(KeyValueList {
            values: vec![
                KeyValue {
                    key: "z".into(),
                    value: Some(any(Value::StringValue("<".into()))),
                    ..Default::default()
                },
                KeyValue {
                    key: "a".into(),
                    value: Some(any(Value::BoolValue(true))),
                    ..Default::default()
                },
                KeyValue {
                    key: "a".into(),
                    value: Some(any(Value::BytesValue(vec![1, 2]))),
                    ..Default::default()
                },
            ],
        });
        assert_eq!(as_json(&map), r#"{"a":"AQI=","z":"\u003c"}"#);
        let list = Value::ArrayValue(ArrayValue {
            values: vec![
                any(Value::StringValue("a".into())),
                any(Value::IntValue(1)),
                any(Value::DoubleValue(2.0)),
                AnyValue { value: None },
            ],
        });
        assert_eq!(as_json(&list), r#"["a",1,2,null]"#);
        let nan = Value::ArrayValue(ArrayValue {
            values: vec![any(Value::DoubleValue(f64::NAN))],
        });
        assert_eq!(as_json(&nan), "");
    }
}
