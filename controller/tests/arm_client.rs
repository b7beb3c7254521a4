//! The ARM client against azure-sim over HTTPS: authentication through azure_identity with the
//! simulator's CA, typed errors, paging, retries that honour Retry-After, and counting.

use std::net::SocketAddr;
use std::sync::Arc;

use azure_core::http::Url;
use azure_sim::{Persistence, Settings};
use cutover::azure::budget::Budget;
use cutover::azure::credentials;
use cutover::azure::stats::RequestStats;
use cutover::azure::{ArmClient, ArmSettings, ErrorClass};
use serde_json::{Value, json};

const RG: &str = "2025-04-01";
const STORAGE: &str = "2026-09-01";
/// Short, so a test of a request that hangs does not wait long.
const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

struct Fixture {
    sim: azure_sim::Running,
    client: ArmClient,
    _ca: tempfile::NamedTempFile,
}

async fn fixture(settings: Settings) -> Fixture {
    fixture_signed_in(settings, |arm, settings| {
        credentials::client_secret(
            arm,
            &settings.tenant,
            settings.client_id.clone(),
            settings.client_secret.clone(),
        )
        .unwrap()
    })
    .await
}

/// azure-sim over HTTPS, and an ARM client with the credential `sign_in` makes.
async fn fixture_signed_in(
    settings: Settings,
    sign_in: impl FnOnce(&ArmSettings, &Settings) -> Arc<dyn azure_core::credentials::TokenCredential>,
) -> Fixture {
    fixture_with(settings, sign_in, |arm, credential| {
        ArmClient::new(
            arm,
            credential,
            Arc::new(Budget::default()),
            Arc::new(RequestStats::default()),
        )
    })
    .await
}

/// azure-sim over HTTPS, and the ARM client `client` makes with the credential `sign_in` makes.
async fn fixture_with(
    settings: Settings,
    sign_in: impl FnOnce(&ArmSettings, &Settings) -> Arc<dyn azure_core::credentials::TokenCredential>,
    client: impl FnOnce(&ArmSettings, Arc<dyn azure_core::credentials::TokenCredential>) -> ArmClient,
) -> Fixture {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let sim = azure_sim::start(listen, settings.clone(), Persistence::default(), None)
        .await
        .unwrap();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &sim.certificate_pem).unwrap();
    let url = Url::parse(sim.base_url()).unwrap();
    let arm = ArmSettings::new(
        url.clone(),
        Some(url),
        Some(ca.path().to_path_buf()),
        REQUEST_TIMEOUT,
    )
    .unwrap();
    let credential = sign_in(&arm, &settings);
    let client = client(&arm, credential);
    Fixture {
        sim,
        client,
        _ca: ca,
    }
}

fn group_path(name: &str) -> String {
    format!(
        "/subscriptions/{}/resourcegroups/{name}",
        azure_sim::settings::DEFAULT_SUBSCRIPTION
    )
}

#[tokio::test]
async fn gets_puts_and_lists_through_the_pipeline() {
    let f = fixture(Settings {
        page_size: 2,
        time_scale: 1000.0,
        ..Settings::default()
    })
    .await;
    assert!(
        f.client
            .get::<Value>(&group_path("rg1"), RG)
            .await
            .unwrap()
            .is_none(),
        "404 is None"
    );
    for i in 0..5 {
        let created = f
            .client
            .put(
                &group_path(&format!("rg{i}")),
                RG,
                &json!({"location": "westeurope"}),
            )
            .await
            .unwrap();
        assert_eq!(created.status, 201);
    }
    let group: Value = f.client.get(&group_path("rg3"), RG).await.unwrap().unwrap();
    assert_eq!(group["properties"]["provisioningState"], "Succeeded");
    let all: Vec<Value> = f
        .client
        .list(
            &format!(
                "/subscriptions/{}/resourcegroups",
                azure_sim::settings::DEFAULT_SUBSCRIPTION
            ),
            RG,
        )
        .await
        .unwrap();
    // Five of the test's, and the one the built-in inventory's Azure VMs are in (rg-app-neu).
    assert_eq!(
        all.len(),
        6,
        "three pages of two, followed through nextLink"
    );
    assert!(f.client.stats().total() >= 9);
}

