//! Jaeger's Cassandra row model (storage spec §1.3–§1.6): the UDTs, the conversion of
//! Jaeger `api_v2` spans (which `jaeger_proto::convert` derives from OTLP, §0) to `traces`
//! rows and back, and the index values Jaeger's writer derives from a span.

use std::collections::BTreeSet;

use jaeger_proto::api_v2::{KeyValue, Log, Process, Span, SpanRef, SpanRefType, ValueType};
use prost::Message;
use scylla::{DeserializeValue, SerializeValue};

use crate::{Result, StorageError};

/// `keyvalue` UDT. Options because rows written by other tools may leave fields null.
#[derive(Clone, Debug, Default, PartialEq, SerializeValue, DeserializeValue)]
pub struct KeyValueUdt {
    pub key: Option<String>,
    pub value_type: Option<String>,
    pub value_string: Option<String>,
    pub value_bool: Option<bool>,
    pub value_long: Option<i64>,
    pub value_double: Option<f64>,
    pub value_binary: Option<Vec<u8>>,
}

/// `log` UDT: `ts` in µs.
#[derive(Clone, Debug, Default, PartialEq, SerializeValue, DeserializeValue)]
pub struct LogUdt {
    pub ts: Option<i64>,
    pub fields: Option<Vec<KeyValueUdt>>,
}

/// `span_ref` UDT: `ref_type` is `child-of` or `follows-from`.
#[derive(Clone, Debug, Default, PartialEq, SerializeValue, DeserializeValue)]
pub struct SpanRefUdt {
    pub ref_type: Option<String>,
    pub trace_id: Option<Vec<u8>>,
    pub span_id: Option<i64>,
}

/// `process` UDT.
#[derive(Clone, Debug, Default, PartialEq, SerializeValue, DeserializeValue)]
pub struct ProcessUdt {
    pub service_name: Option<String>,
    pub tags: Option<Vec<KeyValueUdt>>,
}

/// `dependency` UDT.
#[derive(Clone, Debug, Default, PartialEq, SerializeValue, DeserializeValue)]
pub struct DependencyUdt {
    pub parent: Option<String>,
    pub child: Option<String>,
    pub call_count: Option<i64>,
    pub source: Option<String>,
}

/// One `traces` row.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanRow {
    pub trace_id: Vec<u8>,
    pub span_id: i64,
    pub span_hash: i64,
    pub parent_id: i64,
    pub operation_name: String,
    pub flags: i32,
    pub start_time: i64,
    pub duration: i64,
    pub tags: Vec<KeyValueUdt>,
    pub logs: Vec<LogUdt>,
    pub refs: Vec<SpanRefUdt>,
    pub process: ProcessUdt,
}

const CHILD_OF: &str = "child-of";
const FOLLOWS_FROM: &str = "follows-from";

fn type_name(v_type: i32) -> &'static str {
    match ValueType::try_from(v_type) {
        Ok(ValueType::Bool) => "bool",
        Ok(ValueType::Int64) => "int64",
        Ok(ValueType::Float64) => "float64",
        Ok(ValueType::Binary) => "binary",
        _ => "string",
    }
}

/// A tag as Jaeger's gocql writer stores it: every field set, zero values for the
/// fields of the other types (a nil blob is null).
fn kv_to_udt(kv: &KeyValue) -> KeyValueUdt {
    let t = type_name(kv.v_type);
    KeyValueUdt {
        key: Some(kv.key.clone()),
        value_type: Some(t.to_string()),
        value_string: Some(if t == "string" {
            kv.v_str.clone()
        } else {
            String::new()
        }),
        value_bool: Some(t == "bool" && kv.v_bool),
        value_long: Some(if t == "int64" { kv.v_int64 } else { 0 }),
        value_double: Some(if t == "float64" { kv.v_float64 } else { 0.0 }),
        value_binary: (t == "binary").then(|| kv.v_binary.clone()),
    }
}

