//! The validating webhook: `kubectl apply` and a GitOps sync are refused at once, naming the
//! field, for what the reconcilers would report as `InvalidSpec` later.
//!
//! Every replica serves it, leader or not (a standby answers reviews while the leader
//! reconciles), from the moment it has a certificate. Nothing of the controller depends on it:
//! the reconcilers run the same `validate()` and report in status whatever was stored while
//! the webhook was not there.

pub mod admission;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use axum_server::tls_rustls::RustlsConfig;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::core::DynamicObject;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview};

use crate::metrics::Metrics;

#[derive(Clone, Debug, clap::Args)]
pub struct WebhookArgs {
    /// Address serving the validating webhook over HTTPS at `/validate`; no webhook when absent.
    #[arg(long, env = "CUTOVER_WEBHOOK_ADDRESS")]
    pub webhook_address: Option<SocketAddr>,
    /// Where the serving certificate comes from: `generate` (the controller issues it into
    /// --webhook-secret and keeps its CA in the configuration's caBundle) or `files` (tls.crt
    /// and tls.key in --webhook-cert-dir, such as cert-manager's Secret mounted, its CA injector
    /// keeping the caBundle).
    #[arg(long, env = "CUTOVER_WEBHOOK_CERTIFICATE", value_enum, default_value_t = CertificateSource::Generate)]
    pub webhook_certificate: CertificateSource,
    /// Directory of tls.crt and tls.key, with `--webhook-certificate files`.
    #[arg(
        long,
        env = "CUTOVER_WEBHOOK_CERT_DIR",
        default_value = "/etc/cutover/webhook-tls"
    )]
    pub webhook_cert_dir: PathBuf,
    /// Secret holding the generated CA and serving certificate, in the controller's namespace.
    #[arg(
        long,
        env = "CUTOVER_WEBHOOK_SECRET",
        default_value = "cutover-webhook-tls"
    )]
    pub webhook_secret: String,
    /// The Service the API server calls: its DNS names are in the certificate.
    #[arg(
        long,
        env = "CUTOVER_WEBHOOK_SERVICE",
        default_value = "cutover-webhook"
    )]
    pub webhook_service: String,
    /// More names or IP addresses for the certificate (comma-separated), as a `url` clientConfig
    /// calls it.
    #[arg(
        long = "webhook-host",
        env = "CUTOVER_WEBHOOK_HOSTS",
        value_delimiter = ','
    )]
    pub webhook_hosts: Vec<String>,
    /// The ValidatingWebhookConfiguration whose caBundle the controller keeps current.
    #[arg(long, env = "CUTOVER_WEBHOOK_CONFIGURATION", default_value = "cutover")]
    pub webhook_configuration: String,
    /// Seconds between looks at the certificate (renewal, another replica's renewal, a
    /// caBundle someone reset).
    #[arg(long, env = "CUTOVER_WEBHOOK_CHECK_SECONDS", default_value_t = 60.0)]
    pub webhook_check_seconds: f64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum CertificateSource {
    Generate,
    Files,
}

