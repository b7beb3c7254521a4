//! Reliability: the controller killed in every phase, Azure failing in every way it does,
//! tokens expiring and secrets rotating, the API server and azure-sim restarting, and
//! deletion in every phase. Through all of it a plan completes, no machine is lost, and no
//! test failover, failover or commit is sent twice. docs/reliability.md lists what each test
//! proves.
//!
//! Most tests stop simulated time (`--time-scale 0`) and move it forward themselves, so a
//! machine stays in a phase for as long as the test needs it there.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use cutover_api::{MachinePhase, MigrationPlan, PlanPhase, ReplicatedMachine};
use cutover_e2e::bad_inputs::{self, Expect};
use cutover_e2e::examples::{approved_example, example, metric_sum};
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::wait::{apply, wait_for};
use cutover_e2e::{ControlPlane, control_plane, temp_namespace};
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use reqwest::Method;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(300);

const AWS_PLAN: &str = "aws-storefront";
const AWS_MACHINES: [&str; 3] = ["aws-store-api", "aws-store-web", "aws-store-win"];

fn plan_phase(plan: &MigrationPlan) -> Option<PlanPhase> {
    plan.status.as_ref().and_then(|s| s.phase)
}

fn machine_phase(machine: &ReplicatedMachine) -> Option<MachinePhase> {
    machine.status.as_ref().and_then(|s| s.phase)
}

/// Moves simulated time forward.
async fn advance(sim: &Simulator, seconds: u64) -> Result<()> {
    sim.admin(
        Method::POST,
        "clock",
        Some(json!({ "advanceSeconds": seconds })),
    )
    .await?;
    Ok(())
}

/// One step of a test that drives a stopped clock: ten simulated seconds, then a moment for
/// the controller to see them.
async fn tick(sim: &Simulator) -> Result<()> {
    advance(sim, 10).await?;
    tokio::time::sleep(Duration::from_millis(250)).await;
    Ok(())
}

/// The protected item a request was for (the path segment after `replicationProtectedItems/`).
fn item_of(path: &str) -> Option<String> {
    let (_, rest) = path.split_once("/replicationProtectedItems/")?;
    Some(rest.split('/').next()?.to_owned())
}

/// How many requests ARM accepted (2xx, answered or not) per protected item, for POSTs to
/// `action` (`testFailover`, `failoverCommit`…) or, with `"enable"`, PUTs of the item.
async fn accepted(sim: &Simulator, action: &str) -> Result<BTreeMap<String, usize>> {
    let (filter, suffix) = match action {
        "enable" => (
            "method=PUT&path=/replicationProtectedItems/".to_owned(),
            None,
        ),
        _ => (
            format!("method=POST&path=/{action}"),
            Some(format!("/{action}")),
        ),
    };
    let mut counts = BTreeMap::new();
    for request in sim.requests(&filter).await? {
        let path = request["path"].as_str().unwrap_or_default();
        let status = request["status"].as_u64().unwrap_or(0);
        let matches = match &suffix {
            Some(suffix) => path
                .to_ascii_lowercase()
                .ends_with(&suffix.to_ascii_lowercase()),
            None => path
                .split_once("/replicationProtectedItems/")
                .is_some_and(|(_, item)| !item.contains('/')),
        };
        if matches
            && (200..300).contains(&status)
            && let Some(item) = item_of(path)
        {
            *counts.entry(item).or_default() += 1;
        }
    }
    Ok(counts)
}

/// Asserts ARM accepted exactly one of each non-idempotent action per machine.
async fn assert_each_action_once(sim: &Simulator, machines: &[&str]) -> Result<()> {
    let once: BTreeMap<String, usize> = machines.iter().map(|m| ((*m).to_owned(), 1)).collect();
    for action in [
        "enable",
        "testFailover",
        "testFailoverCleanup",
        "failoverCommit",
    ] {
        assert_eq!(
            accepted(sim, action).await?,
            once,
            "{action}: exactly one accepted per machine"
        );
    }
    let mut failovers = accepted(sim, "plannedFailover").await?;
    for (item, count) in accepted(sim, "unplannedFailover").await? {
        *failovers.entry(item).or_default() += count;
    }
    assert_eq!(
        failovers, once,
        "failover: exactly one accepted per machine"
    );
    Ok(())
}

/// Applies the AWS example, approved, in `ns` and waits for its plan to be `Completed`.
async fn complete_aws_plan(
    plane: &ControlPlane,
    client: &kube::Client,
    ns: &str,
    controller: &Controller,
) -> Result<()> {
    let (vault, plan) = approved_example("aws.yaml")?;
    apply(plane, ns, &vault)?;
    apply(plane, ns, &plan)?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), ns);
    wait_for(&plans, AWS_PLAN, controller, "Completed", TIMEOUT, |p| {
        plan_phase(p) == Some(PlanPhase::Completed)
    })
    .await?;
    Ok(())
}

