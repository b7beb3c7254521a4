//! The webhook's serving certificate, without extra components: a private CA and a serving
//! certificate for the Service's names, kept in a Secret every replica reads (the first to
//! find it missing or near expiry issues it), and the CA written into the
//! ValidatingWebhookConfiguration's `caBundle` so the API server trusts it.
//!
//! The CA lives ten years and the serving certificate one: renewing the serving certificate
//! (30 days before it expires) leaves the `caBundle` as it was, so no call fails while the
//! replicas pick up the new one. The CA is issued again only when it would not outlive a new
//! serving certificate.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::ValidatingWebhookConfiguration;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use time::{Duration, OffsetDateTime};

pub const CA_CERT: &str = "ca.crt";
pub const CA_KEY: &str = "ca.key";
pub const TLS_CERT: &str = "tls.crt";
pub const TLS_KEY: &str = "tls.key";

const CA_LIFETIME: Duration = Duration::days(3650);
const SERVING_LIFETIME: Duration = Duration::days(365);
/// How long before expiry a certificate is issued again.
const RENEW_BEFORE: Duration = Duration::days(30);

/// A serving certificate and key, and the CA that signed it, as PEM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    pub ca_cert: String,
    pub ca_key: String,
    pub cert: String,
    pub key: String,
}

/// What a Secret's data holds, judged at `now` for `names`.
#[derive(Debug, PartialEq, Eq)]
pub enum Assessment {
    /// Good for `names` for longer than the renewal margin.
    Current(Bundle),
    /// To be issued again (why), reusing the CA when it is good for a whole new certificate.
    Renew {
        why: String,
        ca: Option<(String, String)>,
    },
}

/// Judges a Secret's data: every part present and parseable, the serving certificate for
/// every name and not near expiry, the CA not near expiry.
pub fn assess(
    data: &BTreeMap<String, ByteString>,
    names: &[String],
    now: OffsetDateTime,
) -> Assessment {
    let text = |key: &str| {
        data.get(key)
            .and_then(|value| String::from_utf8(value.0.clone()).ok())
            .filter(|text| !text.trim().is_empty())
    };
    let (Some(ca_cert), Some(ca_key)) = (text(CA_CERT), text(CA_KEY)) else {
        return Assessment::Renew {
            why: "no CA yet".into(),
            ca: None,
        };
    };
    let ca = match facts(&ca_cert) {
        Ok(ca) if KeyPair::from_pem(&ca_key).is_ok() => ca,
        Ok(_) => return renew_all("the CA key does not parse"),
        Err(why) => return renew_all(&format!("the CA: {why}")),
    };
    if ca.not_after < now + SERVING_LIFETIME + RENEW_BEFORE {
        return renew_all(&format!("the CA expires at {}", ca.not_after));
    }
    let reuse = |why: String| Assessment::Renew {
        why,
        ca: Some((ca_cert.clone(), ca_key.clone())),
    };
    let (Some(cert), Some(key)) = (text(TLS_CERT), text(TLS_KEY)) else {
        return reuse("no serving certificate yet".into());
    };
    let serving = match facts(&cert) {
        Ok(serving) if KeyPair::from_pem(&key).is_ok() => serving,
        Ok(_) => return reuse("the serving key does not parse".into()),
        Err(why) => return reuse(format!("the serving certificate: {why}")),
    };
    if !signed_by(&cert, &ca_cert) {
        return reuse("the serving certificate is not the CA's".into());
    }
    if serving.not_after < now + RENEW_BEFORE {
        return reuse(format!(
            "the serving certificate expires at {}",
            serving.not_after
        ));
    }
    if let Some(missing) = names
        .iter()
        .find(|name| !serving.names.contains(&name.to_ascii_lowercase()))
    {
        return reuse(format!("the serving certificate is not for {missing}"));
    }
    Assessment::Current(Bundle {
        ca_cert,
        ca_key,
        cert,
        key,
    })
}

fn renew_all(why: &str) -> Assessment {
    Assessment::Renew {
        why: why.into(),
        ca: None,
    }
}

/// What is read of a certificate.
struct Facts {
    not_after: OffsetDateTime,
    /// DNS names (lower case) and IP addresses, as text.
    names: Vec<String>,
}

fn facts(pem: &str) -> Result<Facts, String> {
    let (_, pem) =
        x509_parser::pem::parse_x509_pem(pem.as_bytes()).map_err(|e| format!("not PEM: {e}"))?;
    let certificate = pem.parse_x509().map_err(|e| format!("not X.509: {e}"))?;
    let mut names = Vec::new();
    if let Ok(Some(alternative)) = certificate.subject_alternative_name() {
        for name in &alternative.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => {
                    names.push(dns.to_ascii_lowercase())
                }
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).map(IpAddr::from).ok(),
                        16 => <[u8; 16]>::try_from(*bytes).map(IpAddr::from).ok(),
                        _ => None,
                    };
                    names.extend(ip.map(|ip| ip.to_string()));
                }
                _ => {}
            }
        }
    }
    Ok(Facts {
        not_after: certificate.validity().not_after.to_datetime(),
        names,
    })
}

