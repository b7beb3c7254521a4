"""The official Azure SDKs for Python against azure-sim: resource groups, Recovery Services
vaults, storage accounts and virtual networks, through the SDKs' own LRO pollers and pagers."""

import pytest
import requests
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.network.models import AddressSpace, Subnet, VirtualNetwork
from azure.mgmt.recoveryservices import RecoveryServicesClient
from azure.mgmt.recoveryservices.models import Sku as VaultSku
from azure.mgmt.recoveryservices.models import Vault, VaultProperties
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.storage.models import Sku as StorageSku
from azure.mgmt.storage.models import StorageAccountCreateParameters

RG = "rg-conformance"
LOCATION = "westeurope"


@pytest.fixture(scope="module")
def resources(client_args):
    return ResourceManagementClient(**client_args)


@pytest.fixture(scope="module")
def group(resources):
    return resources.resource_groups.create_or_update(RG, {"location": LOCATION, "tags": {"owner": "conformance"}})


def test_resource_group_round_trip(resources, group):
    assert group.name == RG
    assert group.location == LOCATION
    assert group.properties.provisioning_state == "Succeeded"
    fetched = resources.resource_groups.get(RG)
    assert fetched.id.endswith(f"/resourceGroups/{RG}")
    assert fetched.tags == {"owner": "conformance"}
    assert resources.resource_groups.check_existence(RG) is True
    assert resources.resource_groups.check_existence("rg-missing") is False


def test_missing_resource_group_is_resource_group_not_found(resources):
    with pytest.raises(ResourceNotFoundError) as raised:
        resources.resource_groups.get("rg-missing")
    assert raised.value.error.code == "ResourceGroupNotFound"


def test_lists_page_through_next_link(resources):
    for i in range(5):
        resources.resource_groups.create_or_update(f"rg-page-{i}", {"location": LOCATION})
    names = {g.name for g in resources.resource_groups.list()}
    assert {f"rg-page-{i}" for i in range(5)} <= names


def test_resource_group_delete_is_a_long_running_operation(resources):
    resources.resource_groups.create_or_update("rg-doomed", {"location": LOCATION})
    resources.resource_groups.begin_delete("rg-doomed").result()
    assert resources.resource_groups.check_existence("rg-doomed") is False


def test_vault_create_get_list_delete(client_args, group):
    vaults = RecoveryServicesClient(**client_args)
    created = vaults.vaults.begin_create_or_update(
        RG,
        "conformance-vault",
        Vault(location=LOCATION, sku=VaultSku(name="Standard"), properties=VaultProperties(public_network_access="Enabled")),
    ).result()
    assert created.name == "conformance-vault"
    assert created.properties.provisioning_state == "Succeeded"
    # A Standard vault is answered as RS0 of the Standard tier (PUTVault.json, 2025-02-01).
    assert (created.sku.name, created.sku.tier) == ("RS0", "Standard")
    assert vaults.vaults.get(RG, "conformance-vault").id == created.id
    # RS0 needs its tier (terraform-provider-azurerm issue 2274).
    with pytest.raises(HttpResponseError) as refused:
        vaults.vaults.begin_create_or_update(RG, "no-tier-vault", Vault(location=LOCATION, sku=VaultSku(name="RS0"))).result()
    assert (refused.value.status_code, refused.value.error.code) == (400, "InvalidRestApiParameter")
    assert [v.name for v in vaults.vaults.list_by_resource_group(RG)] == ["conformance-vault"]
    vaults.vaults.begin_delete(RG, "conformance-vault").result()
    with pytest.raises(ResourceNotFoundError):
        vaults.vaults.get(RG, "conformance-vault")


def test_a_write_to_an_unregistered_provider_is_missing_subscription_registration(client_args, resources, group):
    provider = resources.providers.get("Microsoft.RecoveryServices")
    assert provider.namespace == "Microsoft.RecoveryServices"
    assert provider.registration_state == "Registered"
    assert resources.providers.unregister("Microsoft.RecoveryServices").registration_state == "NotRegistered"
    vaults = RecoveryServicesClient(**client_args)
    try:
        with pytest.raises(HttpResponseError) as refused:
            vaults.vaults.begin_create_or_update(RG, "unregistered-vault", Vault(location=LOCATION, sku=VaultSku(name="Standard"))).result()
        assert refused.value.status_code == 409
        assert refused.value.error.code == "MissingSubscriptionRegistration"
        assert refused.value.error.details[0].target == "Microsoft.RecoveryServices"
        # Reads still answer.
        assert list(vaults.vaults.list_by_resource_group(RG)) == []
    finally:
        assert resources.providers.register("Microsoft.RecoveryServices").registration_state == "Registered"
    vaults.vaults.begin_create_or_update(RG, "registered-vault", Vault(location=LOCATION, sku=VaultSku(name="Standard"))).result()
    vaults.vaults.begin_delete(RG, "registered-vault").result()


def test_storage_account_create_polls_location_to_succeeded(client_args, group):
    storage = StorageManagementClient(**client_args)
    poller = storage.storage_accounts.begin_create(
        RG,
        "conformancestore",
        StorageAccountCreateParameters(sku=StorageSku(name="Standard_GRS"), kind="StorageV2", location=LOCATION),
    )
    account = poller.result()
    assert account.name == "conformancestore"
    assert account.provisioning_state == "Succeeded"
    assert account.sku.name == "Standard_GRS"
    assert account.primary_endpoints.blob == "https://conformancestore.blob.core.windows.net/"
    assert [a.name for a in storage.storage_accounts.list_by_resource_group(RG)] == ["conformancestore"]


