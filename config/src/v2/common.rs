//! Building blocks shared by many components: Go durations, OTel's TLS, gRPC and HTTP
//! server/client settings, retry and queue settings.

use std::fmt;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::error::{Detail, set_detail};

/// A duration written as Go writes it (`72h`, `1m30s`, `200ms`); a bare integer is
/// nanoseconds, as mapstructure decodes it into a `time.Duration`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct GoDuration(pub Duration);

impl GoDuration {
    pub const fn from_secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
    pub const fn from_millis(ms: u64) -> Self {
        Self(Duration::from_millis(ms))
    }
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::format_go_duration(
            i64::try_from(self.0.as_nanos()).unwrap_or(i64::MAX),
        ))
    }
}

impl Serialize for GoDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 72h, 1m30s or 200ms")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
                let nanos = crate::parse_go_duration_nanos(v.trim()).map_err(|e| {
                    invalid::<E>(format!(
                        "{e}; expected a duration such as 72h, 1m30s or 200ms"
                    ))
                })?;
                u64::try_from(nanos)
                    .map(|n| GoDuration(Duration::from_nanos(n)))
                    .map_err(|_| invalid(format!("negative duration {v:?} is not allowed")))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
                Ok(GoDuration(Duration::from_nanos(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
                u64::try_from(v)
                    .map(|n| GoDuration(Duration::from_nanos(n)))
                    .map_err(|_| invalid(format!("negative duration {v} is not allowed")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A custom error whose message is reported as is, at the path being read.
pub(crate) fn invalid<E: de::Error>(message: String) -> E {
    set_detail(Detail::Invalid(message.clone()));
    E::custom(message)
}

/// For `Option<T>` fields whose mere presence turns a feature on, as in OTel
/// (`protocols: {grpc: }` enables gRPC with its defaults): present, even empty or
/// null, is `Some(default)`.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Some(Option::<T>::deserialize(d)?.unwrap_or_default()))
}

/// A list written either as a YAML sequence or as one comma-separated string
/// (Jaeger's `tag_blacklist`, `tags_as_fields.include`, `servers`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StringList(pub Vec<String>);

impl Serialize for StringList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for StringList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings or a comma-separated string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StringList, E> {
                Ok(StringList(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect(),
                ))
            }
            fn visit_unit<E: de::Error>(self) -> Result<StringList, E> {
                Ok(StringList::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<StringList, E> {
                Ok(StringList::default())
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<StringList, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(StringList(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// OTel `configtls.ClientConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsClientConfig {
    /// Plain-text connection. False (the zero value) means TLS is ON.
    pub insecure: bool,
    pub insecure_skip_verify: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name_override: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    pub include_system_ca_certs_pool: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    /// A private key inline: a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub curve_preferences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_interval: Option<GoDuration>,
}

/// OTel `configtls.ServerConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsServerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    pub include_system_ca_certs_pool: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<String>,
    pub client_ca_file_reload: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_version: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub curve_preferences: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_interval: Option<GoDuration>,
}

/// OTel `configauth.Config`: the id of an authenticator extension.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthenticatorRef {
    pub authenticator: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_params: Vec<String>,
}

/// OTel `confighttp.CORSConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    pub allowed_origins: Vec<String>,
    pub allowed_headers: Vec<String>,
    /// Seconds; 0 leaves the header out.
    pub max_age: u64,
}

/// Declares a struct that carries OTel's `confighttp.ServerConfig` keys (mapstructure
/// `squash`) plus its own. serde's `flatten` would defeat `deny_unknown_fields`.
macro_rules! http_server_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// `host:port` or `:port`; unset means the component's default.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub endpoint: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub tls: Option<$crate::v2::common::TlsServerConfig>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub cors: Option<$crate::v2::common::CorsConfig>,
            /// Bytes; raw and decompressed.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub max_request_body_size: Option<u64>,
            pub include_metadata: bool,
            #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
            pub response_headers: std::collections::BTreeMap<String, String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub compression_algorithms: Option<Vec<String>>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub read_timeout: Option<$crate::v2::common::GoDuration>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub read_header_timeout: Option<$crate::v2::common::GoDuration>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub write_timeout: Option<$crate::v2::common::GoDuration>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub idle_timeout: Option<$crate::v2::common::GoDuration>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub auth: Option<$crate::v2::common::AuthenticatorRef>,
            $($(#[$fm])* pub $f: $t,)*
        }

        impl $name {
            /// The configured endpoint, or `default` when unset.
            pub fn endpoint_or<'a>(&'a self, default: &'a str) -> &'a str {
                self.endpoint.as_deref().unwrap_or(default)
            }
        }
    };
}
pub(crate) use http_server_struct;

/// Declares a struct that carries OTel's `configgrpc.ServerConfig` keys plus its own.
macro_rules! grpc_server_struct {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct $name {
            /// `host:port` or `:port`; unset means the component's default.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub endpoint: Option<String>,
            /// `tcp` (default) or `unix`.
            #[serde(skip_serializing_if = "Option::is_none")]
            pub transport: Option<String>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub tls: Option<$crate::v2::common::TlsServerConfig>,
            /// Largest accepted message in MiB (grpc-go default 4).
            #[serde(skip_serializing_if = "Option::is_none")]
            pub max_recv_msg_size_mib: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub max_concurrent_streams: Option<u32>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub read_buffer_size: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub write_buffer_size: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub keepalive: Option<$crate::v2::common::GrpcKeepaliveServer>,
            pub include_metadata: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            pub auth: Option<$crate::v2::common::AuthenticatorRef>,
            $($(#[$fm])* pub $f: $t,)*
        }

        impl $name {
            /// The configured endpoint, or `default` when unset.
            pub fn endpoint_or<'a>(&'a self, default: &'a str) -> &'a str {
                self.endpoint.as_deref().unwrap_or(default)
            }
        }
    };
}
pub(crate) use grpc_server_struct;

http_server_struct! {
    /// OTel `confighttp.ServerConfig`.
    pub struct HttpServerConfig {}
}

/// OTel `configgrpc.KeepaliveServerConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcKeepaliveServer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_parameters: Option<GrpcKeepaliveServerParameters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enforcement_policy: Option<GrpcKeepaliveEnforcementPolicy>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcKeepaliveServerParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connection_idle: Option<GoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connection_age: Option<GoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connection_age_grace: Option<GoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<GoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcKeepaliveEnforcementPolicy {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_time: Option<GoDuration>,
    pub permit_without_stream: bool,
}

grpc_server_struct! {
    /// OTel `configgrpc.ServerConfig`.
    pub struct GrpcServerConfig {}
}

/// OTel `configgrpc.KeepaliveClientConfig`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcKeepaliveClient {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<GoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    pub permit_without_stream: bool,
}

/// OTel `configretry.BackOffConfig`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    pub enabled: bool,
    pub initial_interval: GoDuration,
    pub randomization_factor: f64,
    pub multiplier: f64,
    pub max_interval: GoDuration,
    pub max_elapsed_time: GoDuration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_interval: GoDuration::from_secs(5),
            randomization_factor: 0.5,
            multiplier: 1.5,
            max_interval: GoDuration::from_secs(30),
            max_elapsed_time: GoDuration::from_secs(300),
        }
    }
}

