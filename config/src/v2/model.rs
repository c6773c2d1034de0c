//! The top of Jaeger v2's `config.yaml`: component sections keyed by component id,
//! and `service`.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};

use super::components::{Connector, Exporter, Processor, Receiver};
use super::error::{Detail, set_detail};
use super::extensions::Extension;

/// A component id: `type` or `type/name` (`otlp`, `otlp/2`, `jaeger_storage_exporter/archive`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComponentId {
    pub ty: String,
    pub name: Option<String>,
}

impl ComponentId {
    /// Parses an id as the OTel collector does: the type is a letter followed by up to
    /// 62 letters, digits or `_`; the optional name after `/` is non-empty and has no
    /// spaces.
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ty, name) = match s.split_once('/') {
            Some((t, n)) => (t, Some(n)),
            None => (s, None),
        };
        let mut chars = ty.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_ok || ty.len() > 63 || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!(
                "invalid component id {s:?}: the type must be a letter followed by letters, digits or '_'"
            ));
        }
        if let Some(n) = name
            && (n.is_empty() || n.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(format!(
                "invalid component id {s:?}: the name after '/' must be non-empty and have no spaces"
            ));
        }
        Ok(Self {
            ty: ty.to_string(),
            name: name.map(String::from),
        })
    }
}

impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{}/{}", self.ty, n),
            None => f.write_str(&self.ty),
        }
    }
}

/// A family of components (receivers, processors, ...): one enum whose variant is
/// picked by the type part of the id.
pub trait Component: Sized + Serialize {
    /// `receiver`, `exporter`, ...
    const FAMILY: &'static str;
    /// Types this build knows.
    const TYPES: &'static [&'static str];
    /// Deserializes the body of a component of type `ty` (one of [`Self::TYPES`]);
    /// an empty or null body is the type's defaults.
    fn deserialize_type<'de, D: Deserializer<'de>>(ty: &str, d: D) -> Result<Self, D::Error>;
    /// The type part of the id this value was read for.
    fn type_name(&self) -> &'static str;
}

/// Generates a component enum, its [`Component`] impl and an untagged `Serialize`.
macro_rules! component_enum {
    ($(#[$m:meta])* pub enum $name:ident : $family:literal { $($ty:literal => $var:ident($inner:ty),)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum $name { $($var($inner),)* }

        impl $crate::v2::model::Component for $name {
            const FAMILY: &'static str = $family;
            const TYPES: &'static [&'static str] = &[$($ty),*];
            fn deserialize_type<'de, D: serde::Deserializer<'de>>(
                ty: &str,
                d: D,
            ) -> Result<Self, D::Error> {
                match ty {
                    $($ty => Ok($name::$var(
                        <Option<$inner> as serde::Deserialize>::deserialize(d)?.unwrap_or_default(),
                    )),)*
                    other => Err(<D::Error as serde::de::Error>::custom(format!(
                        "unknown {} type {other:?}", $family
                    ))),
                }
            }
            fn type_name(&self) -> &'static str {
                match self { $($name::$var(_) => $ty,)* }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self { $($name::$var(x) => x.serialize(s),)* }
            }
        }
    };
}
pub(crate) use component_enum;

/// A component section (`receivers:`, `exporters:`, ...): ids to bodies.
#[derive(Clone, Debug, PartialEq)]
pub struct Components<T>(pub BTreeMap<ComponentId, T>);

impl<T> Default for Components<T> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<T: Component> Components<T> {
    /// The component with this id (`otlp`, `otlp/2`).
    pub fn get(&self, id: &str) -> Option<&T> {
        let id = ComponentId::parse(id).ok()?;
        self.0.get(&id)
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    /// Every id, as written (`type/name`).
    pub fn ids(&self) -> Vec<String> {
        self.0.keys().map(ToString::to_string).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ComponentId, &T)> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T: Serialize> Serialize for Components<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(&k.to_string(), v)?;
        }
        m.end()
    }
}

impl<'de, T: Component> Deserialize<'de> for Components<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ComponentsVisitor(PhantomData))
    }
}

struct ComponentsVisitor<T>(PhantomData<T>);

impl<'de, T: Component> Visitor<'de> for ComponentsVisitor<T> {
    type Value = Components<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "a mapping of {} ids to their settings", T::FAMILY)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Components::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Components::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some(key) = map.next_key::<String>()? {
            // Errors are raised inside `next_value_seed` so the path names the id.
            let id = match ComponentId::parse(&key) {
                Ok(id) => id,
                Err(reason) => {
                    set_detail(Detail::Invalid(reason.clone()));
                    return fail_value(&mut map, reason);
                }
            };
            if !T::TYPES.contains(&id.ty.as_str()) {
                set_detail(Detail::UnknownComponentType {
                    family: T::FAMILY,
                    ty: id.ty.clone(),
                    valid: T::TYPES,
                });
                return fail_value(&mut map, format!("unknown {} type {:?}", T::FAMILY, id.ty));
            }
            if out.contains_key(&id) {
                let msg = format!("{} {id} is defined twice", T::FAMILY);
                set_detail(Detail::Invalid(msg.clone()));
                return fail_value(&mut map, msg);
            }
            let value = map.next_value_seed(TypeSeed::<T> {
                ty: &id.ty,
                _t: PhantomData,
            })?;
            out.insert(id, value);
        }
        Ok(Components(out))
    }
}

