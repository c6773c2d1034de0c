//! OTLP protobuf `ExportTraceServiceRequest` decoder, hand-written for the receivers' hot
//! path (OTLP gRPC, OTLP HTTP protobuf).
//!
//! It yields exactly what `prost::Message::decode` yields for the same bytes (the same
//! merge rules: a repeated optional message merges into the first, a later scalar or
//! string replaces an earlier one, a oneof message variant merges into the same variant;
//! unknown fields and groups are skipped; the same recursion limit of 100; the same
//! varint, wire-type, tag, length and UTF-8 checks), and fails wherever prost fails.
//! `tests::matches_prost_*` and the `otlp_proto` fuzz target check that differentially.
//!
//! Why not prost: prost decodes through the `Buf` trait (a `Bytes` clone and drop per
//! string and bytes field, a recursion context per message) and grows every repeated
//! field one push at a time. Here the input is one slice, and the repeated fields of
//! the hot messages (spans of a scope, attributes of a span or resource) are counted
//! first so each `Vec` is allocated once at its final size. On the bench's spans it
//! halves the decode's instructions (docs/benchmarks.md, issue #5).

use crate::otlp::collector::ExportTraceServiceRequest;
use crate::otlp::common::{ArrayValue, EntityRef, KeyValueList};
use crate::otlp::{
    AnyValue, Event, InstrumentationScope, KeyValue, Link, Resource, ResourceSpans, ScopeSpans,
    Span, Status, Value,
};

/// Why the bytes are not an `ExportTraceServiceRequest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("failed to decode Protobuf message: {0}")]
pub struct ProtoDecodeError(&'static str);

type Result<T> = std::result::Result<T, ProtoDecodeError>;

/// prost's `RECURSION_LIMIT`: nesting deeper than this fails, as it does in prost.
const RECURSION_LIMIT: u32 = 100;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const START_GROUP: u8 = 3;
const END_GROUP: u8 = 4;
const FIXED32: u8 = 5;

const INVALID_VARINT: ProtoDecodeError = ProtoDecodeError("invalid varint");
const UNDERFLOW: ProtoDecodeError = ProtoDecodeError("buffer underflow");
const WIRE_TYPE: ProtoDecodeError = ProtoDecodeError("invalid wire type");

/// Decodes one request from the whole of `buf`.
pub fn decode_request(buf: &[u8]) -> Result<ExportTraceServiceRequest> {
    let mut req = ExportTraceServiceRequest::default();
    let ctx = RECURSION_LIMIT;
    let mut r = buf;
    req.resource_spans.reserve(count_field(buf, 1));
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => {
                let mut rs = ResourceSpans::default();
                message(&mut r, wt, ctx, |b, c| resource_spans(&mut rs, b, c))?;
                req.resource_spans.push(rs);
            }
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(req)
}

/// The encoded `ResourceSpans` of a request, in order, so that they can be decoded
/// apart (a large stored trace is decoded on several threads): decoding each with
/// [`decode_resource_spans`] yields what [`decode_request`] yields, and fails where it
/// fails (with possibly another message when the input is broken in two places).
pub fn split_request(buf: &[u8]) -> Result<Vec<&[u8]>> {
    let mut out = Vec::with_capacity(count_field(buf, 1));
    let mut r = buf;
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => {
                check_wire_type(wt, LEN)?;
                out.push(len_delimited(&mut r)?);
            }
            _ => skip(&mut r, wt, tag, RECURSION_LIMIT)?,
        }
    }
    Ok(out)
}

/// Decodes one `ResourceSpans` body found by [`split_request`].
pub fn decode_resource_spans(body: &[u8]) -> Result<ResourceSpans> {
    let mut rs = ResourceSpans::default();
    // One level below the request, as `decode_request` decodes it.
    resource_spans(&mut rs, body, RECURSION_LIMIT - 1)?;
    Ok(rs)
}

