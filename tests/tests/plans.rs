//! MigrationPlans end to end: every scenario of deploy/examples from apply to Completed, the
//! cutover gate (approval, window), and a failed ASR job reported by its machine and its plan.

use std::time::Duration;

/// How long a test waits for one state.
const TIMEOUT: Duration = Duration::from_secs(240);

use anyhow::Result;
use cutover_api::vault::RecoveryVault;
use cutover_api::{MachinePhase, MigrationPlan, PlanPhase, ReplicatedMachine};
use cutover_e2e::examples::example;
use cutover_e2e::kstatus::{self, Status};
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::wait::{apply, delete_and_wait_gone, event_messages, wait_for, wait_gone};
use cutover_e2e::{control_plane, temp_namespace};
use kube::Api;
use kube::api::{Patch, PatchParams};
use reqwest::Method;
use serde_json::{Value, json};

/// What a kstatus reader makes of `object`.
fn kstatus_of(object: &impl serde::Serialize) -> Status {
    kstatus::status(&serde_json::to_value(object).expect("an object serializes"))
}

fn phase(plan: &MigrationPlan) -> Option<PlanPhase> {
    plan.status.as_ref().and_then(|s| s.phase)
}

/// Failovers (planned or not) the simulator was asked for.
async fn failovers(sim: &Simulator) -> Result<usize> {
    Ok(sim
        .requests("method=POST&path=/unplannedFailover")
        .await?
        .len()
        + sim
            .requests("method=POST&path=/plannedFailover")
            .await?
            .len())
}

/// How many protected items a vault holds.
async fn protected_items(sim: &Simulator, vault_path: &str) -> Result<usize> {
    let path = format!("{vault_path}/replicationProtectedItems?api-version=2025-08-01");
    Ok(sim.arm(Method::GET, &path, None).await?.1["value"]
        .as_array()
        .map_or(0, Vec::len))
}

/// A simulator where a migration takes seconds: fast time, a fast link.
fn fast_sim() -> Result<Simulator> {
    Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])
}

#[tokio::test]
async fn every_scenario_migrates_from_apply_to_completed() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "plans").await?;
    let sim = fast_sim()?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let mut plans = Vec::new();
    for file in cutover_e2e::examples::SCENARIOS {
        let (vault, mut plan) = example(file)?;
        // Approved, with no window and automatic cleanup, so nothing waits for a person.
        plan["spec"]["cutover"]["approved"] = json!(true);
        plan["spec"]["cutover"]["window"] = Value::Null;
        plan["spec"]["testFailover"] = json!({"required": true, "autoCleanup": true});
        apply(plane, &ns, &vault)?;
        apply(plane, &ns, &plan)?;
        plans.push(
            plan["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let api = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let mut machines = 0;
    for name in &plans {
        let done = wait_for(&api, name, &controller, "Completed", TIMEOUT, |p| {
            phase(p) == Some(PlanPhase::Completed)
        })
        .await?;
        let status = done.status.unwrap();
        assert!(status.completed_at.is_some(), "{name}");
        assert_eq!(status.machines.completed, status.machines.total, "{name}");
        assert!(status.machines.total >= 2, "{name}");
        assert_eq!(status.progress_percent, 100, "{name}");
        machines += status.machines.total as usize;
    }
    // Exactly one failover and one commit per machine, whatever the restarts of passes.
    let failovers = sim
        .requests("method=POST&path=/plannedFailover")
        .await?
        .len()
        + sim
            .requests("method=POST&path=/unplannedFailover")
            .await?
            .len();
    let commits = sim
        .requests("method=POST&path=/failoverCommit")
        .await?
        .len();
    let test_requests: Vec<(Value, Value)> = sim
        .requests("method=POST&path=/testFailover")
        .await?
        .into_iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/testFailover"))
        })
        .map(|r| (r["status"].clone(), r["path"].clone()))
        .collect();
    assert_eq!(
        (failovers, commits, test_requests.len()),
        (machines, machines, machines),
        "one test failover, failover and commit per machine; test failovers asked: {test_requests:#?}"
    );
    let rms = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns)
        .list(&Default::default())
        .await?;
    // A static address is given to ASR once, in place, before the failover: one accepted PATCH
    // of the item per machine that names one, and each migrated VM has its address.
    let updates: Vec<Value> = sim
        .requests("method=PATCH&path=/replicationProtectedItems/")
        .await?;
    let with_address: Vec<&ReplicatedMachine> = rms
        .items
        .iter()
        .filter(|m| m.spec.target.static_ip.is_some())
        .collect();
    assert!(
        with_address.len() >= 3,
        "the examples name a static address for Hyper-V, InMage RCM and A2A machines"
    );
    assert_eq!(
        updates
            .iter()
            .filter(|r| r["status"].as_u64().is_some_and(|s| s < 300))
            .count(),
        with_address.len(),
        "one accepted update per machine with a static address: {updates:#?}"
    );
    for machine in &with_address {
        let status = machine.status.clone().unwrap_or_default();
        assert_eq!(
            status.target_private_ip, machine.spec.target.static_ip,
            "{:?}: the migrated VM's address",
            machine.metadata.name
        );
    }
    for machine in &rms.items {
        let status = machine.status.clone().unwrap_or_default();
        assert_eq!(status.phase, Some(MachinePhase::Completed));
        assert!(status.test_vm_id.is_none(), "the test VM was cleaned up");
        let vm = status
            .target_vm_id
            .clone()
            .unwrap_or_else(|| panic!("{:?} has no target VM", machine.metadata.name));
        assert_eq!(
            sim.arm(Method::GET, &format!("{vm}?api-version=2024-07-01"), None)
                .await?
                .0,
            200,
            "the migrated VM {vm} runs"
        );
    }
    let described = plane.kubectl_ok(&["get", "-n", &ns, "mplan"])?;
    assert!(
        described.lines().skip(1).all(|l| l.contains("Completed")),
        "{described}"
    );
    Ok(())
}

