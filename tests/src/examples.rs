//! The scenarios of deploy/examples, as the tests start from them, and reading a Prometheus
//! scrape.

use anyhow::{Result, bail};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::repo_root;

/// Every scenario of deploy/examples, one file each.
pub const SCENARIOS: [&str; 6] = [
    "hyperv-vmm.yaml",
    "hyperv-site.yaml",
    "vmware.yaml",
    "physical.yaml",
    "aws.yaml",
    "azure-to-azure.yaml",
];

/// The RecoveryVault and the MigrationPlan of `deploy/examples/{file}`.
pub fn example(file: &str) -> Result<(Value, Value)> {
    let text = std::fs::read_to_string(repo_root().join("deploy/examples").join(file))?;
    let (mut vault, mut plan) = (Value::Null, Value::Null);
    for doc in serde_yaml_ng::Deserializer::from_str(&text) {
        let value = Value::deserialize(doc)?;
        match value["kind"].as_str() {
            Some("RecoveryVault") => vault = value,
            Some("MigrationPlan") => plan = value,
            _ => {}
        }
    }
    if vault.is_null() || plan.is_null() {
        bail!("deploy/examples/{file} lacks a vault or a plan");
    }
    Ok((vault, plan))
}

/// An example whose plan is approved, with no window: it runs to `Completed` at once.
pub fn approved_example(file: &str) -> Result<(Value, Value)> {
    let (vault, mut plan) = example(file)?;
    plan["spec"]["cutover"]["approved"] = json!(true);
    plan["spec"]["cutover"]["window"] = Value::Null;
    Ok((vault, plan))
}

/// Sum of every sample of metric `name` whose labels contain all of `labels`.
pub fn metric_sum(scrape: &str, name: &str, labels: &[&str]) -> f64 {
    scrape
        .lines()
        .filter(|line| {
            line.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .filter_map(|line| line.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}
