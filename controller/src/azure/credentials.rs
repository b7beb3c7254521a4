//! Where the controller's Azure identity comes from, in the order a platform engineer expects:
//! workload identity in a cluster (`AZURE_FEDERATED_TOKEN_FILE`), a client secret
//! (`AZURE_CLIENT_SECRET`, or a Kubernetes Secret a RecoveryVault names), and the Azure CLI's
//! login for a developer. Every credential talks to the configured authority host through the
//! same transport as ARM, so a private CA is trusted for both.

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use super::client::ArmSettings;

/// Which kind of credential is in use (for logs; never the secret itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    WorkloadIdentity,
    ClientSecret,
    AzureCli,
}

/// The client options every credential uses: the authority host and the transport.
fn client_options(settings: &ArmSettings) -> ClientOptions {
    let mut options = ClientOptions {
        transport: Some(settings.transport()),
        ..Default::default()
    };
    if let Some(authority) = &settings.authority_host {
        let mut custom = CustomConfiguration::default();
        custom.authority_host = authority.to_string().trim_end_matches('/').to_owned();
        options.cloud = Some(Arc::new(CloudConfiguration::from(custom)));
    }
    options
}

/// The controller's own credential, from the environment.
pub fn from_environment(
    settings: &ArmSettings,
) -> azure_core::Result<(Arc<dyn TokenCredential>, CredentialKind)> {
    let set = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    if set("AZURE_FEDERATED_TOKEN_FILE").is_some() {
        let options = WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions {
                client_options: client_options(settings),
            },
            ..Default::default()
        };
        return Ok((
            WorkloadIdentityCredential::new(Some(options))?,
            CredentialKind::WorkloadIdentity,
        ));
    }
    if let Some(secret) = set("AZURE_CLIENT_SECRET") {
        let tenant = std::env::var("AZURE_TENANT_ID").unwrap_or_default();
        let client_id = std::env::var("AZURE_CLIENT_ID").unwrap_or_default();
        return Ok((
            client_secret(settings, &tenant, client_id, secret)?,
            CredentialKind::ClientSecret,
        ));
    }
    Ok((AzureCliCredential::new(None)?, CredentialKind::AzureCli))
}

/// A service principal's client-secret credential (from the environment or a Secret).
pub fn client_secret(
    settings: &ArmSettings,
    tenant: &str,
    client_id: String,
    secret: String,
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let options = ClientSecretCredentialOptions {
        client_options: client_options(settings),
    };
    Ok(ClientSecretCredential::new(
        tenant,
        client_id,
        Secret::new(secret),
        Some(options),
    )?)
}
