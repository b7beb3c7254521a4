//! The quick start: a local control plane (etcd + kube-apiserver), azure-sim and the cutover
//! controller; the Hyper-V (VMM) example applied and approved; its progress shown live until
//! the plan is Completed. Then everything keeps running for exploring, until Ctrl-C
//! (`--exit` stops at once, for CI).

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use cutover_api::{MigrationPlan, PlanPhase, RecoveryVault};
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::{ControlPlane, repo_root};
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;

const NAMESPACE: &str = "quickstart";
const PLAN: &str = "vmm-shop";

#[tokio::main]
async fn main() -> Result<()> {
    let exit_when_done = std::env::args().any(|a| a == "--exit");
    let started = Instant::now();
    println!("cutover quick start\n");

    println!("1. starting etcd and kube-apiserver on loopback...");
    let plane = ControlPlane::start()?;
    plane.install_crds()?;
    println!("   API server {}; CRDs installed", plane.server());

    println!("2. starting azure-sim (Entra ID + ARM, simulated time 120x faster)...");
    let sim = Simulator::start(&["--time-scale", "120", "--replication-mbps", "10000"])?;
    println!("   ARM endpoint {}", sim.info.arm_endpoint);

    println!("3. starting the cutover controller...");
    plane.kubectl_ok(&["create", "namespace", NAMESPACE])?;
    let controller = Controller::start(
        &plane,
        &sim,
        NAMESPACE,
        &[
            ("CUTOVER_POLL_SECONDS", "1"),
            ("CUTOVER_RESYNC_SECONDS", "30"),
        ],
    )?;

    let example = repo_root().join("deploy/examples/hyperv-vmm.yaml");
    println!(
        "4. kubectl apply -f {} (a RecoveryVault and a MigrationPlan of three machines)",
        example.display()
    );
    plane.kubectl_ok(&[
        "apply",
        "-n",
        NAMESPACE,
        "-f",
        &example.display().to_string(),
    ])?;

    let client = plane.client().await?;
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), NAMESPACE);
    let plans = Api::<MigrationPlan>::namespaced(client.clone(), NAMESPACE);
    let ready = |vault: &RecoveryVault| {
        vault.status.as_ref().is_some_and(|s| {
            s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
    };
    wait(
        Duration::from_secs(300),
        &controller,
        "the landing zone to be Ready",
        || async { Ok(vaults.get_opt("vmm-dc1").await?.is_some_and(|v| ready(&v))) },
    )
    .await?;
    println!(
        "   landing zone ready:\n{}",
        indent(&plane.kubectl_ok(&["get", "-n", NAMESPACE, "rvault"])?)
    );

    println!(
        "5. approving the cutover (with GitOps: merge the change that sets spec.cutover.approved: true)"
    );
    plans
        .patch(
            PLAN,
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"cutover": {"approved": true}}})),
        )
        .await?;

    println!(
        "6. watching the plan (replicate, test failover, fail over, commit, stop replication):\n"
    );
    let mut last = String::new();
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let table = plane.kubectl_ok(&["get", "-n", NAMESPACE, "mplan,rmachine"])?;
        if table != last {
            println!("[{:>4}s]\n{}", started.elapsed().as_secs(), indent(&table));
            last = table;
        }
        let plan = plans.get(PLAN).await?;
        match plan.status.as_ref().and_then(|s| s.phase) {
            Some(PlanPhase::Completed) => break,
            Some(PlanPhase::Failed) => bail!(
                "the plan failed:\n{}",
                plane.kubectl_ok(&["describe", "-n", NAMESPACE, "mplan", PLAN])?
            ),
            _ => {}
        }
        if Instant::now() > deadline {
            bail!(
                "the plan did not complete in 15 minutes; controller log:\n{}",
                controller.log()
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }

    println!(
        "Completed in {} s: every machine runs in Azure, replication stopped.\n",
        started.elapsed().as_secs()
    );
    println!("Explore it (in another terminal):");
    println!("  export KUBECONFIG={}", plane.kubeconfig().display());
    println!("  kubectl get cutover -n {NAMESPACE}");
    println!("  kubectl describe mplan {PLAN} -n {NAMESPACE}");
    println!(
        "  curl -s --cacert {} {}/_sim/requests | jq .count",
        sim.info.cert_file.display(),
        sim.info.arm_endpoint
    );
    if exit_when_done {
        return Ok(());
    }
    println!("\nPress Ctrl-C to stop the controller, azure-sim, kube-apiserver and etcd.");
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    println!("stopping everything");
    Ok(())
}

async fn wait<F, Fut>(
    timeout: Duration,
    controller: &Controller,
    what: &str,
    mut check: F,
) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<bool>>,
{
    let deadline = Instant::now() + timeout;
    while !check().await? {
        if Instant::now() > deadline {
            bail!(
                "timed out waiting for {what}; controller log:\n{}",
                controller.log()
            );
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("   {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
