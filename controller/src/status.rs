//! The one way cutover writes what it owns: server-side apply under one field manager, the
//! whole status at once (cutover owns every status field, so nothing it dropped lingers).

use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde_json::json;

use crate::context::Context;
use crate::error::Result;

/// The field manager of everything cutover applies.
pub const FIELD_MANAGER: &str = "cutover";

/// Server-side apply, forced: cutover is the only writer of what it applies.
pub fn apply_params() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).force()
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
