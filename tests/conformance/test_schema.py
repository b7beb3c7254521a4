"""azure-sim's request contract (simulator/contract/schema.json) is what the pinned SDKs say."""

import json
import os

import schema

SCHEMA_PATH = os.path.join(os.path.dirname(__file__), "..", "..", "simulator", "contract", "schema.json")


def test_the_committed_contract_is_the_generated_one(tmp_path):
    assert schema.main(["schema.py", "--check", SCHEMA_PATH]) == 0
    stale = tmp_path / "schema.json"
    document = json.loads(open(SCHEMA_PATH).read())
    del document["models"]["recoveryservicessiterecovery:EnableProtectionInput"]
    stale.write_text(json.dumps(document, indent=1) + "\n")
    assert schema.main(["schema.py", "--check", str(stale)]) == 1


def test_the_contract_holds_the_operations_and_models_of_the_sdks():
    document = schema.generate()
    operations = {o["id"]: o for o in document["operations"]}
    enable = operations["ReplicationProtectedItems_Create"]
    assert enable["method"] == "PUT"
    assert enable["apiVersions"] == ["2025-08-01"]
    # A spec version a known client calls, besides the SDK's own (spec-api-versions.json).
    assert operations["ResourceGroups_CreateOrUpdate"]["apiVersions"] == ["2025-04-01", "2024-11-01"]
    assert enable["body"] == "recoveryservicessiterecovery:EnableProtectionInput"
    assert enable["bodyRequired"] is True
    assert operations["ReplicationProtectedItems_Delete"]["path"].endswith("/remove")
    assert operations["Providers_Register"]["bodyRequired"] is False
    models = document["models"]
    provider_input = models["recoveryservicessiterecovery:EnableProtectionProviderSpecificInput"]
    assert provider_input["discriminator"] == "instanceType"
    assert provider_input["subtypes"]["InMageRcm"] == "recoveryservicessiterecovery:InMageRcmEnableProtectionInput"
    inmage = models["recoveryservicessiterecovery:InMageRcmEnableProtectionInput"]["properties"]
    assert {k for k, v in inmage.items() if v.get("required")} >= {"fabricDiscoveryMachineId", "processServerId", "targetResourceGroupId"}
    # SDKs share model names: each is keyed by its package.
    assert "storage:Sku" in models and "recoveryservices:Sku" in models


def test_what_the_spec_lacks_is_carried_as_a_named_exception_with_its_source():
    document = schema.generate()
    (exception,) = document["exceptions"]
    assert exception["subtype"] == "HyperVSite"
    assert "azure-rest-api-specs issue 22016" in exception["source"]
    fabric_input = document["models"]["recoveryservicessiterecovery:FabricSpecificCreationInput"]
    assert fabric_input["subtypes"]["HyperVSite"] == "recoveryservicessiterecovery:FabricSpecificCreationInput"
