//! W3C trace context across the event pipeline. A request's span is written into its events'
//! metadata (`traceparent`); the relay continues that trace with a span per event it publishes and
//! sends that span's context as the message's `traceparent` header; each read model continues it
//! from the header. When tracing is off (the default) nothing is asked of any span, so the
//! command path, the relay and the read models pay nothing for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing_opentelemetry::OpenTelemetrySpanExt;

static ON: AtomicBool = AtomicBool::new(false);

/// Turns trace propagation on (the process exports traces).
pub fn turn_on() {
    ON.store(true, Ordering::Relaxed);
}

/// Whether this process exports traces: when it does not, nothing is propagated.
pub fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}

/// The `traceparent` of `span`, when traces are on and it is part of one.
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    if !is_on() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&span.context(), &mut carrier);
    carrier.remove("traceparent")
}

/// Makes `span` a child of the span `traceparent` names.
pub fn follow(span: &tracing::Span, traceparent: &str) {
    let carrier = HashMap::from([("traceparent".to_owned(), traceparent.to_owned())]);
    // A malformed parent leaves the span a root of its own; nothing to do about it here.
    let _ = span.set_parent(TraceContextPropagator::new().extract(&carrier));
}