fn kv_from_udt(u: &KeyValueUdt) -> KeyValue {
    let mut kv = KeyValue {
        key: u.key.clone().unwrap_or_default(),
        ..Default::default()
    };
    match u.value_type.as_deref().unwrap_or("string") {
        "bool" => {
            kv.v_type = ValueType::Bool as i32;
            kv.v_bool = u.value_bool.unwrap_or(false);
        }
        "int64" => {
            kv.v_type = ValueType::Int64 as i32;
            kv.v_int64 = u.value_long.unwrap_or(0);
        }
        "float64" => {
            kv.v_type = ValueType::Float64 as i32;
            kv.v_float64 = u.value_double.unwrap_or(0.0);
        }
        "binary" => {
            kv.v_type = ValueType::Binary as i32;
            kv.v_binary = u.value_binary.clone().unwrap_or_default();
        }
        _ => kv.v_str = u.value_string.clone().unwrap_or_default(),
    }
    kv
}

/// Jaeger's sort order for tags: key, then type, then value.
fn sort_tags(tags: &mut [KeyValueUdt]) {
    tags.sort_by(|a, b| {
        (&a.key, &a.value_type)
            .cmp(&(&b.key, &b.value_type))
            .then_with(|| value_order(a, b))
    });
}

fn value_order(a: &KeyValueUdt, b: &KeyValueUdt) -> std::cmp::Ordering {
    a.value_string
        .cmp(&b.value_string)
        .then(a.value_bool.cmp(&b.value_bool))
        .then(a.value_long.cmp(&b.value_long))
        .then(
            a.value_double
                .unwrap_or(0.0)
                .total_cmp(&b.value_double.unwrap_or(0.0)),
        )
        .then(a.value_binary.cmp(&b.value_binary))
}

fn tags_to_udt(tags: &[KeyValue]) -> Vec<KeyValueUdt> {
    let mut out: Vec<KeyValueUdt> = tags.iter().map(kv_to_udt).collect();
    sort_tags(&mut out);
    out
}

fn nanos_of(t: Option<&prost_types::Timestamp>) -> i128 {
    t.map(|t| t.seconds as i128 * 1_000_000_000 + t.nanos as i128)
        .unwrap_or(0)
}

fn micros(ns: i128) -> i64 {
    (ns / 1_000).clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn id_i64(b: &[u8]) -> i64 {
    let mut a = [0u8; 8];
    if b.len() == 8 {
        a.copy_from_slice(b);
    }
    i64::from_be_bytes(a)
}

fn trace_id_16(b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 16];
    match b.len() {
        16 => out.copy_from_slice(b),
        8 => out[8..].copy_from_slice(b),
        _ => {}
    }
    out
}

/// The `traces` row of a span (which carries its process).
pub fn span_to_row(span: &Span) -> SpanRow {
    let trace_id = trace_id_16(&span.trace_id);
    // The parent is the first same-trace CHILD_OF reference (jaeger_proto puts it first).
    let parent_id = span
        .references
        .iter()
        .find(|r| r.ref_type == SpanRefType::ChildOf as i32 && trace_id_16(&r.trace_id) == trace_id)
        .map(|r| id_i64(&r.span_id))
        .unwrap_or(0);
    let mut refs: Vec<SpanRefUdt> = span
        .references
        .iter()
        .map(|r| SpanRefUdt {
            ref_type: Some(
                if r.ref_type == SpanRefType::FollowsFrom as i32 {
                    FOLLOWS_FROM
                } else {
                    CHILD_OF
                }
                .to_string(),
            ),
            trace_id: Some(trace_id_16(&r.trace_id)),
            span_id: Some(id_i64(&r.span_id)),
        })
        .collect();
    // Parent CHILD_OF first, the rest sorted (trace id, span id, type).
    let first = refs.iter().position(|r| {
        r.ref_type.as_deref() == Some(CHILD_OF)
            && r.trace_id.as_deref() == Some(&trace_id[..])
            && r.span_id == Some(parent_id)
    });
    let head = first.map(|i| refs.remove(i));
    refs.sort_by(|a, b| {
        (&a.trace_id, a.span_id.map(|s| s as u64), &a.ref_type).cmp(&(
            &b.trace_id,
            b.span_id.map(|s| s as u64),
            &b.ref_type,
        ))
    });
    if let Some(h) = head {
        refs.insert(0, h);
    }
    let mut logs: Vec<LogUdt> = span
        .logs
        .iter()
        .map(|l| LogUdt {
            ts: Some(micros(nanos_of(l.timestamp.as_ref()))),
            fields: Some(tags_to_udt(&l.fields)),
        })
        .collect();
    logs.sort_by(|a, b| {
        a.ts.cmp(&b.ts).then_with(|| {
            let (fa, fb) = (
                a.fields.as_deref().unwrap_or(&[]),
                b.fields.as_deref().unwrap_or(&[]),
            );
            for (x, y) in fa.iter().zip(fb) {
                let o = (&x.key, &x.value_type)
                    .cmp(&(&y.key, &y.value_type))
                    .then_with(|| value_order(x, y));
                if o.is_ne() {
                    return o;
                }
            }
            fa.len().cmp(&fb.len())
        })
    });
    let process = span.process.clone().unwrap_or_default();
    let duration_ns = span
        .duration
        .as_ref()
        .map(|d| d.seconds as i128 * 1_000_000_000 + d.nanos as i128)
        .unwrap_or(0);
    SpanRow {
        span_hash: span_hash(span),
        trace_id,
        span_id: id_i64(&span.span_id),
        parent_id,
        operation_name: span.operation_name.clone(),
        flags: span.flags as i32,
        start_time: micros(nanos_of(span.start_time.as_ref())),
        duration: micros(duration_ns),
        tags: tags_to_udt(&span.tags),
        logs,
        refs,
        process: ProcessUdt {
            service_name: Some(process.service_name.clone()),
            tags: Some(tags_to_udt(&process.tags)),
        },
    }
}