#[tokio::test]
async fn a_plan_waits_for_approval_and_its_window() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "gate").await?;
    let sim = fast_sim()?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("aws.yaml")?;
    plan["spec"]["waves"] = Value::Null;
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let api = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let waiting = wait_for(
        &api,
        "aws-storefront",
        &controller,
        "AwaitingApproval",
        TIMEOUT,
        |p| phase(p) == Some(PlanPhase::AwaitingApproval),
    )
    .await?;
    assert_eq!(
        waiting.status.unwrap().machines.tested,
        3,
        "tested and ready, nothing more"
    );
    assert_eq!(failovers(&sim).await?, 0);
    // A plan without waves is one wave, "all", and each machine says so.
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns)
        .list(&Default::default())
        .await?;
    assert_eq!(machines.items.len(), 3);
    for machine in &machines.items {
        assert_eq!(
            machine.status.as_ref().and_then(|s| s.wave.as_deref()),
            Some("all"),
            "{:?}",
            machine.metadata.name
        );
    }

    let next_year = json!({"spec": {"cutover": {"approved": true, "window": {"start": "2027-11-23T22:00:00Z", "end": "2027-11-24T04:00:00Z"}}}});
    api.patch(
        "aws-storefront",
        &PatchParams::default(),
        &Patch::Merge(next_year),
    )
    .await?;
    wait_for(
        &api,
        "aws-storefront",
        &controller,
        "AwaitingWindow",
        TIMEOUT,
        |p| phase(p) == Some(PlanPhase::AwaitingWindow),
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        failovers(&sim).await?,
        0,
        "approved, but outside the window: no failover"
    );

    api.patch(
        "aws-storefront",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"cutover": {"window": null}}})),
    )
    .await?;
    wait_for(
        &api,
        "aws-storefront",
        &controller,
        "Completed",
        TIMEOUT,
        |p| phase(p) == Some(PlanPhase::Completed),
    )
    .await?;
    assert_eq!(failovers(&sim).await?, 3);
    Ok(())
}

/// Approving a plan reaches its waiting machines at once, not at their next requeue. A first
/// controller brings the plan to its approval gate quickly; a second, with the default poll
/// interval (10 s: a machine at the gate looks again a minute later at the soonest), takes over,
/// and the plan is approved within its first seconds: only the plan's change can start a
/// failover before that minute.
#[tokio::test]
async fn an_approval_reaches_the_machines_waiting_for_it_at_once() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "approval-wakes").await?;
    let sim = fast_sim()?;
    let mut fast = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("aws.yaml")?;
    plan["spec"]["waves"] = Value::Null;
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let api = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    wait_for(
        &api,
        "aws-storefront",
        &fast,
        "AwaitingApproval",
        TIMEOUT,
        |p| phase(p) == Some(PlanPhase::AwaitingApproval),
    )
    .await?;
    fast.terminate(Duration::from_secs(20))?;

    let controller = Controller::start(
        plane,
        &sim,
        &ns,
        &[
            ("CUTOVER_POLL_SECONDS", "10"),
            ("CUTOVER_RESYNC_SECONDS", "300"),
        ],
    )?;
    // Its first passes over the machines, which find them at the gate.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(failovers(&sim).await?, 0);
    let approved_at = std::time::Instant::now();
    api.patch(
        "aws-storefront",
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"cutover": {"approved": true}}})),
    )
    .await?;
    while failovers(&sim).await? == 0 {
        assert!(
            approved_at.elapsed() < Duration::from_secs(40),
            "no failover 40 s after the approval:\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

#[tokio::test]
async fn a_failed_job_fails_its_machine_and_the_plan_says_which_and_why() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "failed-job").await?;
    let sim = fast_sim()?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let fault = json!({"method": "POST", "pathContains": "/vmware-erp-app1/unplannedFailover", "times": 1, "failJob": {
        "code": "70038", "message": "The virtual machine failed to boot in Azure.", "possibleCauses": "Unsupported drivers.", "recommendedAction": "Install Hyper-V drivers and retry."}});
    sim.admin(Method::POST, "faults", Some(fault)).await?;
    let (vault, mut plan) = example("vmware.yaml")?;
    plan["spec"]["cutover"]["approved"] = json!(true);
    plan["spec"]["cutover"]["window"] = Value::Null;
    // VMware has no planned failover; unplanned it is.
    plan["spec"]["cutover"]["shutdownSource"] = json!(false);
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let api = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let finished = wait_for(
        &api,
        "vmware-erp",
        &controller,
        "finished with a failure",
        TIMEOUT,
        |p| phase(p) == Some(PlanPhase::Failed),
    )
    .await?;
    let status = finished.status.unwrap();
    assert_eq!(
        status.machines.completed, 2,
        "the rest of the wave carried on"
    );
    assert_eq!(status.failed_machines.len(), 1);
    let failure = &status.failed_machines[0];
    assert_eq!(failure.name, "vmware-erp-app1");
    assert!(
        failure
            .message
            .contains("70038: The virtual machine failed to boot in Azure."),
        "{}",
        failure.message
    );
    assert!(
        failure
            .message
            .contains("Install Hyper-V drivers and retry."),
        "{}",
        failure.message
    );
    // A kstatus reader (Flux's health checks) sees the failed machine, and its plan, Failed.
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    assert_eq!(
        kstatus_of(&machines.get("vmware-erp-app1").await?),
        Status::Failed
    );
    assert_eq!(kstatus_of(&api.get("vmware-erp").await?), Status::Failed);
    let events = plane.kubectl_ok(&[
        "get",
        "events",
        "-n",
        &ns,
        "--field-selector",
        "involvedObject.name=vmware-erp-app1",
        "-o",
        "jsonpath={.items[*].type}",
    ])?;
    assert!(
        events.contains("Warning"),
        "a Warning Event for the failed machine: {events}"
    );

    // Nothing retries by itself; the annotation asks once, and the plan completes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(failovers(&sim).await?, 3, "no retry without asking");
    plane.kubectl_ok(&[
        "annotate",
        "-n",
        &ns,
        "rmachine",
        "vmware-erp-app1",
        "cutover.dev/retry=true",
    ])?;
    wait_for(
        &api,
        "vmware-erp",
        &controller,
        "Completed after the retry",
        TIMEOUT,
        |p| phase(p) == Some(PlanPhase::Completed),
    )
    .await?;
    assert_eq!(
        failovers(&sim).await?,
        4,
        "exactly one more failover: the retried one"
    );
    assert!(
        !machines
            .get("vmware-erp-app1")
            .await?
            .metadata
            .annotations
            .unwrap_or_default()
            .contains_key("cutover.dev/retry"),
        "the retry annotation is cleared once acted on"
    );
    Ok(())
}

