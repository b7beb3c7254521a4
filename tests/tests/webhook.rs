//! The validating webhook on a real API server (its own, so that no other suite's objects go
//! through it): the configuration shipped in deploy/components/webhook, pointed at the
//! controller's loopback port (the test plane routes no Services), and a controller that is a
//! standby (another holder has the Lease) yet serves the webhook.

use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use cutover_e2e::bad_inputs::{self, Expect};
use cutover_e2e::processes::{Controller, Simulator};
use cutover_e2e::{ControlPlane, repo_root};
use serde::Deserialize;
use serde_json::{Value, json};

const CHECKED: &str = "team-checked";
/// Labelled out of the webhook's namespace selector.
const UNRELATED: &str = "team-unrelated";

fn shipped_configuration(port: u16) -> Result<Value> {
    let yaml = std::fs::read_to_string(repo_root().join("deploy/components/webhook/webhook.yaml"))?;
    let mut configuration = serde_yaml_ng::Deserializer::from_str(&yaml)
        .map(Value::deserialize)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .find(|d| d["kind"] == "ValidatingWebhookConfiguration")
        .context("no ValidatingWebhookConfiguration shipped")?;
    assert_eq!(configuration["webhooks"][0]["failurePolicy"], "Fail");
    configuration["webhooks"][0]["clientConfig"] =
        json!({"url": format!("https://127.0.0.1:{port}/validate")});
    Ok(configuration)
}

/// `kubectl apply` of one document in `namespace`: whether it was accepted, and stderr.
fn try_apply(plane: &ControlPlane, namespace: &str, doc: &Value) -> Result<(bool, String)> {
    let file = plane.dir().join(format!(
        "{namespace}-{}-{}.json",
        doc["kind"].as_str().unwrap_or("doc"),
        doc["metadata"]["name"].as_str().unwrap_or("doc")
    ));
    std::fs::write(&file, serde_json::to_vec(doc)?)?;
    let output = plane.kubectl_output(&[
        "apply",
        "--validate=false",
        "-n",
        namespace,
        "-f",
        &file.display().to_string(),
    ])?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    ))
}

fn ca_bundle(plane: &ControlPlane) -> Result<String> {
    plane.kubectl_ok(&[
        "get",
        "validatingwebhookconfiguration",
        "cutover",
        "-o",
        "jsonpath={.webhooks[0].clientConfig.caBundle}",
    ])
}

