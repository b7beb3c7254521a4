//! The screen of `kubectl cutover status`: a plan, its waves and machines, drawn from their
//! objects as one pure function of them, the time and the progress seen so far.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use cutover_api::conditions::{READY, STALLED};
use cutover_api::{MachinePhase, MigrationPlan, PlanPhase, ReplicatedMachine};
use jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;

/// Initial replication progress of each machine, as watched: (when, percent), oldest first.
#[derive(Clone, Debug, Default)]
pub struct History {
    samples: BTreeMap<String, VecDeque<(Timestamp, i32)>>,
}

/// How far back the watched progress counts for the rate: recent enough to follow a link that
/// got faster or slower, long enough to span several of ASR's progress updates.
const RATE_SPAN: SignedDuration = SignedDuration::from_mins(15);

impl History {
    /// Remembers each machine's progress at `now`.
    pub fn observe(&mut self, machines: &[ReplicatedMachine], now: Timestamp) {
        for machine in machines {
            let Some(progress) = progress_of(machine) else {
                continue;
            };
            let samples = self.samples.entry(machine.name_any()).or_default();
            if samples.back().is_some_and(|(_, p)| *p > progress) {
                // Replication started over (re-enabled): the old samples say nothing of it.
                samples.clear();
            }
            samples.push_back((now, progress));
            while samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > RATE_SPAN)
                && samples.len() > 2
            {
                samples.pop_front();
            }
        }
    }

    /// Percent per second seen for `machine`, when its progress moved while watched.
    fn rate(&self, machine: &str) -> Option<f64> {
        let samples = self.samples.get(machine)?;
        let ((first_at, first), (last_at, last)) = (samples.front()?, samples.back()?);
        let seconds = last_at.duration_since(*first_at).as_secs_f64();
        (last > first && seconds > 0.0).then(|| f64::from(last - first) / seconds)
    }
}

fn progress_of(machine: &ReplicatedMachine) -> Option<i32> {
    machine
        .status
        .as_ref()?
        .replication
        .as_ref()?
        .progress_percent
}

/// Time left of a machine's initial replication: from the rate watched, else from the
/// progress made since protection was enabled (the `EnableProtection` action's time).
pub fn time_left(machine: &ReplicatedMachine, history: &History, now: Timestamp) -> Option<u64> {
    let status = machine.status.as_ref()?;
    if status.phase != Some(MachinePhase::InitialReplication) {
        return None;
    }
    let progress = progress_of(machine)?;
    if progress >= 100 {
        return Some(0);
    }
    let rate = history.rate(&machine.name_any()).or_else(|| {
        let enabled = status
            .actions
            .iter()
            .rev()
            .find(|a| a.action == "EnableProtection")?;
        let seconds = now.duration_since(enabled.issued_at.0).as_secs_f64();
        (progress > 0 && seconds > 0.0).then(|| f64::from(progress) / seconds)
    })?;
    Some((f64::from(100 - progress) / rate).ceil() as u64)
}

/// `~1h05m`, `~12m`, `~40s`.
pub fn duration_text(seconds: u64) -> String {
    match seconds {
        0..60 => format!("~{seconds}s"),
        60..3600 => format!("~{}m", seconds.div_ceil(60)),
        _ => format!("~{}h{:02}m", seconds / 3600, (seconds % 3600) / 60),
    }
}

/// How the screen is drawn: for a terminal (colours, block bars) or for a pipe (plain text).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Style {
    pub terminal: bool,
    /// Columns to fit, when known.
    pub width: Option<usize>,
}

fn bar(percent: i32, style: Style) -> String {
    const CELLS: i32 = 12;
    // Started shows a cell, unfinished leaves one empty: a bar never looks done, or not begun,
    // when it is neither.
    let percent = percent.clamp(0, 100);
    let full = match (percent * CELLS + 50) / 100 {
        0 if percent > 0 => 1,
        full if full == CELLS && percent < 100 => CELLS - 1,
        full => full,
    };
    let (on, off) = if style.terminal {
        ('█', '░')
    } else {
        ('#', '.')
    };
    let mut bar = String::new();
    bar.extend(std::iter::repeat_n(on, full as usize));
    bar.extend(std::iter::repeat_n(off, (CELLS - full) as usize));
    format!("{bar} {percent:>3}%")
}

