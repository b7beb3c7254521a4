//! `cutover plan`: what a set of manifests (the YAML a GitOps repository holds) would do, before
//! it is applied. With `--offline` it validates them: every cutover object through the same
//! `validate()` the webhook and the reconcilers run, and the references between them. It reads
//! files only and writes nothing.

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
}

impl Preview {
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count()
    }
}

/// `cutover plan`: prints the preview; the exit code is 1 when something would fail.
pub fn run(args: &PlanArgs) -> Result<std::process::ExitCode> {
    if !args.offline {
        anyhow::bail!(
            "reading Azure to list the writes the controller would make is not built yet; \
             run with --offline to validate the manifests"
        );
    }
    let documents = read(&args.files)?;
    let preview = preview(&documents, &args.namespace);
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
            .filter(|f| {
                f.file == object.file
                    && f.kind == object.kind
                    && f.namespace == object.namespace
                    && f.name == object.name
            })
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
        for finding in findings {
            let severity = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            let field = if finding.field.is_empty() {
                String::new()
            } else {
                format!("{}: ", finding.field)
            };
            out.push_str(&format!("  {severity}: {field}{}\n", finding.message));
        }
    }
    for finding in preview.findings.iter().filter(|f| f.kind.is_empty()) {
        out.push_str(&format!("{}: error: {}\n", finding.file, finding.message));
    }
    let counted = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    out.push_str(&format!(
        "{}, {}, {}\n",
        counted(preview.objects.len(), "object"),
        counted(preview.errors(), "error"),
        counted(preview.findings.len() - preview.errors(), "warning"),
    ));
    out
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
