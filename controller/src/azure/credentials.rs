//! Where the controller's Azure identity comes from, in a documented order:
//!
//! 1. `AZURE_TOKEN_CREDENTIALS` names one credential (`WorkloadIdentityCredential`,
//!    `ClientSecretCredential`, `ClientCertificateCredential`, `ManagedIdentityCredential`,
//!    `AzureCliCredential`), as the Azure SDKs' `DefaultAzureCredential` reads that variable;
//!    only that one is used.
//! 2. Otherwise, workload identity when `AZURE_FEDERATED_TOKEN_FILE` is set (the AKS webhook
//!    sets it), then a client secret when `AZURE_CLIENT_SECRET` is set, then a certificate when
//!    `AZURE_CLIENT_CERTIFICATE_PATH` is (a PEM with the certificate and its RSA key; the Azure
//!    SDKs' `EnvironmentCredential` reads the same variables, secret before certificate).
//! 3. Otherwise, outside a cluster, the Azure CLI's login (a developer's machine). In a pod
//!    (`KUBERNETES_SERVICE_HOST` set) there is no default: the Azure CLI is not there, and a
//!    managed identity is used only when asked for, so a vault without `spec.credentials`
//!    says which of these to set instead of failing with an `az` error.
//!
//! A managed identity (the node's or a pod's, through IMDS) takes `AZURE_CLIENT_ID` as its
//! user-assigned client ID when set. Every credential talks to the configured authority host
//! through the same transport as ARM, so a private CA is trusted for both.

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions, ManagedIdentityCredential, ManagedIdentityCredentialOptions,
    UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};

use super::client::ArmSettings;

/// Which kind of credential is in use (for logs; never the secret itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    WorkloadIdentity,
    ClientSecret,
    ClientCertificate,
    ManagedIdentity,
    AzureCli,
}

/// What to do when no credential is configured: say so, naming what to set.
pub const NONE_CONFIGURED: &str = "no Azure identity is configured for the controller: set workload identity (AZURE_FEDERATED_TOKEN_FILE), AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH, AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential, or spec.credentials on the RecoveryVault";

/// The credential the environment asks for (the order in the module's documentation); `Err`
/// says why there is none.
pub fn choose(var: impl Fn(&str) -> Option<String>) -> Result<CredentialKind, String> {
    let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    if let Some(named) = set("AZURE_TOKEN_CREDENTIALS") {
        return match named.trim() {
            "WorkloadIdentityCredential" => Ok(CredentialKind::WorkloadIdentity),
            "ClientSecretCredential" => Ok(CredentialKind::ClientSecret),
            "ClientCertificateCredential" => Ok(CredentialKind::ClientCertificate),
            "ManagedIdentityCredential" => Ok(CredentialKind::ManagedIdentity),
            "AzureCliCredential" => Ok(CredentialKind::AzureCli),
            other => Err(format!(
                "AZURE_TOKEN_CREDENTIALS={other:?} is not a credential cutover offers (WorkloadIdentityCredential, ClientSecretCredential, ClientCertificateCredential, ManagedIdentityCredential, AzureCliCredential)"
            )),
        };
    }
    if set("AZURE_FEDERATED_TOKEN_FILE").is_some() {
        return Ok(CredentialKind::WorkloadIdentity);
    }
    if set("AZURE_CLIENT_SECRET").is_some() {
        return Ok(CredentialKind::ClientSecret);
    }
    if set("AZURE_CLIENT_CERTIFICATE_PATH").is_some() {
        return Ok(CredentialKind::ClientCertificate);
    }
    if set("KUBERNETES_SERVICE_HOST").is_some() {
        return Err(NONE_CONFIGURED.into());
    }
    Ok(CredentialKind::AzureCli)
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
) -> Result<(Arc<dyn TokenCredential>, CredentialKind), String> {
    let kind = choose(|name| std::env::var(name).ok())?;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let credential: azure_core::Result<Arc<dyn TokenCredential>> = match kind {
        CredentialKind::WorkloadIdentity => {
            let options = WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: client_options(settings),
                },
                ..Default::default()
            };
            WorkloadIdentityCredential::new(Some(options)).map(|c| c as Arc<dyn TokenCredential>)
        }
        CredentialKind::ClientSecret => client_secret(
            settings,
            &env("AZURE_TENANT_ID").unwrap_or_default(),
            env("AZURE_CLIENT_ID").unwrap_or_default(),
            env("AZURE_CLIENT_SECRET").unwrap_or_default(),
        ),
        CredentialKind::ClientCertificate => {
            let path = env("AZURE_CLIENT_CERTIFICATE_PATH").unwrap_or_default();
            std::fs::read(&path)
                .map_err(|e| {
                    azure_core::Error::with_message(
                        azure_core::error::ErrorKind::Credential,
                        format!("reading AZURE_CLIENT_CERTIFICATE_PATH {path}: {e}"),
                    )
                })
                .and_then(|pem| {
                    client_certificate(
                        settings,
                        &env("AZURE_TENANT_ID").unwrap_or_default(),
                        env("AZURE_CLIENT_ID").unwrap_or_default(),
                        &pem,
                    )
                })
        }
        CredentialKind::ManagedIdentity => {
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: env("AZURE_CLIENT_ID").map(UserAssignedId::ClientId),
                client_options: client_options(settings),
            };
            ManagedIdentityCredential::new(Some(options)).map(|c| c as Arc<dyn TokenCredential>)
        }
        CredentialKind::AzureCli => {
            AzureCliCredential::new(None).map(|c| c as Arc<dyn TokenCredential>)
        }
    };
    credential
        .map(|c| (c, kind))
        .map_err(|e| format!("the {kind:?} credential: {e}"))
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

