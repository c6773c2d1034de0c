//! `${env:VAR}`, `${env:VAR:-default}` and `${VAR}` in the YAML text, expanded before it
//! is parsed, as the OTel collector's env provider does; `$$` is a literal `$`.

use super::error::{ConfigError, Location};

/// The expanded text and the variables that were referenced but unset (each became an
/// empty string, as in the collector, which only warns).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    pub unset: Vec<String>,
}

/// Expands every reference in `input`, looking variables up with `lookup`.
pub fn expand_env(
    input: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<Expanded, ConfigError> {
    let mut unset = Vec::new();
    let mut text = String::with_capacity(input.len());
    let mut offset = 0;
    // Line by line: a reference never spans lines, and whole-line comments are left
    // alone (the collector expands parsed values, so it never sees comments).
    for line in input.split_inclusive('\n') {
        if line.trim_start().starts_with('#') {
            text.push_str(line);
        } else {
            text.push_str(&expand(line, offset, input, lookup, &mut unset, 0)?);
        }
        offset += line.len();
    }
    Ok(Expanded { text, unset })
}

/// Defaults may hold references themselves; this bounds how deep.
const MAX_DEPTH: usize = 8;

fn location_of(full: &str, offset: usize) -> Location {
    let before = &full[..offset.min(full.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.chars().count(), |i| before[i + 1..].chars().count())
        + 1;
    Location::new(line, column)
}

fn env_error(full: &str, offset: usize, message: String) -> ConfigError {
    ConfigError::Env {
        message,
        location: location_of(full, offset),
    }
}

/// `s` is a slice of `full` starting at byte `base`, for error locations.
fn expand(
    s: &str,
    base: usize,
    full: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    depth: usize,
) -> Result<String, ConfigError> {
    if depth > MAX_DEPTH {
        return Err(env_error(
            full,
            base,
            "references nested too deeply in a default value".into(),
        ));
    }
    let mut out = String::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let Some(rel) = s[i..].find('$') else {
            out.push_str(&s[i..]);
            break;
        };
        out.push_str(&s[i..i + rel]);
        i += rel;
        match bytes.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
            }
            Some(b'{') => {
                let start = i;
                let close = matching_brace(s, i + 2).ok_or_else(|| {
                    env_error(full, base + start, "unterminated ${ reference".into())
                })?;
                let body = &s[i + 2..close];
                let value = resolve(body, base + i + 2, full, lookup, unset, depth)?;
                // A reference that is a whole quoted scalar ("${env:X}") takes the
                // value's own type, as the collector's resolver does, so
                // `create: "${env:CREATE:-true}"` is a boolean; other values are
                // escaped for the quotes around them.
                let quote = (depth == 0 && i > 0)
                    .then(|| bytes[i - 1])
                    .filter(|q| (*q == b'"' || *q == b'\'') && bytes.get(close + 1) == Some(q));
                match quote {
                    Some(_) if is_typed_scalar(&value) => {
                        out.pop();
                        out.push_str(&value);
                        i = close + 2;
                    }
                    Some(b'"') => {
                        out.push_str(&value.replace('\\', "\\\\").replace('"', "\\\""));
                        i = close + 1;
                    }
                    Some(_) => {
                        out.push_str(&value.replace('\'', "''"));
                        i = close + 1;
                    }
                    None => {
                        out.push_str(&value);
                        i = close + 1;
                    }
                }
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// A YAML boolean or number, which a quoted reference should not turn into a string.
fn is_typed_scalar(v: &str) -> bool {
    matches!(v, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
        || (!v.is_empty()
            && v.trim() == v
            && (v.parse::<i64>().is_ok()
                || v.parse::<u64>().is_ok()
                || v.parse::<f64>().is_ok_and(f64::is_finite))
            && !v.starts_with('+')
            && v.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '-' | '.' | 'e' | 'E' | '+')))
}

/// Index of the `}` closing a `${` whose body starts at `from`, counting nested `${`.
fn matching_brace(s: &str, from: usize) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut depth = 0usize;
    let mut j = from;
    while j < bytes.len() {
        match bytes[j] {
            b'$' if bytes.get(j + 1) == Some(&b'{') => {
                depth += 1;
                j += 2;
                continue;
            }
            b'}' if depth == 0 => return Some(j),
            b'}' => depth -= 1,
            b'\n' => return None,
            _ => {}
        }
        j += 1;
    }
    None
}

fn valid_name(n: &str) -> bool {
    let mut c = n.chars();
    c.next()
        .is_some_and(|f| f.is_ascii_alphabetic() || f == '_')
        && c.all(|x| x.is_ascii_alphanumeric() || x == '_')
}

fn resolve(
    body: &str,
    offset: usize,
    full: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Vec<String>,
    depth: usize,
) -> Result<String, ConfigError> {
    // `env:NAME[:-default]`, or plain `NAME[:-default]`; any other `scheme:` is a
    // provider we do not have (file, http, yaml...).
    let (rest, rest_offset) = match body.strip_prefix("env:") {
        Some(r) => (r, offset + 4),
        None => (body, offset),
    };
    let (name, default) = match rest.find(":-") {
        Some(k) => (&rest[..k], Some((&rest[k + 2..], rest_offset + k + 2))),
        None => (rest, None),
    };
    if !valid_name(name) {
        if let Some((scheme, _)) = body.split_once(':')
            && scheme != "env"
            && scheme.chars().all(|c| c.is_ascii_alphanumeric())
            && !scheme.is_empty()
        {
            return Err(env_error(
                full,
                offset,
                format!(
                    "config provider \"{scheme}\" in ${{{body}}} is not supported; only ${{env:NAME}} is"
                ),
            ));
        }
        return Err(env_error(
            full,
            offset,
            format!("invalid environment variable name {name:?} in ${{{body}}}"),
        ));
    }
    match lookup(name) {
        Some(v) => Ok(v),
        None => match default {
            Some((d, d_offset)) => expand(d, d_offset, full, lookup, unset, depth + 1),
            None => {
                if !unset.iter().any(|u| u == name) {
                    unset.push(name.to_string());
                }
                Ok(String::new())
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "HOST" => Some("0.0.0.0".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("4317".into()),
            _ => None,
        }
    }

    fn x(s: &str) -> Expanded {
        expand_env(s, &env).unwrap()
    }

    #[test]
    fn forms() {
        assert_eq!(x("a: ${env:HOST}:4317").text, "a: 0.0.0.0:4317");
        assert_eq!(x("a: ${HOST}:${PORT}").text, "a: 0.0.0.0:4317");
        assert_eq!(x("${env:NOPE:-localhost}:4317").text, "localhost:4317");
        assert_eq!(x("${env:HOST:-localhost}").text, "0.0.0.0");
        // Set but empty is not unset: the default is not used (as the collector does).
        assert_eq!(x("[${env:EMPTY:-x}]").text, "[]");
        assert_eq!(x("${NOPE:-a:b:-c}").text, "a:b:-c");
        assert_eq!(x("${env:NOPE:-${env:PORT}}").text, "4317");
    }

    #[test]
    fn quoted_whole_references_keep_their_type() {
        assert_eq!(x("create: \"${env:NOPE:-true}\"").text, "create: true");
        assert_eq!(x("port: '${PORT}'").text, "port: 4317");
        assert_eq!(x("host: \"${HOST}\"").text, "host: \"0.0.0.0\"");
        assert_eq!(x("ep: \"${HOST}:4317\"").text, "ep: \"0.0.0.0:4317\"");
        assert_eq!(x("v: \"${NOPE:-a\"b}\"").text, "v: \"a\\\"b\"");
        assert_eq!(x("v: '${NOPE:-it's}'").text, "v: 'it''s'");
        assert!(!is_typed_scalar("1.0.0"));
        assert!(!is_typed_scalar("inf"));
        assert!(is_typed_scalar("-1.5e3"));
    }

    #[test]
    fn comment_lines_are_not_expanded() {
        let e = x("# endpoint: ${env:NOPE}\n  # ${file:/x}\na: ${HOST} # ${PORT}\n");
        assert_eq!(
            e.text,
            "# endpoint: ${env:NOPE}\n  # ${file:/x}\na: 0.0.0.0 # 4317\n"
        );
        assert!(e.unset.is_empty());
    }

    #[test]
    fn dollars() {
        assert_eq!(x("$${env:HOST}").text, "${env:HOST}");
        assert_eq!(x("cost: 5$ and $$").text, "cost: 5$ and $");
        assert_eq!(x("$HOST").text, "$HOST");
    }

    #[test]
    fn unset_becomes_empty_and_is_reported() {
        let e = x("a: ${env:NOPE}\nb: ${NOPE}");
        assert_eq!(e.text, "a: \nb: ");
        assert_eq!(e.unset, ["NOPE"]);
    }

    #[test]
    fn errors_have_locations() {
        let err = expand_env("a: 1\nb: ${env:HOST", &env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 2, column 4: unterminated ${ reference"
        );
        let err = expand_env("k: ${file:/etc/x}", &env).unwrap_err();
        assert!(
            err.to_string().contains("config provider \"file\""),
            "{err}"
        );
        let err = expand_env("k: ${1BAD}", &env).unwrap_err();
        assert!(
            err.to_string()
                .contains("invalid environment variable name"),
            "{err}"
        );
    }
}
