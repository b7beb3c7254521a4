//! A plan's hooks: the Jobs each machine's steps run, decided purely from the spec, what status
//! recorded of earlier passes and the Jobs the cache holds. A Job's name is fixed by plan,
//! machine, hook and attempt, so a restarted controller finds (and adopts) the Job it created
//! rather than starting another; a run recorded as finished is never started again.

use std::collections::BTreeMap;
use std::hash::Hasher;

use cutover_api::plan::{Hook, HookRun, HookState, HookStep, MigrationPlanSpec};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

/// Labels on every hook Job: what the controller watches, and how a person finds them.
pub const PLAN_LABEL: &str = "cutover.dev/plan";
pub const MACHINE_LABEL: &str = "cutover.dev/machine";
pub const HOOK_LABEL: &str = "cutover.dev/hook";

/// A Job as the cache holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JobSeen {
    pub created: Option<jiff::Timestamp>,
    pub outcome: JobOutcome,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JobOutcome {
    Running,
    Succeeded,
    Failed(String),
}

impl JobSeen {
    /// The Job's state from its terminal conditions (`Complete`, `Failed`), as the job
    /// controller sets them.
    pub fn of(job: &Job) -> JobSeen {
        let conditions = job
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let true_condition = |kind: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == kind && c.status == "True")
        };
        let outcome = if true_condition("Complete").is_some() {
            JobOutcome::Succeeded
        } else if let Some(failed) = true_condition("Failed") {
            JobOutcome::Failed(
                [failed.reason.as_deref(), failed.message.as_deref()]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": "),
            )
        } else {
            JobOutcome::Running
        };
        JobSeen {
            created: job.metadata.creation_timestamp.as_ref().map(|t| t.0),
            outcome,
        }
    }
}

/// A machine that has reached a hook step, with the facts its Jobs get.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Due {
    pub machine: String,
    pub wave: String,
    pub step: HookStep,
    /// Environment variables, `CUTOVER_*`.
    pub facts: Vec<(&'static str, String)>,
    /// A person annotated the machine `cutover.dev/retry=true`.
    pub retry: bool,
}

/// A Job to create.
#[derive(Clone, Debug, PartialEq)]
pub struct Start {
    pub machine: String,
    pub hook: String,
    pub job: Job,
}

/// A run that ended an attempt this pass, for an Event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub machine: String,
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

/// What a pass does with the hooks.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HookPass {
    /// `status.hooks` after the pass.
    pub runs: Vec<HookRun>,
    pub start: Vec<Start>,
    pub ended: Vec<Ended>,
    /// Machines whose `cutover.dev/retry` was acted on: the annotation goes.
    pub clear_retry: Vec<String>,
}

/// How a machine's step stands with its hooks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every hook of the step finished, and each that must succeed did.
    Passed,
    /// A hook has not finished.
    Waiting(String),
    /// A hook that must succeed failed, with no attempt left.
    Blocked(String),
}

const REFUSED: &str = "the API server refused Job";

/// Records on its run that the API server refused to create a Job (`code`, `why`), and returns
/// the message; the run stays `Running`, so a later pass asks again.
pub fn refused(runs: &mut [HookRun], start: &Start, code: u16, why: &str) -> String {
    let message = format!(
        "{REFUSED} {}: {why} ({code})",
        start.job.metadata.name.as_deref().unwrap_or_default()
    );
    if let Some(run) = runs
        .iter_mut()
        .find(|r| r.machine == start.machine && r.hook == start.hook)
    {
        run.message = message.clone();
    }
    message
}

/// Orders the Jobs a pass would start so that one the API server keeps refusing does not hold
/// back the others (a pass starts only the first): those never refused first, in order, then
/// the refused ones, the first of them turning with `now` so each is asked again in turn.
pub fn refused_last(start: &mut [Start], runs: &[HookRun], now: jiff::Timestamp) {
    let refused = |s: &Start| {
        runs.iter()
            .any(|r| r.machine == s.machine && r.hook == s.hook && r.message.starts_with(REFUSED))
    };
    start.sort_by_key(|s| refused(s));
    let fresh = start.iter().filter(|s| !refused(s)).count();
    let turned = &mut start[fresh..];
    if !turned.is_empty() {
        let turn = now.as_second().unsigned_abs() as usize % turned.len();
        turned.rotate_left(turn);
    }
}

