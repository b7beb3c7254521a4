"""Starts azure-sim for the conformance suite and builds SDK clients pointed at it."""

import json
import os
import subprocess
import tempfile

import pytest
from azure.identity import ClientSecretCredential

ARM_SCOPE = "https://management.azure.com/.default"


@pytest.fixture(scope="session")
def sim():
    """A running azure-sim (AZURE_SIM_BIN), time-scaled so provisioning takes well under a second.

    Yields the JSON line the simulator prints at start, plus the URL of its admin API.
    """
    binary = os.environ.get("AZURE_SIM_BIN")
    assert binary, "AZURE_SIM_BIN must name the azure-sim binary (tests/run sets it)"
    cert = tempfile.NamedTemporaryFile(suffix=".pem", delete=False).name
    process = subprocess.Popen(
        [binary, "--time-scale", "600", "--replication-mbps", "100000", "--page-size", "2", "--cert-out", cert],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(process.stdout.readline())
        # requests (under azure-core and MSAL) trusts this bundle for every call.
        os.environ["REQUESTS_CA_BUNDLE"] = info["certFile"]
        yield info
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def credential(sim):
    return ClientSecretCredential(
        sim["tenantId"],
        sim["clientId"],
        sim["clientSecret"],
        authority=sim["authorityHost"],
        disable_instance_discovery=True,
    )


@pytest.fixture(scope="session")
def client_args(sim, credential):
    """Arguments every management client takes to talk to the simulator."""
    return {
        "credential": credential,
        "subscription_id": sim["subscriptionId"],
        "base_url": sim["armEndpoint"],
        "credential_scopes": [ARM_SCOPE],
        # The simulator's Retry-After is already short; do not add the SDK's own 30 s default.
        "polling_interval": 0,
    }