/// A stable 64-bit content hash of the span (Jaeger hashes Go's gob encoding, which
/// cannot be reproduced; storage spec §1.5): equal spans get equal hashes, so a
/// retried write overwrites the same row.
fn span_hash(span: &Span) -> i64 {
    xxhash_rust::xxh3::xxh3_64(&span.encode_to_vec()) as i64
}

/// The `api_v2` span of a row, with its process. The parent is `parent_id` when set
/// (current Jaeger), else the first same-trace `child-of` reference (Jaeger 1.x rows).
pub fn row_to_span(row: SpanRow) -> Result<Span> {
    if row.trace_id.len() != 16 {
        return Err(StorageError::Corrupt(format!(
            "trace_id of {} bytes in traces",
            row.trace_id.len()
        )));
    }
    let mut references: Vec<SpanRef> = row
        .refs
        .iter()
        .map(|r| SpanRef {
            trace_id: trace_id_16(r.trace_id.as_deref().unwrap_or(&[])),
            span_id: r.span_id.unwrap_or(0).to_be_bytes().to_vec(),
            ref_type: if r.ref_type.as_deref() == Some(FOLLOWS_FROM) {
                SpanRefType::FollowsFrom as i32
            } else {
                SpanRefType::ChildOf as i32
            },
        })
        .collect();
    if row.parent_id != 0 {
        let parent = row.parent_id.to_be_bytes().to_vec();
        let pos = references.iter().position(|r| {
            r.ref_type == SpanRefType::ChildOf as i32
                && r.trace_id == row.trace_id
                && r.span_id == parent
        });
        match pos {
            Some(i) => {
                let r = references.remove(i);
                references.insert(0, r);
            }
            None => references.insert(
                0,
                SpanRef {
                    trace_id: row.trace_id.clone(),
                    span_id: parent,
                    ref_type: SpanRefType::ChildOf as i32,
                },
            ),
        }
    }
    let to_ts = |us: i64| prost_types::Timestamp {
        seconds: us.div_euclid(1_000_000),
        nanos: (us.rem_euclid(1_000_000) * 1_000) as i32,
    };
    Ok(Span {
        trace_id: row.trace_id,
        span_id: row.span_id.to_be_bytes().to_vec(),
        operation_name: row.operation_name,
        references,
        flags: row.flags as u32,
        start_time: Some(to_ts(row.start_time)),
        duration: Some(prost_types::Duration {
            seconds: row.duration / 1_000_000,
            nanos: ((row.duration % 1_000_000) * 1_000) as i32,
        }),
        tags: row.tags.iter().map(kv_from_udt).collect(),
        logs: row
            .logs
            .iter()
            .map(|l| Log {
                timestamp: Some(to_ts(l.ts.unwrap_or(0))),
                fields: l.fields.iter().flatten().map(kv_from_udt).collect(),
            })
            .collect(),
        process: Some(Process {
            service_name: row.process.service_name.unwrap_or_default(),
            tags: row.process.tags.iter().flatten().map(kv_from_udt).collect(),
        }),
        process_id: String::new(),
        warnings: Vec::new(),
    })
}

