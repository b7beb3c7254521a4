//! What every controller does after a failed pass: one Warning Event (unless the status writer
//! published it with the condition that says the failure), then wait: for a spec change when the spec is at fault, for `Retry-After`
//! when ARM throttles, otherwise with per-object exponential backoff. Progress (a teardown
//! step) is not a failure and does not back off.

use std::sync::Arc;

use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};

use crate::context::Context;
use crate::error::Error;

pub fn error_policy<K>(object: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action
where
    K: Resource<DynamicType = ()>,
{
    let key = object.uid().unwrap_or_default();
    if error.needs_event() {
        tracing::warn!(kind = %K::kind(&()), name = %object.name_any(), namespace = object.namespace().unwrap_or_default(), reason = error.reason(), %error, "reconcile failed");
        let reference = object.object_ref(&());
        let (reason, note) = (error.reason(), error.to_string());
        let events = ctx.clone();
        tokio::spawn(async move {
            events
                .event(&reference, true, reason, note, "Reconcile")
                .await
        });
    }
    match error.retry_after(ctx.timing.poll) {
        None => Action::await_change(),
        Some(base) if !error.is_warning() => Action::requeue(base),
        Some(base) => Action::requeue(ctx.backoff(&key, base)),
    }
}
