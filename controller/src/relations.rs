//! Which objects a change of another reaches: a vault's readiness reaches the machines that use
//! it, a plan's approval and releases reach its machines, and a machine's progress reaches the
//! plan that created or adopted it. Read from the reflector stores; pure, table-tested.

use std::hash::{Hash, Hasher};

use cutover_api::conditions::READY;
use cutover_api::{MigrationPlan, RecoveryVault, ReplicatedMachine};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::plan::reconcile::{PLAN_LABEL, adopts};

/// The machines in `vault`'s namespace whose `vaultRef` names it.
pub fn machines_using_vault(
    vault: &RecoveryVault,
    machines: &[std::sync::Arc<ReplicatedMachine>],
) -> Vec<ObjectRef<ReplicatedMachine>> {
    machines
        .iter()
        .filter(|m| m.namespace() == vault.namespace() && m.spec.vault_ref.name == vault.name_any())
        .map(|m| ObjectRef::from_obj(m.as_ref()))
        .collect()
}

/// The machines `plan` drives: those it created (its label) and those its selector adopts.
pub fn machines_of_plan(
    plan: &MigrationPlan,
    machines: &[std::sync::Arc<ReplicatedMachine>],
) -> Vec<ObjectRef<ReplicatedMachine>> {
    machines
        .iter()
        .filter(|m| m.namespace() == plan.namespace() && drives(plan, m))
        .map(|m| ObjectRef::from_obj(m.as_ref()))
        .collect()
}

/// The plans that drive `machine`.
pub fn plans_of_machine(
    machine: &ReplicatedMachine,
    plans: &[std::sync::Arc<MigrationPlan>],
) -> Vec<ObjectRef<MigrationPlan>> {
    plans
        .iter()
        .filter(|p| p.namespace() == machine.namespace() && drives(p, machine))
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

fn drives(plan: &MigrationPlan, machine: &ReplicatedMachine) -> bool {
    match machine.labels().get(PLAN_LABEL) {
        Some(name) => *name == plan.name_any(),
        None => adopts(plan, machine.labels()),
    }
}

fn hash_of(value: impl Hash) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// What of a vault its machines act on: whether it is Ready, and the vault it recorded. A
/// predicate, so a vault's other status writes do not wake every machine that uses it.
pub fn vault_readiness(vault: &RecoveryVault) -> Option<u64> {
    let status = vault.status.as_ref();
    let ready = status.and_then(|s| s.conditions.iter().find(|c| c.type_ == READY));
    Some(hash_of((
        ready.map(|c| c.status.as_str()),
        status.and_then(|s| s.resources.vault_id.as_deref()),
        vault.metadata.deletion_timestamp.is_some(),
    )))
}

/// What of a plan its machines act on: its spec (approval, window, test rules) and what its
/// status releases to replicate and to cut over.
pub fn plan_releases(plan: &MigrationPlan) -> Option<u64> {
    let released = plan
        .status
        .as_ref()
        .map(|s| serde_json::to_string(&s.released).unwrap_or_default());
    Some(hash_of((plan.metadata.generation, released)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;

    fn machine(name: &str, vault: &str, labels: serde_json::Value) -> Arc<ReplicatedMachine> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
                "metadata": {"name": name, "namespace": "n", "labels": labels},
                "spec": {"vaultRef": {"name": vault}, "source": {"name": name}, "osType": "Linux"}
            }))
            .unwrap(),
        )
    }

    fn plan(name: &str, selector: serde_json::Value) -> Arc<MigrationPlan> {
        Arc::new(
            serde_json::from_value(json!({
                "apiVersion": "cutover.dev/v1alpha1", "kind": "MigrationPlan",
                "metadata": {"name": name, "namespace": "n", "generation": 1},
                "spec": {"vaultRef": {"name": "v"}, "machines": {"templates": [], "selector": selector}}
            }))
            .unwrap(),
        )
    }

    fn names<K: kube::Resource>(refs: Vec<ObjectRef<K>>) -> Vec<String> {
        refs.into_iter().map(|r| r.name).collect()
    }

    #[test]
    fn each_change_reaches_the_objects_that_act_on_it() {
        let machines = vec![
            machine("created", "v", json!({"cutover.dev/plan": "wave-plan"})),
            machine("adopted", "v", json!({"app": "web", "env": "prod"})),
            machine("elsewhere", "other", json!({"app": "db"})),
        ];
        let vault: RecoveryVault = serde_json::from_value(json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "RecoveryVault",
            "metadata": {"name": "v", "namespace": "n"},
            "spec": {"subscriptionId": "s", "resourceGroup": "g", "region": "westeurope",
                     "vault": {"create": {"name": "v"}}, "source": {"physical": {"appliance": "a"}},
                     "storage": {"replication": {"create": {"name": "s"}}},
                     "network": {"target": {"create": {"name": "n", "addressSpace": ["10.0.0.0/16"], "subnets": [{"name": "a", "addressPrefix": "10.0.0.0/24"}]}}}}
        }))
        .unwrap();
        assert_eq!(
            names(machines_using_vault(&vault, &machines)),
            ["created", "adopted"]
        );
        let by_expression = plan(
            "by-expression",
            json!({"matchExpressions": [{"key": "env", "operator": "In", "values": ["prod"]}]}),
        );
        let wave_plan = plan("wave-plan", json!({"matchLabels": {"app": "web"}}));
        assert_eq!(
            names(machines_of_plan(&by_expression, &machines)),
            ["adopted"]
        );
        // A machine a plan created is that plan's, whatever another's selector says.
        assert_eq!(
            names(machines_of_plan(&wave_plan, &machines)),
            ["created", "adopted"]
        );
        let plans = vec![by_expression, wave_plan];
        assert_eq!(names(plans_of_machine(&machines[0], &plans)), ["wave-plan"]);
        assert_eq!(
            names(plans_of_machine(&machines[1], &plans)),
            ["by-expression", "wave-plan"]
        );
        assert!(plans_of_machine(&machines[2], &plans).is_empty());
    }

    #[test]
    fn only_what_machines_act_on_wakes_them() {
        let base: RecoveryVault = serde_json::from_value(json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "RecoveryVault",
            "metadata": {"name": "v", "namespace": "n"},
            "spec": {"subscriptionId": "s", "resourceGroup": "g", "region": "westeurope",
                     "vault": {"create": {"name": "v"}}, "source": {"physical": {"appliance": "a"}},
                     "storage": {"replication": {"create": {"name": "s"}}},
                     "network": {"target": {"create": {"name": "n", "addressSpace": ["10.0.0.0/16"], "subnets": [{"name": "a", "addressPrefix": "10.0.0.0/24"}]}}}},
            "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Provisioning", "message": "storage", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
        }))
        .unwrap();
        let mut other_message = base.clone();
        other_message.status.as_mut().unwrap().conditions[0].message = "network".into();
        let mut ready = base.clone();
        ready.status.as_mut().unwrap().conditions[0].status = "True".into();
        assert_eq!(vault_readiness(&base), vault_readiness(&other_message));
        assert_ne!(vault_readiness(&base), vault_readiness(&ready));

        let plan = plan("p", json!({"matchLabels": {"app": "web"}}));
        let mut approved = (*plan).clone();
        approved.metadata.generation = Some(2);
        assert_ne!(plan_releases(&plan), plan_releases(&approved));
    }
}
