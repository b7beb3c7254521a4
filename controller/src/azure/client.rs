//! One ARM client per credential: azure_core's pipeline (bearer token, retries with
//! `Retry-After`, the budget, request counting) over a reqwest transport, and the few verbs
//! the typed operations need.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::policies::auth::BearerTokenAuthorizationPolicy;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{
    ClientOptions, Context, Method, Pipeline, PipelineSendOptions, RawResponse, Request, Transport,
    Url,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::budget::{Budget, BudgetPolicy};
use super::error::ArmError;
use super::lro::Polling;
use super::stats::{RequestStats, resource_type};

/// The public cloud's ARM endpoint.
pub const PUBLIC_ARM_ENDPOINT: &str = "https://management.azure.com";
/// The token scope of ARM in every cloud.
pub const ARM_SCOPE: &str = "https://management.azure.com/.default";

/// Where ARM is, how tokens are asked for it, and what to trust: the flags of every command
/// that talks to Azure.
#[derive(Clone, Debug, clap::Args)]
pub struct ArmArgs {
    /// ARM endpoint (another cloud, or azure-sim).
    #[arg(long, env = "CUTOVER_ARM_ENDPOINT", default_value = PUBLIC_ARM_ENDPOINT)]
    pub arm_endpoint: Url,
    /// Audience of ARM tokens: the cloud's resource manager (`https://management.usgovcloudapi.net`
    /// for US Government, `https://management.chinacloudapi.cn` for China).
    #[arg(
        long,
        env = "CUTOVER_ARM_AUDIENCE",
        default_value = "https://management.azure.com"
    )]
    pub arm_audience: String,
    /// Entra ID authority host; the public cloud's when absent.
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    pub authority_host: Option<Url>,
    /// PEM bundle to trust besides the system roots (a private CA, azure-sim's certificate).
    #[arg(long, env = "CUTOVER_CA_FILE")]
    pub ca_file: Option<PathBuf>,
    /// Seconds an ARM request may take before it is abandoned and retried.
    #[arg(long, env = "CUTOVER_ARM_TIMEOUT_SECONDS", default_value_t = 60.0)]
    pub arm_timeout_seconds: f64,
}

impl ArmArgs {
    pub fn settings(&self) -> anyhow::Result<ArmSettings> {
        Ok(ArmSettings::new(
            self.arm_endpoint.clone(),
            self.authority_host.clone(),
            self.ca_file.clone(),
            Duration::from_secs_f64(self.arm_timeout_seconds.max(0.1)),
        )?
        .with_audience(&self.arm_audience))
    }
}

/// Where ARM and Entra ID are, and what to trust.
#[derive(Clone, Debug)]
pub struct ArmSettings {
    pub arm_endpoint: Url,
    /// Entra authority host; `AZURE_AUTHORITY_HOST` or the public cloud when absent.
    pub authority_host: Option<Url>,
    /// A PEM bundle to trust besides the system roots (a private CA, azure-sim).
    pub ca_file: Option<PathBuf>,
    /// The token scope ARM accepts: `{audience}/.default` (each sovereign cloud has its own).
    pub scope: String,
    http: reqwest::Client,
}

impl ArmSettings {
    /// Tokens for `audience` (`https://management.usgovcloudapi.net`, say) instead of the
    /// public cloud's ARM.
    pub fn with_audience(mut self, audience: &str) -> ArmSettings {
        self.scope = format!("{}/.default", audience.trim_end_matches('/'));
        self
    }

    pub fn new(
        arm_endpoint: Url,
        authority_host: Option<Url>,
        ca_file: Option<PathBuf>,
        request_timeout: Duration,
    ) -> anyhow::Result<ArmSettings> {
        // reqwest is built without a crypto provider: ring is the workspace's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10).min(request_timeout))
            .timeout(request_timeout);
        if let Some(path) = &ca_file {
            let pem = std::fs::read(path)
                .map_err(|e| anyhow::anyhow!("reading the CA bundle {}: {e}", path.display()))?;
            for certificate in reqwest::Certificate::from_pem_bundle(&pem)? {
                builder = builder.add_root_certificate(certificate);
            }
        }
        Ok(ArmSettings {
            arm_endpoint,
            authority_host,
            ca_file,
            scope: ARM_SCOPE.to_owned(),
            http: builder.build()?,
        })
    }

    /// The HTTP transport every pipeline uses.
    pub fn transport(&self) -> Transport {
        Transport::new(Arc::new(self.http.clone()))
    }
}

