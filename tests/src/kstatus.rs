//! What a kstatus reader (kubernetes-sigs/cli-utils `pkg/kstatus`, used by Flux's health
//! checks and `kpt live status`) makes of a custom resource, by its README's rules for types
//! it has no special rules for: `metadata.generation` ahead of `status.observedGeneration` is
//! `InProgress`; then a `Stalled` condition True is `Failed`, a `Reconciling` True is
//! `InProgress`, and anything else `Current`. (The Go library is not reachable from here; this
//! is its documented algorithm, not its code.)

use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    InProgress,
    Failed,
    Current,
}

pub fn status(object: &Value) -> Status {
    let observed = object["status"]["observedGeneration"].as_i64();
    let generation = object["metadata"]["generation"].as_i64();
    if let (Some(observed), Some(generation)) = (observed, generation)
        && generation > observed
    {
        return Status::InProgress;
    }
    let condition = |type_: &str| {
        object["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == type_ && c["status"] == "True")
    };
    if condition("Stalled") {
        Status::Failed
    } else if condition("Reconciling") {
        Status::InProgress
    } else {
        Status::Current
    }
}