/// Fails on the value of the current key, so the error's path ends with that key.
fn fail_value<'de, A: MapAccess<'de>, V>(map: &mut A, msg: String) -> Result<V, A::Error> {
    map.next_value_seed(Fail(msg.clone()))?;
    Err(de::Error::custom(msg))
}

struct Fail(String);

impl<'de> DeserializeSeed<'de> for Fail {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, _d: D) -> Result<(), D::Error> {
        Err(de::Error::custom(self.0))
    }
}

struct TypeSeed<'a, T> {
    ty: &'a str,
    _t: PhantomData<T>,
}

impl<'de, T: Component> DeserializeSeed<'de> for TypeSeed<'_, T> {
    type Value = T;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<T, D::Error> {
        T::deserialize_type(self.ty, d)
    }
}

/// The whole `config.yaml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerV2Config {
    pub extensions: Components<Extension>,
    pub receivers: Components<Receiver>,
    pub processors: Components<Processor>,
    pub exporters: Components<Exporter>,
    pub connectors: Components<Connector>,
    pub service: Service,
}

/// `service`: which components run and how they are wired.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Service {
    /// Ids of the extensions to start, in order.
    pub extensions: Vec<String>,
    /// `traces`, `traces/<name>`, `metrics…`, `logs…` to their components.
    pub pipelines: BTreeMap<String, Pipeline>,
    pub telemetry: Telemetry,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Pipeline {
    pub receivers: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processors: Vec<String>,
    pub exporters: Vec<String>,
}

/// `service.telemetry`: the process's own logs and metrics.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Telemetry {
    /// Resource attributes of our own telemetry; null removes one.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub resource: BTreeMap<String, Option<String>>,
    pub metrics: TelemetryMetrics,
    pub logs: TelemetryLogs,
    /// Our own traces (propagators, processors); not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traces: Option<serde_yaml::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryMetrics {
    /// `none`, `basic`, `normal` or `detailed`.
    pub level: String,
    /// Deprecated: `host:port` of the Prometheus endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub readers: Vec<MetricReader>,
}

impl Default for TelemetryMetrics {
    fn default() -> Self {
        Self {
            level: "normal".into(),
            address: None,
            readers: Vec::new(),
        }
    }
}

pub const TELEMETRY_LEVELS: &[&str] = &["none", "basic", "normal", "detailed"];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricReader {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pull: Option<PullReader>,
    /// Push readers (OTLP exporters); not acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub periodic: Option<serde_yaml::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PullReader {
    pub exporter: PullExporter,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PullExporter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusPull>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusPull {
    pub host: String,
    pub port: u16,
    pub without_scope_info: bool,
    pub without_type_suffix: bool,
    pub without_units: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with_resource_constant_labels: Option<serde_yaml::Value>,
}

impl Default for PrometheusPull {
    fn default() -> Self {
        Self {
            host: "localhost".into(),
            port: 8888,
            without_scope_info: false,
            without_type_suffix: false,
            without_units: false,
            with_resource_constant_labels: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryLogs {
    /// `debug`, `info`, `warn` or `error`.
    pub level: String,
    /// `console` or `json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    pub development: bool,
    pub disable_caller: bool,
    pub disable_stacktrace: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub output_paths: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_output_paths: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub initial_fields: BTreeMap<String, serde_yaml::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sampling: Option<serde_yaml::Value>,
}

impl Default for TelemetryLogs {
    fn default() -> Self {
        Self {
            level: "info".into(),
            encoding: None,
            development: false,
            disable_caller: false,
            disable_stacktrace: false,
            output_paths: Vec::new(),
            error_output_paths: Vec::new(),
            initial_fields: BTreeMap::new(),
            sampling: None,
        }
    }
}

pub const LOG_LEVELS: &[&str] = &["debug", "info", "warn", "error", "dpanic", "panic", "fatal"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn component_ids() {
        let id = ComponentId::parse("otlp/2").unwrap();
        assert_eq!(id.ty, "otlp");
        assert_eq!(id.name.as_deref(), Some("2"));
        assert_eq!(id.to_string(), "otlp/2");
        let id = ComponentId::parse("jaeger_storage_exporter/archive").unwrap();
        assert_eq!(id.ty, "jaeger_storage_exporter");
        assert!(ComponentId::parse("otlp/").is_err());
        assert!(ComponentId::parse("2otlp").is_err());
        assert!(ComponentId::parse("").is_err());
        assert!(ComponentId::parse("ot-lp").is_err());
        assert!(ComponentId::parse("otlp/a b").is_err());
        // `otlp` sorts before `otlp/2`.
        assert!(ComponentId::parse("otlp").unwrap() < ComponentId::parse("otlp/2").unwrap());
    }
}