#[tokio::test]
async fn errors_keep_arms_code_and_class() {
    let f = fixture(Settings {
        time_scale: 1000.0,
        ..Settings::default()
    })
    .await;
    f.client
        .put(&group_path("rg"), RG, &json!({"location": "westeurope"}))
        .await
        .unwrap();
    let account = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/Bad_Name",
        group_path("rg")
    );
    let error = f.client.put(&account, STORAGE, &json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::User);
    assert_eq!(error.code(), Some("AccountNameInvalid"));

    let accepted = f
        .client
        .put(&format!("{}/providers/Microsoft.Storage/storageAccounts/good01", group_path("rg")), STORAGE, &json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}))
        .await
        .unwrap();
    assert_eq!(accepted.status, 202);
    assert!(accepted.polling.location.is_some() && accepted.polling.retry_after.is_some());

    f.client
        .put(&group_path("rg2"), RG, &json!({"location": "westeurope"}))
        .await
        .unwrap();
    let taken = f
        .client
        .put(&format!("{}/providers/Microsoft.Storage/storageAccounts/good01", group_path("rg2")), STORAGE, &json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}))
        .await
        .unwrap_err();
    // A name taken is not another operation in progress: it lasts until the spec changes.
    assert_eq!(
        (taken.class(), taken.code()),
        (ErrorClass::User, Some("StorageAccountAlreadyTaken"))
    );
    // A DELETE of something already gone succeeds.
    assert_eq!(
        f.client
            .delete(
                &format!(
                    "{}/providers/Microsoft.Storage/storageAccounts/nothere",
                    group_path("rg")
                ),
                STORAGE
            )
            .await
            .unwrap()
            .status,
        204
    );
}

#[tokio::test]
async fn transient_errors_and_throttling_are_retried_by_the_pipeline() {
    let f = fixture(Settings {
        time_scale: 1000.0,
        ..Settings::default()
    })
    .await;
    f.client
        .put(&group_path("rg"), RG, &json!({"location": "westeurope"}))
        .await
        .unwrap();
    f.sim.sim.faults.add(azure_sim::faults::FaultSpec {
        method: Some("GET".into()),
        status: Some(503),
        times: Some(1),
        ..Default::default()
    });
    f.sim.sim.faults.add(azure_sim::faults::FaultSpec {
        method: Some("GET".into()),
        status: Some(429),
        retry_after_seconds: Some(1),
        times: Some(1),
        ..Default::default()
    });
    let group: Option<Value> = f.client.get(&group_path("rg"), RG).await.unwrap();
    assert!(group.is_some(), "succeeds after a 503 and a 429");
    let log = f
        .sim
        .sim
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.status)
        .collect::<Vec<_>>();
    assert_eq!(log, [503, 429, 200]);
}

#[tokio::test]
async fn dropped_connections_and_timeouts_are_retried_by_the_pipeline() {
    use azure_sim::faults::{DropConnection, FaultSpec};
    let f = fixture(Settings {
        time_scale: 1000.0,
        ..Settings::default()
    })
    .await;
    // ARM acts on the PUT but the answer is lost: the retried PUT is idempotent and succeeds.
    f.sim.sim.faults.add(FaultSpec {
        method: Some("PUT".into()),
        drop_connection: Some(DropConnection::After),
        times: Some(1),
        ..Default::default()
    });
    f.client
        .put(&group_path("rg"), RG, &json!({"location": "westeurope"}))
        .await
        .unwrap();
    // A GET that never reaches ARM, then one that hangs past the request timeout.
    f.sim.sim.faults.add(FaultSpec {
        method: Some("GET".into()),
        drop_connection: Some(DropConnection::Before),
        times: Some(1),
        ..Default::default()
    });
    f.sim.sim.faults.add(FaultSpec {
        method: Some("GET".into()),
        latency_ms: Some(REQUEST_TIMEOUT.as_millis() as u64 + 2000),
        times: Some(1),
        ..Default::default()
    });
    let started = std::time::Instant::now();
    let group: Option<Value> = f.client.get(&group_path("rg"), RG).await.unwrap();
    assert!(
        group.is_some(),
        "succeeds after a dropped connection and a timeout"
    );
    assert!(
        started.elapsed() >= REQUEST_TIMEOUT,
        "the hung request was abandoned at the timeout, not answered"
    );
    let log: Vec<(String, u16, bool)> = f
        .sim
        .sim
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.method.clone(), r.status, r.dropped))
        .collect();
    let dropped: Vec<&(String, u16, bool)> = log.iter().filter(|r| r.2).collect();
    assert_eq!(
        dropped,
        [&("PUT".to_owned(), 201, true), &("GET".to_owned(), 0, true)],
        "{log:?}"
    );
    let puts = log.iter().filter(|r| r.0 == "PUT").count();
    assert_eq!(
        puts, 2,
        "the PUT whose answer was lost was sent again: {log:?}"
    );
    // The hung GET is never answered (its client went away); the retry is.
    let gets: Vec<&(String, u16, bool)> = log.iter().filter(|r| r.0 == "GET").collect();
    assert_eq!(
        gets,
        [
            &("GET".to_owned(), 0, true),
            &("GET".to_owned(), 200, false)
        ],
        "{log:?}"
    );
}

