//! The scale benchmark: a real control plane, azure-sim (time-scaled, faults off, ARM's
//! throttling on) and the controller migrate N machines in P plans over V vaults, and the
//! table shows what it cost: wall time, reconciles, ARM requests by kind against the floor a
//! migration needs, 429s, steady-state reads per resync, and the controller's memory and CPU.
//!
//!   cargo run --release -p cutover-e2e --bin bench -- --machines 100,1000
//!
//! `--check` exits 1 unless the structural properties hold (no 429; no action accepted twice
//! on one item; steady-state reads touch no machine's own URL and do not grow with N); timings
//! are printed, never checked.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use clap::Parser;
use cutover_api::{MachinePhase, MigrationPlan, PlanPhase, RecoveryVault, ReplicatedMachine};
use cutover_e2e::ControlPlane;
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::wait::apply;
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use reqwest::Method;
use serde_json::{Value, json};

#[derive(Parser, Debug)]
#[command(about = "cutover's scale benchmark")]
struct Args {
    /// Machines per run; several sizes (comma-separated) run one after the other.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    machines: Vec<usize>,
    /// MigrationPlans the machines are spread over.
    #[arg(long, default_value_t = 10)]
    plans: usize,
    /// RecoveryVaults the plans are spread over.
    #[arg(long, default_value_t = 2)]
    vaults: usize,
    /// azure-sim's time scale (simulated seconds per real second).
    #[arg(long, default_value_t = 600.0)]
    time_scale: f64,
    /// The controller's poll interval while Azure work is in flight.
    #[arg(long, default_value_t = 1.0)]
    poll_seconds: f64,
    /// The controller's resync interval; the steady-state window is three of them.
    #[arg(long, default_value_t = 10.0)]
    resync_seconds: f64,
    /// Items per page of azure-sim's lists (its own default, 10, exists to exercise paging).
    #[arg(long, default_value_t = 100)]
    page_size: usize,
    /// Exit 1 unless the structural properties hold.
    #[arg(long)]
    check: bool,
}

/// The ARM writes a migration cannot do without, per machine: enable protection, test
/// failover, test failover cleanup, failover, commit, disable protection.
const WRITE_FLOOR_PER_MACHINE: f64 = 6.0;

#[derive(Debug, Default, Clone)]
struct Figures {
    machines: usize,
    to_protected: Duration,
    to_completed: Duration,
    reconciles: f64,
    reconcile_p50: f64,
    reconcile_p99: f64,
    /// Of each pass, its wait for the controller's ARM budget: p50 and p99.
    arm_wait_p50: f64,
    arm_wait_p99: f64,
    requests: usize,
    reads: usize,
    writes: usize,
    polls: usize,
    throttled: usize,
    vault_writes: usize,
    vault_resources: usize,
    machine_writes: usize,
    /// Accepted machine writes beyond the first of their kind on their item (an enable, a
    /// failover… sent twice): must be none.
    repeated_actions: usize,
    steady_reads_per_resync: f64,
    steady_machine_urls: usize,
    /// GETs of one replication fabric, whole run.
    fabric_gets: usize,
    /// The median machine's enable and the last one's, after the first machine's.
    enable_spread: Option<(Duration, Duration)>,
    peak_rss_bytes: u64,
    /// The resident set at the end, anonymous (heap, stacks, the allocator's retained pages)
    /// and file-backed (the binary's pages): where the peak's bytes live.
    end_rss_anon_bytes: u64,
    end_rss_file_bytes: u64,
    cpu_seconds: f64,
    /// From a vault's Ready to the first enable of its machines (the slowest vault).
    vault_ready_to_enable: Option<Duration>,
    /// From the plans' approval to the first failover ARM accepted.
    approval_to_failover: Option<Duration>,
    /// The controller's requests to the API server, by verb (its `cutover_kube_requests_total`).
    kube_requests: BTreeMap<String, f64>,
    /// Of them, GETs of one RecoveryVault, ReplicatedMachine or MigrationPlan: every pass
    /// reads those from the caches, so there must be none.
    kube_object_gets: f64,
}

