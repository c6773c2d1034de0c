//! A trace whose parts are borrowed from where they are stored and copied only when
//! something changes them: the query's adjusters change a few spans of a large trace
//! (clock skew, a fresh id, a warning), and copying the whole trace out of an
//! in-memory store, then freeing the copy, was a third of serving it.
//!
//! [`CowTrace`] mirrors [`Trace`] with `Cow`s at each level; a step that changes a span
//! calls `to_mut()` on it (copying that span only). Clock-skew correction, which moves
//! whole subtrees, does not even copy: it leaves a [`Pending`] shift and warnings beside
//! the borrowed span, applied by `to_mut()` if a later step changes the span, by
//! `into_owned`, and on the fly by the JSON writers, which take every form through
//! [`SpanGroup`] and [`SpanSource`].

use std::borrow::Cow;
use std::sync::Arc;

use crate::otlp::{InstrumentationScope, Resource, ResourceSpans, ScopeSpans, Span};
use crate::sanitize::add_warning;
use crate::trace::{SpanRef, Trace};

/// A trace as [`Trace`], each resource, scope and span either borrowed or owned.
#[derive(Clone, Debug, Default)]
pub struct CowTrace<'a> {
    pub resource_spans: Vec<CowResourceSpans<'a>>,
}

#[derive(Clone, Debug, Default)]
pub struct CowResourceSpans<'a> {
    pub resource: Cow<'a, Option<Resource>>,
    pub scope_spans: Vec<CowScopeSpans<'a>>,
    pub schema_url: Cow<'a, str>,
}

#[derive(Clone, Debug, Default)]
pub struct CowScopeSpans<'a> {
    pub scope: Cow<'a, Option<InstrumentationScope>>,
    pub spans: Vec<CowSpan<'a>>,
    pub schema_url: Cow<'a, str>,
}

/// A span of a [`CowTrace`]: borrowed or owned, and possibly a [`Pending`] change not
/// applied to it yet. [`Self::span`] is the span without that change; readers that
/// need times or warnings go through [`SpanSource`].
#[derive(Clone, Debug)]
pub struct CowSpan<'a> {
    span: Cow<'a, Span>,
    /// Inline, not boxed: clock skew leaves one on most spans of a large trace, and
    /// the writers read it for every span.
    pending: Pending,
}

/// What clock-skew correction does to a span, kept beside it: a shift of every
/// timestamp and warnings to add after the span's own. Warning texts are shared: a
/// subtree's spans all get the same one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Pending {
    /// Nanoseconds added to the start, end and event times (wrapping, as Go's).
    pub shift: i64,
    warnings: Warnings,
}

/// Warnings without an allocation for the usual single one (clock skew's).
#[derive(Clone, Debug, Default, PartialEq)]
enum Warnings {
    #[default]
    None,
    One(Arc<str>),
    Many(Vec<Arc<str>>),
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.shift == 0 && self.warnings().is_empty()
    }

    /// Warnings to add after the span's own, in order.
    pub fn warnings(&self) -> &[Arc<str>] {
        match &self.warnings {
            Warnings::None => &[],
            Warnings::One(w) => std::slice::from_ref(w),
            Warnings::Many(ws) => ws,
        }
    }

    fn push_warning(&mut self, warning: Arc<str>) {
        self.warnings = match std::mem::take(&mut self.warnings) {
            Warnings::None => Warnings::One(warning),
            Warnings::One(first) => Warnings::Many(vec![first, warning]),
            Warnings::Many(mut ws) => {
                ws.push(warning);
                Warnings::Many(ws)
            }
        };
    }
}

/// `ts + delta` as Go's `time.Add` on `time.Unix(0, ts)`: signed, wrapping.
pub fn shift_time(ts: u64, delta: i64) -> u64 {
    (ts as i64).wrapping_add(delta) as u64
}

impl<'a> CowSpan<'a> {
    pub fn borrowed(span: &'a Span) -> Self {
        CowSpan {
            span: Cow::Borrowed(span),
            pending: Pending::default(),
        }
    }

    pub fn owned(span: Span) -> Self {
        CowSpan {
            span: Cow::Owned(span),
            pending: Pending::default(),
        }
    }

    /// The span as stored, without the [`Pending`] change (ids, name, kind, attributes
    /// other than warnings: what no pending change touches).
    pub fn span(&self) -> &Span {
        &self.span
    }

    pub fn pending(&self) -> Option<&Pending> {
        (!self.pending.is_empty()).then_some(&self.pending)
    }