fn paint(text: &str, colour: &str, style: Style) -> String {
    if style.terminal {
        format!("\x1b[{colour}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn condition<'a>(
    conditions: &'a [k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition],
    type_: &str,
) -> Option<&'a k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// What a machine waits for, in words a person acts on (with the command to type).
pub fn waiting_for(plan: &MigrationPlan, machine: &ReplicatedMachine) -> String {
    let plan_name = plan.name_any();
    let name = machine.name_any();
    let Some(status) = machine.status.as_ref() else {
        return "the controller's first look".to_owned();
    };
    let ready = condition(&status.conditions, READY);
    let reason = ready.map_or("", |c| c.reason.as_str());
    let message = ready.map_or("", |c| c.message.as_str());
    let plan_status = plan.status.clone().unwrap_or_default();
    if let Some(hook) = hook_gate(plan, &name, status.phase) {
        return hook;
    }
    match reason {
        "WaitingForCutover" => {
            if plan_status.awaiting_approval.contains(&name) {
                format!("approval: kubectl cutover approve {plan_name} [{name}]")
            } else if plan_status.phase == Some(PlanPhase::AwaitingWindow) {
                match &plan.spec.cutover.window {
                    Some(window) => format!("the maintenance window (opens {})", window.start.0),
                    None => "the maintenance window".to_owned(),
                }
            } else if status.wave.is_some() && status.wave != plan_status.current_wave {
                format!(
                    "wave {} to finish",
                    plan_status.current_wave.as_deref().unwrap_or("before it")
                )
            } else {
                format!(
                    "a cutover slot (maxConcurrent {})",
                    plan.spec.cutover.max_concurrent
                )
            }
        }
        "WaitingForValidation" => {
            format!("a person to check the test VM: kubectl cutover validate-test {name}")
        }
        "WaitingForCommit" => format!("a person to commit: kubectl cutover commit {name}"),
        "WaitingForWave" => "an earlier wave to finish".to_owned(),
        "WaitingForTestFailover" => "the plan's test failover".to_owned(),
        "Completed" => String::new(),
        _ if status.phase == Some(MachinePhase::Failed) => {
            format!("a retry: kubectl cutover retry {name}")
        }
        _ => match &status.current_job {
            Some(job) => format!("ASR job {} ({})", job.name, job.state),
            None => message.to_owned(),
        },
    }
}

/// The hook a machine's step waits for, or the failed one that holds it, from the plan's runs.
fn hook_gate(plan: &MigrationPlan, name: &str, phase: Option<MachinePhase>) -> Option<String> {
    use cutover_api::plan::{HookState, HookStep};
    let step = match phase? {
        MachinePhase::ReadyForCutover => HookStep::PreCutover,
        MachinePhase::FailedOver => HookStep::PostFailover,
        MachinePhase::Completed => HookStep::PostCommit,
        _ => return None,
    };
    let runs = &plan.status.as_ref()?.hooks;
    let of_step = || runs.iter().filter(|r| r.machine == name && r.step == step);
    let must_succeed = |hook: &str| {
        plan.spec
            .hooks
            .iter()
            .any(|h| h.name == hook && h.must_succeed)
    };
    if let Some(failed) = of_step().find(|r| r.state == HookState::Failed && must_succeed(&r.hook))
    {
        return Some(format!(
            "its failed hook {} (Job {}: {}): kubectl cutover retry {name}",
            failed.hook, failed.job, failed.message
        ));
    }
    of_step()
        .find(|r| r.state == HookState::Running)
        .map(|running| format!("hook {} (Job {})", running.hook, running.job))
}

/// The last error a machine reports: why it failed, or why it cannot progress.
pub fn last_error(machine: &ReplicatedMachine) -> Option<String> {
    let status = machine.status.as_ref()?;
    let ready = condition(&status.conditions, READY);
    if status.phase == Some(MachinePhase::Failed) {
        return ready.map(|c| format!("{}: {}", c.reason, c.message));
    }
    condition(&status.conditions, STALLED)
        .filter(|c| c.status == "True")
        .map(|c| format!("{}: {}", c.reason, c.message))
}

fn phase_colour(phase: Option<MachinePhase>) -> &'static str {
    match phase {
        Some(MachinePhase::Completed) => "32",
        Some(MachinePhase::Failed) => "31",
        Some(MachinePhase::FailingOver | MachinePhase::FailedOver | MachinePhase::Committing) => {
            "35"
        }
        Some(MachinePhase::ReadyForCutover | MachinePhase::TestFailoverSucceeded) => "36",
        _ => "33",
    }
}

/// The whole screen.
pub fn render(
    plan: &MigrationPlan,
    machines: &[ReplicatedMachine],
    history: &History,
    now: Timestamp,
    style: Style,
) -> String {
    let status = plan.status.clone().unwrap_or_default();
    let mut out = String::new();
    let phase = status.phase.map_or("Pending", PlanPhase::as_str);
    let ready = condition(&status.conditions, READY);
    let _ = writeln!(
        out,
        "Plan {}/{}  vault {}  {}  {}",
        plan.namespace().unwrap_or_default(),
        plan.name_any(),
        plan.spec.vault_ref.name,
        paint(
            phase,
            match status.phase {
                Some(PlanPhase::Completed) => "32",
                Some(PlanPhase::Failed) => "31",
                _ => "1",
            },
            style
        ),
        bar(status.progress_percent, style),
    );
    let counts = &status.machines;
    let _ = writeln!(
        out,
        "Machines {} total, {} protected, {} tested, {} completed, {} failed{}",
        counts.total,
        counts.protected,
        counts.tested,
        counts.completed,
        counts.failed,
        status
            .current_wave
            .as_deref()
            .map(|w| format!("; current wave {w}"))
            .unwrap_or_default(),
    );
    let left: Vec<u64> = machines
        .iter()
        .filter_map(|m| time_left(m, history, now))
        .collect();
    if let Some(longest) = left.iter().max() {
        let _ = writeln!(
            out,
            "Initial replication of {} machine{}: {} left",
            left.len(),
            if left.len() == 1 { "" } else { "s" },
            duration_text(*longest)
        );
    }
    if let Some(ready) = ready.filter(|c| !c.message.is_empty()) {
        let _ = writeln!(out, "Status {}: {}", ready.reason, ready.message);
    }
    if !status.awaiting_approval.is_empty() {
        let _ = writeln!(
            out,
            "Waiting for approval: {} (kubectl cutover approve {} [MACHINE...])",
            status.awaiting_approval.join(", "),
            plan.name_any()
        );
    }
    out.push('\n');

    // Machines in the plan's wave order, then by name.
    let order: BTreeMap<&str, usize> = status
        .waves
        .iter()
        .enumerate()
        .map(|(i, w)| (w.name.as_str(), i))
        .collect();
    let mut sorted: Vec<&ReplicatedMachine> = machines.iter().collect();
    let wave_of = |m: &ReplicatedMachine| {
        m.status
            .as_ref()
            .and_then(|s| s.wave.clone())
            .unwrap_or_else(|| "-".to_owned())
    };
    sorted.sort_by_key(|m| {
        let wave = wave_of(m);
        (
            order.get(wave.as_str()).copied().unwrap_or(usize::MAX),
            wave,
            m.name_any(),
        )
    });
    let header = [
        "WAVE",
        "MACHINE",
        "PHASE",
        "REPLICATION",
        "LEFT",
        "RPO",
        "HEALTH",
        "WAITING FOR",
    ];
    let mut rows: Vec<[String; 8]> = Vec::new();
    for machine in &sorted {
        let machine_status = machine.status.clone().unwrap_or_default();
        let replication = machine_status.replication.clone().unwrap_or_default();
        let phase = machine_status.phase;
        let progress = match (phase, replication.progress_percent) {
            (Some(MachinePhase::Pending | MachinePhase::EnablingProtection) | None, _) => {
                "-".to_owned()
            }
            (Some(MachinePhase::Failed), None) => "-".to_owned(),
            (Some(MachinePhase::Failed), Some(percent)) => bar(percent, style),
            (Some(p), _) if p > MachinePhase::InitialReplication => bar(100, style),
            (_, Some(percent)) => bar(percent, style),
            (_, None) => bar(0, style),
        };
        rows.push([
            wave_of(machine),
            machine.name_any(),
            phase.map_or("Pending", MachinePhase::as_str).to_owned(),
            progress,
            time_left(machine, history, now).map_or_else(|| "-".to_owned(), duration_text),
            replication
                .rpo_seconds
                .map_or_else(|| "-".to_owned(), |s| format!("{s}s")),
            replication.health.unwrap_or_else(|| "-".to_owned()),
            waiting_for(plan, machine),
        ]);
    }
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 8], phase: Option<MachinePhase>, header: bool| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
            let padded = if i == cells.len() - 1 {
                cell.clone()
            } else {
                format!("{cell:<width$}  ")
            };
            text.push_str(&padded);
        }
        let text = match style.width {
            Some(columns) if text.chars().count() > columns => text
                .chars()
                .take(columns.saturating_sub(1))
                .chain(['…'])
                .collect(),
            _ => text,
        };
        let text = text.trim_end().to_owned();
        if header {
            paint(&text, "1", style)
        } else if style.terminal {
            // Colour the phase cell only, so the columns stay aligned.
            let start: usize = widths[..2].iter().map(|w| w + 2).sum();
            let phase_text = cells[2].clone();
            let (before, rest) = split_at_chars(&text, start);
            match rest.strip_prefix(phase_text.as_str()) {
                Some(after) => format!(
                    "{before}{}{after}",
                    paint(&phase_text, phase_colour(phase), style)
                ),
                None => text,
            }
        } else {
            text
        }
    };
    let _ = writeln!(out, "{}", line(&header.map(str::to_owned), None, true));
    for (machine, row) in sorted.iter().zip(&rows) {
        let phase = machine.status.as_ref().and_then(|s| s.phase);
        let _ = writeln!(out, "{}", line(row, phase, false));
    }
    if machines.is_empty() {
        let _ = writeln!(out, "(no machines yet)");
    }

    let errors: Vec<(String, String)> = sorted
        .iter()
        .filter_map(|m| last_error(m).map(|e| (m.name_any(), e)))
        .collect();
    if !errors.is_empty() {
        let _ = writeln!(out, "\n{}", paint("Errors", "31", style));
        for (name, error) in errors {
            let _ = writeln!(out, "  {name}: {error}");
        }
    }
    out
}

