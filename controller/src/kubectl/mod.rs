//! `kubectl cutover`: the kubectl plugin (this binary, installed or linked as
//! `kubectl-cutover`). `status` draws one plan at a glance; `approve`, `validate-test`, `retry`
//! and `commit` make the spec changes and annotations the README tells people to type, asking
//! first for the ones that cannot be undone.
//!
//! kubectl runs a plugin with the arguments after its name and its own environment, so the
//! plugin reads the kubeconfig as kubectl does (`KUBECONFIG`, `--kubeconfig`, `--context`) and
//! the namespace from `-n` or the context.

pub mod screen;

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cutover_api::{MachinePhase, MigrationPlan, ReplicatedMachine};
use futures::StreamExt;
use kube::api::{Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Api, ResourceExt};
use serde_json::json;

use crate::machine::reconcile::{COMMIT_ANNOTATION, RETRY_ANNOTATION, TEST_VALIDATED_ANNOTATION};
use crate::plan::reconcile::{APPROVED_ANNOTATION, PLAN_LABEL, phase_of};
use screen::{History, Style};

/// The field manager of every change the plugin makes, so `managedFields` says who approved.
const MANAGER: &str = "kubectl-cutover";

#[derive(Debug, clap::Parser)]
#[command(
    name = "kubectl-cutover",
    bin_name = "kubectl cutover",
    version,
    about = "cutover's migrations at a glance, and the steps a person takes in them"
)]
pub struct Cli {
    /// Path to the kubeconfig file (else `KUBECONFIG`, else ~/.kube/config, else in-cluster).
    #[arg(long, global = true)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use.
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Namespace (else the context's, else `default`).
    #[arg(short, long, global = true)]
    pub namespace: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// A plan's waves and machines: phase, replication progress and time left, RPO, health,
    /// what each waits for, and the last errors.
    Status {
        plan: String,
        /// Redraw as the plan and its machines change.
        #[arg(short, long)]
        watch: bool,
        /// With --watch, redraw at least this often (time left moves on its own).
        #[arg(long, default_value_t = 5)]
        interval_seconds: u64,
    },
    /// Approve a plan's cutover, or only some of its machines' (a partial approval).
    Approve {
        plan: String,
        machines: Vec<String>,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
    /// Say the test failover's VM was checked, so its test failover is cleaned up.
    ValidateTest { machine: String },
    /// Retry a failed machine's last step once.
    Retry { machine: String },
    /// Commit a machine held failed over (`spec.cutover.commit: Manual`).
    Commit {
        machine: String,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        yes: bool,
    },
}

/// Whether this process was started as the plugin (`kubectl-cutover`, or a link of that name).
pub fn invoked_as_plugin() -> bool {
    std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .is_some_and(|name| name.starts_with("kubectl-cutover"))
}

pub fn main() -> std::process::ExitCode {
    let cli = <Cli as clap::Parser>::parse();
    let result = tokio::runtime::Runtime::new()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(run(cli)));
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn client(cli: &Cli) -> Result<(kube::Client, String)> {
    let options = KubeConfigOptions {
        context: cli.context.clone(),
        ..Default::default()
    };
    let config = match &cli.kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .with_context(|| format!("reading {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &options).await?
        }
        None if cli.context.is_some() => kube::Config::from_kubeconfig(&options).await?,
        None => kube::Config::infer().await?,
    };
    let namespace = cli
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    Ok((kube::Client::try_from(config)?, namespace))
}

pub async fn run(cli: Cli) -> Result<()> {
    let (client, namespace) = client(&cli).await?;
    let plans: Api<MigrationPlan> = Api::namespaced(client.clone(), &namespace);
    let machines: Api<ReplicatedMachine> = Api::namespaced(client, &namespace);
    match cli.command {
        Command::Status {
            plan, watch: false, ..
        } => {
            let plan = get_plan(&plans, &plan, &namespace).await?;
            let of_plan = machines_of(&plan, machines.list(&Default::default()).await?.items);
            let mut history = History::default();
            let now = jiff::Timestamp::now();
            history.observe(&of_plan, now);
            print!(
                "{}",
                screen::render(&plan, &of_plan, &history, now, style())
            );
            Ok(())
        }
        Command::Status {
            plan,
            watch: true,
            interval_seconds,
        } => {
            get_plan(&plans, &plan, &namespace).await?;
            watch(
                plans,
                machines,
                &plan,
                Duration::from_secs(interval_seconds.max(1)),
            )
            .await
        }
        Command::Approve {
            plan,
            machines: names,
            yes,
        } => approve(&plans, &machines, &namespace, &plan, &names, yes).await,
        Command::ValidateTest { machine } => {
            let found = get_machine(&machines, &machine, &namespace).await?;
            let phase = phase_of(&found);
            if !matches!(
                phase,
                MachinePhase::TestFailover | MachinePhase::TestFailoverSucceeded
            ) {
                bail!(
                    "{machine} is {}: it has no test VM to validate",
                    phase.as_str()
                );
            }
            annotate(&machines, &machine, TEST_VALIDATED_ANNOTATION).await?;
            println!("{machine}: test VM validated; its test failover will be cleaned up");
            Ok(())
        }
        Command::Retry { machine } => {
            let found = get_machine(&machines, &machine, &namespace).await?;
            // A failed hook, of any step, is recorded by the plan that ran it.
            let held_by_hook = plans
                .list(&Default::default())
                .await?
                .items
                .iter()
                .any(|p| {
                    p.status.as_ref().is_some_and(|s| {
                        s.hooks.iter().any(|r| {
                            r.machine == machine && r.state == cutover_api::plan::HookState::Failed
                        })
                    })
                });
            if phase_of(&found) != MachinePhase::Failed && !held_by_hook {
                bail!(
                    "{machine} is {}, not Failed: there is nothing to retry",
                    phase_of(&found).as_str()
                );
            }
            annotate(&machines, &machine, RETRY_ANNOTATION).await?;
            if held_by_hook {
                println!("{machine}: running its failed hook once more");
            } else {
                println!("{machine}: retrying its last step once");
            }
            Ok(())
        }
        Command::Commit { machine, yes } => {
            let found = get_machine(&machines, &machine, &namespace).await?;
            if phase_of(&found) != MachinePhase::FailedOver {
                bail!(
                    "{machine} is {}: only a machine held failed over can be committed",
                    phase_of(&found).as_str()
                );
            }
            confirm(
                &format!(
                    "Commit {machine}? Its failover can no longer be reversed, and replication \
                     from the source stops once the migration completes."
                ),
                yes,
            )?;
            annotate(&machines, &machine, COMMIT_ANNOTATION).await?;
            println!("{machine}: committing");
            Ok(())
        }
    }
}

fn style() -> Style {
    let stdout = std::io::stdout();
    Style {
        terminal: stdout.is_terminal(),
        width: stdout
            .is_terminal()
            .then(|| terminal_size::terminal_size().map(|(w, _)| usize::from(w.0)))
            .flatten(),
    }
}

async fn get_plan(api: &Api<MigrationPlan>, name: &str, namespace: &str) -> Result<MigrationPlan> {
    api.get_opt(name)
        .await?
        .with_context(|| format!("no MigrationPlan {name} in namespace {namespace}"))
}

async fn get_machine(
    api: &Api<ReplicatedMachine>,
    name: &str,
    namespace: &str,
) -> Result<ReplicatedMachine> {
    api.get_opt(name)
        .await?
        .with_context(|| format!("no ReplicatedMachine {name} in namespace {namespace}"))
}

/// The machines a plan drives: those it created (its label) and those it adopted (their
/// status names it).
fn machines_of(plan: &MigrationPlan, machines: Vec<ReplicatedMachine>) -> Vec<ReplicatedMachine> {
    let name = plan.name_any();
    machines
        .into_iter()
        .filter(|m| {
            m.labels().get(PLAN_LABEL) == Some(&name)
                || m.status.as_ref().and_then(|s| s.plan.as_ref()) == Some(&name)
        })
        .collect()
}

async fn annotate(api: &Api<ReplicatedMachine>, name: &str, annotation: &str) -> Result<()> {
    let patch = json!({"metadata": {"annotations": {annotation: "true"}}});
    api.patch(name, &PatchParams::apply(MANAGER), &Patch::Merge(&patch))
        .await
        .with_context(|| format!("annotating {name} {annotation}=true"))?;
    Ok(())
}

/// Asks on the terminal; without one, only `--yes` goes on.
fn confirm(question: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        bail!("{question}\nnot confirmed: no terminal to ask on (pass --yes)");
    }
    let mut stderr = std::io::stderr();
    write!(stderr, "{question}\nType yes to go on: ")?;
    stderr.flush()?;
    let mut answer = String::new();
    stdin.lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "yes" | "y") {
        Ok(())
    } else {
        bail!("not confirmed: nothing changed")
    }
}

