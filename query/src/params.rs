//! Parameter parsing for every route, with Jaeger's defaults and Go's error wording
//! (`strconv`, `time`, `encoding/json`), so that clients see the messages they expect.

use std::collections::BTreeMap;

use jaeger_model::TraceId;
use jaeger_storage::{GetTraceParams, TraceQuery};

/// A bad parameter; the message is what the client is shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ParamError(pub String);

type Result<T, E = ParamError> = std::result::Result<T, E>;

/// Default trace search window: now − 2 days.
pub const DEFAULT_SEARCH_LOOKBACK_NANOS: i64 = 2 * 24 * 3600 * 1_000_000_000;
/// Default trace search limit (v1 `limit`, api_v3 `searchDepth`).
pub const DEFAULT_SEARCH_LIMIT: usize = 100;
/// Default dependencies lookback: 24h.
pub const DEFAULT_DEPENDENCIES_LOOKBACK_NANOS: i64 = 24 * 3600 * 1_000_000_000;

const MICROS: i64 = 1_000;
const MILLIS: i64 = 1_000_000;

/// The URL query, parsed as Go's `url.ParseQuery`: pairs split on `&`, pairs with a `;`
/// or a bad `%` escape dropped, `+` read as a space.
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        let mut pairs = Vec::new();
        for part in raw.unwrap_or("").split('&') {
            if part.is_empty() || part.contains(';') {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            if let (Some(k), Some(v)) = (query_unescape(k), query_unescape(v)) {
                pairs.push((k, v));
            }
        }
        Query { pairs }
    }

    /// The first value of `key`, or `""` (Go's `FormValue`).
    pub fn get(&self, key: &str) -> &str {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every value of `key`, in order.
    pub fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.pairs
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first non-empty value among a canonical name and its aliases.
    pub fn get_any(&self, keys: &[&str]) -> &str {
        keys.iter()
            .map(|k| self.get(k))
            .find(|v| !v.is_empty())
            .unwrap_or("")
    }

    /// `prettyPrint` set to anything but `""` or `"false"`.
    pub fn pretty(&self) -> bool {
        let v = self.get("prettyPrint");
        !v.is_empty() && v != "false"
    }
}

/// Go's `url.QueryUnescape`; `None` for a bad escape.
pub fn query_unescape(s: &str) -> Option<String> {
    unescape(s, true)
}

/// Go's `url.PathUnescape`; `None` for a bad escape.
pub fn path_unescape(s: &str) -> Option<String> {
    unescape(s, false)
}

fn unescape(s: &str, plus_is_space: bool) -> Option<String> {
    if !s.contains(['%', '+']) {
        return Some(s.to_string());
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' => {
                let hex = b.get(i + 1..i + 3)?;
                let hi = (hex[0] as char).to_digit(16)?;
                let lo = (hex[1] as char).to_digit(16)?;
                out.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

// ---------------------------------------------------------------------------------
// Go's strconv, time and encoding/json, as far as the error texts go.

/// `strconv.Quote` for the characters a query value can hold.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The `time` package's own quoting: non-ASCII bytes as `\xNN`.
fn time_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if !c.is_ascii() || (c as u32) < 0x20 {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("\\x{b:02x}"));
            }
        } else {
            if c == '"' || c == '\\' {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out.push('"');
    out
}

/// `strconv.ParseInt(s, 10, bits)` (`func` names the Go function in the message).
pub fn go_parse_int(s: &str, bits: u32, func: &str) -> Result<i64, String> {
    let syntax = || format!("strconv.{func}: parsing {}: invalid syntax", go_quote(s));
    let range = || {
        format!(
            "strconv.{func}: parsing {}: value out of range",
            go_quote(s)
        )
    };
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(syntax());
    }
    // ParseUint: stops at the first bad digit or at the first overflow.
    let max_val: u64 = if bits >= 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    let cutoff = u64::MAX / 10 + 1;
    let mut n: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(syntax());
        }
        if n >= cutoff {
            return Err(range());
        }
        n *= 10;
        let n1 = n.wrapping_add((b - b'0') as u64);
        if n1 < n || n1 > max_val {
            return Err(range());
        }
        n = n1;
    }
    let limit = 1u64 << (bits.min(64) - 1);
    if (!neg && n >= limit) || (neg && n > limit) {
        return Err(range());
    }
    Ok(if neg {
        (n as i64).wrapping_neg()
    } else {
        n as i64
    })
}

/// `strconv.ParseBool`.
pub fn go_parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Ok(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Ok(false),
        _ => Err(format!(
            "strconv.ParseBool: parsing {}: invalid syntax",
            go_quote(s)
        )),
    }
}

