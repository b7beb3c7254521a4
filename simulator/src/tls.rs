//! The HTTPS side: a certificate generated at start for the loopback address and `localhost`
//! (azure_core's bearer-token policy and azure_identity both insist on https).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use axum_server::tls_rustls::RustlsConfig;
use rcgen::{CertificateParams, DnType, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A server configuration and the PEM of its self-signed certificate. With `keep`, the key and
/// certificate are read from that directory when there, and written to it when not, so a
/// restarted simulator is still trusted by clients that trusted it before.
pub fn server_config(ip: IpAddr, keep: Option<&Path>) -> anyhow::Result<(RustlsConfig, String)> {
    let kept = keep.map(|dir| (dir.join("key.pem"), dir.join("cert.pem")));
    if let Some((key_file, cert_file)) = &kept
        && key_file.is_file()
        && cert_file.is_file()
    {
        let key = KeyPair::from_pem(&std::fs::read_to_string(key_file)?)?;
        let pem = std::fs::read_to_string(cert_file)?;
        let der = rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes())
            .map_err(|e| anyhow::anyhow!("{}: {e:?}", cert_file.display()))?;
        return Ok((config(der, &key)?, pem));
    }
    let key = KeyPair::generate()?;
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !ip.is_unspecified() && ip.to_string() != "127.0.0.1" {
        names.push(ip.to_string());
    }
    let mut params = CertificateParams::new(names)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "azure-sim");
    let certificate = params.self_signed(&key)?;
    if let Some((key_file, cert_file)) = &kept {
        if let Some(dir) = key_file.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(key_file, key.serialize_pem())?;
        std::fs::write(cert_file, certificate.pem())?;
    }
    Ok((
        config(CertificateDer::from(certificate.der().to_vec()), &key)?,
        certificate.pem(),
    ))
}

fn config(certificate: CertificateDer<'static>, key: &KeyPair) -> anyhow::Result<RustlsConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(
            vec![certificate],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )?;
    Ok(RustlsConfig::from_config(Arc::new(config)))
}
