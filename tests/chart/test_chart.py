"""The Helm chart, as far as this machine can test it without helm: its values schema accepts
the defaults and rejects bad values (what `helm install` would refuse), its templates only
read values that exist, it grants exactly the RBAC the kustomize install grants (which
tests/tests/deploy.rs proves is enough), it sets only flags `cutover run` knows, and its CRDs
are the generated ones."""

import copy
import json
import os
import pathlib
import re
import subprocess

import jsonschema
import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "cutover"
TEMPLATES = CHART / "templates"


def values():
    return yaml.safe_load((CHART / "values.yaml").read_text())


def validator():
    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def with_value(path, value):
    doc = values()
    node = doc
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return doc


def test_the_default_values_are_valid():
    errors = list(validator().iter_errors(values()))
    assert errors == []


def test_a_custom_cloud_with_its_endpoints_is_valid():
    doc = values()
    doc["azure"].update(
        cloud="Custom",
        armEndpoint="https://management.example.internal/",
        armAudience="https://management.example.internal",
        authorityHost="https://login.example.internal/",
        tenantId="72f988bf-86f1-41af-91ab-2d7cd011db47",
        clientId="0b9e5d5c-4f4e-4c57-9d4d-2f3c1a2b3c4d",
    )
    doc["watchNamespace"] = "migrations"
    assert list(validator().iter_errors(doc)) == []


BAD_VALUES = [
    ("replicaCount", 0),
    ("replicaCount", "two"),
    ("image.pullPolicy", "Sometimes"),
    ("image.repository", ""),
    ("azure.tenantId", "contoso.onmicrosoft.com"),
    ("azure.clientId", "not-a-guid"),
    ("azure.cloud", "AzureGermanCloud"),
    ("azure.armEndpoint", "http://management.azure.com/"),
    ("azure.authorityHost", "login.microsoftonline.com"),
    ("azure.caBundle", {"configMap": "Corp_CA", "key": "ca.crt"}),
    ("watchNamespace", "Team_A"),
    ("watchNamespace", ["team-a", "team-b"]),
    ("logging.level", "verbose"),
    ("logging.format", "yaml"),
    ("reconcile.pollSeconds", 0),
    ("reconcile.resyncSeconds", 5),
    ("leaderElection.enabled", "yes"),
    ("leaderElection.leaseDurationSeconds", 1),
    ("metrics.port", 80),
    ("metrics.serviceMonitor.interval", "30"),
    ("resources.limits", {"memory": "lots"}),
    ("serviceAccount.annotations", {"a": 1}),
    ("replicas", 3),
    ("webhook.failurePolicy", "Retry"),
    ("webhook.port", 0),
    ("webhook.timeoutSeconds", 31),
    ("webhook.namespaceSelector", {"matchExpressions": [{"key": "a", "operator": "Maybe"}]}),
    ("webhook.certManager", {"enabled": "yes"}),
]


@pytest.mark.parametrize("path,value", BAD_VALUES, ids=[p for p, _ in BAD_VALUES])
def test_a_bad_value_is_refused(path, value):
    doc = with_value(path, value)
    errors = list(validator().iter_errors(doc))
    assert errors, f"{path}={value!r} was accepted"


def test_a_custom_cloud_needs_its_endpoints():
    doc = with_value("azure.cloud", "Custom")
    messages = [e.message for e in validator().iter_errors(doc)]
    assert messages, "cloud: Custom without endpoints was accepted"


def template_value_paths():
    paths = set()
    for template in TEMPLATES.iterdir():
        paths.update(re.findall(r"\.Values((?:\.[A-Za-z][A-Za-z0-9]*)+)", template.read_text()))
    return sorted(p.lstrip(".") for p in paths)


def test_templates_read_only_values_that_exist():
    defaults = values()
    paths = template_value_paths()
    assert len(paths) > 20
    for path in paths:
        node = defaults
        for key in path.split("."):
            assert isinstance(node, dict) and key in node, f".Values.{path} is not in values.yaml"
            node = node[key]


def test_every_value_is_used_by_a_template():
    used = set(template_value_paths())

    def leaves(node, prefix=""):
        for key, value in node.items():
            path = f"{prefix}{key}"
            if isinstance(value, dict) and value and path not in used:
                yield from leaves(value, path + ".")
            else:
                yield path

    unused = [p for p in leaves(values()) if not any(u == p or u.startswith(p + ".") or p.startswith(u + ".") for u in used)]
    assert unused == []


def chart_rules():
    helpers = (TEMPLATES / "_helpers.tpl").read_text()
    block = re.search(r'{{- define "cutover.rules" -}}\n(.*?){{- end -}}', helpers, re.S).group(1)
    return yaml.safe_load(block)


