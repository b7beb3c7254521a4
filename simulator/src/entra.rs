//! Entra ID, as far as service principals need it: the OpenID configuration document and the
//! v2.0 token endpoint for client credentials, with a secret or a federated assertion
//! (workload identity). Tokens are opaque, expire, and are checked on every ARM request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use jiff::Timestamp;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Form, Json};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

use crate::app::Sim;

/// The `client_assertion_type` of a federated credential (a JWT from Kubernetes).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The audience Entra requires of federated tokens.
const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";

/// Issued access tokens and when they expire (wall-clock time, so a restarted simulator with
/// `--state` still honours the tokens it issued, as ARM does).
#[derive(Debug, Default)]
pub struct Tokens {
    issued: Mutex<HashMap<String, Timestamp>>,
    /// Tokens issued since this process started.
    count: std::sync::atomic::AtomicU64,
}

/// Why a bearer token was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Unknown,
    Expired,
    /// Issued for another resource than ARM (the audience it was issued for).
    WrongAudience(String),
}

/// The audiences ARM accepts, in the order its refusal lists them
/// (`InvalidAuthenticationTokenAudience`, as quoted in Azure-Samples/active-directory-dotnetcore-daemon-v2
/// issue 145 and JetBrains/azure-tools-for-intellij issue 16).
pub const ARM_AUDIENCES: &[&str] = &[
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
    "https://management.azure.com/",
    "https://management.azure.com",
];

/// The resource a client-credentials scope asks a token for: the scope less `/.default`
/// (`https://management.azure.com/.default` -> `https://management.azure.com`; the Azure CLI's
/// `https://management.core.windows.net//.default` -> `https://management.core.windows.net/`).
fn resource_of(scope: &str) -> Option<&str> {
    scope.split(' ').find_map(|s| s.strip_suffix("/.default"))
}

impl Tokens {
    /// Tokens a previous run issued, from the saved state.
    pub fn restore(issued: HashMap<String, Timestamp>) -> Tokens {
        Tokens {
            issued: Mutex::new(issued),
            count: Default::default(),
        }
    }

    /// A new token for `audience`, valid for `lifetime`; the tokens still valid, to save. The
    /// audience travels in the (opaque) token, as a real token's `aud` claim does.
    pub fn issue(
        &self,
        lifetime: Duration,
        audience: &str,
    ) -> (String, HashMap<String, Timestamp>) {
        let token = format!(
            "azsim.{}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(audience),
            uuid::Uuid::new_v4().simple()
        );
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut issued = self.issued.lock().expect("token lock");
        let now = Timestamp::now();
        issued.retain(|_, expiry| *expiry > now);
        let lifetime =
            jiff::SignedDuration::try_from(lifetime).unwrap_or(jiff::SignedDuration::MAX);
        issued.insert(token.clone(), now.saturating_add(lifetime).unwrap_or(now));
        (token, issued.clone())
    }

