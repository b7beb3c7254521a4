//! azure-sim on the wire, over HTTPS with its own certificate: authentication and token
//! expiry, ARM's error bodies, paging, conflicts, throttling, faults and persistence.

use std::time::Duration;

use azure_sim::{Persistence, Settings};
use common::{Harness, RG_API};

mod common;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const STORAGE_API: &str = "api-version=2026-09-01";

fn fast() -> Settings {
    Settings {
        time_scale: 1000.0,
        ..Settings::default()
    }
}

#[tokio::test]
async fn arm_refuses_requests_without_a_valid_token() {
    let sim = Harness::start(fast()).await;
    let url = format!(
        "{}{}/resourcegroups?{RG_API}",
        sim.url(),
        sim.subscription()
    );
    let response = sim.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");

    let response = sim
        .http
        .get(&url)
        .bearer_auth("forged")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"]["code"],
        "InvalidAuthenticationToken"
    );
}

/// A client-credentials token request of the simulator's service principal.
async fn token_request(sim: &Harness, secret: &str, scope: &str) -> reqwest::Response {
    let settings = &sim.running.sim.settings;
    sim.http
        .post(format!(
            "{}/{}/oauth2/v2.0/token",
            sim.url(),
            settings.tenant
        ))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", settings.client_id.as_str()),
            ("client_secret", secret),
            ("scope", scope),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_wrong_client_secret_gets_entras_error() {
    let sim = Harness::start(fast()).await;
    let response = token_request(&sim, "wrong", "https://management.azure.com/.default").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"], json!([7000215]));
}

#[tokio::test]
async fn a_token_for_another_resource_is_refused_as_arm_refuses_it() {
    let sim = Harness::start(fast()).await;
    let secret = sim.running.sim.settings.client_secret.clone();
    let token: Value = token_request(&sim, &secret, "https://vault.azure.net/.default")
        .await
        .json()
        .await
        .unwrap();
    let vault_token = Harness {
        token: token["access_token"].as_str().unwrap().to_owned(),
        ..sim
    };
    let (status, _, body) = vault_token
        .call(
            Method::GET,
            &format!("{}/resourcegroups?{RG_API}", vault_token.subscription()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "InvalidAuthenticationTokenAudience");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("The access token has been obtained for wrong audience or resource 'https://vault.azure.net'."),
        "{body}"
    );
}

#[tokio::test]
async fn tokens_expire_and_a_fresh_one_works() {
    let sim = Harness::start(Settings {
        token_lifetime: Duration::from_secs(1),
        ..fast()
    })
    .await;
    let path = format!("{}/resourcegroups?{RG_API}", sim.subscription());
    assert_eq!(sim.call(Method::GET, &path, None).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, _, body) = sim.call(Method::GET, &path, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "ExpiredAuthenticationToken");
    let renewed = Harness {
        token: sim.token().await,
        ..sim
    };
    assert_eq!(
        renewed.call(Method::GET, &path, None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn errors_have_arms_body_and_request_ids() {
    let sim = Harness::start(fast()).await;
    let (status, headers, body) = sim
        .call(
            Method::GET,
            &format!("{}/resourcegroups/nowhere?{RG_API}", sim.subscription()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "ResourceGroupNotFound");
    assert_eq!(
        body["error"]["message"],
        "Resource group 'nowhere' could not be found."
    );
    assert!(headers.contains_key("x-ms-request-id"));
    assert!(headers.contains_key("x-ms-correlation-request-id"));

    let (status, _, body) = sim
        .call(
            Method::GET,
            &format!("{}/resourcegroups", sim.subscription()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "MissingApiVersionParameter");

    let (status, _, body) = sim
        .call(
            Method::GET,
            &format!("/subscriptions/99999999-9999-9999-9999-999999999999/resourcegroups?{RG_API}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "SubscriptionNotFound");

    let (status, _, body) = sim
        .call(
            Method::PUT,
            &format!("{}/resourcegroups/rg?{RG_API}", sim.subscription()),
            Some(json!("not an object")),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "InvalidRequestContent");
}

#[tokio::test]
async fn lists_page_with_next_link() {
    let sim = Harness::start(Settings {
        page_size: 3,
        ..fast()
    })
    .await;
    for i in 0..7 {
        sim.create_group(&format!("rg-{i}")).await;
    }
    let mut next = Some(format!("{}/resourcegroups?{RG_API}", sim.subscription()));
    let mut pages = Vec::new();
    while let Some(url) = next {
        let (status, _, body) = sim.call(Method::GET, &url, None).await;
        assert_eq!(status, StatusCode::OK);
        pages.push(
            body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>(),
        );
        next = body["nextLink"].as_str().map(str::to_owned);
    }
    // The built-in inventory's Azure-region source has its VMs in rg-app-neu.
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 2]);
    assert_eq!(
        pages.concat(),
        (0..7)
            .map(|i| format!("rg-{i}"))
            .chain(["rg-app-neu".to_owned()])
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_deletion_between_pages_skips_nothing_that_remains() {
    let sim = Harness::start(Settings {
        page_size: 3,
        ..fast()
    })
    .await;
    for i in 0..7 {
        sim.create_group(&format!("rg-{i}")).await;
    }
    let list = format!("{}/resourcegroups?{RG_API}", sim.subscription());
    let names = |body: &Value| -> Vec<String> {
        body["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, _, first) = sim.call(Method::GET, &list, None).await;
    assert_eq!(names(&first), ["rg-0", "rg-1", "rg-2"]);
    // rg-1 goes while the client is between pages.
    sim.call(
        Method::DELETE,
        &format!("{}/resourcegroups/rg-1?{RG_API}", sim.subscription()),
        None,
    )
    .await;
    loop {
        let (_, _, now) = sim.call(Method::GET, &list, None).await;
        if !names(&now).contains(&"rg-1".to_owned()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let next = first["nextLink"].as_str().unwrap().to_owned();
    let (_, _, second) = sim.call(Method::GET, &next, None).await;
    assert_eq!(
        names(&second),
        ["rg-3", "rg-4", "rg-5"],
        "the next page starts where the first ended, whatever was deleted before it"
    );
}

#[tokio::test]
async fn storage_names_are_global_and_a_taken_one_is_a_409() {
    let sim = Harness::start(fast()).await;
    sim.create_group("rg-a").await;
    sim.create_group("rg-b").await;
    let body =
        json!({"location": "westeurope", "sku": {"name": "Standard_GRS"}, "kind": "StorageV2"});
    let path = |group: &str| {
        format!(
            "{}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/shared01?{STORAGE_API}",
            sim.subscription()
        )
    };
    let (status, headers, _) = sim
        .call(Method::PUT, &path("rg-a"), Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert!(headers.contains_key("location") && headers.contains_key("retry-after"));
    let (status, _, error) = sim.call(Method::PUT, &path("rg-b"), Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["error"]["code"], "StorageAccountAlreadyTaken");
}

#[tokio::test]
async fn storage_creation_is_polled_through_location_until_succeeded() {
    let sim = Harness::start(Settings {
        time_scale: 20.0,
        ..Settings::default()
    })
    .await;
    sim.create_group("rg").await;
    let path = format!(
        "{}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct?{STORAGE_API}",
        sim.subscription()
    );
    let (status, headers, _) = sim.call(Method::PUT, &path, Some(json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}))).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let location = headers["location"].to_str().unwrap().to_owned();
    let (_, _, account) = sim.call(Method::GET, &path, None).await;
    assert_eq!(account["properties"]["provisioningState"], "Creating");
    let (status, headers, _) = sim.call(Method::GET, &location, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(headers["retry-after"], "1");
    sim.running.sim.clock.advance(Duration::from_secs(30));
    let (status, _, account) = sim.call(Method::GET, &location, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(account["properties"]["provisioningState"], "Succeeded");
}

#[tokio::test]
async fn a_burst_past_arms_limit_gets_429_with_retry_after() {
    let sim = Harness::start(fast()).await;
    let path = format!("{}/resourcegroups/none?{RG_API}", sim.subscription());
    let mut first_throttled = None;
    for i in 0..400 {
        let (status, headers, body) = sim.call(Method::GET, &path, None).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            assert_eq!(body["error"]["code"], "SubscriptionRequestsThrottled");
            let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
            assert!(retry_after >= 1);
            first_throttled = Some(i);
            break;
        }
        let header = |name: &str| -> u32 { headers[name].to_str().unwrap().parse().unwrap() };
        let remaining = header("x-ms-ratelimit-remaining-subscription-reads");
        assert!(remaining < 250);
        // The subscription's shared bucket is counted beside the principal's.
        let global = header("x-ms-ratelimit-remaining-subscription-global-reads");
        assert!(global < 3750 && global > remaining, "{global} {remaining}");
    }
    // 250 in the bucket, plus what refills (25/s) while the burst runs.
    let throttled_at = first_throttled.expect("a 429 within 400 reads");
    assert!(throttled_at >= 250, "throttled after {throttled_at} reads");
    // Writes have their own bucket.
    let (status, _, _) = sim
        .call(
            Method::PUT,
            &format!("{}/resourcegroups/rg?{RG_API}", sim.subscription()),
            Some(json!({"location": "westeurope"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn injected_faults_apply_as_many_times_as_asked() {
    let sim = Harness::start(fast()).await;
    let admin = format!("{}/_sim/faults", sim.url());
    let fault = json!({"method": "GET", "pathContains": "/resourceGroups/", "status": 503, "retryAfterSeconds": 7, "times": 2});
    assert_eq!(
        sim.http
            .post(&admin)
            .json(&fault)
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::CREATED
    );
    sim.create_group("rg").await;
    let path = format!("{}/resourcegroups/rg?{RG_API}", sim.subscription());
    for _ in 0..2 {
        let (status, headers, body) = sim.call(Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers["retry-after"], "7");
        assert_eq!(body["error"]["code"], "ServiceUnavailable");
    }
    assert_eq!(sim.call(Method::GET, &path, None).await.0, StatusCode::OK);

    let log: Value = sim
        .http
        .get(format!("{}/_sim/requests?method=GET&status=503", sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log["count"], 2);
    assert_eq!(
        sim.http.delete(&admin).send().await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let listed: Value = sim
        .http
        .get(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["faults"], json!([]));
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let persistence = Persistence {
        path: Some(dir.path().join("state.json")),
    };
    let first = Harness::start_with(fast(), persistence.clone()).await;
    first.create_group("rg-kept").await;
    first.running.shutdown().await;

    let second = Harness::start_with(fast(), persistence).await;
    let (status, _, group) = second
        .call(
            Method::GET,
            &format!("{}/resourcegroups/rg-kept?{RG_API}", second.subscription()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(group["location"], "westeurope");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_write_is_on_disk_and_concurrent_writes_share_saves() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("state.json");
    let sim = Harness::start_with(
        fast(),
        Persistence {
            path: Some(file.clone()),
        },
    )
    .await;
    let before = sim
        .running
        .sim
        .saves_made
        .load(std::sync::atomic::Ordering::Relaxed);
    let writes = 40;
    let names: Vec<String> = (0..writes).map(|i| format!("rg-{i}")).collect();
    futures::future::join_all(names.iter().map(|name| sim.create_group(name))).await;
    // Answered means saved: the file holds every group now, with nothing shut down.
    let saved: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let text = saved.to_string();
    for i in 0..writes {
        assert!(
            text.contains(&format!("\"rg-{i}\"")),
            "rg-{i} answered but not saved"
        );
    }
    // A save covers the writes that waited while the one before it was written.
    let saves = sim
        .running
        .sim
        .saves_made
        .load(std::sync::atomic::Ordering::Relaxed)
        - before;
    assert!(
        saves >= 1 && saves < writes,
        "{saves} saves for {writes} concurrent writes"
    );
}

#[tokio::test]
async fn a_put_that_would_move_a_resource_to_another_region_is_a_409() {
    let sim = Harness::start(fast()).await;
    sim.create_group("rg").await;
    let path = format!(
        "{}/resourceGroups/rg/providers/Microsoft.RecoveryServices/vaults/v1?api-version=2026-11-01",
        sim.subscription()
    );
    let vault = |location: &str| json!({"location": location, "sku": {"name": "Standard"}});
    assert_eq!(
        sim.call(Method::PUT, &path, Some(vault("westeurope")))
            .await
            .0,
        StatusCode::CREATED
    );
    assert_eq!(
        sim.call(Method::PUT, &path, Some(vault("westeurope")))
            .await
            .0,
        StatusCode::OK,
        "the same PUT again is an update"
    );
    let (status, _, body) = sim.call(Method::PUT, &path, Some(vault("eastus"))).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"]["code"], "InvalidResourceLocation");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already exists in location 'westeurope'")
    );
}
