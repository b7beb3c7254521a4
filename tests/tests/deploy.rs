//! The install manifests on a real API server: `deploy/` (every namespace, ClusterRole) and
//! `deploy/overlays/single-namespace` (one namespace, Role) are rendered with `kubectl
//! kustomize`, applied server-side, and the controller then runs in-cluster style: with its
//! ServiceAccount's token (not admin) and the environment the rendered Deployment gives it.
//! It must take a plan to Completed with exactly the RBAC granted, and no more is granted.

use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use cutover_api::{MigrationPlan, PlanPhase};
use cutover_e2e::examples::approved_example;
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::wait::{apply, wait_for};
use cutover_e2e::{ControlPlane, repo_root};
use kube::Api;
use serde::Deserialize;
use serde_json::{Value, json};

const TIMEOUT: Duration = Duration::from_secs(240);

/// The documents `kubectl kustomize dir` renders.
fn render(plane: &ControlPlane, dir: &str) -> Result<Vec<Value>> {
    let path = repo_root().join(dir);
    let yaml = plane.kubectl_ok(&["kustomize", &path.display().to_string()])?;
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(&yaml) {
        docs.push(Value::deserialize(doc)?);
    }
    Ok(docs)
}

/// The rendered Deployment's controller environment, as the kubelet would give it
/// (the downward API filled in for a pod called `pod`).
fn container_env(docs: &[Value], pod: &str) -> Result<Vec<(String, String)>> {
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .context("no Deployment rendered")?;
    let namespace = deployment["metadata"]["namespace"]
        .as_str()
        .context("Deployment without a namespace")?;
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["args"], json!(["run"]));
    let mut env = Vec::new();
    for var in container["env"].as_array().context("no env")? {
        let name = var["name"]
            .as_str()
            .context("env without a name")?
            .to_owned();
        let value = match (&var["value"], &var["valueFrom"]["fieldRef"]["fieldPath"]) {
            (Value::String(value), _) => value.clone(),
            (_, Value::String(field)) if field == "metadata.name" => pod.to_owned(),
            (_, Value::String(field)) if field == "metadata.namespace" => namespace.to_owned(),
            other => bail!("env {name}: unexpected source {other:?}"),
        };
        env.push((name, value));
    }
    Ok(env)
}

fn aws_example(namespace: &str) -> Result<(Value, Value)> {
    let (mut vault, mut plan) = approved_example("aws.yaml")?;
    for doc in [&mut vault, &mut plan] {
        doc["metadata"]["namespace"] = json!(namespace);
    }
    Ok((vault, plan))
}

/// `kubectl auth can-i` as the ServiceAccount.
fn can_i(plane: &ControlPlane, service_account: &str, args: &[&str]) -> Result<bool> {
    let user = format!("--as=system:serviceaccount:{service_account}");
    let mut all = vec!["auth", "can-i", user.as_str()];
    all.extend_from_slice(args);
    let output = plane.kubectl_output(&all)?;
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "yes")
}

