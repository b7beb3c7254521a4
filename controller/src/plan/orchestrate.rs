//! A plan's orchestration as one pure function: from the spec, each machine's phase and the
//! time, decide which machines may replicate and which may cut over now (waves, the approval,
//! the window, concurrency, halting on failure), and summarise the plan.

use std::collections::BTreeMap;

use cutover_api::MachinePhase;
use cutover_api::plan::{
    MachineCounts, MachineFailure, MigrationPlanSpec, PlanPhase, Releases, StartReplication,
    WaveStatus,
};

/// A machine of the plan as the plan sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineView {
    pub name: String,
    pub phase: MachinePhase,
    /// Initial replication, 0-100.
    pub progress: Option<i32>,
    /// Approved on its own (`cutover.dev/approved=true`).
    pub approved: bool,
    /// Why it failed (its Ready message).
    pub message: String,
}

/// The plan's decision and summary.
#[derive(Clone, Debug, PartialEq)]
pub struct Orchestration {
    pub phase: PlanPhase,
    pub current_wave: Option<String>,
    pub releases: Releases,
    /// Ready machines of the current wave that wait for their approval.
    pub awaiting_approval: Vec<String>,
    pub counts: MachineCounts,
    pub progress: i32,
    pub waves: Vec<WaveStatus>,
    pub failed: Vec<MachineFailure>,
    pub reason: &'static str,
    pub message: String,
}

fn finished(phase: MachinePhase) -> bool {
    matches!(phase, MachinePhase::Completed | MachinePhase::Failed)
}

fn cutting_over(phase: MachinePhase) -> bool {
    matches!(
        phase,
        MachinePhase::FailingOver | MachinePhase::FailedOver | MachinePhase::Committing
    )
}

/// A machine's share of its migration, for the plan's progress.
fn weight(machine: &MachineView) -> f64 {
    use MachinePhase as P;
    match machine.phase {
        P::Pending => 0.0,
        P::EnablingProtection => 5.0,
        P::InitialReplication => 5.0 + f64::from(machine.progress.unwrap_or(0)) * 0.35,
        P::Protected => 40.0,
        P::TestFailover => 50.0,
        P::TestFailoverSucceeded => 55.0,
        P::TestFailoverCleanup => 60.0,
        P::ReadyForCutover => 65.0,
        P::FailingOver => 75.0,
        P::FailedOver => 85.0,
        P::Committing => 92.0,
        P::Completed | P::Failed => 100.0,
    }
}

/// The plan's waves as machine names, in order: the spec's, or one wave of every machine.
/// Machines a selector adopted that no wave names join the last wave.
pub fn waves(
    spec: &MigrationPlanSpec,
    machines: &[MachineView],
) -> Vec<(String, StartReplication, Vec<String>)> {
    let mut all: Vec<String> = machines.iter().map(|m| m.name.clone()).collect();
    all.sort();
    if spec.waves.is_empty() {
        return vec![("all".into(), StartReplication::Immediately, all)];
    }
    let mut waves: Vec<(String, StartReplication, Vec<String>)> = spec
        .waves
        .iter()
        .map(|w| (w.name.clone(), w.start_replication, w.machines.clone()))
        .collect();
    let named: Vec<&String> = spec.waves.iter().flat_map(|w| &w.machines).collect();
    let unnamed: Vec<String> = all.into_iter().filter(|m| !named.contains(&m)).collect();
    if let Some(last) = waves.last_mut() {
        last.2.extend(unnamed);
    }
    waves
}

/// The plan's waves in the order they cut over (one wave, `all`, for a plan without waves).
pub fn wave_order(spec: &MigrationPlanSpec) -> Vec<String> {
    if spec.waves.is_empty() {
        return vec!["all".to_owned()];
    }
    spec.waves.iter().map(|w| w.name.clone()).collect()
}

/// The wave a machine of the plan is in, as [`waves`] places it: the one that names it, else
/// the last (where adopted machines no wave names go), or "all" when the plan has no waves.
pub fn wave_of(spec: &MigrationPlanSpec, machine: &str) -> String {
    spec.waves
        .iter()
        .find(|w| w.machines.iter().any(|m| m == machine))
        .or(spec.waves.last())
        .map_or_else(|| "all".to_owned(), |w| w.name.clone())
}

