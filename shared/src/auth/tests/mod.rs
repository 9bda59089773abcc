//! Tests of the auth module, and the fixtures they share: keys generated
//! at test time (none committed), token builders, PEM files, and a JWKS
//! endpoint served by a real axum server on 127.0.0.1:0.

mod extract;
mod jwks;
mod mint;
mod props;
mod verifier;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::Verifier;
use crate::config::{ClientSettings, JwtSettings};

/// Key pairs as PEM, generated once per test run (RSA generation is slow
/// in debug builds, so every test shares one pair).
pub(super) struct TestKeys {
    pub rsa_private: String,
    pub rsa_public: String,
    pub ec_private: String,
    pub ec_public: String,
}

pub(super) fn keys() -> &'static TestKeys {
    static KEYS: OnceLock<TestKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
        let mut rng = rand::thread_rng();
        let rsa = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key generation");
        let ec = p256::SecretKey::random(&mut rng);
        TestKeys {
            rsa_private: rsa.to_pkcs8_pem(LineEnding::LF).expect("RSA private PEM").to_string(),
            rsa_public: rsa
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("RSA public PEM"),
            ec_private: ec.to_pkcs8_pem(LineEnding::LF).expect("EC private PEM").to_string(),
            ec_public: ec
                .public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("EC public PEM"),
        }
    })
}

/// A fresh EC P-256 pair (cheap), for "signed by someone else" tests.
pub(super) fn other_ec_private() -> String {
    use p256::pkcs8::{EncodePrivateKey as _, LineEnding};
    p256::SecretKey::random(&mut rand::thread_rng())
        .to_pkcs8_pem(LineEnding::LF)
        .expect("EC private PEM")
        .to_string()
}

pub(super) fn rsa_signer() -> EncodingKey {
    EncodingKey::from_rsa_pem(keys().rsa_private.as_bytes()).expect("RSA signing key")
}

pub(super) fn ec_signer() -> EncodingKey {
    EncodingKey::from_ec_pem(keys().ec_private.as_bytes()).expect("EC signing key")
}

pub(super) fn now() -> u64 {
    jsonwebtoken::get_current_timestamp()
}

/// Claims that pass every default check.
pub(super) fn good_claims(sub: &str) -> Value {
    json!({ "sub": sub, "iat": now(), "exp": now() + 600 })
}

/// Signs `claims` with `alg`, and `kid` in the header if given.
pub(super) fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

pub(super) fn hs256(secret: &str, claims: &Value) -> String {
    sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(secret.as_bytes()),
        None,
        claims,
    )
}

/// A token with an arbitrary header and a junk signature, for cases that
/// must fail before any signature check (`alg: none`, unknown `kid`).
pub(super) fn unsigned(header: &Value, claims: &Value) -> String {
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).expect("json"));
    format!("{}.{}.{}", part(header), part(claims), URL_SAFE_NO_PAD.encode(b"junk"))
}

pub(super) fn http() -> reqwest::Client {
    crate::upstream::build_client(&ClientSettings::default()).expect("HTTP client")
}

pub(super) const SECRET: &str = "test-secret-0123456789-0123456789-abcdef";

pub(super) async fn hs_verifier(issuer: Option<&str>, audience: Option<&str>) -> Verifier {
    let settings = JwtSettings {
        hs256_secret: Some(SECRET.into()),
        issuer: issuer.map(Into::into),
        audience: audience.map(Into::into),
        ..JwtSettings::default()
    };
    Verifier::from_settings(&settings, http())
        .await
        .expect("HS256 verifier")
}

/// A PEM file in the temp dir, removed on drop.
pub(super) struct TempFile(pub PathBuf);

impl TempFile {
    pub fn with(contents: &str) -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "bff-auth-test-{}-{}.pem",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, contents).expect("write temp PEM");
        Self(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub(super) async fn pem_verifier(pem: &str) -> Result<Verifier, crate::config::ConfigError> {
    let file = TempFile::with(pem);
    let settings = JwtSettings {
        public_key_file: Some(file.0.clone()),
        ..JwtSettings::default()
    };
    Verifier::from_settings(&settings, http()).await
}

/// The public JWK of a signing key, under `kid`.
pub(super) fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).expect("JWK");
    jwk.common.key_id = Some(kid.into());
    jwk
}

/// A JWKS endpoint whose keys and health the test changes at will, and
/// which counts the fetches it serves.
#[derive(Clone)]
pub(super) struct JwksServer {
    pub url: String,
    keys: Arc<Mutex<Vec<Value>>>,
    hits: Arc<AtomicUsize>,
    down: Arc<AtomicBool>,
    delay_ms: Arc<AtomicU64>,
}

impl JwksServer {
    pub async fn start(keys: Vec<Jwk>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local addr");
        let server = Self {
            url: format!("http://{addr}/.well-known/jwks.json"),
            keys: Arc::new(Mutex::new(Vec::new())),
            hits: Arc::new(AtomicUsize::new(0)),
            down: Arc::new(AtomicBool::new(false)),
            delay_ms: Arc::new(AtomicU64::new(0)),
        };
        for key in keys {
            server.publish(serde_json::to_value(key).expect("JWK json"));
        }
        let app = axum::Router::new()
            .route("/.well-known/jwks.json", get(serve_jwks))
            .with_state(server.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        server
    }

    /// Adds a key (as JSON, so tests can publish keys the library would
    /// not produce, such as `oct`).
    pub fn publish(&self, key: Value) {
        self.keys.lock().expect("keys").push(key);
    }

    /// Withdraws the key published under `kid`.
    pub fn remove(&self, kid: &str) {
        self.keys.lock().expect("keys").retain(|key| key["kid"] != kid);
    }

    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Makes every answer take `delay` (a slow or hanging provider).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub async fn verifier(&self) -> Verifier {
        self.verifier_refreshing_every(JwtSettings::default().jwks_refresh)
            .await
    }

    /// A verifier whose background refresh runs every `period`.
    pub async fn verifier_refreshing_every(&self, period: Duration) -> Verifier {
        let settings = JwtSettings {
            jwks_url: Some(self.url.clone()),
            jwks_refresh: period,
            ..JwtSettings::default()
        };
        Verifier::from_settings(&settings, http())
            .await
            .expect("JWKS verifier never fails start-up")
    }
}

async fn serve_jwks(State(server): State<JwksServer>) -> Response {
    server.hits.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(server.delay_ms.load(Ordering::SeqCst))).await;
    if server.down.load(Ordering::SeqCst) {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let keys = server.keys.lock().expect("keys").clone();
    Json(json!({ "keys": keys })).into_response()
}