    /// How many tokens this process has issued.
    pub fn issued(&self) -> u64 {
        self.count.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Checks an `Authorization` header value.
    pub fn check(&self, authorization: Option<&str>) -> Result<(), TokenError> {
        let token = authorization
            .and_then(|h| h.strip_prefix("Bearer "))
            .ok_or(TokenError::Missing)?;
        let token = token.trim();
        let issued = self.issued.lock().expect("token lock");
        match issued.get(token) {
            Some(expiry) if *expiry > Timestamp::now() => {
                let audience = token
                    .split('.')
                    .nth(1)
                    .and_then(|a| {
                        base64::engine::general_purpose::URL_SAFE_NO_PAD
                            .decode(a)
                            .ok()
                    })
                    .and_then(|a| String::from_utf8(a).ok())
                    .unwrap_or_default();
                if ARM_AUDIENCES.contains(&audience.as_str()) {
                    Ok(())
                } else {
                    Err(TokenError::WrongAudience(audience))
                }
            }
            Some(_) => Err(TokenError::Expired),
            None if token.starts_with("azsim.") => Err(TokenError::Expired),
            None => Err(TokenError::Unknown),
        }
    }
}

pub async fn openid_configuration(State(sim): State<Sim>, Path(tenant): Path<String>) -> Response {
    if tenant != sim.settings.tenant {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_tenant",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    let base = format!("{}/{tenant}", sim.base_url());
    Json(json!({
        "issuer": format!("{}/{tenant}/v2.0", sim.base_url()),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "tenant_region_scope": "EU",
        "cloud_instance_name": "azure-sim",
    }))
    .into_response()
}

#[derive(Deserialize)]
pub struct TokenRequest {
    grant_type: String,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_assertion: Option<String>,
    client_assertion_type: Option<String>,
    scope: Option<String>,
}

pub async fn token(
    State(sim): State<Sim>,
    Path(tenant): Path<String>,
    Form(request): Form<TokenRequest>,
) -> Response {
    let settings = &sim.settings;
    if tenant != settings.tenant {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID."
            ),
        );
    }
    if request.grant_type != "client_credentials" {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.",
        );
    }
    if request.client_id.as_deref() != Some(settings.client_id.as_str()) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{}' was not found in the directory '{tenant}'.",
                request.client_id.unwrap_or_default()
            ),
        );
    }
    let scope = request.scope.unwrap_or_default();
    let Some(audience) = resource_of(&scope).map(str::to_owned) else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.",
        );
    };
    let authenticated = match (
        &request.client_secret,
        &request.client_assertion,
        request.client_assertion_type.as_deref(),
    ) {
        (Some(secret), _, _) => *secret == sim.client_secret(),
        (None, Some(assertion), Some(JWT_BEARER)) => {
            let token_endpoint = format!("{}/{tenant}/oauth2/v2.0/token", sim.base_url());
            let now = jiff::Timestamp::now();
            let checked = if signed_with_certificate(assertion) {
                check_certificate_assertion(assertion, settings, &token_endpoint, now)
            } else {
                check_federated_assertion(assertion, settings, now)
            };
            match checked {
                Ok(()) => true,
                Err(refusal) => return refusal.into_response(),
            }
        }
        _ => false,
    };
    if !authenticated {
        return aad_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
        );
    }
    let lifetime = settings.token_lifetime;
    let (token, valid) = sim.tokens.issue(lifetime, &audience);
    sim.world().tokens = valid;
    sim.persist().await;
    Json(json!({
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "ext_expires_in": lifetime.as_secs(),
        "access_token": token,
    }))
    .into_response()
}

/// Why Entra refuses a federated assertion.
#[derive(Debug, PartialEq, Eq)]
enum AssertionRefused {
    /// Not a JWT, or not for the token exchange's audience.
    Malformed,
    /// Past its `exp` or before its `nbf`.
    OutsideValidity { now: String, expires: String },
    /// Its issuer and subject match no federated identity credential of the application.
    NoMatchingCredential {
        issuer: String,
        subject: String,
        audience: String,
    },
    /// Signed with a certificate the application does not have (by its `x5t` thumbprint).
    KeyNotFound { thumbprint: String },
    /// Its signature is not the registered certificate's key's.
    SignatureMismatch { thumbprint: String },
    /// A certificate assertion not for this token endpoint, or not issued by the application.
    WrongClaims { claim: &'static str },
}

impl AssertionRefused {
    /// Entra's answers, as real Azure gives them: AADSTS700024 (401 `invalid_client`, quoted in
    /// Azure/login issue 180 and microsoft-authentication-library-for-java issue 984) and
    /// AADSTS70021 (400 `invalid_request`, quoted in azure-workload-identity issue 616).
    fn into_response(self) -> Response {
        match self {
            AssertionRefused::Malformed => aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "JWT token is invalid or malformed.",
            ),
            AssertionRefused::OutsideValidity { now, expires } => aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700024,
                &format!(
                    "Client assertion is not within its valid time range. Current time: {now}, expiry time of assertion {expires}."
                ),
            ),
            AssertionRefused::NoMatchingCredential {
                issuer,
                subject,
                audience,
            } => aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                70021,
                &format!(
                    "No matching federated identity record found for presented assertion. Assertion Issuer: '{issuer}'. Assertion Subject: '{subject}'. Assertion Audience: '{audience}'."
                ),
            ),
            // AADSTS700027, 401 `invalid_client`: quoted in pnp/cli-microsoft365 issue 1621 (key
            // not found) and azure-sdk-for-java issue 25109 (signature mismatch, as AADSTS50013).
            AssertionRefused::KeyNotFound { thumbprint } => aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700027,
                &format!(
                    "Client assertion contains an invalid signature. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}']"
                ),
            ),
            AssertionRefused::SignatureMismatch { thumbprint } => aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                700027,
                &format!(
                    "Client assertion contains an invalid signature. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: '{thumbprint}']"
                ),
            ),
            // The wording of these is not in the sources (docs/azure-fidelity.md).
            AssertionRefused::WrongClaims { claim } => aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                &format!(
                    "JWT token is invalid or malformed: its '{claim}' claim is not valid for this request."
                ),
            ),
        }
    }
}