#[tokio::test]
async fn deleting_a_plan_with_delete_removes_its_machines_and_their_replication() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "plan-delete").await?;
    let sim = fast_sim()?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("physical.yaml")?;
    plan["spec"]["deletionPolicy"] = json!("Delete");
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let api = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    // Unapproved: the machines replicate and wait at the gate.
    wait_for(
        &api,
        "physical-legacy",
        &controller,
        "its machines protected",
        TIMEOUT,
        |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.machines.total == 3 && s.machines.protected == 3)
        },
    )
    .await?;
    let vault_path = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-migration-dc3/providers/Microsoft.RecoveryServices/vaults/dc3-vault";
    assert_eq!(protected_items(&sim, vault_path).await?, 3);

    plane.kubectl_ok(&[
        "delete",
        "-n",
        &ns,
        "mplan",
        "physical-legacy",
        "--wait=false",
    ])?;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while api.get_opt("physical-legacy").await?.is_some()
        || !machines.list(&Default::default()).await?.items.is_empty()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the plan and its machines were not deleted:\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        protected_items(&sim, vault_path).await?,
        0,
        "replication was disabled for every machine"
    );
    Ok(())
}

/// Issue 13's reproduction: a team cleans up its landing zone after the migration by deleting
/// the plan, its machines, then the vault with `deletionPolicy: Delete`. The migrated VMs live in
/// the vault's resource group and target network; they, their NICs and disks must survive, and
/// so must the group and the network that hold them.
#[tokio::test]
async fn deleting_the_landing_zone_after_a_migration_leaves_every_migrated_vm() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "zone-cleanup").await?;
    let sim = fast_sim()?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (mut vault, mut plan) = cutover_e2e::examples::approved_example("physical.yaml")?;
    vault["spec"]["deletionPolicy"] = json!("Delete");
    plan["spec"]["deletionPolicy"] = json!("Delete");
    plan["spec"]["testFailover"] = json!({"required": true, "autoCleanup": true});
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    wait_for(
        &plans,
        "physical-legacy",
        &controller,
        "Completed",
        TIMEOUT,
        |p| phase(p) == Some(PlanPhase::Completed),
    )
    .await?;

    let group =
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-migration-dc3";
    let (status, listed) = sim
        .arm(
            Method::GET,
            &format!("{group}/resources?api-version=2025-04-01"),
            None,
        )
        .await?;
    assert_eq!(status, 200, "{listed}");
    let of_type = |listed: &Value, resource_type: &str| -> Vec<String> {
        let mut ids: Vec<String> = listed["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["type"] == resource_type)
            .filter_map(|r| r["id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    };
    let vms = of_type(&listed, "Microsoft.Compute/virtualMachines");
    let nics = of_type(&listed, "Microsoft.Network/networkInterfaces");
    let disks = of_type(&listed, "Microsoft.Compute/disks");
    assert_eq!(
        (vms.len(), nics.len(), disks.len()),
        (3, 3, 3),
        "three migrated VMs with a NIC and a disk each (test VMs cleaned up): {listed}"
    );

    delete_and_wait_gone(
        plane,
        &ns,
        &plans,
        "mplan",
        &["physical-legacy"],
        &controller,
        TIMEOUT,
    )
    .await?;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    wait_gone(
        &machines,
        &["physical-ldap01", "physical-mail01", "physical-intranet01"],
        &controller,
        TIMEOUT,
    )
    .await?;
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    delete_and_wait_gone(
        plane,
        &ns,
        &vaults,
        "rvault",
        &["physical-dc3"],
        &controller,
        TIMEOUT,
    )
    .await?;

    for id in vms.iter().chain(&nics).chain(&disks) {
        let api = if id.contains("/Microsoft.Network/") {
            "2026-03-01"
        } else {
            "2024-07-01"
        };
        let (status, body) = sim
            .arm(Method::GET, &format!("{id}?api-version={api}"), None)
            .await?;
        assert_eq!(
            status, 200,
            "{id} survives the landing zone's deletion: {body}"
        );
    }
    let deletes = sim.requests("method=DELETE").await?;
    for request in &deletes {
        let path = request["path"]
            .as_str()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            !path.ends_with("/resourcegroups/rg-migration-dc3")
                && !path.contains("/virtualmachines/")
                && !path.contains("/networkinterfaces/")
                && !path.contains("/disks/")
                && !path.ends_with("/virtualnetworks/vnet-dc3"),
            "cutover never asks to delete the group, a migrated VM or what it uses: {request}"
        );
    }
    // What cutover created and nothing uses is gone; the test network, emptied by cleanup, too.
    for (path, api) in [
        (
            "providers/Microsoft.RecoveryServices/vaults/dc3-vault",
            "2026-11-01",
        ),
        (
            "providers/Microsoft.Storage/storageAccounts/dc3replication",
            "2026-09-01",
        ),
        (
            "providers/Microsoft.Network/virtualNetworks/vnet-dc3-test",
            "2026-03-01",
        ),
    ] {
        let (status, body) = sim
            .arm(
                Method::GET,
                &format!("{group}/{path}?api-version={api}"),
                None,
            )
            .await?;
        assert_eq!(status, 404, "{path} is deleted: {body}");
    }
    let (status, _) = sim
        .arm(Method::GET, &format!("{group}/providers/Microsoft.Network/virtualNetworks/vnet-dc3?api-version=2026-03-01"), None)
        .await?;
    assert_eq!(status, 200, "the target network the migrated VMs use stays");

    let events = event_messages(plane, &ns, "physical-dc3", "PartlyRetained")?;
    assert!(
        events.contains("virtual network vnet-dc3 (network interfaces use it: ")
            && events.contains(
                "resource group rg-migration-dc3 (it holds 9 resource(s) cutover did not create: "
            ),
        "an Event says what was left and why: {events}"
    );
    Ok(())
}

/// A kstatus reader (Flux's health checks, cli-utils) through a whole migration: the vault
/// `InProgress` while it provisions and `Current` once Ready; the plan `InProgress` while it
/// replicates and tests, `Current` while it waits for approval (docs/gitops.md: waiting for a
/// person is not failing, and a sync that waits for health must not hang on it), `InProgress`
/// again once approved, `Current` when Completed; its machines the same; nothing `Failed`.
/// Samples before the controller's first status write are left out: kstatus reads an object
/// without status as `Current`, which no controller can prevent.
#[tokio::test]
async fn a_kstatus_reader_sees_a_migration_in_progress_until_it_is_done() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "kstatus").await?;
    let sim = fast_sim()?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("physical.yaml")?;
    plan["spec"]["cutover"]["approved"] = json!(false);
    plan["spec"]["cutover"]["window"] = Value::Null;
    plan["spec"]["testFailover"]["autoCleanup"] = json!(true);
    let plan_name = plan["metadata"]["name"].as_str().unwrap().to_owned();
    let vault_name = vault["metadata"]["name"].as_str().unwrap().to_owned();
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);

    // What each object read as, in order, without repeats.
    let mut seen: std::collections::BTreeMap<String, Vec<Status>> = Default::default();
    let mut record = |key: String, object: Value| {
        if object["status"]["observedGeneration"].is_null() {
            return;
        }
        let status = kstatus::status(&object);
        let history = seen.entry(key).or_default();
        if history.last() != Some(&status) {
            history.push(status);
        }
    };
    let deadline = std::time::Instant::now() + TIMEOUT * 2;
    let mut approved = false;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "the plan did not complete: {seen:?}\n{}",
            controller.log()
        );
        let plan_now = plans.get(&plan_name).await?;
        record("plan".into(), serde_json::to_value(&plan_now)?);
        record(
            "vault".into(),
            serde_json::to_value(vaults.get(&vault_name).await?)?,
        );
        for machine in machines.list(&Default::default()).await? {
            let name = machine.metadata.name.clone().unwrap_or_default();
            record(format!("machine {name}"), serde_json::to_value(&machine)?);
        }
        match phase(&plan_now) {
            Some(PlanPhase::AwaitingApproval) if !approved => {
                assert_eq!(kstatus_of(&plan_now), Status::Current, "{seen:?}");
                plans
                    .patch(
                        &plan_name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"spec": {"cutover": {"approved": true}}})),
                    )
                    .await?;
                approved = true;
            }
            Some(PlanPhase::Completed) => break,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    assert!(approved, "the plan waited for its approval: {seen:?}");
    use Status::{Current, InProgress};
    assert_eq!(seen["vault"], [InProgress, Current], "{seen:?}");
    assert_eq!(
        seen["plan"],
        [InProgress, Current, InProgress, Current],
        "{seen:?}"
    );
    let machine_histories: Vec<_> = seen
        .iter()
        .filter(|(k, _)| k.starts_with("machine"))
        .collect();
    assert!(!machine_histories.is_empty());
    for (name, history) in machine_histories {
        assert_eq!(history.first(), Some(&InProgress), "{name}: {history:?}");
        assert_eq!(history.last(), Some(&Current), "{name}: {history:?}");
        assert!(!history.contains(&Status::Failed), "{name}: {history:?}");
    }
    Ok(())
}

