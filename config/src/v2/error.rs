//! One error type for loading a v2 config, with messages that name the exact path.

use std::cell::RefCell;
use std::fmt;
use std::path::PathBuf;

/// Where in the (env-expanded) YAML text a problem was found; 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub line: u32,
    pub column: u32,
}

impl Location {
    pub(crate) fn new(line: usize, column: usize) -> Self {
        Self {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
        }
    }
}

/// Everything that can be wrong with a config file.
#[derive(Debug)]
pub enum ConfigError {
    /// The file could not be read.
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    /// A problem inside a named file.
    InFile {
        file: PathBuf,
        source: Box<ConfigError>,
    },
    /// A bad `${...}` reference.
    Env { message: String, location: Location },
    /// Not YAML at all (bad indentation, duplicate keys, ...).
    Syntax {
        message: String,
        location: Option<Location>,
    },
    /// A key that does not exist at that place.
    UnknownField {
        path: String,
        field: String,
        /// The closest valid key, when one is close.
        suggestion: Option<String>,
        /// Every valid key at that place.
        valid: Vec<String>,
        /// Set for keys Jaeger itself removed.
        note: Option<&'static str>,
        location: Option<Location>,
    },
    /// A component id whose type part this build does not know.
    UnknownComponentType {
        path: String,
        family: &'static str,
        ty: String,
        suggestion: Option<String>,
        valid: &'static [&'static str],
        location: Option<Location>,
    },
    /// A value of the wrong YAML type or out of range.
    WrongType {
        path: String,
        expected: String,
        found: String,
        location: Option<Location>,
    },
    /// A value of the right type that is still wrong (a bad duration, a bad id).
    InvalidValue {
        path: String,
        message: String,
        location: Option<Location>,
    },
    /// A pipeline or `service.extensions` names a component that is not defined.
    UndefinedComponent {
        path: String,
        family: &'static str,
        id: String,
        defined: Vec<String>,
    },
    /// A storage name that `jaeger_storage` does not define.
    UndefinedStorage {
        path: String,
        /// `storage backend` or `metric backend`.
        what: &'static str,
        name: String,
        /// Where such names are defined.
        section: &'static str,
        defined: Vec<String>,
    },
    /// A backend with no kind, or with several.
    BackendKind {
        path: String,
        found: Vec<&'static str>,
        valid: &'static [&'static str],
    },
    /// Any other semantic problem.
    Invalid { path: String, message: String },
    /// Several semantic problems, all reported at once.
    Many(Vec<ConfigError>),
    /// A backend kind that parses but that this build cannot run yet.
    UnsupportedBackend { path: String, kind: &'static str },
}

impl ConfigError {
    /// The path of the key at fault, if the error has one.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::UnknownField { path, .. }
            | ConfigError::UnknownComponentType { path, .. }
            | ConfigError::WrongType { path, .. }
            | ConfigError::InvalidValue { path, .. }
            | ConfigError::UndefinedComponent { path, .. }
            | ConfigError::UndefinedStorage { path, .. }
            | ConfigError::BackendKind { path, .. }
            | ConfigError::Invalid { path, .. }
            | ConfigError::UnsupportedBackend { path, .. } => Some(path),
            ConfigError::InFile { source, .. } => source.path(),
            _ => None,
        }
    }

    /// The errors this one stands for (itself, or each of `Many`).
    pub fn flatten(&self) -> Vec<&ConfigError> {
        match self {
            ConfigError::Many(v) => v.iter().flat_map(|e| e.flatten()).collect(),
            ConfigError::InFile { source, .. } => source.flatten(),
            other => vec![other],
        }
    }

    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }

    /// One error, or `Many`.
    pub(crate) fn from_list(mut errors: Vec<ConfigError>) -> Option<ConfigError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(ConfigError::Many(errors)),
        }
    }
}