/// The string value of the span's `span.kind` tag, or `""`.
pub fn span_kind(row: &SpanRow) -> &str {
    row.tags
        .iter()
        .find(|t| {
            t.key.as_deref() == Some("span.kind") && t.value_type.as_deref() == Some("string")
        })
        .and_then(|t| t.value_string.as_deref())
        .unwrap_or("")
}

/// Which tags go into `tag_index` (`index.*` options; storage spec §1.6).
#[derive(Clone, Debug, PartialEq)]
pub struct TagIndexOptions {
    pub tags: bool,
    pub process_tags: bool,
    pub logs: bool,
    /// Keys never indexed.
    pub blacklist: Vec<String>,
    /// When non-empty, the only keys indexed.
    pub whitelist: Vec<String>,
}

impl Default for TagIndexOptions {
    fn default() -> Self {
        Self {
            tags: true,
            process_tags: true,
            logs: true,
            blacklist: Vec::new(),
            whitelist: Vec::new(),
        }
    }
}

/// The `(tag_key, tag_value)` pairs Jaeger indexes for a span: process tags, span tags
/// and log fields (as the options allow), binary values dropped, duplicates removed,
/// values as strings; a pair is skipped when key or value reaches 256 bytes or the
/// value is a JSON object.
pub fn index_tags(row: &SpanRow, opts: &TagIndexOptions) -> Vec<(String, String)> {
    let mut set: BTreeSet<(String, String)> = BTreeSet::new();
    let mut add = |kv: &KeyValueUdt| {
        let key = kv.key.clone().unwrap_or_default();
        if !opts.whitelist.is_empty() && !opts.whitelist.contains(&key) {
            return;
        }
        if opts.blacklist.contains(&key) {
            return;
        }
        let value = match kv.value_type.as_deref().unwrap_or("string") {
            "binary" => return,
            "bool" => kv.value_bool.unwrap_or(false).to_string(),
            "int64" => kv.value_long.unwrap_or(0).to_string(),
            "float64" => go_g10(kv.value_double.unwrap_or(0.0)),
            _ => kv.value_string.clone().unwrap_or_default(),
        };
        if key.len() >= 256 || value.len() >= 256 {
            return;
        }
        if value.starts_with('{') && serde_json::from_str::<serde_json::Value>(&value).is_ok() {
            return;
        }
        set.insert((key, value));
    };
    if opts.process_tags {
        row.process.tags.iter().flatten().for_each(&mut add);
    }
    if opts.tags {
        row.tags.iter().for_each(&mut add);
    }
    if opts.logs {
        row.logs
            .iter()
            .flat_map(|l| l.fields.iter().flatten())
            .for_each(&mut add);
    }
    set.into_iter().collect()
}

/// Go's `strconv.FormatFloat(f, 'g', 10, 64)`: 10 significant digits, trailing zeros
/// dropped, exponent form when the exponent is < -4 or >= 10.
pub fn go_g10(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{f:.9e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} always has an exponent");
    let exp: i32 = exp.parse().expect("{:e} exponent is an integer");
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..10).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", trim(mantissa), exp.abs())
    } else {
        let decimals = (9 - exp).max(0) as usize;
        trim(&format!("{f:.decimals$}"))
    }
}

/// The `duration_index` bucket: the start time rounded to the nearest hour (Go's
/// `Time.Round(time.Hour)`, halves up), in milliseconds for the `timestamp` column.
pub fn hour_bucket_ms(start_us: i64) -> i64 {
    const HOUR_US: i64 = 3_600_000_000;
    let floor = start_us.div_euclid(HOUR_US) * HOUR_US;
    let rounded = if start_us - floor >= HOUR_US / 2 {
        floor + HOUR_US
    } else {
        floor
    };
    rounded / 1_000
}

/// Partitions per service in `service_name_index` (Jaeger's `serviceNameBuckets`).
pub const SERVICE_NAME_BUCKETS: i32 = 10;

