//! `cutover plan`: what a set of manifests (the YAML a GitOps repository holds) would do, before
//! it is applied. It validates them: every cutover object through the same `validate()` the
//! webhook and the reconcilers run, and the references between them; then, unless `--offline`,
//! it reads Azure and lists the writes the controller would make ([`azure`]). It writes
//! nothing, in the cluster or in Azure.

pub mod azure;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use cutover_api::{MigrationPlan, RecoveryVault, ReplicatedMachine};
use serde::Serialize;
use serde_json::Value;

#[derive(Clone, Debug, clap::Args)]
pub struct PlanArgs {
    /// Manifest files, or directories read recursively for `*.yaml`, `*.yml` and `*.json`.
    #[arg(short = 'f', long = "filename", required = true)]
    pub files: Vec<PathBuf>,
    /// Validate the manifests without reading Azure.
    #[arg(long)]
    pub offline: bool,
    /// Namespace of objects that name none (what `kubectl apply -n` would give them).
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    #[arg(short, long, value_parser = ["text", "json"], default_value = "text")]
    pub output: String,
    #[command(flatten)]
    pub arm: crate::azure::ArmArgs,
}

/// One cutover object of the manifests.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Object {
    pub file: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    /// Where the controller would wait for something outside cutover (a source registering).
    Wait,
}

/// A rule a manifest breaks (an error: applying it fails or it is reported `InvalidSpec`), or
/// something to check (a warning).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub file: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub field: String,
    pub message: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub objects: Vec<Object>,
    pub findings: Vec<Finding>,
    /// The writes the controller would make, in order per object (empty with `--offline`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operations: Vec<azure::Operation>,
}

impl Preview {
    pub fn errors(&self) -> usize {
        self.count(Severity::Error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == severity)
            .count()
    }
}

/// `cutover plan`: prints the preview; the exit code is 1 when something would fail.
pub fn run(args: &PlanArgs) -> Result<std::process::ExitCode> {
    let documents = read(&args.files)?;
    let mut preview = preview(&documents, &args.namespace);
    if !args.offline {
        let settings = args.arm.settings()?;
        let (credential, _) =
            crate::azure::credentials::from_environment(&settings).map_err(|reason| {
                anyhow::anyhow!("no Azure identity to read with: {reason} (or run with --offline)")
            })?;
        let arm = crate::azure::ArmClient::read_only(&settings, credential);
        let objects = objects(&documents, &args.namespace, &preview);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (operations, findings) =
            runtime.block_on(azure::read(&arm, &objects, jiff::Timestamp::now()));
        preview.operations = operations;
        preview.findings.extend(findings);
    }
    if args.output == "json" {
        println!("{}", serde_json::to_string_pretty(&preview)?);
    } else {
        print!("{}", text(&preview));
    }
    Ok(if preview.errors() > 0 {
        std::process::ExitCode::from(1)
    } else {
        std::process::ExitCode::SUCCESS
    })
}

/// A manifest document, or why a file's text is not one.
pub type Document = (String, std::result::Result<Value, String>);

/// Every document of the files and directories given, in path order.
pub fn read(paths: &[PathBuf]) -> Result<Vec<Document>> {
    let mut files = BTreeSet::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    let mut documents = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let name = file.display().to_string();
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            match serde::Deserialize::deserialize(document) {
                Ok(Value::Null) => {}
                Ok(value) => documents.push((name.clone(), Ok(value))),
                Err(error) => documents.push((name.clone(), Err(error.to_string()))),
            }
        }
    }
    Ok(documents)
}

fn collect(path: &Path, files: &mut BTreeSet<PathBuf>) -> Result<()> {
    if path.is_dir() {
        for entry in
            std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))?
        {
            let entry = entry?.path();
            let manifest = entry
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
            if entry.is_dir() || manifest {
                collect(&entry, files)?;
            }
        }
    } else if path.exists() {
        files.insert(path.to_path_buf());
    } else {
        anyhow::bail!("{}: no such file or directory", path.display());
    }
    Ok(())
}