/// What a write answered: its status, its body if any, and how to follow it.
#[derive(Debug)]
pub struct Accepted {
    pub status: u16,
    pub body: Option<Value>,
    pub polling: Polling,
}

/// An ARM client for one identity.
#[derive(Clone)]
pub struct ArmClient {
    pipeline: Pipeline,
    endpoint: Url,
    stats: Arc<RequestStats>,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

/// Counts every try of every request by resource type, method and status.
#[derive(Debug)]
struct CountingPolicy(Arc<RequestStats>);

#[async_trait]
impl Policy for CountingPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let resource = resource_type(request.url().path());
        let method = request.method().to_string();
        let result = next[0].send(ctx, request, &next[1..]).await;
        let status = result.as_ref().map(|r| u16::from(r.status())).unwrap_or(0);
        self.0.record(&resource, &method, status);
        if status == 429
            && let Ok(response) = &result
        {
            self.0.record_throttled(retry_after(response.headers()));
        }
        result
    }
}

/// Refuses every request but a read.
#[derive(Debug)]
struct ReadOnlyPolicy;

#[async_trait]
impl Policy for ReadOnlyPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        if !matches!(request.method(), Method::Get | Method::Head) {
            return Err(azure_core::Error::with_message(
                azure_core::error::ErrorKind::Other,
                format!(
                    "a read-only client refused {} {}",
                    request.method(),
                    request.url().path()
                ),
            ));
        }
        next[0].send(ctx, request, &next[1..]).await
    }
}

/// The wait a throttled answer asks for, in the headers azure_core's retry policy honours.
fn retry_after(headers: &azure_core::http::headers::Headers) -> Option<Duration> {
    let header = |name: &'static str| {
        headers
            .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
            .and_then(|value| value.trim().parse::<u64>().ok())
    };
    header("retry-after-ms")
        .or_else(|| header("x-ms-retry-after-ms"))
        .map(Duration::from_millis)
        .or_else(|| header("retry-after").map(Duration::from_secs))
}

impl ArmClient {
    /// A client for `credential`, sharing `budget` and `stats` with the other clients of the
    /// same subscription.
    pub fn new(
        settings: &ArmSettings,
        credential: Arc<dyn TokenCredential>,
        budget: Arc<Budget>,
        stats: Arc<RequestStats>,
    ) -> ArmClient {
        ArmClient::with_policies(settings, credential, budget, stats, Vec::new())
    }

    /// A client that can only read: any other request fails before it leaves the process
    /// (`cutover plan` promises it makes no write; this makes it so whatever the code asks).
    pub fn read_only(settings: &ArmSettings, credential: Arc<dyn TokenCredential>) -> ArmClient {
        ArmClient::with_policies(
            settings,
            credential,
            Arc::default(),
            Arc::default(),
            vec![Arc::new(ReadOnlyPolicy)],
        )
    }