/// Phases of the machines in `ns`, by name.
async fn phases(api: &Api<ReplicatedMachine>) -> Result<BTreeMap<String, Option<MachinePhase>>> {
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .into_iter()
        .map(|m| {
            (
                m.metadata.name.clone().unwrap_or_default(),
                machine_phase(&m),
            )
        })
        .collect())
}

/// Every item of an ARM list, following `nextLink`.
async fn list_all(sim: &Simulator, path_and_query: &str) -> Result<Vec<Value>> {
    let mut items = Vec::new();
    let mut next = Some(path_and_query.to_owned());
    while let Some(page) = next.take() {
        let (status, body) = sim.arm(Method::GET, &page, None).await?;
        if status != 200 {
            bail!("GET {page}: {status} {body}");
        }
        items.extend(body["value"].as_array().cloned().unwrap_or_default());
        next = body["nextLink"]
            .as_str()
            .map(|link| link.trim_start_matches(&sim.info.arm_endpoint).to_owned());
    }
    Ok(items)
}

/// The phases a machine is killed in: every one where cutover has something in flight.
const CRASH_PHASES: [MachinePhase; 6] = [
    MachinePhase::EnablingProtection,
    MachinePhase::InitialReplication,
    MachinePhase::TestFailover,
    MachinePhase::TestFailoverCleanup,
    MachinePhase::FailingOver,
    MachinePhase::Committing,
];

#[tokio::test]
async fn a_controller_killed_in_every_phase_completes_the_plan_and_acts_once() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "crash").await?;
    let sim = Simulator::start(&["--time-scale", "0", "--replication-mbps", "2000"])?;
    let mut controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, plan) = approved_example("aws.yaml")?;
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;

    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let mut killed_in = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if plans
            .get_opt(AWS_PLAN)
            .await?
            .is_some_and(|p| plan_phase(&p) == Some(PlanPhase::Completed))
        {
            break;
        }
        let now: Vec<Option<MachinePhase>> = phases(&machines).await?.into_values().collect();
        if let Some(phase) = CRASH_PHASES
            .iter()
            .find(|p| !killed_in.contains(*p) && now.contains(&Some(**p)))
        {
            controller.kill()?;
            controller = Controller::start(plane, &sim, &ns, &[])?;
            killed_in.push(*phase);
            // Azure's clock stands still until the new controller has its caches: on a loaded
            // machine a slow start would otherwise let the next phase pass unseen.
            let started = Instant::now();
            while !matches!(controller.get("/readyz").await, Ok((200, _))) {
                if started.elapsed() > Duration::from_secs(60) {
                    bail!(
                        "the restarted controller never became ready\n{}",
                        controller.log()
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        if Instant::now() > deadline {
            bail!(
                "the plan did not complete; killed in {killed_in:?}; phases {now:?}\n{}",
                controller.log()
            );
        }
        tick(&sim).await?;
    }
    assert_eq!(
        killed_in.len(),
        CRASH_PHASES.len(),
        "killed in every phase: {killed_in:?}"
    );
    assert_each_action_once(&sim, &AWS_MACHINES).await?;
    Ok(())
}

#[tokio::test]
async fn azure_faults_are_retried_or_waited_out_and_the_plan_completes() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "faults").await?;
    let sim = Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])?;
    let controller = Controller::start(plane, &sim, &ns, &[("CUTOVER_ARM_TIMEOUT_SECONDS", "2")])?;
    let faults = [
        json!({"method": "GET", "pathContains": "/replicationProtectedItems", "status": 429, "retryAfterSeconds": 2, "times": 3}),
        json!({"method": "PUT", "status": 500, "times": 3}),
        json!({"method": "POST", "status": 503, "retryAfterSeconds": 1, "times": 2}),
        json!({"method": "GET", "pathContains": "/replicationJobs/", "latencyMs": 4000, "times": 2}),
        json!({"method": "GET", "rate": 0.1, "dropConnection": "before", "times": 5}),
        json!({"method": "POST", "pathContains": "/testFailover", "dropConnection": "after", "times": 1}),
        json!({"method": "PUT", "pathContains": "/storageAccounts/", "dropConnection": "after", "times": 1}),
        json!({"method": "POST", "pathContains": "/failoverCommit", "dropConnection": "after", "times": 1}),
    ];
    for fault in &faults {
        sim.admin(Method::POST, "faults", Some(fault.clone()))
            .await?;
    }
    complete_aws_plan(plane, &client, &ns, &controller).await?;

    let applied = sim.admin(Method::GET, "faults", None).await?;
    for (fault, seen) in faults.iter().zip(applied.as_array().into_iter().flatten()) {
        assert_eq!(
            seen["applied"], fault["times"],
            "every fault hit as often as asked: {seen}"
        );
    }
    // A lost answer to an action is never a reason to send it again.
    assert_each_action_once(&sim, &AWS_MACHINES).await?;

    // After a 429 with Retry-After: 2, nothing asks for the same thing for two seconds.
    let log = sim.requests("").await?;
    let throttled: Vec<&Value> = log.iter().filter(|r| r["status"] == 429).collect();
    assert_eq!(throttled.len(), 3, "the injected 429s, and no others");
    for answer in throttled {
        let at = answer["elapsedMs"].as_u64().unwrap_or_default();
        let next = log
            .iter()
            .filter(|r| r["method"] == answer["method"] && r["path"] == answer["path"])
            .filter_map(|r| r["elapsedMs"].as_u64())
            .find(|t| *t > at);
        let waited = next.map(|t| t - at);
        assert!(
            waited.is_some_and(|w| w >= 1900),
            "Retry-After honoured for {}: asked again after {waited:?} ms",
            answer["path"]
        );
    }
    let (_, scrape) = controller.get("/metrics").await?;
    assert_eq!(metric_sum(&scrape, "cutover_arm_throttled_total", &[]), 3.0);
    assert!(metric_sum(&scrape, "cutover_arm_retry_after_seconds_total", &[]) >= 6.0);
    Ok(())
}

