//! What the simulator serves: the identity it accepts, the subscription it holds, and the
//! knobs tests turn (token lifetime, page size, time scale, throttling).

use std::time::Duration;

use crate::inventory::Inventory;

/// Tenant the simulator's Entra ID serves by default.
pub const DEFAULT_TENANT: &str = "11111111-1111-1111-1111-111111111111";
/// Client (application) ID it accepts by default.
pub const DEFAULT_CLIENT_ID: &str = "22222222-2222-2222-2222-222222222222";
/// Client secret it accepts by default. Not a secret: the simulator runs on loopback.
pub const DEFAULT_CLIENT_SECRET: &str = "azure-sim-client-secret";
/// Subscription it serves by default (the one the examples in deploy/examples use).
pub const DEFAULT_SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000001";
/// The issuer of a cluster's service-account tokens when nothing else is configured.
pub const DEFAULT_FEDERATED_ISSUER: &str = "https://kubernetes.default.svc";
/// The controller's service account in the chart's default namespace.
pub const DEFAULT_FEDERATED_SUBJECT: &str = "system:serviceaccount:cutover:cutover";

#[derive(Clone, Debug)]
pub struct Settings {
    pub tenant: String,
    pub client_id: String,
    pub client_secret: String,
    pub subscription: String,
    /// The federated identity credential of the application: the issuer and subject an
    /// exchanged assertion must carry (a cluster's service-account issuer and
    /// `system:serviceaccount:{namespace}:{name}`).
    pub federated_issuer: String,
    pub federated_subject: String,
    /// The certificate registered on the application (DER), when it signs in with one.
    pub client_certificate: Option<Vec<u8>>,
    /// How long an access token is valid (Entra's default is about an hour).
    pub token_lifetime: Duration,
    /// Items per page of every list, so clients exercise `nextLink`.
    pub page_size: usize,
    /// Simulated seconds per real second.
    pub time_scale: f64,
    /// Answer 429 when a client exceeds ARM's per-subscription limits.
    pub throttling: bool,
    /// Simulated link speed of initial replication, in megabits per second.
    pub replication_mbps: f64,
    /// The source side: sites, appliances and their machines.
    pub inventory: Inventory,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tenant: DEFAULT_TENANT.into(),
            client_id: DEFAULT_CLIENT_ID.into(),
            client_secret: DEFAULT_CLIENT_SECRET.into(),
            subscription: DEFAULT_SUBSCRIPTION.into(),
            federated_issuer: DEFAULT_FEDERATED_ISSUER.into(),
            federated_subject: DEFAULT_FEDERATED_SUBJECT.into(),
            client_certificate: None,
            token_lifetime: Duration::from_secs(3600),
            page_size: 10,
            time_scale: 1.0,
            throttling: true,
            replication_mbps: 500.0,
            inventory: Inventory::builtin(),
        }
    }
}