    /// The span for changing: copied first if borrowed, with any pending change
    /// applied.
    pub fn to_mut(&mut self) -> &mut Span {
        let span = self.span.to_mut();
        let pending = std::mem::take(&mut self.pending);
        apply_pending(span, pending.shift, pending.warnings());
        span
    }

    /// Shifts every timestamp of the span by `delta` ns, as a pending change (owned
    /// spans too: shifting them in place touched every span's memory twice).
    pub fn shift_by(&mut self, delta: i64) {
        self.pending.shift = self.pending.shift.wrapping_add(delta);
    }

    /// Adds a warning after the span's own, as a pending change (for owned spans too:
    /// `add_warning` in place grows every attribute list).
    pub fn add_warning(&mut self, warning: impl Into<Arc<str>>) {
        self.pending.push_warning(warning.into())
    }

    /// The span with its pending change applied, copied if it was borrowed.
    pub fn into_owned(self) -> Span {
        let mut span = self.span.into_owned();
        apply_pending(&mut span, self.pending.shift, self.pending.warnings());
        span
    }

    fn into_copy(self) -> Option<Span> {
        match self.span {
            Cow::Owned(s) => Some(s),
            Cow::Borrowed(_) => None,
        }
    }
}

fn shift_span(span: &mut Span, delta: i64) {
    span.start_time_unix_nano = shift_time(span.start_time_unix_nano, delta);
    span.end_time_unix_nano = shift_time(span.end_time_unix_nano, delta);
    for e in span.events.iter_mut() {
        e.time_unix_nano = shift_time(e.time_unix_nano, delta);
    }
}

fn apply_pending(span: &mut Span, shift: i64, warnings: &[Arc<str>]) {
    if shift != 0 {
        shift_span(span, shift);
    }
    for w in warnings {
        add_warning(&mut span.attributes, w.to_string());
    }
}

/// A trace's resource or scope for changing, copied first if borrowed, but only when
/// `must_change` says so: `None` when it is absent or needs no change.
pub fn to_mut_if<'c, T: Clone>(
    part: &'c mut Cow<'_, Option<T>>,
    must_change: impl FnOnce(&T) -> bool,
) -> Option<&'c mut T> {
    if !part.as_ref().as_ref().is_some_and(must_change) {
        return None;
    }
    part.to_mut().as_mut()
}

/// A span as the JSON writers read it: as stored, plus the pending change of a
/// [`CowSpan`] (none for a plain [`Span`]).
pub trait SpanSource: Sync {
    fn span(&self) -> &Span;
    /// Nanoseconds to add to every timestamp.
    fn shift(&self) -> i64 {
        0
    }
    /// Warnings to add after the span's own.
    fn extra_warnings(&self) -> &[Arc<str>] {
        &[]
    }
}

/// The span with its pending change applied: borrowed when there is none, else a copy.
/// For writers that do not read the change on the fly.
pub fn applied<S: SpanSource + ?Sized>(source: &S) -> Cow<'_, Span> {
    let (shift, warnings) = (source.shift(), source.extra_warnings());
    if shift == 0 && warnings.is_empty() {
        return Cow::Borrowed(source.span());
    }
    let mut span = source.span().clone();
    apply_pending(&mut span, shift, warnings);
    Cow::Owned(span)
}

impl SpanSource for Span {
    fn span(&self) -> &Span {
        self
    }
}

impl SpanSource for CowSpan<'_> {
    fn span(&self) -> &Span {
        &self.span
    }
    fn shift(&self) -> i64 {
        self.pending.shift
    }
    fn extra_warnings(&self) -> &[Arc<str>] {
        self.pending.warnings()
    }
}

impl<'a> CowTrace<'a> {
    /// Borrows every part of `resource_spans`: nothing is copied but one pointer per span.
    pub fn borrowed(resource_spans: &'a [ResourceSpans]) -> Self {
        CowTrace {
            resource_spans: resource_spans
                .iter()
                .map(|rs| CowResourceSpans {
                    resource: Cow::Borrowed(&rs.resource),
                    scope_spans: rs
                        .scope_spans
                        .iter()
                        .map(|ss| CowScopeSpans {
                            scope: Cow::Borrowed(&ss.scope),
                            spans: ss.spans.iter().map(CowSpan::borrowed).collect(),
                            schema_url: Cow::Borrowed(&ss.schema_url),
                        })
                        .collect(),
                    schema_url: Cow::Borrowed(&rs.schema_url),
                })
                .collect(),
        }
    }

