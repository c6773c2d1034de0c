//! The adjuster pipeline (query spec §4): steps that fix a trace after it is read from
//! storage and before it is converted for a client. Each step mutates the trace in
//! place and never fails; problems become span warnings (`@jaeger@warnings`).
//!
//! The standard steps (clock skew and friends) are added by a later change; until then
//! the pipeline is empty and traces pass through unchanged.

use std::sync::Arc;

use jaeger_model::Trace;

/// One adjustment step.
pub trait Adjuster: Send + Sync {
    /// A short name, for logs.
    fn name(&self) -> &'static str;
    /// Adjusts the trace in place. Must not panic on any input.
    fn adjust(&self, trace: &mut Trace);
}

/// An ordered list of adjusters, cheap to clone.
#[derive(Clone, Default)]
pub struct Adjusters(Arc<[Arc<dyn Adjuster>]>);

impl Adjusters {
    pub fn new(steps: Vec<Arc<dyn Adjuster>>) -> Self {
        Adjusters(steps.into())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Runs every step, in order.
    pub fn apply(&self, trace: &mut Trace) {
        for step in self.0.iter() {
            step.adjust(trace);
        }
    }
}

impl std::fmt::Debug for Adjusters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|a| a.name()))
            .finish()
    }
}