/// Binds the address now (so a taken port fails the start), then serves in the background
/// once it has a certificate, keeping it current until `shutdown`.
pub async fn serve(
    client: kube::Client,
    args: WebhookArgs,
    metrics: Arc<Metrics>,
    ready: Arc<crate::metrics::Readiness>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(address) = args.webhook_address else {
        return Ok(None);
    };
    let listener = std::net::TcpListener::bind(address)
        .map_err(|e| anyhow::anyhow!("binding the webhook address {address}: {e}"))?;
    listener.set_nonblocking(true)?;
    let namespace =
        std::env::var("POD_NAMESPACE").unwrap_or_else(|_| client.default_namespace().to_owned());
    let mut names = vec![
        format!("{}.{namespace}.svc", args.webhook_service),
        format!("{}.{namespace}.svc.cluster.local", args.webhook_service),
    ];
    names.extend(args.webhook_hosts.iter().cloned());
    tracing::info!(address = %listener.local_addr()?, certificate = ?args.webhook_certificate, ?names, "serving the validating webhook at /validate");
    let keeper = Keeper {
        secrets: Api::namespaced(client.clone(), &namespace),
        configurations: Api::all(client),
        names,
        args: args.clone(),
    };
    let handle = axum_server::Handle::new();
    let stopping = handle.clone();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        stopping.graceful_shutdown(Some(Duration::from_secs(5)));
        let _ = stop.send(true);
    });
    let app = Router::new()
        .route("/validate", post(validate))
        .with_state(metrics);
    Ok(Some(tokio::spawn(async move {
        let check = Duration::from_secs_f64(args.webhook_check_seconds.max(0.1));
        let mut serving: Option<(RustlsConfig, (String, String))> = None;
        let mut listener = Some(listener);
        let mut ticks = tokio::time::interval(check);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                _ = stopped.changed() => return,
            }
            let pair = match keeper.certificate().await {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "the webhook's certificate is not ready; trying again"
                    );
                    continue;
                }
            };
            match &serving {
                Some((_, current)) if *current == pair => {}
                Some((config, _)) => match tls::server_config(&pair.0, &pair.1) {
                    Ok(server_config) => {
                        config.reload_from_config(server_config);
                        tracing::info!("the webhook serves its new certificate");
                        serving = Some((config.clone(), pair));
                    }
                    Err(error) => {
                        tracing::warn!(%error, "the webhook's new certificate does not load")
                    }
                },
                None => match tls::server_config(&pair.0, &pair.1) {
                    Ok(server_config) => {
                        let config = RustlsConfig::from_config(server_config);
                        let Some(tcp) = listener.take() else { return };
                        match axum_server::from_tcp_rustls(tcp, config.clone()) {
                            Ok(server) => {
                                let server = server.handle(handle.clone());
                                let app = app.clone();
                                tokio::spawn(async move {
                                    if let Err(error) = server.serve(app.into_make_service()).await
                                    {
                                        tracing::error!(%error, "the webhook server stopped");
                                    }
                                });
                                serving = Some((config, pair));
                                ready.set(true);
                            }
                            Err(error) => {
                                tracing::error!(%error, "the webhook cannot serve");
                                return;
                            }
                        }
                    }
                    Err(error) => tracing::warn!(%error, "the webhook's certificate does not load"),
                },
            }
        }
    })))
}

/// Gets the serving certificate, and keeps the caBundle, for one look.
struct Keeper {
    secrets: Api<Secret>,
    configurations: Api<ValidatingWebhookConfiguration>,
    names: Vec<String>,
    args: WebhookArgs,
}

impl Keeper {
    /// The serving certificate and key (PEM) to serve now.
    async fn certificate(&self) -> anyhow::Result<(String, String)> {
        match self.args.webhook_certificate {
            CertificateSource::Files => {
                let dir = &self.args.webhook_cert_dir;
                let read = |file: &str| {
                    std::fs::read_to_string(dir.join(file))
                        .map_err(|e| anyhow::anyhow!("{}: {e}", dir.join(file).display()))
                };
                Ok((read(tls::TLS_CERT)?, read(tls::TLS_KEY)?))
            }
            CertificateSource::Generate => {
                let bundle =
                    tls::current_bundle(&self.secrets, &self.args.webhook_secret, &self.names)
                        .await?;
                // Serve even when the configuration cannot be written (it may not be installed
                // yet); the next look writes it.
                if let Err(error) = tls::keep_ca_bundle(
                    &self.configurations,
                    &self.args.webhook_configuration,
                    &bundle.ca_cert,
                )
                .await
                {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "the webhook's caBundle is not current"
                    );
                }
                Ok((bundle.cert, bundle.key))
            }
        }
    }
}

async fn validate(
    State(metrics): State<Arc<Metrics>>,
    Json(review): Json<AdmissionReview<DynamicObject>>,
) -> Json<AdmissionReview<DynamicObject>> {
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(request) => request,
        Err(error) => {
            tracing::warn!(%error, "an admission review without a request");
            return Json(AdmissionResponse::invalid(error.to_string()).into_review());
        }
    };
    let response = admission::review(&request);
    metrics.admission_reviewed(&request.kind.kind, response.allowed);
    if !response.allowed {
        tracing::info!(
            kind = %request.kind.kind,
            namespace = request.namespace.as_deref().unwrap_or(""),
            name = %request.name,
            message = %response.result.message,
            "refused at admission"
        );
    }
    Json(response.into_review())
}