async fn wait_for_ca_bundle(
    plane: &ControlPlane,
    controller: &Controller,
    not: &str,
) -> Result<String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let bundle = ca_bundle(plane)?;
        if !bundle.is_empty() && bundle != not {
            return Ok(bundle);
        }
        if Instant::now() > deadline {
            bail!("no caBundle written:\n{}", controller.log());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn machine(name: &str, vault: &str) -> Value {
    json!({
        "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine", "metadata": {"name": name},
        "spec": {"vaultRef": {"name": vault}, "source": {"name": "store-web", "awsInstanceId": "i-0a1b2c3d4e5f60718"},
                 "osType": "Linux", "target": {"vmSize": "Standard_D2s_v5", "subnet": "frontend"}}
    })
}

#[tokio::test]
async fn the_webhook_refuses_invalid_manifests_at_apply_and_a_down_controller_blocks_no_other_namespace()
-> Result<()> {
    let plane = ControlPlane::start()?;
    plane.install_crds()?;
    for namespace in ["cutover-system", CHECKED, UNRELATED] {
        plane.kubectl_ok(&["create", "namespace", namespace])?;
    }
    plane.kubectl_ok(&[
        "label",
        "namespace",
        UNRELATED,
        "cutover.dev/webhook=disabled",
    ])?;
    // Another replica leads for the whole test: this one is a standby, and serves anyway.
    let lease = plane.dir().join("lease.json");
    std::fs::write(
        &lease,
        serde_json::to_vec(&json!({
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": "cutover-controller", "namespace": "cutover-system"},
            "spec": {"holderIdentity": "the-leader", "leaseDurationSeconds": 3600,
                     "renewTime": jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S.000000Z").to_string()}
        }))?,
    )?;
    plane.kubectl_ok(&["apply", "-f", &lease.display().to_string()])?;

    let port = cutover_e2e::control_plane::free_port()?;
    let configuration = plane.dir().join("webhook.json");
    std::fs::write(
        &configuration,
        serde_json::to_vec(&shipped_configuration(port)?)?,
    )?;
    plane.kubectl_ok(&["apply", "-f", &configuration.display().to_string()])?;

    let sim = Simulator::start(&["--time-scale", "0"])?;
    let address = format!("127.0.0.1:{port}");
    let env = [
        ("CUTOVER_NAMESPACE", "cutover-system"),
        ("POD_NAMESPACE", "cutover-system"),
        ("CUTOVER_LEADER_ELECT", "true"),
        ("CUTOVER_WEBHOOK_ADDRESS", address.as_str()),
        ("CUTOVER_WEBHOOK_HOSTS", "127.0.0.1"),
        ("CUTOVER_WEBHOOK_CHECK_SECONDS", "1"),
    ];
    let mut controller = Controller::start(&plane, &sim, "cutover-system", &env)?;
    let bundle = wait_for_ca_bundle(&plane, &controller, "").await?;
    assert!(bundle.len() > 100, "a PEM CA, base64: {bundle}");

    // The bad-input suite: what the schema refuses is still refused; what the reconcilers
    // would report as InvalidSpec is refused now, with the same message; what needs the
    // cluster (a vault that does not exist) is admitted and reported later.
    let mut refused_by_the_webhook = 0;
    for (case, _, doc) in bad_inputs::manifests()? {
        let (accepted, stderr) = try_apply(&plane, CHECKED, &doc)?;
        match case.expect {
            Expect::Refused(field) => assert!(
                !accepted && stderr.contains(field),
                "{}: {stderr}",
                case.what
            ),
            Expect::NotReady("InvalidSpec", message) => {
                assert!(
                    !accepted && stderr.contains("denied the request") && stderr.contains(message),
                    "{}: refused at apply with {message:?}: {stderr}",
                    case.what
                );
                refused_by_the_webhook += 1;
            }
            Expect::NotReady(reason, _) => {
                assert!(accepted, "{} ({reason}): admitted: {stderr}", case.what)
            }
        }
    }
    assert!(
        refused_by_the_webhook >= 5,
        "{refused_by_the_webhook} refused by the webhook"
    );

    // Every example is admitted as written.
    for example in std::fs::read_dir(repo_root().join("deploy/examples"))? {
        let path = example?.path();
        let output =
            plane.kubectl_output(&["apply", "-n", CHECKED, "-f", &path.display().to_string()])?;
        assert!(
            output.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    // Immutability against the status the controller recorded.
    let (accepted, stderr) = try_apply(&plane, CHECKED, &machine("bound", "aws-euwest1"))?;
    assert!(accepted, "{stderr}");
    plane.kubectl_ok(&[
        "patch",
        "replicatedmachine",
        "bound",
        "-n",
        CHECKED,
        "--subresource=status",
        "--type=merge",
        "-p",
        r#"{"status": {"bound": {"vault": "aws-euwest1", "sourceName": "store-web"}}}"#,
    ])?;
    let (accepted, stderr) = try_apply(&plane, CHECKED, &machine("bound", "another-vault"))?;
    assert!(
        !accepted
            && stderr.contains(
                "spec.vaultRef.name: is immutable once protection is enabled (was \"aws-euwest1\")"
            ),
        "{stderr}"
    );
    // A change that leaves the spec alone is admitted.
    plane.kubectl_ok(&[
        "label",
        "replicatedmachine",
        "bound",
        "-n",
        CHECKED,
        "wave=one",
    ])?;
    let metrics = controller.get("/metrics").await?.1;
    assert!(
        metrics.contains(
            r#"cutover_admission_reviews_total{kind="ReplicatedMachine",allowed="false"}"#
        ),
        "{metrics}"
    );

    // A caBundle reset (a re-applied manifest without it) is written again.
    plane.kubectl_ok(&["apply", "-f", &configuration.display().to_string()])?;
    plane.kubectl_ok(&[
        "patch",
        "validatingwebhookconfiguration",
        "cutover",
        "--type=json",
        "-p",
        r#"[{"op": "remove", "path": "/webhooks/0/clientConfig/caBundle"}]"#,
    ])?;
    assert_eq!(wait_for_ca_bundle(&plane, &controller, "").await?, bundle);

    // With the controller down, failurePolicy Fail holds cutover's kinds in the namespaces
    // the webhook selects, and nothing else anywhere.
    controller.kill()?;
    let (accepted, stderr) = try_apply(&plane, CHECKED, &machine("while-down", "aws-euwest1"))?;
    assert!(
        !accepted && stderr.contains("failed calling webhook"),
        "{stderr}"
    );
    let (accepted, stderr) = try_apply(&plane, UNRELATED, &machine("while-down", "aws-euwest1"))?;
    assert!(
        accepted,
        "a namespace the webhook does not select: {stderr}"
    );
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": {"k": "v"}});
    let (accepted, stderr) = try_apply(&plane, CHECKED, &config_map)?;
    assert!(accepted, "another kind: {stderr}");

    // Restarted, it serves the certificate it issued before: the caBundle is unchanged.
    let controller = Controller::start(&plane, &sim, "cutover-system", &env)?;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (accepted, stderr) =
            try_apply(&plane, CHECKED, &machine("after-restart", "aws-euwest1"))?;
        if accepted {
            break;
        }
        if Instant::now() > deadline {
            bail!(
                "not admitted after the restart: {stderr}\n{}",
                controller.log()
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(ca_bundle(&plane)?, bundle);
    let log = controller.log();
    assert!(
        !log.contains("issuing the webhook's serving certificate"),
        "{log}"
    );
    assert!(
        !log.contains("acquired the leader lease"),
        "a standby all along: {log}"
    );
    let (status, _) = controller.get("/readyz").await?;
    assert_eq!(status, 200, "a standby serving the webhook is ready");

    // A replica that cannot issue or read its certificate (here: its namespace does not exist)
    // is not ready, so the Service sends it no reviews; the others still serve.
    let other_address = format!("127.0.0.1:{}", cutover_e2e::control_plane::free_port()?);
    let mut without = env.to_vec();
    without[1] = ("POD_NAMESPACE", "no-such-namespace");
    without[3] = ("CUTOVER_WEBHOOK_ADDRESS", other_address.as_str());
    without.push(("CUTOVER_LEASE_NAMESPACE", "cutover-system"));
    let broken = Controller::start(&plane, &sim, "cutover-system", &without)?;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((status, body)) = broken.get("/readyz").await {
            assert_eq!(
                (status, body.as_str()),
                (503, "not ready: the webhook has no certificate yet")
            );
            if broken
                .log()
                .contains("the webhook's certificate is not ready")
            {
                break;
            }
        }
        if Instant::now() > deadline {
            bail!("no certificate failure logged:\n{}", broken.log());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (accepted, stderr) = try_apply(&plane, CHECKED, &machine("still-served", "aws-euwest1"))?;
    assert!(accepted, "{stderr}");
    Ok(())
}