/// OTel exporterhelper `QueueBatchConfig` (`queue` / `sending_queue`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueSettings {
    pub enabled: bool,
    pub num_consumers: u64,
    pub queue_size: u64,
    /// `requests`, `items` or `bytes`: what `queue_size` counts.
    pub sizer: String,
    pub block_on_overflow: bool,
    /// Deprecated spelling of `block_on_overflow`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocking: Option<bool>,
    pub wait_for_result: bool,
    /// Id of a storage extension for a persistent queue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub batch: Option<QueueBatch>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            num_consumers: 10,
            queue_size: 1000,
            sizer: "requests".into(),
            block_on_overflow: false,
            blocking: None,
            wait_for_result: false,
            storage: None,
            batch: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueBatch {
    pub flush_timeout: GoDuration,
    pub min_size: u64,
    pub max_size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sizer: Option<String>,
}

impl Default for QueueBatch {
    fn default() -> Self {
        Self {
            flush_timeout: GoDuration::from_millis(200),
            min_size: 8192,
            max_size: 0,
            sizer: None,
        }
    }
}

/// Multi-tenancy switch shared by `jaeger_query` and the `grpc` backend.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiTenancy {
    pub enabled: bool,
    pub header: String,
    pub tenants: Vec<String>,
}

impl Default for MultiTenancy {
    fn default() -> Self {
        Self {
            enabled: false,
            header: "x-tenant".into(),
            tenants: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_forms() {
        let d: GoDuration = serde_yaml::from_str("72h").unwrap();
        assert_eq!(d.0, Duration::from_secs(72 * 3600));
        let d: GoDuration = serde_yaml::from_str("0").unwrap();
        assert!(d.is_zero());
        let d: GoDuration = serde_yaml::from_str("1500000").unwrap();
        assert_eq!(d.0, Duration::from_micros(1500));
        assert!(serde_yaml::from_str::<GoDuration>("-1s").is_err());
        // A bare integer is nanoseconds (mapstructure); a quoted one lacks a unit.
        let d: GoDuration = serde_yaml::from_str("10").unwrap();
        assert_eq!(d.0, Duration::from_nanos(10));
        assert!(serde_yaml::from_str::<GoDuration>("'10'").is_err());
        assert_eq!(GoDuration::from_secs(90).to_string(), "1m30s");
    }

    #[test]
    fn string_list_forms() {
        let l: StringList = serde_yaml::from_str("a, b,,c").unwrap();
        assert_eq!(l.0, ["a", "b", "c"]);
        let l: StringList = serde_yaml::from_str("[x, y]").unwrap();
        assert_eq!(l.0, ["x", "y"]);
    }
}