/// The controller's memory limit in the shipped Deployment and the chart's defaults.
const SHIPPED_MEMORY_LIMIT_BYTES: u64 = 256 * 1024 * 1024;

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let mut results = Vec::new();
    for &n in &args.machines {
        eprintln!(
            "== N = {n} machines, P = {} plans, V = {} vaults",
            args.plans, args.vaults
        );
        results.push(run(&args, n).await?);
    }
    print_table(&args, &results);
    if args.check {
        check(&results)?;
        println!(
            "\nstructural check passed: no 429, no action twice, steady-state reads independent of N"
        );
    }
    Ok(())
}

async fn run(args: &Args, n: usize) -> Result<Figures> {
    let plane = ControlPlane::start()?;
    plane.install_crds()?;
    let scale = args.time_scale.to_string();
    let page_size = args.page_size.to_string();
    let sim = Simulator::start(&[
        "--time-scale",
        &scale,
        "--replication-mbps",
        "100000",
        "--page-size",
        &page_size,
    ])?;
    // azure-sim logs each request's real milliseconds since it started: close enough to now.
    let sim_started = jiff::Timestamp::now();
    let at = |request: &Value| {
        sim_started + jiff::SignedDuration::from_millis(request["elapsedMs"].as_i64().unwrap_or(0))
    };
    let ns = "bench";
    plane.kubectl_ok(&["create", "namespace", ns])?;
    let vault_names: Vec<String> = (0..args.vaults).map(|v| format!("bench-{v}")).collect();
    let inventory = json!({"sources": (0..args.vaults).map(|v| json!({
        "kind": "physical",
        "name": format!("bench-appliance-{v}"),
        "vault": {"resourceGroup": format!("rg-bench-{v}"), "name": format!("bench-vault-{v}")},
        "machines": (0..n).filter(|i| i % args.plans % args.vaults == v).map(|i| json!({
            "name": format!("srv{i:05}"), "id": format!("bench-{i:05}"), "osType": "Linux",
            "disks": [{"id": format!("disk-{i:05}"), "sizeGb": 32, "osDisk": true}]})).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()});
    sim.admin(Method::POST, "inventory", Some(inventory))
        .await?;

    let poll = args.poll_seconds.to_string();
    let resync = args.resync_seconds.to_string();
    let controller = Controller::start(
        &plane,
        &sim,
        ns,
        &[
            ("CUTOVER_POLL_SECONDS", &poll),
            ("CUTOVER_RESYNC_SECONDS", &resync),
            ("RUST_LOG", "warn"),
        ],
    )?;
    let started = Instant::now();
    for (v, name) in vault_names.iter().enumerate() {
        apply(&plane, ns, &vault(name, v))?;
    }
    for p in 0..args.plans {
        apply(&plane, ns, &plan(p, args, n))?;
    }
    let client = plane.client().await?;
    let machines = Api::<ReplicatedMachine>::namespaced(client.clone(), ns);
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), ns);
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), ns);
    let timeout = Duration::from_secs(600 + 3 * n as u64);

    let protected = |m: &ReplicatedMachine| {
        m.status
            .as_ref()
            .and_then(|s| s.phase)
            .is_some_and(|p| p >= MachinePhase::Protected && p != MachinePhase::Failed)
    };
    wait_all(&machines, n, timeout, &controller, "Protected", protected).await?;
    let to_protected = started.elapsed();
    let ready = |m: &ReplicatedMachine| {
        m.status.as_ref().and_then(|s| s.phase) == Some(MachinePhase::ReadyForCutover)
    };
    wait_all(&machines, n, timeout, &controller, "ReadyForCutover", ready).await?;
    let vault_ready = vaults
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .all(|v| {
            v.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        });
    if !vault_ready {
        bail!("a vault is not Ready with every machine waiting for cutover");
    }

    // Steady state: every machine protected and waiting for approval, nothing in flight.
    let window = Duration::from_secs_f64(3.0 * args.resync_seconds);
    let before = sim.requests("").await?.len();
    tokio::time::sleep(window).await;
    let log = sim.requests("").await?;
    let steady = &log[before..];
    let steady_reads = steady.iter().filter(|r| r["method"] == "GET").count();
    let steady_machine_urls = steady
        .iter()
        .filter(|r| {
            let path = r["path"].as_str().unwrap_or_default();
            path.contains("/replicationProtectedItems/") || path.contains("/replicationJobs/")
        })
        .count();

    let approved_at = jiff::Timestamp::now();
    for p in 0..args.plans {
        plans
            .patch(
                &format!("bench-plan-{p}"),
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"cutover": {"approved": true}}})),
            )
            .await?;
    }
    let deadline = Instant::now() + timeout;
    loop {
        let list = plans.list(&ListParams::default()).await?;
        let done = list
            .items
            .iter()
            .filter(|p| p.status.as_ref().and_then(|s| s.phase) == Some(PlanPhase::Completed))
            .count();
        if done == args.plans {
            break;
        }
        if Instant::now() > deadline {
            bail!("{done} of {} plans Completed in {timeout:?}", args.plans);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let to_completed = started.elapsed();

    let ProcessFigures {
        peak_rss_bytes,
        rss_anon_bytes: end_rss_anon_bytes,
        rss_file_bytes: end_rss_file_bytes,
        cpu_seconds,
    } = process_figures(controller.pid())?;
    let (_, scrape) = controller.get("/metrics").await?;
    let (reconciles, reconcile_p50, reconcile_p99) = reconcile_figures(&scrape);
    let (_, arm_wait_p50, arm_wait_p99) =
        histogram_figures(&scrape, "cutover_reconcile_arm_wait_seconds");
    let (kube_requests, kube_object_gets) = kube_figures(&scrape);
    let log = sim.requests("").await?;
    // None when the clocks disagree (a request logged before the moment it is measured from).
    let since = |from: jiff::Timestamp, to: jiff::Timestamp| {
        Duration::try_from(to.duration_since(from)).ok()
    };
    let first = |what: &dyn Fn(&str, &str) -> bool| {
        log.iter()
            .filter(|r| {
                (200..300).contains(&r["status"].as_u64().unwrap_or(0))
                    && what(
                        r["method"].as_str().unwrap_or_default(),
                        r["path"].as_str().unwrap_or_default(),
                    )
            })
            .map(at)
            .min()
    };
    let approval_to_failover = first(&|method, path| {
        method == "POST"
            && (path.ends_with("/unplannedFailover") || path.ends_with("/plannedFailover"))
    })
    .and_then(|failover| since(approved_at, failover));
    // Each machine's enable, after the first: a long tail past the median is machines whose
    // passes waited their turn far longer than the others'.
    let mut enables: BTreeMap<String, jiff::Timestamp> = BTreeMap::new();
    for request in &log {
        let path = request["path"].as_str().unwrap_or_default();
        if request["method"] == "PUT"
            && path.contains("/replicationProtectedItems/")
            && (200..300).contains(&request["status"].as_u64().unwrap_or(0))
        {
            let when = at(request);
            enables
                .entry(path.to_ascii_lowercase())
                .and_modify(|t| *t = (*t).min(when))
                .or_insert(when);
        }
    }
    let mut enable_times: Vec<jiff::Timestamp> = enables.into_values().collect();
    enable_times.sort();
    let enable_spread = enable_times.first().map(|first| {
        let after = |t: &jiff::Timestamp| since(*first, *t).unwrap_or_default();
        (
            after(&enable_times[enable_times.len() / 2]),
            after(enable_times.last().unwrap_or(first)),
        )
    });
    let mut vault_ready_to_enable = None;
    for vault in vaults.list(&ListParams::default()).await?.items {
        let Some(ready) = vault.status.as_ref().and_then(|s| {
            s.conditions
                .iter()
                .find(|c| c.type_ == "Ready" && c.status == "True")
                .map(|c| c.last_transition_time.0)
        }) else {
            continue;
        };
        let vault_name = vault
            .status
            .as_ref()
            .and_then(|s| s.resources.vault_id.as_deref())
            .and_then(|id| id.rsplit('/').next())
            .unwrap_or_default()
            .to_ascii_lowercase();
        let enabled = first(&|method, path| {
            method == "PUT"
                && path.contains("/replicationProtectedItems/")
                && path
                    .to_ascii_lowercase()
                    .contains(&format!("/vaults/{vault_name}/"))
        });
        if let Some(latency) = enabled.and_then(|enabled| since(ready, enabled)) {
            vault_ready_to_enable = vault_ready_to_enable.max(Some(latency));
        }
    }
    let mut figures = Figures {
        machines: n,
        to_protected,
        to_completed,
        reconciles,
        reconcile_p50,
        reconcile_p99,
        arm_wait_p50,
        arm_wait_p99,
        requests: log.len(),
        steady_reads_per_resync: steady_reads as f64 / 3.0,
        steady_machine_urls,
        peak_rss_bytes,
        end_rss_anon_bytes,
        end_rss_file_bytes,
        cpu_seconds,
        vault_ready_to_enable,
        enable_spread,
        approval_to_failover,
        kube_requests,
        kube_object_gets,
        ..Figures::default()
    };
    let mut vault_put_paths = BTreeMap::new();
    let mut accepted_actions: BTreeMap<String, usize> = BTreeMap::new();
    for request in &log {
        let method = request["method"].as_str().unwrap_or_default();
        let path = request["path"].as_str().unwrap_or_default();
        if request["status"] == 429 {
            figures.throttled += 1;
        }
        if method == "GET" {
            if is_poll(path) {
                figures.polls += 1;
            } else {
                figures.reads += 1;
            }
            if is_fabric(path) {
                figures.fabric_gets += 1;
            }
        } else {
            figures.writes += 1;
            if path.contains("/replicationProtectedItems/")
                || path.contains("/replicationProtectionContainers/") && method == "POST"
            {
                figures.machine_writes += 1;
                let status = request["status"].as_u64().unwrap_or(0);
                if (200..300).contains(&status) {
                    *accepted_actions
                        .entry(format!("{method} {}", path.to_ascii_lowercase()))
                        .or_default() += 1;
                }
            } else {
                *vault_put_paths
                    .entry(path.to_ascii_lowercase())
                    .or_insert(0) += 1;
            }
        }
    }
    figures.repeated_actions = accepted_actions.values().map(|n| n - 1).sum();
    if std::env::var_os("BENCH_READS").is_some() {
        let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
        for request in log.iter().filter(|r| r["method"] == "GET") {
            *by_type
                .entry(resource_type(request["path"].as_str().unwrap_or_default()))
                .or_default() += 1;
        }
        for (kind, count) in by_type {
            eprintln!("   GET {kind}: {count}");
        }
    }
    figures.vault_resources = vault_put_paths.len();
    figures.vault_writes = vault_put_paths.values().sum();
    Ok(figures)
}

/// Whether `path` is one replication fabric's URL (`.../replicationFabrics/{name}`).
fn is_fabric(path: &str) -> bool {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    segments.len() >= 2 && segments[segments.len() - 2].eq_ignore_ascii_case("replicationFabrics")
}

/// `Microsoft.Storage/storageAccounts` for an account's URL, and so on.
fn resource_type(path: &str) -> String {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments
        .iter()
        .rposition(|s| s.eq_ignore_ascii_case("providers"))
    {
        Some(i) => {
            let rest = &segments[i + 1..];
            let types: Vec<&str> = rest.iter().skip(1).step_by(2).copied().collect();
            format!("{}/{}", rest.first().unwrap_or(&""), types.join("/"))
        }
        None => "resourceGroups".into(),
    }
}

/// GETs that follow work already started: ASR jobs and ARM's async-operation and location URLs.
fn is_poll(path: &str) -> bool {
    let path = path.to_ascii_lowercase();
    path.contains("/replicationjobs/")
        || path.contains("/operationresults/")
        || path.contains("/operationstatuses/")
        || path.contains("/asyncoperations/")
        || path.contains("/operations/")
        || path.contains("/replicationoperationstatus/")
}

async fn wait_all(
    machines: &Api<ReplicatedMachine>,
    n: usize,
    timeout: Duration,
    controller: &Controller,
    what: &str,
    check: impl Fn(&ReplicatedMachine) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last_report = Instant::now();
    loop {
        let list = machines.list(&ListParams::default()).await?;
        let count = list.items.iter().filter(|m| check(m)).count();
        if count >= n {
            return Ok(());
        }
        if Instant::now() > deadline {
            let log = controller.log();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            bail!(
                "{count} of {n} machines {what} in {timeout:?}; controller log (newest first):\n{}",
                tail.join("\n")
            );
        }
        if last_report.elapsed() > Duration::from_secs(15) {
            eprintln!("   {count}/{n} {what}");
            last_report = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn vault(name: &str, v: usize) -> Value {
    json!({
        "apiVersion": "cutover.dev/v1alpha1",
        "kind": "RecoveryVault",
        "metadata": {"name": name},
        "spec": {
            "subscriptionId": "00000000-0000-0000-0000-000000000001",
            "resourceGroup": format!("rg-bench-{v}"),
            "region": "westeurope",
            "vault": {"create": {"name": format!("bench-vault-{v}")}},
            "storage": {"replication": {"create": {"name": format!("benchrepl{v}"), "sku": "Standard_LRS"}}},
            "network": {
                "target": {"create": {"name": format!("vnet-bench-{v}"), "addressSpace": ["10.60.0.0/16"],
                    "subnets": [{"name": "servers", "addressPrefix": "10.60.1.0/24"}]}},
                "test": {"create": {"name": format!("vnet-bench-{v}-test"), "addressSpace": ["10.60.0.0/16"],
                    "subnets": [{"name": "servers", "addressPrefix": "10.60.1.0/24"}]}}
            },
            "source": {"physical": {"appliance": format!("bench-appliance-{v}")}},
            "replicationPolicy": {"name": "bench-24h", "recoveryPointRetentionHours": 24,
                "appConsistentSnapshotFrequencyHours": 0}
        }
    })
}

fn plan(p: usize, args: &Args, n: usize) -> Value {
    let names: Vec<usize> = (0..n).filter(|i| i % args.plans == p).collect();
    let templates: Vec<Value> = names
        .iter()
        .map(|i| {
            json!({"name": format!("m{i:05}"), "source": {"name": format!("srv{i:05}")},
                "osType": "Linux"})
        })
        .collect();
    let (first, second) = names.split_at(names.len() / 2);
    let wave = |ids: &[usize]| ids.iter().map(|i| format!("m{i:05}")).collect::<Vec<_>>();
    json!({
        "apiVersion": "cutover.dev/v1alpha1",
        "kind": "MigrationPlan",
        "metadata": {"name": format!("bench-plan-{p}")},
        "spec": {
            "vaultRef": {"name": format!("bench-{}", p % args.vaults)},
            "machines": {"templates": templates},
            "waves": [{"name": "first", "machines": wave(first)}, {"name": "second", "machines": wave(second)}],
            "defaults": {"vmSize": "Standard_D2s_v5", "subnet": "servers"},
            "cutover": {"approved": false, "maxConcurrent": 100}
        }
    })
}

/// What the kernel says of a running process's memory and CPU.
struct ProcessFigures {
    /// `VmHWM`.
    peak_rss_bytes: u64,
    /// `RssAnon` and `RssFile`, now.
    rss_anon_bytes: u64,
    rss_file_bytes: u64,
    /// User + system.
    cpu_seconds: f64,
}

fn process_figures(pid: u32) -> Result<ProcessFigures> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib = |field: &str| -> Result<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|k| k * 1024)
            .with_context(|| field.to_owned())
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .context("stat")?
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    // SAFETY: sysconf with a valid name has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ProcessFigures {
        peak_rss_bytes: kib("VmHWM:")?,
        rss_anon_bytes: kib("RssAnon:")?,
        rss_file_bytes: kib("RssFile:")?,
        cpu_seconds: ticks / hz,
    })
}