/// A wave whose VM sizes exceed the target region's vCPU quota waits, naming the family, what
/// it needs and what is free, and asks for no failover; once the quota is raised, it goes on.
#[tokio::test]
async fn a_wave_beyond_the_vcpu_quota_waits_naming_it_and_fails_nothing_over() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "quota").await?;
    let sim = fast_sim()?;
    let quota = |limit: u32| json!({"location": "westeurope", "name": "standardESv5Family", "limit": limit});
    // The first wave's SQL01 is a Standard_E4s_v5: 4 vCPUs of standardESv5Family.
    sim.admin(Method::PUT, "quota", Some(quota(2))).await?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("hyperv-vmm.yaml")?;
    plan["spec"]["cutover"]["approved"] = json!(true);
    plan["spec"]["cutover"]["window"] = Value::Null;
    // A test failover makes a VM too; without one, the failover is the first VM the wave needs.
    plan["spec"]["testFailover"] = json!({"required": false});
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let name = plan["metadata"]["name"].as_str().unwrap_or_default();
    let api = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let held = wait_for(&api, name, &controller, "AwaitingCapacity", TIMEOUT, |p| {
        phase(p) == Some(PlanPhase::AwaitingCapacity)
    })
    .await?;
    let ready = ready_of(held.status.as_ref().map(|s| s.conditions.as_slice()));
    assert_eq!(ready.reason, "InsufficientQuota");
    assert!(
        ready.message.contains(
            "Standard ESv5 Family vCPUs (standardESv5Family) in westeurope: the wave needs 4, 2 of 2 are free (0 in use)"
        ),
        "{}",
        ready.message
    );
    assert_eq!(kstatus_of(&held), Status::Failed, "a person must act");
    // It stays so, and nothing is failed over.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        phase(&api.get(name).await?),
        Some(PlanPhase::AwaitingCapacity)
    );
    assert_eq!(failovers(&sim).await?, 0);
    assert!(
        !sim.requests("path=/providers/Microsoft.Compute/locations/westeurope/usages")
            .await?
            .is_empty(),
        "the quota was read"
    );

    sim.admin(Method::PUT, "quota", Some(quota(100))).await?;
    let done = wait_for(&api, name, &controller, "Completed", TIMEOUT, |p| {
        phase(p) == Some(PlanPhase::Completed)
    })
    .await?;
    let total = done.status.map(|s| s.machines.total).unwrap_or_default() as usize;
    assert_eq!(failovers(&sim).await?, total, "one failover per machine");
    Ok(())
}

