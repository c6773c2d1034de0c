//! `extensions`: jaeger_storage, jaeger_query, healthcheckv2, remote_sampling, expvar,
//! zpages, pprof and remote_storage; and `dependencies`, ours.

use serde::{Deserialize, Serialize};

use super::common::{
    GoDuration, GrpcServerConfig, HttpServerConfig, MultiTenancy, grpc_server_struct,
    http_server_struct, present,
};
use super::model::component_enum;
use super::storage::JaegerStorageExtension;

component_enum! {
    /// One entry of `extensions`, chosen by the type part of its id.
    pub enum Extension: "extension" {
        "jaeger_storage" => JaegerStorage(JaegerStorageExtension),
        "jaeger_query" => JaegerQuery(JaegerQueryExtension),
        "healthcheckv2" => HealthCheckV2(HealthCheckV2Extension),
        "remote_sampling" => RemoteSampling(RemoteSamplingExtension),
        "remote_storage" => RemoteStorage(RemoteStorageExtension),
        "expvar" => Expvar(ExpvarExtension),
        "zpages" => Zpages(ZpagesExtension),
        "pprof" => Pprof(PprofExtension),
        "dependencies" => Dependencies(DependenciesExtension),
    }
}

/// `extensions.jaeger_query`: the query service and UI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerQueryExtension {
    /// Prefix of every route, e.g. `/jaeger`.
    pub base_path: String,
    pub storage: QueryStorage,
    pub ui: QueryUi,
    /// Cap of the clock-skew correction; 0 disables it.
    pub max_clock_skew_adjust: GoDuration,
    /// Spans per trace returned at most; 0 is unlimited.
    pub max_trace_size: u64,
    /// Trace the query service itself.
    pub enable_tracing: bool,
    pub bearer_token_propagation: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_tenancy: Option<MultiTenancy>,
    pub http: HttpServerConfig,
    pub grpc: GrpcServerConfig,
}

impl Default for JaegerQueryExtension {
    fn default() -> Self {
        Self {
            base_path: "/".into(),
            storage: QueryStorage::default(),
            ui: QueryUi::default(),
            max_clock_skew_adjust: GoDuration::default(),
            max_trace_size: 0,
            enable_tracing: false,
            bearer_token_propagation: false,
            multi_tenancy: None,
            http: HttpServerConfig::default(),
            grpc: GrpcServerConfig::default(),
        }
    }
}

/// Names of `jaeger_storage` backends the query service reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryStorage {
    /// Required: a name in `jaeger_storage.backends`.
    pub traces: String,
    /// A name in `jaeger_storage.backends`; enables `POST /api/archive`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traces_archive: Option<String>,
    /// A name in `jaeger_storage.metric_backends`; enables SPM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryUi {
    /// `.json` or `.js` UI configuration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    /// Directory of UI assets instead of the embedded ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assets_path: Option<String>,
    pub log_access: bool,
}

/// `extensions.healthcheckv2`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthCheckV2Extension {
    /// The v2 status document on `http.status.path`; false serves the legacy
    /// `endpoint`/`path` form.
    pub use_v2: bool,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub component_health: Option<ComponentHealth>,
    pub http: HealthHttp,
    pub grpc: GrpcServerConfig,
    /// Legacy (`use_v2: false`) listen address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Legacy (`use_v2: false`) path.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ComponentHealth {
    pub include_permanent_errors: bool,
    pub include_recoverable_errors: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recovery_duration: Option<GoDuration>,
}