/// A service principal's certificate credential (from the environment or a Secret).
pub fn client_certificate(
    settings: &ArmSettings,
    tenant: &str,
    client_id: String,
    pem: &[u8],
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let authority = settings
        .authority_host
        .as_ref()
        .map_or_else(|| PUBLIC_AUTHORITY_HOST.to_owned(), |a| a.to_string());
    super::certificate::credential(
        tenant,
        client_id,
        pem,
        &authority,
        ClientAssertionCredentialOptions {
            client_options: client_options(settings),
        },
    )
}

/// Entra's public cloud authority, azure_identity's default.
const PUBLIC_AUTHORITY_HOST: &str = "https://login.microsoftonline.com";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_is_chosen_in_the_documented_order() {
        let with = |vars: &[(&str, &str)]| {
            let vars: Vec<(String, String)> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            choose(move |name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        };
        use CredentialKind::*;
        assert_eq!(with(&[]), Ok(AzureCli), "a developer's machine");
        assert_eq!(
            with(&[("KUBERNETES_SERVICE_HOST", "10.0.0.1")]),
            Err(NONE_CONFIGURED.into()),
            "a pod with nothing set: no az fallback"
        );
        assert_eq!(
            with(&[
                ("KUBERNETES_SERVICE_HOST", "10.0.0.1"),
                ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/token")
            ]),
            Ok(WorkloadIdentity)
        );
        assert_eq!(
            with(&[
                ("AZURE_FEDERATED_TOKEN_FILE", "/t"),
                ("AZURE_CLIENT_SECRET", "s")
            ]),
            Ok(WorkloadIdentity),
            "workload identity first"
        );
        assert_eq!(
            with(&[
                ("KUBERNETES_SERVICE_HOST", "h"),
                ("AZURE_CLIENT_SECRET", "s")
            ]),
            Ok(ClientSecret)
        );
        assert_eq!(
            with(&[
                ("KUBERNETES_SERVICE_HOST", "h"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/etc/cutover/sp.pem")
            ]),
            Ok(ClientCertificate)
        );
        assert_eq!(
            with(&[
                ("AZURE_CLIENT_SECRET", "s"),
                ("AZURE_CLIENT_CERTIFICATE_PATH", "/etc/cutover/sp.pem")
            ]),
            Ok(ClientSecret),
            "a secret before a certificate, as EnvironmentCredential"
        );
        assert_eq!(
            with(&[("AZURE_TOKEN_CREDENTIALS", "ClientCertificateCredential")]),
            Ok(ClientCertificate)
        );
        assert_eq!(
            with(&[
                ("KUBERNETES_SERVICE_HOST", "h"),
                ("AZURE_TOKEN_CREDENTIALS", "ManagedIdentityCredential")
            ]),
            Ok(ManagedIdentity)
        );
        assert_eq!(
            with(&[
                ("AZURE_CLIENT_SECRET", "s"),
                ("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
            ]),
            Ok(AzureCli),
            "the named one only"
        );
        assert!(
            with(&[("AZURE_TOKEN_CREDENTIALS", "prod")])
                .unwrap_err()
                .contains("not a credential cutover offers")
        );
        assert_eq!(
            with(&[("AZURE_CLIENT_SECRET", "  ")]),
            Ok(AzureCli),
            "blank is unset"
        );
    }
}