/// A test failover makes a VM too: one beyond the vCPU quota waits before it is asked for,
/// naming the quota, and starts once the quota is raised.
#[tokio::test]
async fn a_test_failover_beyond_the_vcpu_quota_waits_naming_it_and_starts_none() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "testquota").await?;
    let sim = fast_sim()?;
    let quota = |limit: u32| json!({"location": "westeurope", "name": "standardESv5Family", "limit": limit});
    // SQL01, a Standard_E4s_v5, is the first wave's: its test VM needs 4 vCPUs.
    sim.admin(Method::PUT, "quota", Some(quota(2))).await?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("hyperv-vmm.yaml")?;
    plan["spec"]["cutover"]["approved"] = json!(true);
    plan["spec"]["cutover"]["window"] = Value::Null;
    plan["spec"]["testFailover"] = json!({"required": true, "autoCleanup": true});
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let name = plan["metadata"]["name"].as_str().unwrap_or_default();
    let api = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let held = wait_for(&api, name, &controller, "AwaitingCapacity", TIMEOUT, |p| {
        phase(p) == Some(PlanPhase::AwaitingCapacity)
    })
    .await?;
    let ready = ready_of(held.status.as_ref().map(|s| s.conditions.as_slice()));
    assert_eq!(ready.reason, "InsufficientQuota");
    assert!(
        ready
            .message
            .starts_with("the test failovers wait, none started: ")
            && ready.message.contains("standardESv5Family"),
        "{}",
        ready.message
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let sql = machines.get("vmm-sql01").await?;
    assert_eq!(
        sql.status.and_then(|s| s.phase),
        Some(MachinePhase::Protected),
        "replicated, its test failover not asked for"
    );
    // The web wave's D2s_v5 test VMs fit (another family): they may test meanwhile.
    assert!(
        sim.requests("method=POST&path=/replicationProtectedItems/vmm-sql01/testFailover")
            .await?
            .is_empty(),
        "SQL01's test failover not asked for"
    );

    sim.admin(Method::PUT, "quota", Some(quota(100))).await?;
    wait_for(&api, name, &controller, "Completed", TIMEOUT, |p| {
        phase(p) == Some(PlanPhase::Completed)
    })
    .await?;
    // The path filter matches `/testFailoverCleanup` too.
    let tests = sim.requests("method=POST&path=/testFailover").await?;
    let started = tests
        .iter()
        .filter(|r| {
            r["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("/testFailover"))
        })
        .count();
    assert_eq!(started, 3, "one test failover per machine: {tests:?}");
    assert!(
        !sim.requests("method=POST&path=/replicationProtectedItems/vmm-sql01/testFailover")
            .await?
            .is_empty(),
        "the filter above finds SQL01's once it is asked for"
    );
    Ok(())
}

/// A machine that cannot become the VM its spec asks for is never enabled: DB05 has five data
/// disks, a Standard_D2s_v5 takes four (its `MaxDataDiskCount` in Compute's SKU list). It says
/// so, and a larger size lets it replicate. Beside it, what the Hyper-V host reports holds two
/// others for good: DB06 has a shared VHD (`hasSharedVhd: Present`), DB07 is a generation 1 VM
/// with a 3 TiB OS disk (the Hyper-V support matrix: up to 2 TB for generation 1).
#[tokio::test]
async fn a_machine_with_more_data_disks_than_its_size_takes_is_never_enabled() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "eligible").await?;
    let sim = fast_sim()?;
    let disks: Vec<Value> =
        std::iter::once(json!({"id": "db05-os", "sizeGb": 128, "osDisk": true}))
            .chain((1..=5).map(|i| json!({"id": format!("db05-data{i}"), "sizeGb": 256})))
            .collect();
    sim.admin(
        Method::POST,
        "inventory",
        Some(
            json!({"sources": [{"kind": "hyperVVmm", "name": "vmm01.contoso.local", "machines": [
            {"name": "DB05", "id": "3f2c1a10-0000-4000-8000-000000000105", "container": "Gold",
             "osType": "Windows", "osName": "Windows Server 2019", "networks": ["corp-data"],
             "disks": disks},
            {"name": "DB06", "id": "3f2c1a10-0000-4000-8000-000000000106", "container": "Gold",
             "osType": "Windows", "osName": "Windows Server 2019", "networks": ["corp-data"],
             "hardware": ["sharedVhd"],
             "disks": [{"id": "db06-os", "sizeGb": 128, "osDisk": true}]},
            {"name": "DB07", "id": "3f2c1a10-0000-4000-8000-000000000107", "container": "Gold",
             "osType": "Windows", "osName": "Windows Server 2012 R2", "networks": ["corp-data"],
             "generation": 1,
             "disks": [{"id": "db07-os", "sizeGb": 3072, "osDisk": true}]}]}]}),
        ),
    )
    .await?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("hyperv-vmm.yaml")?;
    plan["spec"]["waves"] = Value::Null;
    let db05 = |size: &str| {
        json!({"name": "vmm-db05", "source": {"name": "DB05", "container": "Gold"},
               "osType": "Windows", "target": {"vmSize": size, "subnet": "data"}})
    };
    let held_for_good = json!([
        {"name": "vmm-db06", "source": {"name": "DB06", "container": "Gold"}, "osType": "Windows"},
        {"name": "vmm-db07", "source": {"name": "DB07", "container": "Gold"}, "osType": "Windows"}]);
    let templates = |size: &str| {
        let mut all = vec![db05(size)];
        all.extend(held_for_good.as_array().into_iter().flatten().cloned());
        Value::Array(all)
    };
    plan["spec"]["machines"]["templates"] = templates("Standard_D2s_v5");
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    for (name, reason, says) in [
        (
            "vmm-db06",
            "UnsupportedHardware",
            "the source VM reports hasSharedVhd: Present",
        ),
        (
            "vmm-db07",
            "DiskTooLarge",
            "the OS disk of a generation 1 VM db07-os.vhdx is 3072 GiB, larger than the 2048 GiB \
             the Hyper-V to Azure support matrix allows",
        ),
    ] {
        let held = wait_for(&machines, name, &controller, reason, TIMEOUT, |m| {
            ready_reason_is(m, reason)
        })
        .await?;
        let ready = ready_of(held.status.as_ref().map(|s| s.conditions.as_slice()));
        assert!(ready.message.contains(says), "{name}: {}", ready.message);
        assert_eq!(
            kstatus_of(&held),
            Status::Failed,
            "{name}: a person must act"
        );
    }
    let held = wait_for(
        &machines,
        "vmm-db05",
        &controller,
        "not eligible",
        TIMEOUT,
        |m| ready_reason_is(m, "TooManyDataDisks"),
    )
    .await?;
    let ready = ready_of(held.status.as_ref().map(|s| s.conditions.as_slice()));
    assert!(
        ready
            .message
            .contains("5 data disks to replicate, but Standard_D2s_v5 takes at most 4"),
        "{}",
        ready.message
    );
    assert_eq!(kstatus_of(&held), Status::Failed, "a person must act");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        sim.requests("method=PUT&path=/replicationProtectedItems/vmm-db05")
            .await?
            .is_empty(),
        "never enabled"
    );

    plan["spec"]["machines"]["templates"] = templates("Standard_E4s_v5");
    apply(plane, &ns, &plan)?;
    wait_for(
        &machines,
        "vmm-db05",
        &controller,
        "replicating",
        TIMEOUT,
        |m| {
            m.status
                .as_ref()
                .is_some_and(|s| s.protected_item_id.is_some())
        },
    )
    .await?;
    assert_eq!(
        sim.requests("method=PUT&path=/replicationProtectedItems/vmm-db05")
            .await?
            .len(),
        1,
        "enabled once the size takes its disks"
    );
    for held in ["vmm-db06", "vmm-db07"] {
        assert!(
            sim.requests(&format!(
                "method=PUT&path=/replicationProtectedItems/{held}"
            ))
            .await?
            .is_empty(),
            "{held} never enabled"
        );
    }
    Ok(())
}