/// The name of a hook's Job: `{plan}-{machine}-{hook}-{attempt}`, shortened with a hash of the
/// whole when longer than a label value may be (the job controller labels pods with it).
pub fn job_name(plan: &str, machine: &str, hook: &str, attempt: i32) -> String {
    let name = format!("{plan}-{machine}-{hook}-{attempt}");
    if name.len() <= 63 {
        return name;
    }
    // FNV: the same name from every build and Rust version, which the std hasher does not promise.
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(name.as_bytes());
    format!(
        "{}-{:08x}",
        name[..54].trim_end_matches('-'),
        hasher.finish() as u32
    )
}

fn hooks_of<'a>(
    spec: &'a MigrationPlanSpec,
    machine: &'a str,
    wave: &'a str,
    step: HookStep,
) -> impl Iterator<Item = &'a Hook> + 'a {
    spec.hooks
        .iter()
        .filter(move |h| h.step == step && h.applies_to(machine, wave))
}

/// How `machine`'s `step` stands with its hooks, from the runs status recorded.
pub fn outcome(
    spec: &MigrationPlanSpec,
    runs: &[HookRun],
    machine: &str,
    wave: &str,
    step: HookStep,
) -> Outcome {
    let mut waiting = Vec::new();
    for hook in hooks_of(spec, machine, wave, step) {
        match runs
            .iter()
            .find(|r| r.machine == machine && r.hook == hook.name)
        {
            None => waiting.push(format!("hook {} has not started", hook.name)),
            Some(run) if run.state == HookState::Running => waiting.push(format!(
                "hook {} runs (Job {}, attempt {}){}",
                hook.name,
                run.job,
                run.attempt,
                if run.message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", run.message)
                }
            )),
            Some(run) if run.state == HookState::Failed && hook.must_succeed => {
                return Outcome::Blocked(format!(
                    "hook {} failed (Job {}): {}",
                    hook.name, run.job, run.message
                ));
            }
            Some(_) => {}
        }
    }
    if waiting.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Waiting(waiting.join("; "))
    }
}