    fn with_policies(
        settings: &ArmSettings,
        credential: Arc<dyn TokenCredential>,
        budget: Arc<Budget>,
        stats: Arc<RequestStats>,
        per_call: Vec<Arc<dyn Policy>>,
    ) -> ArmClient {
        let options = ClientOptions {
            transport: Some(settings.transport()),
            ..Default::default()
        };
        let auth: Arc<dyn Policy> = Arc::new(BearerTokenAuthorizationPolicy::new(
            credential,
            [settings.scope.as_str()],
        ));
        let per_try: Vec<Arc<dyn Policy>> = vec![
            Arc::new(BudgetPolicy(budget)),
            auth,
            Arc::new(CountingPolicy(stats.clone())),
        ];
        let pipeline = Pipeline::new(
            option_env!("CARGO_PKG_NAME"),
            option_env!("CARGO_PKG_VERSION"),
            options,
            per_call,
            per_try,
            None,
        );
        ArmClient {
            pipeline,
            endpoint: settings.arm_endpoint.clone(),
            stats,
        }
    }

    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    fn url(&self, path: &str, api_version: &str) -> Result<Url, ArmError> {
        let mut url = self.endpoint.join(path).map_err(|e| ArmError::Decode {
            resource: resource_type(path),
            message: format!("bad path {path}: {e}"),
        })?;
        url.query_pairs_mut()
            .append_pair("api-version", api_version);
        Ok(url)
    }

    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
    ) -> Result<RawResponse, ArmError> {
        self.send_if_match(method, url, body, None).await
    }

    /// Sends a request; with `if_match`, only if the resource is still at that `etag`.
    async fn send_if_match(
        &self,
        method: Method,
        url: Url,
        body: Option<Vec<u8>>,
        if_match: Option<&str>,
    ) -> Result<RawResponse, ArmError> {
        let mut request = Request::new(url, method);
        if let Some(etag) = if_match {
            request.insert_header("if-match", etag.to_owned());
        }
        if let Some(body) = body {
            request.insert_header("content-type", "application/json");
            request.set_body(body);
        }
        let options = PipelineSendOptions {
            skip_checks: true,
            ..Default::default()
        };
        Ok(self
            .pipeline
            .send(&Context::new(), &mut request, Some(options))
            .await?)
    }

    /// Turns a non-success answer into an [`ArmError`] with ARM's code and message.
    fn check(method: &Method, path: &str, response: RawResponse) -> Result<RawResponse, ArmError> {
        let status = u16::from(response.status());
        if (200..300).contains(&status) {
            return Ok(response);
        }
        let header = |name: &'static str| {
            response
                .headers()
                .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
                .map(str::to_owned)
        };
        let retry_after = header("retry-after")
            .and_then(|s| s.parse::<u64>().ok())
            .map(Duration::from_secs);
        let request_id = header("x-ms-request-id");
        let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        let error = &body["error"];
        Err(ArmError::Response(Box::new(super::error::ErrorResponse {
            method: method.to_string(),
            resource: resource_type(path),
            status,
            code: error["code"].as_str().unwrap_or("Unknown").to_owned(),
            message: error["message"].as_str().map_or_else(
                || String::from_utf8_lossy(response.body()).into_owned(),
                str::to_owned,
            ),
            target: error["target"].as_str().map(str::to_owned),
            retry_after,
            request_id,
            details: serde_json::from_value(error["details"].clone()).unwrap_or_default(),
        })))
    }

    fn decode<T: DeserializeOwned>(path: &str, response: &RawResponse) -> Result<T, ArmError> {
        serde_json::from_slice(response.body()).map_err(|e| ArmError::Decode {
            resource: resource_type(path),
            message: e.to_string(),
        })
    }

    /// GETs a resource; `None` when ARM answers 404.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        api_version: &str,
    ) -> Result<Option<T>, ArmError> {
        let response = self
            .send(Method::Get, self.url(path, api_version)?, None)
            .await?;
        match Self::check(&Method::Get, path, response) {
            Ok(response) => Ok(Some(Self::decode(path, &response)?)),
            Err(error) if error.class() == super::ErrorClass::NotFound => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// GETs every page of a list, following `nextLink`.
    pub async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        api_version: &str,
    ) -> Result<Vec<T>, ArmError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Page<T> {
            #[serde(default = "Vec::new")]
            value: Vec<T>,
            next_link: Option<String>,
        }
        let mut items = Vec::new();
        let mut next = Some(self.url(path, api_version)?);
        while let Some(url) = next.take() {
            let response =
                Self::check(&Method::Get, path, self.send(Method::Get, url, None).await?)?;
            let page: Page<T> = Self::decode(path, &response)?;
            items.extend(page.value);
            next = match page.next_link {
                Some(link) => Some(Url::parse(&link).map_err(|e| ArmError::Decode {
                    resource: resource_type(path),
                    message: format!("bad nextLink: {e}"),
                })?),
                None => None,
            };
        }
        Ok(items)
    }

    async fn write(
        &self,
        method: Method,
        path: &str,
        api_version: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Accepted, ArmError> {
        self.write_if_match(method, path, api_version, body, None)
            .await
    }

    async fn write_if_match(
        &self,
        method: Method,
        path: &str,
        api_version: &str,
        body: Option<Vec<u8>>,
        if_match: Option<&str>,
    ) -> Result<Accepted, ArmError> {
        let response = Self::check(
            &method,
            path,
            self.send_if_match(method, self.url(path, api_version)?, body, if_match)
                .await?,
        )?;
        let header = |name: &'static str| {
            response
                .headers()
                .get_optional_str(&azure_core::http::headers::HeaderName::from_static(name))
        };
        let polling = Polling::from_headers(
            header("azure-asyncoperation"),
            header("location"),
            header("retry-after"),
        );
        let body = serde_json::from_slice(response.body()).ok();
        Ok(Accepted {
            status: u16::from(response.status()),
            body,
            polling,
        })
    }

    /// A PUT or POST body, without `null` properties (see [`without_nulls`]).
    fn encode(path: &str, body: &impl Serialize) -> Result<Vec<u8>, ArmError> {
        let failed = |e: serde_json::Error| ArmError::Decode {
            resource: resource_type(path),
            message: e.to_string(),
        };
        let value = serde_json::to_value(body).map_err(failed)?;
        serde_json::to_vec(&without_nulls(value)).map_err(failed)
    }

    /// A PATCH body as it is: in a merge patch, `null` removes a property.
    fn encode_patch(path: &str, body: &impl Serialize) -> Result<Vec<u8>, ArmError> {
        serde_json::to_vec(body).map_err(|e| ArmError::Decode {
            resource: resource_type(path),
            message: e.to_string(),
        })
    }

    pub async fn put(
        &self,
        path: &str,
        api_version: &str,
        body: &impl Serialize,
    ) -> Result<Accepted, ArmError> {
        self.write(
            Method::Put,
            path,
            api_version,
            Some(Self::encode(path, body)?),
        )
        .await
    }

    /// A PUT of what was read at `etag` (a read-modify-write): ARM refuses it with 412 when the
    /// resource changed since.
    pub async fn put_if_match(
        &self,
        path: &str,
        api_version: &str,
        body: &impl Serialize,
        etag: Option<&str>,
    ) -> Result<Accepted, ArmError> {
        self.write_if_match(
            Method::Put,
            path,
            api_version,
            Some(Self::encode(path, body)?),
            etag,
        )
        .await
    }

    pub async fn patch(
        &self,
        path: &str,
        api_version: &str,
        body: &impl Serialize,
    ) -> Result<Accepted, ArmError> {
        self.write(
            Method::Patch,
            path,
            api_version,
            Some(Self::encode_patch(path, body)?),
        )
        .await
    }

    pub async fn post(
        &self,
        path: &str,
        api_version: &str,
        body: Option<&Value>,
    ) -> Result<Accepted, ArmError> {
        let body = body.map(|b| Self::encode(path, b)).transpose()?;
        self.write(Method::Post, path, api_version, body).await
    }

    /// Where a long-running operation is, from the URL ARM gave for it: an
    /// `Azure-AsyncOperation` status document, or a `Location` result. The URL must be on this
    /// client's ARM endpoint: the bearer token goes nowhere else.
    pub async fn operation_status(
        &self,
        url: &str,
        async_operation: bool,
    ) -> Result<super::lro::OperationStatus, ArmError> {
        let parsed = Url::parse(url)
            .ok()
            .filter(|u| u.origin() == self.endpoint.origin())
            .ok_or_else(|| ArmError::Decode {
                resource: "operation".into(),
                message: format!(
                    "the operation URL {url} is not on the ARM endpoint {}",
                    self.endpoint
                ),
            })?;
        let response = self.send(Method::Get, parsed, None).await?;
        let status = u16::from(response.status());
        let retry_after = response
            .headers()
            .get_optional_str(&azure_core::http::headers::HeaderName::from_static(
                "retry-after",
            ))
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
        Ok(super::lro::OperationStatus::read(
            async_operation,
            status,
            &body,
            retry_after,
        ))
    }

    /// DELETEs a resource; a 404 counts as already gone.
    pub async fn delete(&self, path: &str, api_version: &str) -> Result<Accepted, ArmError> {
        match self.write(Method::Delete, path, api_version, None).await {
            Err(error) if error.class() == super::ErrorClass::NotFound => Ok(Accepted {
                status: 404,
                body: None,
                polling: Polling::default(),
            }),
            other => other,
        }
    }
}

/// A request body without its `null` properties: an optional property cutover has no value for
/// is left out, as the official SDKs' serializers leave out `None`, rather than sent as `null`.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_asked_for_the_clouds_resource_manager() -> anyhow::Result<()> {
        let endpoint = Url::parse("https://management.usgovcloudapi.net/")?;
        let public = ArmSettings::new(endpoint.clone(), None, None, Duration::from_secs(60))?;
        assert_eq!(public.scope, "https://management.azure.com/.default");
        let government = ArmSettings::new(endpoint, None, None, Duration::from_secs(60))?
            .with_audience("https://management.usgovcloudapi.net/");
        assert_eq!(
            government.scope,
            "https://management.usgovcloudapi.net/.default"
        );
        Ok(())
    }

    #[test]
    fn unset_properties_are_left_out_not_sent_as_null() {
        let body = serde_json::json!({"properties": {"licenseType": null, "targetVmSize": "Standard_D2s_v5",
            "disks": [{"diskId": "a", "diskEncryptionSetId": null}], "tags": {}}});
        assert_eq!(
            without_nulls(body),
            serde_json::json!({"properties": {"targetVmSize": "Standard_D2s_v5", "disks": [{"diskId": "a"}], "tags": {}}})
        );
    }
}