    /// The trace, copying what is still borrowed.
    pub fn into_owned(self) -> Trace {
        Trace::new(
            self.resource_spans
                .into_iter()
                .map(|rs| ResourceSpans {
                    resource: rs.resource.into_owned(),
                    scope_spans: rs
                        .scope_spans
                        .into_iter()
                        .map(|ss| ScopeSpans {
                            scope: ss.scope.into_owned(),
                            spans: ss.spans.into_iter().map(CowSpan::into_owned).collect(),
                            schema_url: ss.schema_url.into_owned(),
                        })
                        .collect(),
                    schema_url: rs.schema_url.into_owned(),
                })
                .collect(),
        )
    }

    /// The spans that were copied (or owned from the start), moved out so that the
    /// caller decides where they are freed; the borrowed ones need nothing.
    pub fn into_owned_spans(self) -> Vec<Span> {
        self.resource_spans
            .into_iter()
            .flat_map(|rs| rs.scope_spans)
            .flat_map(|ss| ss.spans)
            .filter_map(CowSpan::into_copy)
            .collect()
    }

    pub fn span_count(&self) -> usize {
        crate::trace::span_count(&self.resource_spans)
    }

    pub fn is_empty(&self) -> bool {
        self.span_count() == 0
    }

    /// Every span with its resource and scope, in resource/scope/span order, as stored
    /// (without pending changes: see [`CowSpan::span`]).
    pub fn spans(&self) -> impl Iterator<Item = SpanRef<'_>> {
        crate::trace::spans_of(&self.resource_spans)
    }

    /// The span at (resource, scope, span) index.
    ///
    /// # Panics
    /// If the position is out of range (positions come from walking this trace).
    pub fn span_mut(&mut self, (ri, si, ki): (usize, usize, usize)) -> &mut CowSpan<'a> {
        &mut self.resource_spans[ri].scope_spans[si].spans[ki]
    }
}

impl CowTrace<'static> {
    /// Runs `f` on an owned trace through a view of it: the parts are moved into the
    /// view and back, nothing is copied. For callers that hold a [`Trace`].
    pub fn edit(trace: &mut Trace, f: impl FnOnce(&mut CowTrace<'static>)) {
        let mut view = CowTrace::from(std::mem::take(trace));
        f(&mut view);
        *trace = view.into_owned();
    }
}

/// Takes the trace's parts without copying anything.
impl From<Trace> for CowTrace<'_> {
    fn from(trace: Trace) -> Self {
        CowTrace {
            resource_spans: trace
                .resource_spans
                .into_iter()
                .map(|rs| CowResourceSpans {
                    resource: Cow::Owned(rs.resource),
                    scope_spans: rs
                        .scope_spans
                        .into_iter()
                        .map(|ss| CowScopeSpans {
                            scope: Cow::Owned(ss.scope),
                            spans: ss.spans.into_iter().map(CowSpan::owned).collect(),
                            schema_url: Cow::Owned(ss.schema_url),
                        })
                        .collect(),
                    schema_url: Cow::Owned(rs.schema_url),
                })
                .collect(),
        }
    }
}

/// A resource's spans grouped by scope, borrowed or owned: what the JSON writers read,
/// so that they serve [`Trace`] and [`CowTrace`] alike.
pub trait SpanGroup: Sync {
    type Scope: ScopeGroup;
    fn resource(&self) -> Option<&Resource>;
    fn scopes(&self) -> &[Self::Scope];
    fn schema_url(&self) -> &str;
    fn span_count(&self) -> usize {
        self.scopes().iter().map(|ss| ss.spans().len()).sum()
    }
}

/// One scope's spans, borrowed or owned.
pub trait ScopeGroup: Sync {
    type Span: SpanSource;
    fn scope(&self) -> Option<&InstrumentationScope>;
    fn spans(&self) -> &[Self::Span];
    fn schema_url(&self) -> &str;
}

impl SpanGroup for ResourceSpans {
    type Scope = ScopeSpans;
    fn resource(&self) -> Option<&Resource> {
        self.resource.as_ref()
    }
    fn scopes(&self) -> &[ScopeSpans] {
        &self.scope_spans
    }
    fn schema_url(&self) -> &str {
        &self.schema_url
    }
}