#[tokio::test]
async fn an_expired_token_is_replaced() {
    let f = fixture(Settings {
        token_lifetime: std::time::Duration::from_secs(2),
        time_scale: 1000.0,
        ..Settings::default()
    })
    .await;
    f.client
        .put(&group_path("rg"), RG, &json!({"location": "westeurope"}))
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert!(
        f.client
            .get::<Value>(&group_path("rg"), RG)
            .await
            .unwrap()
            .is_some()
    );
    let unauthorized = f
        .sim
        .sim
        .requests
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.status == 401)
        .count();
    assert_eq!(
        unauthorized, 0,
        "the credential refreshed the token before using it"
    );
}

#[tokio::test]
async fn a_wrong_secret_is_an_authentication_error() {
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let sim = azure_sim::start(listen, Settings::default(), Persistence::default(), None)
        .await
        .unwrap();
    let ca = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(ca.path(), &sim.certificate_pem).unwrap();
    let url = Url::parse(sim.base_url()).unwrap();
    let arm = ArmSettings::new(
        url.clone(),
        Some(url),
        Some(ca.path().to_path_buf()),
        REQUEST_TIMEOUT,
    )
    .unwrap();
    let credential = credentials::client_secret(
        &arm,
        azure_sim::settings::DEFAULT_TENANT,
        azure_sim::settings::DEFAULT_CLIENT_ID.into(),
        "wrong".into(),
    )
    .unwrap();
    let client = ArmClient::new(
        &arm,
        credential,
        Arc::new(Budget::default()),
        Arc::new(RequestStats::default()),
    );
    let error = client
        .get::<Value>(&group_path("rg"), RG)
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Authentication, "{error}");
    assert!(
        !error.to_string().contains("wrong"),
        "the secret never appears in an error: {error}"
    );
}

