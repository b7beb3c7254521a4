//! A service principal's certificate credential: azure_identity's `ClientAssertionCredential`
//! with an assertion signed here, by ring. azure_identity's own `ClientCertificateCredential`
//! needs OpenSSL (its `client_certificate` feature), which the static musl image cannot link;
//! the assertion is what Entra's certificate credentials document and what that credential
//! sends: a JWT signed RS256, `x5t` the certificate's SHA-1 thumbprint, `aud` the token
//! endpoint, `iss` and `sub` the client ID, a `jti`, and `nbf`/`exp` around now.

use std::sync::Arc;

use azure_core::credentials::TokenCredential;
use azure_core::http::ClientMethodOptions;
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
};
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// How long an assertion is valid: Entra refuses it outside `nbf`..`exp` (AADSTS700024).
const ASSERTION_LIFETIME_SECONDS: i64 = 600;

/// Signs a fresh assertion for each token request (the credential caches the token).
pub struct CertificateAssertion {
    client_id: String,
    token_endpoint: String,
    header: String,
    key: RsaKeyPair,
}

impl std::fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl CertificateAssertion {
    /// From a PEM holding the certificate and its RSA private key (PKCS#8 or PKCS#1), as
    /// `az ad sp create-for-rbac --create-cert` writes it.
    pub fn from_pem(pem: &[u8], client_id: String, token_endpoint: String) -> Result<Self, String> {
        let certificate = CertificateDer::pem_slice_iter(pem)
            .next()
            .ok_or("the PEM holds no certificate")?
            .map_err(|e| format!("the PEM's certificate: {e}"))?;
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| format!("the PEM's private key: {e}"))?;
        let key = match &key {
            PrivateKeyDer::Pkcs8(der) => RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(der) => RsaKeyPair::from_der(der.secret_pkcs1_der()),
            _ => return Err("the private key is not an RSA key (PKCS#8 or PKCS#1)".into()),
        }
        .map_err(|e| format!("the private key: {e}"))?;
        let thumbprint = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            certificate.as_ref(),
        );
        let header =
            serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": b64(thumbprint.as_ref())});
        Ok(CertificateAssertion {
            client_id,
            token_endpoint,
            header: b64(header.to_string().as_bytes()),
            key,
        })
    }

    /// The signed assertion at `now` (seconds since the epoch).
    pub fn sign(&self, now: i64) -> Result<String, String> {
        let claims = serde_json::json!({
            "aud": self.token_endpoint, "iss": self.client_id, "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(), "nbf": now, "exp": now + ASSERTION_LIFETIME_SECONDS,
        });
        let signed = format!("{}.{}", self.header, b64(claims.to_string().as_bytes()));
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the assertion failed".to_owned())?;
        Ok(format!("{signed}.{}", b64(&signature)))
    }
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        self.sign(jiff::Timestamp::now().as_second()).map_err(|e| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e)
        })
    }
}

/// A certificate credential for `client_id` in `tenant`, through `options`' authority host.
pub fn credential(
    tenant: &str,
    client_id: String,
    pem: &[u8],
    authority_host: &str,
    options: ClientAssertionCredentialOptions,
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    let token_endpoint = format!(
        "{}/{tenant}/oauth2/v2.0/token",
        authority_host.trim_end_matches('/')
    );
    let assertion = CertificateAssertion::from_pem(pem, client_id.clone(), token_endpoint)
        .map_err(|e| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e)
        })?;
    Ok(ClientAssertionCredential::new(
        tenant.to_owned(),
        client_id,
        assertion,
        Some(options),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEM: &[u8] = include_bytes!("../../../tests/fixtures/service-principal.pem");

    fn part(jwt: &str, index: usize) -> serde_json::Value {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(index).unwrap())
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn the_assertion_is_what_entras_certificate_credentials_ask_for() {
        let endpoint = "https://login.microsoftonline.com/t/oauth2/v2.0/token".to_owned();
        let assertion =
            CertificateAssertion::from_pem(PEM, "app".into(), endpoint.clone()).unwrap();
        let jwt = assertion.sign(1_800_000_000).unwrap();

        let header = part(&jwt, 0);
        assert_eq!(header["alg"], "RS256");
        let certificate = CertificateDer::pem_slice_iter(PEM).next().unwrap().unwrap();
        let thumbprint = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            certificate.as_ref(),
        );
        assert_eq!(header["x5t"], b64(thumbprint.as_ref()));

        let claims = part(&jwt, 1);
        assert_eq!(claims["aud"], endpoint.as_str());
        assert_eq!(
            (&claims["iss"], &claims["sub"]),
            (&"app".into(), &"app".into())
        );
        assert_eq!(claims["nbf"], 1_800_000_000);
        assert_eq!(claims["exp"], 1_800_000_600);
        assert!(claims["jti"].is_string());

        let (signed, signature) = jwt.rsplit_once('.').unwrap();
        let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(signature)
            .unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            assertion.key.public().as_ref(),
        )
        .verify(signed.as_bytes(), &signature)
        .expect("signed by the certificate's key");
        assert_ne!(
            part(&assertion.sign(1_800_000_000).unwrap(), 1)["jti"],
            claims["jti"],
            "a fresh jti each time"
        );
    }

    #[test]
    fn a_pem_without_a_usable_key_is_said_plainly() {
        let certificate_only =
            include_bytes!("../../../tests/fixtures/service-principal.crt").as_slice();
        let error = CertificateAssertion::from_pem(certificate_only, "app".into(), "aud".into())
            .unwrap_err();
        assert!(error.contains("private key"), "{error}");
        assert!(
            CertificateAssertion::from_pem(b"not a pem", "app".into(), "aud".into())
                .unwrap_err()
                .contains("no certificate")
        );
    }
}
