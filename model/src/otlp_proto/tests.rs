//! Differential tests: the hand-written decoder against `prost::Message::decode` on the
//! fuzz seed corpus, on generated requests (schema-shaped random bytes with unknown
//! fields, groups, repeated optional messages, wrong wire types, bad UTF-8), on every
//! truncation and on byte mutations of them.

use super::*;
use crate::testing::Rng;
use prost::Message;

/// Same success and, on success, the same request (compared through its encoding, which
/// keeps NaN payloads and tells `None` from an empty message).
fn check(input: &[u8]) -> bool {
    let ours = decode_request(input);
    check_split(input, &ours);
    let theirs = ExportTraceServiceRequest::decode(input);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => {
            assert!(
                a.encode_to_vec() == b.encode_to_vec(),
                "different requests for {input:02x?}:\nours {a:?}\nprost {b:?}"
            );
            true
        }
        (Err(_), Err(_)) => false,
        _ => panic!("outcomes differ for {input:02x?}: ours {ours:?}, prost {theirs:?}"),
    }
}

/// Splitting a request into its resources and decoding each gives the same outcome
/// and the same resources as decoding it whole.
fn check_split(input: &[u8], whole: &Result<ExportTraceServiceRequest>) {
    let split = split_request(input).and_then(|parts| {
        parts
            .into_iter()
            .map(decode_resource_spans)
            .collect::<Result<Vec<_>>>()
    });
    match (whole, &split) {
        (Ok(a), Ok(b)) => assert!(
            a.encode_to_vec()
                == ExportTraceServiceRequest {
                    resource_spans: b.clone()
                }
                .encode_to_vec(),
            "split decoding differs for {input:02x?}"
        ),
        (Err(_), Err(_)) => {}
        _ => panic!("split outcome differs for {input:02x?}: whole {whole:?}, split {split:?}"),
    }
}

/// Every prefix, and each byte replaced by a few values.
fn check_mutations(input: &[u8], rng: &mut Rng) {
    for end in 0..input.len() {
        check(&input[..end]);
    }
    let mut m = input.to_vec();
    for i in 0..input.len() {
        for v in [0x00, 0x80, 0xff, rng.byte()] {
            m[i] = v;
            check(&m);
        }
        m[i] = input[i];
    }
}

#[derive(Clone, Copy, Debug)]
enum M {
    Req,
    ResourceSpans,
    Resource,
    EntityRef,
    ScopeSpans,
    Scope,
    Span,
    Event,
    Link,
    Status,
    KeyValue,
    AnyValue,
    Array,
    KvList,
}

#[derive(Clone, Copy, Debug)]
enum F {
    Msg(M),
    Str,
    Bytes,
    Varint,
    Fixed64,
    Fixed32,
}