/// ARM is eventually consistent: right after a create returns, the new protected item may be
/// missing from lists and its job from GETs. cutover waits; it never takes "not there yet" for
/// "never enabled", and never acts twice.
#[tokio::test]
async fn an_item_or_job_not_yet_visible_is_waited_for_never_acted_on_twice() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "consistency").await?;
    let sim = Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])?;
    // Several of the controller's polls (1 s here) see neither the item nor its job.
    sim.admin(
        Method::PUT,
        "consistency",
        Some(json!({"newObjectLagMs": 4000})),
    )
    .await?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    complete_aws_plan(plane, &client, &ns, &controller).await?;
    assert_each_action_once(&sim, &AWS_MACHINES).await?;
    // The lag was seen: job GETs answered 404 while their jobs ran.
    let hidden = sim
        .requests("method=GET&path=/replicationJobs/&status=404")
        .await?;
    assert!(!hidden.is_empty(), "no job GET ever met the lag");
    Ok(())
}

#[tokio::test]
async fn a_failed_job_at_each_action_fails_only_that_machine_and_a_retry_finishes_it() -> Result<()>
{
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "failed-jobs").await?;
    let sim = Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    // Each action fails once, on one machine; each machine fails at most twice.
    let failing = [
        ("aws-store-api", "PUT", ""),
        ("aws-store-win", "POST", "/testFailover"),
        ("aws-store-web", "POST", "/testFailoverCleanup"),
        ("aws-store-api", "POST", "/unplannedFailover"),
        ("aws-store-win", "POST", "/failoverCommit"),
        ("aws-store-web", "POST", "/remove"),
    ];
    for (i, (machine, method, action)) in failing.iter().enumerate() {
        let code = 70100 + i;
        sim.admin(
            Method::POST,
            "faults",
            Some(json!({"method": method, "pathContains": format!("/replicationProtectedItems/{machine}{action}"), "times": 1,
                "failJob": {"code": code.to_string(), "message": format!("injected failure {code}"), "possibleCauses": "A test.", "recommendedAction": "Retry."}})),
        )
        .await?;
    }
    let (vault, mut plan) = approved_example("aws.yaml")?;
    plan["spec"]["cutover"]["shutdownSource"] = json!(false);
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;

    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let mut failures: Vec<String> = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let plan = plans.get(AWS_PLAN).await?;
        if plan_phase(&plan) == Some(PlanPhase::Completed) {
            break;
        }
        for machine in machines.list(&ListParams::default()).await?.items {
            let name = machine.metadata.name.clone().unwrap_or_default();
            let retrying = machine
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.contains_key("cutover.dev/retry"));
            if machine_phase(&machine) != Some(MachinePhase::Failed) || retrying {
                continue;
            }
            let message = plan
                .status
                .as_ref()
                .and_then(|s| s.failed_machines.iter().find(|f| f.name == name))
                .map(|f| f.message.clone());
            let Some(message) = message else {
                // The plan has not reported it yet.
                continue;
            };
            failures.push(format!("{name}: {message}"));
            plane.kubectl_ok(&[
                "annotate",
                "-n",
                &ns,
                "rmachine",
                &name,
                "cutover.dev/retry=true",
            ])?;
        }
        if Instant::now() > deadline {
            bail!(
                "the plan did not complete; failures so far {failures:#?}\n{}",
                controller.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        failures.len(),
        failing.len(),
        "each injected failure failed its machine once: {failures:#?}"
    );
    for (i, (machine, _, _)) in failing.iter().enumerate() {
        let expected = format!("{machine}: ");
        let code = format!("{}: injected failure {}", 70100 + i, 70100 + i);
        assert!(
            failures
                .iter()
                .any(|f| f.starts_with(&expected) && f.contains(&code)),
            "the plan said which machine failed and why ({code}): {failures:#?}"
        );
    }
    Ok(())
}