/// The `service_name_index` bucket: the unsigned span hash modulo 10.
pub fn service_bucket(span_hash: i64) -> i32 {
    ((span_hash as u64) % SERVICE_NAME_BUCKETS as u64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_render_as_go_g10() {
        for (f, want) in [
            (72.5, "72.5"),
            (0.25, "0.25"),
            (1e21, "1e+21"),
            (1e-7, "1e-07"),
            (123456789.0, "123456789"),
            (1234567890.0, "1234567890"),
            (12345678901.0, "1.23456789e+10"),
            (0.0001, "0.0001"),
            (0.00001234, "1.234e-05"),
            (-2.5, "-2.5"),
            (1.0 / 3.0, "0.3333333333"),
            (0.0, "0"),
        ] {
            assert_eq!(go_g10(f), want, "{f}");
        }
    }

    #[test]
    fn hour_buckets_round_half_up() {
        let h = 3_600_000_000i64;
        assert_eq!(hour_bucket_ms(10 * h + h / 2 - 1), 10 * h / 1000);
        assert_eq!(hour_bucket_ms(10 * h + h / 2), 11 * h / 1000);
        assert_eq!(hour_bucket_ms(10 * h), 10 * h / 1000);
    }

    #[test]
    fn service_buckets_are_unsigned() {
        assert_eq!(service_bucket(-1), (u64::MAX % 10) as i32);
        assert_eq!(service_bucket(13), 3);
    }

    fn kv_s(k: &str, v: &str) -> KeyValue {
        KeyValue {
            key: k.into(),
            v_str: v.into(),
            ..Default::default()
        }
    }

    #[test]
    fn rows_round_trip_and_index_tags() {
        let span = Span {
            trace_id: vec![1; 16],
            span_id: vec![0xff; 8],
            operation_name: "op".into(),
            references: vec![
                SpanRef {
                    trace_id: vec![9; 16],
                    span_id: vec![3; 8],
                    ref_type: SpanRefType::FollowsFrom as i32,
                },
                SpanRef {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    ref_type: SpanRefType::ChildOf as i32,
                },
            ],
            flags: 1,
            start_time: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 5_000,
            }),
            duration: Some(prost_types::Duration {
                seconds: 1,
                nanos: 2_000,
            }),
            tags: vec![
                kv_s("z", "1"),
                kv_s("span.kind", "server"),
                KeyValue {
                    key: "b".into(),
                    v_type: ValueType::Binary as i32,
                    v_binary: vec![1],
                    ..Default::default()
                },
                KeyValue {
                    key: "f".into(),
                    v_type: ValueType::Float64 as i32,
                    v_float64: 0.5,
                    ..Default::default()
                },
                kv_s("j", "{\"a\":1}"),
            ],
            logs: vec![Log {
                timestamp: Some(prost_types::Timestamp {
                    seconds: 1_700_000_000,
                    nanos: 7_000,
                }),
                fields: vec![kv_s("event", "x")],
            }],
            process: Some(Process {
                service_name: "svc".into(),
                tags: vec![kv_s("host", "h")],
            }),
            ..Default::default()
        };
        let row = span_to_row(&span);
        assert_eq!(row.span_id, -1);
        assert_eq!(row.parent_id, 0x0202020202020202);
        assert_eq!(row.refs[0].ref_type.as_deref(), Some("child-of"));
        assert_eq!(row.start_time, 1_700_000_000_000_005);
        assert_eq!(row.duration, 1_000_002);
        assert_eq!(span_kind(&row), "server");
        let keys: Vec<_> = row.tags.iter().map(|t| t.key.clone().unwrap()).collect();
        assert_eq!(keys, ["b", "f", "j", "span.kind", "z"]);
        assert_eq!(
            index_tags(&row, &TagIndexOptions::default()),
            [
                ("event".to_string(), "x".to_string()),
                ("f".into(), "0.5".into()),
                ("host".into(), "h".into()),
                ("span.kind".into(), "server".into()),
                ("z".into(), "1".into()),
            ]
        );
        let back = row_to_span(row.clone()).unwrap();
        assert_eq!(back.references[0].span_id, vec![2; 8]);
        assert_eq!(span_to_row(&back).tags, row.tags);
        assert_eq!(back.start_time, span.start_time);
        assert_eq!(back.duration, span.duration);
        let opts = TagIndexOptions {
            whitelist: vec!["z".into()],
            ..Default::default()
        };
        assert_eq!(index_tags(&row, &opts), [("z".into(), "1".into())]);
    }
}
