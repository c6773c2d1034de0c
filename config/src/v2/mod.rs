//! Jaeger v2's `config.yaml`: the model, `${env:...}` expansion, validation with exact
//! paths, the mapping onto the runtime [`crate::Config`], and secret masking.
//!
//! ```text
//! text --expand_env--> YAML --serde (+path)--> JaegerV2Config --validate--> to_runtime
//! ```

mod common;
mod components;
mod env;
mod error;
mod extensions;
mod mask;
mod model;
mod runtime;
mod storage;
mod validate;

use std::path::Path;

pub use common::*;
pub use components::*;
pub use env::{Expanded, expand_env};
pub use error::{ConfigError, Location, suggest};
pub use extensions::*;
pub use mask::{REDACTED, mask_secrets};
pub use model::*;
pub use runtime::{LoadedConfig, RuntimeMapping, normalize_base_path, parse_endpoint, to_runtime};
pub use storage::*;
pub use validate::validate;

/// The process environment, for [`expand_env`].
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Parses and validates config text whose `${...}` references are looked up with
/// `lookup`. Returns the model and the referenced variables that were unset.
pub fn parse_str_with_env(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(JaegerV2Config, Vec<String>), ConfigError> {
    let expanded = expand_env(text, lookup)?;
    // Plain YAML problems first, so they are not reported as type errors.
    if let Err(e) = serde_yaml::from_str::<serde_yaml::Value>(&expanded.text) {
        let location = e.location().map(|l| Location::new(l.line(), l.column()));
        let mut message = e.to_string();
        if let Some(l) = location {
            let suffix = format!(" at line {} column {}", l.line, l.column);
            if let Some(i) = message.find(&suffix) {
                message.replace_range(i..i + suffix.len(), "");
            }
        }
        return Err(ConfigError::Syntax { message, location });
    }
    // Clear anything a previous failed parse on this thread left behind.
    let _ = error::take_detail();
    let de = serde_yaml::Deserializer::from_str(&expanded.text);
    let cfg: JaegerV2Config = serde_path_to_error::deserialize(de).map_err(error::from_serde)?;
    validate(&cfg)?;
    Ok((cfg, expanded.unset))
}

/// [`parse_str_with_env`] with the process environment.
pub fn parse_str(text: &str) -> Result<JaegerV2Config, ConfigError> {
    parse_str_with_env(text, &process_env).map(|(c, _)| c)
}

/// Parses, validates and maps config text onto the runtime config.
pub fn load_str_with_env(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let (v2, unset) = parse_str_with_env(text, lookup)?;
    let m = to_runtime(&v2)?;
    let mut warnings: Vec<String> = unset
        .iter()
        .map(|n| format!("environment variable {n} is not set; it was replaced by an empty string"))
        .collect();
    warnings.extend(m.warnings);
    Ok(LoadedConfig {
        runtime: m.config,
        v2,
        trace_storage: m.trace_storage,
        ephemeral_storage: m.ephemeral_storage,
        warnings,
    })
}

/// [`load_str_with_env`] with the process environment.
pub fn load_str(text: &str) -> Result<LoadedConfig, ConfigError> {
    load_str_with_env(text, &process_env)
}

/// Reads, parses, validates and maps a config file; errors name the file.
pub fn load_file(path: impl AsRef<Path>) -> Result<LoadedConfig, ConfigError> {
    load_file_with_env(path, &process_env)
}

/// [`load_file`] with an explicit variable lookup.
pub fn load_file_with_env(
    path: impl AsRef<Path>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<LoadedConfig, ConfigError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    load_str_with_env(&text, lookup).map_err(|e| ConfigError::InFile {
        file: path.to_path_buf(),
        source: Box::new(e),
    })
}

impl LoadedConfig {
    /// The effective v2 config as YAML, secrets masked (`jaeger print-config`).
    pub fn masked_yaml(&self) -> Result<String, ConfigError> {
        mask_secrets(&self.v2)
    }
}