fn split_at_chars(text: &str, chars: usize) -> (&str, &str) {
    let at = text
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i);
    text.split_at(at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(status: serde_json::Value) -> MigrationPlan {
        serde_json::from_value(json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "MigrationPlan",
            "metadata": {"name": "shop", "namespace": "prod"},
            "spec": {"vaultRef": {"name": "vault"}, "machines": {"templates": []},
                     "waves": [{"name": "web", "machines": ["web-01", "web-02"]},
                               {"name": "db", "machines": ["db-01"]}]},
            "status": status
        }))
        .unwrap()
    }

    fn machine(name: &str, status: serde_json::Value) -> ReplicatedMachine {
        serde_json::from_value(json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
            "metadata": {"name": name, "namespace": "prod"},
            "spec": {"vaultRef": {"name": "vault"}, "source": {"name": name}, "osType": "Linux"},
            "status": status
        }))
        .unwrap()
    }

    fn ready(reason: &str, message: &str) -> serde_json::Value {
        json!([{"type": "Ready", "status": "False", "reason": reason, "message": message,
                "lastTransitionTime": "2026-12-01T00:00:00Z"}])
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn replicating(progress: i32) -> ReplicatedMachine {
        machine(
            "db-01",
            json!({"phase": "InitialReplication", "wave": "db",
                   "replication": {"progressPercent": progress, "health": "Normal"},
                   "actions": [{"action": "EnableProtection", "issuedAt": "2026-12-01T10:00:00Z"}],
                   "conditions": ready("Replicating", &format!("initial replication {progress}%"))}),
        )
    }

    #[test]
    fn time_left_comes_from_the_progress_since_enabling_then_from_what_was_watched() {
        // 25% in 10 minutes: 75% more takes 30 minutes.
        let now = at("2026-12-01T10:10:00Z");
        let quarter = replicating(25);
        assert_eq!(time_left(&quarter, &History::default(), now), Some(1800));

        // Watched: 25% -> 50% in one minute, so the link is faster now: 2 minutes left.
        let mut history = History::default();
        history.observe(std::slice::from_ref(&quarter), now);
        let half = replicating(50);
        let later = at("2026-12-01T10:11:00Z");
        history.observe(std::slice::from_ref(&half), later);
        assert_eq!(time_left(&half, &history, later), Some(120));

        // Started over: the old samples are forgotten, the enable time counts again.
        let again = replicating(10);
        history.observe(std::slice::from_ref(&again), later);
        assert_eq!(time_left(&again, &history, later), Some(5940));

        // Nothing to estimate from: no progress yet, or not replicating.
        assert_eq!(time_left(&replicating(0), &History::default(), now), None);
        let protected = machine("web-01", json!({"phase": "Protected"}));
        assert_eq!(time_left(&protected, &History::default(), now), None);
    }

    #[test]
    fn a_bar_shows_a_start_and_an_unfinished_end() {
        let plain = Style {
            terminal: false,
            width: None,
        };
        assert_eq!(bar(0, plain), "............   0%");
        assert_eq!(bar(4, plain), "#...........   4%");
        assert_eq!(bar(50, plain), "######......  50%");
        assert_eq!(bar(99, plain), "###########.  99%");
        assert_eq!(bar(100, plain), "############ 100%");
    }

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration_text(40), "~40s");
        assert_eq!(duration_text(61), "~2m");
        assert_eq!(duration_text(3900), "~1h05m");
    }

    #[test]
    fn each_machine_says_what_it_waits_for_with_the_command_to_type() {
        let waiting = plan(json!({"phase": "AwaitingApproval", "currentWave": "web",
                                  "awaitingApproval": ["web-01"]}));
        let cases = [
            (
                machine(
                    "web-01",
                    json!({"phase": "ReadyForCutover", "wave": "web",
                                         "conditions": ready("WaitingForCutover", "ready")}),
                ),
                "approval: kubectl cutover approve shop [web-01]",
            ),
            (
                machine(
                    "web-02",
                    json!({"phase": "TestFailoverSucceeded", "wave": "web",
                                         "conditions": ready("WaitingForValidation", "up")}),
                ),
                "a person to check the test VM: kubectl cutover validate-test web-02",
            ),
            (
                machine(
                    "web-03",
                    json!({"phase": "FailedOver", "wave": "web",
                                         "conditions": ready("WaitingForCommit", "held")}),
                ),
                "a person to commit: kubectl cutover commit web-03",
            ),
            (
                machine(
                    "db-01",
                    json!({"phase": "Failed", "wave": "db",
                                        "conditions": ready("JobFailed", "ASR said no")}),
                ),
                "a retry: kubectl cutover retry db-01",
            ),
            (
                machine(
                    "db-02",
                    json!({"phase": "ReadyForCutover", "wave": "db",
                                        "conditions": ready("WaitingForCutover", "ready")}),
                ),
                "wave web to finish",
            ),
            (
                machine(
                    "db-03",
                    json!({"phase": "TestFailover", "wave": "db",
                    "currentJob": {"id": "/jobs/1", "name": "TestFailover", "state": "InProgress"},
                    "conditions": ready("JobRunning", "running")}),
                ),
                "ASR job TestFailover (InProgress)",
            ),
        ];
        for (machine, expected) in cases {
            assert_eq!(
                waiting_for(&waiting, &machine),
                expected,
                "{}",
                machine.name_any()
            );
        }
        // A hook that runs, and one that failed and holds its machine.
        let mut hooked = plan(json!({"phase": "CuttingOver", "hooks": [
            {"machine": "web-01", "hook": "stop-app", "step": "PreCutover", "attempt": 1,
             "job": "shop-web-01-stop-app-1", "state": "Running"},
            {"machine": "web-03", "hook": "smoke", "step": "PostFailover", "attempt": 2,
             "job": "shop-web-03-smoke-2", "state": "Failed", "message": "BackoffLimitExceeded"},
            {"machine": "web-03", "hook": "stop-app", "step": "PreCutover", "attempt": 1,
             "job": "shop-web-03-stop-app-1", "state": "Succeeded"}]}));
        hooked.spec.hooks = serde_json::from_value(json!([
            {"name": "stop-app", "step": "PreCutover", "jobTemplate": {}},
            {"name": "smoke", "step": "PostFailover", "mustSucceed": true, "jobTemplate": {}}]))
        .unwrap();
        let ready_web = machine(
            "web-01",
            json!({"phase": "ReadyForCutover", "wave": "web",
                   "conditions": ready("WaitingForCutover", "ready")}),
        );
        assert_eq!(
            waiting_for(&hooked, &ready_web),
            "hook stop-app (Job shop-web-01-stop-app-1)"
        );
        let held = machine(
            "web-03",
            json!({"phase": "FailedOver", "wave": "web",
                   "conditions": ready("HookFailed", "held")}),
        );
        assert_eq!(
            waiting_for(&hooked, &held),
            "its failed hook smoke (Job shop-web-03-smoke-2: BackoffLimitExceeded): kubectl cutover retry web-03"
        );
        let window = plan(json!({"phase": "AwaitingWindow", "currentWave": "web"}));
        let mut windowed = window.clone();
        windowed.spec.cutover.window = Some(
            serde_json::from_value(
                json!({"start": "2026-12-05T22:00:00Z", "end": "2026-12-06T04:00:00Z"}),
            )
            .unwrap(),
        );
        let ready_web = machine(
            "web-01",
            json!({"phase": "ReadyForCutover", "wave": "web",
                   "conditions": ready("WaitingForCutover", "ready")}),
        );
        assert_eq!(
            waiting_for(&windowed, &ready_web),
            "the maintenance window (opens 2026-12-05T22:00:00Z)"
        );
    }

    #[test]
    fn the_screen_shows_waves_in_order_with_progress_time_left_and_errors() {
        let plan = plan(json!({
            "phase": "Replicating", "currentWave": "web", "progressPercent": 41,
            "machines": {"total": 3, "protected": 1, "tested": 0, "completed": 0, "failed": 1,
                         "byPhase": {}},
            "waves": [{"name": "web", "phase": "Replicating", "total": 2, "completed": 0, "failed": 1},
                      {"name": "db", "phase": "Replicating", "total": 1, "completed": 0, "failed": 0}],
            "conditions": ready("Replicating", "1 of 3 machines protected")
        }));
        let machines = [
            replicating(25),
            machine(
                "web-02",
                json!({"phase": "Failed", "wave": "web",
                       "conditions": ready("JobFailed", "TestFailover failed: quota")}),
            ),
            machine(
                "web-01",
                json!({"phase": "Protected", "wave": "web",
                       "replication": {"progressPercent": 100, "rpoSeconds": 30, "health": "Normal"},
                       "conditions": ready("WaitingForTestFailover", "replicating")}),
            ),
        ];
        let now = at("2026-12-01T10:10:00Z");
        let plain = Style {
            terminal: false,
            width: None,
        };
        let screen = render(&plan, &machines, &History::default(), now, plain);
        let lines: Vec<&str> = screen.lines().collect();
        assert!(lines[0].starts_with("Plan prod/shop  vault vault  Replicating  #####......."));
        assert!(lines[0].ends_with(" 41%"), "{}", lines[0]);
        assert!(lines[1].contains("3 total, 1 protected") && lines[1].contains("current wave web"));
        assert_eq!(lines[2], "Initial replication of 1 machine: ~30m left");
        let table: Vec<&str> = lines
            .iter()
            .skip_while(|l| !l.starts_with("WAVE"))
            .copied()
            .collect();
        assert!(table[0].starts_with("WAVE  MACHINE  PHASE"));
        // web before db (the plan's order), then by name.
        assert!(
            table[1].starts_with("web   web-01   Protected"),
            "{}",
            table[1]
        );
        assert!(table[1].contains("############ 100%") && table[1].contains("30s"));
        assert!(
            table[2].starts_with("web   web-02   Failed              -  "),
            "{}",
            table[2]
        );
        assert!(table[3].starts_with("db    db-01    InitialReplication  ###........."));
        assert!(table[3].contains(" 25%  ~30m"), "{}", table[3]);
        assert!(screen.contains("Errors\n  web-02: JobFailed: TestFailover failed: quota"));

        let terminal = Style {
            terminal: true,
            width: Some(60),
        };
        let screen = render(&plan, &machines, &History::default(), now, terminal);
        assert!(screen.contains("███░░░░░░░░░  25%"));
        assert!(
            screen.contains("\x1b[31mFailed\x1b[0m"),
            "the phase is coloured"
        );
        assert!(
            screen
                .lines()
                .filter(|l| l.starts_with("web ") || l.starts_with("db "))
                .all(|l| l.ends_with('…')),
            "long lines are cut to the terminal's width"
        );
    }
}