/// What no log line or Event may ever contain.
fn assert_no_secrets(text: &str, secrets: &[&str], what: &str) {
    for secret in secrets {
        assert!(!text.contains(secret), "{what} contains a secret");
    }
    for marker in ["azsim.", "Bearer ", "sig=", "AccountKey=", "client_secret="] {
        assert!(
            !text.contains(marker),
            "{what} contains a credential ({marker})"
        );
    }
}

#[tokio::test]
async fn tokens_expire_and_a_rotated_secret_is_used_without_a_restart() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "rotation").await?;
    let sim = Simulator::start(&[
        "--time-scale",
        "300",
        "--replication-mbps",
        "200000",
        "--token-lifetime",
        "3",
    ])?;
    // The controller has no identity of its own: the vault names a Secret.
    let mut controller = Controller::start(plane, &sim, &ns, &[("AZURE_CLIENT_SECRET", "")])?;
    let pid = controller.pid();
    sim.create_identity_secret(plane, &ns, "azure-sp")?;
    let (mut vault, mut plan) = approved_example("aws.yaml")?;
    vault["spec"]["credentials"] = json!({"secretRef": {"name": "azure-sp"}});
    plan["spec"]["cutover"]["approved"] = json!(false);
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    wait_for(
        &plans,
        AWS_PLAN,
        &controller,
        "machines protected",
        TIMEOUT,
        |p| p.status.as_ref().is_some_and(|s| s.machines.protected == 3),
    )
    .await?;
    let before = sim.admin(Method::GET, "health", None).await?["tokensIssued"]
        .as_u64()
        .unwrap_or_default();
    assert!(
        before >= 2,
        "tokens expired and were replaced: {before} issued"
    );

    // The secret rotates in Entra; the old one stops working; the Secret is updated.
    let rotated = "rotated-0b6f1c9e4d7a";
    sim.admin(
        Method::POST,
        "identity",
        Some(json!({"clientSecret": rotated})),
    )
    .await?;
    plane.kubectl_ok(&[
        "patch",
        "secret",
        "azure-sp",
        "-n",
        &ns,
        "-p",
        &json!({"stringData": {"clientSecret": rotated}}).to_string(),
    ])?;
    plane.kubectl_ok(&[
        "patch",
        "mplan",
        AWS_PLAN,
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"cutover":{"approved":true}}}"#,
    ])?;
    wait_for(&plans, AWS_PLAN, &controller, "Completed", TIMEOUT, |p| {
        plan_phase(p) == Some(PlanPhase::Completed)
    })
    .await?;
    let after = sim.admin(Method::GET, "health", None).await?["tokensIssued"]
        .as_u64()
        .unwrap_or_default();
    assert!(
        after > before,
        "tokens were issued for the rotated secret: {before} then {after}"
    );
    assert!(controller.running(), "no restart was needed");
    assert_eq!(controller.pid(), pid);

    // Nothing secret in a whole run's log or Events.
    let secrets = [sim.info.client_secret.as_str(), rotated];
    assert_no_secrets(&controller.log(), &secrets, "the controller's log");
    let events = plane.kubectl_ok(&["get", "events", "-n", &ns, "-o", "json"])?;
    assert!(events.contains("Completed"), "Events were recorded");
    assert_no_secrets(&events, &secrets, "the Events");
    Ok(())
}

/// A control plane of the test's own, with the CRDs: restarting it must not disturb others.
fn own_control_plane() -> Result<ControlPlane> {
    let plane = ControlPlane::start()?;
    plane.install_crds()?;
    Ok(plane)
}