/// The hooks' pass: the runs of machines that reached a step (`due`) start, are followed,
/// retried, or end; finished runs are left as they are, except that a failed one runs once
/// more for a machine a person annotated `cutover.dev/retry=true` (`Due::retry`).
pub fn pass(
    spec: &MigrationPlanSpec,
    plan: &str,
    owner: &OwnerReference,
    previous: &[HookRun],
    jobs: &BTreeMap<String, JobSeen>,
    due: &[Due],
    now: jiff::Timestamp,
) -> HookPass {
    let mut runs = previous.to_vec();
    let mut start = Vec::new();
    let mut ended = Vec::new();
    let mut clear_retry = Vec::new();
    for due in due {
        let rerun = due.retry;
        for hook in hooks_of(spec, &due.machine, &due.wave, due.step) {
            let mut starting = |attempt: i32| {
                let name = job_name(plan, &due.machine, &hook.name, attempt);
                // Created before, its status write lost: adopted, not created again.
                if !jobs.contains_key(&name) {
                    start.push(Start {
                        machine: due.machine.clone(),
                        hook: hook.name.clone(),
                        job: job_of(spec, hook, plan, owner, &name, due, attempt),
                    });
                }
                name
            };
            let Some(run) = runs
                .iter_mut()
                .find(|r| r.machine == due.machine && r.hook == hook.name)
            else {
                let job = starting(1);
                runs.push(HookRun {
                    machine: due.machine.clone(),
                    hook: hook.name.clone(),
                    step: due.step,
                    attempt: 1,
                    job,
                    state: HookState::Running,
                    message: String::new(),
                });
                continue;
            };
            if run.state == HookState::Failed && rerun {
                let failed = std::mem::take(&mut run.message);
                run.attempt += 1;
                run.state = HookState::Running;
                run.job = starting(run.attempt);
                run.message = format!(
                    "run again as asked; attempt {} failed: {failed}",
                    run.attempt - 1
                );
                ended.push(Ended {
                    machine: due.machine.clone(),
                    warning: false,
                    reason: "HookRerun",
                    message: format!(
                        "hook {} for {} runs again as Job {}, as cutover.dev/retry asked",
                        hook.name, due.machine, run.job
                    ),
                });
                continue;
            }
            if run.state != HookState::Running {
                continue;
            }
            let failure = match jobs.get(&run.job) {
                // Not in the cache yet, or deleted while it ran: asked for again (an existing
                // one is adopted).
                None => {
                    starting(run.attempt);
                    None
                }
                Some(seen) => match &seen.outcome {
                    JobOutcome::Succeeded => {
                        run.state = HookState::Succeeded;
                        run.message.clear();
                        ended.push(Ended {
                            machine: due.machine.clone(),
                            warning: false,
                            reason: "HookSucceeded",
                            message: format!(
                                "hook {} succeeded for {} (Job {})",
                                hook.name, due.machine, run.job
                            ),
                        });
                        None
                    }
                    JobOutcome::Failed(why) => Some(why.clone()),
                    JobOutcome::Running => {
                        // Created at last: what an earlier refusal said no longer holds.
                        if run.message.starts_with(REFUSED) {
                            run.message.clear();
                        }
                        seen.created
                            .filter(|created| {
                                now.duration_since(*created).as_secs() > hook.timeout_seconds
                            })
                            .map(|_| format!("did not finish within {}s", hook.timeout_seconds))
                    }
                },
            };
            let Some(why) = failure else { continue };
            if run.attempt <= hook.retries {
                let failed_job = run.job.clone();
                run.attempt += 1;
                run.job = starting(run.attempt);
                run.message = format!("attempt {} failed: {why}", run.attempt - 1);
                ended.push(Ended {
                    machine: due.machine.clone(),
                    warning: true,
                    reason: "HookRetrying",
                    message: format!(
                        "hook {} failed for {} (Job {failed_job}): {why}; retrying as Job {}",
                        hook.name, due.machine, run.job
                    ),
                });
            } else {
                run.state = HookState::Failed;
                run.message = why.clone();
                ended.push(Ended {
                    machine: due.machine.clone(),
                    warning: true,
                    reason: "HookFailed",
                    message: format!(
                        "hook {} failed for {} (Job {}): {why}{}",
                        hook.name,
                        due.machine,
                        run.job,
                        if hook.must_succeed {
                            match hook.step {
                                HookStep::PreCutover => "; the machine does not fail over",
                                HookStep::PostFailover => {
                                    "; the machine stays failed over, not committed"
                                }
                                HookStep::PostCommit => "; the plan does not complete",
                            }
                        } else {
                            ""
                        }
                    ),
                });
            }
        }
        // Acted on once: the annotation goes once status has recorded the re-run (or there was
        // nothing of this step to re-run), so a later failure is not re-run without a person
        // asking, and a lost status write does not lose the retry.
        let failed = previous.iter().any(|r| {
            r.machine == due.machine && r.step == due.step && r.state == HookState::Failed
        });
        if rerun && !failed {
            clear_retry.push(due.machine.clone());
        }
    }
    HookPass {
        runs,
        start,
        ended,
        clear_retry,
    }
}

