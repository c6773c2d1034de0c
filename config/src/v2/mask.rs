//! `jaeger print-config`: the effective config with secrets replaced.

use serde::Serialize;
use serde_yaml::Value;

use super::error::ConfigError;

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";

/// Keys whose string values are secrets wherever they appear.
const SECRET_KEYS: &[&str] = &[
    "password",
    "key_pem",
    "token",
    "bearer_token",
    "api_key",
    "secret",
    "client_secret",
    "authorization",
    "proxy-authorization",
    "x-api-key",
];

/// Serializes `value` (normally a [`super::JaegerV2Config`] or the runtime
/// [`crate::Config`]) as YAML with passwords, tokens, inline private keys, secret
/// headers and passwords in URLs replaced by `[REDACTED]`.
pub fn mask_secrets<T: Serialize>(value: &T) -> Result<String, ConfigError> {
    let mut v = serde_yaml::to_value(value)
        .map_err(|e| ConfigError::invalid("(root)", format!("cannot serialize: {e}")))?;
    redact(&mut v);
    serde_yaml::to_string(&v)
        .map_err(|e| ConfigError::invalid("(root)", format!("cannot serialize: {e}")))
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_KEYS.contains(&k.as_str())
}

fn redact(v: &mut Value) {
    match v {
        Value::Mapping(m) => {
            for (k, val) in m.iter_mut() {
                let secret = k.as_str().is_some_and(is_secret_key);
                match val {
                    Value::String(s) if secret && !s.is_empty() => *s = REDACTED.into(),
                    Value::Number(_) if secret => *val = Value::String(REDACTED.into()),
                    _ => redact(val),
                }
            }
        }
        Value::Sequence(s) => s.iter_mut().for_each(redact),
        Value::String(s) => {
            if let Some(masked) = mask_url_password(s) {
                *s = masked;
            }
        }
        Value::Tagged(t) => redact(&mut t.value),
        _ => {}
    }
}

/// `scheme://user:pass@host/...` → `scheme://user:[REDACTED]@host/...`.
fn mask_url_password(s: &str) -> Option<String> {
    let scheme_end = s.find("://")? + 3;
    let rest = &s[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let at = authority.rfind('@')?;
    let colon = authority[..at].find(':')?;
    Some(format!(
        "{}{}:{REDACTED}{}",
        &s[..scheme_end],
        &authority[..colon],
        &rest[at..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords() {
        assert_eq!(
            mask_url_password("https://elastic:changeme@es:9200/x").as_deref(),
            Some("https://elastic:[REDACTED]@es:9200/x")
        );
        assert_eq!(mask_url_password("http://es:9200"), None);
        assert_eq!(mask_url_password("http://user@es:9200"), None);
        assert_eq!(mask_url_password("no url"), None);
    }
}
