//! The `cutover.dev/v1alpha1` API: RecoveryVault, MigrationPlan and ReplicatedMachine.
//!
//! The Rust types generate the CRDs (`cutover crds`); `validate()` on each kind enforces what
//! the OpenAPI schema cannot (rules across fields, immutability), with messages naming the field.

pub mod common;
pub mod conditions;
pub mod machine;
pub mod plan;
pub mod regions;
pub mod validate;
pub mod vault;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

pub use common::{AzureResource, DeletionPolicy, LocalObjectReference, ResourceId};
pub use machine::{
    MachinePhase, ReplicatedMachine, ReplicatedMachineSpec, ReplicatedMachineStatus,
};
pub use plan::{MigrationPlan, MigrationPlanSpec, MigrationPlanStatus, PlanPhase};
pub use validate::{Report, Violation};
pub use vault::{RecoveryVault, RecoveryVaultSpec, RecoveryVaultStatus, SourceKind, VaultPhase};

/// The three CRDs, in the order of their files under `crds/` (by plural name).
pub fn crds() -> Vec<CustomResourceDefinition> {
    [
        MigrationPlan::crd(),
        RecoveryVault::crd(),
        ReplicatedMachine::crd(),
    ]
    .into_iter()
    .map(without_null_enum_values)
    .collect()
}

/// kube lists `null` among the `enum` values of an optional enum field. kubectl validates
/// manifests on the client against servers without field validation (before 1.25), and its
/// schema of `JSONSchemaProps` rejects a `null` enum value, so it cannot even apply the CRD.
/// `nullable: true` stays, so the field may still be left out or set to null.
fn without_null_enum_values(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                if let Some(serde_json::Value::Array(values)) = map.get_mut("enum") {
                    values.retain(|v| !v.is_null());
                }
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut json = serde_json::to_value(&crd).expect("a CRD serialises to JSON");
    strip(&mut json);
    serde_json::from_value(json).expect("stripping enum values keeps a valid CRD")
}
