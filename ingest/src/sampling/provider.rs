//! The file-based strategy provider: loads the strategies file at start, re-reads it on
//! an interval, and keeps the last good strategies when a reload fails.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use jaeger_proto::api_v2::SamplingStrategyResponse;

use super::strategies::{Strategies, StrategiesError};

/// Where the strategies come from.
#[derive(Clone, Debug)]
pub struct FileProviderOptions {
    /// The strategies file; `None` serves the default strategy to everyone.
    pub path: Option<PathBuf>,
    /// Zero never reloads.
    pub reload_interval: Duration,
    /// The probability of the default strategy, and of unknown strategy types.
    pub default_sampling_probability: f64,
}

/// Answers "which strategy for this service"; cheap to clone.
#[derive(Clone)]
pub struct StrategyProvider {
    current: Arc<RwLock<Arc<Strategies>>>,
}

impl StrategyProvider {
    /// A provider serving fixed strategies (tests, defaults).
    pub fn fixed(strategies: Strategies) -> Self {
        Self {
            current: Arc::new(RwLock::new(Arc::new(strategies))),
        }
    }

    /// Loads the file (a broken file at start-up is an error, as in Jaeger) and, when
    /// `reload_interval` is non-zero, spawns the reload task, which ends when `stop`
    /// resolves.
    pub async fn from_file(
        options: FileProviderOptions,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> Result<Self, StrategiesError> {
        let p = options.default_sampling_probability;
        let Some(path) = options.path.clone() else {
            tracing::info!(
                "no sampling strategies file; every service gets probabilistic sampling at {p}"
            );
            return Ok(Self::fixed(Strategies::defaults(p)));
        };
        let shown = path.display().to_string();
        if shown.starts_with("http://") || shown.starts_with("https://") {
            return Err(StrategiesError::UrlUnsupported(shown));
        }
        let bytes = read(&path).await?;
        let strategies = Strategies::parse(&bytes, p)?;
        tracing::info!(
            file = %shown,
            services = strategies.services.len(),
            "sampling strategies loaded"
        );
        let provider = Self::fixed(strategies);
        if !options.reload_interval.is_zero() {
            let reloader = provider.clone();
            tokio::spawn(async move {
                tokio::select! {
                    _ = reloader.reload_loop(path, options.reload_interval, p, bytes) => {}
                    _ = stop => {}
                }
            });
        }
        Ok(provider)
    }

    async fn reload_loop(&self, path: PathBuf, every: Duration, p: f64, mut last: Vec<u8>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await; // the first tick is immediate; the file was just read
        loop {
            tick.tick().await;
            if let Some(b) = self.reload(&path, &last, p).await {
                last = b;
            }
        }
    }

    /// One reload: `Some(new bytes)` when the file changed and parsed; on failure the
    /// current strategies stay and the reason is logged.
    pub async fn reload(&self, path: &Path, last: &[u8], p: f64) -> Option<Vec<u8>> {
        let bytes = match read(path).await {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(
                    "failed to re-load sampling strategies, keeping the previous ones: {e}"
                );
                return None;
            }
        };
        if bytes == last {
            return None;
        }
        match Strategies::parse(&bytes, p) {
            Ok(s) => {
                tracing::info!(
                    file = %path.display(),
                    services = s.services.len(),
                    "sampling strategies reloaded"
                );
                self.replace(s);
                Some(bytes)
            }
            Err(e) => {
                tracing::error!(
                    file = %path.display(),
                    "failed to update sampling strategies, keeping the previous ones: {e}"
                );
                None
            }
        }
    }

    /// Serves `s` from now on (reloads, adaptive sampling).
    pub fn replace(&self, s: Strategies) {
        // A poisoned lock only means a reader panicked; the value inside is whole.
        let mut g = self.current.write().unwrap_or_else(|e| e.into_inner());
        *g = Arc::new(s);
    }

    /// The strategies in force.
    pub fn snapshot(&self) -> Arc<Strategies> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The strategy for `service` (the default for unknown services).
    pub fn strategy(&self, service: &str) -> SamplingStrategyResponse {
        self.snapshot().lookup(service).clone()
    }
}

async fn read(path: &Path) -> Result<Vec<u8>, StrategiesError> {
    tokio::fs::read(path)
        .await
        .map_err(|source| StrategiesError::Read {
            path: path.display().to_string(),
            source,
        })
}
