//! The Argo CD health check (deploy/argocd/health.lua) run by a real Lua 5.1 interpreter, the
//! dialect of Argo CD's gopher-lua, against objects in every phase of each kind, with the
//! conditions the controller's own kstatus mapping writes (`cutover::kstatus`).

use std::process::Command;

use anyhow::{Context, Result, bail};
use cutover_api::machine::{MachinePhase, ReplicatedMachineStatus};
use cutover_api::plan::{MigrationPlanStatus, PlanPhase};
use cutover_api::vault::{RecoveryVaultStatus, VaultPhase};
use cutover_e2e::repo_root;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use serde_json::{Value, json};

/// `value` as a Lua table constructor, the way Argo CD hands `obj` to the script.
fn lua(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut quoted = String::from("\"");
            for c in s.chars() {
                match c {
                    '\\' => quoted.push_str("\\\\"),
                    '"' => quoted.push_str("\\\""),
                    '\n' => quoted.push_str("\\n"),
                    c => quoted.push(c),
                }
            }
            quoted.push('"');
            quoted
        }
        Value::Array(items) => format!(
            "{{{}}}",
            items.iter().map(lua).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("[{}] = {}", lua(&json!(k)), lua(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Runs the health check on `object`: Argo CD's status and message.
fn health(object: &Value) -> Result<(String, String)> {
    let script = repo_root().join("deploy/argocd/health.lua");
    let program = format!(
        "obj = {}\nlocal hs = dofile({})\nio.write(hs.status, \"\\t\", hs.message or \"\")",
        lua(object),
        lua(&json!(script.display().to_string()))
    );
    let output = Command::new("lua5.1")
        .args(["-e", &program])
        .output()
        .context("running lua5.1 (tests/scripts/install-control-plane.sh installs it)")?;
    if !output.status.success() {
        bail!("lua5.1 failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let text = String::from_utf8(output.stdout)?;
    let (status, message) = text.split_once('\t').context("status and message")?;
    Ok((status.to_owned(), message.to_owned()))
}

fn ready(ok: bool, reason: &str) -> Vec<Condition> {
    vec![Condition {
        type_: "Ready".into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message: format!("{reason}: what the controller said"),
        observed_generation: Some(4),
        last_transition_time: Time(jiff::Timestamp::UNIX_EPOCH),
    }]
}

fn object(status: Value) -> Value {
    json!({ "metadata": { "name": "x", "generation": 4 }, "status": status })
}

fn settled(mut conditions: Vec<Condition>, progress: cutover::kstatus::Progress) -> Vec<Condition> {
    cutover::kstatus::settle(
        &mut conditions,
        progress,
        &[],
        Some(4),
        jiff::Timestamp::UNIX_EPOCH,
    );
    conditions
}

#[test]
fn every_phase_of_each_kind_has_the_health_argo_cd_should_show() -> Result<()> {
    let mut failures = Vec::new();
    let mut check = |what: String, object: Value, expected: &str| -> Result<()> {
        let (status, message) = health(&object)?;
        if status != expected {
            failures.push(format!("{what}: {status} ({message}), expected {expected}"));
        }
        Ok(())
    };

    use MachinePhase as M;
    for (phase, reason, expected) in [
        (M::Pending, "WaitingForVault", "Progressing"),
        (M::Pending, "SourceMachineNotFound", "Degraded"),
        (M::Pending, "InvalidSpec", "Degraded"),
        (M::EnablingProtection, "JobRunning", "Progressing"),
        (M::InitialReplication, "InitialReplication", "Progressing"),
        (M::Protected, "WaitingForTestFailover", "Suspended"),
        (M::TestFailover, "TestingFailover", "Progressing"),
        (
            M::TestFailoverSucceeded,
            "WaitingForValidation",
            "Suspended",
        ),
        (M::TestFailoverCleanup, "CleaningUpTest", "Progressing"),
        (M::ReadyForCutover, "WaitingForCutover", "Suspended"),
        (M::FailingOver, "FailingOver", "Progressing"),
        (M::FailedOver, "FailoverCompleted", "Progressing"),
        (M::Committing, "Committing", "Progressing"),
        (M::Completed, "Completed", "Healthy"),
        (M::Failed, "JobFailed", "Degraded"),
    ] {
        let mut status = ReplicatedMachineStatus {
            phase: Some(phase),
            observed_generation: Some(4),
            conditions: ready(matches!(phase, M::Completed | M::ReadyForCutover), reason),
            ..Default::default()
        };
        let progress = cutover::kstatus::of_machine(&status);
        status.conditions = settled(status.conditions, progress);
        check(
            format!("machine {phase:?} {reason}"),
            object(serde_json::to_value(&status)?),
            expected,
        )?;
    }

    use PlanPhase as P;
    for (phase, expected) in [
        (P::Pending, "Progressing"),
        (P::Replicating, "Progressing"),
        (P::Testing, "Progressing"),
        (P::AwaitingApproval, "Suspended"),
        (P::AwaitingWindow, "Suspended"),
        (P::CuttingOver, "Progressing"),
        (P::Completed, "Healthy"),
        (P::Failed, "Degraded"),
    ] {
        let mut status = MigrationPlanStatus {
            phase: Some(phase),
            observed_generation: Some(4),
            conditions: ready(phase == P::Completed, phase.as_str()),
            ..Default::default()
        };
        let progress = cutover::kstatus::of_plan(&status);
        status.conditions = settled(status.conditions, progress);
        check(
            format!("plan {phase:?}"),
            object(serde_json::to_value(&status)?),
            expected,
        )?;
    }

    use VaultPhase as V;
    for (phase, reason, expected) in [
        (V::Pending, "Pending", "Progressing"),
        (V::Provisioning, "CreatingVault", "Progressing"),
        (V::WaitingForSource, "WaitingForRegistration", "Progressing"),
        (V::Ready, "Ready", "Healthy"),
        (V::Failed, "NotOwned", "Degraded"),
        (V::Deleting, "Deleting", "Progressing"),
        (V::Deleting, "DeletionBlocked", "Degraded"),
    ] {
        let mut status = RecoveryVaultStatus {
            phase: Some(phase),
            observed_generation: Some(4),
            conditions: ready(phase == V::Ready, reason),
            ..Default::default()
        };
        let progress = cutover::kstatus::of_vault(&status);
        status.conditions = settled(status.conditions, progress);
        check(
            format!("vault {phase:?} {reason}"),
            object(serde_json::to_value(&status)?),
            expected,
        )?;
    }

    // Before the controller's first status, and while its status is of an older spec.
    check(
        "no status yet".into(),
        json!({"metadata": {"name": "x", "generation": 1}}),
        "Progressing",
    )?;
    let mut done = RecoveryVaultStatus {
        phase: Some(V::Ready),
        observed_generation: Some(3),
        conditions: ready(true, "Ready"),
        ..Default::default()
    };
    done.conditions = settled(done.conditions, cutover::kstatus::Progress::Settled);
    check(
        "a spec newer than the status".into(),
        object(serde_json::to_value(&done)?),
        "Progressing",
    )?;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn the_argocd_cm_patch_carries_the_health_check_for_each_kind() -> Result<()> {
    let script = std::fs::read_to_string(repo_root().join("deploy/argocd/health.lua"))?;
    let patch: Value = serde_yaml_ng::from_str(&std::fs::read_to_string(
        repo_root().join("deploy/argocd/argocd-cm-patch.yaml"),
    )?)?;
    for kind in ["RecoveryVault", "MigrationPlan", "ReplicatedMachine"] {
        let key = format!("resource.customizations.health.cutover.dev_{kind}");
        assert_eq!(
            patch["data"][&key].as_str(),
            Some(script.as_str()),
            "{key} holds deploy/argocd/health.lua"
        );
    }
    Ok(())
}