#[tokio::test]
async fn site_recovery_operations_are_typed_and_their_jobs_followed() {
    use cutover::azure::resources::{self as arm, ItemAction, Scope};
    let f = fixture(Settings {
        time_scale: 1000.0,
        replication_mbps: 1_000_000.0,
        ..Settings::default()
    })
    .await;
    let scope = Scope {
        subscription: azure_sim::settings::DEFAULT_SUBSCRIPTION.into(),
        resource_group: "rg-migration-aws".into(),
    };
    arm::put_resource_group(&f.client, &scope, "westeurope", "tests/arm")
        .await
        .unwrap();
    let vault = scope.vault_id("aws-vault");
    arm::put_vault(
        &f.client,
        &vault,
        "westeurope",
        "Standard",
        "GeoRedundant",
        "tests/arm",
    )
    .await
    .unwrap();
    let vnet = scope.resource_id("Microsoft.Network/virtualNetworks", "vnet");
    arm::put_virtual_network(
        &f.client,
        &vnet,
        None,
        "westeurope",
        &["10.0.0.0/16".into()],
        &[("app".into(), "10.0.1.0/24".into())],
        "tests/arm",
    )
    .await
    .unwrap();

    let fabric = arm::list_fabrics(&f.client, &vault)
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("the AWS appliance registered");
    let container = arm::list_containers(&f.client, &fabric.id)
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    arm::put_policy(
        &f.client,
        &vault,
        "p",
        json!({"instanceType": "InMageRcm", "recoveryPointHistoryInMinutes": 1440}),
    )
    .await
    .unwrap();
    let policy = arm::policy_id(&vault, "p");
    arm::put_container_mapping(
        &f.client,
        &container.id,
        "m",
        arm::MICROSOFT_AZURE,
        &policy,
        "InMageRcm",
    )
    .await
    .unwrap();
    // The appliance's machines are in the Azure Migrate site its fabric names.
    let site = cutover::azure::models::DiscoverySites::of(&fabric.properties)
        .site(false)
        .expect("the fabric names its server site")
        .to_owned();
    let machines = arm::list_discovered_machines(&f.client, &site)
        .await
        .unwrap();
    let web = machines
        .iter()
        .find(|m| m.properties["displayName"] == "store-web")
        .unwrap();

    let servers = cutover::azure::models::process_servers(&fabric.properties);
    let process_server = &servers.first().expect("the appliance's process server").id;
    let input = json!({"instanceType": "InMageRcm", "fabricDiscoveryMachineId": web.id, "targetResourceGroupId": scope.group_id(), "targetNetworkId": vnet, "processServerId": process_server});
    let accepted =
        arm::enable_protection(&f.client, &container.id, "store-web", &policy, None, input)
            .await
            .unwrap();
    assert_eq!(accepted.status, 202);
    let job_name = accepted
        .polling
        .asr_job_name()
        .expect("the job is named in the polling headers");
    let job = arm::get_job(&f.client, &arm::job_id(&vault, &job_name))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(job.properties["scenarioName"], "EnableDr");

    let item_id = format!("{}/replicationProtectedItems/store-web", container.id);
    f.sim
        .sim
        .clock
        .advance(std::time::Duration::from_secs(3600));
    let item = arm::get_protected_item(&f.client, &item_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        item.properties.protection_state.as_deref(),
        Some("Protected")
    );
    assert!(
        item.properties
            .allowed_operations
            .unwrap_or_default()
            .iter()
            .any(|o| o == "TestFailover")
    );

    let body = json!({"properties": {"failoverDirection": "PrimaryToRecovery", "providerSpecificDetails": {"instanceType": "InMageRcm", "networkId": vnet}}});
    let test =
        arm::protected_item_action(&f.client, &item_id, ItemAction::TestFailover, Some(&body))
            .await
            .unwrap();
    let test_job = test.polling.asr_job_name().unwrap();
    let running = arm::get_protected_item(&f.client, &item_id)
        .await
        .unwrap()
        .unwrap();
    // Site Recovery answers `/Subscriptions/...` (its 2025-08-01 examples): IDs compare in any casing.
    let in_flight = running
        .properties
        .current_scenario
        .and_then(|s| s.job_id)
        .unwrap_or_default();
    assert!(
        in_flight.eq_ignore_ascii_case(&arm::job_id(&vault, &test_job)),
        "the in-flight job is on the item: {in_flight}"
    );
    let again =
        arm::protected_item_action(&f.client, &item_id, ItemAction::TestFailover, Some(&body))
            .await
            .unwrap_err();
    assert_eq!(
        again.class(),
        ErrorClass::Conflict,
        "a second test failover while one runs is refused"
    );
    f.sim.sim.clock.advance(std::time::Duration::from_secs(600));
    let done = arm::get_job(&f.client, &arm::job_id(&vault, &test_job))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.properties["state"], "Succeeded");
    let jobs = arm::list_jobs(&f.client, &vault).await.unwrap();
    assert!(jobs.len() >= 2);
}