/// Drives the AWS plan on a stopped simulated clock, calling `interrupt` once when a machine
/// first reaches `at`; returns once the plan is Completed.
async fn drive_with_interruption(
    plane: &ControlPlane,
    sim: &mut Simulator,
    ns: &str,
    controller: &mut Controller,
    at: MachinePhase,
    interrupt: impl FnOnce(&ControlPlane, &mut Simulator) -> Result<()>,
) -> Result<()> {
    let client = plane.client().await?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), ns);
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), ns);
    let mut interrupt = Some(interrupt);
    let deadline = Instant::now() + TIMEOUT;
    loop {
        // While the API server restarts, asking it anything fails: that is the point.
        if let Ok(Some(plan)) = plans.get_opt(AWS_PLAN).await
            && plan_phase(&plan) == Some(PlanPhase::Completed)
        {
            if interrupt.is_some() {
                bail!("the plan completed before any machine was {at:?}");
            }
            return Ok(());
        }
        if let Ok(now) = phases(&machines).await
            && now.values().any(|p| *p == Some(at))
            && let Some(interrupt) = interrupt.take()
        {
            interrupt(plane, sim)?;
        }
        if !controller.running() {
            bail!("the controller exited:\n{}", controller.log());
        }
        if Instant::now() > deadline {
            let said: Vec<String> = machines
                .list(&ListParams::default())
                .await?
                .items
                .iter()
                .map(|m| {
                    let ready = m
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"));
                    format!(
                        "{}: {:?} {}",
                        m.metadata.name.as_deref().unwrap_or_default(),
                        machine_phase(m),
                        ready.map_or(String::new(), |c| format!("{}: {}", c.reason, c.message))
                    )
                })
                .collect();
            bail!(
                "the plan did not complete (interrupted: {}); machines:\n{}\n{}",
                interrupt.is_none(),
                said.join("\n"),
                controller.log()
            );
        }
        tick(sim).await?;
    }
}

#[tokio::test]
async fn the_api_server_restarting_mid_plan_does_not_stop_it() -> Result<()> {
    let plane = own_control_plane()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "apiserver-restart").await?;
    let mut sim = Simulator::start(&["--time-scale", "0", "--replication-mbps", "2000"])?;
    let mut controller = Controller::start(&plane, &sim, &ns, &[])?;
    let (vault, plan) = approved_example("aws.yaml")?;
    apply(&plane, &ns, &vault)?;
    apply(&plane, &ns, &plan)?;
    drive_with_interruption(
        &plane,
        &mut sim,
        &ns,
        &mut controller,
        MachinePhase::TestFailover,
        |plane, _| plane.restart(Duration::from_secs(3)),
    )
    .await?;
    assert_each_action_once(&sim, &AWS_MACHINES).await?;
    Ok(())
}

#[tokio::test]
async fn azure_sim_restarting_with_its_state_mid_plan_does_not_stop_it() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "sim-restart").await?;
    let mut sim =
        Simulator::start_restartable(&["--time-scale", "0", "--replication-mbps", "2000"])?;
    let mut controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, plan) = approved_example("aws.yaml")?;
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    drive_with_interruption(
        plane,
        &mut sim,
        &ns,
        &mut controller,
        MachinePhase::FailingOver,
        |_, sim| sim.restart(Duration::from_secs(2)),
    )
    .await?;
    // The request log restarts with the simulator; the world does not: every machine was
    // failed over and committed exactly once in it.
    let mut jobs: BTreeMap<String, usize> = BTreeMap::new();
    for job in list_all(&sim, "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-migration-aws/providers/Microsoft.RecoveryServices/vaults/aws-vault/replicationJobs?api-version=2025-08-01").await? {
        let scenario = job["properties"]["scenarioName"].as_str().unwrap_or_default();
        *jobs.entry(scenario.to_owned()).or_default() += 1;
    }
    for scenario in ["TestFailover", "Commit"] {
        assert_eq!(
            jobs.get(scenario),
            Some(&3),
            "one {scenario} job per machine: {jobs:?}"
        );
    }
    let failovers =
        jobs.get("PlannedFailover").unwrap_or(&0) + jobs.get("UnplannedFailover").unwrap_or(&0);
    assert_eq!(failovers, 3, "one failover job per machine: {jobs:?}");
    Ok(())
}

fn condition(object: &Value, type_: &str) -> Option<Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .cloned()
}