def kustomize_rules(path, kind):
    for doc in yaml.safe_load_all((ROOT / path).read_text()):
        if doc["kind"] == kind:
            return doc["rules"]
    raise AssertionError(f"no {kind} in {path}")


def test_the_chart_grants_what_the_tested_kustomize_install_grants():
    rules = chart_rules()
    assert rules == kustomize_rules("deploy/base/rbac.yaml", "ClusterRole")
    assert rules == kustomize_rules("deploy/overlays/single-namespace/role.yaml", "Role")
    verbs = {v for rule in rules for v in rule["verbs"]}
    assert "*" not in verbs and "escalate" not in verbs and "bind" not in verbs
    secrets = [r for r in rules if "secrets" in r["resources"]]
    assert secrets == [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]


def chart_env_names():
    text = (TEMPLATES / "deployment.yaml").read_text()
    return set(re.findall(r"- name: ([A-Z][A-Z0-9_]+)", text))


def test_the_chart_sets_the_environment_the_kustomize_deployment_sets():
    deployment = next(
        d for d in yaml.safe_load_all((ROOT / "deploy/base/deployment.yaml").read_text())
    )
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    kustomize_env = {e["name"] for e in container["env"]}
    assert kustomize_env <= chart_env_names()
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "privileged": False,
        "capabilities": {"drop": ["ALL"]},
    }
    chart = (TEMPLATES / "deployment.yaml").read_text()
    for line in [
        "runAsNonRoot: true",
        "type: RuntimeDefault",
        "allowPrivilegeEscalation: false",
        "readOnlyRootFilesystem: true",
        "drop: [ALL]",
        "path: /healthz",
        "path: /readyz",
    ]:
        assert line in chart


def test_every_cutover_variable_the_chart_sets_is_a_flag_of_cutover_run():
    binary = os.environ["CUTOVER_BIN"]
    help_text = subprocess.run([binary, "run", "--help"], capture_output=True, text=True, check=True).stdout
    known = set(re.findall(r"\[env: ([A-Z0-9_]+)=", help_text))
    ours = {n for n in chart_env_names() if n.startswith(("CUTOVER_", "AZURE_"))}
    assert ours, "the chart sets no cutover variable"
    assert ours - known == set(), help_text


def test_the_chart_crds_are_the_generated_ones():
    for crd in (ROOT / "crds").glob("*.yaml"):
        assert (CHART / "crds" / crd.name).read_text() == crd.read_text()
        assert (ROOT / "deploy/base/crds" / crd.name).read_text() == crd.read_text()


def chart_webhook_block(kind, field):
    """`field` of the `kind` document of templates/webhook.yaml, with the names the default
    release gives (the chart's fullname is `cutover`)."""
    text = (TEMPLATES / "webhook.yaml").read_text()
    for document in text.split("\n---\n"):
        if re.search(rf"^kind: {kind}$", document, re.M):
            block = re.search(rf"^{field}:\n(.*?)(?=^[a-z]|\Z|^{{{{)", document, re.M | re.S).group(1)
            block = block.replace("{{ $secret }}", "cutover-webhook-tls").replace("{{ $name }}", "cutover")
            assert "{{" not in block, block
            return yaml.safe_load(block)
    raise AssertionError(f"no {kind} in templates/webhook.yaml")


def test_the_chart_webhook_grants_and_matches_what_the_tested_kustomize_component_does():
    component = "deploy/components/webhook/webhook-rbac.yaml"
    assert chart_webhook_block("Role", "rules") == kustomize_rules(component, "Role")
    assert chart_webhook_block("ClusterRole", "rules") == kustomize_rules(component, "ClusterRole")
    shipped = next(
        d for d in yaml.safe_load_all((ROOT / "deploy/components/webhook/webhook.yaml").read_text())
        if d["kind"] == "ValidatingWebhookConfiguration"
    )["webhooks"][0]
    chart = (TEMPLATES / "webhook.yaml").read_text()
    rules = re.search(r"^  rules:\n(.*?)^  clientConfig:", chart, re.M | re.S).group(1)
    assert yaml.safe_load(rules) == shipped["rules"]
    assert shipped["namespaceSelector"] == values()["webhook"]["namespaceSelector"]
    assert shipped["failurePolicy"] == values()["webhook"]["failurePolicy"]
    assert shipped["timeoutSeconds"] == values()["webhook"]["timeoutSeconds"]
    for line in ["sideEffects: None", "admissionReviewVersions: [v1]", "path: /validate"]:
        assert line in chart