/// A service principal with a certificate: cutover signs the assertion (RS256, `x5t`, the token
/// endpoint as `aud`), azure-sim checks it against the certificate registered on the
/// application, and ARM answers. Without the certificate registered, Entra's AADSTS700027.
#[tokio::test]
async fn a_service_principal_signs_in_with_its_certificate() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures");
    let pem = std::fs::read(fixtures.join("service-principal.pem")).unwrap();
    let registered = {
        use rustls::pki_types::pem::PemObject as _;
        rustls::pki_types::CertificateDer::from_pem_file(fixtures.join("service-principal.crt"))
            .unwrap()
            .as_ref()
            .to_vec()
    };
    for (certificate, signs_in) in [(Some(registered), true), (None, false)] {
        let settings = Settings {
            client_certificate: certificate,
            ..Settings::default()
        };
        let f = fixture_signed_in(settings, |arm, settings| {
            credentials::client_certificate(arm, &settings.tenant, settings.client_id.clone(), &pem)
                .unwrap()
        })
        .await;
        let answer = f.client.get::<Value>(&group_path("rg-cert"), RG).await;
        match (signs_in, answer) {
            // Signed in: ARM answers that the group does not exist.
            (true, Ok(None)) => {}
            (false, Err(error)) => {
                assert_eq!(error.class(), ErrorClass::Authentication, "{error}");
                assert!(error.to_string().contains("AADSTS700027"), "{error}");
            }
            (_, other) => panic!("registered: {signs_in}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_read_only_client_reads_and_refuses_every_write_before_it_is_sent() {
    let f = fixture_with(
        Settings::default(),
        |arm, settings| {
            credentials::client_secret(
                arm,
                &settings.tenant,
                settings.client_id.clone(),
                settings.client_secret.clone(),
            )
            .unwrap()
        },
        ArmClient::read_only,
    )
    .await;
    let client = &f.client;
    let group: Option<Value> = client.get(&group_path("rg-app-neu"), RG).await.unwrap();
    assert!(group.is_some(), "reads go through");
    let refused = client
        .put(&group_path("rg1"), RG, &json!({"location": "westeurope"}))
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("read-only client refused PUT"),
        "{refused}"
    );
    assert!(client.delete(&group_path("rg-app-neu"), RG).await.is_err());
    let methods: Vec<String> = f
        .sim
        .sim
        .requests
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(methods, ["GET"], "nothing but the read reached ARM");
}

#[tokio::test]
async fn arm_says_which_addresses_of_a_vnet_are_taken_kept_or_free() {
    let f = fixture(Settings::default()).await;
    let rg = group_path("rg-addresses");
    f.client
        .put(&rg, RG, &json!({"location": "westeurope"}))
        .await
        .unwrap();
    let vnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet-a");
    f.client
        .put(
            &vnet,
            cutover::azure::resources::NETWORK_API,
            &json!({"location": "westeurope", "properties": {
                "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
                "subnets": [{"name": "app", "properties": {"addressPrefix": "10.1.1.0/24"}}]}}),
        )
        .await
        .unwrap();
    // A VM whose NIC takes the subnet's first free address, as a failover's would.
    {
        let mut world = f.sim.sim.world();
        let vm = azure_sim::asr::model::TargetVm {
            resource_group_id: rg.clone(),
            name: "vm1".into(),
            size: "Standard_D2s_v5".into(),
            location: "westeurope".into(),
            os_type: "Linux".into(),
            network_id: Some(vnet.clone()),
            subnet: Some("app".into()),
            static_ip: None,
        };
        let id = vm.id("");
        azure_sim::arm::compute::create_vm(&mut world, &id, &vm, jiff::Timestamp::now());
    }
    let check = |address: &'static str| {
        let client = f.client.clone();
        let vnet = vnet.clone();
        async move {
            cutover::azure::resources::check_ip_address_availability(&client, &vnet, address)
                .await
                .unwrap()
                .unwrap()
        }
    };
    let taken = check("10.1.1.4").await;
    assert!(!taken.available && !taken.is_platform_reserved);
    assert_eq!(
        taken.available_ip_addresses,
        ["10.1.1.5", "10.1.1.6", "10.1.1.7", "10.1.1.8", "10.1.1.9"]
    );
    assert!(check("10.1.1.5").await.available);
    let gateway = check("10.1.1.1").await;
    assert!(!gateway.available && gateway.is_platform_reserved);
    assert!(!check("10.1.2.4").await.available, "in no subnet");
    let gone = cutover::azure::resources::check_ip_address_availability(
        &f.client,
        &format!("{rg}/providers/Microsoft.Network/virtualNetworks/nope"),
        "10.1.1.5",
    )
    .await
    .unwrap();
    assert!(gone.is_none(), "a VNet that does not exist is a 404");
}
