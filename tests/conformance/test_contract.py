"""The contract checker itself: it accepts the request bodies of Microsoft's recorded examples
(azure-rest-api-specs, Site Recovery 2025-08-01, quoted below) and refuses what the models refuse."""

import contract

VAULT = "/subscriptions/c183865e-6077-46f2-a3b1-deb0f4f4650a/resourceGroups/resourceGroupPS1/providers/Microsoft.RecoveryServices/vaults/vault1"
CONTAINER = VAULT + "/replicationFabrics/cloud1/replicationProtectionContainers/cloud_6d224fc6-f326-5d35-96de-fbf51efb3179"
ITEM = CONTAINER + "/replicationProtectedItems/f8491e4f-817a-40dd-a90c-af773978c75b"
ASR = "api-version=2025-08-01"


def violations(method, path, body, query=ASR):
    return contract.check_request({"method": method, "path": path, "query": query, "body": body})


def test_the_recorded_examples_are_clean():
    examples = [
        # ReplicationProtectedItems_Delete.json
        ("POST", ITEM + "/remove", {"properties": {"replicationProviderInput": {"instanceType": "DisableProtectionProviderSpecificInput"}}}),
        # ReplicationProtectedItems_UnplannedFailover.json
        ("POST", ITEM + "/unplannedFailover", {"properties": {"failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired", "providerSpecificDetails": {"instanceType": "HyperVReplicaAzure"}}}),
        # ReplicationProtectionContainerMappings_Create.json
        ("PUT", CONTAINER + "/replicationProtectionContainerMappings/cloud1protectionprofile1", {"properties": {"targetProtectionContainerId": "Microsoft Azure", "policyId": VAULT + "/replicationPolicies/protectionprofile1", "providerSpecificInput": {"instanceType": "ReplicationProviderSpecificContainerMappingInput"}}}),
        ("POST", ITEM + "/failoverCommit", None),
    ]
    for method, path, body in examples:
        assert violations(method, path, body) == [], (method, path)


def test_what_the_models_refuse_is_named():
    cases = [
        (
            "a provider name as a disable-protection discriminator",
            ("POST", ITEM + "/remove", {"properties": {"disableProtectionReason": "MigrationComplete", "replicationProviderInput": {"instanceType": "InMageRcm"}}}),
            "ReplicationProtectedItems_Delete: body.properties.replicationProviderInput.instanceType: 'InMageRcm' is not a DisableProtectionProviderSpecificInput (known: DisableProtectionProviderSpecificInput, InMage)",
        ),
        (
            "a key the model does not have",
            ("POST", ITEM + "/remove", {"properties": {"reason": "x"}}),
            "ReplicationProtectedItems_Delete: body.properties.reason: not a property of DisableProtectionInputProperties",
        ),
        (
            "a required property left out",
            ("PUT", ITEM, {"properties": {"policyId": "p", "providerSpecificDetails": {"instanceType": "InMageRcm", "fabricDiscoveryMachineId": "m", "targetResourceGroupId": "g"}}}),
            "ReplicationProtectedItems_Create: body.properties.providerSpecificDetails.processServerId: required by InMageRcmEnableProtectionInput",
        ),
        (
            "tags as a map where the model has a list",
            ("PUT", ITEM, {"properties": {"policyId": "p", "providerSpecificDetails": {"instanceType": "InMageRcm", "fabricDiscoveryMachineId": "m", "targetResourceGroupId": "g", "processServerId": "ps", "targetVmTags": {}}}}),
            "ReplicationProtectedItems_Create: body.properties.providerSpecificDetails.targetVmTags: expected a list, got {}",
        ),
        (
            "a number where the model has a string",
            ("POST", ITEM + "/unplannedFailover", {"properties": {"failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": {"instanceType": "InMageRcm", "performShutdown": True}}}),
            "ReplicationProtectedItems_UnplannedFailover: body.properties.providerSpecificDetails.performShutdown: expected a string, got true",
        ),
        (
            "null for an unset property",
            ("POST", ITEM + "/remove", {"properties": {"disableProtectionReason": None}}),
            "ReplicationProtectedItems_Delete: body.properties.disableProtectionReason: null (an unset property is left out)",
        ),
        (
            "a read-only property",
            ("PUT", VAULT, {"location": "westeurope", "id": VAULT}),
            "Vaults_CreateOrUpdate: body.id: read-only in Vault",
        ),
    ]
    for what, (method, path, body), expected in cases:
        assert expected in violations(method, path, body, "api-version=2026-11-01" if path == VAULT else ASR), what


def test_api_versions_and_paths_are_the_sdks():
    assert violations("POST", ITEM + "/failoverCommit", None, "api-version=2023-08-01") == [
        "ReplicationProtectedItems_FailoverCommit: api-version '2023-08-01', the SDK's is '2025-08-01'"
    ]
    assert violations("POST", ITEM + "/failover", None) == [
        f"POST {ITEM}/failover: no operation of the pinned SDKs has this method and path"
    ]
    assert violations("POST", ITEM + "/failoverCommit", {"properties": {}}) == [
        "ReplicationProtectedItems_FailoverCommit: the operation takes no body"
    ]