/// `time.ParseDuration`, in nanoseconds.
pub fn go_parse_duration(s: &str) -> Result<i64, String> {
    jaeger_config::parse_go_duration_nanos(s)
}

/// `json.Unmarshal` into a `map[string]string`: an object whose values are strings
/// (`null` reads as `""`). Go's syntax error texts are approximated.
pub fn go_json_string_map(s: &str) -> Result<BTreeMap<String, String>, String> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| go_json_syntax_error(s, &e))?;
    let obj = match v {
        serde_json::Value::Null => return Ok(BTreeMap::new()),
        serde_json::Value::Object(o) => o,
        other => {
            return Err(format!(
                "json: cannot unmarshal {} into Go value of type map[string]string",
                json_kind(&other)
            ));
        }
    };
    let mut out = BTreeMap::new();
    for (k, v) in obj {
        match v {
            serde_json::Value::String(s) => {
                out.insert(k, s);
            }
            serde_json::Value::Null => {
                out.insert(k, String::new());
            }
            other => {
                return Err(format!(
                    "json: cannot unmarshal {} into Go value of type string",
                    json_kind(&other)
                ));
            }
        }
    }
    Ok(out)
}

pub(crate) fn json_kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "bool",
        serde_json::Value::Number(_) => "number",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        serde_json::Value::Object(_) => "object",
    }
}

pub(crate) fn go_json_syntax_error(s: &str, e: &serde_json::Error) -> String {
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    // Locate the offending character from serde's 1-based line and column.
    let offset = s
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        + e.column().saturating_sub(1);
    let c = s.get(offset..).and_then(|r| r.chars().next());
    match c {
        Some(c) => {
            let q = match c {
                '\'' => "'\\''".to_string(),
                '"' => "'\"'".to_string(),
                c => {
                    let q = go_quote(&c.to_string());
                    format!("'{}'", &q[1..q.len() - 1])
                }
            };
            let context = if e.line() == 1 && offset == 0 {
                "looking for beginning of value"
            } else {
                match serde_json::from_str::<serde_json::Value>(&s[..offset]) {
                    Ok(_) => "after top-level value",
                    Err(_) => "looking for beginning of value",
                }
            };
            format!("invalid character {q} {context}")
        }
        None => "unexpected end of JSON input".into(),
    }
}

/// The layout Go's `time.RFC3339Nano` names in its errors.
const RFC3339_NANO: &str = "2006-01-02T15:04:05.999999999Z07:00";