struct Loc(Option<Location>);

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(l) => write!(f, " (line {}, column {})", l.line, l.column),
            None => Ok(()),
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { file, source } => {
                write!(f, "cannot read {}: {source}", file.display())
            }
            ConfigError::InFile { file, source } => write!(f, "{}: {source}", file.display()),
            ConfigError::Env { message, location } => write!(
                f,
                "line {}, column {}: {message}",
                location.line, location.column
            ),
            ConfigError::Syntax { message, location } => {
                write!(f, "invalid YAML: {message}{}", Loc(*location))
            }
            ConfigError::UnknownField {
                path,
                suggestion,
                valid,
                note,
                location,
                ..
            } => {
                write!(f, "{path}: unknown field")?;
                if let Some(n) = note {
                    write!(f, ", {n}")?;
                } else if let Some(s) = suggestion {
                    write!(f, ", did you mean {s}?")?;
                } else if valid.is_empty() {
                    write!(f, ", this section takes no keys")?;
                } else {
                    write!(f, ", valid keys: {}", valid.join(", "))?;
                }
                write!(f, "{}", Loc(*location))
            }
            ConfigError::UnknownComponentType {
                path,
                family,
                ty,
                suggestion,
                valid,
                location,
            } => {
                write!(f, "{path}: unknown {family} type \"{ty}\"")?;
                match suggestion {
                    Some(s) => write!(f, ", did you mean {s}?")?,
                    None => write!(f, ", known types: {}", valid.join(", "))?,
                }
                write!(f, "{}", Loc(*location))
            }
            ConfigError::WrongType {
                path,
                expected,
                found,
                location,
            } => write!(
                f,
                "{path}: wrong type, expected {expected}, found {found}{}",
                Loc(*location)
            ),
            ConfigError::InvalidValue {
                path,
                message,
                location,
            } => write!(f, "{path}: {message}{}", Loc(*location)),
            ConfigError::UndefinedComponent {
                path,
                family,
                id,
                defined,
            } => write!(
                f,
                "{path}: {family} \"{id}\" is not defined (defined {family}s: {})",
                list(defined)
            ),
            ConfigError::UndefinedStorage {
                path,
                what,
                name,
                section,
                defined,
            } => {
                if name.is_empty() {
                    write!(
                        f,
                        "{path}: a {what} name is required (defined in {section}: {})",
                        list(defined)
                    )
                } else {
                    write!(
                        f,
                        "{path}: {what} \"{name}\" is not defined in {section} (defined: {})",
                        list(defined)
                    )
                }
            }
            ConfigError::BackendKind { path, found, valid } => {
                if found.is_empty() {
                    write!(
                        f,
                        "{path}: no storage kind is set; set exactly one of {}",
                        valid.join(", ")
                    )
                } else {
                    write!(
                        f,
                        "{path}: several storage kinds are set ({}); set exactly one",
                        found.join(", ")
                    )
                }
            }
            ConfigError::Invalid { path, message } => write!(f, "{path}: {message}"),
            ConfigError::Many(errors) => {
                write!(f, "{} problems in the configuration:", errors.len())?;
                for e in errors {
                    write!(f, "\n  - {e}")?;
                }
                Ok(())
            }
            ConfigError::UnsupportedBackend { path, kind } => {
                write!(f, "{path}: storage backend {kind} is not supported yet")
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { source, .. } => Some(source),
            ConfigError::InFile { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// What our own deserialization code knows about an error it raises; serde's error
/// type only carries a string, so the typed detail travels beside it.
pub(crate) enum Detail {
    UnknownComponentType {
        family: &'static str,
        ty: String,
        valid: &'static [&'static str],
    },
    Invalid(String),
}

thread_local! {
    static DETAIL: RefCell<Option<Detail>> = const { RefCell::new(None) };
}

pub(crate) fn set_detail(d: Detail) {
    DETAIL.with(|c| *c.borrow_mut() = Some(d));
}

pub(crate) fn take_detail() -> Option<Detail> {
    DETAIL.with(|c| c.borrow_mut().take())
}

/// The closest candidate by edit distance, if it is close enough to be a typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (strsim::osa_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Keys Jaeger removed from the Elasticsearch/OpenSearch config.
const REMOVED_ES_KEYS: &[&str] = &[
    "disable_health_check",
    "health_check_timeout_startup",
    "send_get_body_as",
    "max_actions",
    "use_https",
];

/// serde's message tokens; serde_yaml prefixes its own path, which we drop.
const SERDE_TOKENS: &[&str] = &[
    "unknown field `",
    "invalid type: ",
    "invalid value: ",
    "invalid length ",
    "missing field `",
    "duplicate field `",
    "unknown variant `",
];

fn bare_message(raw: &str, location: Option<Location>) -> String {
    let mut s = raw;
    if let Some(l) = location {
        let suffix = format!(" at line {} column {}", l.line, l.column);
        s = s.strip_suffix(suffix.as_str()).unwrap_or(s);
    }
    if let Some(i) = s.rfind(" at position ") {
        s = &s[..i];
    }
    if let Some(i) = SERDE_TOKENS.iter().filter_map(|t| s.find(t)).min() {
        return s[i..].to_string();
    }
    s.to_string()
}

fn display_path(p: &str) -> String {
    if p == "." || p.is_empty() {
        "(root)".into()
    } else {
        p.to_string()
    }
}

/// Everything between backticks.
fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, t)| t.to_string())
        .collect()
}