fn resource_spans(rs: &mut ResourceSpans, mut r: &[u8], ctx: u32) -> Result<()> {
    rs.scope_spans.reserve(count_field(r, 2));
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => {
                let res = rs.resource.get_or_insert_with(Resource::default);
                message(&mut r, wt, ctx, |b, c| resource(res, b, c))?;
            }
            2 => {
                let mut ss = ScopeSpans::default();
                message(&mut r, wt, ctx, |b, c| scope_spans(&mut ss, b, c))?;
                rs.scope_spans.push(ss);
            }
            3 => string(&mut r, wt, &mut rs.schema_url)?,
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn resource(res: &mut Resource, mut r: &[u8], ctx: u32) -> Result<()> {
    res.attributes.reserve(count_field(r, 1));
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => key_value_into(&mut res.attributes, &mut r, wt, ctx)?,
            2 => res.dropped_attributes_count = varint_field(&mut r, wt)? as u32,
            3 => {
                let mut e = EntityRef::default();
                message(&mut r, wt, ctx, |b, c| entity_ref(&mut e, b, c))?;
                res.entity_refs.push(e);
            }
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn entity_ref(e: &mut EntityRef, mut r: &[u8], ctx: u32) -> Result<()> {
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => string(&mut r, wt, &mut e.schema_url)?,
            2 => string(&mut r, wt, &mut e.r#type)?,
            3 => {
                let mut s = String::new();
                string(&mut r, wt, &mut s)?;
                e.id_keys.push(s);
            }
            4 => {
                let mut s = String::new();
                string(&mut r, wt, &mut s)?;
                e.description_keys.push(s);
            }
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn scope_spans(ss: &mut ScopeSpans, mut r: &[u8], ctx: u32) -> Result<()> {
    ss.spans.reserve(count_field(r, 2));
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => {
                let scope = ss.scope.get_or_insert_with(InstrumentationScope::default);
                message(&mut r, wt, ctx, |b, c| instrumentation_scope(scope, b, c))?;
            }
            2 => {
                let mut span = Span::default();
                message(&mut r, wt, ctx, |b, c| span_fields(&mut span, b, c))?;
                ss.spans.push(span);
            }
            3 => string(&mut r, wt, &mut ss.schema_url)?,
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn instrumentation_scope(s: &mut InstrumentationScope, mut r: &[u8], ctx: u32) -> Result<()> {
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => string(&mut r, wt, &mut s.name)?,
            2 => string(&mut r, wt, &mut s.version)?,
            3 => key_value_into(&mut s.attributes, &mut r, wt, ctx)?,
            4 => s.dropped_attributes_count = varint_field(&mut r, wt)? as u32,
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn span_fields(span: &mut Span, mut r: &[u8], ctx: u32) -> Result<()> {
    let [attributes, events, links] = count_fields(r, [9, 11, 13]);
    span.attributes.reserve(attributes);
    span.events.reserve(events);
    span.links.reserve(links);
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => bytes(&mut r, wt, &mut span.trace_id)?,
            2 => bytes(&mut r, wt, &mut span.span_id)?,
            3 => string(&mut r, wt, &mut span.trace_state)?,
            4 => bytes(&mut r, wt, &mut span.parent_span_id)?,
            5 => string(&mut r, wt, &mut span.name)?,
            6 => span.kind = varint_field(&mut r, wt)? as i32,
            7 => span.start_time_unix_nano = fixed64(&mut r, wt)?,
            8 => span.end_time_unix_nano = fixed64(&mut r, wt)?,
            9 => key_value_into(&mut span.attributes, &mut r, wt, ctx)?,
            10 => span.dropped_attributes_count = varint_field(&mut r, wt)? as u32,
            11 => {
                let mut e = Event::default();
                message(&mut r, wt, ctx, |b, c| event(&mut e, b, c))?;
                span.events.push(e);
            }
            12 => span.dropped_events_count = varint_field(&mut r, wt)? as u32,
            13 => {
                let mut l = Link::default();
                message(&mut r, wt, ctx, |b, c| link(&mut l, b, c))?;
                span.links.push(l);
            }
            14 => span.dropped_links_count = varint_field(&mut r, wt)? as u32,
            15 => {
                let st = span.status.get_or_insert_with(Status::default);
                message(&mut r, wt, ctx, |b, c| status(st, b, c))?;
            }
            16 => span.flags = fixed32(&mut r, wt)?,
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn event(e: &mut Event, mut r: &[u8], ctx: u32) -> Result<()> {
    e.attributes.reserve(count_field(r, 3));
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => e.time_unix_nano = fixed64(&mut r, wt)?,
            2 => string(&mut r, wt, &mut e.name)?,
            3 => key_value_into(&mut e.attributes, &mut r, wt, ctx)?,
            4 => e.dropped_attributes_count = varint_field(&mut r, wt)? as u32,
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn link(l: &mut Link, mut r: &[u8], ctx: u32) -> Result<()> {
    l.attributes.reserve(count_field(r, 4));
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => bytes(&mut r, wt, &mut l.trace_id)?,
            2 => bytes(&mut r, wt, &mut l.span_id)?,
            3 => string(&mut r, wt, &mut l.trace_state)?,
            4 => key_value_into(&mut l.attributes, &mut r, wt, ctx)?,
            5 => l.dropped_attributes_count = varint_field(&mut r, wt)? as u32,
            6 => l.flags = fixed32(&mut r, wt)?,
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn status(s: &mut Status, mut r: &[u8], ctx: u32) -> Result<()> {
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            2 => string(&mut r, wt, &mut s.message)?,
            3 => s.code = varint_field(&mut r, wt)? as i32,
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

/// Appends one `KeyValue` message read from `r`.
#[inline]
fn key_value_into(out: &mut Vec<KeyValue>, r: &mut &[u8], wt: u8, ctx: u32) -> Result<()> {
    let mut kv = KeyValue::default();
    message(r, wt, ctx, |b, c| key_value(&mut kv, b, c))?;
    out.push(kv);
    Ok(())
}

fn key_value(kv: &mut KeyValue, mut r: &[u8], ctx: u32) -> Result<()> {
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => string(&mut r, wt, &mut kv.key)?,
            2 => {
                let v = kv.value.get_or_insert_with(AnyValue::default);
                message(&mut r, wt, ctx, |b, c| any_value(v, b, c))?;
            }
            3 => kv.key_strindex = varint_field(&mut r, wt)? as i32,
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn any_value(v: &mut AnyValue, mut r: &[u8], ctx: u32) -> Result<()> {
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => {
                let mut s = String::new();
                string(&mut r, wt, &mut s)?;
                v.value = Some(Value::StringValue(s));
            }
            2 => v.value = Some(Value::BoolValue(varint_field(&mut r, wt)? != 0)),
            3 => v.value = Some(Value::IntValue(varint_field(&mut r, wt)? as i64)),
            4 => v.value = Some(Value::DoubleValue(f64::from_bits(fixed64(&mut r, wt)?))),
            // A message variant merges into the same variant already there, as prost does
            // (on an error the whole request fails, so what `take` leaves does not matter).
            5 => {
                let mut a = match v.value.take() {
                    Some(Value::ArrayValue(a)) => a,
                    _ => ArrayValue::default(),
                };
                message(&mut r, wt, ctx, |b, c| array_value(&mut a, b, c))?;
                v.value = Some(Value::ArrayValue(a));
            }
            6 => {
                let mut l = match v.value.take() {
                    Some(Value::KvlistValue(l)) => l,
                    _ => KeyValueList::default(),
                };
                message(&mut r, wt, ctx, |b, c| key_value_list(&mut l, b, c))?;
                v.value = Some(Value::KvlistValue(l));
            }
            7 => {
                let mut b = Vec::new();
                bytes(&mut r, wt, &mut b)?;
                v.value = Some(Value::BytesValue(b));
            }
            8 => v.value = Some(Value::StringValueStrindex(varint_field(&mut r, wt)? as i32)),
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn array_value(a: &mut ArrayValue, mut r: &[u8], ctx: u32) -> Result<()> {
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => {
                let mut v = AnyValue::default();
                message(&mut r, wt, ctx, |b, c| any_value(&mut v, b, c))?;
                a.values.push(v);
            }
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

fn key_value_list(l: &mut KeyValueList, mut r: &[u8], ctx: u32) -> Result<()> {
    while !r.is_empty() {
        let (tag, wt) = key(&mut r)?;
        match tag {
            1 => key_value_into(&mut l.values, &mut r, wt, ctx)?,
            _ => skip(&mut r, wt, tag, ctx)?,
        }
    }
    Ok(())
}

// --- wire format ---

/// A nested message field: its body is merged by `merge` one recursion level deeper.
/// prost fails a nested message when the recursion count it was handed is 0.
#[inline(always)]
fn message(
    r: &mut &[u8],
    wt: u8,
    ctx: u32,
    merge: impl FnOnce(&[u8], u32) -> Result<()>,
) -> Result<()> {
    check_wire_type(wt, LEN)?;
    if ctx == 0 {
        return Err(ProtoDecodeError("recursion limit reached"));
    }
    let body = len_delimited(r)?;
    merge(body, ctx - 1)
}

#[inline(always)]
fn check_wire_type(wt: u8, expected: u8) -> Result<()> {
    if wt == expected {
        Ok(())
    } else {
        Err(WIRE_TYPE)
    }
}

#[inline(always)]
fn varint(r: &mut &[u8]) -> Result<u64> {
    if let Some((&b, rest)) = r.split_first()
        && b < 0x80
    {
        *r = rest;
        return Ok(u64::from(b));
    }
    varint_slow(r)
}

/// At most 10 bytes; the 10th may only carry the top bit of a u64 (as prost and
/// protobuf-go check).
fn varint_slow(r: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for (i, &b) in r.iter().take(10).enumerate() {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b < 0x80 {
            if i == 9 && b >= 0x02 {
                return Err(INVALID_VARINT);
            }
            *r = &r[i + 1..];
            return Ok(value);
        }
    }
    Err(INVALID_VARINT)
}

/// A field key: (field number, wire type).
#[inline(always)]
fn key(r: &mut &[u8]) -> Result<(u32, u8)> {
    let k = varint(r)?;
    if k > u64::from(u32::MAX) {
        return Err(ProtoDecodeError("invalid key value"));
    }
    let wt = (k & 7) as u8;
    if wt > FIXED32 {
        return Err(ProtoDecodeError("invalid wire type value"));
    }
    let tag = (k as u32) >> 3;
    if tag == 0 {
        return Err(ProtoDecodeError("invalid tag value: 0"));
    }
    Ok((tag, wt))
}

#[inline(always)]
fn len_delimited<'a>(r: &mut &'a [u8]) -> Result<&'a [u8]> {
    let len = varint(r)?;
    if len > r.len() as u64 {
        return Err(UNDERFLOW);
    }
    let (body, rest) = r.split_at(len as usize);
    *r = rest;
    Ok(body)
}

#[inline(always)]
fn varint_field(r: &mut &[u8], wt: u8) -> Result<u64> {
    check_wire_type(wt, VARINT)?;
    varint(r)
}

#[inline(always)]
fn fixed64(r: &mut &[u8], wt: u8) -> Result<u64> {
    check_wire_type(wt, FIXED64)?;
    let Some((b, rest)) = r.split_first_chunk::<8>() else {
        return Err(UNDERFLOW);
    };
    *r = rest;
    Ok(u64::from_le_bytes(*b))
}

#[inline(always)]
fn fixed32(r: &mut &[u8], wt: u8) -> Result<u32> {
    check_wire_type(wt, FIXED32)?;
    let Some((b, rest)) = r.split_first_chunk::<4>() else {
        return Err(UNDERFLOW);
    };
    *r = rest;
    Ok(u32::from_le_bytes(*b))
}

/// A string field replaces the earlier value (prost's merge of a scalar).
#[inline(always)]
fn string(r: &mut &[u8], wt: u8, out: &mut String) -> Result<()> {
    check_wire_type(wt, LEN)?;
    let b = len_delimited(r)?;
    // Keys and most values are short ASCII, for which `is_ascii` (inlined, a word at a
    // time) is several times cheaper than the general validation's setup.
    if b.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8.
        *out = unsafe { String::from_utf8_unchecked(b.to_vec()) };
        return Ok(());
    }
    let s = std::str::from_utf8(b)
        .map_err(|_| ProtoDecodeError("invalid string value: data is not UTF-8 encoded"))?;
    *out = s.to_owned();
    Ok(())
}

#[inline(always)]
fn bytes(r: &mut &[u8], wt: u8, out: &mut Vec<u8>) -> Result<()> {
    check_wire_type(wt, LEN)?;
    *out = len_delimited(r)?.to_vec();
    Ok(())
}

/// Skips an unknown field, groups included (prost checks the recursion count here too).
fn skip(r: &mut &[u8], wt: u8, tag: u32, ctx: u32) -> Result<()> {
    if ctx == 0 {
        return Err(ProtoDecodeError("recursion limit reached"));
    }
    let len = match wt {
        VARINT => {
            varint(r)?;
            0
        }
        FIXED64 => 8,
        FIXED32 => 4,
        LEN => varint(r)?,
        START_GROUP => loop {
            let (inner_tag, inner_wt) = key(r)?;
            if inner_wt == END_GROUP {
                if inner_tag != tag {
                    return Err(ProtoDecodeError("unexpected end group tag"));
                }
                break 0;
            }
            skip(r, inner_wt, inner_tag, ctx - 1)?;
        },
        _ => return Err(ProtoDecodeError("unexpected end group tag")),
    };
    if len > r.len() as u64 {
        return Err(UNDERFLOW);
    }
    *r = &r[len as usize..];
    Ok(())
}

/// How often field `tag` occurs in the message body `r`, to size its `Vec` once. Stops
/// quietly at malformed input: the decode that follows reports it.
#[inline]
fn count_field(r: &[u8], tag: u32) -> usize {
    count_fields(r, [tag])[0]
}

fn count_fields<const N: usize>(mut r: &[u8], tags: [u32; N]) -> [usize; N] {
    let mut counts = [0; N];
    while !r.is_empty() {
        let Ok((t, wt)) = key(&mut r) else { break };
        let len = match wt {
            VARINT => {
                if varint(&mut r).is_err() {
                    break;
                }
                0
            }
            FIXED64 => 8,
            FIXED32 => 4,
            LEN => match varint(&mut r) {
                Ok(len) => len,
                Err(_) => break,
            },
            // Groups are rare enough not to size for.
            _ => break,
        };
        if len > r.len() as u64 {
            break;
        }
        r = &r[len as usize..];
        if let Some(i) = tags.iter().position(|&x| x == t) {
            counts[i] += 1;
        }
    }
    counts
}

#[cfg(test)]
mod tests;