#[tokio::test]
async fn invalid_manifests_are_refused_or_reported_and_never_reach_azure() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "bad-input").await?;
    let sim = Simulator::start(&["--time-scale", "600"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    // A vault in another namespace, which the machine naming it must not reach.
    let elsewhere = temp_namespace(&client, "elsewhere").await?;
    let (mut other_vault, _) = approved_example("aws.yaml")?;
    other_vault["metadata"]["name"] = json!("elsewhere-vault");
    apply(plane, &elsewhere, &other_vault)?;

    let cases = bad_inputs::manifests()?;
    assert!(cases.len() >= 30, "a table of at least 30: {}", cases.len());
    let mut reported = Vec::new();
    for (i, (case, name, doc)) in cases.iter().enumerate() {
        let file = plane.dir().join(format!("{ns}-{name}.json"));
        std::fs::write(&file, serde_json::to_vec(&doc)?)?;
        // The API server's own answer, not kubectl's client-side check.
        let output = plane.kubectl_output(&[
            "apply",
            "--validate=false",
            "-n",
            &ns,
            "-f",
            &file.display().to_string(),
        ])?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        match case.expect {
            Expect::Refused(field) => assert!(
                !output.status.success() && stderr.contains(field),
                "{}: refused naming {field}: {stderr}",
                case.what
            ),
            Expect::NotReady(..) => {
                assert!(output.status.success(), "{}: accepted: {stderr}", case.what);
                reported.push((i, name, case));
            }
        }
    }

    // Each accepted one says what is wrong, in Ready's reason and message.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut pending = reported.clone();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for (i, name, case) in pending {
            let Expect::NotReady(reason, message) = case.expect else {
                continue;
            };
            let kind = case.kind.to_ascii_lowercase();
            let object: Value = serde_json::from_str(
                &plane.kubectl_ok(&["get", &kind, name, "-n", &ns, "-o", "json"])?,
            )?;
            let ready = condition(&object, "Ready");
            let matches = ready.as_ref().is_some_and(|c| {
                c["status"] == "False"
                    && c["reason"] == reason
                    && c["message"].as_str().is_some_and(|m| m.contains(message))
            });
            if !matches {
                if Instant::now() > deadline {
                    bail!(
                        "{}: expected Ready=False {reason} containing {message:?}, got {ready:?}",
                        case.what
                    );
                }
                still.push((i, name, case));
            }
        }
        pending = still;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // No hot loop: over four resync periods, each object is reconciled a bounded number of
    // times; and not one write reached Azure.
    let before = controller.get("/metrics").await?.1;
    tokio::time::sleep(Duration::from_secs(12)).await;
    let after = controller.get("/metrics").await?.1;
    let passes = metric_sum(&after, "cutover_reconciles_total", &[])
        - metric_sum(&before, "cutover_reconciles_total", &[]);
    let objects = reported.len() as f64;
    assert!(
        passes <= objects * 8.0,
        "{passes} reconciles of {objects} invalid objects in 12 s"
    );
    let writes: Vec<Value> = sim
        .requests("")
        .await?
        .into_iter()
        .filter(|r| r["method"] != "GET")
        .collect();
    assert!(writes.is_empty(), "no Azure writes: {writes:#?}");
    let mut controller = controller;
    assert!(controller.running(), "the controller is still running");
    Ok(())
}

#[tokio::test]
async fn deleting_machines_in_each_phase_does_what_their_deletion_policy_says() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "deletion").await?;
    let sim = Simulator::start(&["--time-scale", "0", "--replication-mbps", "2000"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    apply(plane, &ns, &example("hyperv-vmm.yaml")?.0)?;
    // Which machine is deleted in which phase, with which policy.
    let plan_of_deletions = [
        ("web01", "WEB01", MachinePhase::EnablingProtection, "Delete"),
        ("web02", "WEB02", MachinePhase::InitialReplication, "Retain"),
        ("web03", "WEB03", MachinePhase::TestFailover, "Delete"),
        ("sql01", "SQL01", MachinePhase::FailingOver, "Delete"),
    ];
    for (name, source, _, policy) in plan_of_deletions {
        apply(
            plane,
            &ns,
            &json!({
                "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
                "metadata": {"name": name, "labels": {"plan": "deletion"}},
                "spec": {"vaultRef": {"name": "vmm-dc1"}, "source": {"name": source, "container": "Gold"}, "osType": "Windows",
                         "target": {"vmSize": "Standard_D2s_v5", "subnet": "web"}, "deletionPolicy": policy}
            }),
        )?;
    }
    apply(
        plane,
        &ns,
        &json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "MigrationPlan", "metadata": {"name": "deletion"},
            "spec": {"vaultRef": {"name": "vmm-dc1"}, "machines": {"selector": {"matchLabels": {"plan": "deletion"}}},
                     "testFailover": {"required": true, "autoCleanup": true},
                     "cutover": {"approved": true, "maxConcurrent": 4, "shutdownSource": true}}
        }),
    )?;

    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let mut deleted: Vec<&str> = Vec::new();
    let deadline = Instant::now() + TIMEOUT;
    let blocked = loop {
        let now = phases(&machines).await?;
        for (name, _, phase, _) in plan_of_deletions {
            if !deleted.contains(&name) && now.get(name) == Some(&Some(phase)) {
                machines.delete(name, &DeleteParams::default()).await?;
                deleted.push(name);
            }
        }
        let sql01 = machines.get_opt("sql01").await?;
        let gone = ["web01", "web02", "web03"]
            .iter()
            .all(|m| !now.contains_key(*m));
        let blocked = sql01.as_ref().and_then(|m| {
            let status = m.status.as_ref()?;
            let ready = status.conditions.iter().find(|c| c.type_ == "Ready")?;
            (m.metadata.deletion_timestamp.is_some() && ready.reason == "DeletionBlocked")
                .then(|| ready.message.clone())
        });
        if gone && let Some(message) = blocked {
            break message;
        }
        if Instant::now() > deadline {
            bail!(
                "deleted {deleted:?}; phases now {now:?}\n{}",
                controller.log()
            );
        }
        tick(&sim).await?;
    };
    assert!(
        blocked.contains("cannot be disabled"),
        "a failed-over machine is not torn down behind its owner's back: {blocked}"
    );
    let items: Vec<String> = list_all(
        &sim,
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-migration-dc1/providers/Microsoft.RecoveryServices/vaults/dc1-vault/replicationProtectedItems?api-version=2025-08-01",
    )
    .await?
    .iter()
    .filter_map(|item| item["name"].as_str().map(str::to_owned))
    .collect();
    assert_eq!(
        items,
        ["sql01", "web02"],
        "Delete disabled replication (web01 while enabling, web03 after cleaning up its test failover); Retain left web02's; sql01's stays until its failover is finished"
    );
    Ok(())
}