fn fields(m: M) -> &'static [(u32, F)] {
    use F::*;
    match m {
        M::Req => &[(1, Msg(M::ResourceSpans))],
        M::ResourceSpans => &[(1, Msg(M::Resource)), (2, Msg(M::ScopeSpans)), (3, Str)],
        M::Resource => &[(1, Msg(M::KeyValue)), (2, Varint), (3, Msg(M::EntityRef))],
        M::EntityRef => &[(1, Str), (2, Str), (3, Str), (4, Str)],
        M::ScopeSpans => &[(1, Msg(M::Scope)), (2, Msg(M::Span)), (3, Str)],
        M::Scope => &[(1, Str), (2, Str), (3, Msg(M::KeyValue)), (4, Varint)],
        M::Span => &[
            (1, Bytes),
            (2, Bytes),
            (3, Str),
            (4, Bytes),
            (5, Str),
            (6, Varint),
            (7, Fixed64),
            (8, Fixed64),
            (9, Msg(M::KeyValue)),
            (10, Varint),
            (11, Msg(M::Event)),
            (12, Varint),
            (13, Msg(M::Link)),
            (14, Varint),
            (15, Msg(M::Status)),
            (16, Fixed32),
        ],
        M::Event => &[(1, Fixed64), (2, Str), (3, Msg(M::KeyValue)), (4, Varint)],
        M::Link => &[
            (1, Bytes),
            (2, Bytes),
            (3, Str),
            (4, Msg(M::KeyValue)),
            (5, Varint),
            (6, Fixed32),
        ],
        M::Status => &[(2, Str), (3, Varint)],
        M::KeyValue => &[(1, Str), (2, Msg(M::AnyValue)), (3, Varint)],
        M::AnyValue => &[
            (1, Str),
            (2, Varint),
            (3, Varint),
            (4, Fixed64),
            (5, Msg(M::Array)),
            (6, Msg(M::KvList)),
            (7, Bytes),
            (8, Varint),
        ],
        M::Array => &[(1, Msg(M::AnyValue))],
        M::KvList => &[(1, Msg(M::KeyValue))],
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_key(out: &mut Vec<u8>, tag: u32, wt: u8) {
    put_varint(out, (u64::from(tag) << 3) | u64::from(wt));
}

fn put_len(out: &mut Vec<u8>, body: &[u8]) {
    put_varint(out, body.len() as u64);
    out.extend_from_slice(body);
}

/// `body` as a message's one length-delimited field `tag`.
fn len_field(tag: u32, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_key(&mut out, tag, LEN);
    put_len(&mut out, body);
    out
}

/// A request of one resource of one scope holding the one span `span` (its body).
fn request_with_span(span: &[u8]) -> Vec<u8> {
    len_field(1, &len_field(2, &len_field(2, span)))
}

/// Generates the body of message `m`. `bad` is the percentage of fields written wrongly
/// (wrong wire type, invalid UTF-8, short fixed fields, stray end groups).
fn gen_message(m: M, rng: &mut Rng, depth: u32, bad: u64) -> Vec<u8> {
    let mut out = Vec::new();
    let n = match m {
        M::Req => 1 + rng.below(3),
        M::Span => 4 + rng.below(14),
        _ if depth > 7 => rng.below(2),
        _ => rng.below(6),
    };
    let fs = fields(m);
    for _ in 0..n {
        if rng.chance(8) {
            gen_unknown(&mut out, rng, depth, bad);
            continue;
        }
        let (tag, f) = fs[rng.below(fs.len() as u64) as usize];
        if rng.chance(bad) {
            // A known field with the wrong wire type, or a broken value.
            match rng.below(4) {
                0 => {
                    let wt = [VARINT, FIXED64, LEN, FIXED32][rng.below(4) as usize];
                    put_key(&mut out, tag, wt);
                    gen_value_of_wire_type(&mut out, wt, rng);
                }
                1 => {
                    put_key(&mut out, tag, LEN);
                    put_len(&mut out, &[0x61, 0xff, 0xfe]);
                }
                2 => {
                    put_key(&mut out, tag, END_GROUP);
                }
                _ => {
                    put_key(&mut out, tag, LEN);
                    put_varint(&mut out, 200);
                }
            }
            continue;
        }
        match f {
            F::Msg(inner) => {
                put_key(&mut out, tag, LEN);
                let body = if depth > 9 {
                    Vec::new()
                } else {
                    gen_message(inner, rng, depth + 1, bad)
                };
                put_len(&mut out, &body);
            }
            F::Str => {
                put_key(&mut out, tag, LEN);
                let s: &[u8] = match rng.below(5) {
                    0 => b"",
                    1 => "héllo wörld ✓".as_bytes(),
                    2 => b"service.name",
                    3 => b"GET /api/v1/resource-7",
                    _ => b"x",
                };
                put_len(&mut out, s);
            }
            F::Bytes => {
                put_key(&mut out, tag, LEN);
                let len = [0, 8, 16, 3, 17][rng.below(5) as usize];
                let b: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
                put_len(&mut out, &b);
            }
            F::Varint => {
                put_key(&mut out, tag, VARINT);
                let v = match rng.below(4) {
                    0 => rng.below(4),
                    1 => rng.next_u64(),
                    2 => u64::MAX,
                    _ => rng.below(1 << 33),
                };
                put_varint(&mut out, v);
            }
            F::Fixed64 => {
                put_key(&mut out, tag, FIXED64);
                let v = if rng.chance(10) {
                    f64::NAN.to_bits()
                } else {
                    rng.next_u64()
                };
                out.extend_from_slice(&v.to_le_bytes());
            }
            F::Fixed32 => {
                put_key(&mut out, tag, FIXED32);
                out.extend_from_slice(&(rng.next_u64() as u32).to_le_bytes());
            }
        }
    }
    out
}

fn gen_value_of_wire_type(out: &mut Vec<u8>, wt: u8, rng: &mut Rng) {
    match wt {
        VARINT => put_varint(out, rng.next_u64() >> rng.below(64)),
        FIXED64 => out.extend_from_slice(&rng.next_u64().to_le_bytes()),
        FIXED32 => out.extend_from_slice(&(rng.next_u64() as u32).to_le_bytes()),
        _ => {
            let b: Vec<u8> = (0..rng.below(6)).map(|_| rng.byte()).collect();
            put_len(out, &b);
        }
    }
}

/// An unknown field (a field number the message does not have), groups included.
fn gen_unknown(out: &mut Vec<u8>, rng: &mut Rng, depth: u32, bad: u64) {
    let tag = [17, 99, 1000, (1 << 29) - 1][rng.below(4) as usize];
    let wt = [VARINT, FIXED64, LEN, START_GROUP, FIXED32][rng.below(5) as usize];
    put_key(out, tag, wt);
    if wt == START_GROUP {
        for _ in 0..rng.below(3) {
            if depth < 8 && rng.chance(30) {
                gen_unknown(out, rng, depth + 1, bad);
            } else {
                let inner = [VARINT, FIXED64, LEN, FIXED32][rng.below(4) as usize];
                put_key(out, 1 + rng.below(20) as u32, inner);
                gen_value_of_wire_type(out, inner, rng);
            }
        }
        // Now and then the wrong closing tag.
        let close = if rng.chance(bad) { tag + 1 } else { tag };
        put_key(out, close, END_GROUP);
    } else {
        gen_value_of_wire_type(out, wt, rng);
    }
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/otlp_proto");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the fuzz seed corpus is checked in")
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| std::fs::read(p).expect("seed file"))
        .collect()
}