/// Field managers of GitOps tools that apply a plan from Git and would put back a spec field
/// changed by hand.
const GITOPS_MANAGERS: [&str; 3] = [
    "kustomize-controller",
    "argocd-controller",
    "helm-controller",
];

async fn approve(
    plans: &Api<MigrationPlan>,
    machines: &Api<ReplicatedMachine>,
    namespace: &str,
    name: &str,
    names: &[String],
    yes: bool,
) -> Result<()> {
    let plan = get_plan(plans, name, namespace).await?;
    let of_plan = machines_of(&plan, machines.list(&Default::default()).await?.items);
    let how = if plan.spec.cutover.shutdown_source {
        "shut down and failed over to Azure"
    } else {
        "failed over to Azure from their latest recovery point"
    };
    if names.is_empty() {
        if plan.spec.cutover.approved {
            println!("{name}: already approved");
            return Ok(());
        }
        confirm(
            &format!(
                "Approve the cutover of plan {name}? Its {} machines will be {how}, wave by \
                 wave{}.",
                of_plan.len(),
                if plan.spec.cutover.window.is_some() {
                    ", inside its maintenance window"
                } else {
                    ""
                }
            ),
            yes,
        )?;
        let patch = json!({"spec": {"cutover": {"approved": true}}});
        plans
            .patch(name, &PatchParams::apply(MANAGER), &Patch::Merge(&patch))
            .await
            .with_context(|| format!("approving {name}"))?;
        println!("{name}: cutover approved");
        let gitops = plan
            .managed_fields()
            .iter()
            .filter_map(|f| f.manager.as_deref())
            .find(|m| GITOPS_MANAGERS.iter().any(|g| m.starts_with(g)));
        if let Some(manager) = gitops {
            eprintln!(
                "warning: {manager} applies this plan from Git: set spec.cutover.approved there \
                 too, or its next sync takes the approval back"
            );
        }
        return Ok(());
    }
    let unknown: Vec<&String> = names
        .iter()
        .filter(|n| !of_plan.iter().any(|m| &m.name_any() == *n))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "not machines of plan {name}: {}",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    confirm(
        &format!(
            "Approve the cutover of {} (plan {name})? They will be {how}.",
            names.join(", ")
        ),
        yes,
    )?;
    for machine in names {
        annotate(machines, machine, APPROVED_ANNOTATION).await?;
    }
    println!("{}: cutover approved", names.join(", "));
    Ok(())
}