/// Reconciles in all, and the p50 and p99 reconcile durations (upper bucket bounds, seconds).
fn reconcile_figures(scrape: &str) -> (f64, f64, f64) {
    histogram_figures(scrape, "cutover_reconcile_duration_seconds")
}

/// Observations in all of the histogram `name` (summed over its labels), and its p50 and p99
/// (upper bucket bounds).
fn histogram_figures(scrape: &str, name: &str) -> (f64, f64, f64) {
    let count_series = format!("{name}_count");
    let bucket_series = format!("{name}_bucket{{le=\"");
    let mut buckets: BTreeMap<String, f64> = BTreeMap::new();
    let mut count = 0.0;
    for line in scrape.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if series.starts_with(&count_series) {
            count += value;
        } else if let Some(rest) = series.strip_prefix(&bucket_series)
            && let Some((le, _)) = rest.split_once('"')
        {
            *buckets.entry(le.to_owned()).or_default() += value;
        }
    }
    let mut bounds: Vec<(f64, f64)> = buckets
        .into_iter()
        .map(|(le, c)| (le.parse().unwrap_or(f64::INFINITY), c))
        .collect();
    bounds.sort_by(|a, b| a.0.total_cmp(&b.0));
    let quantile = |q: f64| {
        bounds
            .iter()
            .find(|(_, c)| *c >= q * count)
            .map_or(f64::NAN, |(le, _)| *le)
    };
    (count, quantile(0.5), quantile(0.99))
}