/// What the hooks hold back of an orchestration: machines whose `PreCutover` hooks have not
/// passed are not released to fail over, a `PostFailover` hook that must succeed and failed is
/// named, and the plan completes only once its `PostCommit` hooks have. `machines` are the
/// plan's machines with their phases. Returns whether a hook that must succeed failed.
pub fn hold(
    orchestration: &mut super::orchestrate::Orchestration,
    spec: &MigrationPlanSpec,
    runs: &[HookRun],
    machines: &[(String, cutover_api::MachinePhase)],
) -> bool {
    use cutover_api::MachinePhase as P;
    use cutover_api::plan::PlanPhase;
    let mut blocked = Vec::new();
    let mut waiting = Vec::new();
    let mut note = |machine: &str, outcome: Outcome| match outcome {
        Outcome::Passed => true,
        Outcome::Waiting(why) => {
            waiting.push(format!("{machine}: {why}"));
            false
        }
        Outcome::Blocked(why) => {
            blocked.push(format!("{machine}: {why}"));
            false
        }
    };
    let wave = |machine: &str| super::orchestrate::wave_of(spec, machine);
    let mut post_commit_pending = false;
    for (machine, phase) in machines {
        let step = match phase {
            P::ReadyForCutover if orchestration.releases.cutover.contains(machine) => {
                HookStep::PreCutover
            }
            P::FailedOver => HookStep::PostFailover,
            P::Completed => HookStep::PostCommit,
            _ => continue,
        };
        let passed = note(machine, outcome(spec, runs, machine, &wave(machine), step));
        if !passed && step == HookStep::PreCutover {
            orchestration.releases.cutover.retain(|m| m != machine);
        }
        post_commit_pending |= !passed && step == HookStep::PostCommit;
    }
    if !blocked.is_empty() {
        orchestration.reason = "HookFailed";
        orchestration.message = format!(
            "{} (annotate the machine cutover.dev/retry=true to run its failed hook again); {}",
            blocked.join("; "),
            orchestration.message
        );
    } else if !waiting.is_empty() {
        orchestration.message = format!("{}; hooks: {}", orchestration.message, waiting.join("; "));
    }
    if orchestration.phase == PlanPhase::Completed && post_commit_pending {
        if blocked.is_empty() {
            orchestration.phase = PlanPhase::CuttingOver;
            orchestration.reason = "RunningHooks";
        } else {
            orchestration.phase = PlanPhase::Failed;
        }
    }
    !blocked.is_empty()
}

