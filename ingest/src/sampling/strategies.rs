//! Jaeger's sampling strategies file (ingest spec §3.3) and the responses it yields.
//!
//! The rules follow Jaeger's static provider: `probabilistic` → `samplingRate = param`,
//! `ratelimiting` → `maxTracesPerSecond = param` truncated to int32, any other type →
//! probabilistic at the configured default probability. Operation strategies build a
//! per-operation block (rate-limited operations are skipped with a warning); the default
//! strategy's operations are copied to services without their own and merged into
//! services with their own (the service's entries win by operation name).

use std::collections::HashMap;

use jaeger_proto::api_v2::{
    OperationSamplingStrategy, PerOperationSamplingStrategies, ProbabilisticSamplingStrategy,
    RateLimitingSamplingStrategy, SamplingStrategyResponse, SamplingStrategyType,
};
use serde::Deserialize;

/// Jaeger's default sampling probability when no file or no usable strategy is given.
pub const DEFAULT_SAMPLING_PROBABILITY: f64 = 0.001;

/// The file's top level. Unknown fields are ignored, as Go's `encoding/json` does.
#[derive(Debug, Default, Deserialize)]
pub struct StrategiesFile {
    #[serde(default)]
    pub default_strategy: Option<ServiceStrategy>,
    #[serde(default)]
    pub service_strategies: Option<Vec<ServiceStrategy>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct ServiceStrategy {
    #[serde(default)]
    pub service: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub param: f64,
    #[serde(default)]
    pub operation_strategies: Option<Vec<OperationStrategy>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct OperationStrategy {
    #[serde(default)]
    pub operation: String,
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub param: f64,
}

/// Why a strategies file was not used.
#[derive(Debug, thiserror::Error)]
pub enum StrategiesError {
    #[error("cannot read sampling strategies file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("failed to unmarshal sampling strategies: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("sampling strategies from a URL ({0}) are not supported; give a local file path")]
    UrlUnsupported(String),
}

/// The responses served: one per listed service, and the default for everyone else.
#[derive(Clone, Debug, PartialEq)]
pub struct Strategies {
    pub default: SamplingStrategyResponse,
    pub services: HashMap<String, SamplingStrategyResponse>,
}

impl Strategies {
    /// Only the default: probabilistic at `default_probability`.
    pub fn defaults(default_probability: f64) -> Self {
        Self {
            default: probabilistic(default_probability),
            services: HashMap::new(),
        }
    }

    /// Parses the file's bytes. A JSON `null` means "no strategies" (defaults only).
    pub fn parse(bytes: &[u8], default_probability: f64) -> Result<Self, StrategiesError> {
        let file: Option<StrategiesFile> = serde_json::from_slice(bytes)?;
        Ok(match file {
            None => Self::defaults(default_probability),
            Some(f) => Self::build(f, default_probability),
        })
    }

    /// Builds the responses from a parsed file.
    pub fn build(file: StrategiesFile, default_probability: f64) -> Self {
        let mut out = Self::defaults(default_probability);
        if let Some(d) = &file.default_strategy {
            out.default = service_response(d, default_probability);
        }
        let default_ops = out.default.operation_sampling.clone();
        for s in file.service_strategies.unwrap_or_default() {
            let mut resp = service_response(&s, default_probability);
            if let Some(default_ops) = &default_ops {
                match (&mut resp.operation_sampling, &resp.probabilistic_sampling) {
                    // No operations of its own: the default's, at the service's own rate.
                    (None, Some(p)) => {
                        let mut ops = default_ops.clone();
                        ops.default_sampling_probability = p.sampling_rate;
                        resp.operation_sampling = Some(ops);
                    }
                    (None, None) => {}
                    (Some(own), _) => {
                        for d in &default_ops.per_operation_strategies {
                            if !own
                                .per_operation_strategies
                                .iter()
                                .any(|o| o.operation == d.operation)
                            {
                                own.per_operation_strategies.push(d.clone());
                            }
                        }
                    }
                }
            }
            // A later entry for the same service replaces an earlier one, as in Jaeger.
            out.services.insert(s.service.clone(), resp);
        }
        out
    }

    /// The service's strategy, else the default.
    pub fn lookup(&self, service: &str) -> &SamplingStrategyResponse {
        self.services.get(service).unwrap_or(&self.default)
    }
}

/// Probabilistic sampling at `rate`.
pub fn probabilistic(rate: f64) -> SamplingStrategyResponse {
    SamplingStrategyResponse {
        strategy_type: SamplingStrategyType::Probabilistic as i32,
        probabilistic_sampling: Some(ProbabilisticSamplingStrategy {
            sampling_rate: rate,
        }),
        rate_limiting_sampling: None,
        operation_sampling: None,
    }
}

fn strategy_response(kind: &str, param: f64, default_probability: f64) -> SamplingStrategyResponse {
    match kind {
        "probabilistic" => probabilistic(param),
        "ratelimiting" => SamplingStrategyResponse {
            strategy_type: SamplingStrategyType::RateLimiting as i32,
            probabilistic_sampling: None,
            // Go's int32(float64): truncation toward zero; `as` also saturates instead of
            // wrapping on absurd values.
            rate_limiting_sampling: Some(RateLimitingSamplingStrategy {
                max_traces_per_second: param as i32,
            }),
            operation_sampling: None,
        },
        other => {
            tracing::warn!(
                strategy_type = other,
                param,
                "failed to parse sampling strategy: unknown type, using probabilistic {default_probability}"
            );
            probabilistic(default_probability)
        }
    }
}

fn service_response(s: &ServiceStrategy, default_probability: f64) -> SamplingStrategyResponse {
    let mut resp = strategy_response(&s.kind, s.param, default_probability);
    let Some(ops) = s.operation_strategies.as_ref().filter(|o| !o.is_empty()) else {
        return resp;
    };
    let mut block = PerOperationSamplingStrategies {
        default_sampling_probability: default_probability,
        ..Default::default()
    };
    if let Some(p) = &resp.probabilistic_sampling {
        block.default_sampling_probability = p.sampling_rate;
    }
    for op in ops {
        let r = strategy_response(&op.kind, op.param, default_probability);
        if r.rate_limiting_sampling.is_some() {
            tracing::warn!(
                operation = op.operation,
                "operation strategies only support probabilistic sampling; '{}' falls back to the default probability {}",
                op.operation,
                block.default_sampling_probability
            );
            continue;
        }
        block
            .per_operation_strategies
            .push(OperationSamplingStrategy {
                operation: op.operation.clone(),
                probabilistic_sampling: r.probabilistic_sampling,
            });
    }
    resp.operation_sampling = Some(block);
    resp
}

/// Jaeger's JSON for a response (ingest spec §3.2): field order of the proto, the enum by
/// name (or, in `legacy` form for Thrift-0.9.2-era clients, by number), absent
/// sub-messages left out, numbers formatted as Go does.
pub fn to_json(r: &SamplingStrategyResponse, legacy: bool) -> String {
    let mut out = String::with_capacity(128);
    out.push_str("{\"strategyType\":");
    if legacy {
        out.push_str(&r.strategy_type.to_string());
    } else {
        let name = match SamplingStrategyType::try_from(r.strategy_type) {
            Ok(SamplingStrategyType::RateLimiting) => "RATE_LIMITING".to_string(),
            Ok(SamplingStrategyType::Probabilistic) => "PROBABILISTIC".to_string(),
            // jsonpb writes an unknown enum value as its number.
            Err(_) => r.strategy_type.to_string(),
        };
        if name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            out.push('"');
            out.push_str(&name);
            out.push('"');
        } else {
            out.push_str(&name);
        }
    }
    if let Some(p) = &r.probabilistic_sampling {
        out.push_str(",\"probabilisticSampling\":{\"samplingRate\":");
        out.push_str(&go_float(p.sampling_rate));
        out.push('}');
    }
    if let Some(l) = &r.rate_limiting_sampling {
        out.push_str(",\"rateLimitingSampling\":{\"maxTracesPerSecond\":");
        out.push_str(&l.max_traces_per_second.to_string());
        out.push('}');
    }
    if let Some(o) = &r.operation_sampling {
        out.push_str(",\"operationSampling\":{\"defaultSamplingProbability\":");
        out.push_str(&go_float(o.default_sampling_probability));
        out.push_str(",\"defaultLowerBoundTracesPerSecond\":");
        out.push_str(&go_float(o.default_lower_bound_traces_per_second));
        out.push_str(",\"perOperationStrategies\":[");
        for (i, op) in o.per_operation_strategies.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"operation\":");
            out.push_str(
                &serde_json::to_string(&op.operation).expect("a string always serializes"),
            );
            match &op.probabilistic_sampling {
                Some(p) => {
                    out.push_str(",\"probabilisticSampling\":{\"samplingRate\":");
                    out.push_str(&go_float(p.sampling_rate));
                    out.push('}');
                }
                // EmitDefaults writes an unset message as null.
                None => out.push_str(",\"probabilisticSampling\":null"),
            }
            out.push('}');
        }
        out.push_str("],\"defaultUpperBoundTracesPerSecond\":");
        out.push_str(&go_float(o.default_upper_bound_traces_per_second));
        out.push('}');
    }
    out.push('}');
    out
}

/// A float as Go's `encoding/json` writes it: shortest round-trip digits, plain notation
/// unless the magnitude is below 1e-6 or at least 1e21 (then `1e-7` style).
pub fn go_float(v: f64) -> String {
    if !v.is_finite() {
        // JSON has no NaN/Inf; Go's encoder would fail. Never produced from a JSON file.
        return "0".into();
    }
    let abs = v.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}
