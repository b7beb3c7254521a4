//! `kubectl cutover`, run by the real kubectl as its plugin (`kubectl-cutover` on `PATH`), on a
//! pseudo-terminal where a person would see it, against a plan in each of its states: its
//! screen while machines replicate (progress and time left), while they wait for a person
//! (validation, approval, commit), and after; and the steps it takes (validate-test, a partial
//! approval, commit held by `spec.cutover.commit: Manual`, retry) with their confirmations.
//!
//! Simulated time stands still (`--time-scale 0`) and the test moves it, so each state lasts as
//! long as the test looks at it.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use cutover_api::{MachinePhase, MigrationPlan, PlanPhase, ReplicatedMachine};
use cutover_e2e::examples::example;
use cutover_e2e::processes::{Controller, Simulator, binary};
use cutover_e2e::pty::Pty;
use cutover_e2e::wait::apply;
use cutover_e2e::{ControlPlane, control_plane, temp_namespace};
use kube::{Api, ResourceExt};
use reqwest::Method;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(300);
const PLAN: &str = "aws-storefront";
/// The AWS example's waves: `backend` (api, win), then `frontend` (web).
const API: &str = "aws-store-api";
const WIN: &str = "aws-store-win";
const WEB: &str = "aws-store-web";

/// `kubectl cutover ARGS`, with the plugin on `PATH` as an installed one would be.
fn kubectl_cutover(plane: &ControlPlane, plugins: &Path, ns: &str, args: &[&str]) -> Command {
    let mut command = plane.kubectl();
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![plugins.to_path_buf()];
    dirs.extend(std::env::split_paths(&path));
    command
        .env("PATH", std::env::join_paths(dirs).expect("a PATH"))
        .env("TERM", "xterm")
        .args(["cutover", "-n", ns])
        .args(args);
    command
}

/// Runs `kubectl cutover ARGS` without a terminal: (exit status, stdout, stderr).
fn run(
    plane: &ControlPlane,
    plugins: &Path,
    ns: &str,
    args: &[&str],
) -> Result<(bool, String, String)> {
    let output = kubectl_cutover(plane, plugins, ns, args).output()?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

fn ok(plane: &ControlPlane, plugins: &Path, ns: &str, args: &[&str]) -> Result<String> {
    let (success, stdout, stderr) = run(plane, plugins, ns, args)?;
    if !success {
        bail!("kubectl cutover {args:?} failed:\n{stdout}{stderr}");
    }
    Ok(stdout)
}

/// `kubectl cutover ARGS` on a 200-column terminal, to its end.
fn on_terminal(plane: &ControlPlane, plugins: &Path, ns: &str, args: &[&str]) -> Result<Pty> {
    Pty::spawn(kubectl_cutover(plane, plugins, ns, args), 200, 50)
}

fn phase(machine: &ReplicatedMachine) -> MachinePhase {
    machine
        .status
        .as_ref()
        .and_then(|s| s.phase)
        .unwrap_or(MachinePhase::Pending)
}

fn ready_reason(machine: &ReplicatedMachine) -> String {
    machine
        .status
        .as_ref()
        .and_then(|s| s.conditions.iter().find(|c| c.type_ == "Ready"))
        .map(|c| c.reason.clone())
        .unwrap_or_default()
}

/// Moves simulated time ten seconds at a time until the machines satisfy `done`.
async fn drive_until(
    sim: &Simulator,
    machines: &Api<ReplicatedMachine>,
    controller: &Controller,
    what: &str,
    done: impl Fn(&[ReplicatedMachine]) -> bool,
) -> Result<Vec<ReplicatedMachine>> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let now = machines.list(&Default::default()).await?.items;
        if done(&now) {
            return Ok(now);
        }
        if Instant::now() > deadline {
            let phases: Vec<(String, MachinePhase, String)> = now
                .iter()
                .map(|m| (m.name_any(), phase(m), ready_reason(m)))
                .collect();
            bail!(
                "{what} did not happen; machines {phases:?}\n{}",
                controller.log()
            );
        }
        sim.admin(Method::POST, "clock", Some(json!({"advanceSeconds": 10})))
            .await?;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn find<'a>(machines: &'a [ReplicatedMachine], name: &str) -> Option<&'a ReplicatedMachine> {
    machines.iter().find(|m| m.name_any() == name)
}

fn is(
    machines: &[ReplicatedMachine],
    name: &str,
    check: impl Fn(&ReplicatedMachine) -> bool,
) -> bool {
    find(machines, name).is_some_and(check)
}

/// Failovers ARM accepted for one machine (planned or not).
async fn failovers_of(sim: &Simulator, machine: &str) -> Result<usize> {
    let mut count = 0;
    for action in ["plannedFailover", "unplannedFailover"] {
        count += sim
            .requests(&format!("method=POST&path=/{action}"))
            .await?
            .iter()
            .filter(|r| {
                r["path"]
                    .as_str()
                    .is_some_and(|p| p.contains(&format!("/{machine}/")))
                    && r["status"].as_u64().is_some_and(|s| s < 300)
            })
            .count();
    }
    Ok(count)
}