#[tokio::test]
async fn changing_an_immutable_field_is_refused_without_touching_azure() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "immutable").await?;
    let sim = Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = approved_example("aws.yaml")?;
    plan["spec"]["cutover"]["approved"] = json!(false);
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    wait_for(
        &plans,
        AWS_PLAN,
        &controller,
        "machines tested and waiting at the gate",
        TIMEOUT,
        |p| {
            p.status
                .as_ref()
                .is_some_and(|s| s.machines.by_phase.get("ReadyForCutover") == Some(&3))
        },
    )
    .await?;
    let before = sim
        .requests("")
        .await?
        .iter()
        .filter(|r| r["method"] != "GET")
        .count();
    // One at a time: the machine's source through its plan's template, then the plan's vault,
    // then the vault's resource group.
    let changes = [
        (
            "rmachine",
            "aws-store-web",
            "mplan",
            AWS_PLAN,
            "json",
            json!([{"op": "replace", "path": "/spec/machines/templates/0/source/name", "value": "store-db"}]),
            "spec.source.name",
        ),
        (
            "mplan",
            AWS_PLAN,
            "mplan",
            AWS_PLAN,
            "merge",
            json!({"spec": {"vaultRef": {"name": "another-vault"}}}),
            "spec.vaultRef.name",
        ),
        (
            "recoveryvault",
            "aws-euwest1",
            "recoveryvault",
            "aws-euwest1",
            "merge",
            json!({"spec": {"resourceGroup": "rg-somewhere-else"}}),
            "spec.resourceGroup",
        ),
    ];
    for (kind, name, patched_kind, patched, patch_type, patch, field) in &changes {
        plane.kubectl_ok(&[
            "patch",
            patched_kind,
            patched,
            "-n",
            &ns,
            &format!("--type={patch_type}"),
            "-p",
            &patch.to_string(),
        ])?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let object: Value = serde_json::from_str(
                &plane.kubectl_ok(&["get", kind, name, "-n", &ns, "-o", "json"])?,
            )?;
            let ready = condition(&object, "Ready");
            if ready.as_ref().is_some_and(|c| {
                c["reason"] == "InvalidSpec"
                    && c["message"]
                        .as_str()
                        .is_some_and(|m| m.contains(&format!("{field}: is immutable")))
            }) {
                break;
            }
            if Instant::now() > deadline {
                bail!("{kind}/{name}: expected InvalidSpec naming {field}, got {ready:?}");
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let log = sim.requests("").await?;
    let after: Vec<&Value> = log
        .iter()
        .filter(|r| r["method"] != "GET")
        .skip(before)
        .collect();
    assert!(
        after.is_empty(),
        "no write to Azure after the changes: {after:#?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_lost_status_write_after_enabling_never_leads_to_enabling_again() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "lost-status").await?;
    let sim = Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = approved_example("aws.yaml")?;
    plan["spec"]["cutover"]["approved"] = json!(false);
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    wait_for(
        &machines,
        "aws-store-web",
        &controller,
        "Protected",
        TIMEOUT,
        |m| machine_phase(m).is_some_and(|p| p >= MachinePhase::Protected),
    )
    .await?;
    // As if the status write after the enable had never reached the API server.
    let patched = plane.kubectl_ok(&[
        "patch",
        "rmachine",
        "aws-store-web",
        "-n",
        &ns,
        "--subresource=status",
        "--type=json",
        "-p",
        r#"[{"op": "remove", "path": "/status/bound"}, {"op": "remove", "path": "/status/protectedItemId"}]"#,
        "-o",
        "json",
    ])?;
    let patched: Value = serde_json::from_str(&patched)?;
    assert!(
        patched["status"]["bound"].is_null() && patched["status"]["protectedItemId"].is_null(),
        "the binding was removed: {}",
        patched["status"]
    );
    // The item ASR lists is proof enough: the binding comes back from it.
    wait_for(
        &machines,
        "aws-store-web",
        &controller,
        "bound again",
        TIMEOUT,
        |m| m.status.as_ref().is_some_and(|s| s.bound.is_some()),
    )
    .await?;
    plane.kubectl_ok(&[
        "patch",
        "mplan",
        AWS_PLAN,
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"cutover":{"approved":true}}}"#,
    ])?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    wait_for(&plans, AWS_PLAN, &controller, "Completed", TIMEOUT, |p| {
        plan_phase(p) == Some(PlanPhase::Completed)
    })
    .await?;
    assert_each_action_once(&sim, &AWS_MACHINES).await?;
    Ok(())
}