/// Whether `cert`'s signature verifies with `ca`'s key (both PEM).
fn signed_by(cert: &str, ca: &str) -> bool {
    let parsed = |pem: &str| {
        x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .ok()
            .map(|(_, pem)| pem)
    };
    let (Some(cert), Some(ca)) = (parsed(cert), parsed(ca)) else {
        return false;
    };
    match (cert.parse_x509(), ca.parse_x509()) {
        (Ok(cert), Ok(ca)) => cert.verify_signature(Some(ca.public_key())).is_ok(),
        _ => false,
    }
}

/// Issues a serving certificate for `names` (DNS names or IP addresses), with the CA given or
/// a new one.
pub fn issue(
    ca: Option<(String, String)>,
    names: &[String],
    now: OffsetDateTime,
) -> anyhow::Result<Bundle> {
    let (ca_cert, ca_key) = match ca {
        Some(ca) => ca,
        None => {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            params
                .distinguished_name
                .push(DnType::CommonName, "cutover webhook CA");
            params.not_before = now - Duration::hours(1);
            params.not_after = now + CA_LIFETIME;
            let ca = CertifiedIssuer::self_signed(params, key)?;
            (ca.pem(), ca.key().serialize_pem())
        }
    };
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_cert, KeyPair::from_pem(&ca_key)?)?;
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name.push(
        DnType::CommonName,
        names
            .first()
            .map(String::as_str)
            .unwrap_or("cutover-webhook"),
    );
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    // A minute back: the API server's clock may be a little behind this node's.
    params.not_before = now - Duration::minutes(1);
    params.not_after = now + SERVING_LIFETIME;
    let cert = params.signed_by(&key, &issuer)?;
    Ok(Bundle {
        ca_cert,
        ca_key,
        cert: cert.pem(),
        key: key.serialize_pem(),
    })
}

/// The Secret's data for `bundle`.
pub fn secret_data(bundle: &Bundle) -> BTreeMap<String, ByteString> {
    [
        (CA_CERT, &bundle.ca_cert),
        (CA_KEY, &bundle.ca_key),
        (TLS_CERT, &bundle.cert),
        (TLS_KEY, &bundle.key),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_string(), ByteString(value.clone().into_bytes())))
    .collect()
}

/// The bundle in the Secret, issued (and written) first when it is missing or due. Replicas
/// race only on the write: the one whose write conflicts reads the winner's.
pub async fn current_bundle(
    secrets: &Api<Secret>,
    name: &str,
    names: &[String],
) -> anyhow::Result<Bundle> {
    let stored = secrets.get_opt(name).await?;
    let data = stored
        .as_ref()
        .and_then(|s| s.data.clone())
        .unwrap_or_default();
    let (why, ca) = match assess(&data, names, OffsetDateTime::now_utc()) {
        Assessment::Current(bundle) => return Ok(bundle),
        Assessment::Renew { why, ca } => (why, ca),
    };
    let bundle = issue(ca, names, OffsetDateTime::now_utc())?;
    tracing::info!(secret = name, %why, "issuing the webhook's serving certificate");
    let written = match stored {
        None => {
            let secret = Secret {
                metadata: kube::api::ObjectMeta {
                    name: Some(name.to_string()),
                    labels: Some(
                        [(
                            "app.kubernetes.io/managed-by".to_string(),
                            "cutover".to_string(),
                        )]
                        .into(),
                    ),
                    ..Default::default()
                },
                type_: Some("kubernetes.io/tls".into()),
                data: Some(secret_data(&bundle)),
                ..Default::default()
            };
            secrets
                .create(&PostParams::default(), &secret)
                .await
                .map(|_| ())
        }
        Some(mut secret) => {
            // The resourceVersion read above: a replica that renewed in between wins.
            secret.data = Some(secret_data(&bundle));
            secret.metadata.managed_fields = None;
            secrets
                .replace(name, &PostParams::default(), &secret)
                .await
                .map(|_| ())
        }
    };
    match written {
        Ok(()) => Ok(bundle),
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let data = secrets.get(name).await?.data.unwrap_or_default();
            match assess(&data, names, OffsetDateTime::now_utc()) {
                Assessment::Current(bundle) => Ok(bundle),
                Assessment::Renew { why, .. } => {
                    anyhow::bail!("another replica wrote {name}, and it is not usable: {why}")
                }
            }
        }
        Err(error) => Err(error.into()),
    }
}