async fn commits(sim: &Simulator) -> Result<usize> {
    Ok(sim
        .requests("method=POST&path=/failoverCommit")
        .await?
        .len())
}

#[tokio::test]
async fn kubectl_cutover_shows_a_plan_in_each_state_and_takes_each_step_once() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "plugin").await?;
    let plugins = tempfile::tempdir()?;
    std::os::unix::fs::symlink(binary("cutover")?, plugins.path().join("kubectl-cutover"))?;
    let plugins = plugins.path();
    let sim = Simulator::start(&["--time-scale", "0", "--replication-mbps", "2000"])?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;
    let (vault, mut plan) = example("aws.yaml")?;
    // A person validates each test VM, approves, and commits.
    plan["spec"]["testFailover"] = json!({"required": true, "autoCleanup": false});
    plan["spec"]["cutover"] = json!({"approved": false, "commit": "Manual"});
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), &ns);
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);

    // Unknown plan: a clear error, not a panic.
    let (success, _, stderr) = run(plane, plugins, &ns, &["status", "no-such-plan"])?;
    assert!(!success);
    assert!(
        stderr.contains("no MigrationPlan no-such-plan in namespace"),
        "{stderr}"
    );

    // Replicating: a progress bar and a time left on the terminal. The simulated clock stands
    // still between steps, so the machine seen part-way through keeps its progress while the
    // plugin reads it; other machines may still be at 0%, so its own row is the one checked.
    let seeding = |m: &ReplicatedMachine| {
        phase(m) == MachinePhase::InitialReplication
            && m.status
                .as_ref()
                .and_then(|s| s.replication.as_ref()?.progress_percent)
                .is_some_and(|p| (1..100).contains(&p))
    };
    let seen = drive_until(
        &sim,
        &machines,
        &controller,
        "initial replication under way",
        |ms| ms.iter().any(seeding),
    )
    .await?;
    let part_way = seen
        .iter()
        .find(|m| seeding(m))
        .map(|m| m.name_any())
        .expect("drive_until returned a machine part-way");
    let (status, screen) =
        on_terminal(plane, plugins, &ns, &["status", PLAN])?.finish(Duration::from_secs(30))?;
    assert!(status.success(), "{screen}");
    assert!(
        screen.contains(&format!("Plan {ns}/{PLAN}  vault aws-euwest1")),
        "{screen}"
    );
    assert!(
        screen.contains("WAVE") && screen.contains("WAITING FOR"),
        "{screen}"
    );
    let replicating = screen
        .lines()
        .find(|l| l.contains(&part_way) && l.contains("InitialReplication"))
        .unwrap_or_else(|| panic!("{part_way}'s row, replicating:\n{screen}"));
    assert!(
        replicating.contains('█') && replicating.contains('░'),
        "{replicating}"
    );
    assert!(replicating.contains('~'), "a time left: {replicating}");
    assert!(screen.contains("Initial replication of"), "{screen}");
    assert!(screen.contains("\x1b["), "coloured on a terminal");

    // Test VMs up: each waits for a person; validate-test says so and cleans up.
    drive_until(&sim, &machines, &controller, "every test VM up", |ms| {
        [API, WIN, WEB]
            .iter()
            .all(|n| is(ms, n, |m| ready_reason(m) == "WaitingForValidation"))
    })
    .await?;
    let screen = ok(plane, plugins, &ns, &["status", PLAN])?;
    assert!(
        screen.contains(&format!(
            "a person to check the test VM: kubectl cutover validate-test {API}"
        )),
        "{screen}"
    );
    assert!(!screen.contains("\x1b["), "plain through a pipe");
    let (success, _, stderr) = run(plane, plugins, &ns, &["retry", API])?;
    assert!(
        !success && stderr.contains("not Failed: there is nothing to retry"),
        "{stderr}"
    );
    for machine in [API, WIN, WEB] {
        let said = ok(plane, plugins, &ns, &["validate-test", machine])?;
        assert!(said.contains("test VM validated"), "{said}");
    }

    // Ready: the plan waits for approval; a partial approval, confirmed at the prompt.
    drive_until(
        &sim,
        &machines,
        &controller,
        "backend ready for cutover",
        |ms| {
            [API, WIN]
                .iter()
                .all(|n| is(ms, n, |m| phase(m) == MachinePhase::ReadyForCutover))
        },
    )
    .await?;
    let deadline = Instant::now() + TIMEOUT;
    while !plans.get(PLAN).await?.status.is_some_and(|s| {
        s.phase == Some(PlanPhase::AwaitingApproval) && s.awaiting_approval.len() == 2
    }) {
        if Instant::now() > deadline {
            bail!("the plan never awaited approval\n{}", controller.log());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let screen = ok(plane, plugins, &ns, &["status", PLAN])?;
    assert!(
        screen.contains(&format!("Waiting for approval: {API}, {WIN}")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("approval: kubectl cutover approve {PLAN} [{WIN}]")),
        "{screen}"
    );

    // Without a terminal and without --yes, nothing is approved.
    let (success, _, stderr) = run(plane, plugins, &ns, &["approve", PLAN, API])?;
    assert!(!success && stderr.contains("pass --yes"), "{stderr}");
    let (success, _, stderr) = run(plane, plugins, &ns, &["approve", PLAN, "not-in-plan"])?;
    assert!(
        !success && stderr.contains("not machines of plan"),
        "{stderr}"
    );
    assert!(
        !machines
            .get(API)
            .await?
            .annotations()
            .contains_key("cutover.dev/approved")
    );
    let mut prompt = on_terminal(plane, plugins, &ns, &["approve", PLAN, API])?;
    prompt.read_until(Duration::from_secs(30), |s| s.contains("Type yes to go on"))?;
    assert!(
        prompt
            .screen()
            .contains(&format!("Approve the cutover of {API}"))
    );
    prompt.type_text("yes\n")?;
    let (status, screen) = prompt.finish(Duration::from_secs(30))?;
    assert!(status.success(), "{screen}");

    // Only the approved machine fails over, and it is held before commit.
    let held = drive_until(
        &sim,
        &machines,
        &controller,
        "api held before commit",
        |ms| is(ms, API, |m| ready_reason(m) == "WaitingForCommit"),
    )
    .await?;
    assert!(is(&held, WIN, |m| phase(m) == MachinePhase::ReadyForCutover));
    assert_eq!(
        (
            failovers_of(&sim, API).await?,
            failovers_of(&sim, WIN).await?
        ),
        (1, 0)
    );
    assert_eq!(commits(&sim).await?, 0, "held: no commit");
    let screen = ok(plane, plugins, &ns, &["status", PLAN])?;
    assert!(
        screen.contains(&format!("a person to commit: kubectl cutover commit {API}")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("Waiting for approval: {WIN}")),
        "{screen}"
    );
    let web = screen.lines().find(|l| l.contains(WEB)).unwrap_or_default();
    assert!(web.ends_with("wave backend to finish"), "{screen}");

    // Commit: refused for a machine not failed over, asked for on the terminal, declined.
    let (success, _, stderr) = run(plane, plugins, &ns, &["commit", WIN, "--yes"])?;
    assert!(
        !success && stderr.contains("only a machine held failed over"),
        "{stderr}"
    );
    let mut prompt = on_terminal(plane, plugins, &ns, &["commit", API])?;
    prompt.read_until(Duration::from_secs(30), |s| s.contains("Type yes to go on"))?;
    prompt.type_text("no\n")?;
    let (status, screen) = prompt.finish(Duration::from_secs(30))?;
    assert!(
        !status.success() && screen.contains("not confirmed"),
        "{screen}"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(commits(&sim).await?, 0, "declined: no commit");
    ok(plane, plugins, &ns, &["commit", API, "--yes"])?;
    drive_until(&sim, &machines, &controller, "api completed", |ms| {
        is(ms, API, |m| phase(m) == MachinePhase::Completed)
    })
    .await?;

    // The rest: the whole plan approved, each machine committed by a person.
    ok(plane, plugins, &ns, &["approve", PLAN, "--yes"])?;
    for machine in [WIN, WEB] {
        drive_until(&sim, &machines, &controller, "held before commit", |ms| {
            is(ms, machine, |m| ready_reason(m) == "WaitingForCommit")
        })
        .await?;
        ok(plane, plugins, &ns, &["commit", machine, "--yes"])?;
    }
    drive_until(
        &sim,
        &machines,
        &controller,
        "every machine completed",
        |ms| ms.len() == 3 && ms.iter().all(|m| phase(m) == MachinePhase::Completed),
    )
    .await?;
    for machine in [API, WIN, WEB] {
        assert_eq!(
            failovers_of(&sim, machine).await?,
            1,
            "{machine}: one failover"
        );
    }
    assert_eq!(commits(&sim).await?, 3, "one commit each");

    // Watched: frames redrawn in place on the terminal until interrupted.
    let mut watching = on_terminal(
        plane,
        plugins,
        &ns,
        &["status", PLAN, "--watch", "--interval-seconds", "1"],
    )?;
    let screen = watching.read_until(Duration::from_secs(60), |s| {
        s.matches("\x1b[H\x1b[2J").count() >= 2
    })?;
    let last = screen.rsplit("\x1b[H\x1b[2J").next().unwrap_or_default();
    assert!(
        last.contains("Completed") && last.contains("100%"),
        "{last}"
    );
    Ok(())
}
