//! Which objects a change of another reaches: a vault's readiness reaches the machines that use
//! it, a plan's approval and releases reach its machines, and a machine's progress reaches the
//! plan that created or adopted it. Pure, table-tested.

use std::sync::Arc;

use cutover_api::{MigrationPlan, RecoveryVault, ReplicatedMachine};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use crate::plan::reconcile::{PLAN_LABEL, adopts};

/// The machines in `vault`'s namespace whose `vaultRef` names it.
pub fn machines_using_vault(
    vault: &RecoveryVault,
    machines: &[Arc<ReplicatedMachine>],
) -> Vec<ObjectRef<ReplicatedMachine>> {
    machines
        .iter()
        .filter(|m| m.namespace() == vault.namespace() && m.spec.vault_ref.name == vault.name_any())
        .map(|m| ObjectRef::from_obj(m.as_ref()))
        .collect()
}

/// The machines `plan` drives (see [`drives`]), as the plan's own pass finds them.
pub fn machines_of_plan(
    plan: &MigrationPlan,
    machines: &[Arc<ReplicatedMachine>],
) -> Vec<ObjectRef<ReplicatedMachine>> {
    crate::plan::reconcile::machines_of(plan, machines)
        .iter()
        .map(|m| ObjectRef::from_obj(m.as_ref()))
        .collect()
}

/// The plans that drive `machine`.
pub fn plans_of_machine(
    machine: &ReplicatedMachine,
    plans: &[Arc<MigrationPlan>],
) -> Vec<ObjectRef<MigrationPlan>> {
    plans
        .iter()
        .filter(|p| p.namespace() == machine.namespace() && drives(p, machine))
        .map(|p| ObjectRef::from_obj(p.as_ref()))
        .collect()
}

/// Whether `plan` drives `machine`: it created it (its label), or its selector adopts it.
pub fn drives(plan: &MigrationPlan, machine: &ReplicatedMachine) -> bool {
    match machine.labels().get(PLAN_LABEL) {
        Some(name) => *name == plan.name_any(),
        None => adopts(plan, machine.labels()),
    }
}

#[cfg(test)]
mod tests {
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
            names(machines_of_plan(&wave_plan, &machines)),
            ["created", "adopted"],
            "the machine it created and the one its selector adopts"
        );
        assert_eq!(
            names(machines_of_plan(&by_expression, &machines)),
            ["adopted"]
        );
        let plans = vec![by_expression, wave_plan];
        assert_eq!(names(plans_of_machine(&machines[0], &plans)), ["wave-plan"]);
        assert_eq!(
            names(plans_of_machine(&machines[1], &plans)),
            ["by-expression", "wave-plan"]
        );
        assert!(plans_of_machine(&machines[2], &plans).is_empty());
    }
}