/// Writes `ca` into every webhook of the configuration whose `caBundle` differs. Returns
/// whether it wrote.
pub async fn keep_ca_bundle(
    configurations: &Api<ValidatingWebhookConfiguration>,
    name: &str,
    ca: &str,
) -> anyhow::Result<bool> {
    let Some(configuration) = configurations.get_opt(name).await? else {
        anyhow::bail!("the ValidatingWebhookConfiguration {name} does not exist");
    };
    let stale: Vec<_> = configuration
        .webhooks
        .unwrap_or_default()
        .into_iter()
        .filter(|webhook| {
            webhook
                .client_config
                .ca_bundle
                .as_ref()
                .map(|b| b.0.as_slice())
                != Some(ca.as_bytes())
        })
        .map(|webhook| webhook.name)
        .collect();
    if stale.is_empty() {
        return Ok(false);
    }
    // A strategic merge: `webhooks` merges by name, so only caBundle changes.
    let ca = ByteString(ca.as_bytes().to_vec());
    let patch = serde_json::json!({
        "webhooks": stale
            .iter()
            .map(|name| serde_json::json!({"name": name, "clientConfig": {"caBundle": ca}}))
            .collect::<Vec<_>>(),
    });
    configurations
        .patch(name, &PatchParams::default(), &Patch::Strategic(patch))
        .await?;
    tracing::info!(configuration = name, webhooks = ?stale, "wrote the webhook CA into caBundle");
    Ok(true)
}

/// A server configuration for `cert` and `key` (PEM), with ring as the crypto provider.
pub fn server_config(cert: &str, key: &str) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_slice_iter(cert.as_bytes()).collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec![
            "cutover-webhook.cutover-system.svc".into(),
            "127.0.0.1".into(),
        ]
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    #[test]
    fn an_empty_secret_gets_a_new_ca_and_an_issued_one_is_current() {
        assert_eq!(
            assess(&BTreeMap::new(), &names(), now()),
            Assessment::Renew {
                why: "no CA yet".into(),
                ca: None
            }
        );
        let bundle = issue(None, &names(), now()).unwrap();
        assert_eq!(
            assess(&secret_data(&bundle), &names(), now()),
            Assessment::Current(bundle.clone())
        );
        // And rustls takes it.
        server_config(&bundle.cert, &bundle.key).unwrap();
    }

    #[test]
    fn a_serving_certificate_near_expiry_is_renewed_with_the_same_ca() {
        let bundle = issue(None, &names(), now()).unwrap();
        let later = now() + SERVING_LIFETIME - RENEW_BEFORE + Duration::days(1);
        let Assessment::Renew { why, ca } = assess(&secret_data(&bundle), &names(), later) else {
            panic!("renewed")
        };
        assert!(
            why.starts_with("the serving certificate expires at"),
            "{why}"
        );
        assert_eq!(ca, Some((bundle.ca_cert.clone(), bundle.ca_key.clone())));
        let renewed = issue(ca, &names(), later).unwrap();
        assert_eq!(renewed.ca_cert, bundle.ca_cert);
        assert_eq!(
            assess(&secret_data(&renewed), &names(), later),
            Assessment::Current(renewed)
        );
    }

    #[test]
    fn a_ca_that_would_not_outlive_a_new_certificate_is_replaced() {
        let bundle = issue(None, &names(), now()).unwrap();
        let late = now() + CA_LIFETIME - SERVING_LIFETIME;
        let Assessment::Renew { why, ca } = assess(&secret_data(&bundle), &names(), late) else {
            panic!("renewed")
        };
        assert!(why.starts_with("the CA expires at"), "{why}");
        assert_eq!(ca, None);
    }

    #[test]
    fn a_new_name_or_a_foreign_certificate_is_issued_again() {
        let bundle = issue(None, &names(), now()).unwrap();
        let mut more = names();
        more.push("cutover-webhook.other.svc".into());
        let Assessment::Renew { why, ca } = assess(&secret_data(&bundle), &more, now()) else {
            panic!("renewed")
        };
        assert_eq!(
            why,
            "the serving certificate is not for cutover-webhook.other.svc"
        );
        assert!(ca.is_some());

        let other = issue(None, &names(), now()).unwrap();
        let mixed = Bundle {
            cert: other.cert,
            key: other.key,
            ..bundle
        };
        let Assessment::Renew { why, .. } = assess(&secret_data(&mixed), &names(), now()) else {
            panic!("renewed")
        };
        assert_eq!(why, "the serving certificate is not the CA's");
    }

    #[test]
    fn garbage_is_replaced_not_trusted() {
        let mut data = secret_data(&issue(None, &names(), now()).unwrap());
        data.insert(
            CA_CERT.into(),
            ByteString(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec()),
        );
        assert!(matches!(
            assess(&data, &names(), now()),
            Assessment::Renew { ca: None, .. }
        ));
    }
}
