"""The official Site Recovery SDK (azure-mgmt-recoveryservicessiterecovery 2.0.0) against
azure-sim: the whole migration of a Hyper-V machine behind VMM and of an AWS instance, from
fabric to disabled protection, through the SDK's own LRO pollers."""

import time

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import AddressSpace, Subnet, VirtualNetwork
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.recoveryservices.models import Sku as VaultSku
from azure.mgmt.recoveryservices.models import Vault, VaultProperties
from azure.mgmt.recoveryservicessiterecovery import SiteRecoveryManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage.models import Sku as StorageSku
from azure.mgmt.storage.models import StorageAccountCreateParameters

LOCATION = "westeurope"


class LandingZone:
    """A resource group, vault, storage account and target + test VNets, as the built-in
    inventory expects them (its sources register with these vaults)."""

    def __init__(self, client_args, group, vault, storage):
        self.group, self.vault, self.client_args = group, vault, client_args
        resources = ResourceManagementClient(**client_args)
        self.group_id = resources.resource_groups.create_or_update(group, {"location": LOCATION}).id
        RecoveryServicesClient(**client_args).vaults.begin_create_or_update(
            group, vault, Vault(location=LOCATION, sku=VaultSku(name="Standard"), properties=VaultProperties(public_network_access="Enabled"))
        ).result()
        self.storage_id = StorageManagementClient(**client_args).storage_accounts.begin_create(
            group, storage, StorageAccountCreateParameters(sku=StorageSku(name="Standard_GRS"), kind="StorageV2", location=LOCATION)
        ).result().id
        network = NetworkManagementClient(**client_args)
        self.vnet_id, self.test_vnet_id = (
            network.virtual_networks.begin_create_or_update(
                group,
                name,
                VirtualNetwork(location=LOCATION, address_space=AddressSpace(address_prefixes=["10.9.0.0/16"]), subnets=[Subnet(name="app", address_prefix="10.9.1.0/24")]),
            ).result().id
            for name in ("vnet-target", "vnet-test")
        )
        self.asr = SiteRecoveryManagementClient(**client_args)
        self.resources = resources

    def wait_until(self, fabric, container, item, predicate, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            current = self.asr.replication_protected_items.get(self.group, self.vault, fabric, container, item)
            if predicate(current):
                return current
            assert time.monotonic() < deadline, f"{item} stuck in {current.properties.protection_state}"
            time.sleep(0.2)


def only(items, **attributes):
    matching = [i for i in items if all(getattr(i.properties, k) == v for k, v in attributes.items())]
    assert len(matching) == 1, f"{attributes}: {[i.properties for i in items]}"
    return matching[0]


@pytest.fixture(scope="module")
def vmm(client_args):
    return LandingZone(client_args, "rg-migration-dc1", "dc1-vault", "dc1replication")


@pytest.fixture(scope="module")
def aws(client_args):
    return LandingZone(client_args, "rg-migration-aws", "aws-vault", "awsreplication")


def test_hyper_v_vmm_machine_migrates_end_to_end(vmm):
    asr, g, v = vmm.asr, vmm.group, vmm.vault

    # The VMM server registered with the vault: its fabric, clouds and VM networks are there.
    fabric = only(list(asr.replication_fabrics.list(g, v)), friendly_name="vmm01.contoso.local")
    assert fabric.properties.custom_details.instance_type == "VMM"
    gold = only(list(asr.replication_protection_containers.list_by_replication_fabrics(g, v, fabric.name)), friendly_name="Gold")
    assert gold.properties.pairing_status == "NotPaired"

    policy = asr.replication_policies.begin_create(g, v, "migration-24h", {"properties": {"providerSpecificInput": {
        "instanceType": "HyperVReplicaAzure", "recoveryPointHistoryDuration": 24,
        "applicationConsistentSnapshotFrequencyInHours": 4, "replicationInterval": 300, "storageAccounts": [vmm.storage_id],
    }}}).result()
    assert policy.properties.provider_specific_details.instance_type == "HyperVReplicaAzure"
    assert policy.properties.provider_specific_details.replication_interval == 300

    mapping = asr.replication_protection_container_mappings.begin_create(g, v, fabric.name, gold.name, "gold-to-azure", {"properties": {
        "targetProtectionContainerId": "Microsoft Azure", "policyId": policy.id,
        "providerSpecificInput": {"instanceType": "ReplicationProviderSpecificContainerMappingInput"},
    }}).result()
    assert mapping.properties.state == "Paired"
    assert mapping.properties.target_protection_container_friendly_name == "Microsoft Azure"

    corp_web = only(list(asr.replication_networks.list_by_replication_fabrics(g, v, fabric.name)), friendly_name="corp-web")
    network_mapping = asr.replication_network_mappings.begin_create(g, v, fabric.name, corp_web.name, "corp-web-to-azure", {"properties": {
        "recoveryFabricName": "Microsoft Azure", "recoveryNetworkId": vmm.vnet_id,
        "fabricSpecificDetails": {"instanceType": "VmmToAzure"},
    }}).result()
    assert network_mapping.properties.state == "Paired"
    assert network_mapping.properties.recovery_network_id == vmm.vnet_id

    web01 = only(list(asr.replication_protectable_items.list_by_replication_protection_containers(g, v, fabric.name, gold.name)), friendly_name="WEB01")
    assert web01.properties.protection_status == "Unprotected"
    assert web01.properties.custom_details.instance_type == "HyperVVirtualMachine"

    enable = {"properties": {"policyId": policy.id, "protectableItemId": web01.id, "providerSpecificDetails": {
        "instanceType": "HyperVReplicaAzure", "hvHostVmId": web01.properties.custom_details.source_item_id, "vmName": "WEB01",
        "osType": "Windows", "targetStorageAccountId": vmm.storage_id, "targetAzureNetworkId": vmm.vnet_id,
        "targetAzureSubnetId": "app", "targetAzureVmName": "web01", "targetAzureV2ResourceGroupId": vmm.group_id,
        "useManagedDisks": "true", "targetVmSize": "Standard_D2s_v5", "licenseType": "WindowsServer",
    }}}
    asr.replication_protected_items.begin_create(g, v, fabric.name, gold.name, "web01", enable).result()
    item = vmm.wait_until(fabric.name, gold.name, "web01", lambda i: i.properties.protection_state == "Protected")
    details = item.properties.provider_specific_details
    assert details.instance_type == "HyperVReplicaAzure"
    assert details.initial_replication_details.initial_replication_progress_percentage == "100"
    assert details.rpo_in_seconds > 0
    assert item.properties.replication_health == "Normal"
    assert {"TestFailover", "PlannedFailover", "UnplannedFailover"} <= set(item.properties.allowed_operations)

    # The failed-over VM's static address, set in place (ReplicationProtectedItems_Update, the
    # shape of its 2025-08-01 example): the NIC is the one the GET reports.
    (nic,) = details.vm_nics
    (config,) = nic.ip_configs
    assert (config.name, config.is_primary, config.recovery_subnet_name) == ("ipconfig1", True, "app")
    assert config.recovery_static_ip_address is None
    update = {"properties": {
        "recoveryAzureVMName": "web01", "recoveryAzureVMSize": "Standard_D2s_v5", "selectedRecoveryAzureNetworkId": vmm.vnet_id,
        "vmNics": [{"nicId": nic.nic_id, "selectionType": "SelectedByUser", "ipConfigs": [{
            "ipConfigName": "ipconfig1", "isPrimary": True, "recoverySubnetName": "app", "recoveryStaticIPAddress": "10.9.1.40"}]}],
        "licenseType": "WindowsServer", "providerSpecificDetails": {"instanceType": "HyperVReplicaAzure"},
    }}
    with pytest.raises(HttpResponseError) as refused:
        asr.replication_protected_items.begin_update(g, v, fabric.name, gold.name, "web01", {"properties": {
            **update["properties"], "vmNics": [{**update["properties"]["vmNics"][0], "nicId": "not-a-nic"}]}})
    assert refused.value.status_code == 400
    assert refused.value.response.json()["error"]["target"] == "properties.vmNics[0].nicId"
    updated = asr.replication_protected_items.begin_update(g, v, fabric.name, gold.name, "web01", update).result()
    (config,) = updated.properties.provider_specific_details.vm_nics[0].ip_configs
    assert (config.recovery_static_ip_address, config.recovery_ip_address_type) == ("10.9.1.40", "Static")
    item = vmm.wait_until(fabric.name, gold.name, "web01", lambda i: i.properties.current_scenario.scenario_name == "None")

    failover_input = {"failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": {"instanceType": "HyperVReplicaAzure"}}
    tested = asr.replication_protected_items.begin_test_failover(g, v, fabric.name, gold.name, "web01", {"properties": {
        **failover_input, "networkType": "VmNetworkAsInput", "networkId": vmm.test_vnet_id,
    }}).result()
    assert tested.properties.allowed_operations == ["TestFailoverCleanup"]
    test_vm = vmm.resources.resources.get_by_id(f"{vmm.group_id}/providers/Microsoft.Compute/virtualMachines/web01-test", api_version="2024-07-01")
    assert test_vm.properties["hardwareProfile"]["vmSize"] == "Standard_D2s_v5"

    cleaned = asr.replication_protected_items.begin_test_failover_cleanup(g, v, fabric.name, gold.name, "web01", {"properties": {"comments": "validated"}}).result()
    assert "PlannedFailover" in cleaned.properties.allowed_operations
    with pytest.raises(ResourceNotFoundError):
        vmm.resources.resources.get_by_id(f"{vmm.group_id}/providers/Microsoft.Compute/virtualMachines/web01-test", api_version="2024-07-01")

    failed_over = asr.replication_protected_items.begin_planned_failover(g, v, fabric.name, gold.name, "web01", {"properties": failover_input}).result()
    assert failed_over.properties.active_location == "Recovery"
    assert failed_over.properties.protection_state == "PlannedFailoverCommitRequired"
    assert "Commit" in failed_over.properties.allowed_operations

    # Backing out: the SDK's failoverCancel, refused as any operation allowedOperations leaves
    # out (no source says HyperVReplicaAzure offers CancelFailover after failover; see
    # docs/azure-fidelity.md). The item stays failed over.
    assert "CancelFailover" not in failed_over.properties.allowed_operations
    with pytest.raises(HttpResponseError) as refused:
        asr.replication_protected_items.begin_failover_cancel(g, v, fabric.name, gold.name, "web01").result()
    assert refused.value.status_code == 400
    assert refused.value.error.code == "OperationNotAllowed"
    still = asr.replication_protected_items.get(g, v, fabric.name, gold.name, "web01")
    assert still.properties.active_location == "Recovery"

    committed = asr.replication_protected_items.begin_failover_commit(g, v, fabric.name, gold.name, "web01").result()
    assert "DisableProtection" in committed.properties.allowed_operations

    asr.replication_protected_items.begin_delete(g, v, fabric.name, gold.name, "web01", {"properties": {"disableProtectionReason": "MigrationComplete"}}).result()
    with pytest.raises(ResourceNotFoundError):
        asr.replication_protected_items.get(g, v, fabric.name, gold.name, "web01")
    migrated = vmm.resources.resources.get_by_id(f"{vmm.group_id}/providers/Microsoft.Compute/virtualMachines/web01", api_version="2024-07-01")
    assert migrated.name == "web01"
    nic = NetworkManagementClient(**vmm.client_args).network_interfaces.get(g, "web01-nic")
    (ip,) = nic.ip_configurations
    assert (ip.private_ip_address, ip.private_ip_allocation_method) == ("10.9.1.40", "Static")

    jobs = {(j.properties.scenario_name, j.properties.state) for j in asr.replication_jobs.list(g, v)}
    for scenario in ["EnableDr", "TestFailover", "TestFailoverCleanup", "PlannedFailover", "Commit", "DisableDr"]:
        assert (scenario, "Succeeded") in jobs, jobs


def discovered(asr, site, what):
    """A list of an Azure Migrate site (`machines`, `runasaccounts`), through the SDK client's own
    authenticated pipeline: Microsoft.OffAzure has no SDK pinned here. Server sites are in
    Microsoft.OffAzure 2023-06-06, the first version that has them."""
    response = asr.send_request(HttpRequest("GET", f"{site}/{what}", params={"api-version": "2023-06-06"}))
    response.raise_for_status()
    return response.json()["value"]


def only_discovered(items, display_name):
    matching = [i for i in items if i["properties"]["displayName"] == display_name]
    assert len(matching) == 1, f"{display_name}: {items}"
    return matching[0]


def test_aws_instance_migrates_as_a_physical_server(aws):
    asr, g, v = aws.asr, aws.group, aws.vault
    fabric = only(list(asr.replication_fabrics.list(g, v)), friendly_name="aws-appliance")
    assert fabric.properties.custom_details.instance_type == "InMageRcm"
    # The appliance's process server, which an InMageRcm enable must name.
    (process_server,) = fabric.properties.custom_details.process_servers
    assert process_server.name == "aws-appliance"
    container = list(asr.replication_protection_containers.list_by_replication_fabrics(g, v, fabric.name))[0]

    policy = asr.replication_policies.begin_create(g, v, "migration-rcm", {"properties": {"providerSpecificInput": {
        "instanceType": "InMageRcm", "recoveryPointHistoryInMinutes": 1440, "appConsistentFrequencyInMinutes": 240,
        "crashConsistentFrequencyInMinutes": 5, "enableMultiVmSync": "True",
    }}}).result()
    assert policy.properties.provider_specific_details.recovery_point_history_in_minutes == 1440
    asr.replication_protection_container_mappings.begin_create(g, v, fabric.name, container.name, "rcm-to-azure", {"properties": {
        "targetProtectionContainerId": "Microsoft Azure", "policyId": policy.id, "providerSpecificInput": {"instanceType": "ReplicationProviderSpecificContainerMappingInput"},
    }}).result()

    # InMageRcm has no protectable items: the appliance's machines are in the fabric's Azure
    # Migrate server site (physicalSiteId), as Az PowerShell's PSAsrFabricDiscoveryClient reads them.
    assert list(asr.replication_protectable_items.list_by_replication_protection_containers(g, v, fabric.name, container.name)) == []
    site = fabric.properties.custom_details.physical_site_id
    assert "/providers/Microsoft.OffAzure/ServerSites/" in site
    store_web = only_discovered(discovered(asr, site, "machines"), "store-web")
    assert store_web["type"].lower() == "microsoft.offazure/serversites/machines"
    (account,) = [a for a in discovered(asr, site, "runasaccounts") if a["properties"]["displayName"] == "linux-admin"]
    assert account["properties"]["applianceName"] == "aws-appliance"
    # What names no discovered machine, run-as account or disk of the site is refused.
    base = {"instanceType": "InMageRcm", "targetResourceGroupId": aws.group_id, "fabricDiscoveryMachineId": store_web["id"],
            "processServerId": process_server.id}
    for change, target in [
        ({"fabricDiscoveryMachineId": "i-0a1b2c3d4e5f60718"}, "properties.providerSpecificDetails.fabricDiscoveryMachineId"),
        ({"runAsAccountId": f"{site}/runasaccounts/nobody"}, "properties.providerSpecificDetails.runAsAccountId"),
        ({"disksToInclude": [{"diskId": "vol-0nope", "logStorageAccountId": aws.storage_id, "diskType": "Standard_LRS"}]},
         "properties.providerSpecificDetails.disksToInclude"),
    ]:
        with pytest.raises(HttpResponseError) as refused:
            asr.replication_protected_items.begin_create(g, v, fabric.name, container.name, "store-web", {"properties": {
                "policyId": policy.id, "providerSpecificDetails": {**base, **change}}})
        assert refused.value.status_code == 400
        assert refused.value.response.json()["error"]["target"] == target, refused.value.response.json()
    asr.replication_protected_items.begin_create(g, v, fabric.name, container.name, "store-web", {"properties": {
        "policyId": policy.id, "providerSpecificDetails": {
            "instanceType": "InMageRcm", "fabricDiscoveryMachineId": store_web["id"], "runAsAccountId": account["id"],
            "targetResourceGroupId": aws.group_id, "targetNetworkId": aws.vnet_id, "testNetworkId": aws.test_vnet_id,
            "targetSubnetName": "app", "testSubnetName": "app", "targetVmName": "store-web", "targetVmSize": "Standard_D2s_v5",
            "processServerId": process_server.id, "disksDefault": {"logStorageAccountId": aws.storage_id, "diskType": "Standard_LRS"},
        },
    }}).result()
    item = aws.wait_until(fabric.name, container.name, "store-web", lambda i: i.properties.protection_state == "Protected")
    assert item.properties.provider_specific_details.instance_type == "InMageRcm"
    assert item.properties.provider_specific_details.initial_replication_progress_percentage == 100
    # VMware/physical replication has no planned failover.
    assert "PlannedFailover" not in item.properties.allowed_operations
    # InMage RCM's NICs are its provider's (InMageRcmNicDetails), the source MAC their ID.
    (nic,) = item.properties.provider_specific_details.vm_nics
    assert (nic.is_primary_nic, nic.target_subnet_name, nic.target_ip_address_type) == ("true", "app", "Dynamic")
    asr.replication_protected_items.begin_update(g, v, fabric.name, container.name, "store-web", {"properties": {
        "providerSpecificDetails": {"instanceType": "InMageRcm", "targetVmSize": "Standard_D4s_v5", "vmNics": [{
            "nicId": nic.nic_id, "isPrimaryNic": "true", "targetSubnetName": "app", "targetStaticIPAddress": "10.9.1.50"}]},
    }}).result()
    item = aws.wait_until(fabric.name, container.name, "store-web", lambda i: i.properties.current_scenario.scenario_name == "None")
    details = item.properties.provider_specific_details
    assert (details.target_vm_size, details.vm_nics[0].target_ip_address, details.vm_nics[0].target_ip_address_type) == (
        "Standard_D4s_v5", "10.9.1.50", "Static")

    test_input = {"properties": {"failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": {"instanceType": "InMageRcm", "networkId": aws.test_vnet_id}}}
    poller = asr.replication_protected_items.begin_test_failover(g, v, fabric.name, container.name, "store-web", test_input)
    # A second test failover while the first runs is refused: 409, nothing started twice.
    with pytest.raises(HttpResponseError) as conflict:
        asr.replication_protected_items.begin_test_failover(g, v, fabric.name, container.name, "store-web", test_input)
    assert conflict.value.status_code == 409
    poller.result()
    asr.replication_protected_items.begin_test_failover_cleanup(g, v, fabric.name, container.name, "store-web", {"properties": {"comments": "ok"}}).result()

    with pytest.raises(HttpResponseError) as refused:
        asr.replication_protected_items.begin_planned_failover(g, v, fabric.name, container.name, "store-web", {"properties": {
            "failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": {"instanceType": "InMageRcm"}}})
    assert refused.value.status_code == 400

    failed_over = asr.replication_protected_items.begin_unplanned_failover(g, v, fabric.name, container.name, "store-web", {"properties": {
        "failoverDirection": "PrimaryToRecovery", "sourceSiteOperations": "NotRequired",
        "providerSpecificDetails": {"instanceType": "InMageRcm", "performShutdown": "true"},
    }}).result()
    assert failed_over.properties.active_location == "Recovery"
    asr.replication_protected_items.begin_failover_commit(g, v, fabric.name, container.name, "store-web").result()
    asr.replication_protected_items.begin_delete(g, v, fabric.name, container.name, "store-web", {"properties": {"disableProtectionReason": "MigrationComplete"}}).result()
    assert [i.name for i in asr.replication_protected_items.list(g, v)] == []


def test_a_failed_job_reports_asrs_error_and_leaves_the_item_where_it_was(sim, aws):
    asr, g, v = aws.asr, aws.group, aws.vault
    fabric = only(list(asr.replication_fabrics.list(g, v)), friendly_name="aws-appliance")
    container = list(asr.replication_protection_containers.list_by_replication_fabrics(g, v, fabric.name))[0]
    policy = list(asr.replication_policies.list(g, v))[0]
    if not list(asr.replication_protection_container_mappings.list_by_replication_protection_containers(g, v, fabric.name, container.name)):
        asr.replication_protection_container_mappings.begin_create(g, v, fabric.name, container.name, "rcm-to-azure", {"properties": {
            "targetProtectionContainerId": "Microsoft Azure", "policyId": policy.id, "providerSpecificInput": {"instanceType": "ReplicationProviderSpecificContainerMappingInput"}}}).result()
    asr.replication_protected_items.begin_create(g, v, fabric.name, container.name, "store-api", {"properties": {
        "policyId": policy.id, "providerSpecificDetails": {
            "instanceType": "InMageRcm", "targetResourceGroupId": aws.group_id,
            "fabricDiscoveryMachineId": only_discovered(discovered(asr, fabric.properties.custom_details.physical_site_id, "machines"), "store-api")["id"],
            "targetNetworkId": aws.vnet_id, "targetVmName": "store-api",
            "processServerId": fabric.properties.custom_details.process_servers[0].id}}}).result()
    aws.wait_until(fabric.name, container.name, "store-api", lambda i: i.properties.protection_state == "Protected")

    fault = {"method": "POST", "pathContains": "/testFailover", "times": 1, "failJob": {
        "code": "70094", "message": "The test failover network is not reachable.",
        "possibleCauses": "The network has no free addresses.", "recommendedAction": "Pick another test network."}}
    assert requests.post(f"{sim['armEndpoint']}/_sim/faults", json=fault).status_code == 201
    test_input = {"properties": {"failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": {"instanceType": "InMageRcm", "networkId": aws.test_vnet_id}}}
    with pytest.raises(HttpResponseError) as failed:
        asr.replication_protected_items.begin_test_failover(g, v, fabric.name, container.name, "store-api", test_input).result()
    assert failed.value.error.code == "70094"

    job = next(j for j in asr.replication_jobs.list(g, v) if j.properties.scenario_name == "TestFailover" and j.properties.state == "Failed")
    error = job.properties.errors[0].service_error_details
    assert (error.code, error.recommended_action) == ("70094", "Pick another test network.")
    item = asr.replication_protected_items.get(g, v, fabric.name, container.name, "store-api")
    assert "TestFailover" in item.properties.allowed_operations
    requests.delete(f"{sim['armEndpoint']}/_sim/faults")
