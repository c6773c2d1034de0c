//! The adjuster pipeline (query spec §4): steps that fix a trace after it is read from
//! storage and before it is converted for a client. Each step changes the trace in
//! place and never fails; problems become span warnings (`@jaeger@warnings`).
//!
//! Steps work on a [`CowTrace`]: a trace lent by the store stays borrowed except for the
//! spans a step changes, which it copies with `to_mut()` only when it must (check on
//! the borrowed span first).

use std::sync::Arc;

use jaeger_model::{CowTrace, Trace};

/// One adjustment step.
pub trait Adjuster: Send + Sync {
    /// A short name, for logs.
    fn name(&self) -> &'static str;
    /// Adjusts the trace in place, copying only what it changes. Must not panic on any
    /// input.
    fn adjust_cow(&self, trace: &mut CowTrace<'_>);
    /// Adjusts an owned trace (moved through a [`CowTrace`]: nothing is copied).
    fn adjust(&self, trace: &mut Trace) {
        CowTrace::edit(trace, |view| self.adjust_cow(view));
    }
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
        CowTrace::edit(trace, |view| self.apply_cow(view));
    }

    /// Runs every step, in order, on a trace that may be borrowed.
    pub fn apply_cow(&self, trace: &mut CowTrace<'_>) {
        for step in self.0.iter() {
            step.adjust_cow(trace);
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