/// A wave whose static address is already taken in the target network waits before anything
/// of it fails over, naming the machine, the address and what is free (ARM's
/// `checkIPAddressAvailability`), and goes on once the spec names a free one. SQL01 fails over
/// first and its NIC has the static address its template names, 10.10.2.10 (given to ASR
/// before the failover); WEB02 asks for the same.
#[tokio::test]
async fn a_wave_whose_static_address_is_taken_waits_naming_it_and_fails_nothing_over() -> Result<()>
{
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "address").await?;
    let sim = fast_sim()?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("hyperv-vmm.yaml")?;
    plan["spec"]["cutover"]["approved"] = json!(true);
    plan["spec"]["cutover"]["window"] = Value::Null;
    plan["spec"]["testFailover"] = json!({"required": false});
    let web02 = |plan: &mut Value, ip: &str| {
        for template in plan["spec"]["machines"]["templates"]
            .as_array_mut()
            .into_iter()
            .flatten()
        {
            if template["name"] == "vmm-web02" {
                template["target"] = json!({"subnet": "data", "staticIp": ip});
            }
        }
    };
    web02(&mut plan, "10.10.2.10");
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let name = plan["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let name = name.as_str();
    let api = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let held = wait_for(&api, name, &controller, "AwaitingCapacity", TIMEOUT, |p| {
        phase(p) == Some(PlanPhase::AwaitingCapacity)
    })
    .await?;
    let ready = ready_of(held.status.as_ref().map(|s| s.conditions.as_slice()));
    assert_eq!(ready.reason, "AddressNotFree", "{}", ready.message);
    assert!(
        ready.message.contains(
            "vmm-web02: 10.10.2.10 is taken in the target network vnet-dc1; free near it: 10.10.2.11"
        ),
        "{}",
        ready.message
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        phase(&api.get(name).await?),
        Some(PlanPhase::AwaitingCapacity)
    );
    assert_eq!(failovers(&sim).await?, 1, "only the first wave's SQL01");

    web02(&mut plan, "10.10.2.11");
    apply(plane, &ns, &plan)?;
    let done = wait_for(&api, name, &controller, "Completed", TIMEOUT, |p| {
        phase(p) == Some(PlanPhase::Completed)
    })
    .await?;
    let total = done.status.map(|s| s.machines.total).unwrap_or_default() as usize;
    assert_eq!(failovers(&sim).await?, total, "one failover per machine");
    Ok(())
}

/// An object's `Ready` condition (its status's conditions); a test fails without one.
fn ready_of(
    conditions: Option<&[k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition]>,
) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition {
    conditions
        .unwrap_or_default()
        .iter()
        .find(|c| c.type_ == "Ready")
        .cloned()
        .expect("a Ready condition")
}

/// Whether a machine's `Ready` says `reason`; false before it has one (a wait's first look).
fn ready_reason_is(machine: &ReplicatedMachine, reason: &str) -> bool {
    machine.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.reason == reason)
    })
}

/// Approves one machine by its annotation, as `kubectl cutover approve PLAN MACHINE` does.
async fn approve(machines: &Api<ReplicatedMachine>, name: &str) -> Result<()> {
    let approved = json!({"metadata": {"annotations": {"cutover.dev/approved": "true"}}});
    machines
        .patch(name, &PatchParams::default(), &Patch::Merge(approved))
        .await?;
    Ok(())
}