/// The controller's API server requests by verb, and its GETs of one of cutover's objects.
fn kube_figures(scrape: &str) -> (BTreeMap<String, f64>, f64) {
    let mut by_verb = BTreeMap::new();
    let mut object_gets = 0.0;
    for line in scrape.lines() {
        let Some(labels) = line.strip_prefix("cutover_kube_requests_total{") else {
            continue;
        };
        let Some((labels, value)) = labels.rsplit_once("} ") else {
            continue;
        };
        let value: f64 = value.parse().unwrap_or(0.0);
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|l| l.strip_prefix(&format!("{name}=\"")))
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or_default()
                .to_owned()
        };
        let (verb, resource) = (label("verb"), label("resource"));
        if verb == "get"
            && ["recoveryvaults", "replicatedmachines", "migrationplans"]
                .contains(&resource.as_str())
        {
            object_gets += value;
        }
        *by_verb.entry(verb).or_default() += value;
    }
    (by_verb, object_gets)
}

fn print_table(args: &Args, results: &[Figures]) {
    println!(
        "\ncutover benchmark: P = {} plans, V = {} vaults, azure-sim time scale {} and page size {}, poll {} s, resync {} s\n",
        args.plans,
        args.vaults,
        args.time_scale,
        args.page_size,
        args.poll_seconds,
        args.resync_seconds
    );
    let mut rows: Vec<(&str, Vec<String>)> = Vec::new();
    let col = |f: &dyn Fn(&Figures) -> String| results.iter().map(f).collect::<Vec<_>>();
    rows.push(("machines (N)", col(&|r| r.machines.to_string())));
    rows.push((
        "apply -> all Protected",
        col(&|r| format!("{:.1} s", r.to_protected.as_secs_f64())),
    ));
    rows.push((
        "apply -> all Completed",
        col(&|r| format!("{:.1} s", r.to_completed.as_secs_f64())),
    ));
    rows.push(("reconciles", col(&|r| format!("{:.0}", r.reconciles))));
    rows.push((
        "reconciles per second",
        col(&|r| format!("{:.1}", r.reconciles / r.to_completed.as_secs_f64())),
    ));
    rows.push((
        "reconcile p50 / p99 (bucket)",
        col(&|r| {
            format!(
                "<= {:.0} ms / <= {:.0} ms",
                r.reconcile_p50 * 1e3,
                r.reconcile_p99 * 1e3
            )
        }),
    ));
    rows.push((
        "  of a pass, waiting for the ARM budget: p50 / p99",
        col(&|r| {
            format!(
                "<= {:.0} ms / <= {:.0} ms",
                r.arm_wait_p50 * 1e3,
                r.arm_wait_p99 * 1e3
            )
        }),
    ));
    rows.push(("ARM requests", col(&|r| r.requests.to_string())));
    rows.push((
        "  reads / writes / async polls",
        col(&|r| format!("{} / {} / {}", r.reads, r.writes, r.polls)),
    ));
    rows.push((
        "ARM requests per machine",
        col(&|r| format!("{:.1}", r.requests as f64 / r.machines as f64)),
    ));
    rows.push((
        "  reads / writes / polls per machine",
        col(&|r| {
            let n = r.machines as f64;
            format!(
                "{:.1} / {:.2} / {:.1}",
                r.reads as f64 / n,
                r.writes as f64 / n,
                r.polls as f64 / n
            )
        }),
    ));
    rows.push(("429s received", col(&|r| r.throttled.to_string())));
    rows.push((
        "machine writes / floor (6 per machine)",
        col(&|r| {
            format!(
                "{} / {:.0} = {:.2}x",
                r.machine_writes,
                WRITE_FLOOR_PER_MACHINE * r.machines as f64,
                r.machine_writes as f64 / (WRITE_FLOOR_PER_MACHINE * r.machines as f64)
            )
        }),
    ));
    rows.push((
        "  actions accepted twice on one item",
        col(&|r| r.repeated_actions.to_string()),
    ));
    rows.push((
        "vault writes / floor (1 per resource)",
        col(&|r| {
            format!(
                "{} / {} = {:.2}x",
                r.vault_writes,
                r.vault_resources,
                r.vault_writes as f64 / r.vault_resources.max(1) as f64
            )
        }),
    ));
    rows.push((
        "non-poll calls per machine / floor",
        col(&|r| {
            let n = r.machines as f64;
            format!(
                "{:.2}x",
                (r.reads + r.writes) as f64 / n / WRITE_FLOOR_PER_MACHINE
            )
        }),
    ));
    rows.push((
        "steady-state reads per resync",
        col(&|r| format!("{:.1}", r.steady_reads_per_resync)),
    ));
    rows.push((
        "  of them per-machine URLs",
        col(&|r| r.steady_machine_urls.to_string()),
    ));
    rows.push((
        "GETs of one fabric, whole run",
        col(&|r| r.fabric_gets.to_string()),
    ));
    rows.push((
        "API server reads (get + list) per reconcile",
        col(&|r| {
            let reads = r.kube_requests.get("get").copied().unwrap_or(0.0)
                + r.kube_requests.get("list").copied().unwrap_or(0.0);
            format!(
                "{:.0} / {:.0} = {:.3}",
                reads,
                r.reconciles,
                reads / r.reconciles.max(1.0)
            )
        }),
    ));
    rows.push((
        "  GETs of one vault, machine or plan",
        col(&|r| format!("{:.0}", r.kube_object_gets)),
    ));
    rows.push((
        "API server writes (patch + create + update + delete)",
        col(&|r| {
            let writes: f64 = ["patch", "create", "update", "delete"]
                .iter()
                .filter_map(|v| r.kube_requests.get(*v))
                .sum();
            format!("{writes:.0}")
        }),
    ));
    let latency =
        |d: Option<Duration>| d.map_or("-".to_owned(), |d| format!("{:.2} s", d.as_secs_f64()));
    rows.push((
        "vault Ready -> its machines' first enable",
        col(&|r| latency(r.vault_ready_to_enable)),
    ));
    rows.push((
        "machine enables after the first: median / last",
        col(&|r| match r.enable_spread {
            Some((median, last)) => format!(
                "{:.1} s / {:.1} s",
                median.as_secs_f64(),
                last.as_secs_f64()
            ),
            None => "-".into(),
        }),
    ));
    rows.push((
        "approval -> first failover accepted",
        col(&|r| latency(r.approval_to_failover)),
    ));
    rows.push((
        "controller peak RSS / shipped limit (256 MiB)",
        col(&|r| {
            format!(
                "{:.1} MiB = {:.0} %",
                r.peak_rss_bytes as f64 / 1048576.0,
                100.0 * r.peak_rss_bytes as f64 / SHIPPED_MEMORY_LIMIT_BYTES as f64
            )
        }),
    ));
    rows.push((
        "  per machine",
        col(&|r| {
            format!(
                "{:.0} KiB",
                r.peak_rss_bytes as f64 / 1024.0 / r.machines as f64
            )
        }),
    ));
    rows.push((
        "  at the end: anonymous / file-backed",
        col(&|r| {
            format!(
                "{:.1} MiB / {:.1} MiB",
                r.end_rss_anon_bytes as f64 / 1048576.0,
                r.end_rss_file_bytes as f64 / 1048576.0
            )
        }),
    ));
    rows.push((
        "controller CPU (user + system)",
        col(&|r| format!("{:.1} s", r.cpu_seconds)),
    ));
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    let cell = rows
        .iter()
        .flat_map(|(_, v)| v.iter().map(String::len))
        .max()
        .unwrap_or(0);
    for (name, values) in rows {
        print!("| {name:<width$} |");
        for value in values {
            print!(" {value:>cell$} |");
        }
        println!();
    }
}