pub fn orchestrate(
    spec: &MigrationPlanSpec,
    machines: &[MachineView],
    now: jiff::Timestamp,
) -> Orchestration {
    let by_name: BTreeMap<&str, &MachineView> =
        machines.iter().map(|m| (m.name.as_str(), m)).collect();
    let phase_of = |name: &str| by_name.get(name).map_or(MachinePhase::Pending, |m| m.phase);
    let waves = waves(spec, machines);
    let wave_done = |i: usize| waves[i].2.iter().all(|m| finished(phase_of(m)));

    // Replication: the first wave at once; a later one at once or after the previous wave.
    let mut replicate = Vec::new();
    for (i, (_, start, names)) in waves.iter().enumerate() {
        if i == 0 || *start == StartReplication::Immediately || wave_done(i - 1) {
            replicate.extend(names.iter().cloned());
        }
    }

    // Test failover: a replicated machine of a released wave, when the plan asks for one (the
    // preflight may hold it back).
    let test: Vec<String> = if spec.test_failover.required {
        replicate
            .iter()
            .filter(|m| {
                matches!(
                    phase_of(m),
                    MachinePhase::Protected
                        | MachinePhase::TestFailover
                        | MachinePhase::TestFailoverSucceeded
                        | MachinePhase::TestFailoverCleanup
                )
            })
            .cloned()
            .collect()
    } else {
        Vec::new()
    };

    // Cutover: one wave at a time, behind the approval and the window, within concurrency.
    let any_failed = machines.iter().any(|m| m.phase == MachinePhase::Failed);
    let window_open = spec
        .cutover
        .window
        .as_ref()
        .is_none_or(|w| w.start.0 <= now && now < w.end.0);
    let halted = spec.cutover.halt_on_failure && any_failed;
    let gate_open = window_open && !halted;
    let approved = |name: &str| {
        spec.cutover.approved
            || spec.cutover.approved_machines.iter().any(|m| m == name)
            || by_name.get(name).is_some_and(|m| m.approved)
    };
    let current = waves
        .iter()
        .position(|(_, _, names)| names.iter().any(|m| !finished(phase_of(m))));
    let mut cutover: Vec<String> = machines
        .iter()
        .filter(|m| cutting_over(m.phase))
        .map(|m| m.name.clone())
        .collect();
    if let (true, Some(wave)) = (gate_open, current) {
        let free = usize::try_from(spec.cutover.max_concurrent)
            .unwrap_or(1)
            .saturating_sub(cutover.len());
        let mut ready: Vec<&String> = waves[wave]
            .2
            .iter()
            .filter(|m| phase_of(m) == MachinePhase::ReadyForCutover && approved(m))
            .collect();
        ready.sort();
        cutover.extend(ready.into_iter().take(free).cloned());
    }
    cutover.sort();

    let counts = MachineCounts::from_phases(machines.iter().map(|m| m.phase));
    let progress = if machines.is_empty() {
        0
    } else {
        (machines.iter().map(weight).sum::<f64>() / machines.len() as f64).round() as i32
    };
    let failed: Vec<MachineFailure> = machines
        .iter()
        .filter(|m| m.phase == MachinePhase::Failed)
        .map(|m| MachineFailure {
            name: m.name.clone(),
            reason: "Failed".into(),
            message: m.message.clone(),
        })
        .collect();
    let wave_status = waves
        .iter()
        .map(|(name, _, names)| {
            let phases: Vec<MachinePhase> = names.iter().map(|m| phase_of(m)).collect();
            let phase = if phases.iter().all(|p| *p == MachinePhase::Completed) {
                PlanPhase::Completed
            } else if phases.iter().any(|p| cutting_over(*p)) {
                PlanPhase::CuttingOver
            } else if phases.contains(&MachinePhase::Failed) {
                PlanPhase::Failed
            } else {
                PlanPhase::Replicating
            };
            WaveStatus {
                name: name.clone(),
                phase,
                total: names.len() as i32,
                completed: phases
                    .iter()
                    .filter(|p| **p == MachinePhase::Completed)
                    .count() as i32,
                failed: phases
                    .iter()
                    .filter(|p| **p == MachinePhase::Failed)
                    .count() as i32,
            }
        })
        .collect();

    let in_wave_ready = current.is_some_and(|w| {
        waves[w]
            .2
            .iter()
            .all(|m| phase_of(m) == MachinePhase::ReadyForCutover || finished(phase_of(m)))
    });
    let mut awaiting_approval: Vec<String> = current
        .map(|w| {
            waves[w]
                .2
                .iter()
                .filter(|m| phase_of(m) == MachinePhase::ReadyForCutover && !approved(m))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    awaiting_approval.sort();
    let any_ready_approved = current.is_some_and(|w| {
        waves[w]
            .2
            .iter()
            .any(|m| phase_of(m) == MachinePhase::ReadyForCutover && approved(m))
    });
    let (phase, reason, message) = if machines.is_empty() {
        (
            PlanPhase::Pending,
            "NoMachines",
            "the plan has no machines yet".to_owned(),
        )
    } else if machines.iter().all(|m| m.phase == MachinePhase::Completed) {
        (
            PlanPhase::Completed,
            "Completed",
            format!("all {} machines migrated", machines.len()),
        )
    } else if machines.iter().all(|m| finished(m.phase)) {
        (
            PlanPhase::Failed,
            "FinishedWithFailures",
            format!(
                "finished; failed: {}",
                failed
                    .iter()
                    .map(|f| format!("{} ({})", f.name, f.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        )
    } else if halted && !machines.iter().any(|m| cutting_over(m.phase)) {
        (
            PlanPhase::Failed,
            "HaltedOnFailure",
            format!(
                "halted: {} failed",
                failed
                    .iter()
                    .map(|f| f.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    } else if machines.iter().any(|m| cutting_over(m.phase))
        || (gate_open && in_wave_ready && any_ready_approved)
    {
        (
            PlanPhase::CuttingOver,
            "CuttingOver",
            format!("cutting over {}", cutover.join(", ")),
        )
    } else if in_wave_ready && !any_ready_approved {
        (
            PlanPhase::AwaitingApproval,
            "AwaitingApproval",
            format!(
                "ready: set spec.cutover.approved to true to cut over, or approve machines \
                 (waiting: {})",
                awaiting_approval.join(", ")
            ),
        )
    } else if in_wave_ready && !window_open {
        (
            PlanPhase::AwaitingWindow,
            "AwaitingWindow",
            "ready: waiting for the maintenance window".to_owned(),
        )
    } else if machines.iter().any(|m| {
        matches!(
            m.phase,
            MachinePhase::TestFailover
                | MachinePhase::TestFailoverSucceeded
                | MachinePhase::TestFailoverCleanup
        )
    }) {
        (
            PlanPhase::Testing,
            "Testing",
            "test failovers under way".to_owned(),
        )
    } else {
        (
            PlanPhase::Replicating,
            "Replicating",
            format!(
                "{} of {} machines protected",
                counts.protected, counts.total
            ),
        )
    };
    Orchestration {
        phase,
        current_wave: current.map(|w| waves[w].0.clone()),
        releases: Releases {
            replicate,
            test,
            cutover,
        },
        awaiting_approval,
        counts,
        progress,
        waves: wave_status,
        failed,
        reason,
        message,
    }
}

/// A step that makes VMs in the target region, which a preflight checks before it is asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    TestFailover,
    Failover,
}

impl Step {
    fn of(self, releases: &Releases) -> &[String] {
        match self {
            Step::TestFailover => &releases.test,
            Step::Failover => &releases.cutover,
        }
    }

    fn of_mut(self, releases: &mut Releases) -> &mut Vec<String> {
        match self {
            Step::TestFailover => &mut releases.test,
            Step::Failover => &mut releases.cutover,
        }
    }
}

/// The machines `orchestration` releases for `step` that were not released before (whose
/// (test) failover is still to be asked for): what a preflight checks.
pub fn newly_released(
    orchestration: &Orchestration,
    previous: &Releases,
    step: Step,
) -> Vec<String> {
    let before = step.of(previous);
    step.of(&orchestration.releases)
        .iter()
        .filter(|m| !before.contains(m))
        .cloned()
        .collect()
}

/// Holds the step when the target region cannot take its new VMs: the machines `held` are not
/// released for it, and the plan says why, naming each shortfall.
pub fn hold_for_capacity(
    orchestration: &mut Orchestration,
    step: Step,
    held: &[String],
    shortfalls: &[crate::azure::capacity::Shortfall],
) {
    if shortfalls.is_empty() {
        return;
    }
    step.of_mut(&mut orchestration.releases)
        .retain(|m| !held.contains(m));
    orchestration.phase = PlanPhase::AwaitingCapacity;
    orchestration.reason = shortfalls[0].reason;
    orchestration.message = format!(
        "{}: {}",
        match step {
            Step::TestFailover => "the test failovers wait, none started",
            Step::Failover => "the wave waits, nothing failed over",
        },
        shortfalls
            .iter()
            .map(|s| s.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    );
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use MachinePhase as P;

    fn spec(yaml: &str) -> MigrationPlanSpec {
        let base = "vaultRef: {name: v}\nmachines: {templates: [{name: a, source: {name: A}, osType: Linux}, {name: b, source: {name: B}, osType: Linux}, {name: c, source: {name: C}, osType: Linux}]}\nwaves: [{name: one, machines: [a]}, {name: two, machines: [b, c], startReplication: AfterPreviousWave}]\n";
        let mut doc: serde_json::Value = serde_yaml_ng::from_str(base).unwrap();
        let patch: serde_json::Value = serde_yaml_ng::from_str(yaml).unwrap();
        if let (Some(doc), Some(patch)) = (doc.as_object_mut(), patch.as_object()) {
            doc.extend(patch.clone());
        }
        serde_json::from_value(doc).unwrap()
    }

    pub(crate) fn machines(phases: &[(&str, MachinePhase)]) -> Vec<MachineView> {
        phases
            .iter()
            .map(|(n, p)| MachineView {
                name: (*n).into(),
                phase: *p,
                progress: None,
                approved: false,
                message: format!("{n} said why"),
            })
            .collect()
    }

    fn now() -> jiff::Timestamp {
        "2026-12-05T23:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_wave_short_of_capacity_releases_none_of_its_new_machines_and_says_why() {
        let spec = spec("cutover: {approved: true, maxConcurrent: 2}");
        let views = machines(&[
            ("a", P::FailingOver),
            ("b", P::ReadyForCutover),
            ("c", P::ReadyForCutover),
        ]);
        let mut o = orchestrate(&spec, &views, now());
        // a is the first wave's, still failing over: the second waits for it.
        assert_eq!(o.releases.cutover, ["a"]);
        let views = machines(&[
            ("a", P::Completed),
            ("b", P::ReadyForCutover),
            ("c", P::ReadyForCutover),
        ]);
        let previous = o.releases.clone();
        o = orchestrate(&spec, &views, now());
        let new = newly_released(&o, &previous, Step::Failover);
        assert_eq!(new, ["b", "c"]);
        let shortfall = crate::azure::capacity::Shortfall {
            machine: None,
            reason: "InsufficientQuota",
            message: "standardDSv5Family: the wave needs 8, 4 are free".into(),
        };
        let mut held = o.clone();
        hold_for_capacity(
            &mut held,
            Step::Failover,
            &new,
            std::slice::from_ref(&shortfall),
        );
        assert!(held.releases.cutover.is_empty());
        assert_eq!(
            (held.phase, held.reason),
            (PlanPhase::AwaitingCapacity, "InsufficientQuota")
        );
        assert_eq!(
            held.message,
            "the wave waits, nothing failed over: standardDSv5Family: the wave needs 8, 4 are free"
        );
        // No shortfall: nothing changes.
        let mut free = o.clone();
        hold_for_capacity(&mut free, Step::Failover, &new, &[]);
        assert_eq!(free, o);
        // What was released before is not asked again.
        assert!(newly_released(&o, &o.releases.clone(), Step::Failover).is_empty());
    }

    #[test]
    fn a_test_failover_is_released_once_replicated_and_held_back_short_of_capacity() {
        let spec = spec("testFailover: {required: true}");
        // b and c are the second wave's, which replicates after the first.
        let o = orchestrate(
            &spec,
            &machines(&[
                ("a", P::Protected),
                ("b", P::Protected),
                ("c", P::Protected),
            ]),
            now(),
        );
        assert_eq!(
            o.releases.test,
            ["a"],
            "replicated, not yet tested, released"
        );
        let testing = orchestrate(
            &spec,
            &machines(&[("a", P::TestFailover), ("b", P::Pending), ("c", P::Pending)]),
            now(),
        );
        assert_eq!(testing.releases.test, ["a"], "kept while the test runs");
        let replicating = orchestrate(
            &spec,
            &machines(&[
                ("a", P::InitialReplication),
                ("b", P::Pending),
                ("c", P::Pending),
            ]),
            now(),
        );
        assert!(replicating.releases.test.is_empty(), "not replicated yet");
        let new = newly_released(&o, &Releases::default(), Step::TestFailover);
        let shortfall = crate::azure::capacity::Shortfall {
            machine: Some("a".into()),
            reason: "InsufficientQuota",
            message: "standardESv5Family: the test VMs need 8, 4 are free".into(),
        };
        let mut held = o.clone();
        hold_for_capacity(
            &mut held,
            Step::TestFailover,
            &new,
            std::slice::from_ref(&shortfall),
        );
        assert!(held.releases.test.is_empty());
        assert_eq!(
            held.releases.cutover, o.releases.cutover,
            "only the test step"
        );
        assert_eq!(held.phase, PlanPhase::AwaitingCapacity);
        assert!(
            held.message
                .starts_with("the test failovers wait, none started: ")
        );
        // Without a test failover to run, none is released.
        let untested = orchestrate(
            &MigrationPlanSpec {
                test_failover: serde_json::from_value(serde_json::json!({"required": false}))
                    .unwrap(),
                ..spec.clone()
            },
            &machines(&[("a", P::Protected)]),
            now(),
        );
        assert!(untested.releases.test.is_empty());
    }

    #[test]
    fn every_machine_is_in_the_wave_the_plan_places_it_in() {
        let spec = |yaml: &str| -> MigrationPlanSpec {
            serde_yaml_ng::from_str(&format!(
                "vaultRef: {{name: v}}\nmachines: {{templates: []}}\n{yaml}"
            ))
            .unwrap()
        };
        let waved = spec("waves: [{name: one, machines: [a]}, {name: two, machines: [b]}]");
        let machines: Vec<MachineView> = ["a", "b", "adopted"]
            .iter()
            .map(|name| MachineView {
                name: (*name).into(),
                phase: MachinePhase::Pending,
                progress: None,
                approved: false,
                message: String::new(),
            })
            .collect();
        for (machine, wave) in [("a", "one"), ("b", "two"), ("adopted", "two")] {
            assert_eq!(wave_of(&waved, machine), wave, "{machine}");
            // The same as the plan's own waves say.
            let placed = waves(&waved, &machines)
                .into_iter()
                .find(|(_, _, names)| names.iter().any(|n| n == machine))
                .map(|(name, _, _)| name);
            assert_eq!(placed.as_deref(), Some(wave), "{machine}");
        }
        assert_eq!(wave_of(&spec("waves: []"), "a"), "all");
    }

    #[test]
    fn later_waves_replicate_after_earlier_ones_complete() {
        let plan = spec("{}");
        let running = orchestrate(
            &plan,
            &machines(&[
                ("a", P::InitialReplication),
                ("b", P::Pending),
                ("c", P::Pending),
            ]),
            now(),
        );
        assert_eq!(running.releases.replicate, ["a"]);
        assert_eq!(running.phase, PlanPhase::Replicating);
        let next = orchestrate(
            &plan,
            &machines(&[("a", P::Completed), ("b", P::Pending), ("c", P::Pending)]),
            now(),
        );
        assert_eq!(next.releases.replicate, ["a", "b", "c"]);
        assert_eq!(next.current_wave.as_deref(), Some("two"));
    }

    #[test]
    fn cutover_waits_for_approval_then_the_window() {
        let ready = machines(&[
            ("a", P::ReadyForCutover),
            ("b", P::Protected),
            ("c", P::Protected),
        ]);
        let unapproved = orchestrate(&spec("{}"), &ready, now());
        assert_eq!(
            (unapproved.phase, unapproved.releases.cutover.len()),
            (PlanPhase::AwaitingApproval, 0)
        );
        let later = orchestrate(
            &spec(
                "cutover: {approved: true, window: {start: '2026-12-12T22:00:00Z', end: '2026-12-13T04:00:00Z'}}",
            ),
            &ready,
            now(),
        );
        assert_eq!(
            (later.phase, later.releases.cutover.len()),
            (PlanPhase::AwaitingWindow, 0)
        );
        let open = orchestrate(
            &spec(
                "cutover: {approved: true, window: {start: '2026-12-05T22:00:00Z', end: '2026-12-06T04:00:00Z'}}",
            ),
            &ready,
            now(),
        );
        assert_eq!(
            (open.phase, open.releases.cutover.clone()),
            (PlanPhase::CuttingOver, vec!["a".to_owned()])
        );
    }

    #[test]
    fn a_partial_approval_cuts_over_only_the_approved_machines() {
        let one_wave = "waves: [{name: all, machines: [a, b, c]}]\n";
        let ready = machines(&[
            ("a", P::ReadyForCutover),
            ("b", P::ReadyForCutover),
            ("c", P::ReadyForCutover),
        ]);
        let none = orchestrate(&spec(one_wave), &ready, now());
        assert_eq!(none.phase, PlanPhase::AwaitingApproval);
        assert_eq!(none.awaiting_approval, ["a", "b", "c"]);
        assert!(none.releases.cutover.is_empty());

        // `b` in the spec's list, `c` by its annotation.
        let mut annotated = ready.clone();
        annotated[2].approved = true;
        let partial = orchestrate(
            &spec(&format!("{one_wave}cutover: {{approvedMachines: [b]}}")),
            &annotated,
            now(),
        );
        assert_eq!(partial.phase, PlanPhase::CuttingOver);
        assert_eq!(partial.releases.cutover, ["b", "c"]);
        assert_eq!(partial.awaiting_approval, ["a"]);

        // Once the approved ones are done, the plan waits again, for `a`.
        let rest = machines(&[
            ("a", P::ReadyForCutover),
            ("b", P::Completed),
            ("c", P::Completed),
        ]);
        let waiting = orchestrate(
            &spec(&format!("{one_wave}cutover: {{approvedMachines: [b, c]}}")),
            &rest,
            now(),
        );
        assert_eq!(
            (waiting.phase, waiting.awaiting_approval.clone()),
            (PlanPhase::AwaitingApproval, vec!["a".to_owned()])
        );
        assert!(
            waiting.message.contains("waiting: a"),
            "{}",
            waiting.message
        );
        let all = orchestrate(
            &spec(&format!("{one_wave}cutover: {{approved: true}}")),
            &rest,
            now(),
        );
        assert!(all.awaiting_approval.is_empty());
        assert_eq!(all.releases.cutover, ["a"]);
    }

    #[test]
    fn one_wave_at_a_time_within_the_concurrency_limit() {
        let plan = spec(
            "cutover: {approved: true, maxConcurrent: 1}\nwaves: [{name: all, machines: [a, b, c]}]",
        );
        let decision = orchestrate(
            &plan,
            &machines(&[
                ("a", P::ReadyForCutover),
                ("b", P::ReadyForCutover),
                ("c", P::FailingOver),
            ]),
            now(),
        );
        assert_eq!(
            decision.releases.cutover,
            ["c"],
            "one in flight fills the limit"
        );
        let plan = spec("cutover: {approved: true, maxConcurrent: 2}");
        let first_wave_open = orchestrate(
            &plan,
            &machines(&[
                ("a", P::Committing),
                ("b", P::ReadyForCutover),
                ("c", P::ReadyForCutover),
            ]),
            now(),
        );
        assert_eq!(
            first_wave_open.releases.cutover,
            ["a"],
            "wave two waits for wave one"
        );
    }

    #[test]
    fn a_failure_is_reported_and_halts_only_when_asked() {
        let phases = machines(&[
            ("a", P::Completed),
            ("b", P::Failed),
            ("c", P::ReadyForCutover),
        ]);
        let carries_on = orchestrate(&spec("cutover: {approved: true}"), &phases, now());
        assert_eq!(carries_on.releases.cutover, ["c"]);
        assert_eq!(carries_on.failed[0].name, "b");
        assert_eq!(carries_on.counts.failed, 1);
        let halted = orchestrate(
            &spec("cutover: {approved: true, haltOnFailure: true}"),
            &phases,
            now(),
        );
        assert_eq!(
            (halted.phase, halted.releases.cutover.len()),
            (PlanPhase::Failed, 0)
        );
        let finished = orchestrate(
            &spec("cutover: {approved: true}"),
            &machines(&[("a", P::Completed), ("b", P::Failed), ("c", P::Completed)]),
            now(),
        );
        assert_eq!(
            (finished.phase, finished.message.as_str()),
            (PlanPhase::Failed, "finished; failed: b (b said why)")
        );
    }

    #[test]
    fn completed_when_every_machine_is() {
        let done = orchestrate(
            &spec("{}"),
            &machines(&[
                ("a", P::Completed),
                ("b", P::Completed),
                ("c", P::Completed),
            ]),
            now(),
        );
        assert_eq!(
            (done.phase, done.progress, done.counts.completed),
            (PlanPhase::Completed, 100, 3)
        );
        assert!(done.waves.iter().all(|w| w.phase == PlanPhase::Completed));
    }
}