http_server_struct! {
    /// `healthcheckv2.http`.
    pub struct HealthHttp {
        pub status: HealthStatusPath,
        pub config: HealthConfigPath,
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthStatusPath {
    pub enabled: bool,
    pub path: String,
}

impl Default for HealthStatusPath {
    fn default() -> Self {
        Self {
            enabled: true,
            path: "/status".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfigPath {
    pub enabled: bool,
    pub path: String,
}

impl Default for HealthConfigPath {
    fn default() -> Self {
        Self {
            enabled: false,
            path: "/config".into(),
        }
    }
}

/// `extensions.remote_sampling`: exactly one of `file` and `adaptive`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteSamplingExtension {
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub file: Option<FileSampling>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveSampling>,
    /// Default endpoint `:5778`.
    pub http: HttpServerConfig,
    /// Default endpoint `:5779`.
    pub grpc: GrpcServerConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FileSampling {
    /// Local file or http(s) URL of the strategies JSON; unset serves defaults only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// 0..=1.
    pub default_sampling_probability: f64,
    /// 0 never reloads.
    pub reload_interval: GoDuration,
}

impl Default for FileSampling {
    fn default() -> Self {
        Self {
            path: None,
            default_sampling_probability: 0.001,
            reload_interval: GoDuration::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptiveSampling {
    /// Required: a name in `jaeger_storage.backends`.
    pub sampling_store: String,
    pub target_samples_per_second: f64,
    pub delta_tolerance: f64,
    pub calculation_interval: GoDuration,
    pub aggregation_buckets: u32,
    pub calculation_buckets: u32,
    pub calculation_delay: GoDuration,
    pub initial_sampling_probability: f64,
    pub min_sampling_probability: f64,
    pub min_samples_per_second: f64,
    pub leader_lease_refresh_interval: GoDuration,
    pub follower_lease_refresh_interval: GoDuration,
}

impl Default for AdaptiveSampling {
    /// The defaults live in [`crate::AdaptiveSamplingConfig`].
    fn default() -> Self {
        let d = crate::AdaptiveSamplingConfig::default();
        Self {
            sampling_store: String::new(),
            target_samples_per_second: d.target_samples_per_second,
            delta_tolerance: d.delta_tolerance,
            calculation_interval: GoDuration(d.calculation_interval),
            aggregation_buckets: u32::try_from(d.aggregation_buckets).unwrap_or(u32::MAX),
            calculation_buckets: u32::try_from(d.calculation_buckets).unwrap_or(u32::MAX),
            calculation_delay: GoDuration(d.calculation_delay),
            initial_sampling_probability: d.initial_sampling_probability,
            min_sampling_probability: d.min_sampling_probability,
            min_samples_per_second: d.min_samples_per_second,
            leader_lease_refresh_interval: GoDuration::from_secs(5),
            follower_lease_refresh_interval: GoDuration::from_secs(60),
        }
    }
}

grpc_server_struct! {
    /// `extensions.remote_storage`: serves a backend over the remote-storage gRPC API
    /// (default endpoint `:17271`).
    pub struct RemoteStorageExtension {
        /// Required: a name in `jaeger_storage.backends`.
        pub storage: String,
        /// Tenancy by metadata (`cmd/remote-storage`'s `multi_tenancy`).
        #[serde(skip_serializing_if = "Option::is_none")]
        pub multi_tenancy: Option<MultiTenancy>,
    }
}

http_server_struct! {
    /// `extensions.expvar` (default endpoint `0.0.0.0:27777`).
    pub struct ExpvarExtension {}
}

http_server_struct! {
    /// `extensions.zpages` (default endpoint `localhost:55679`).
    pub struct ZpagesExtension {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub expvar: Option<ZpagesExpvar>,
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZpagesExpvar {
    pub enabled: bool,
}

/// `extensions.pprof` (default endpoint `localhost:1777`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PprofExtension {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    pub block_profile_fraction: i64,
    pub mutex_profile_fraction: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub save_to_file: Option<String>,
}

/// `extensions.dependencies` — ours, not Jaeger's: runs the dependencies job inside the
/// process on a cron schedule, against the process's own trace storage (the embedded
/// store can be opened by one process only, so this is how a single binary gets its
/// service graph without an external cron).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DependenciesExtension {
    /// Cron expression, UTC (`sec min hour dom month dow`, or five crontab fields). Required.
    pub schedule: String,
    /// Window of each run: the last complete period of this length (default `24h`: the
    /// previous UTC day).
    pub lookback: GoDuration,
    /// DataFusion's memory pool in MiB; 0 (the default) leaves it unbounded.
    pub memory_limit_mib: u64,
}

impl Default for DependenciesExtension {
    fn default() -> Self {
        Self {
            schedule: String::new(),
            lookback: GoDuration::from_secs(24 * 3600),
            memory_limit_mib: 0,
        }
    }
}