/// Installs `dir`, runs the controller as its ServiceAccount, and migrates the AWS example in
/// `workload_namespace`.
async fn install_and_migrate(
    dir: &str,
    workload_namespace: &str,
) -> Result<(ControlPlane, String)> {
    let plane = ControlPlane::start()?;
    let docs = render(&plane, dir)?;
    // The manifests target today's clusters (policy/v1, since 1.21); the test API server is
    // Debian's 1.20, which serves the same PodDisruptionBudget schema as policy/v1beta1 only.
    let served = plane.kubectl_ok(&["api-versions"])?;
    let mut applied = docs.clone();
    if !served.lines().any(|v| v == "policy/v1") {
        for doc in &mut applied {
            if doc["kind"] == "PodDisruptionBudget" && doc["apiVersion"] == "policy/v1" {
                doc["apiVersion"] = json!("policy/v1beta1");
            }
        }
    }
    // The test plane has no Service routing (no kube-proxy, no pod network): the webhook's
    // configuration calls the controller's loopback port instead of its Service.
    let webhook_port = cutover_e2e::control_plane::free_port()?;
    for doc in &mut applied {
        if doc["kind"] == "ValidatingWebhookConfiguration" {
            for webhook in doc["webhooks"].as_array_mut().context("no webhooks")? {
                webhook["clientConfig"] =
                    json!({"url": format!("https://127.0.0.1:{webhook_port}/validate")});
            }
        }
    }
    let install = plane.dir().join("install.yaml");
    let yaml: Vec<String> = applied
        .iter()
        .map(serde_yaml_ng::to_string)
        .collect::<Result<_, _>>()?;
    std::fs::write(&install, yaml.join("---\n"))?;
    plane.kubectl_ok(&[
        "apply",
        "--server-side",
        "-f",
        &install.display().to_string(),
    ])?;
    plane.wait_for_crds()?;
    // What the API server accepted is what was rendered.
    let kinds: Vec<&str> = docs.iter().filter_map(|d| d["kind"].as_str()).collect();
    for kind in [
        "Deployment",
        "ServiceAccount",
        "Service",
        "PodDisruptionBudget",
    ] {
        assert!(kinds.contains(&kind), "{dir} renders no {kind}: {kinds:?}");
    }
    let namespace = docs
        .iter()
        .find(|d| d["kind"] == "ServiceAccount")
        .and_then(|d| d["metadata"]["namespace"].as_str())
        .context("ServiceAccount without a namespace")?
        .to_owned();
    plane.kubectl_ok(&["get", "deployment/cutover", "-n", &namespace])?;

    let token = plane.kubectl_ok(&["create", "token", "cutover", "-n", &namespace])?;
    let kubeconfig = plane.kubeconfig_with_token("serviceaccount.kubeconfig", token.trim())?;
    let mut env = container_env(&docs, "cutover-7d4b9c-x2x9q")?;
    // Loopback tests run many controllers at once: a free port, and fast polling.
    env.retain(|(name, _)| name != "CUTOVER_METRICS_ADDRESS");
    let webhook = docs
        .iter()
        .any(|d| d["kind"] == "ValidatingWebhookConfiguration");
    if webhook {
        assert!(
            env.iter()
                .any(|(name, _)| name == "CUTOVER_WEBHOOK_ADDRESS")
        );
        env.retain(|(name, _)| name != "CUTOVER_WEBHOOK_ADDRESS");
        env.push((
            "CUTOVER_WEBHOOK_ADDRESS".into(),
            format!("127.0.0.1:{webhook_port}"),
        ));
        env.push(("CUTOVER_WEBHOOK_HOSTS".into(), "127.0.0.1".into()));
    }
    env.push(("CUTOVER_POLL_SECONDS".into(), "0.3".into()));
    env.push(("CUTOVER_RESYNC_SECONDS".into(), "3".into()));
    assert!(env.contains(&("CUTOVER_LEADER_ELECT".into(), "true".into())));

    let sim = Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])?;
    let controller = Controller::start_with(&sim, &kubeconfig, &env)?;
    if plane
        .kubectl_output(&["get", "namespace", workload_namespace])?
        .status
        .code()
        != Some(0)
    {
        plane.kubectl_ok(&["create", "namespace", workload_namespace])?;
    }
    if webhook {
        // failurePolicy Fail: nothing of cutover's is admitted until the controller has issued
        // its certificate and written the CA into the configuration.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while plane
            .kubectl_ok(&[
                "get",
                "validatingwebhookconfiguration",
                "cutover",
                "-o",
                "jsonpath={.webhooks[0].clientConfig.caBundle}",
            ])?
            .is_empty()
        {
            if std::time::Instant::now() > deadline {
                bail!("no caBundle written:\n{}", controller.log());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let (vault, plan) = aws_example(workload_namespace)?;
    apply(&plane, workload_namespace, &vault)?;
    apply(&plane, workload_namespace, &plan)?;
    let client = plane.client().await?;
    let plans = Api::<MigrationPlan>::namespaced(client, workload_namespace);
    wait_for(
        &plans,
        "aws-storefront",
        &controller,
        "Completed",
        TIMEOUT,
        |p| p.status.as_ref().and_then(|s| s.phase) == Some(PlanPhase::Completed),
    )
    .await?;
    let log = controller.log();
    assert!(
        !log.to_ascii_lowercase().contains("forbidden"),
        "the ServiceAccount was refused something:\n{log}"
    );
    if webhook {
        // Through the webhook, as the ServiceAccount issued and installed its certificate:
        // an invalid machine is refused at apply, naming the field.
        let file = plane.dir().join("invalid-machine.json");
        std::fs::write(
            &file,
            serde_json::to_vec(&json!({
                "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
                "metadata": {"name": "invalid", "namespace": workload_namespace},
                "spec": {"vaultRef": {"name": "aws-euwest1"}, "source": {"name": "x"}, "osType": "Linux",
                         "target": {"vmSize": "Standard_D2s_v5", "subnet": "frontend", "vmName": "web_01"}}
            }))?,
        )?;
        let output = plane.kubectl_output(&["apply", "-f", &file.display().to_string()])?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success()
                && stderr.contains("denied the request")
                && stderr.contains("spec.target.vmName: \"web_01\" is not a valid Azure VM name"),
            "refused by the webhook: {stderr}"
        );
    }
    assert!(
        log.contains("acquired the leader lease"),
        "the controller did not lead:\n{log}"
    );
    let lease = plane.kubectl_ok(&[
        "get",
        "lease",
        "cutover-controller",
        "-n",
        &namespace,
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ])?;
    assert_eq!(lease, "cutover-7d4b9c-x2x9q");
    Ok((plane, namespace))
}

/// Least privilege, whatever the scope: secrets are read by name only, vaults are never
/// created or deleted by the controller, and nothing outside cutover's kinds is writable.
fn assert_least_privilege(plane: &ControlPlane, sa: &str, ns: &str) -> Result<()> {
    for denied in [
        vec!["list", "secrets", "-n", ns],
        vec!["watch", "secrets", "-n", ns],
        vec!["create", "secrets", "-n", ns],
        vec!["delete", "recoveryvaults.cutover.dev", "-n", ns],
        vec!["create", "recoveryvaults.cutover.dev", "-n", ns],
        vec!["delete", "migrationplans.cutover.dev", "-n", ns],
        vec!["create", "pods", "-n", ns],
        vec!["get", "configmaps", "-n", ns],
        vec!["create", "customresourcedefinitions"],
    ] {
        assert!(!can_i(plane, sa, &denied)?, "{sa} may {denied:?}");
    }
    for allowed in [
        vec!["get", "secrets", "-n", ns],
        vec!["patch", "recoveryvaults.cutover.dev/status", "-n", ns],
        vec!["create", "replicatedmachines.cutover.dev", "-n", ns],
        vec!["create", "events.events.k8s.io", "-n", ns],
    ] {
        assert!(can_i(plane, sa, &allowed)?, "{sa} may not {allowed:?}");
    }
    Ok(())
}

#[tokio::test]
async fn kustomize_base_installs_and_its_service_account_completes_a_plan() -> Result<()> {
    let (plane, namespace) = install_and_migrate("deploy", "team-storefront").await?;
    assert_eq!(namespace, "cutover-system");
    let sa = "cutover-system:cutover";
    assert_least_privilege(&plane, sa, "team-storefront")?;
    assert!(can_i(
        &plane,
        sa,
        &["list", "recoveryvaults.cutover.dev", "-A"]
    )?);
    // The webhook's own Secret and configuration, and nothing else of their kinds.
    for allowed in [
        vec![
            "update",
            "secrets/cutover-webhook-tls",
            "-n",
            "cutover-system",
        ],
        vec!["patch", "validatingwebhookconfigurations/cutover"],
    ] {
        assert!(can_i(&plane, sa, &allowed)?, "{sa} may not {allowed:?}");
    }
    for denied in [
        vec!["update", "secrets/another", "-n", "cutover-system"],
        vec!["create", "secrets", "-n", "team-storefront"],
        vec!["patch", "validatingwebhookconfigurations/another"],
        vec!["create", "validatingwebhookconfigurations"],
        vec!["patch", "mutatingwebhookconfigurations/cutover"],
    ] {
        assert!(!can_i(&plane, sa, &denied)?, "{sa} may {denied:?}");
    }
    // The lease is only writable in the controller's own namespace.
    assert!(can_i(
        &plane,
        sa,
        &["update", "leases", "-n", "cutover-system"]
    )?);
    assert!(!can_i(
        &plane,
        sa,
        &["update", "leases", "-n", "team-storefront"]
    )?);
    Ok(())
}

#[tokio::test]
async fn single_namespace_overlay_completes_a_plan_with_a_role() -> Result<()> {
    let (plane, namespace) =
        install_and_migrate("deploy/overlays/single-namespace", "migrations").await?;
    assert_eq!(namespace, "migrations");
    let sa = "migrations:cutover";
    assert_least_privilege(&plane, sa, "migrations")?;
    assert!(!can_i(
        &plane,
        sa,
        &["list", "recoveryvaults.cutover.dev", "-A"]
    )?);
    assert!(!can_i(
        &plane,
        sa,
        &["get", "recoveryvaults.cutover.dev", "-n", "default"]
    )?);
    assert!(
        plane
            .kubectl_output(&["get", "clusterrole", "cutover"])?
            .status
            .code()
            != Some(0),
        "the overlay installed a ClusterRole"
    );
    assert!(
        plane
            .kubectl_output(&["get", "validatingwebhookconfiguration", "cutover"])?
            .status
            .code()
            != Some(0),
        "the overlay installed the webhook (cluster-scoped)"
    );
    Ok(())
}
