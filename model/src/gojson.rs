//! JSON text as Go's `encoding/json` writes it, so that API responses match Jaeger's
//! byte for byte: `<`, `>`, `&`, U+2028 and U+2029 escaped, floats in Go's shortest
//! form (`1`, `72.5`, `1e+21`, `1e-7`), and `MarshalIndent` with four spaces.

use std::io;

use serde::Serialize;
use serde_json::ser::{CompactFormatter, Formatter, PrettyFormatter};

/// Serializes `value` as Go's `json.Marshal` (or `json.MarshalIndent(v, "", "    ")`
/// when `pretty`) would.
pub fn to_vec<T: Serialize + ?Sized>(value: &T, pretty: bool) -> serde_json::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(256);
    if pretty {
        let fmt = GoFormatter(PrettyFormatter::with_indent(b"    "));
        value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, fmt))?;
    } else {
        let fmt = GoFormatter(CompactFormatter);
        value.serialize(&mut serde_json::Serializer::with_formatter(&mut out, fmt))?;
    }
    Ok(out)
}

/// A float as `encoding/json` writes it; `None` for NaN and infinities, which Go refuses
/// to encode.
pub fn float(f: f64) -> Option<String> {
    if !f.is_finite() {
        return None;
    }
    let mut s = crate::trace::format_float(f);
    // encoding/json shortens a two-digit negative exponent: `1e-07` -> `1e-7`.
    let n = s.len();
    let b = s.as_bytes();
    if n >= 4 && b[n - 4] == b'e' && b[n - 3] == b'-' && b[n - 2] == b'0' {
        s.remove(n - 2);
    }
    Some(s)
}

/// Appends a JSON string literal (with quotes) exactly as [`string`] writes it, without
/// intermediate allocation: the streaming writers' hot path.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight plain ASCII bytes at a time: most of a span's text needs no escape.
        if let Some(word) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            if !word_may_need_escape(word) {
                i += 8;
                continue;
            }
        } else {
            // The last few bytes (all of most keys) as one word, padded with spaces.
            let mut word = [b' '; 8];
            word[..bytes.len() - i].copy_from_slice(&bytes[i..]);
            if !word_may_need_escape(u64::from_le_bytes(word)) {
                break;
            }
        }
        let b = bytes[i];
        if !NEEDS_ESCAPE[b as usize] {
            i += 1;
            continue;
        }
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'<' => b"\\u003c",
            b'>' => b"\\u003e",
            b'&' => b"\\u0026",
            // U+2028 and U+2029 are E2 80 A8 / E2 80 A9; other E2 sequences pass.
            0xE2 => match (bytes.get(i + 1), bytes.get(i + 2)) {
                (Some(0x80), Some(0xA8)) => b"\\u2028",
                (Some(0x80), Some(0xA9)) => b"\\u2029",
                _ => {
                    i += 1;
                    continue;
                }
            },
            _ => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                i += 1;
                start = i;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        i += if b == 0xE2 { 3 } else { 1 };
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes may need an escape: a control character, `"`, `\\`,
/// `<`, `>`, `&`, or a non-ASCII byte (0xE2 may start U+2028/U+2029; the byte loop
/// decides). Bit tricks from "Bit Twiddling Hacks" (haszero / hasless); a false positive
/// only sends the word through the byte loop.
#[inline]
fn word_may_need_escape(v: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let less_than_space = v.wrapping_sub(ONES * 0x20) & !v & HIGH != 0;
    v & HIGH != 0
        || less_than_space
        || has_zero(v ^ (ONES * b'"' as u64))
        || has_zero(v ^ (ONES * b'\\' as u64))
        || has_zero(v ^ (ONES * b'<' as u64))
        || has_zero(v ^ (ONES * b'>' as u64))
        || has_zero(v ^ (ONES * b'&' as u64))
}

/// Bytes that [`write_str`] cannot copy as they are: control characters, `"`, `\`,
/// Go's HTML-unsafe `<`, `>`, `&`, and 0xE2 (the lead byte of U+2028/U+2029).
const NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = true;
        i += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t[0xE2] = true;
    t
};

/// Appends an unsigned integer in decimal, two digits at a time (timestamps have 16).
pub fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    while v >= 100 {
        let d = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    }
    if v >= 10 {
        let d = v as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&DIGIT_PAIRS[d..d + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + v as u8;
    }
    out.extend_from_slice(&buf[i..]);
}

/// "00" to "99", in order.
const DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut n = 0;
    while n < 100 {
        t[2 * n] = b'0' + (n / 10) as u8;
        t[2 * n + 1] = b'0' + (n % 10) as u8;
        n += 1;
    }
    t
};

/// Appends a signed integer in decimal.
pub fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// Appends `bytes` as lowercase hex digits.
pub fn write_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // Ids are 8 or 16 bytes: one bounds check per chunk instead of one per digit.
    for chunk in bytes.chunks(16) {
        let mut buf = [0u8; 32];
        for (pair, b) in buf.chunks_exact_mut(2).zip(chunk) {
            pair[0] = HEX[(b >> 4) as usize];
            pair[1] = HEX[(b & 0xf) as usize];
        }
        out.extend_from_slice(&buf[..chunk.len() * 2]);
    }
}

/// A JSON string literal (with quotes) as Go writes it.
pub fn string(s: &str) -> String {
    let plain = serde_json::to_string(s).expect("serializing a str cannot fail");
    escape_html(&plain)
}

/// The message Go's encoder gives for an unencodable float.
pub fn unsupported_float(f: f64) -> String {
    format!("json: unsupported value: {}", crate::trace::format_float(f))
}