/// The Job of `hook`'s `attempt` for the machine `due`: the template, named and labelled,
/// owned by the plan, run as the plan's ServiceAccount, with the machine's facts in every
/// container's environment and the hook's timeout as its deadline.
fn job_of(
    spec: &MigrationPlanSpec,
    hook: &Hook,
    plan: &str,
    owner: &OwnerReference,
    name: &str,
    due: &Due,
    attempt: i32,
) -> Job {
    // Validation refuses a plan whose templates do not parse; none reaches here.
    let template = hook.job_template.parse().unwrap_or_default();
    let metadata = template.metadata.unwrap_or_default();
    let mut labels = metadata.labels.unwrap_or_default();
    labels.extend([
        (PLAN_LABEL.to_owned(), plan.to_owned()),
        (MACHINE_LABEL.to_owned(), due.machine.clone()),
        (HOOK_LABEL.to_owned(), hook.name.clone()),
    ]);
    let mut job_spec = template.spec.unwrap_or_default();
    job_spec.active_deadline_seconds = Some(
        job_spec
            .active_deadline_seconds
            .map_or(hook.timeout_seconds, |own| own.min(hook.timeout_seconds)),
    );
    let mut env: Vec<EnvVar> = due
        .facts
        .iter()
        .map(|(name, value)| EnvVar {
            name: (*name).to_owned(),
            value: Some(value.clone()),
            value_from: None,
        })
        .collect();
    env.extend(
        [
            ("CUTOVER_PLAN", plan.to_owned()),
            ("CUTOVER_WAVE", due.wave.clone()),
            ("CUTOVER_MACHINE", due.machine.clone()),
            ("CUTOVER_STEP", hook.step.as_str().to_owned()),
            ("CUTOVER_HOOK", hook.name.clone()),
            ("CUTOVER_ATTEMPT", attempt.to_string()),
        ]
        .map(|(name, value)| EnvVar {
            name: name.to_owned(),
            value: Some(value),
            value_from: None,
        }),
    );
    if let Some(pod) = job_spec.template.spec.as_mut() {
        if let Some(account) = &spec.service_account_name {
            pod.service_account_name = Some(account.clone());
        }
        let init = pod.init_containers.iter_mut().flatten();
        for container in pod.containers.iter_mut().chain(init) {
            // cutover's facts win over a template's variables of the same name.
            let own = container.env.get_or_insert_with(Vec::new);
            own.retain(|v| !env.iter().any(|e| e.name == v.name));
            own.extend(env.iter().cloned());
        }
    }
    Job {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels),
            annotations: metadata.annotations,
            owner_references: Some(vec![owner.clone()]),
            ..Default::default()
        },
        spec: Some(job_spec),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hooks: &str) -> MigrationPlanSpec {
        let yaml = format!(
            "vaultRef: {{name: v}}\nmachines: {{templates: [{{name: web, source: {{name: WEB}}, osType: Linux}}, {{name: db, source: {{name: DB}}, osType: Linux}}]}}\nserviceAccountName: hooks\nhooks: {hooks}\n"
        );
        serde_yaml_ng::from_str(&yaml).expect("a plan spec")
    }

    const POD: &str = "{spec: {template: {spec: {restartPolicy: Never, containers: [{name: t, image: busybox, env: [{name: CUTOVER_MACHINE, value: mine}, {name: KEEP, value: k}]}]}}}}";

    fn owner() -> OwnerReference {
        OwnerReference {
            api_version: "cutover.dev/v1alpha1".into(),
            kind: "MigrationPlan".into(),
            name: "p".into(),
            uid: "u".into(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        }
    }

    fn due(machine: &str, step: HookStep) -> Due {
        Due {
            machine: machine.into(),
            wave: "all".into(),
            step,
            facts: vec![("CUTOVER_SOURCE_NAME", machine.to_uppercase())],
            retry: false,
        }
    }

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + seconds).unwrap()
    }

    fn seen(outcome: JobOutcome) -> JobSeen {
        JobSeen {
            created: Some(at(0)),
            outcome,
        }
    }

    fn jobs(entries: &[(&str, JobOutcome)]) -> BTreeMap<String, JobSeen> {
        entries
            .iter()
            .map(|(n, o)| ((*n).to_owned(), seen(o.clone())))
            .collect()
    }

    #[test]
    fn a_due_machine_starts_each_hook_of_its_step_once_with_its_facts() {
        let spec = spec(&format!(
            "[{{name: smoke, step: PostFailover, mustSucceed: true, timeoutSeconds: 600, jobTemplate: {POD}}}, {{name: dns, step: PreCutover, jobTemplate: {POD}}}, {{name: only-db, step: PostFailover, machines: [db], jobTemplate: {POD}}}]"
        ));
        let pass = pass(
            &spec,
            "p",
            &owner(),
            &[],
            &BTreeMap::new(),
            &[due("web", HookStep::PostFailover)],
            at(0),
        );
        assert_eq!(pass.start.len(), 1, "only smoke is web's PostFailover hook");
        let job = &pass.start[0].job;
        assert_eq!(job.metadata.name.as_deref(), Some("p-web-smoke-1"));
        assert_eq!(job.metadata.labels.as_ref().unwrap()[MACHINE_LABEL], "web");
        assert_eq!(job.metadata.owner_references.as_ref().unwrap()[0].name, "p");
        let job_spec = job.spec.as_ref().unwrap();
        assert_eq!(job_spec.active_deadline_seconds, Some(600));
        let pod = job_spec.template.spec.as_ref().unwrap();
        assert_eq!(pod.service_account_name.as_deref(), Some("hooks"));
        let env: BTreeMap<&str, &str> = pod.containers[0]
            .env
            .iter()
            .flatten()
            .map(|e| (e.name.as_str(), e.value.as_deref().unwrap_or_default()))
            .collect();
        assert_eq!(env["CUTOVER_MACHINE"], "web", "cutover's facts win");
        assert_eq!(env["KEEP"], "k", "the template's own variables stay");
        assert_eq!(env["CUTOVER_SOURCE_NAME"], "WEB");
        assert_eq!(env["CUTOVER_STEP"], "PostFailover");
        assert_eq!(env["CUTOVER_ATTEMPT"], "1");
        assert_eq!(
            pass.runs,
            vec![HookRun {
                machine: "web".into(),
                hook: "smoke".into(),
                step: HookStep::PostFailover,
                attempt: 1,
                job: "p-web-smoke-1".into(),
                state: HookState::Running,
                message: String::new(),
            }]
        );
        assert!(matches!(
            outcome(&spec, &pass.runs, "web", "all", HookStep::PostFailover),
            Outcome::Waiting(m) if m == "hook smoke runs (Job p-web-smoke-1, attempt 1)"
        ));
        assert_eq!(
            outcome(&spec, &pass.runs, "web", "all", HookStep::PostCommit),
            Outcome::Passed,
            "no PostCommit hook"
        );
    }

    #[test]
    fn runs_follow_their_jobs_through_success_failure_retries_and_timeouts() {
        let spec = spec(&format!(
            "[{{name: smoke, step: PostFailover, mustSucceed: true, retries: 1, timeoutSeconds: 60, jobTemplate: {POD}}}, {{name: notify, step: PostFailover, jobTemplate: {POD}}}]"
        ));
        let web = [due("web", HookStep::PostFailover)];
        let run = |runs: &[HookRun], seen: &BTreeMap<String, JobSeen>, now| {
            pass(&spec, "p", &owner(), runs, seen, &web, now)
        };
        let first = run(&[], &BTreeMap::new(), at(0));
        assert_eq!(first.start.len(), 2);

        // Refused (a template the API server rejects, a full namespace quota): status says so,
        // the run waits, and the next pass asks again; once created the refusal is gone.
        let mut refusal = first.runs.clone();
        let said = refused(&mut refusal, &first.start[0], 403, "exceeded quota: jobs");
        assert_eq!(
            said,
            "the API server refused Job p-web-smoke-1: exceeded quota: jobs (403)"
        );
        let Outcome::Waiting(why) = outcome(&spec, &refusal, "web", "all", HookStep::PostFailover)
        else {
            panic!("a refused Job waits")
        };
        assert!(why.contains("exceeded quota: jobs"), "{why}");
        let again = run(&refusal, &BTreeMap::new(), at(1));
        assert_eq!(again.start.len(), 2, "asked for again");
        let created = run(
            &refusal,
            &jobs(&[
                ("p-web-smoke-1", JobOutcome::Running),
                ("p-web-notify-1", JobOutcome::Running),
            ]),
            at(2),
        );
        assert_eq!(created.runs, first.runs, "the refusal is forgotten");

        // A restarted controller whose status lost the runs finds the Jobs: adopted, not again.
        let adopted = run(
            &[],
            &jobs(&[
                ("p-web-smoke-1", JobOutcome::Running),
                ("p-web-notify-1", JobOutcome::Running),
            ]),
            at(1),
        );
        assert!(adopted.start.is_empty());
        assert_eq!(adopted.runs, first.runs);

        // notify fails (it need not succeed); smoke's first attempt fails and is retried.
        let failed = jobs(&[
            (
                "p-web-smoke-1",
                JobOutcome::Failed("BackoffLimitExceeded".into()),
            ),
            (
                "p-web-notify-1",
                JobOutcome::Failed("BackoffLimitExceeded".into()),
            ),
        ]);
        let second = run(&first.runs, &failed, at(5));
        let names: Vec<_> = second
            .start
            .iter()
            .map(|s| s.job.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["p-web-smoke-2"]);
        assert_eq!(
            second.ended.iter().map(|e| e.reason).collect::<Vec<_>>(),
            ["HookRetrying", "HookFailed"]
        );
        assert!(matches!(
            outcome(&spec, &second.runs, "web", "all", HookStep::PostFailover),
            Outcome::Waiting(_)
        ));

        // The retry runs past its timeout: no attempt left, the step is blocked.
        let mut timed_out = failed.clone();
        timed_out.insert(
            "p-web-smoke-2".into(),
            JobSeen {
                created: Some(at(10)),
                outcome: JobOutcome::Running,
            },
        );
        let still = run(&second.runs, &timed_out, at(70));
        assert_eq!(still.runs, second.runs, "60 s have not passed");
        let third = run(&second.runs, &timed_out, at(71));
        assert!(third.start.is_empty());
        assert_eq!(
            outcome(&spec, &third.runs, "web", "all", HookStep::PostFailover),
            Outcome::Blocked(
                "hook smoke failed (Job p-web-smoke-2): did not finish within 60s".into()
            )
        );
        // Finished runs are never started again, unless a person asks for a retry: then the
        // failed one runs once more, and the annotation is cleared once acted on.
        let later = run(&third.runs, &BTreeMap::new(), at(500));
        assert!(later.start.is_empty() && later.ended.is_empty() && later.clear_retry.is_empty());
        let asked = [Due {
            retry: true,
            ..due("web", HookStep::PostFailover)
        }];
        let rerun = pass(
            &spec,
            "p",
            &owner(),
            &third.runs,
            &timed_out,
            &asked,
            at(501),
        );
        let names: Vec<_> = rerun
            .start
            .iter()
            .map(|s| s.job.metadata.name.clone().unwrap())
            .collect();
        assert_eq!(names, ["p-web-smoke-3", "p-web-notify-2"]);
        assert!(
            rerun.clear_retry.is_empty(),
            "not before status records the re-run"
        );
        let recorded = pass(
            &spec,
            "p",
            &owner(),
            &rerun.runs,
            &timed_out,
            &asked,
            at(502),
        );
        assert_eq!(recorded.clear_retry, ["web"]);
        assert_eq!(recorded.runs, rerun.runs, "and nothing runs a third time");
        assert!(matches!(
            outcome(&spec, &rerun.runs, "web", "all", HookStep::PostFailover),
            Outcome::Waiting(_)
        ));
        // The re-run fails too: it stays failed; the machine is not re-run on its own.
        let mut failed_again = timed_out.clone();
        failed_again.insert(
            "p-web-smoke-3".into(),
            seen(JobOutcome::Failed("again".into())),
        );
        failed_again.insert("p-web-notify-2".into(), seen(JobOutcome::Succeeded));
        let after = run(&rerun.runs, &failed_again, at(510));
        assert_eq!(
            outcome(&spec, &after.runs, "web", "all", HookStep::PostFailover),
            Outcome::Blocked("hook smoke failed (Job p-web-smoke-3): again".into())
        );
        assert!(run(&after.runs, &failed_again, at(600)).start.is_empty());
        // A retry asked of a machine whose hooks did not fail is cleared without a re-run.
        let nothing = pass(
            &spec,
            "p",
            &owner(),
            &first.runs,
            &BTreeMap::new(),
            &asked,
            at(1),
        );
        assert_eq!(nothing.clear_retry, ["web"]);
        assert_eq!(nothing.start.len(), 2, "the first attempts, not re-runs");

        // The other way: the retry succeeds, and the step passes despite notify's failure.
        let mut succeeded = failed;
        succeeded.insert("p-web-smoke-2".into(), seen(JobOutcome::Succeeded));
        let passed = run(&second.runs, &succeeded, at(20));
        assert_eq!(
            outcome(&spec, &passed.runs, "web", "all", HookStep::PostFailover),
            Outcome::Passed
        );
        assert_eq!(passed.ended[0].reason, "HookSucceeded");
    }

    #[test]
    fn the_hooks_hold_the_release_the_commit_and_the_plan_s_completion() {
        use crate::plan::orchestrate::{MachineView, orchestrate};
        use cutover_api::MachinePhase as P;
        use cutover_api::plan::PlanPhase;
        let mut spec = spec(&format!(
            "[{{name: stop, step: PreCutover, mustSucceed: true, jobTemplate: {POD}}}, {{name: notify, step: PostCommit, mustSucceed: true, jobTemplate: {POD}}}]"
        ));
        spec.cutover.approved = true;
        let views = crate::plan::orchestrate::tests::machines;
        let phases = |v: &[MachineView]| -> Vec<(String, P)> {
            v.iter().map(|m| (m.name.clone(), m.phase)).collect()
        };
        let run = |machine: &str, hook: &str, step, state| HookRun {
            machine: machine.into(),
            hook: hook.into(),
            step,
            attempt: 1,
            job: format!("p-{machine}-{hook}-1"),
            state,
            message: "exit 1".into(),
        };

        let ready = views(&[("web", P::ReadyForCutover), ("db", P::ReadyForCutover)]);
        let mut o = orchestrate(&spec, &ready, at(0));
        assert_eq!(o.releases.cutover, ["db", "web"]);
        let runs = [run(
            "db",
            "stop",
            HookStep::PreCutover,
            HookState::Succeeded,
        )];
        assert!(!hold(&mut o, &spec, &runs, &phases(&ready)));
        assert_eq!(o.releases.cutover, ["db"], "web's stop hook has not run");

        let runs = [run("web", "stop", HookStep::PreCutover, HookState::Failed)];
        let mut o = orchestrate(&spec, &ready, at(0));
        assert!(hold(&mut o, &spec, &runs, &phases(&ready)));
        assert!(o.releases.cutover.is_empty());
        assert_eq!(o.reason, "HookFailed");
        assert!(
            o.message
                .contains("web: hook stop failed (Job p-web-stop-1): exit 1"),
            "{}",
            o.message
        );

        let done = views(&[("web", P::Completed), ("db", P::Completed)]);
        let mut o = orchestrate(&spec, &done, at(0));
        assert_eq!(o.phase, PlanPhase::Completed);
        hold(&mut o, &spec, &[], &phases(&done));
        assert_eq!(
            (o.phase, o.reason),
            (PlanPhase::CuttingOver, "RunningHooks")
        );
        let runs = [
            run("web", "notify", HookStep::PostCommit, HookState::Succeeded),
            run("db", "notify", HookStep::PostCommit, HookState::Failed),
        ];
        let mut o = orchestrate(&spec, &done, at(0));
        hold(&mut o, &spec, &runs, &phases(&done));
        assert_eq!((o.phase, o.reason), (PlanPhase::Failed, "HookFailed"));
        let runs = [
            run("web", "notify", HookStep::PostCommit, HookState::Succeeded),
            run("db", "notify", HookStep::PostCommit, HookState::Succeeded),
        ];
        let mut o = orchestrate(&spec, &done, at(0));
        hold(&mut o, &spec, &runs, &phases(&done));
        assert_eq!(o.phase, PlanPhase::Completed);
    }

    #[test]
    fn long_names_are_cut_to_a_label_value_and_stay_distinct() {
        let long = "a".repeat(40);
        let one = job_name(&long, &long, "smoke", 1);
        let two = job_name(&long, &long, "smoke", 2);
        assert!(one.len() <= 63 && two.len() <= 63);
        assert_ne!(one, two);
        // Pinned: an upgraded controller must find the Job its predecessor created.
        assert_eq!(
            one,
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-aaaaaaaaaaaaa-b929be62"
        );
        assert_eq!(job_name("p", "web", "smoke", 3), "p-web-smoke-3");
    }

    #[test]
    fn the_job_state_is_read_from_its_terminal_conditions() {
        let job = |conditions: serde_json::Value| -> Job {
            serde_json::from_value(serde_json::json!({
                "metadata": {"name": "j", "creationTimestamp": "2026-12-03T10:00:00Z"},
                "status": {"conditions": conditions}
            }))
            .unwrap()
        };
        assert_eq!(
            JobSeen::of(&job(serde_json::json!([]))).outcome,
            JobOutcome::Running
        );
        assert_eq!(
            JobSeen::of(&job(
                serde_json::json!([{"type": "Complete", "status": "True"}])
            ))
            .outcome,
            JobOutcome::Succeeded
        );
        assert_eq!(
            JobSeen::of(&job(serde_json::json!([{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]))).outcome,
            JobOutcome::Failed("BackoffLimitExceeded: Job has reached the specified backoff limit".into())
        );
        assert_eq!(
            JobSeen::of(&job(
                serde_json::json!([{"type": "Failed", "status": "False"}])
            ))
            .outcome,
            JobOutcome::Running
        );
    }
}