/// The parts of a JWT: its header and claims, and what is signed and the signature.
struct Jwt {
    header: serde_json::Value,
    claims: serde_json::Value,
    signed: String,
    signature: Vec<u8>,
}

fn decode_jwt(assertion: &str) -> Result<Jwt, AssertionRefused> {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts = assertion.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AssertionRefused::Malformed);
    };
    let json = |part: &str| {
        engine
            .decode(part.trim_end_matches('='))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
            .ok_or(AssertionRefused::Malformed)
    };
    Ok(Jwt {
        header: json(header)?,
        claims: json(payload)?,
        signed: format!("{header}.{payload}"),
        signature: engine
            .decode(signature.trim_end_matches('='))
            .unwrap_or_default(),
    })
}

/// Whether an assertion is a certificate's (its header names the certificate by `x5t`).
fn signed_with_certificate(assertion: &str) -> bool {
    decode_jwt(assertion).is_ok_and(|jwt| jwt.header["x5t"].is_string())
}

/// Checks a certificate credential's assertion as Entra does: RS256, signed by the key of the
/// certificate the application has (found by its SHA-1 `x5t`, base64url as Entra's certificate
/// credentials document it; azure_identity's ClientCertificateCredential sends standard base64,
/// which is accepted too), for this token endpoint (`aud`), issued by and about the application
/// (`iss`, `sub`), within its validity.
fn check_certificate_assertion(
    assertion: &str,
    settings: &crate::settings::Settings,
    token_endpoint: &str,
    now: jiff::Timestamp,
) -> Result<(), AssertionRefused> {
    let jwt = decode_jwt(assertion)?;
    let x5t = jwt.header["x5t"].as_str().unwrap_or_default();
    let presented = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(x5t.trim_end_matches('='))
        .or_else(|_| base64::engine::general_purpose::STANDARD.decode(x5t))
        .unwrap_or_default();
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02X}")).collect::<String>();
    let thumbprint = hex(&presented);
    let Some(registered) = settings.client_certificate.as_deref().filter(|der| {
        ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref() == presented
    }) else {
        return Err(AssertionRefused::KeyNotFound { thumbprint });
    };
    let certificate = rustls::pki_types::CertificateDer::from(registered);
    let verified = jwt.header["alg"] == "RS256"
        && webpki::EndEntityCert::try_from(&certificate).is_ok_and(|cert| {
            cert.verify_signature(
                webpki::ring::RSA_PKCS1_2048_8192_SHA256,
                jwt.signed.as_bytes(),
                &jwt.signature,
            )
            .is_ok()
        });
    if !verified {
        return Err(AssertionRefused::SignatureMismatch { thumbprint });
    }
    validity(&jwt.claims, now)?;
    let claim = |name: &str| jwt.claims[name].as_str().unwrap_or_default().to_owned();
    for (name, expected) in [
        ("aud", token_endpoint),
        ("iss", settings.client_id.as_str()),
        ("sub", settings.client_id.as_str()),
    ] {
        if claim(name) != expected {
            return Err(AssertionRefused::WrongClaims {
                claim: match name {
                    "aud" => "aud",
                    "iss" => "iss",
                    _ => "sub",
                },
            });
        }
    }
    Ok(())
}

/// Within `nbf`..`exp` (an `exp` is required), or AADSTS700024.
fn validity(claims: &serde_json::Value, now: jiff::Timestamp) -> Result<(), AssertionRefused> {
    let at = |claim: &str| {
        claims[claim]
            .as_i64()
            .and_then(|s| jiff::Timestamp::from_second(s).ok())
    };
    let expires = at("exp");
    let valid = expires.is_some_and(|exp| now < exp) && at("nbf").is_none_or(|nbf| nbf <= now);
    if valid {
        Ok(())
    } else {
        Err(AssertionRefused::OutsideValidity {
            now: now.to_string(),
            expires: expires.map_or_else(|| "none".into(), |e| e.to_string()),
        })
    }
}

