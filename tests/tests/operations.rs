//! Running like production: two leader-elected controllers (one acts, the other takes over when
//! it dies), and the metrics and health endpoints scraped during a migration.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use cutover_api::{MigrationPlan, PlanPhase, RecoveryVault};
use cutover_e2e::examples::{approved_example, metric_sum};
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::wait::{apply, wait_for};
use cutover_e2e::{ControlPlane, control_plane, temp_namespace};
use kube::Api;
use reqwest::Method;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(240);

fn fast_sim() -> Result<Simulator> {
    Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])
}

fn vault_ready(vault: &RecoveryVault) -> bool {
    vault.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

fn completed(plan: &MigrationPlan) -> bool {
    plan.status.as_ref().and_then(|s| s.phase) == Some(PlanPhase::Completed)
}

/// The value of the sample `series` (name and labels exactly as exposed) in a scrape.
fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

async fn metrics(controller: &Controller) -> Result<String> {
    let (status, body) = controller.get("/metrics").await?;
    if status != 200 {
        bail!("/metrics answered {status}: {body}");
    }
    Ok(body)
}

fn lease_holder(plane: &ControlPlane, ns: &str) -> Result<String> {
    let output = plane.kubectl_output(&[
        "get",
        "lease",
        "cutover-controller",
        "-n",
        ns,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ])?;
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

#[tokio::test]
async fn one_of_two_replicas_acts_and_the_other_takes_over_when_it_dies() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "leader").await?;
    let sim = fast_sim()?;
    let replica = |name: &'static str| {
        Controller::start(
            plane,
            &sim,
            &ns,
            &[
                ("CUTOVER_LEADER_ELECT", "true"),
                ("CUTOVER_LEASE_NAMESPACE", &ns),
                ("CUTOVER_LEASE_DURATION_SECONDS", "4"),
                ("CUTOVER_LEASE_GRACE_SECONDS", "1"),
                ("POD_NAME", name),
            ],
        )
    };
    let mut a = replica("replica-a")?;
    let mut b = replica("replica-b")?;

    let deadline = Instant::now() + Duration::from_secs(60);
    let holder = loop {
        let holder = lease_holder(plane, &ns)?;
        if !holder.is_empty() {
            break holder;
        }
        if Instant::now() > deadline {
            bail!("nobody took the lease:\n{}\n{}", a.log(), b.log());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (leader, standby) = if holder == "replica-a" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    let (vault, plan) = approved_example("aws.yaml")?;
    apply(plane, &ns, &vault)?;
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    wait_for(
        &vaults,
        "aws-euwest1",
        leader,
        "Ready",
        TIMEOUT,
        vault_ready,
    )
    .await?;

    // The leader did the work; the standby watched nothing and sent nothing to Azure, and is
    // still ready to serve its probes.
    let led = metrics(leader).await?;
    assert_eq!(sample(&led, "cutover_leader"), Some(1.0));
    assert!(metric_sum(&led, "cutover_reconciles_total", &[]) > 0.0);
    assert!(
        metric_sum(&led, "cutover_arm_requests_total", &[]) > 0.0,
        "{led}"
    );
    let idle = metrics(standby).await?;
    assert_eq!(sample(&idle, "cutover_leader"), Some(0.0), "{idle}");
    assert_eq!(
        metric_sum(&idle, "cutover_reconciles_total", &[]),
        0.0,
        "{idle}"
    );
    assert_eq!(
        metric_sum(&idle, "cutover_arm_requests_total", &[]),
        0.0,
        "{idle}"
    );
    assert_eq!(standby.get("/readyz").await?.0, 200);
    assert!(!standby.log().contains("acquired the leader lease"));

    // The leader dies without releasing anything; the standby takes over once the lease
    // expires and carries the migration to the end.
    leader.kill()?;
    let killed_at = Instant::now();
    apply(plane, &ns, &plan)?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    wait_for(
        &plans,
        "aws-storefront",
        standby,
        "Completed",
        TIMEOUT,
        completed,
    )
    .await?;
    let took_over = standby.log();
    assert!(
        took_over.contains("acquired the leader lease"),
        "{took_over}"
    );
    let new_holder = lease_holder(plane, &ns)?;
    assert_ne!(new_holder, holder);
    assert!(!new_holder.is_empty());
    let now = metrics(standby).await?;
    assert_eq!(sample(&now, "cutover_leader"), Some(1.0));
    assert!(metric_sum(&now, "cutover_reconciles_total", &[]) > 0.0);
    assert!(killed_at.elapsed() < TIMEOUT);

    // A graceful stop releases the lease at once.
    standby.terminate(Duration::from_secs(30))?;
    assert_eq!(lease_holder(plane, &ns)?, "");
    Ok(())
}

#[tokio::test]
async fn metrics_and_health_are_served_during_a_migration() -> Result<()> {
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "metrics").await?;
    let sim = fast_sim()?;
    // Two throttled answers, each asking for a second's wait.
    let fault = json!({"method": "GET", "pathContains": "/replicationFabrics", "status": 429,
        "retryAfterSeconds": 1, "times": 2});
    sim.admin(Method::POST, "faults", Some(fault)).await?;
    let controller = Controller::start(plane, &sim, &ns, &[])?;

    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, body)) = controller.get("/readyz").await {
            assert_eq!(body, "ok");
            break;
        }
        if Instant::now() > deadline {
            bail!("/readyz never answered 200:\n{}", controller.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(controller.get("/healthz").await?, (200, "ok".to_owned()));

    let (vault, plan) = approved_example("aws.yaml")?;
    apply(plane, &ns, &vault)?;
    apply(plane, &ns, &plan)?;
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), &ns);
    // Scrape all along: per-machine series exist while machines replicate.
    let mut seen = BTreeSet::new();
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let scrape = metrics(&controller).await?;
        for line in scrape.lines().filter(|l| !l.starts_with('#')) {
            if let Some(series) = line.split(['{', ' ']).next() {
                seen.insert(series.to_owned());
            }
        }
        let done = plans
            .get_opt("aws-storefront")
            .await?
            .is_some_and(|p| completed(&p));
        if done {
            break;
        }
        if Instant::now() > deadline {
            bail!("the plan did not complete:\n{}", controller.log());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for series in [
        "cutover_machine_rpo_seconds",
        "cutover_machine_replication_health",
        "cutover_machine_initial_replication_percent",
    ] {
        assert!(seen.contains(series), "{series} never exposed: {seen:?}");
    }

    // What the alert rules and the Grafana dashboard query is what the controller exposes.
    // prometheus-client exposes no family without samples, and a migration need not have a
    // failed pass: the errors counter appears with the first.
    let after_a_failure = ["cutover_reconcile_errors_total"];
    for name in cutover_e2e::queried_metrics()? {
        assert!(
            seen.contains(&name) || after_a_failure.contains(&name.as_str()),
            "{name} is queried but never exposed: {seen:?}"
        );
    }

    let scrape = metrics(&controller).await?;
    let machine = format!("namespace=\"{ns}\"");
    assert_eq!(
        metric_sum(
            &scrape,
            "cutover_plan_progress_percent",
            &[&machine, "phase=\"Completed\""]
        ),
        100.0,
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "cutover_machines{phase=\"Completed\"}"),
        Some(3.0),
        "{scrape}"
    );
    assert_eq!(
        sample(&scrape, "cutover_machines{phase=\"Failed\"}"),
        Some(0.0)
    );
    assert_eq!(
        sample(&scrape, "cutover_plans{phase=\"Completed\"}"),
        Some(1.0)
    );
    assert!(metric_sum(&scrape, "cutover_machine_replication_health", &[&machine]) <= 3.0);
    for kind in ["RecoveryVault", "ReplicatedMachine", "MigrationPlan"] {
        let label = format!("kind=\"{kind}\"");
        assert!(metric_sum(&scrape, "cutover_reconciles_total", &[&label]) > 0.0);
        assert!(
            metric_sum(
                &scrape,
                "cutover_reconcile_duration_seconds_count",
                &[&label]
            ) > 0.0
        );
        assert_eq!(
            metric_sum(&scrape, "cutover_reconciles_total", &[&label]),
            metric_sum(
                &scrape,
                "cutover_reconcile_duration_seconds_count",
                &[&label]
            )
        );
    }
    // The throttled lists were retried (and counted) and cost what ARM asked for.
    assert_eq!(sample(&scrape, "cutover_arm_throttled_total"), Some(2.0));
    assert_eq!(
        sample(&scrape, "cutover_arm_retry_after_seconds_total"),
        Some(2.0)
    );
    assert_eq!(
        metric_sum(&scrape, "cutover_arm_requests_total", &["code=\"429\""]),
        2.0
    );
    // Every failover and commit the simulator saw, the controller counted.
    let commits = sim
        .requests("method=POST&path=/failoverCommit")
        .await?
        .len() as f64;
    assert_eq!(commits, 3.0);
    assert_eq!(
        metric_sum(
            &scrape,
            "cutover_arm_requests_total",
            &["failoverCommit\"", "method=\"POST\"", "code=\"202\""]
        ),
        commits,
        "{scrape}"
    );
    let sent = metric_sum(&scrape, "cutover_arm_requests_total", &[]);
    let received = sim.requests("").await?.len() as f64;
    assert_eq!(
        sent, received,
        "the controller's count differs from azure-sim's log"
    );
    Ok(())
}
