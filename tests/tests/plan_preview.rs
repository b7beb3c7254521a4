//! `cutover plan --offline`, the binary as a reviewer runs it on a GitOps repository's
//! manifests: every example is valid, the bad-input suite's invalid manifests are reported with
//! the messages the webhook and the reconcilers give, and the exit code says which.

use std::process::Command;

use anyhow::Result;
use cutover_e2e::bad_inputs::{self, Expect};
use cutover_e2e::processes::binary;
use cutover_e2e::repo_root;
use serde_json::Value;

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
fn without_offline_it_says_what_is_not_built_and_exits_2() -> Result<()> {
    let examples = repo_root().join("deploy/examples");
    let (code, _, stderr) = plan(&["-f", &examples.display().to_string()])?;
    assert_eq!(code, Some(2));
    assert!(stderr.contains("run with --offline"), "{stderr}");
    let (code, _, stderr) = plan(&["--offline", "-f", "/no/such/dir"])?;
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("/no/such/dir: no such file or directory"),
        "{stderr}"
    );
    Ok(())
}
