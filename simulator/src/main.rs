//! `azure-sim`: runs the simulator until SIGINT or SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use azure_sim::inventory::Inventory;
use azure_sim::settings::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_FEDERATED_ISSUER, DEFAULT_FEDERATED_SUBJECT,
    DEFAULT_SUBSCRIPTION, DEFAULT_TENANT,
};
use azure_sim::{Persistence, Settings};
use clap::Parser;
use serde_json::json;

/// A local Azure: Entra ID and the ARM APIs cutover uses, over HTTPS on loopback.
///
/// The first line on stdout is JSON with the ARM endpoint, the authority host, the
/// certificate to trust, and the identity the simulator accepts.
#[derive(Parser)]
#[command(name = "azure-sim", version)]
struct Cli {
    /// Address to listen on; port 0 picks a free port.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Where to write the PEM certificate clients must trust (a temporary file when absent).
    #[arg(long)]
    cert_out: Option<PathBuf>,
    /// Entra tenant ID the simulator serves.
    #[arg(long, default_value = DEFAULT_TENANT)]
    tenant: String,
    /// Client (application) ID it accepts.
    #[arg(long, default_value = DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Client secret it accepts.
    #[arg(long, default_value = DEFAULT_CLIENT_SECRET)]
    client_secret: String,
    /// Subscription ID it serves; requests for any other get ARM's SubscriptionNotFound.
    #[arg(long, default_value = DEFAULT_SUBSCRIPTION)]
    subscription: String,
    /// Issuer a federated assertion (workload identity) must carry.
    #[arg(long, default_value = DEFAULT_FEDERATED_ISSUER)]
    federated_issuer: String,
    /// Subject a federated assertion must carry.
    #[arg(long, default_value = DEFAULT_FEDERATED_SUBJECT)]
    federated_subject: String,
    /// A PEM certificate registered on the application: it may sign in with its key.
    #[arg(long)]
    client_certificate: Option<PathBuf>,
    /// Lifetime of access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime: u64,
    /// Items per page of every list (small, so clients follow nextLink).
    #[arg(long, default_value_t = 10)]
    page_size: usize,
    /// Simulated seconds per real second: 60 makes a minute of provisioning take a second.
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Do not answer 429 when a client exceeds ARM's per-subscription request limits.
    #[arg(long)]
    no_throttling: bool,
    /// Source inventory (YAML: sources with their machines); the built-in one covers every
    /// example under deploy/examples.
    #[arg(long)]
    inventory: Option<PathBuf>,
    /// Simulated link speed of initial replication, in megabits per second.
    #[arg(long, default_value_t = 500.0)]
    replication_mbps: f64,
    /// Save the simulated Azure to this file after every change and load it at start.
    #[arg(long)]
    state: Option<PathBuf>,
    /// Keep the TLS key and certificate in this directory (reused when there), so clients
    /// that trust the certificate still do after a restart.
    #[arg(long)]
    tls_dir: Option<PathBuf>,
    /// Log format.
    #[arg(long, value_parser = ["text", "json"], default_value = "text")]
    log_format: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "azure_sim=info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if cli.log_format == "json" {
        logs.json().init();
    } else {
        logs.init();
    }

    let settings = Settings {
        tenant: cli.tenant,
        client_id: cli.client_id,
        client_secret: cli.client_secret,
        subscription: cli.subscription,
        federated_issuer: cli.federated_issuer,
        federated_subject: cli.federated_subject,
        client_certificate: match &cli.client_certificate {
            Some(path) => {
                use rustls::pki_types::pem::PemObject as _;
                let certificate = rustls::pki_types::CertificateDer::from_pem_file(path)
                    .with_context(|| format!("reading the certificate {}", path.display()))?;
                Some(certificate.as_ref().to_vec())
            }
            None => None,
        },
        token_lifetime: Duration::from_secs(cli.token_lifetime),
        page_size: cli.page_size,
        time_scale: cli.time_scale,
        throttling: !cli.no_throttling,
        replication_mbps: cli.replication_mbps,
        inventory: match &cli.inventory {
            Some(path) => Inventory::from_yaml(
                &std::fs::read_to_string(path)
                    .with_context(|| format!("reading {}", path.display()))?,
            )
            .with_context(|| format!("parsing {}", path.display()))?,
            None => Inventory::builtin(),
        },
    };
    let running = azure_sim::start(
        cli.listen,
        settings.clone(),
        Persistence { path: cli.state },
        cli.tls_dir.as_deref(),
    )
    .await?;

    let cert_path = match cli.cert_out {
        Some(path) => path,
        None => std::env::temp_dir().join(format!("azure-sim-{}.pem", running.address.port())),
    };
    std::fs::write(&cert_path, &running.certificate_pem)
        .with_context(|| format!("writing {}", cert_path.display()))?;
    println!(
        "{}",
        json!({
            "address": running.address.to_string(),
            "armEndpoint": running.base_url(),
            "authorityHost": running.base_url(),
            "certFile": cert_path,
            "tenantId": settings.tenant,
            "clientId": settings.client_id,
            "clientSecret": settings.client_secret,
            "subscriptionId": settings.subscription,
        })
    );
    tracing::info!(address = %running.address, "azure-sim listening");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}
