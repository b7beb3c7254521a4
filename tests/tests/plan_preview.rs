//! `cutover plan`, the binary as a reviewer runs it on a GitOps repository's manifests. Offline:
//! every example is valid, the bad-input suite's invalid manifests are reported with the
//! messages the webhook and the reconcilers give, and the exit code says which. Against
//! azure-sim: it makes no write, and lists the writes the controller then makes.

use std::process::Command;
use std::time::Duration;

use anyhow::Result;
use cutover_api::vault::RecoveryVault;
use cutover_e2e::bad_inputs::{self, Expect};
use cutover_e2e::processes::{Controller, Simulator, binary};
use cutover_e2e::wait::{apply, wait_for};
use cutover_e2e::{control_plane, repo_root, temp_namespace};
use kube::Api;
use serde_json::{Value, json};

/// How long a test waits for one state.
const TIMEOUT: Duration = Duration::from_secs(240);

fn plan(args: &[&str]) -> Result<(Option<i32>, String, String)> {
    let output = Command::new(binary("cutover")?)
        .arg("plan")
        .args(args)
        .output()?;
    Ok((
        output.status.code(),
        String::from_utf8(output.stdout)?,
        String::from_utf8(output.stderr)?,
    ))
}

#[test]
fn the_examples_are_valid() -> Result<()> {
    let examples = repo_root().join("deploy/examples");
    let (code, stdout, stderr) = plan(&["--offline", "-f", &examples.display().to_string()])?;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    for object in [
        "RecoveryVault default/aws-euwest1",
        "MigrationPlan default/aws-storefront",
        "RecoveryVault default/vmm-dc1",
    ] {
        assert!(
            stdout.contains(&format!("{object} (")),
            "{object}: {stdout}"
        );
    }
    assert!(!stdout.contains(": invalid"), "{stdout}");
    Ok(())
}

#[test]
fn invalid_manifests_are_reported_with_their_messages_and_exit_1() -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut expected = Vec::new();
    for (case, name, doc) in bad_inputs::manifests()? {
        if let Expect::NotReady("InvalidSpec", message) = case.expect {
            std::fs::write(
                dir.path().join(format!("{name}.json")),
                serde_json::to_vec(&doc)?,
            )?;
            expected.push((case.kind, name, message));
        }
    }
    assert!(expected.len() >= 5);
    let (code, stdout, stderr) = plan(&[
        "--offline",
        "-f",
        &dir.path().display().to_string(),
        "--output",
        "json",
    ])?;
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let preview: Value = serde_json::from_str(&stdout)?;
    for (kind, name, message) in expected {
        let found = preview["findings"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|f| {
                f["severity"] == "error"
                    && f["kind"] == kind
                    && f["name"] == name.as_str()
                    && format!(
                        "{}: {}",
                        f["field"].as_str().unwrap_or(""),
                        f["message"].as_str().unwrap_or("")
                    )
                    .contains(message)
            });
        assert!(found, "{kind} {name}: {message:?} in {stdout}");
    }
    Ok(())
}

#[test]
fn without_an_identity_or_the_files_it_says_why_and_exits_2() -> Result<()> {
    let examples = repo_root().join("deploy/examples");
    let output = Command::new(binary("cutover")?)
        .args(["plan", "-f", &examples.display().to_string()])
        .env("AZURE_TOKEN_CREDENTIALS", "NoSuchCredential")
        .output()?;
    let stderr = String::from_utf8(output.stderr)?;
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no Azure identity to read with") && stderr.contains("--offline"),
        "{stderr}"
    );
    let (code, _, stderr) = plan(&["--offline", "-f", "/no/such/dir"])?;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("/no/such/dir: no such file or directory"),
        "{stderr}"
    );
    Ok(())
}

/// `cutover plan` reading azure-sim as the controller's identity: its JSON preview.
fn plan_against(sim: &Simulator, args: &[&str]) -> Result<(Option<i32>, Value, String)> {
    let output = Command::new(binary("cutover")?)
        .arg("plan")
        .args(args)
        .args(["--output", "json"])
        .env("CUTOVER_ARM_ENDPOINT", &sim.info.arm_endpoint)
        .env("AZURE_AUTHORITY_HOST", &sim.info.authority_host)
        .env("CUTOVER_CA_FILE", &sim.info.cert_file)
        .env("AZURE_TENANT_ID", &sim.info.tenant_id)
        .env("AZURE_CLIENT_ID", &sim.info.client_id)
        .env("AZURE_CLIENT_SECRET", &sim.info.client_secret)
        .env_remove("AZURE_TOKEN_CREDENTIALS")
        .env_remove("AZURE_FEDERATED_TOKEN_FILE")
        .output()?;
    let stdout = String::from_utf8(output.stdout)?;
    let stderr = String::from_utf8(output.stderr)?;
    let preview =
        serde_json::from_str(&stdout).map_err(|e| anyhow::anyhow!("{e}: {stdout}{stderr}"))?;
    Ok((output.status.code(), preview, stderr))
}