/// Redraws the screen whenever the plan or one of its machines changes, and every `interval`.
async fn watch(
    plans: Api<MigrationPlan>,
    machines: Api<ReplicatedMachine>,
    name: &str,
    interval: Duration,
) -> Result<()> {
    let (plan_store, plan_writer) = reflector::store();
    let (machine_store, machine_writer) = reflector::store();
    let plan_events = reflector(
        plan_writer,
        watcher(
            plans,
            watcher::Config::default().fields(&format!("metadata.name={name}")),
        ),
    )
    .applied_objects()
    .map(|event| event.map(|_| ()).map_err(anyhow::Error::from));
    let machine_events = reflector(
        machine_writer,
        watcher(machines, watcher::Config::default()),
    )
    .touched_objects()
    .map(|event| event.map(|_| ()).map_err(anyhow::Error::from));
    let mut changes = std::pin::pin!(futures::stream::select(plan_events, machine_events));
    let mut ticks = tokio::time::interval(interval);
    let mut history = History::default();
    let terminal = std::io::stdout().is_terminal();
    loop {
        tokio::select! {
            change = changes.next() => match change {
                Some(Ok(())) => {}
                Some(Err(error)) => eprintln!("watch: {error:#}"),
                None => return Ok(()),
            },
            _ = ticks.tick() => {}
        }
        // Let a burst of changes settle into one frame.
        tokio::time::sleep(Duration::from_millis(200)).await;
        while let Some(Some(Ok(()))) = futures::FutureExt::now_or_never(changes.next()) {}
        let Some(plan) = plan_store.state().into_iter().next() else {
            continue;
        };
        let of_plan = machines_of(
            &plan,
            machine_store
                .state()
                .iter()
                .map(|m| (**m).clone())
                .collect(),
        );
        let now = jiff::Timestamp::now();
        history.observe(&of_plan, now);
        let frame = screen::render(&plan, &of_plan, &history, now, style());
        let mut stdout = std::io::stdout().lock();
        if terminal {
            // Home, clear: the frame replaces the last one.
            write!(stdout, "\x1b[H\x1b[2J{frame}")?;
        } else {
            writeln!(stdout, "--- {now}\n{frame}")?;
        }
        stdout.flush()?;
    }
}