/// Checks a federated assertion (a Kubernetes projected service-account token, for workload
/// identity) the way Entra does, except for its signature: the simulator has no route to the
/// issuer's keys. Its audience is the token exchange's, it is within its validity, and its issuer
/// and subject are the application's federated identity credential (matched case-sensitively,
/// as Entra has since 2025: Azure/login issue 517).
fn check_federated_assertion(
    assertion: &str,
    settings: &crate::settings::Settings,
    now: jiff::Timestamp,
) -> Result<(), AssertionRefused> {
    let claims = decode_jwt(assertion)?.claims;
    let for_exchange = match &claims["aud"] {
        serde_json::Value::String(aud) => aud == TOKEN_EXCHANGE_AUDIENCE,
        serde_json::Value::Array(auds) => auds.iter().any(|a| a == TOKEN_EXCHANGE_AUDIENCE),
        _ => false,
    };
    if !for_exchange {
        return Err(AssertionRefused::Malformed);
    }
    validity(&claims, now)?;
    let claim = |name: &str| claims[name].as_str().unwrap_or_default().to_owned();
    let (issuer, subject) = (claim("iss"), claim("sub"));
    if issuer != settings.federated_issuer || subject != settings.federated_subject {
        return Err(AssertionRefused::NoMatchingCredential {
            issuer,
            subject,
            audience: TOKEN_EXCHANGE_AUDIENCE.into(),
        });
    }
    Ok(())
}