def test_storage_account_in_an_unknown_region_is_a_400(client_args, group):
    storage = StorageManagementClient(**client_args)
    with pytest.raises(HttpResponseError) as raised:
        storage.storage_accounts.begin_create(
            RG, "marsstore", StorageAccountCreateParameters(sku=StorageSku(name="Standard_LRS"), kind="StorageV2", location="mars")
        ).result()
    assert raised.value.status_code == 400
    assert raised.value.error.code == "LocationNotAvailableForResourceType"


def test_virtual_network_with_subnets(client_args, group):
    network = NetworkManagementClient(**client_args)
    vnet = network.virtual_networks.begin_create_or_update(
        RG,
        "vnet-conformance",
        VirtualNetwork(
            location=LOCATION,
            address_space=AddressSpace(address_prefixes=["10.1.0.0/16"]),
            subnets=[Subnet(name="app", address_prefix="10.1.1.0/24"), Subnet(name="db", address_prefix="10.1.2.0/24")],
        ),
    ).result()
    assert vnet.provisioning_state == "Succeeded"
    assert vnet.address_space.address_prefixes == ["10.1.0.0/16"]
    assert sorted(s.name for s in vnet.subnets) == ["app", "db"]
    subnet = network.subnets.begin_create_or_update(RG, "vnet-conformance", "web", Subnet(address_prefix="10.1.3.0/24")).result()
    assert subnet.address_prefix == "10.1.3.0/24"
    assert sorted(s.name for s in network.subnets.list(RG, "vnet-conformance")) == ["app", "db", "web"]
    network.subnets.begin_delete(RG, "vnet-conformance", "web").result()
    assert sorted(s.name for s in network.virtual_networks.get(RG, "vnet-conformance").subnets) == ["app", "db"]


def test_subnet_outside_the_vnet_is_netcfg_400(client_args, group):
    network = NetworkManagementClient(**client_args)
    with pytest.raises(HttpResponseError) as raised:
        network.virtual_networks.begin_create_or_update(
            RG,
            "vnet-bad",
            VirtualNetwork(
                location=LOCATION,
                address_space=AddressSpace(address_prefixes=["10.2.0.0/16"]),
                subnets=[Subnet(name="app", address_prefix="10.3.1.0/24")],
            ),
        ).result()
    assert raised.value.status_code == 400
    assert raised.value.error.code == "NetcfgSubnetRangeOutsideVnet"


def test_ip_address_availability_says_free_and_platform_reserved(client_args, group):
    network = NetworkManagementClient(**client_args)
    network.virtual_networks.begin_create_or_update(
        RG,
        "vnet-addresses",
        VirtualNetwork(
            location=LOCATION,
            address_space=AddressSpace(address_prefixes=["10.4.0.0/16"]),
            subnets=[Subnet(name="app", address_prefix="10.4.1.0/24")],
        ),
    ).result()
    free = network.virtual_networks.check_ip_address_availability(RG, "vnet-addresses", ip_address="10.4.1.4")
    assert free.available is True
    # Azure keeps the first four and the last address of a subnet.
    for kept in ["10.4.1.0", "10.4.1.1", "10.4.1.3", "10.4.1.255"]:
        answer = network.virtual_networks.check_ip_address_availability(RG, "vnet-addresses", ip_address=kept)
        assert (answer.available, answer.is_platform_reserved) == (False, True), kept
    with pytest.raises(ResourceNotFoundError):
        network.virtual_networks.check_ip_address_availability(RG, "vnet-none", ip_address="10.4.1.4")


def test_vcpu_quotas_and_vm_sizes_read_through_the_compute_sdk(sim, client_args):
    compute = ComputeManagementClient(**client_args)
    requests.put(
        f"{sim['armEndpoint']}/_sim/quota",
        json={"location": "northeurope", "name": "standardDSv5Family", "limit": 8},
    ).raise_for_status()
    usages = {u.name.value: u for u in compute.usage.list("northeurope")}
    assert usages["cores"].name.localized_value == "Total Regional vCPUs"
    family = usages["standardDSv5Family"]
    assert (family.limit, family.unit, family.name.localized_value) == (8, "Count", "Standard DSv5 Family vCPUs")
    skus = list(compute.resource_skus.list(filter="location eq 'northeurope'"))
    d4 = next(s for s in skus if s.name == "Standard_D4s_v5")
    assert (d4.resource_type, d4.family, d4.locations) == ("virtualMachines", "standardDSv5Family", ["northeurope"])
    assert {c.name: c.value for c in d4.capabilities}["vCPUs"] == "4"
    assert d4.location_info[0].zones == ["1", "2", "3"]


def test_every_request_was_authenticated_and_logged(sim, group):
    log = requests.get(f"{sim['armEndpoint']}/_sim/requests", params={"path": f"/resourceGroups/{RG}"}).json()
    assert log["count"] > 0
    assert all(r["status"] != 401 for r in log["requests"])