/// The findings of a JSON preview.
fn findings(preview: &Value) -> impl Iterator<Item = &Value> {
    preview["findings"].as_array().into_iter().flatten()
}

/// Every request azure-sim answered that was not a read.
async fn writes(sim: &Simulator) -> Result<Vec<String>> {
    Ok(sim
        .requests("")
        .await?
        .iter()
        .filter(|r| r["method"] != "GET")
        .map(|r| format!("{} {}", r["method"], r["path"]))
        .collect())
}

/// The operations of `preview` by `kind`/`name` (or by the plan that drives them), in order,
/// as `METHOD path`.
fn operations(preview: &Value, keep: impl Fn(&Value) -> bool) -> Vec<String> {
    preview["operations"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|o| keep(o))
        .map(|o| {
            format!(
                "{} {}",
                o["method"].as_str().unwrap_or_default(),
                o["resource"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

/// The PUTs the controller sent under `group` (a resource group's path), first of each, in order.
async fn puts_under(sim: &Simulator, group: &str) -> Result<Vec<String>> {
    let mut seen: Vec<String> = Vec::new();
    for request in sim.requests("method=PUT").await? {
        let path = request["path"].as_str().unwrap_or_default();
        if path
            .to_ascii_lowercase()
            .starts_with(&group.to_ascii_lowercase())
            && !seen
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&format!("PUT {path}")))
        {
            seen.push(format!("PUT {path}"));
        }
    }
    Ok(seen)
}

const SUBSCRIPTION: &str = "/subscriptions/00000000-0000-0000-0000-000000000001";

/// The preview reads only, and lists the writes the controller then makes for the same
/// manifests, in the same order: all of them for Azure to Azure (cutover creates every piece);
/// for VMM, those before the VMM server registers (where both stop: the preview cannot know
/// what the server brings). Once converged, it lists no write and says the machines are
/// protected already.
#[tokio::test]
async fn against_azure_it_reads_only_and_lists_the_writes_the_controller_then_makes() -> Result<()>
{
    let plane = control_plane::shared()?;
    let client = plane.client().await?;
    let ns = temp_namespace(&client, "preview").await?;
    let sim = Simulator::start(&["--time-scale", "600", "--replication-mbps", "200000"])?;
    let files = ["azure-to-azure.yaml", "hyperv-vmm.yaml"].map(|f| {
        repo_root()
            .join("deploy/examples")
            .join(f)
            .display()
            .to_string()
    });
    let (code, preview, stderr) =
        plan_against(&sim, &["-n", &ns, "-f", &files[0], "-f", &files[1]])?;
    assert_eq!(code, Some(0), "{preview}{stderr}");
    assert_eq!(
        writes(&sim).await?,
        Vec::<String>::new(),
        "the preview wrote"
    );

    let a2a_group = format!("{SUBSCRIPTION}/resourceGroups/rg-migration-weu");
    let vmm_group = format!("{SUBSCRIPTION}/resourceGroups/rg-migration-dc1");
    let a2a_vault = operations(&preview, |o| o["name"] == "a2a-neu-to-weu");
    let a2a_enables = operations(&preview, |o| {
        o["plan"] == "a2a-app" && o["method"] == "PUT" && o["after"].is_null()
    });
    let vmm_vault = operations(&preview, |o| o["name"] == "vmm-dc1");
    assert!(a2a_vault.len() >= 10, "{a2a_vault:?}");
    assert_eq!(a2a_enables.len(), 3, "{preview}");
    assert_eq!(vmm_vault.len(), 5, "{vmm_vault:?}");
    let waits: Vec<&str> = findings(&preview)
        .filter(|f| f["severity"] == "wait")
        .filter_map(|f| f["name"].as_str())
        .collect();
    assert_eq!(waits, ["vmm-dc1"], "VMM waits for its server to register");
    // The VMM machines enable only once their vault is Ready, and say so.
    assert!(
        operations(&preview, |o| o["plan"] == "vmm-shop"
            && o["after"].is_null())
        .is_empty()
    );

    let controller = Controller::start(plane, &sim, &ns, &[])?;
    for file in ["azure-to-azure.yaml", "hyperv-vmm.yaml"] {
        let (vault, plan) = cutover_e2e::examples::example(file)?;
        apply(plane, &ns, &vault)?;
        apply(plane, &ns, &plan)?;
    }
    let vaults = Api::<RecoveryVault>::namespaced(client.clone(), &ns);
    for name in ["a2a-neu-to-weu", "vmm-dc1"] {
        wait_for(&vaults, name, &controller, "Ready", TIMEOUT, |v| {
            v.status.as_ref().is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            })
        })
        .await?;
    }
    let deadline = std::time::Instant::now() + TIMEOUT;
    let a2a = loop {
        let puts = puts_under(&sim, &a2a_group).await?;
        if puts
            .iter()
            .filter(|p| p.contains("/replicationProtectedItems/"))
            .count()
            >= 3
        {
            break puts;
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the A2A machines did not enable: {puts:?}\n{}",
            controller.log()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let (landing_zone, enables): (Vec<String>, Vec<String>) = a2a
        .into_iter()
        .partition(|p| !p.contains("/replicationProtectedItems/"));
    assert_eq!(landing_zone, a2a_vault, "the controller's writes, in order");
    let mut enables = enables;
    let mut expected = a2a_enables.clone();
    enables.sort();
    expected.sort();
    assert_eq!(enables, expected);
    let vmm = puts_under(&sim, &vmm_group).await?;
    assert_eq!(vmm[..vmm_vault.len()], vmm_vault[..], "{vmm:?}");
    assert!(
        vmm.len() > vmm_vault.len(),
        "after the server registered, the controller went on: {vmm:?}"
    );

    // Converged: the same manifests need no write of the vault, and the machines are adopted.
    let before = writes(&sim).await?.len();
    let (code, again, stderr) = plan_against(&sim, &["-n", &ns, "-f", &files[0]])?;
    assert_eq!(code, Some(0), "{again}{stderr}");
    assert!(
        operations(&again, |o| o["kind"] == "RecoveryVault").is_empty(),
        "{again}"
    );
    let adopted = findings(&again)
        .filter(|f| {
            f["severity"] == "wait"
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("already protected"))
        })
        .count();
    assert_eq!(adopted, 3, "{again}");
    // The controller may still be writing (its machines replicate); the preview added none.
    let during: Vec<String> = writes(&sim).await?.into_iter().skip(before).collect();
    assert!(
        during.iter().all(|w| !w.contains("rg-migration-weu/providers/Microsoft.RecoveryServices/vaults/weu-vault/replicationPolicies")),
        "{during:?}"
    );
    Ok(())
}

/// What would fail is an error and the exit code 1: an adopted vault that does not exist, a
/// source VM that is not there; nothing is written.
#[tokio::test]
async fn against_azure_what_would_fail_is_an_error_and_exit_1() -> Result<()> {
    let sim = Simulator::start(&[])?;
    let dir = tempfile::tempdir()?;
    let (mut vault, mut plan) = cutover_e2e::examples::example("azure-to-azure.yaml")?;
    let missing_vm = format!(
        "{SUBSCRIPTION}/resourceGroups/rg-app-neu/providers/Microsoft.Compute/virtualMachines/no-such-vm"
    );
    plan["spec"]["machines"]["templates"][0]["source"]["azureVmId"] = json!(missing_vm);
    std::fs::write(dir.path().join("vault.json"), serde_json::to_vec(&vault)?)?;
    std::fs::write(dir.path().join("plan.json"), serde_json::to_vec(&plan)?)?;
    let (code, preview, stderr) = plan_against(&sim, &["-f", &dir.path().display().to_string()])?;
    assert_eq!(code, Some(1), "{preview}{stderr}");
    let errors: Vec<(String, String)> = findings(&preview)
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["name"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let template = plan["spec"]["machines"]["templates"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0, template);
    assert!(errors[0].1.starts_with("no source machine"), "{errors:?}");

    // Addresses: a subnet the target network lacks, an address Azure keeps, one asked twice.
    plan["spec"]["machines"]["templates"][0]["source"]["azureVmId"] =
        cutover_e2e::examples::example("azure-to-azure.yaml")?.1["spec"]["machines"]["templates"]
            [0]["source"]["azureVmId"]
            .clone();
    let templates = &mut plan["spec"]["machines"]["templates"];
    templates[0]["target"]["subnet"] = json!("dmz");
    templates[1]["target"]["staticIp"] = json!("10.60.1.1");
    templates[2]["target"]["staticIp"] = json!("10.60.1.10");
    templates[0]["target"]["staticIp"] = json!("10.60.1.10");
    std::fs::write(dir.path().join("plan.json"), serde_json::to_vec(&plan)?)?;
    let (code, preview, stderr) = plan_against(&sim, &["-f", &dir.path().display().to_string()])?;
    assert_eq!(code, Some(1), "{preview}{stderr}");
    let mut errors: Vec<(String, String, String)> = findings(&preview)
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            (
                f["name"].as_str().unwrap_or_default().to_owned(),
                f["field"].as_str().unwrap_or_default().to_owned(),
                f["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    errors.sort();
    let names: Vec<String> = (0..3)
        .map(|i| {
            plan["spec"]["machines"]["templates"][i]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        errors,
        [
            (
                names[0].clone(),
                "spec.target.subnet".to_owned(),
                "the target network vnet-weu has no subnet dmz (it has workload)".to_owned()
            ),
            (
                names[1].clone(),
                "spec.target.staticIp".to_owned(),
                "Azure keeps 10.60.1.1 in subnet workload (10.60.1.0/24): the first four and the last address of a subnet are not given to VMs; the first free is 10.60.1.4".to_owned()
            ),
        ],
        "the machine in subnet dmz asks nothing of workload, so 10.60.1.10 is asked once"
    );

    vault["spec"]["vault"] = json!({"existingId": format!(
        "{SUBSCRIPTION}/resourceGroups/rg-elsewhere/providers/Microsoft.RecoveryServices/vaults/gone"
    )});
    std::fs::write(dir.path().join("vault.json"), serde_json::to_vec(&vault)?)?;
    let (code, preview, stderr) = plan_against(&sim, &["-f", &dir.path().display().to_string()])?;
    assert_eq!(code, Some(1), "{preview}{stderr}");
    let blocked = findings(&preview)
        .find(|f| f["severity"] == "error" && f["kind"] == "RecoveryVault")
        .cloned()
        .unwrap_or_default();
    assert!(
        blocked["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("VaultNotFound:")),
        "{preview}"
    );
    assert_eq!(
        writes(&sim).await?,
        Vec::<String>::new(),
        "the preview wrote"
    );
    Ok(())
}

/// Every example, read against an empty subscription: each vault lists its writes from the
/// resource group on, each plan's machines their enable and what follows, and nothing is
/// written.
#[tokio::test]
async fn against_azure_every_example_prints_its_operations_and_writes_nothing() -> Result<()> {
    let sim = Simulator::start(&[])?;
    let examples = repo_root().join("deploy/examples").display().to_string();
    let (code, preview, stderr) = plan_against(&sim, &["-f", &examples])?;
    assert_eq!(code, Some(0), "{preview}{stderr}");
    for file in cutover_e2e::examples::SCENARIOS {
        let (vault, plan) = cutover_e2e::examples::example(file)?;
        let vault_name = vault["metadata"]["name"].clone();
        let landing_zone = operations(&preview, |o| o["name"] == vault_name);
        let group = format!(
            "PUT {SUBSCRIPTION}/resourceGroups/{}",
            vault["spec"]["resourceGroup"].as_str().unwrap_or_default()
        );
        assert_eq!(
            landing_zone.first(),
            Some(&group),
            "{file}: {landing_zone:?}"
        );
        let plan_name = plan["metadata"]["name"].clone();
        let templates = plan["spec"]["machines"]["templates"]
            .as_array()
            .map_or(0, Vec::len);
        let enables = operations(&preview, |o| {
            o["plan"] == plan_name
                && o["method"] == "PUT"
                && o["resource"]
                    .as_str()
                    .is_some_and(|r| r.contains("/replicationProtectedItems/"))
        });
        assert_eq!(enables.len(), templates, "{file}: {enables:?}");
        let commits = operations(&preview, |o| {
            o["plan"] == plan_name
                && o["resource"]
                    .as_str()
                    .is_some_and(|r| r.ends_with("/failoverCommit"))
        });
        assert_eq!(commits.len(), templates, "{file}");
    }
    assert_eq!(
        writes(&sim).await?,
        Vec::<String>::new(),
        "the preview wrote"
    );
    Ok(())
}

/// A wave whose VM sizes the target region's vCPU quota cannot take is an error naming the wave,
/// the family, the need and what is free.
#[tokio::test]
async fn against_azure_a_wave_beyond_the_vcpu_quota_is_an_error() -> Result<()> {
    let sim = Simulator::start(&[])?;
    sim.admin(
        reqwest::Method::PUT,
        "quota",
        Some(json!({"location": "westeurope", "name": "standardESv5Family", "limit": 2})),
    )
    .await?;
    let file = repo_root().join("deploy/examples/hyperv-vmm.yaml");
    let (code, preview, stderr) = plan_against(&sim, &["-f", &file.display().to_string()])?;
    assert_eq!(code, Some(1), "{preview}{stderr}");
    let errors: Vec<&str> = findings(&preview)
        .filter(|f| f["severity"] == "error" && f["kind"] == "MigrationPlan")
        .filter_map(|f| f["message"].as_str())
        .collect();
    assert_eq!(
        errors,
        [
            "wave data would wait (InsufficientQuota): Standard ESv5 Family vCPUs (standardESv5Family) in westeurope: the wave needs 4, 2 of 2 are free (0 in use); ask for a quota increase of standardESv5Family or choose other sizes"
        ]
    );
    assert_eq!(
        writes(&sim).await?,
        Vec::<String>::new(),
        "the preview wrote"
    );
    Ok(())
}