/// `time.Parse(time.RFC3339Nano, s)`, as nanoseconds since the epoch, with Go's errors.
pub fn go_parse_rfc3339(value: &str) -> Result<i128, String> {
    let cannot = |elem: &str, layout_elem: &str| {
        format!(
            "parsing time {} as {}: cannot parse {} as {}",
            time_quote(value),
            time_quote(RFC3339_NANO),
            time_quote(elem),
            time_quote(layout_elem)
        )
    };
    let message = |msg: &str| format!("parsing time {}{msg}", time_quote(value));
    // Go's getnum: one or two digits (`fixed` requires two).
    let getnum = |s: &[u8], fixed: bool| -> Option<(i64, usize)> {
        let digit = |i: usize| {
            s.get(i)
                .filter(|c| c.is_ascii_digit())
                .map(|c| (c - b'0') as i64)
        };
        let first = digit(0)?;
        match digit(1) {
            Some(second) => Some((first * 10 + second, 2)),
            None => (!fixed).then_some((first, 1)),
        }
    };

    let mut v = value;
    // Year: exactly four digits.
    if v.len() < 4 || !v.as_bytes()[..4].iter().all(u8::is_ascii_digit) || !v.is_char_boundary(4) {
        return Err(cannot(v, "2006"));
    }
    let year: i64 = v[..4].parse().map_err(|_| cannot(v, "2006"))?;
    v = &v[4..];

    let mut fields = [0i64; 5]; // month, day, hour, minute, second
    /// (literal prefix, layout element, two digits required, (max, name) range check)
    type Chunk = (
        &'static str,
        &'static str,
        bool,
        Option<(i64, &'static str)>,
    );
    let chunks: [Chunk; 5] = [
        ("-", "01", true, Some((12, "month"))),
        ("-", "02", true, None),
        ("T", "15", false, Some((23, "hour"))),
        (":", "04", true, Some((59, "minute"))),
        (":", "05", true, Some((59, "second"))),
    ];
    for (i, (prefix, layout_elem, fixed, range)) in chunks.iter().enumerate() {
        v = v.strip_prefix(prefix).ok_or_else(|| cannot(v, prefix))?;
        let (n, used) = getnum(v.as_bytes(), *fixed).ok_or_else(|| cannot(v, layout_elem))?;
        v = &v[used..];
        if let Some((max, name)) = range {
            let min = if i == 0 { 1 } else { 0 };
            if n < min || n > *max {
                return Err(message(&format!(": {name} out of range")));
            }
        }
        fields[i] = n;
    }
    let [month, day, hour, minute, second] = fields;

    // Fractional seconds: optional, any number of digits, only nine kept.
    let mut nanos: i64 = 0;
    let b = v.as_bytes();
    if b.len() >= 2 && (b[0] == b'.' || b[0] == b',') && b[1].is_ascii_digit() {
        let n = 1 + b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        let kept = &v[1..n.min(10)];
        nanos = kept.parse::<i64>().map_err(|_| cannot(v, ".999999999"))?
            * 10i64.pow(9 - kept.len() as u32);
        v = &v[n..];
    }

    // Zone: `Z` or ±hh:mm.
    let mut offset_secs: i64 = 0;
    if let Some(rest) = v.strip_prefix('Z') {
        v = rest;
    } else {
        let b = v.as_bytes();
        if b.len() < 6 || b[3] != b':' || !v.is_char_boundary(6) {
            return Err(cannot(v, "Z07:00"));
        }
        let (hh, _) = getnum(&b[1..3], true).ok_or_else(|| cannot(v, "Z07:00"))?;
        let (mm, _) = getnum(&b[4..6], true).ok_or_else(|| cannot(v, "Z07:00"))?;
        let sign = match b[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(cannot(v, "Z07:00")),
        };
        if hh > 24 {
            return Err(message(": time zone offset hour out of range"));
        }
        if mm > 60 {
            return Err(message(": time zone offset minute out of range"));
        }
        offset_secs = sign * (hh * 3600 + mm * 60);
        v = &v[6..];
    }
    if !v.is_empty() {
        return Err(message(&format!(": extra text: {}", time_quote(v))));
    }
    if day < 1 || day > days_in(month, year) {
        return Err(message(": day out of range"));
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    Ok(secs as i128 * 1_000_000_000 + nanos as i128)
}

fn days_in(month: i64, year: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nanoseconds since the epoch, now.
pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A signed Go time (ns) as the storage seam's unsigned nanoseconds.
fn to_seam(ns: i64) -> u64 {
    ns.max(0) as u64
}

fn parse_error(name: &str, err: String) -> ParamError {
    ParamError(format!("unable to parse param '{name}': {err}"))
}

/// Go's `parseTime`: an integer count of `unit` nanoseconds, or the default.
fn parse_time(q: &Query, name: &str, unit: i64, default: i64) -> Result<i64> {
    let v = q.get(name);
    if v.is_empty() {
        return Ok(default);
    }
    let t = go_parse_int(v, 64, "ParseInt").map_err(|e| parse_error(name, e))?;
    // time.Duration(t) * unit wraps like Go's int64 multiplication.
    Ok(t.wrapping_mul(unit))
}

fn parse_raw(q: &Query) -> Result<bool> {
    let v = q.get("raw");
    if v.is_empty() {
        return Ok(false);
    }
    go_parse_bool(v).map_err(|e| parse_error("raw", e))
}

// ---------------------------------------------------------------------------------
// /api (v1 JSON)

/// `GET /api/traces/{traceID}`.
#[derive(Debug, Clone, PartialEq)]
pub struct GetTrace {
    pub params: GetTraceParams,
    pub raw: bool,
}

impl GetTrace {
    /// `id` is the path segment, already unescaped.
    pub fn parse(id: &str, q: &Query) -> Result<Self> {
        let trace_id = TraceId::parse_hex_or_base64(id).map_err(|e| ParamError(e.to_string()))?;
        let window = |name: &str| -> Result<Option<u64>> {
            if q.get(name).is_empty() {
                return Ok(None);
            }
            Ok(Some(to_seam(parse_time(q, name, MICROS, 0)?)))
        };
        let start = window("start")?;
        let end = window("end")?;
        Ok(GetTrace {
            params: GetTraceParams {
                trace_id,
                start,
                end,
            },
            raw: parse_raw(q)?,
        })
    }
}

/// `GET /api/traces`: a search, or a multi-get when `traceID` is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub query: TraceQuery,
    /// When non-empty the search fields are ignored and each id is fetched.
    pub trace_ids: Vec<TraceId>,
    pub raw: bool,
}

impl Search {
    pub fn parse(q: &Query, now: i64) -> Result<Self> {
        let service = q.get("service");
        let operation = q.get("operation");
        let start = parse_time(q, "start", MICROS, now - DEFAULT_SEARCH_LOOKBACK_NANOS)?;
        let end = parse_time(q, "end", MICROS, now)?;

        let mut tags: BTreeMap<String, String> = BTreeMap::new();
        for tag in q.all("tag") {
            let Some((k, v)) = tag.split_once(':') else {
                return Err(ParamError(format!(
                    "malformed 'tag' parameter, expecting key:value, received: {tag}"
                )));
            };
            tags.insert(k.to_string(), v.to_string());
        }
        // JSON tags are applied after `tag`, so they win on a duplicate key.
        for json in q.all("tags") {
            let map = go_json_string_map(json).map_err(|e| {
                ParamError(format!(
                    "malformed 'tags' parameter, cannot unmarshal JSON: {e}"
                ))
            })?;
            tags.extend(map);
        }

        let limit = match q.get("limit") {
            "" => DEFAULT_SEARCH_LIMIT as i64,
            // The bare strconv message, without the "unable to parse param" prefix.
            v => go_parse_int(v, 32, "ParseInt").map_err(ParamError)?,
        };

        let duration = |name: &str| -> Result<i64> {
            match q.get(name) {
                "" => Ok(0),
                v => go_parse_duration(v).map_err(|e| parse_error(name, e)),
            }
        };
        let min_duration = duration("minDuration")?;
        let max_duration = duration("maxDuration")?;

        let mut trace_ids = Vec::new();
        for id in q.all("traceID") {
            let id = TraceId::parse_hex(id)
                .map_err(|e| ParamError(format!("cannot parse traceID param: {e}")))?;
            trace_ids.push(id);
        }
        let raw = parse_raw(q)?;

        if trace_ids.is_empty() && service.is_empty() {
            return Err(ParamError("parameter 'service' is required".into()));
        }
        if min_duration != 0 && max_duration != 0 && max_duration < min_duration {
            return Err(ParamError(
                "'maxDuration' should be greater than 'minDuration'".into(),
            ));
        }

        let query = TraceQuery {
            service_name: (!service.is_empty()).then(|| service.to_string()),
            operation_name: (!operation.is_empty()).then(|| operation.to_string()),
            tags: tags.into_iter().collect(),
            start_time_min: to_seam(start),
            start_time_max: to_seam(end),
            duration_min: (min_duration > 0).then_some(min_duration as u64),
            // A negative maximum matches nothing, as in Jaeger's stores.
            duration_max: (max_duration != 0).then_some(max_duration.max(0) as u64),
            // Jaeger's stores read a non-positive limit as their default.
            num_traces: if limit > 0 {
                limit as usize
            } else {
                DEFAULT_SEARCH_LIMIT
            },
        };
        Ok(Search {
            query,
            trace_ids,
            raw,
        })
    }

    /// The window each multi-get id is fetched with (a hint for storage).
    pub fn get_params(&self, trace_id: TraceId) -> GetTraceParams {
        GetTraceParams {
            trace_id,
            start: Some(self.query.start_time_min),
            end: Some(self.query.start_time_max),
        }
    }
}

/// `GET /api/dependencies`.
#[derive(Debug, Clone, PartialEq)]
pub struct Dependencies {
    pub end: u64,
    pub lookback: u64,
    pub service: String,
}

impl Dependencies {
    pub fn parse(q: &Query, now: i64) -> Result<Self> {
        let end = parse_time(q, "endTs", MILLIS, now)?;
        let lookback = parse_time(q, "lookback", MILLIS, DEFAULT_DEPENDENCIES_LOOKBACK_NANOS)?;
        Ok(Dependencies {
            end: to_seam(end),
            lookback: to_seam(lookback),
            service: q.get("service").to_string(),
        })
    }
}

// ---------------------------------------------------------------------------------
// /api/metrics

/// Default metrics window: 1h back from `endTs`.
pub const DEFAULT_METRICS_LOOKBACK_NANOS: i64 = 3600 * 1_000_000_000;
/// Default metrics step: 5s.
pub const DEFAULT_METRICS_STEP_NANOS: i64 = 5 * 1_000_000_000;
/// Default rate window: 10m.
pub const DEFAULT_METRICS_RATE_PER_NANOS: i64 = 600 * 1_000_000_000;

/// The span kinds the metrics routes take (`SPAN_KIND_<NAME>`).
const METRICS_SPAN_KINDS: [&str; 6] = [
    "UNSPECIFIED",
    "INTERNAL",
    "SERVER",
    "CLIENT",
    "PRODUCER",
    "CONSUMER",
];

/// `GET /api/metrics/{latencies,calls,errors}` (query spec §1.10).
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    pub services: Vec<String>,
    /// Only for latencies.
    pub quantile: Option<f64>,
    pub group_by_operation: bool,
    /// `SPAN_KIND_SERVER` and the like.
    pub span_kinds: Vec<String>,
    /// Nanoseconds since the epoch.
    pub end: i64,
    pub lookback: i64,
    pub step: i64,
    pub rate_per: i64,
}

impl Metrics {
    /// Checks in Jaeger's order: `quantile` (latencies only) first, then the others.
    pub fn parse(q: &Query, latencies: bool, now: i64) -> Result<Self> {
        let quantile = if latencies {
            Some(go_parse_float(q.get("quantile")).map_err(|e| parse_error("quantile", e))?)
        } else {
            None
        };
        let services: Vec<String> = q.all("service").map(str::to_string).collect();
        if services.is_empty() {
            return Err(parse_error(
                "service",
                "please provide at least one service name".into(),
            ));
        }
        let group_by_operation = match q.get("groupByOperation") {
            "" => false,
            v => go_parse_bool(v).map_err(|e| parse_error("groupByOperation", e))?,
        };
        let mut span_kinds: Vec<String> = Vec::new();
        for k in q.all("spanKind") {
            let name = k.to_uppercase();
            if !METRICS_SPAN_KINDS.contains(&name.as_str()) {
                return Err(parse_error(
                    "spanKind",
                    format!("unsupported span kind: '{k}'"),
                ));
            }
            span_kinds.push(format!("SPAN_KIND_{name}"));
        }
        if span_kinds.is_empty() {
            span_kinds.push("SPAN_KIND_SERVER".into());
        }
        Ok(Metrics {
            services,
            quantile,
            group_by_operation,
            span_kinds,
            end: parse_time(q, "endTs", MILLIS, now)?,
            lookback: parse_time(q, "lookback", MILLIS, DEFAULT_METRICS_LOOKBACK_NANOS)?,
            step: parse_time(q, "step", MILLIS, DEFAULT_METRICS_STEP_NANOS)?,
            rate_per: parse_time(q, "ratePer", MILLIS, DEFAULT_METRICS_RATE_PER_NANOS)?,
        })
    }
}

/// `strconv.ParseFloat(s, 64)`: decimal with optional exponent, `inf`, `infinity`,
/// `nan` (any case); overflow is a range error. Hex floats are not accepted.
pub fn go_parse_float(s: &str) -> Result<f64, String> {
    let syntax = || {
        format!(
            "strconv.ParseFloat: parsing {}: invalid syntax",
            go_quote(s)
        )
    };
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = unsigned.to_ascii_lowercase();
    let special = matches!(lower.as_str(), "inf" | "infinity" | "nan");
    // Go takes no sign before NaN, and Rust's parser takes forms Go does not.
    if (lower == "nan" && unsigned.len() != s.len())
        || (!special
            && !unsigned
                .bytes()
                .all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')))
    {
        return Err(syntax());
    }
    let v: f64 = s.parse().map_err(|_| syntax())?;
    if v.is_infinite() && !special {
        return Err(format!(
            "strconv.ParseFloat: parsing {}: value out of range",
            go_quote(s)
        ));
    }
    Ok(v)
}

// ---------------------------------------------------------------------------------
// /api/v3

fn malformed(name: &str, err: String) -> ParamError {
    ParamError(format!("malformed parameter {name}: {err}"))
}

fn v3_time(q: &Query, names: &[&str]) -> Result<Option<u64>> {
    match q.get_any(names) {
        "" => Ok(None),
        v => go_parse_rfc3339(v)
            .map(|ns| Some(ns.clamp(0, u64::MAX as i128) as u64))
            .map_err(|e| malformed(names[0], e)),
    }
}

fn v3_bool(q: &Query, names: &[&str]) -> Result<bool> {
    match q.get_any(names) {
        "" => Ok(false),
        v => go_parse_bool(v).map_err(|e| malformed(names[0], e)),
    }
}

/// `GET /api/v3/traces/{trace_id}`.
pub fn v3_get_trace(id: &str, q: &Query) -> Result<GetTrace> {
    let trace_id =
        TraceId::parse_hex_or_base64(id).map_err(|e| malformed("trace_id", e.to_string()))?;
    let start = v3_time(q, &["startTime", "start_time"])?;
    let end = v3_time(q, &["endTime", "end_time"])?;
    let raw = v3_bool(q, &["rawTraces", "raw_traces"])?;
    Ok(GetTrace {
        params: GetTraceParams {
            trace_id,
            start,
            end,
        },
        raw,
    })
}

/// `GET /api/v3/traces` and `/api/v3/trace-summaries`.
pub fn v3_search(q: &Query) -> Result<(TraceQuery, bool)> {
    const MIN: &[&str] = &["query.startTimeMin", "query.start_time_min"];
    const MAX: &[&str] = &["query.startTimeMax", "query.start_time_max"];
    if q.get_any(MIN).is_empty() || q.get_any(MAX).is_empty() {
        return Err(ParamError(
            "query.startTimeMin and query.startTimeMax are required".into(),
        ));
    }
    let min = v3_time(q, MIN)?.unwrap_or(0);
    let max = v3_time(q, MAX)?.unwrap_or(0);
    if max < min {
        return Err(ParamError(
            "query.startTimeMin must be before query.startTimeMax".into(),
        ));
    }
    let depth_names = &[
        "query.searchDepth",
        "query.search_depth",
        "query.num_traces",
    ];
    let depth = match q.get_any(depth_names) {
        "" => DEFAULT_SEARCH_LIMIT as i64,
        v => go_parse_int(v, 64, "Atoi").map_err(|e| malformed(depth_names[0], e))?,
    };
    let duration = |names: &[&str]| -> Result<i64> {
        match q.get_any(names) {
            "" => Ok(0),
            v => go_parse_duration(v).map_err(|e| malformed(names[0], e)),
        }
    };
    let dmin = duration(&["query.durationMin", "query.duration_min"])?;
    let dmax = duration(&["query.durationMax", "query.duration_max"])?;
    let raw = v3_bool(q, &["query.rawTraces", "query.raw_traces"])?;
    let tags = match q.get("query.attributes") {
        "" => BTreeMap::new(),
        v => go_json_string_map(v).map_err(|e| malformed("query.attributes", e))?,
    };
    let opt = |names: &[&str]| {
        let v = q.get_any(names);
        (!v.is_empty()).then(|| v.to_string())
    };
    Ok((
        TraceQuery {
            service_name: opt(&["query.serviceName", "query.service_name"]),
            operation_name: opt(&["query.operationName", "query.operation_name"]),
            tags: tags.into_iter().collect(),
            start_time_min: min,
            start_time_max: max,
            duration_min: (dmin > 0).then_some(dmin as u64),
            duration_max: (dmax != 0).then_some(dmax.max(0) as u64),
            num_traces: if depth > 0 {
                depth as usize
            } else {
                DEFAULT_SEARCH_LIMIT
            },
        },
        raw,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> Query {
        Query::parse(Some(s))
    }

    #[test]
    fn query_string_as_go() {
        let q = q("a=1&a=2&b=x+y%21&bad=%zz&c;d=1&&e");
        assert_eq!(q.get("a"), "1");
        assert_eq!(q.all("a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(q.get("b"), "x y!");
        assert_eq!(q.get("bad"), "");
        assert_eq!(q.get("d"), "");
        assert_eq!(q.all("e").count(), 1);
        assert!(!q.pretty());
        assert!(Query::parse(Some("prettyPrint=1")).pretty());
        assert!(!Query::parse(Some("prettyPrint=false")).pretty());
    }

    #[test]
    fn strconv_messages() {
        assert_eq!(go_parse_int("42", 64, "ParseInt"), Ok(42));
        assert_eq!(go_parse_int("-42", 64, "ParseInt"), Ok(-42));
        assert_eq!(go_parse_int("+7", 64, "ParseInt"), Ok(7));
        assert_eq!(
            go_parse_int("x", 64, "ParseInt").unwrap_err(),
            r#"strconv.ParseInt: parsing "x": invalid syntax"#
        );
        assert_eq!(
            go_parse_int("-", 64, "ParseInt").unwrap_err(),
            r#"strconv.ParseInt: parsing "-": invalid syntax"#
        );
        assert_eq!(
            go_parse_int("2147483648", 32, "ParseInt").unwrap_err(),
            r#"strconv.ParseInt: parsing "2147483648": value out of range"#
        );
        assert_eq!(go_parse_int("-2147483648", 32, "ParseInt"), Ok(-2147483648));
        assert_eq!(
            go_parse_int("99999999999999999999x", 64, "Atoi").unwrap_err(),
            r#"strconv.Atoi: parsing "99999999999999999999x": value out of range"#
        );
        assert_eq!(
            go_parse_int("9223372036854775808", 64, "ParseInt").unwrap_err(),
            r#"strconv.ParseInt: parsing "9223372036854775808": value out of range"#
        );
        assert_eq!(
            go_parse_int("-9223372036854775808", 64, "ParseInt"),
            Ok(i64::MIN)
        );
        assert_eq!(
            go_parse_bool("yes").unwrap_err(),
            r#"strconv.ParseBool: parsing "yes": invalid syntax"#
        );
        assert_eq!(go_quote("a\"b\n"), r#""a\"b\n""#);
    }

    #[test]
    fn rfc3339_values_and_errors() {
        assert_eq!(go_parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            go_parse_rfc3339("2024-02-29T12:30:45.123456789Z"),
            Ok(1_709_209_845_123_456_789)
        );
        assert_eq!(
            go_parse_rfc3339("2024-02-29T14:30:45.5+02:00"),
            Ok(1_709_209_845_500_000_000)
        );
        // More than nine fractional digits are truncated.
        assert_eq!(
            go_parse_rfc3339("1970-01-01T00:00:01.0000000019Z"),
            Ok(1_000_000_001)
        );
        assert_eq!(
            go_parse_rfc3339("x").unwrap_err(),
            r#"parsing time "x" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "x" as "2006""#
        );
        assert_eq!(
            go_parse_rfc3339("2024-01-01").unwrap_err(),
            r#"parsing time "2024-01-01" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "" as "T""#
        );
        assert_eq!(
            go_parse_rfc3339("2024-01-01T00:00:00").unwrap_err(),
            r#"parsing time "2024-01-01T00:00:00" as "2006-01-02T15:04:05.999999999Z07:00": cannot parse "" as "Z07:00""#
        );
        assert_eq!(
            go_parse_rfc3339("2024-13-01T00:00:00Z").unwrap_err(),
            r#"parsing time "2024-13-01T00:00:00Z": month out of range"#
        );
        assert_eq!(
            go_parse_rfc3339("2023-02-29T00:00:00Z").unwrap_err(),
            r#"parsing time "2023-02-29T00:00:00Z": day out of range"#
        );
        assert_eq!(
            go_parse_rfc3339("2024-01-01T00:00:00Zjunk").unwrap_err(),
            r#"parsing time "2024-01-01T00:00:00Zjunk": extra text: "junk""#
        );
        assert_eq!(
            go_parse_rfc3339("2024-01-01T24:00:00Z").unwrap_err(),
            r#"parsing time "2024-01-01T24:00:00Z": hour out of range"#
        );
        assert!(go_parse_rfc3339("2024-01-01T00:00:00é").is_err());
        assert!(go_parse_rfc3339("2024é").is_err());
    }

    #[test]
    fn json_tags() {
        assert_eq!(
            go_json_string_map(r#"{"a":"1","b":null}"#).unwrap(),
            BTreeMap::from([("a".into(), "1".into()), ("b".into(), String::new())])
        );
        assert_eq!(
            go_json_string_map(r#"{"a":1}"#).unwrap_err(),
            "json: cannot unmarshal number into Go value of type string"
        );
        assert_eq!(
            go_json_string_map("[]").unwrap_err(),
            "json: cannot unmarshal array into Go value of type map[string]string"
        );
        assert_eq!(
            go_json_string_map("x").unwrap_err(),
            "invalid character 'x' looking for beginning of value"
        );
        assert_eq!(
            go_json_string_map("{").unwrap_err(),
            "unexpected end of JSON input"
        );
        assert_eq!(
            go_json_string_map("").unwrap_err(),
            "unexpected end of JSON input"
        );
    }

    #[test]
    fn search_defaults_and_validation() {
        let now = 10 * DEFAULT_SEARCH_LOOKBACK_NANOS;
        let s = Search::parse(&q("service=svc"), now).unwrap();
        assert_eq!(
            s.query.start_time_min,
            (now - DEFAULT_SEARCH_LOOKBACK_NANOS) as u64
        );
        assert_eq!(s.query.start_time_max, now as u64);
        assert_eq!(s.query.num_traces, 100);
        assert_eq!(s.query.service_name.as_deref(), Some("svc"));
        let s = Search::parse(
            &q("service=s&tag=a:b:c&tag=x:1&tags=%7B%22x%22%3A%222%22%7D&start=5&end=6&minDuration=1ms&limit=3"),
            now,
        )
        .unwrap();
        assert_eq!(
            s.query.tags,
            vec![("a".into(), "b:c".into()), ("x".into(), "2".into())]
        );
        assert_eq!(
            (s.query.start_time_min, s.query.start_time_max),
            (5000, 6000)
        );
        assert_eq!(s.query.duration_min, Some(1_000_000));
        assert_eq!(s.query.num_traces, 3);
        let err = |s: &str| Search::parse(&q(s), now).unwrap_err().0;
        assert_eq!(err(""), "parameter 'service' is required");
        assert_eq!(
            err("service=s&minDuration=2s&maxDuration=1s"),
            "'maxDuration' should be greater than 'minDuration'"
        );
        assert_eq!(
            err("service=s&tag=nocolon"),
            "malformed 'tag' parameter, expecting key:value, received: nocolon"
        );
        assert_eq!(
            err("service=s&limit=abc"),
            r#"strconv.ParseInt: parsing "abc": invalid syntax"#
        );
        assert_eq!(
            err("service=s&start=abc"),
            r#"unable to parse param 'start': strconv.ParseInt: parsing "abc": invalid syntax"#
        );
        assert_eq!(
            err("service=s&minDuration=10"),
            r#"unable to parse param 'minDuration': time: missing unit in duration "10""#
        );
        assert_eq!(
            err("traceID=xyz"),
            r#"cannot parse traceID param: strconv.ParseUint: parsing "xyz": invalid syntax"#
        );
        // With a trace id, the service is not required.
        let s = Search::parse(&q("traceID=1&traceID=2"), now).unwrap();
        assert_eq!(s.trace_ids.len(), 2);
    }

    #[test]
    fn floats_as_go() {
        assert_eq!(go_parse_float("0.95"), Ok(0.95));
        assert_eq!(go_parse_float("-1e3"), Ok(-1000.0));
        assert_eq!(go_parse_float(".5"), Ok(0.5));
        assert_eq!(go_parse_float("Inf"), Ok(f64::INFINITY));
        assert_eq!(go_parse_float("-infinity"), Ok(f64::NEG_INFINITY));
        assert!(go_parse_float("NaN").unwrap().is_nan());
        for bad in ["", "x", "1,5", "+nan", "0.9x", "1_000", " 1"] {
            assert_eq!(
                go_parse_float(bad).unwrap_err(),
                format!(
                    "strconv.ParseFloat: parsing {}: invalid syntax",
                    go_quote(bad)
                ),
                "{bad}"
            );
        }
        assert_eq!(
            go_parse_float("1e400").unwrap_err(),
            r#"strconv.ParseFloat: parsing "1e400": value out of range"#
        );
    }

    #[test]
    fn metrics_params() {
        let now = 1_000_000_000_000;
        let m = Metrics::parse(&q("service=a&service=b&quantile=0.95"), true, now).unwrap();
        assert_eq!(m.services, ["a", "b"]);
        assert_eq!(m.quantile, Some(0.95));
        assert_eq!(m.span_kinds, ["SPAN_KIND_SERVER"]);
        assert_eq!(m.end, now);
        assert_eq!(
            (m.lookback, m.step, m.rate_per),
            (
                DEFAULT_METRICS_LOOKBACK_NANOS,
                DEFAULT_METRICS_STEP_NANOS,
                DEFAULT_METRICS_RATE_PER_NANOS
            )
        );
        let m = Metrics::parse(
            &q("service=&spanKind=client&spanKind=Producer&groupByOperation=true&endTs=5&lookback=6&step=7&ratePer=8"),
            false,
            now,
        )
        .unwrap();
        assert_eq!(m.services, [""]);
        assert_eq!(m.quantile, None);
        assert!(m.group_by_operation);
        assert_eq!(m.span_kinds, ["SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER"]);
        assert_eq!(
            (m.end, m.lookback, m.step, m.rate_per),
            (5_000_000, 6_000_000, 7_000_000, 8_000_000)
        );
    }

    #[test]
    fn v3_search_params() {
        let (tq, raw) = v3_search(&q(
            "query.start_time_min=2024-01-01T00:00:00Z&query.startTimeMax=2024-01-01T00:00:01Z&query.num_traces=7&query.attributes=%7B%22k%22%3A%22v%22%7D&query.rawTraces=true&query.durationMin=1s",
        ))
        .unwrap();
        assert!(raw);
        assert_eq!(tq.num_traces, 7);
        assert_eq!(tq.start_time_max - tq.start_time_min, 1_000_000_000);
        assert_eq!(tq.tags, vec![("k".into(), "v".into())]);
        assert_eq!(tq.duration_min, Some(1_000_000_000));
        let err = |s: &str| v3_search(&q(s)).unwrap_err().0;
        assert_eq!(
            err(""),
            "query.startTimeMin and query.startTimeMax are required"
        );
        assert_eq!(
            err("query.startTimeMin=2024-01-02T00:00:00Z&query.startTimeMax=2024-01-01T00:00:00Z"),
            "query.startTimeMin must be before query.startTimeMax"
        );
        assert_eq!(
            err(
                "query.startTimeMin=2024-01-01T00:00:00Z&query.startTimeMax=2024-01-02T00:00:00Z&query.searchDepth=x"
            ),
            r#"malformed parameter query.searchDepth: strconv.Atoi: parsing "x": invalid syntax"#
        );
    }
}
