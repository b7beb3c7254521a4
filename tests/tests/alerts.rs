//! The Prometheus alert rules (deploy/prometheus/cutover-rules.yaml, the chart's
//! PrometheusRule) checked and unit-tested with promtool, Debian's `prometheus` package's.

use std::process::Command;

use anyhow::{Context, Result};
use cutover_e2e::repo_root;

fn promtool(args: &[&str]) -> Result<String> {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(repo_root().join("tests/prometheus"))
        .output()
        .context("running promtool (tests/scripts/install-control-plane.sh installs it)")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    anyhow::ensure!(output.status.success(), "promtool {args:?} failed:\n{text}");
    Ok(text)
}

#[test]
fn the_alert_rules_are_valid_and_fire_when_they_should() -> Result<()> {
    let checked = promtool(&[
        "check",
        "rules",
        "../../deploy/prometheus/cutover-rules.yaml",
    ])?;
    assert!(checked.contains("6 rules found"), "{checked}");
    promtool(&["test", "rules", "rules_test.yaml"])?;
    Ok(())
}

#[test]
fn the_chart_and_the_plain_rules_file_are_the_same_rules() -> Result<()> {
    let chart =
        std::fs::read_to_string(repo_root().join("charts/cutover/files/prometheus-rules.yaml"))?;
    let plain = std::fs::read_to_string(repo_root().join("deploy/prometheus/cutover-rules.yaml"))?;
    assert_eq!(
        chart, plain,
        "deploy/prometheus/cutover-rules.yaml is a copy of the chart's"
    );
    Ok(())
}