impl ScopeGroup for ScopeSpans {
    type Span = Span;
    fn scope(&self) -> Option<&InstrumentationScope> {
        self.scope.as_ref()
    }
    fn spans(&self) -> &[Span] {
        &self.spans
    }
    fn schema_url(&self) -> &str {
        &self.schema_url
    }
}

impl<'a> SpanGroup for CowResourceSpans<'a> {
    type Scope = CowScopeSpans<'a>;
    fn resource(&self) -> Option<&Resource> {
        self.resource.as_ref().as_ref()
    }
    fn scopes(&self) -> &[CowScopeSpans<'a>] {
        &self.scope_spans
    }
    fn schema_url(&self) -> &str {
        &self.schema_url
    }
}

impl<'a> ScopeGroup for CowScopeSpans<'a> {
    type Span = CowSpan<'a>;
    fn scope(&self) -> Option<&InstrumentationScope> {
        self.scope.as_ref().as_ref()
    }
    fn spans(&self) -> &[CowSpan<'a>] {
        &self.spans
    }
    fn schema_url(&self) -> &str {
        &self.schema_url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Trace {
        let span = |n: u8| Span {
            span_id: vec![n; 8],
            name: format!("s{n}"),
            ..Default::default()
        };
        Trace::new(vec![
            ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(1), span(2)],
                    ..Default::default()
                }],
                ..Default::default()
            },
            ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![span(3)],
                    ..Default::default()
                }],
                schema_url: "u".into(),
                ..Default::default()
            },
        ])
    }

    #[test]
    fn borrowed_copies_only_what_is_changed() {
        let stored = sample();
        let mut view = CowTrace::borrowed(&stored.resource_spans);
        assert_eq!(view.span_count(), 3);
        view.span_mut((0, 0, 1)).to_mut().name = "changed".into();
        let names: Vec<&str> = view.spans().map(|s| s.span.name.as_str()).collect();
        assert_eq!(names, ["s1", "changed", "s3"]);
        assert_eq!(stored.resource_spans[0].scope_spans[0].spans[1].name, "s2");
        let copied = view.clone().into_owned_spans();
        assert_eq!(copied.len(), 1, "only the changed span was copied");
        let mut expected = stored.clone();
        expected.resource_spans[0].scope_spans[0].spans[1].name = "changed".into();
        assert_eq!(view.into_owned(), expected);
    }

    #[test]
    fn owned_round_trip_moves_everything() {
        let t = sample();
        let view = CowTrace::from(t.clone());
        assert_eq!(view.clone().into_owned_spans().len(), 3);
        assert_eq!(view.into_owned(), t);
    }

    #[test]
    fn pending_changes_apply_in_order_when_copied() {
        let mut stored = sample();
        stored.resource_spans[0].scope_spans[0].spans[0].start_time_unix_nano = 100;
        stored.resource_spans[0].scope_spans[0].spans[0].end_time_unix_nano = 200;
        let mut view = CowTrace::borrowed(&stored.resource_spans);
        let s = view.span_mut((0, 0, 0));
        s.shift_by(-50);
        s.add_warning("first");
        assert_eq!(s.span().start_time_unix_nano, 100, "nothing copied yet");
        assert_eq!(SpanSource::shift(&*s), -50);
        add_warning(&mut s.to_mut().attributes, "second".into());
        let span = s.clone().into_owned();
        assert_eq!(
            (span.start_time_unix_nano, span.end_time_unix_nano),
            (50, 150)
        );
        assert_eq!(
            crate::sanitize::warnings(&span.attributes),
            ["first", "second"]
        );
        // An owned span gets the same result.
        let mut owned = CowSpan::owned(stored.resource_spans[0].scope_spans[0].spans[0].clone());
        owned.shift_by(-50);
        owned.add_warning("first");
        add_warning(&mut owned.to_mut().attributes, "second".into());
        assert!(owned.pending().is_none());
        assert_eq!(owned.into_owned(), span);
    }

    #[test]
    fn several_pending_warnings_keep_their_order() {
        let stored = sample();
        let mut view = CowTrace::borrowed(&stored.resource_spans);
        let s = view.span_mut((0, 0, 0));
        for w in ["one", "two", "three"] {
            s.add_warning(w);
        }
        let texts: Vec<&str> = s.extra_warnings().iter().map(|w| &**w).collect();
        assert_eq!(texts, ["one", "two", "three"]);
        let span = s.clone().into_owned();
        assert_eq!(
            crate::sanitize::warnings(&span.attributes),
            ["one", "two", "three"]
        );
    }
}