/// serde's names for types, in words a YAML author knows.
fn expected_words(e: &str) -> String {
    let e = e.trim();
    match e {
        "u8" => "an integer from 0 to 255".into(),
        "u16" => "an integer from 0 to 65535".into(),
        "u32" | "u64" | "usize" => "a non-negative integer".into(),
        "i8" | "i16" | "i32" | "i64" | "isize" => "an integer".into(),
        "f32" | "f64" => "a number".into(),
        "a boolean" | "bool" => "a boolean (true or false)".into(),
        "a string" => "a string".into(),
        "a sequence" => "a list".into(),
        "a map" => "a mapping".into(),
        _ if e.starts_with("struct ") => "a mapping".into(),
        _ if e.starts_with("a mapping") => e.into(),
        _ => e.into(),
    }
}

fn found_words(f: &str) -> String {
    let f = f.trim();
    match f {
        "unit value" => "null (an empty value)".into(),
        "map" => "a mapping".into(),
        "sequence" => "a list".into(),
        _ => f.replace('`', ""),
    }
}

/// Turns a serde error with its path into a typed error.
pub(crate) fn from_serde(err: serde_path_to_error::Error<serde_yaml::Error>) -> ConfigError {
    let detail = take_detail();
    let path = display_path(&err.path().to_string());
    let inner = err.into_inner();
    let location = inner
        .location()
        .map(|l| Location::new(l.line(), l.column()));
    let msg = bare_message(&inner.to_string(), location);

    match detail {
        Some(Detail::UnknownComponentType { family, ty, valid }) => {
            return ConfigError::UnknownComponentType {
                path,
                family,
                suggestion: suggest(&ty, valid.iter().copied()),
                ty,
                valid,
                location,
            };
        }
        Some(Detail::Invalid(message)) => {
            return ConfigError::InvalidValue {
                path,
                message,
                location,
            };
        }
        None => {}
    }

    if let Some(rest) = msg.strip_prefix("unknown field `")
        && let Some((field, rest)) = rest.split_once('`')
    {
        let valid = backticked(rest);
        let in_es = path.contains(".elasticsearch.") || path.contains(".opensearch.");
        let note = (in_es && REMOVED_ES_KEYS.contains(&field))
            .then_some("this key was removed from Jaeger; delete it");
        return ConfigError::UnknownField {
            suggestion: suggest(field, valid.iter().map(String::as_str)),
            field: field.to_string(),
            path,
            valid,
            note,
            location,
        };
    }
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = msg.strip_prefix(prefix)
            && let Some(i) = rest.rfind(", expected ")
        {
            return ConfigError::WrongType {
                path,
                expected: expected_words(&rest[i + ", expected ".len()..]),
                found: found_words(&rest[..i]),
                location,
            };
        }
    }
    ConfigError::InvalidValue {
        path,
        message: msg,
        location,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_are_close_only() {
        let keys = ["schema", "connection", "query", "index"];
        assert_eq!(
            suggest("conection", keys.iter().copied()).as_deref(),
            Some("connection")
        );
        assert_eq!(
            suggest("qeury", keys.iter().copied()).as_deref(),
            Some("query")
        );
        assert_eq!(suggest("tls", keys.iter().copied()), None);
    }

    #[test]
    fn serde_yaml_decorations_are_dropped() {
        let loc = Some(Location { line: 2, column: 3 });
        assert_eq!(
            bare_message(
                "inner: unknown field `c`, expected `a` or `b` at line 2 column 3",
                loc
            ),
            "unknown field `c`, expected `a` or `b`"
        );
        assert_eq!(bare_message("plain words", None), "plain words");
        assert_eq!(backticked("expected one of `a`, `b`"), ["a", "b"]);
    }
}
