//! An in-process azure-sim with an HTTPS client that trusts it and a token.
#![allow(dead_code, reason = "each test binary uses part of the harness")]

use std::net::SocketAddr;

use azure_sim::{Persistence, Running, Settings};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

pub const RG_API: &str = "api-version=2025-04-01";
pub const ASR_API: &str = "api-version=2025-08-01";

/// Settings that make simulated minutes pass in milliseconds.
pub fn fast() -> Settings {
    Settings {
        time_scale: 1000.0,
        ..Settings::default()
    }
}

pub struct Harness {
    pub running: Running,
    pub http: Client,
    pub token: String,
}

impl Harness {
    pub async fn start(settings: Settings) -> Harness {
        Harness::start_with(settings, Persistence::default()).await
    }

    pub async fn start_with(settings: Settings, persistence: Persistence) -> Harness {
        // reqwest is built without a crypto provider of its own: ring is the one in this workspace.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let running = azure_sim::start(listen, settings, persistence, None)
            .await
            .expect("simulator starts");
        let certificate =
            reqwest::Certificate::from_pem(running.certificate_pem.as_bytes()).unwrap();
        let http = Client::builder()
            .add_root_certificate(certificate)
            .build()
            .unwrap();
        let mut harness = Harness {
            running,
            http,
            token: String::new(),
        };
        harness.token = harness.token().await;
        harness
    }

    pub async fn token(&self) -> String {
        let settings = &self.running.sim.settings;
        let response = self
            .http
            .post(format!(
                "{}/{}/oauth2/v2.0/token",
                self.url(),
                settings.tenant
            ))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", &settings.client_id),
                ("client_secret", &settings.client_secret),
                ("scope", "https://management.azure.com/.default"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        response.json::<Value>().await.unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    pub fn url(&self) -> &str {
        self.running.base_url()
    }

    pub fn subscription(&self) -> String {
        format!("/subscriptions/{}", self.running.sim.settings.subscription)
    }

    pub async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let url = if path_and_query.starts_with("https://") {
            path_and_query.to_owned()
        } else {
            format!("{}{path_and_query}", self.url())
        };
        let mut request = self.http.request(method, url).bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    pub async fn create_group(&self, name: &str) {
        let (status, _, _) = self
            .call(
                Method::PUT,
                &format!("{}/resourcegroups/{name}?{RG_API}", self.subscription()),
                Some(json!({"location": "westeurope"})),
            )
            .await;
        assert!(status.is_success(), "creating {name}: {status}");
    }

    /// PUTs `body` at `path` and fails the test unless ARM accepts it.
    pub async fn put_ok(
        &self,
        path: &str,
        body: Value,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let answer = self.call(Method::PUT, path, Some(body)).await;
        assert!(
            answer.0.is_success(),
            "PUT {path}: {} {}",
            answer.0,
            answer.2
        );
        answer
    }

    /// Creates a resource group and a vault in westeurope; returns the vault's path.
    pub async fn vault(&self, group: &str, name: &str) -> String {
        self.create_group(group).await;
        let path = format!(
            "{}/resourceGroups/{group}/providers/Microsoft.RecoveryServices/vaults/{name}",
            self.subscription()
        );
        self.put_ok(
            &format!("{path}?api-version=2026-11-01"),
            json!({"location": "westeurope", "sku": {"name": "Standard"}}),
        )
        .await;
        path
    }

    /// Moves simulated time forward, so running jobs finish.
    pub fn advance(&self, seconds: u64) {
        self.running
            .sim
            .clock
            .advance(std::time::Duration::from_secs(seconds));
    }
}
