"""The official Azure CLI (pinned in azure-cli-requirements.txt) signs in to azure-sim as a new
user would, and reads and writes the resources cutover uses.

The CLI is registered as a cloud from azure-sim's `/metadata/endpoints` (what `az cloud register
--endpoint-resource-manager` reads), signs in with a service principal (OpenID configuration,
the token endpoint, then `GET /subscriptions`), and drives ARM at its own api-versions. MSAL's
instance discovery would ask login.microsoftonline.com about a host it does not know: the CLI's
setting for clouds of their own (Azure Stack), `core.instance_discovery=false`, turns it off.
"""

import json
import os
import subprocess

import pytest

CLI = os.environ.get("AZURE_CLI")


@pytest.fixture
def az(sim, tmp_path):
    """Runs `az` with a configuration of its own (a fresh one per test: MSAL's token cache keys
    on the host without the port)."""
    assert CLI, "AZURE_CLI must name the pinned Azure CLI's az (tests/run installs it)"
    env = {
        **os.environ,
        "AZURE_CONFIG_DIR": str(tmp_path),
        "AZURE_CORE_INSTANCE_DISCOVERY": "false",
        "AZURE_CORE_COLLECT_TELEMETRY": "no",
        "AZURE_CORE_NO_COLOR": "1",
        "AZURE_CORE_SURVEY_MESSAGE": "no",
        "AZURE_CORE_ONLY_SHOW_ERRORS": "1",
        "REQUESTS_CA_BUNDLE": sim["certFile"],
    }

    def run(*args, ok=True):
        result = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=180)
        if ok:
            assert result.returncode == 0, f"az {' '.join(args)}: {result.stderr}"
        return result

    return run


def signed_in(az, sim):
    arm = sim["armEndpoint"].rstrip("/")
    az("cloud", "register", "--name", "AzureSim", "--endpoint-resource-manager", arm)
    az("cloud", "set", "--name", "AzureSim")
    accounts = json.loads(
        az("login", "--service-principal", "--username", sim["clientId"], "--password", sim["clientSecret"],
           "--tenant", sim["tenantId"], "--output", "json").stdout
    )
    return accounts


def test_the_azure_cli_registers_azure_sim_as_a_cloud_and_signs_in(az, sim):
    accounts = signed_in(az, sim)
    assert [(a["id"], a["state"], a["tenantId"], a["user"]["type"]) for a in accounts] == [
        (sim["subscriptionId"], "Enabled", sim["tenantId"], "servicePrincipal")
    ]
    cloud = json.loads(az("cloud", "show", "--name", "AzureSim", "--output", "json").stdout)
    assert cloud["endpoints"]["activeDirectory"].rstrip("/") == sim["armEndpoint"].rstrip("/").lower()
    assert cloud["endpoints"]["activeDirectoryResourceId"] == "https://management.core.windows.net/"
    token = json.loads(az("account", "get-access-token", "--output", "json").stdout)
    assert token["accessToken"] and token["subscription"] == sim["subscriptionId"]


def test_a_wrong_secret_is_refused_with_entras_error(az, sim):
    az("cloud", "register", "--name", "AzureSim", "--endpoint-resource-manager", sim["armEndpoint"].rstrip("/"))
    az("cloud", "set", "--name", "AzureSim")
    refused = az("login", "--service-principal", "--username", sim["clientId"], "--password", "not-the-secret",
                 "--tenant", sim["tenantId"], ok=False)
    assert refused.returncode != 0
    assert "Invalid client secret" in refused.stderr, refused.stderr


def test_the_azure_cli_reads_and_writes_what_cutover_uses(az, sim):
    signed_in(az, sim)
    group = json.loads(az("group", "create", "--name", "rg-cli", "--location", "westeurope", "--output", "json").stdout)
    assert group["properties"]["provisioningState"] == "Succeeded"
    assert group["id"] == f"/subscriptions/{sim['subscriptionId']}/resourceGroups/rg-cli"
    assert [g["name"] for g in json.loads(az("group", "list", "--output", "json").stdout) if g["name"] == "rg-cli"] == ["rg-cli"]

    # A vault, created at the api-version the CLI picks from the provider's resource types.
    vault_id = f"{group['id']}/providers/Microsoft.RecoveryServices/vaults/cli-vault"
    az("resource", "create", "--id", vault_id, "--is-full-object", "--properties",
       json.dumps({"location": "westeurope", "sku": {"name": "Standard"}, "properties": {"publicNetworkAccess": "Enabled"}}))
    vault = json.loads(az("resource", "show", "--ids", vault_id, "--output", "json").stdout)
    assert vault["type"] == "Microsoft.RecoveryServices/vaults"
    assert vault["location"] == "westeurope"
    listed = json.loads(az("resource", "list", "--resource-group", "rg-cli", "--output", "json").stdout)
    assert [r["id"] for r in listed] == [vault_id]

    provider = json.loads(az("provider", "show", "--namespace", "Microsoft.RecoveryServices", "--output", "json").stdout)
    assert provider["registrationState"] == "Registered"

    az("resource", "delete", "--ids", vault_id)
    az("group", "delete", "--name", "rg-cli", "--yes")
    assert az("group", "show", "--name", "rg-cli", ok=False).returncode != 0
