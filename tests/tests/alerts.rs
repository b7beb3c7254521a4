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

/// Every query of the Grafana dashboard, as PromQL promtool parses.
#[test]
fn the_dashboards_queries_are_promql() -> Result<()> {
    let text = std::fs::read_to_string(repo_root().join("deploy/grafana/cutover-dashboard.json"))?;
    let chart =
        std::fs::read_to_string(repo_root().join("charts/cutover/files/grafana-dashboard.json"))?;
    assert_eq!(
        text, chart,
        "deploy/grafana/ holds a copy of the chart's dashboard"
    );
    let dashboard: serde_json::Value = serde_json::from_str(&text)?;
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .context("panels")?
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().map(str::to_owned).context("expr"))
        .collect::<Result<_>>()?;
    assert!(exprs.len() >= 10, "{exprs:?}");
    // promtool parses PromQL only in rule files: each query becomes a recording rule.
    let rules = serde_json::json!({"groups": [{"name": "dashboard", "rules": exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| serde_json::json!({"record": format!("dashboard:query{i}"), "expr": expr}))
        .collect::<Vec<_>>()}]});
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("dashboard-rules.json");
    std::fs::write(&file, serde_json::to_string(&rules)?)?;
    let checked = promtool(&["check", "rules", &file.display().to_string()])?;
    assert!(
        checked.contains(&format!("{} rules found", exprs.len())),
        "{checked}"
    );
    Ok(())
}