/// The cutover night of issue 19, on the real API server. The test control plane runs no job
/// controller (and no kubelet): this test plays it, completing or failing each hook Job through
/// the Job's status subresource as the job controller would, and checks what cutover does next.
/// A `preCutover` hook must pass before a machine fails over; a `postFailover` smoke test
/// passes for two machines and fails for WEB02; one machine is approved in the plan, one by
/// its annotation, the third later. The passing machines complete; WEB02 stays failed over,
/// not committed, with the Job and its failure in its status, until a person asks for the
/// smoke test again and it passes.
#[tokio::test]
async fn hooks_gate_each_step_and_a_failed_smoke_test_holds_its_machine_before_commit() -> Result<()>
{
    use k8s_openapi::api::batch::v1::Job;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "runbook").await?;
    let sim = fast_sim()?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("hyperv-vmm.yaml")?;
    let pod = json!({"spec": {"backoffLimit": 0, "template": {"spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "check", "image": "busybox", "command": ["sh", "-c", "true"]}]}}}});
    plan["spec"]["waves"] = Value::Null;
    plan["spec"]["testFailover"] = json!({"required": false});
    plan["spec"]["cutover"] =
        json!({"approved": false, "approvedMachines": ["vmm-sql01"], "maxConcurrent": 3});
    let hooks = |stop_app: &Value| {
        json!([
            {"name": "stop-app", "step": "PreCutover", "mustSucceed": true, "jobTemplate": stop_app},
            {"name": "smoke", "step": "PostFailover", "mustSucceed": true, "timeoutSeconds": 600, "jobTemplate": pod},
        ])
    };
    // First with a container name the API server refuses (not a DNS label), which the plan's
    // own validation does not check: the refusal shows, and the fixed plan goes on.
    let mut refused = pod.clone();
    refused["spec"]["template"]["spec"]["containers"][0]["name"] = json!("Stop App");
    plan["spec"]["hooks"] = hooks(&refused);
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let name = plan["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let jobs = Api::<Job>::namespaced(client.clone(), &ns);
    // WEB01 is approved by its annotation (once the plan has created it).
    wait_for(
        &machines,
        "vmm-web01",
        &controller,
        "created",
        TIMEOUT,
        |_| true,
    )
    .await?;
    approve(&machines, "vmm-web01").await?;

    // The job controller this plane lacks: preCutover Jobs finish once `release_pre` is set;
    // WEB02's smoke test fails, every other Job succeeds.
    let release_pre = Arc::new(AtomicBool::new(false));
    let finisher = {
        let (jobs, release_pre) = (jobs.clone(), release_pre.clone());
        tokio::spawn(async move {
            loop {
                for job in jobs
                    .list(&Default::default())
                    .await
                    .into_iter()
                    .flat_map(|l| l.items)
                {
                    let labels = job.metadata.labels.clone().unwrap_or_default();
                    let finished = job
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some();
                    let hook = labels.get("cutover.dev/hook").cloned().unwrap_or_default();
                    if finished || (hook == "stop-app" && !release_pre.load(Ordering::SeqCst)) {
                        continue;
                    }
                    // Its first attempt: the re-run a person asks for passes.
                    let fails = hook == "smoke"
                        && labels.get("cutover.dev/machine").map(String::as_str)
                            == Some("vmm-web02")
                        && job.metadata.name.as_deref() == Some("vmm-shop-vmm-web02-smoke-1");
                    let status = if fails {
                        json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]})
                    } else {
                        json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]})
                    };
                    let _ = jobs
                        .patch_status(
                            &job.metadata.name.clone().unwrap_or_default(),
                            &PatchParams::default(),
                            &Patch::Merge(json!({ "status": status })),
                        )
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };

    let said = wait_for(
        &plans,
        &name,
        &controller,
        "the refused preCutover Jobs in status",
        TIMEOUT,
        |p| {
            p.status.as_ref().is_some_and(|s| {
                s.hooks
                    .iter()
                    .filter(|r| r.hook == "stop-app" && r.message.contains("refused"))
                    .count()
                    == 2
            })
        },
    )
    .await?;
    // Refused Jobs are asked for again last, in turns: either machine's refusal is the one
    // the condition says at a given moment, and each has its Event.
    let plan_ready = ready_of(said.status.as_ref().map(|s| s.conditions.as_slice()));
    assert!(
        ["vmm-sql01", "vmm-web01"]
            .iter()
            .any(|m| plan_ready.message.contains(&format!(
                "the API server refused Job vmm-shop-{m}-stop-app-1"
            ))),
        "{}",
        plan_ready.message
    );
    let refusals = event_messages(plane, &ns, &name, "HookJobRefused")?;
    for machine in ["vmm-sql01", "vmm-web01"] {
        assert!(
            refusals.contains(&format!("hook stop-app for {machine}")),
            "a Warning Event says what the API server refused of {machine}: {refusals}"
        );
    }
    assert!(jobs.list(&Default::default()).await?.items.is_empty());
    plan["spec"]["hooks"] = hooks(&pod);
    apply(plane, &ns, &plan)?;

    // The two approved machines run their preCutover hook and wait for it: nothing fails over.
    let waiting = wait_for(
        &plans,
        &name,
        &controller,
        "preCutover Jobs",
        TIMEOUT,
        |p| {
            p.status.as_ref().is_some_and(|s| {
                s.hooks
                    .iter()
                    .filter(|r| r.hook == "stop-app" && r.message.is_empty())
                    .count()
                    == 2
            })
        },
    )
    .await?;
    let status = waiting.status.clone().unwrap_or_default();
    let mut started: Vec<&str> = status.hooks.iter().map(|r| r.machine.as_str()).collect();
    started.sort();
    assert_eq!(started, ["vmm-sql01", "vmm-web01"], "WEB02 is not approved");
    assert_eq!(status.awaiting_approval, ["vmm-web02"]);
    assert!(
        status.released.cutover.is_empty(),
        "held for the hooks: {:?}",
        status.released
    );
    let sql_job = jobs.get("vmm-shop-vmm-sql01-stop-app-1").await?;
    let env: std::collections::BTreeMap<String, String> = sql_job
        .spec
        .and_then(|s| s.template.spec)
        .map(|p| p.containers[0].env.clone().unwrap_or_default())
        .unwrap_or_default()
        .into_iter()
        .map(|e| (e.name, e.value.unwrap_or_default()))
        .collect();
    assert_eq!(env["CUTOVER_SOURCE_NAME"], "SQL01");
    assert_eq!(env["CUTOVER_PRIVATE_IP"], "10.10.2.10");
    assert_eq!(env["CUTOVER_STEP"], "PreCutover");
    assert_eq!(env["CUTOVER_PLAN"], "vmm-shop");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        failovers(&sim).await?,
        0,
        "no failover before its preCutover hook"
    );

    // The hooks pass; WEB02 is approved too.
    release_pre.store(true, Ordering::SeqCst);
    approve(&machines, "vmm-web02").await?;
    for done in ["vmm-sql01", "vmm-web01"] {
        wait_for(&machines, done, &controller, "Completed", TIMEOUT, |m| {
            m.status.as_ref().and_then(|s| s.phase) == Some(MachinePhase::Completed)
        })
        .await?;
    }
    let held = wait_for(
        &machines,
        "vmm-web02",
        &controller,
        "held by its smoke test",
        TIMEOUT,
        |m| {
            m.status.as_ref().is_some_and(|s| {
                s.phase == Some(MachinePhase::FailedOver)
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == "Ready" && c.reason == "HookFailed")
            })
        },
    )
    .await?;
    // A dynamic address, as the migrated VM's NIC has it (WEB01 asks for none).
    let smoke = jobs.get("vmm-shop-vmm-web01-smoke-1").await?;
    let address = smoke
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.containers[0].env.clone())
        .unwrap_or_default()
        .into_iter()
        .find(|e| e.name == "CUTOVER_PRIVATE_IP")
        .and_then(|e| e.value);
    let web01 = machines.get("vmm-web01").await?;
    let recorded = web01.status.and_then(|s| s.target_private_ip);
    assert!(
        address
            .as_deref()
            .is_some_and(|a| a.starts_with("10.10.1."))
            && address == recorded,
        "the smoke test is told the VM's address: {address:?}, status {recorded:?}"
    );
    let ready = ready_of(held.status.as_ref().map(|s| s.conditions.as_slice()));
    assert!(
        ready.message.contains("vmm-shop-vmm-web02-smoke-1")
            && ready.message.contains("BackoffLimitExceeded"),
        "{}",
        ready.message
    );
    // Held: it stays failed over and uncommitted, and the plan does not complete.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let web02 = machines.get("vmm-web02").await?;
    assert_eq!(
        web02.status.and_then(|s| s.phase),
        Some(MachinePhase::FailedOver)
    );
    let commits = sim
        .requests("method=POST&path=/failoverCommit")
        .await?
        .len();
    assert_eq!(
        commits, 2,
        "only the machines whose smoke test passed commit"
    );
    let plan_now = plans.get(&name).await?;
    assert_ne!(phase(&plan_now), Some(PlanPhase::Completed));
    let plan_ready = ready_of(plan_now.status.as_ref().map(|s| s.conditions.as_slice()));
    assert_eq!(plan_ready.reason, "HookFailed", "{}", plan_ready.message);
    assert!(
        event_messages(plane, &ns, &name, "HookFailed")?.contains("vmm-web02"),
        "a Warning Event names the machine"
    );
    // Each hook ran once per machine: one Job each, none twice.
    let mut names: Vec<String> = jobs
        .list(&Default::default())
        .await?
        .items
        .into_iter()
        .filter_map(|j| j.metadata.name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "vmm-shop-vmm-sql01-smoke-1",
            "vmm-shop-vmm-sql01-stop-app-1",
            "vmm-shop-vmm-web01-smoke-1",
            "vmm-shop-vmm-web01-stop-app-1",
            "vmm-shop-vmm-web02-smoke-1",
            "vmm-shop-vmm-web02-stop-app-1",
        ]
    );

    // A person fixes what the smoke test found and asks for it again (`kubectl cutover retry`,
    // the plugin as installed): it runs once more as a new Job, passes, and WEB02 commits; the
    // annotation is gone once acted on.
    let plugins = tempfile::tempdir()?;
    std::os::unix::fs::symlink(
        cutover_e2e::processes::binary("cutover")?,
        plugins.path().join("kubectl-cutover"),
    )?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(
        std::iter::once(plugins.path().to_path_buf()).chain(std::env::split_paths(&path)),
    )?;
    let said = plane
        .kubectl()
        .env("PATH", path)
        .args(["cutover", "-n", &ns, "retry", "vmm-web02"])
        .output()?;
    let stdout = String::from_utf8_lossy(&said.stdout);
    assert!(
        said.status.success() && stdout.contains("running its failed hook once more"),
        "{stdout}{}",
        String::from_utf8_lossy(&said.stderr)
    );
    let done = wait_for(
        &machines,
        "vmm-web02",
        &controller,
        "Completed after the re-run",
        TIMEOUT,
        |m| m.status.as_ref().and_then(|s| s.phase) == Some(MachinePhase::Completed),
    )
    .await?;
    assert!(
        !kube::ResourceExt::annotations(&done).contains_key("cutover.dev/retry"),
        "the retry annotation is cleared"
    );
    jobs.get("vmm-shop-vmm-web02-smoke-2").await?;
    assert!(
        event_messages(plane, &ns, &name, "HookRerun")?.contains("vmm-shop-vmm-web02-smoke-2"),
        "an Event says the hook runs again"
    );
    wait_for(&plans, &name, &controller, "Completed", TIMEOUT, |p| {
        phase(p) == Some(PlanPhase::Completed)
    })
    .await?;
    assert_eq!(
        sim.requests("method=POST&path=/failoverCommit")
            .await?
            .len(),
        3,
        "each machine committed once"
    );
    assert_eq!(
        jobs.list(&Default::default()).await?.items.len(),
        7,
        "one more Job, no other"
    );
    finisher.abort();
    Ok(())
}

