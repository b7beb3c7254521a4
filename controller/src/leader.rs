//! Leader election on a `coordination.k8s.io/v1` Lease (kube-lease-manager), so that of several
//! replicas exactly one talks to Azure; the others wait, ready to take over.

use std::time::Duration;

use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;

#[derive(Clone, Debug, clap::Args)]
pub struct LeaderArgs {
    /// Hold a Lease before reconciling, so that only one replica acts at a time.
    #[arg(long, env = "CUTOVER_LEADER_ELECT")]
    pub leader_elect: bool,
    /// Name of the Lease.
    #[arg(long, env = "CUTOVER_LEASE_NAME", default_value = "cutover-controller")]
    pub lease_name: String,
    /// Namespace of the Lease; the pod's (or the kubeconfig's) namespace when absent.
    #[arg(long, env = "CUTOVER_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,
    /// Seconds a leader's lease is valid after its last renewal: how soon a standby takes over
    /// from a leader that died.
    #[arg(long, env = "CUTOVER_LEASE_DURATION_SECONDS", default_value_t = 15)]
    pub lease_duration_seconds: u64,
    /// Seconds before expiry the leader renews (and the clock skew tolerated between nodes).
    #[arg(long, env = "CUTOVER_LEASE_GRACE_SECONDS", default_value_t = 5)]
    pub lease_grace_seconds: u64,
}

/// This replica's claim on the Lease.
pub struct Leadership {
    leading: watch::Receiver<bool>,
    task: tokio::task::JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    pub identity: String,
}

impl Leadership {
    /// Starts competing for the Lease in the background.
    pub async fn start(client: kube::Client, args: &LeaderArgs) -> anyhow::Result<Leadership> {
        let namespace = args
            .lease_namespace
            .clone()
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .unwrap_or_else(|| client.default_namespace().to_owned());
        let identity = match std::env::var("POD_NAME") {
            Ok(pod) => pod,
            Err(_) => format!(
                "{}-{}",
                std::env::var("HOSTNAME").unwrap_or_else(|_| "cutover".into()),
                std::process::id()
            ),
        };
        let manager = LeaseManagerBuilder::new(client, &args.lease_name)
            .with_namespace(&namespace)
            .with_identity(&identity)
            .with_duration(args.lease_duration_seconds)
            .with_grace(
                args.lease_grace_seconds
                    .min(args.lease_duration_seconds / 2),
            )
            .build()
            .await?;
        let (leading, task) = manager.watch().await;
        tracing::info!(lease = %format!("{namespace}/{}", args.lease_name), %identity, "competing for the leader lease");
        Ok(Leadership {
            leading,
            task,
            identity,
        })
    }

    /// Resolves once this replica holds the Lease.
    pub async fn acquired(&mut self) -> anyhow::Result<()> {
        self.leading
            .wait_for(|leading| *leading)
            .await
            .map_err(|_| anyhow::anyhow!("the lease manager stopped"))?;
        Ok(())
    }

    /// Resolves if this replica loses the Lease (it could not renew in time).
    pub async fn lost(&mut self) {
        let _ = self.leading.wait_for(|leading| !*leading).await;
    }

    /// Gives the Lease up, so a standby takes over at once instead of after it expires.
    pub async fn release(self, timeout: Duration) {
        drop(self.leading);
        match tokio::time::timeout(timeout, self.task).await {
            Ok(Ok(Ok(_))) => tracing::info!("released the leader lease"),
            Ok(Ok(Err(error))) => tracing::warn!(%error, "releasing the leader lease"),
            Ok(Err(error)) => tracing::warn!(%error, "the lease manager panicked"),
            Err(_) => tracing::warn!("releasing the leader lease timed out"),
        }
    }
}
