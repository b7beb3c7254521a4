//! Every manifest under deploy/examples deserialises into the API types and passes validate().

use std::path::PathBuf;

use cutover_api::{MigrationPlan, RecoveryVault, ReplicatedMachine, Report};
use serde::Deserialize;

fn examples() -> Vec<(PathBuf, serde_json::Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("deploy/examples exists")
        .map(|entry| entry.expect("readable entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable example");
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(doc)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            docs.push((path.clone(), value));
        }
    }
    docs
}

fn validate(kind: &str, doc: serde_json::Value) -> Report {
    match kind {
        "RecoveryVault" => serde_json::from_value::<RecoveryVault>(doc).map(|v| v.validate()),
        "MigrationPlan" => serde_json::from_value::<MigrationPlan>(doc).map(|p| p.validate()),
        "ReplicatedMachine" => {
            serde_json::from_value::<ReplicatedMachine>(doc).map(|m| m.validate())
        }
        other => panic!("unexpected kind {other}"),
    }
    .unwrap_or_else(|e| panic!("{kind} does not deserialise: {e}"))
}

#[test]
fn every_example_is_valid() {
    let docs = examples();
    assert!(
        docs.len() >= 12,
        "six scenarios, a vault and a plan each; found {} documents",
        docs.len()
    );
    for (path, doc) in docs {
        let kind = doc["kind"].as_str().expect("kind").to_owned();
        let name = doc["metadata"]["name"].as_str().expect("name").to_owned();
        let report = validate(&kind, doc);
        assert!(
            report.is_valid(),
            "{} {kind}/{name}: {}",
            path.display(),
            report.error_message()
        );
    }
}

#[test]
fn every_scenario_has_a_vault_and_a_plan_of_three_machines_in_two_waves() {
    let mut sources = Vec::new();
    for (path, doc) in examples() {
        match doc["kind"].as_str() {
            Some("RecoveryVault") => {
                let vault: RecoveryVault = serde_json::from_value(doc).expect("vault");
                sources.push(vault.spec.source.kind().as_str());
            }
            Some("MigrationPlan") => {
                let plan: MigrationPlan = serde_json::from_value(doc).expect("plan");
                assert!(
                    plan.spec.machines.templates.len() >= 3,
                    "{}: a plan of at least three machines",
                    path.display()
                );
                assert!(
                    plan.spec.waves.len() >= 2,
                    "{}: in at least two waves",
                    path.display()
                );
            }
            _ => {}
        }
    }
    sources.sort();
    assert_eq!(
        sources,
        [
            "aws",
            "azureRegion",
            "hyperVSite",
            "hyperVVmm",
            "physical",
            "vmware"
        ]
    );
}