/// Entra's error body (`AADSTS` codes).
fn aad_error(status: StatusCode, error: &str, code: u32, description: &str) -> Response {
    let trace_id = uuid::Uuid::new_v4();
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {description} Trace ID: {trace_id}"),
        "error_codes": [code],
        "timestamp": jiff::Timestamp::now().to_string(),
        "trace_id": trace_id.to_string(),
        "correlation_id": uuid::Uuid::new_v4().to_string(),
    });
    (status, Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: serde_json::Value) -> String {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            engine.encode(b"{\"alg\":\"RS256\"}"),
            engine.encode(claims.to_string())
        )
    }

    #[test]
    fn federated_assertions_are_checked_for_audience_validity_issuer_and_subject() {
        let settings = crate::settings::Settings::default();
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let good = json!({"aud": ["api://AzureADTokenExchange"], "iss": "https://kubernetes.default.svc",
            "sub": "system:serviceaccount:cutover:cutover", "nbf": 1_799_999_000, "exp": 1_800_003_600});
        let check = |claims: &serde_json::Value| {
            check_federated_assertion(&jwt(claims.clone()), &settings, now)
        };
        assert_eq!(check(&good), Ok(()));
        let with = |key: &str, value: serde_json::Value| {
            let mut claims = good.clone();
            claims[key] = value;
            claims
        };
        assert_eq!(
            check(&with("aud", json!("https://kubernetes.default.svc"))),
            Err(AssertionRefused::Malformed)
        );
        assert_eq!(
            check_federated_assertion("not-a-jwt", &settings, now),
            Err(AssertionRefused::Malformed)
        );
        for expired in [
            with("exp", json!(1_799_999_999)),
            with("nbf", json!(1_800_000_100)),
        ] {
            assert!(
                matches!(
                    check(&expired),
                    Err(AssertionRefused::OutsideValidity { .. })
                ),
                "{expired}"
            );
        }
        let mut no_exp = good.clone();
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(matches!(
            check(&no_exp),
            Err(AssertionRefused::OutsideValidity { .. })
        ));
        for (key, value) in [
            ("iss", "https://oidc.example.com"),
            ("sub", "system:serviceaccount:default:default"),
            ("sub", "system:serviceaccount:Cutover:cutover"),
        ] {
            assert_eq!(
                check(&with(key, json!(value))),
                Err(AssertionRefused::NoMatchingCredential {
                    issuer: if key == "iss" {
                        value.into()
                    } else {
                        settings.federated_issuer.clone()
                    },
                    subject: if key == "sub" {
                        value.into()
                    } else {
                        settings.federated_subject.clone()
                    },
                    audience: TOKEN_EXCHANGE_AUDIENCE.into(),
                })
            );
        }
    }

    /// An assertion signed by the fixture certificate's key, as cutover and azure_identity send it.
    fn certificate_assertion(claims: serde_json::Value, x5t_standard_base64: bool) -> String {
        use rustls::pki_types::pem::PemObject as _;
        let pem = include_bytes!("../../tests/fixtures/service-principal.pem");
        let key = match rustls::pki_types::PrivateKeyDer::from_pem_slice(pem).unwrap() {
            rustls::pki_types::PrivateKeyDer::Pkcs8(der) => {
                ring::signature::RsaKeyPair::from_pkcs8(der.secret_pkcs8_der()).unwrap()
            }
            _ => unreachable!("the fixture is PKCS#8"),
        };
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let thumbprint = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &registered_certificate(),
        );
        let x5t = if x5t_standard_base64 {
            base64::engine::general_purpose::STANDARD.encode(thumbprint.as_ref())
        } else {
            engine.encode(thumbprint.as_ref())
        };
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t": x5t});
        let signed = format!(
            "{}.{}",
            engine.encode(header.to_string()),
            engine.encode(claims.to_string())
        );
        let mut signature = vec![0; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signed.as_bytes(),
            &mut signature,
        )
        .unwrap();
        format!("{signed}.{}", engine.encode(signature))
    }

    fn registered_certificate() -> Vec<u8> {
        use rustls::pki_types::pem::PemObject as _;
        rustls::pki_types::CertificateDer::from_pem_slice(include_bytes!(
            "../../tests/fixtures/service-principal.crt"
        ))
        .unwrap()
        .as_ref()
        .to_vec()
    }

    #[test]
    fn certificate_assertions_are_checked_for_key_signature_audience_and_issuer() {
        let endpoint = "https://127.0.0.1:1/tenant/oauth2/v2.0/token";
        let settings = crate::settings::Settings {
            client_certificate: Some(registered_certificate()),
            ..crate::settings::Settings::default()
        };
        let now = jiff::Timestamp::from_second(1_800_000_000).unwrap();
        let client = settings.client_id.clone();
        let good = json!({"aud": endpoint, "iss": client, "sub": client, "jti": "j",
            "nbf": 1_799_999_990, "exp": 1_800_000_600});
        let check = |assertion: &str, settings: &crate::settings::Settings| {
            check_certificate_assertion(assertion, settings, endpoint, now)
        };
        for standard in [false, true] {
            let assertion = certificate_assertion(good.clone(), standard);
            assert!(signed_with_certificate(&assertion));
            assert_eq!(check(&assertion, &settings), Ok(()));
        }
        let assertion = certificate_assertion(good.clone(), false);
        assert!(matches!(
            check(&assertion, &crate::settings::Settings::default()),
            Err(AssertionRefused::KeyNotFound { .. })
        ));
        let (signed, _) = assertion.rsplit_once('.').unwrap();
        let forged = format!("{signed}.AAAA");
        assert!(matches!(
            check(&forged, &settings),
            Err(AssertionRefused::SignatureMismatch { .. })
        ));
        for (claim, value, refusal) in [
            (
                "aud",
                json!("https://login.microsoftonline.com/t/oauth2/v2.0/token"),
                "aud",
            ),
            ("iss", json!("another-app"), "iss"),
            ("sub", json!("another-app"), "sub"),
        ] {
            let mut claims = good.clone();
            claims[claim] = value;
            assert_eq!(
                check(&certificate_assertion(claims, false), &settings),
                Err(AssertionRefused::WrongClaims { claim: refusal })
            );
        }
        let mut expired = good.clone();
        expired["exp"] = json!(1_799_999_999);
        assert!(matches!(
            check(&certificate_assertion(expired, false), &settings),
            Err(AssertionRefused::OutsideValidity { .. })
        ));
    }

    #[test]
    fn tokens_expire() {
        let tokens = Tokens::default();
        let (short, _) = tokens.issue(Duration::from_millis(1), "https://management.azure.com");
        let (long, valid) = tokens.issue(Duration::from_secs(60), "https://management.azure.com");
        assert_eq!(valid.len(), 2);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(
            tokens.check(Some(&format!("Bearer {short}"))),
            Err(TokenError::Expired)
        );
        assert_eq!(tokens.check(Some(&format!("Bearer {long}"))), Ok(()));
        assert_eq!(tokens.check(None), Err(TokenError::Missing));
        assert_eq!(
            tokens.check(Some("Bearer someone-elses")),
            Err(TokenError::Unknown)
        );
        let restarted = Tokens::restore(valid);
        assert_eq!(
            restarted.check(Some(&format!("Bearer {long}"))),
            Ok(()),
            "a token survives a restart with the saved state"
        );
    }

    #[test]
    fn arm_accepts_only_tokens_for_its_own_audience() {
        let tokens = Tokens::default();
        for scope in [
            "https://management.azure.com/.default",
            "https://management.core.windows.net//.default",
        ] {
            let (token, _) = tokens.issue(Duration::from_secs(60), resource_of(scope).unwrap());
            assert_eq!(
                tokens.check(Some(&format!("Bearer {token}"))),
                Ok(()),
                "{scope}"
            );
        }
        let (vault, _) = tokens.issue(
            Duration::from_secs(60),
            resource_of("https://vault.azure.net/.default").unwrap(),
        );
        assert_eq!(
            tokens.check(Some(&format!("Bearer {vault}"))),
            Err(TokenError::WrongAudience("https://vault.azure.net".into()))
        );
        assert_eq!(resource_of("openid profile"), None);
    }
}