/// The preview of `documents` (pure: what the files hold, nothing else).
pub fn preview(documents: &[Document], default_namespace: &str) -> Preview {
    let mut out = Preview::default();
    let mut seen = BTreeMap::new();
    let mut vaults = BTreeSet::new();
    let mut references = Vec::new();
    for (file, document) in documents {
        let value = match document {
            Ok(value) => value,
            Err(error) => {
                out.findings.push(Finding {
                    severity: Severity::Error,
                    file: file.clone(),
                    kind: String::new(),
                    namespace: String::new(),
                    name: String::new(),
                    field: String::new(),
                    message: format!("not a YAML document: {error}"),
                });
                continue;
            }
        };
        let is_cutover = value["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("cutover.dev/"));
        if !is_cutover {
            continue;
        }
        let object = Object {
            file: file.clone(),
            kind: value["kind"].as_str().unwrap_or_default().to_owned(),
            namespace: value["metadata"]["namespace"]
                .as_str()
                .unwrap_or(default_namespace)
                .to_owned(),
            name: value["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        };
        let finding = |severity, field: &str, message: String| Finding {
            severity,
            file: object.file.clone(),
            kind: object.kind.clone(),
            namespace: object.namespace.clone(),
            name: object.name.clone(),
            field: field.to_owned(),
            message,
        };
        let key = (
            object.kind.clone(),
            object.namespace.clone(),
            object.name.clone(),
        );
        if let Some(first) = seen.insert(key, object.file.clone()) {
            out.findings.push(finding(
                Severity::Error,
                "metadata.name",
                format!("the same object is also in {first}; the later one would replace it"),
            ));
        }
        let report = match object.kind.as_str() {
            "RecoveryVault" => {
                vaults.insert((object.namespace.clone(), object.name.clone()));
                typed::<RecoveryVault>(value).map(|v| v.validate())
            }
            "MigrationPlan" => typed::<MigrationPlan>(value).map(|p| {
                references.push((object.clone(), p.spec.vault_ref.name.clone()));
                p.validate()
            }),
            "ReplicatedMachine" => typed::<ReplicatedMachine>(value).map(|m| {
                references.push((object.clone(), m.spec.vault_ref.name.clone()));
                m.validate()
            }),
            other => Err(format!("cutover has no kind {other:?}")),
        };
        match report {
            Ok(report) => {
                for violation in &report.errors {
                    out.findings.push(finding(
                        Severity::Error,
                        &violation.field,
                        violation.message.clone(),
                    ));
                }
                for violation in &report.warnings {
                    out.findings.push(finding(
                        Severity::Warning,
                        &violation.field,
                        violation.message.clone(),
                    ));
                }
            }
            Err(message) => out.findings.push(finding(Severity::Error, "", message)),
        }
        out.objects.push(object);
    }
    for (object, vault) in references {
        if !vaults.contains(&(object.namespace.clone(), vault.clone())) {
            out.findings.push(Finding {
                severity: Severity::Warning,
                file: object.file.clone(),
                kind: object.kind.clone(),
                namespace: object.namespace.clone(),
                name: object.name.clone(),
                field: "spec.vaultRef.name".into(),
                message: format!(
                    "no RecoveryVault {vault} in these manifests: it must exist in namespace {}",
                    object.namespace
                ),
            });
        }
    }
    out
}

/// The cutover objects of `documents` that `preview` found valid, typed, in their namespace.
pub fn objects(
    documents: &[Document],
    default_namespace: &str,
    preview: &Preview,
) -> azure::Objects {
    let mut out = azure::Objects::default();
    for (file, document) in documents {
        let Ok(value) = document else { continue };
        let namespace = value["metadata"]["namespace"]
            .as_str()
            .unwrap_or(default_namespace)
            .to_owned();
        let kind = value["kind"].as_str().unwrap_or_default();
        let name = value["metadata"]["name"].as_str().unwrap_or_default();
        let invalid = preview.findings.iter().any(|f| {
            f.severity == Severity::Error
                && &f.file == file
                && f.kind == kind
                && f.namespace == namespace
                && f.name == name
        });
        if invalid
            || !value["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("cutover.dev/"))
        {
            continue;
        }
        let mut value = value.clone();
        value["metadata"]["namespace"] = serde_json::json!(namespace);
        match kind {
            "RecoveryVault" => out.vaults.extend(typed(&value).ok()),
            "MigrationPlan" => out.plans.extend(typed(&value).ok()),
            "ReplicatedMachine" => out.machines.extend(typed(&value).ok()),
            _ => {}
        }
    }
    out
}

fn typed<K: serde::de::DeserializeOwned>(value: &Value) -> std::result::Result<K, String> {
    // What is applied has no status: immutability has nothing to be judged against yet.
    let mut value = value.clone();
    if let Some(map) = value.as_object_mut() {
        map.remove("status");
    }
    serde_json::from_value(value).map_err(|error| format!("does not match the schema: {error}"))
}

/// The preview for people.
pub fn text(preview: &Preview) -> String {
    let mut out = String::new();
    for object in &preview.objects {
        let findings: Vec<&Finding> = preview
            .findings
            .iter()
            .filter(|f| (f.file.is_empty() || f.file == object.file) && same_object(f, object))
            .collect();
        let verdict = if findings.iter().any(|f| f.severity == Severity::Error) {
            "invalid"
        } else {
            "valid"
        };
        out.push_str(&format!(
            "{} {}/{} ({}): {verdict}\n",
            object.kind, object.namespace, object.name, object.file
        ));
        for finding in findings.iter().filter(|f| f.severity != Severity::Wait) {
            out.push_str(&finding_line(finding));
        }
        operations_text(preview, object, &mut out);
        for finding in findings.iter().filter(|f| f.severity == Severity::Wait) {
            out.push_str(&finding_line(finding));
        }
        if object.kind == "MigrationPlan" {
            templates_text(preview, object, &mut out);
        }
    }
    for finding in preview.findings.iter().filter(|f| f.kind.is_empty()) {
        out.push_str(&format!("{}: error: {}\n", finding.file, finding.message));
    }
    let counted = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let writes = if preview.operations.is_empty() {
        String::new()
    } else {
        let now = preview
            .operations
            .iter()
            .filter(|o| o.after.is_none())
            .count();
        format!(
            ", {} ({now} without waiting)",
            counted(preview.operations.len(), "write")
        )
    };
    out.push_str(&format!(
        "{}, {}, {}{writes}\n",
        counted(preview.objects.len(), "object"),
        counted(preview.errors(), "error"),
        counted(preview.count(Severity::Warning), "warning"),
    ));
    out
}

fn same_object(finding: &Finding, object: &Object) -> bool {
    finding.kind == object.kind
        && finding.namespace == object.namespace
        && finding.name == object.name
}

fn finding_line(finding: &Finding) -> String {
    let severity = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Wait => "waits",
    };
    let field = if finding.field.is_empty() {
        String::new()
    } else {
        format!("{}: ", finding.field)
    };
    format!("  {severity}: {field}{}\n", finding.message)
}

/// The machines of a plan's templates (objects the manifests do not hold): their findings and
/// writes, under the plan.
fn templates_text(preview: &Preview, plan: &Object, out: &mut String) {
    let mut machines: Vec<&str> = Vec::new();
    for operation in &preview.operations {
        let templated = operation.plan.as_deref() == Some(plan.name.as_str())
            && operation.namespace == plan.namespace
            && !preview.objects.iter().any(|o| {
                o.kind == operation.kind
                    && o.namespace == operation.namespace
                    && o.name == operation.name
            });
        if templated && !machines.contains(&operation.name.as_str()) {
            machines.push(&operation.name);
        }
    }
    for name in machines {
        let object = Object {
            file: String::new(),
            kind: "ReplicatedMachine".into(),
            namespace: plan.namespace.clone(),
            name: name.into(),
        };
        out.push_str(&format!(
            "ReplicatedMachine {}/{name} (from the plan's templates)\n",
            plan.namespace
        ));
        let findings: Vec<&Finding> = preview
            .findings
            .iter()
            .filter(|f| same_object(f, &object))
            .collect();
        for finding in findings.iter().filter(|f| f.severity != Severity::Wait) {
            out.push_str(&finding_line(finding));
        }
        operations_text(preview, &object, out);
        for finding in findings.iter().filter(|f| f.severity == Severity::Wait) {
            out.push_str(&finding_line(finding));
        }
    }
}

/// A resource ID as people read it: from its provider on (the subscription and resource
/// group are the vault's, said once at its first write).
fn short(resource: &str) -> &str {
    if let Some(at) = resource.find("replicationProtectedItems/") {
        return &resource[at..];
    }
    resource
        .split_once("/providers/")
        .map_or(resource, |(_, rest)| rest)
}

/// The object's writes, numbered in the order the controller makes them.
fn operations_text(preview: &Preview, object: &Object, out: &mut String) {
    let operations = preview.operations.iter().filter(|o| {
        o.kind == object.kind && o.namespace == object.namespace && o.name == object.name
    });
    for (number, operation) in operations.enumerate() {
        out.push_str(&format!(
            "  {}. {} {}\n       {}{}\n",
            number + 1,
            operation.method,
            if number == 0 {
                operation.resource.as_str()
            } else {
                short(&operation.resource)
            },
            operation.what,
            operation
                .after
                .as_ref()
                .map(|after| format!(", after {after}"))
                .unwrap_or_default()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn examples() -> Vec<Document> {
        read(&[PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../deploy/examples"
        ))])
        .unwrap()
    }

    #[test]
    fn every_example_is_valid_and_its_references_resolve() {
        let preview = preview(&examples(), "default");
        assert!(preview.objects.len() >= 12, "{:?}", preview.objects);
        assert_eq!(preview.errors(), 0, "{}", text(&preview));
        // The examples that replicate to locally-redundant storage say so, as validate() does.
        let warnings: Vec<(&str, &str)> = preview
            .findings
            .iter()
            .map(|f| (f.name.as_str(), f.field.as_str()))
            .collect();
        assert_eq!(
            warnings,
            [
                ("a2a-neu-to-weu", "spec.storage.replication.create.sku"),
                ("vmware-dc2", "spec.storage.replication.create.sku")
            ]
        );
        let kinds: BTreeSet<&str> = preview.objects.iter().map(|o| o.kind.as_str()).collect();
        assert!(kinds.contains("RecoveryVault") && kinds.contains("MigrationPlan"));
        assert!(text(&preview).ends_with(" objects, 0 errors, 2 warnings\n"));
    }

    #[test]
    fn a_broken_rule_is_an_error_naming_the_field_and_a_missing_vault_a_warning() {
        let mut documents = examples();
        let machine = json!({
            "apiVersion": "cutover.dev/v1alpha1", "kind": "ReplicatedMachine",
            "metadata": {"name": "web01", "namespace": "team"},
            "spec": {"vaultRef": {"name": "elsewhere"}, "source": {"name": "WEB01"}, "osType": "Windows",
                     "target": {"vmSize": "Standard_D2s_v5", "subnet": "frontend", "vmName": "web_01"}},
        });
        documents.push(("web01.yaml".into(), Ok(machine)));
        let preview = preview(&documents, "default");
        assert_eq!(preview.errors(), 1);
        let findings: Vec<(Severity, &str, &str)> = preview
            .findings
            .iter()
            .filter(|f| f.name == "web01")
            .map(|f| (f.severity, f.field.as_str(), f.message.as_str()))
            .collect();
        assert_eq!(
            findings,
            [
                (
                    Severity::Error,
                    "spec.target.vmName",
                    "\"web_01\" is not a valid Azure VM name: 1 to 63 letters, digits and hyphens, starting and ending with a letter or digit"
                ),
                (
                    Severity::Warning,
                    "spec.vaultRef.name",
                    "no RecoveryVault elsewhere in these manifests: it must exist in namespace team"
                ),
            ]
        );
        let text = text(&preview);
        assert!(text.contains("ReplicatedMachine team/web01 (web01.yaml): invalid\n  error: spec.target.vmName: \"web_01\""), "{text}");
    }

    #[test]
    fn duplicates_bad_yaml_and_unknown_kinds_are_errors_and_other_kinds_are_left_alone() {
        let vault = examples()
            .into_iter()
            .find(|(_, d)| d.as_ref().unwrap()["kind"] == "RecoveryVault")
            .unwrap()
            .1;
        let documents = vec![
            ("a.yaml".to_string(), vault.clone()),
            ("b.yaml".to_string(), vault),
            (
                "c.yaml".to_string(),
                Err("mapping values are not allowed here".to_string()),
            ),
            (
                "d.yaml".to_string(),
                Ok(
                    json!({"apiVersion": "cutover.dev/v1alpha1", "kind": "Migration", "metadata": {"name": "x"}}),
                ),
            ),
            (
                "e.yaml".to_string(),
                Ok(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})),
            ),
        ];
        let preview = preview(&documents, "default");
        let messages: Vec<&str> = preview
            .findings
            .iter()
            .map(|f| f.message.as_str())
            .collect();
        assert_eq!(
            messages,
            [
                "the same object is also in a.yaml; the later one would replace it",
                "not a YAML document: mapping values are not allowed here",
                "cutover has no kind \"Migration\"",
            ]
        );
        assert_eq!(preview.objects.len(), 3, "the ConfigMap is not cutover's");
    }
}