fn escape_html(s: &str) -> String {
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
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

/// Wraps a serde_json formatter to add Go's HTML-safe string escaping.
struct GoFormatter<F>(F);

impl<F: Formatter> Formatter for GoFormatter<F> {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        // Fast path: none of `<>&` nor the first byte of U+2028/U+2029.
        if !fragment
            .bytes()
            .any(|b| matches!(b, b'<' | b'>' | b'&' | 0xE2))
        {
            return w.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc: &[u8] = match c {
                '<' => b"\\u003c",
                '>' => b"\\u003e",
                '&' => b"\\u0026",
                '\u{2028}' => b"\\u2028",
                '\u{2029}' => b"\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc)?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn write_f64<W: ?Sized + io::Write>(&mut self, w: &mut W, value: f64) -> io::Result<()> {
        // serde_json only calls this for finite values.
        match float(value) {
            Some(s) => w.write_all(s.as_bytes()),
            None => w.write_all(b"null"),
        }
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn end_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_key(w)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_encoding_json() {
        assert_eq!(float(1.0).unwrap(), "1");
        assert_eq!(float(72.5).unwrap(), "72.5");
        assert_eq!(float(1e21).unwrap(), "1e+21");
        assert_eq!(float(1e-7).unwrap(), "1e-7");
        assert_eq!(float(1.5e-12).unwrap(), "1.5e-12");
        assert_eq!(float(0.000001).unwrap(), "0.000001");
        assert_eq!(float(-0.0).unwrap(), "-0");
        assert!(float(f64::NAN).is_none());
        assert_eq!(unsupported_float(f64::NAN), "json: unsupported value: NaN");
        assert_eq!(
            unsupported_float(f64::NEG_INFINITY),
            "json: unsupported value: -Inf"
        );
    }

    /// Go's encoding/json escaping, one character at a time.
    fn escaped_like_go(s: &str) -> String {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' => out.push_str("\\b"),
                '\u{c}' => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", c as u32))
                }
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    }

    #[test]
    fn every_escape_at_every_offset_of_a_word() {
        let specials = [
            "\"", "\\", "\n", "\r", "\t", "\u{8}", "\u{c}", "\u{0}", "\u{1f}", "<", ">", "&",
            "\u{2028}", "\u{2029}", "\u{2027}", "é", "€", "\u{7f}", " ", "~",
        ];
        for special in specials {
            for at in 0..20 {
                for len in [at, at + 1, at + 9, 24] {
                    let mut s: String = "abcdefghijklmnopqrstuvwxyz".chars().take(at).collect();
                    s.push_str(special);
                    s.extend(
                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                            .chars()
                            .take(len.saturating_sub(at)),
                    );
                    let mut out = Vec::new();
                    write_str(&mut out, &s);
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        escaped_like_go(&s),
                        "{s:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn html_escaped_strings() {
        let v = serde_json::json!({"b": "<a href=\"x\">&\u{2028}</a>", "a": [1.0, 2.5]});
        let out = String::from_utf8(to_vec(&v, false).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"a":[1,2.5],"b":"\u003ca href=\"x\"\u003e\u0026\u2028\u003c/a\u003e"}"#
        );
        assert_eq!(string("a<b"), r#""a\u003cb""#);
    }

    #[test]
    fn streaming_string_matches_serde_path() {
        let mut samples: Vec<String> = (0u32..0x80)
            .filter_map(char::from_u32)
            .map(|c| format!("a{c}b"))
            .collect();
        samples.extend(
            [
                "",
                "plain",
                "\u{2028}\u{2029}",
                "\u{2027}\u{202a}é€",
                "<a href=\"x\">&</a>",
                "\u{e2}x",
                "line\nbreak\t\u{7f}\u{1f}",
                "日本語 ✓ \u{1F600}",
            ]
            .map(str::to_string),
        );
        // Escapes at every position of the eight-byte words and of the padded tail.
        for special in ["\"", "\\", "<", "\u{2028}", "\n", "é", "\u{7f}"] {
            for n in 0..18 {
                samples.push(format!("{}{special}{}", "x".repeat(n), "y".repeat(n % 3)));
            }
        }
        for s in samples {
            let mut out = Vec::new();
            write_str(&mut out, &s);
            assert_eq!(String::from_utf8(out).unwrap(), string(&s), "{s:?}");
            let via_serde = to_vec(&s, false).unwrap();
            let mut out = Vec::new();
            write_str(&mut out, &s);
            assert_eq!(out, via_serde, "{s:?}");
        }
    }

    #[test]
    fn streaming_numbers() {
        for v in [
            0u64,
            7,
            10,
            99,
            100,
            999,
            1000,
            12345,
            1_706_678_909_209_712,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
        for v in [0i64, -1, 42, i64::MIN, i64::MAX, -9_007_199_254_740_992] {
            let mut out = Vec::new();
            write_i64(&mut out, v);
            assert_eq!(out, v.to_string().as_bytes());
        }
        let mut out = Vec::new();
        write_hex(&mut out, &[0x00, 0xab, 0x7f]);
        assert_eq!(out, b"00ab7f");
        let long: Vec<u8> = (0..40).collect();
        let mut out = Vec::new();
        write_hex(&mut out, &long);
        assert_eq!(out, hex::encode(&long).as_bytes());
    }

    #[test]
    fn pretty_uses_four_spaces_and_compact_empties() {
        let v = serde_json::json!({"data": [], "o": {}, "x": [1]});
        let out = String::from_utf8(to_vec(&v, true).unwrap()).unwrap();
        assert_eq!(
            out,
            "{\n    \"data\": [],\n    \"o\": {},\n    \"x\": [\n        1\n    ]\n}"
        );
    }
}