#[test]
fn matches_prost_on_the_fuzz_seed_corpus_and_its_mutations() {
    let seeds = corpus();
    assert!(!seeds.is_empty());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for seed in &seeds {
        assert!(check(seed), "a seed decodes");
        check_mutations(seed, &mut rng);
    }
}

#[test]
fn matches_prost_on_generated_requests() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let (mut ok, mut err) = (0, 0);
    for i in 0..3000 {
        let bad = if i % 3 == 0 { 0 } else { 2 };
        let input = gen_message(M::Req, &mut rng, 0, bad);
        if check(&input) {
            ok += 1;
        } else {
            err += 1;
        }
        // Mutations of a few, to reach the error paths at every position.
        if i % 50 == 0 && input.len() < 4000 {
            check_mutations(&input, &mut rng);
        }
    }
    // Both paths are exercised.
    assert!(ok > 1000 && err > 200, "ok {ok}, err {err}");
}

#[test]
fn matches_prost_on_random_bytes() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let len = rng.below(40) as usize;
        let input: Vec<u8> = (0..len).map(|_| rng.byte()).collect();
        check(&input);
    }
}

/// AnyValue → ArrayValue → AnyValue … costs two recursion levels per array; prost's limit
/// (100) must fail at exactly the same depth here.
#[test]
fn recursion_limit_is_prost_s() {
    let mut decided = (false, false);
    for arrays in 40..56 {
        let mut any = Vec::new();
        put_key(&mut any, 3, VARINT);
        put_varint(&mut any, 7);
        for _ in 0..arrays {
            any = len_field(5, &len_field(1, &any));
        }
        // A span attribute (field 9) whose value (field 2) is the nested array.
        let req = request_with_span(&len_field(9, &len_field(2, &any)));
        if check(&req) {
            decided.0 = true;
        } else {
            decided.1 = true;
        }
        // An unknown group at the innermost level counts too.
        let mut group = Vec::new();
        put_key(&mut group, 77, START_GROUP);
        put_key(&mut group, 77, END_GROUP);
        let grouped = [req, len_field(1, &group)].concat();
        check(&grouped);
    }
    assert_eq!(decided, (true, true), "both sides of the limit were tried");
}

#[test]
fn errors_name_the_problem() {
    let err = |b: &[u8]| decode_request(b).expect_err("invalid").to_string();
    assert_eq!(
        err(&[0x0a, 0x05, 0xff]),
        "failed to decode Protobuf message: buffer underflow"
    );
    assert!(err(&[0x00]).contains("invalid tag value: 0"));
    assert!(err(&[0x08, 0x01]).contains("invalid wire type"));
    assert!(err(&[0x0f]).contains("invalid wire type value"));
    assert!(err(&[0x14]).contains("unexpected end group tag"));
    // An 11-byte varint, and a 10-byte one past u64.
    assert!(err(&[0xf8; 11]).contains("invalid varint"));
    let mut long = vec![0xf8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
    assert!(err(&long).contains("invalid varint"));
    long[9] = 0x01;
    long.extend_from_slice(&[0x00]);
    check(&long);
    // Bad UTF-8 in a span name.
    let req = request_with_span(&len_field(5, &[0xc3, 0x28]));
    assert!(err(&req).contains("not UTF-8"));
}
