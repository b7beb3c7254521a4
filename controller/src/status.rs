//! The one way cutover writes what it owns: server-side apply, the whole status at once
//! (cutover owns every status field, so nothing it dropped lingers).

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::error::Result;

/// The field manager of the status cutover writes.
pub const FIELD_MANAGER: &str = "cutover";

/// The field manager of the ReplicatedMachines a plan applies (their spec and labels). Not
/// [`FIELD_MANAGER`]: before Kubernetes 1.22, `managedFields` do not tell a subresource's
/// apply from the object's (`subresource` came with 1.22), so one manager applying a
/// machine's spec gave up the status fields it owned. Those then outlived the status writes
/// that dropped them: a job that had ended stayed in status, or half a `status.currentJob`
/// did, which the API server refused (422, `currentJob.id: Required`). Two managers keep both
/// sets owned on every version (`tests/tests/api.rs` checks it on 1.20).
pub const PLAN_FIELD_MANAGER: &str = "cutover-plan";

/// Server-side apply of status, forced: cutover is the only writer of what it applies.
pub fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
}

/// Server-side apply of a plan's machine, forced.
pub fn plan_apply_params() -> PatchParams {
    PatchParams::apply(PLAN_FIELD_MANAGER).force()
}

/// Writes `status` as the whole status of `object`.
pub async fn write<K>(ctx: &Context, object: &K, status: &impl Serialize) -> Result<()>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let patch = Patch::Apply(json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    }));
    Api::<K>::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default())
        .patch_status(&object.name_any(), &apply_params(), &patch)
        .await?;
    Ok(())
}