/// Backing out before commit (`cutover.dev/back-out`): a failed-over HyperVReplicaAzure item's
/// `allowedOperations` offer no `CancelFailover` (no source says a forward migration provider
/// does; docs/azure-fidelity.md), so the machine says so, stays failed over, asks ASR for no
/// cancel and commits nothing, even with `cutover.dev/commit` beside it. Without the
/// annotation the person's commit goes through.
#[tokio::test]
async fn backing_out_where_asr_offers_no_cancel_says_so_and_commits_nothing() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "backout").await?;
    let sim = fast_sim()?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("hyperv-vmm.yaml")?;
    plan["spec"]["waves"] = Value::Null;
    plan["spec"]["testFailover"] = json!({"required": false});
    plan["spec"]["cutover"] = json!({"approved": true, "commit": "Manual", "maxConcurrent": 3});
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let annotate = |value: Value| {
        let machines = machines.clone();
        async move {
            machines
                .patch(
                    "vmm-web01",
                    &PatchParams::default(),
                    &Patch::Merge(json!({"metadata": {"annotations": value}})),
                )
                .await
        }
    };
    let reason_is = |reason: &'static str| move |m: &ReplicatedMachine| ready_reason_is(m, reason);
    wait_for(
        &machines,
        "vmm-web01",
        &controller,
        "held before commit",
        TIMEOUT,
        reason_is("WaitingForCommit"),
    )
    .await?;
    annotate(json!({"cutover.dev/back-out": "true", "cutover.dev/commit": "true"})).await?;
    let held = wait_for(
        &machines,
        "vmm-web01",
        &controller,
        "back-out not offered",
        TIMEOUT,
        reason_is("BackOutNotOffered"),
    )
    .await?;
    let ready = ready_of(held.status.as_ref().map(|s| s.conditions.as_slice()));
    assert!(
        ready.message.contains("it allows Commit"),
        "what ASR allows instead: {}",
        ready.message
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let web01 = machines.get("vmm-web01").await?;
    assert_eq!(
        web01.status.and_then(|s| s.phase),
        Some(MachinePhase::FailedOver)
    );
    let commits_of_web01 = || async {
        Ok::<_, anyhow::Error>(
            sim.requests("method=POST&path=/failoverCommit")
                .await?
                .iter()
                .filter(|r| r.to_string().to_ascii_lowercase().contains("web01"))
                .count(),
        )
    };
    assert_eq!(
        commits_of_web01().await?,
        0,
        "backing out comes before commit"
    );
    assert!(
        sim.requests("method=POST&path=/failoverCancel")
            .await?
            .is_empty()
    );

    annotate(json!({"cutover.dev/back-out": null})).await?;
    wait_for(
        &machines,
        "vmm-web01",
        &controller,
        "Completed",
        TIMEOUT,
        |m| m.status.as_ref().and_then(|s| s.phase) == Some(MachinePhase::Completed),
    )
    .await?;
    assert_eq!(commits_of_web01().await?, 1);
    Ok(())
}