fn check(results: &[Figures]) -> Result<()> {
    let mut failures = Vec::new();
    for r in results {
        if r.throttled > 0 {
            failures.push(format!(
                "N = {}: {} answers were 429",
                r.machines, r.throttled
            ));
        }
        if r.repeated_actions > 0 {
            failures.push(format!(
                "N = {}: {} machine actions were accepted twice on the same item",
                r.machines, r.repeated_actions
            ));
        }
        if r.peak_rss_bytes > SHIPPED_MEMORY_LIMIT_BYTES {
            failures.push(format!(
                "N = {}: the controller peaked at {:.0} MiB, above the shipped limit of 256 MiB: it would be OOM-killed",
                r.machines,
                r.peak_rss_bytes as f64 / 1048576.0
            ));
        }
        if r.kube_object_gets > 0.0 {
            failures.push(format!(
                "N = {}: the controller read {} vaults, machines or plans from the API server instead of its caches",
                r.machines, r.kube_object_gets
            ));
        }
        if r.steady_machine_urls > 0 {
            failures.push(format!(
                "N = {}: {} steady-state reads were of one machine's item or job",
                r.machines, r.steady_machine_urls
            ));
        }
    }
    if let (Some(small), Some(large)) = (results.first(), results.last())
        && large.machines > small.machines
        && large.steady_reads_per_resync > 1.5 * small.steady_reads_per_resync + 3.0
    {
        failures.push(format!(
            "steady-state reads per resync grew with N: {:.1} at N = {}, {:.1} at N = {}",
            small.steady_reads_per_resync,
            small.machines,
            large.steady_reads_per_resync,
            large.machines
        ));
    }
    // The machines of a vault share one read of its fabric: a read per machine (one per
    // enable, say) shows as fabric GETs growing by as many as the machines do.
    if let (Some(small), Some(large)) = (results.first(), results.last())
        && large.machines > small.machines
        && large.fabric_gets.saturating_sub(small.fabric_gets) >= large.machines - small.machines
    {
        failures.push(format!(
            "fabric GETs grew with N as one per machine: {} at N = {}, {} at N = {}",
            small.fabric_gets, small.machines, large.fabric_gets, large.machines
        ));
    }
    if failures.is_empty() {
        Ok(())
    } else {
        bail!("structural check failed:\n{}", failures.join("\n"))
    }
}