/// A pass reads its machine from the controller's cache, and the watch event of the status it
/// wrote after a POST can come after the next pass has begun (a plan's release wakes every one
/// of its machines at once). That pass must not take the status without the action for a
/// machine never acted on. Here the controller's own reconcile runs in this process, twice on
/// the same machine object, the second time as a cache a step behind would hand it over: with
/// its vault's item list still fresh from before the first POST. ASR is asked to commit once.
#[tokio::test]
async fn a_pass_on_a_cached_machine_older_than_its_last_action_does_not_act_again() -> Result<()> {
    use cutover::context::{Caches, Context, Timing};
    use kube::runtime::{reflector, watcher};
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "stale-cache").await?;
    let sim = Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])?;
    let mut controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("hyperv-vmm.yaml")?;
    plan["spec"]["waves"] = Value::Null;
    plan["spec"]["testFailover"] = json!({"required": false});
    plan["spec"]["cutover"] = json!({"approved": true, "commit": "Manual", "maxConcurrent": 3});
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    wait_for(
        &machines,
        "vmm-web01",
        &controller,
        "held before commit",
        TIMEOUT,
        |m| {
            m.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.reason == "WaitingForCommit")
            })
        },
    )
    .await?;
    controller.kill()?;
    let commit = json!({"metadata": {"annotations": {"cutover.dev/commit": "true"}}});
    let web01 = machines
        .patch(
            "vmm-web01",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(commit),
        )
        .await?;

    // The controller's context, its caches filled from the API server as its reflectors would.
    fn store_of<K>(objects: Vec<K>) -> reflector::Store<K>
    where
        K: kube::Resource<DynamicType = ()> + Clone + 'static,
    {
        let (store, mut writer) = reflector::store();
        for object in objects {
            writer.apply_watcher_event(&watcher::Event::Apply(object));
        }
        store
    }
    let list = Default::default();
    let caches = Caches {
        vaults: store_of(
            Api::<cutover_api::RecoveryVault>::namespaced(client.clone(), &ns)
                .list(&list)
                .await?
                .items,
        ),
        machines: store_of(machines.list(&list).await?.items),
        plans: store_of(
            Api::<MigrationPlan>::namespaced(client.clone(), &ns)
                .list(&list)
                .await?
                .items,
        ),
        jobs: store_of(Vec::new()),
        synced: Default::default(),
    };
    caches.mark_synced();
    let info = &sim.info;
    let url = |u: &str| -> Result<azure_core::http::Url> { Ok(u.parse()?) };
    let settings = cutover::azure::ArmSettings::new(
        url(&info.arm_endpoint)?,
        Some(url(&info.authority_host)?),
        Some(info.cert_file.clone()),
        Duration::from_secs(30),
    )?;
    let credential = cutover::azure::credentials::client_secret(
        &settings,
        &info.tenant_id,
        info.client_id.clone(),
        info.client_secret.clone(),
    )?;
    // Polls far apart: the second pass finds the item list the first one read.
    let timing = Timing {
        poll: Duration::from_secs(60),
        resync: Duration::from_secs(120),
        max_backoff: Duration::from_secs(300),
    };
    let ctx = std::sync::Arc::new(Context::new(
        client.clone(),
        settings,
        Ok(credential),
        timing,
        caches,
        Default::default(),
    ));
    let commits = || async {
        Ok::<_, anyhow::Error>(
            sim.requests("method=POST&path=/failoverCommit")
                .await?
                .iter()
                .filter(|r| r.to_string().to_ascii_lowercase().contains("web01"))
                .count(),
        )
    };
    let stale = std::sync::Arc::new(web01);
    cutover::machine::reconcile::reconcile(stale.clone(), ctx.clone()).await?;
    assert_eq!(commits().await?, 1, "the annotated machine commits");
    cutover::machine::reconcile::reconcile(stale, ctx.clone()).await?;
    assert_eq!(
        commits().await?,
        1,
        "committed once, whatever the cache shows"
    );
    let recorded = machines.get("vmm-web01").await?;
    let actions: Vec<String> = recorded
        .status
        .map(|s| s.actions.into_iter().map(|a| a.action).collect())
        .unwrap_or_default();
    assert_eq!(
        actions.iter().filter(|a| a.as_str() == "Commit").count(),
        1,
        "{actions:?}"
    );
    Ok(())
}
