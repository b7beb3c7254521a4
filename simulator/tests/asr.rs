//! Site Recovery paths the SDK conformance suite does not walk: a Hyper-V site whose hosts
//! register into the fabric ARM created, Azure to Azure, registration by hand, the 400s of a
//! bad enable-protection request, a vault that still holds replication, and persistence.

use azure_sim::{Persistence, Settings};
use common::{ASR_API, Harness, fast};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

mod common;

const STORAGE_API: &str = "api-version=2026-09-01";
const NETWORK_API: &str = "api-version=2026-03-01";

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["properties"]["friendlyName"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

async fn get(sim: &Harness, path: &str) -> Value {
    let (status, _, body) = sim.call(Method::GET, path, None).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

#[tokio::test]
async fn hyper_v_hosts_register_into_the_site_arm_created() {
    let sim = Harness::start(Settings {
        page_size: 50,
        ..fast()
    })
    .await;
    let vault = sim.vault("rg-migration-branch", "branch-vault").await;
    assert_eq!(
        get(&sim, &format!("{vault}/replicationFabrics?{ASR_API}")).await["value"],
        json!([]),
        "a site exists only once ARM creates it"
    );

    let (status, headers, _) = sim
        .put_ok(
            &format!("{vault}/replicationFabrics/branch-office?{ASR_API}"),
            json!({"properties": {"customDetails": {"instanceType": "HyperVSite"}}}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(
        headers["location"]
            .to_str()
            .unwrap()
            .contains("/replicationOperationResults/")
    );
    assert!(
        headers["azure-asyncoperation"]
            .to_str()
            .unwrap()
            .contains("/replicationOperationStatus/")
    );

    let containers = get(
        &sim,
        &format!(
            "{vault}/replicationFabrics/branch-office/replicationProtectionContainers?{ASR_API}"
        ),
    )
    .await;
    assert_eq!(names(&containers), ["branch-office-container"]);
    let items = get(&sim, &format!("{vault}/replicationFabrics/branch-office/replicationProtectionContainers/branch-office-container/replicationProtectableItems?{ASR_API}")).await;
    assert_eq!(names(&items), ["APP01", "FS01", "PRINT01"]);
}

/// A vault with a storage account and a VNet, for enabling protection.
async fn landing_zone(
    sim: &Harness,
    group: &str,
    vault_name: &str,
) -> (String, String, String, String) {
    let vault = sim.vault(group, vault_name).await;
    let group_path = format!("{}/resourceGroups/{group}", sim.subscription());
    sim.put_ok(
        &format!(
            "{group_path}/providers/Microsoft.Storage/storageAccounts/{}store?{STORAGE_API}",
            group.replace('-', "")
        ),
        json!({"location": "westeurope", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2"}),
    )
    .await;
    sim.put_ok(
        &format!(
            "{group_path}/providers/Microsoft.Storage/storageAccounts/{}far?{STORAGE_API}",
            group.replace('-', "")
        ),
        json!({"location": "eastus", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2"}),
    )
    .await;
    sim.put_ok(
        &format!("{group_path}/providers/Microsoft.Network/virtualNetworks/vnet?{NETWORK_API}"),
        json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "app", "properties": {"addressPrefix": "10.0.1.0/24"}}]}}),
    )
    .await;
    sim.advance(60);
    let storage = format!(
        "{group_path}/providers/Microsoft.Storage/storageAccounts/{}store",
        group.replace('-', "")
    );
    let far = format!(
        "{group_path}/providers/Microsoft.Storage/storageAccounts/{}far",
        group.replace('-', "")
    );
    let vnet = format!("{group_path}/providers/Microsoft.Network/virtualNetworks/vnet");
    (vault, storage, far, vnet)
}

/// An Azure VM protected to another region (A2A), initial replication done: the vault, the
/// item's path, and the target VNet.
async fn a2a_protected(sim: &Harness) -> (String, String, String) {
    let (vault, _, _, vnet) = landing_zone(sim, "rg-a2a", "a2a-vault").await;
    sim.put_ok(&format!("{vault}/replicationFabrics/neu?{ASR_API}"), json!({"properties": {"customDetails": {"instanceType": "Azure", "location": "northeurope"}}})).await;
    sim.put_ok(&format!("{vault}/replicationFabrics/weu?{ASR_API}"), json!({"properties": {"customDetails": {"instanceType": "Azure", "location": "westeurope"}}})).await;
    let a2a = json!({"properties": {"providerSpecificInput": [{"instanceType": "A2A"}]}});
    sim.put_ok(
        &format!(
            "{vault}/replicationFabrics/neu/replicationProtectionContainers/neu-container?{ASR_API}"
        ),
        a2a.clone(),
    )
    .await;
    sim.put_ok(
        &format!(
            "{vault}/replicationFabrics/weu/replicationProtectionContainers/weu-container?{ASR_API}"
        ),
        a2a,
    )
    .await;
    // A2A has no protectable items: the enable names the Compute VM, whose managed disks
    // Compute reports in its own region.
    let items = get(sim, &format!("{vault}/replicationFabrics/neu/replicationProtectionContainers/neu-container/replicationProtectableItems?{ASR_API}")).await;
    assert_eq!(names(&items), Vec::<String>::new());
    let source_vm = get(sim, &format!("{APP_VM1}?api-version=2024-07-01")).await;
    assert_eq!(source_vm["location"], "northeurope");
    let os_disk = source_vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        os_disk.ends_with("/providers/Microsoft.Compute/disks/app-vm1-os"),
        "{os_disk}"
    );
    let cache = format!(
        "{}/resourceGroups/rg-a2a/providers/Microsoft.Storage/storageAccounts/neucache",
        sim.subscription()
    );
    sim.put_ok(
        &format!("{cache}?{STORAGE_API}"),
        json!({"location": "northeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
    )
    .await;

    sim.put_ok(&format!("{vault}/replicationPolicies/a2a-24h?{ASR_API}"), json!({"properties": {"providerSpecificInput": {"instanceType": "A2A", "recoveryPointHistory": 1440, "multiVmSyncStatus": "Enable"}}})).await;
    let policy = format!("{vault}/replicationPolicies/a2a-24h");
    sim.put_ok(
        &format!("{vault}/replicationFabrics/neu/replicationProtectionContainers/neu-container/replicationProtectionContainerMappings/neu-to-weu?{ASR_API}"),
        json!({"properties": {"targetProtectionContainerId": format!("{vault}/replicationFabrics/weu/replicationProtectionContainers/weu-container"), "policyId": policy, "providerSpecificInput": {"instanceType": "A2A"}}}),
    )
    .await;
    let item = format!(
        "{vault}/replicationFabrics/neu/replicationProtectionContainers/neu-container/replicationProtectedItems/app-vm1"
    );
    let target_group = format!("{}/resourceGroups/rg-a2a", sim.subscription());
    let enable = |disks: Value| json!({"properties": {"policyId": policy, "providerSpecificDetails": {"instanceType": "A2A", "fabricObjectId": APP_VM1, "recoveryResourceGroupId": target_group, "recoveryAzureNetworkId": vnet, "vmManagedDisks": disks}}});
    let far_cache = format!(
        "{}/resourceGroups/rg-a2a/providers/Microsoft.Storage/storageAccounts/rga2astore",
        sim.subscription()
    );
    for (disks, target, says) in [
        (
            json!([]),
            "properties.providerSpecificDetails.vmManagedDisks",
            "vmManagedDisks must name",
        ),
        (
            json!([{"diskId": format!("{os_disk}-other"), "primaryStagingAzureStorageAccountId": cache, "recoveryResourceGroupId": target_group}]),
            "properties.providerSpecificDetails.vmManagedDisks[0].diskId",
            "is not a managed disk of app-vm1",
        ),
        (
            json!([{"diskId": os_disk, "primaryStagingAzureStorageAccountId": far_cache, "recoveryResourceGroupId": target_group}]),
            "properties.providerSpecificDetails.vmManagedDisks[0].primaryStagingAzureStorageAccountId",
            "not in the source region northeurope",
        ),
    ] {
        let (status, _, error) = sim
            .call(
                Method::PUT,
                &format!("{item}?{ASR_API}"),
                Some(enable(disks)),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["error"]["target"], target, "{error}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(says),
            "{error}"
        );
    }
    sim.put_ok(
        &format!("{item}?{ASR_API}"),
        enable(json!([{"diskId": os_disk, "primaryStagingAzureStorageAccountId": cache, "recoveryResourceGroupId": target_group}])),
    )
    .await;
    sim.advance(3600);
    (vault, item, vnet)
}

const APP_VM1: &str = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-app-neu/providers/Microsoft.Compute/virtualMachines/app-vm1";

#[tokio::test]
async fn azure_vms_replicate_to_another_region() {
    let sim = Harness::start(fast()).await;
    let (_, item, _) = a2a_protected(&sim).await;
    let protected = get(&sim, &format!("{item}?{ASR_API}")).await;
    assert_eq!(protected["properties"]["protectionState"], "Protected");
    assert_eq!(
        protected["properties"]["providerSpecificDetails"]["instanceType"],
        "A2A"
    );
    assert_eq!(
        protected["properties"]["providerSpecificDetails"]["fabricObjectId"],
        APP_VM1
    );
}

/// An A2A update re-sends the item's managed disks: without them ASR answers 400 `BadRequest`,
/// `VMDisksMissing` (Azure/terraform-provider-azapi issue 228), with a disk the item does not
/// replicate it refuses the ID (terraform-provider-azurerm issue 16241); a NIC must be the
/// item's. With all three right, the primary NIC gets its static address.
#[tokio::test]
async fn an_a2a_update_names_the_items_disks_and_nics() {
    let sim = Harness::start(fast()).await;
    let (_, item, _) = a2a_protected(&sim).await;
    let protected = get(&sim, &format!("{item}?{ASR_API}")).await;
    let details = &protected["properties"]["providerSpecificDetails"];
    let disk = details["protectedManagedDisks"][0]["diskId"].clone();
    assert!(
        disk.as_str().unwrap().ends_with("/disks/app-vm1-os"),
        "{details}"
    );
    let nic_id = details["vmNics"][0]["nicId"].clone();
    assert_eq!(details["vmNics"][0]["ipConfigs"][0]["name"], "ipconfig1");
    let update = |disks: Value, nic: Value| {
        json!({"properties": {
            "vmNics": [{"nicId": nic, "ipConfigs": [{"ipConfigName": "ipconfig1", "isPrimary": true,
                                                     "recoverySubnetName": "app", "recoveryStaticIPAddress": "10.9.1.40"}]}],
            "providerSpecificDetails": {"instanceType": "A2A", "managedDiskUpdateDetails": disks},
        }})
    };
    for (body, code, says) in [
        (
            update(json!([]), nic_id.clone()),
            "BadRequest",
            "One or more disks to be replicated need to be specified",
        ),
        (
            update(json!([{"diskId": "/disks/other"}]), nic_id.clone()),
            "InvalidParameter",
            "invalid disk Ids: '/disks/other'",
        ),
        (
            update(json!([{"diskId": disk}]), json!("not-a-nic")),
            "InvalidParameter",
            "not-a-nic is not a network interface of app-vm1",
        ),
    ] {
        let (status, _, error) = sim
            .call(Method::PATCH, &format!("{item}?{ASR_API}"), Some(body))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["error"]["code"], code, "{error}");
        assert!(
            error["error"]["message"].as_str().unwrap().contains(says),
            "{error}"
        );
    }
    let (status, _, refused) = sim
        .call(
            Method::PATCH,
            &format!("{item}?{ASR_API}"),
            Some(update(json!([]), nic_id.clone())),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(refused["error"]["details"][0]["code"], "VMDisksMissing");
    let (status, _, _) = sim
        .call(
            Method::PATCH,
            &format!("{item}?{ASR_API}"),
            Some(update(json!([{"diskId": disk}]), nic_id)),
        )
        .await;
    assert!(status.is_success(), "{status}");
    sim.advance(60);
    let updated = get(&sim, &format!("{item}?{ASR_API}")).await;
    let config = &updated["properties"]["providerSpecificDetails"]["vmNics"][0]["ipConfigs"][0];
    assert_eq!(
        (
            &config["recoveryStaticIPAddress"],
            &config["recoveryIPAddressType"]
        ),
        (&json!("10.9.1.40"), &json!("Static"))
    );
}

/// What ASR and the other providers answer, shaped as Microsoft's recorded examples and models
/// say: the idle `currentScenario`, a VM's instance view only when asked for, the NIC a failed
/// over VM has in its subnet (and NRP's refusal to delete a subnet in use), the resources of a
/// group, and the discriminator of a disable-protection input.
#[tokio::test]
async fn answers_are_shaped_like_azures() {
    let sim = Harness::start(fast()).await;
    let (vault, item, vnet) = a2a_protected(&sim).await;

    // ReplicationProtectedItems_*.json (2025-08-01): an idle item's scenario. Site Recovery's IDs
    // begin `/Subscriptions/` (every ID in those examples; Az.Migrate's documented output too).
    let idle = get(&sim, &format!("{item}?{ASR_API}")).await;
    let asr_vault = vault.replacen("/subscriptions/", "/Subscriptions/", 1);
    assert!(
        idle["id"].as_str().unwrap().starts_with(&asr_vault),
        "{}",
        idle["id"]
    );
    assert_eq!(
        idle["properties"]["currentScenario"],
        json!({"scenarioName": "None", "jobId": format!("{asr_vault}/replicationJobs/None"), "startTime": "1753-01-01T01:01:01Z"})
    );

    // A missing object in a vault that holds none of its kind is a 400 that means "absent"
    // (azure-rest-api-specs issue 12759); where others of its kind exist, a 404.
    let (status, _, error) = sim
        .call(Method::GET, &format!("{vault}/replicationFabrics/neu/replicationNetworks/n/replicationNetworkMappings/m?{ASR_API}"), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"]["code"], "BadRequest");
    assert_eq!(
        error["error"]["details"][0]["code"],
        "SubscriptionIdNotRegisteredWithSrs"
    );
    let (status, _, error) = sim
        .call(
            Method::GET,
            &format!("{vault}/replicationPolicies/missing?{ASR_API}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{error}");

    let (status, _, _) = sim
        .call(
            Method::POST,
            &format!("{item}/testFailover?{ASR_API}"),
            Some(json!({"properties": {"failoverDirection": "PrimaryToRecovery", "networkType": "VmNetworkAsInput", "networkId": vnet, "providerSpecificDetails": {"instanceType": "A2A"}}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let running = get(&sim, &format!("{item}?{ASR_API}")).await;
    assert_eq!(
        running["properties"]["currentScenario"]["scenarioName"],
        "TestFailover"
    );
    sim.advance(600);

    let group = format!("{}/resourceGroups/rg-a2a", sim.subscription());
    let vm = format!("{group}/providers/Microsoft.Compute/virtualMachines/app-vm1-test");
    let compute = "api-version=2024-07-01";
    let plain = get(&sim, &format!("{vm}?{compute}")).await;
    assert!(plain["properties"].get("instanceView").is_none(), "{plain}");
    let expanded = get(&sim, &format!("{vm}?{compute}&$expand=instanceView")).await;
    assert!(
        expanded["properties"]["instanceView"]["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == "PowerState/running"),
        "{expanded}"
    );
    let view = get(&sim, &format!("{vm}/instanceView?{compute}")).await;
    assert!(
        view["statuses"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["code"] == "PowerState/running")
    );

    // The test VM's NIC sits in the VNet's subnet: NRP lists it and will not delete the subnet.
    let nic = plain["properties"]["networkProfile"]["networkInterfaces"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let network = get(&sim, &format!("{vnet}?{NETWORK_API}")).await;
    assert_eq!(
        network["properties"]["subnets"][0]["properties"]["ipConfigurations"],
        json!([{"id": format!("{nic}/ipConfigurations/ipconfig1")}])
    );
    for (method, path, body) in [
        (Method::DELETE, format!("{vnet}?{NETWORK_API}"), None),
        (
            Method::DELETE,
            format!("{vnet}/subnets/app?{NETWORK_API}"),
            None,
        ),
        (
            Method::PUT,
            format!("{vnet}?{NETWORK_API}"),
            Some(
                json!({"location": "westeurope", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}}),
            ),
        ),
    ] {
        let (status, _, error) = sim.call(method.clone(), &path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{method} {path}: {error}");
        assert_eq!(
            error["error"]["code"], "InUseSubnetCannotBeDeleted",
            "{error}"
        );
    }
    let listed = get(&sim, &format!("{group}/resources?api-version=2025-04-01")).await;
    let mut types: Vec<&str> = listed["value"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["name"].as_str().unwrap().starts_with("app-vm1-test"))
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    types.sort();
    assert_eq!(
        types,
        [
            "Microsoft.Compute/disks",
            "Microsoft.Compute/virtualMachines",
            "Microsoft.Network/networkInterfaces"
        ]
    );
    assert!(
        listed["value"][0].get("properties").is_none(),
        "GenericResourceExpanded has no properties"
    );

    // Cleaning the test failover up removes the test VM with its NIC and disk.
    let (status, _, _) = sim
        .call(
            Method::POST,
            &format!("{item}/testFailoverCleanup?{ASR_API}"),
            Some(json!({"properties": {"comments": "done"}})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    sim.advance(600);
    let (status, _, _) = sim
        .call(Method::GET, &format!("{nic}?{NETWORK_API}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let network = get(&sim, &format!("{vnet}?{NETWORK_API}")).await;
    assert!(
        network["properties"]["subnets"][0]["properties"]
            .get("ipConfigurations")
            .is_none()
    );

    // DisableProtectionProviderSpecificInput's discriminators are its own name and InMage.
    let remove = |instance_type: &str| json!({"properties": {"disableProtectionReason": "MigrationComplete", "replicationProviderInput": {"instanceType": instance_type}}});
    let (status, _, error) = sim
        .call(
            Method::POST,
            &format!("{item}/remove?{ASR_API}"),
            Some(remove("A2A")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(
        error["error"]["target"],
        "properties.replicationProviderInput.instanceType"
    );
    let (status, _, error) = sim
        .call(
            Method::POST,
            &format!("{item}/remove?{ASR_API}"),
            Some(remove("DisableProtectionProviderSpecificInput")),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{error}");
}

#[tokio::test]
async fn enable_protection_refuses_what_asr_refuses() {
    let sim = Harness::start(fast()).await;
    let (vault, storage, far, vnet) = landing_zone(&sim, "rg-migration-dc1", "dc1-vault").await;
    let fabric = format!("{vault}/replicationFabrics/vmm01-contoso-local");
    // A VMM cloud is a container named cloud_<guid>, its name in friendlyName.
    let containers = get(
        &sim,
        &format!("{fabric}/replicationProtectionContainers?{ASR_API}"),
    )
    .await;
    let gold = containers["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["properties"]["friendlyName"] == "Gold")
        .expect("the Gold cloud");
    assert!(
        gold["name"].as_str().unwrap().starts_with("cloud_"),
        "{gold}"
    );
    let container = gold["id"].as_str().unwrap().to_owned();
    sim.put_ok(&format!("{vault}/replicationPolicies/p?{ASR_API}"), json!({"properties": {"providerSpecificInput": {"instanceType": "HyperVReplicaAzure", "replicationInterval": 300}}})).await;
    let policy = format!("{vault}/replicationPolicies/p");
    let enable = |protectable: &str, storage: &str| {
        json!({"properties": {"policyId": policy, "protectableItemId": format!("{container}/replicationProtectableItems/{protectable}"), "providerSpecificDetails": {
            "instanceType": "HyperVReplicaAzure", "targetStorageAccountId": storage, "targetAzureNetworkId": vnet,
            "targetAzureV2ResourceGroupId": format!("{}/resourceGroups/rg-migration-dc1", sim.subscription())}}})
    };
    let web01 = "3f2c1a10-0000-4000-8000-000000000002";

    // Not paired with the policy yet.
    let (status, _, body) = sim
        .call(
            Method::PUT,
            &format!("{container}/replicationProtectedItems/web01?{ASR_API}"),
            Some(enable(web01, &storage)),
        )
        .await;
    assert_eq!(
        (status, body["error"]["target"].as_str()),
        (StatusCode::BAD_REQUEST, Some("properties.policyId")),
        "{body}"
    );

    // A provider name is not a ReplicationProviderSpecificContainerMappingInput discriminator.
    let (status, _, error) = sim
        .call(
            Method::PUT,
            &format!("{container}/replicationProtectionContainerMappings/m?{ASR_API}"),
            Some(json!({"properties": {"targetProtectionContainerId": "Microsoft Azure", "policyId": policy, "providerSpecificInput": {"instanceType": "HyperVReplicaAzure"}}})),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(
        error["error"]["target"],
        "properties.providerSpecificInput.instanceType"
    );
    // ReplicationProtectionContainerMappings_Create.json (2025-08-01).
    sim.put_ok(
        &format!("{container}/replicationProtectionContainerMappings/m?{ASR_API}"),
        json!({"properties": {"targetProtectionContainerId": "Microsoft Azure", "policyId": policy, "providerSpecificInput": {"instanceType": "ReplicationProviderSpecificContainerMappingInput"}}}),
    )
    .await;
    let cases = [
        (
            enable("00000000-dead-beef-0000-000000000000", &storage),
            "properties.protectableItemId",
            "was not found",
        ),
        (
            enable(web01, &far),
            "properties.providerSpecificDetails.targetStorageAccountId",
            "is in eastus, not in the vault's region westeurope",
        ),
        (
            json!({"properties": {"protectableItemId": format!("{container}/replicationProtectableItems/{web01}")}}),
            "properties.policyId",
            "required",
        ),
    ];
    for (body, target, message) in cases {
        let (status, _, error) = sim
            .call(
                Method::PUT,
                &format!("{container}/replicationProtectedItems/web01?{ASR_API}"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
        assert_eq!(error["error"]["target"], target, "{error}");
        assert!(
            error["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{error}"
        );
    }

    // A vault that holds replication cannot be deleted.
    let (status, _, error) = sim
        .call(
            Method::DELETE,
            &format!("{vault}?api-version=2026-11-01"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["error"]["code"], "ServiceResourceNotEmpty");
}

#[tokio::test]
async fn sources_register_by_hand_and_added_machines_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let persistence = Persistence {
        path: Some(dir.path().join("state.json")),
    };
    let sim = Harness::start_with(fast(), persistence.clone()).await;
    let lab = json!({"sources": [{"kind": "physical", "name": "lab-appliance", "machines": [
        {"name": "lab01", "id": "aa00", "osType": "Linux", "disks": [{"id": "sda", "sizeGb": 10, "osDisk": true}]}]}]});
    assert!(
        sim.http
            .post(format!("{}/_sim/inventory", sim.url()))
            .json(&lab)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let vault = sim.vault("rg-lab", "lab-vault").await;
    let vault_id = vault.clone();
    let registered = sim
        .http
        .post(format!("{}/_sim/register", sim.url()))
        .json(&json!({"source": "lab-appliance", "vaultId": vault_id}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), StatusCode::OK);
    // An appliance's machines are in its fabric's Azure Migrate site, not protectable items.
    let fabric = get(
        &sim,
        &format!("{vault}/replicationFabrics/lab-appliance?{ASR_API}"),
    )
    .await;
    let site = fabric["properties"]["customDetails"]["physicalSiteId"]
        .as_str()
        .unwrap()
        .to_owned();
    let machines_path = format!("{site}/machines?api-version=2023-06-06");
    let display_names = |list: &Value| -> Vec<String> {
        list["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["properties"]["displayName"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(display_names(&get(&sim, &machines_path).await), ["lab01"]);
    let items_path = format!(
        "{vault}/replicationFabrics/lab-appliance/replicationProtectionContainers/lab-appliance-container/replicationProtectableItems?{ASR_API}"
    );
    assert_eq!(names(&get(&sim, &items_path).await), Vec::<String>::new());
    sim.running.shutdown().await;

    let restarted = Harness::start_with(fast(), persistence).await;
    assert_eq!(
        display_names(&get(&restarted, &machines_path).await),
        ["lab01"]
    );
}
