//! [`Verifier`]: checks a bearer token against the configured key and the
//! claim rules of docs/api.md#authentication, and yields a [`Principal`].
//!
//! What it owns:
//! - building the key from [`JwtSettings`] (HS256 secret, RS256/ES256 PEM
//!   public key, or a JWKS URL via [`jwks`](super::jwks));
//! - the one algorithm each key accepts: the token's `alg` must equal it, so
//!   `none` and HS/RS confusion are rejected before any signature check;
//! - the claim rules: `exp` and `sub` required, `nbf` honoured, `iss`/`aud`
//!   required and checked only when configured, 5 s leeway;
//! - mapping every failure to [`ApiError::InvalidToken`], except a
//!   correctly signed but expired token, which is [`ApiError::TokenExpired`].
//!   The library's reason goes to `tracing::debug!`, never to the client.
//!
//! Reading the `Authorization` header is here too ([`Verifier::from_headers`]);
//! the axum extractors around it live in [`extract`](super::extract).

use std::borrow::Cow;
use std::path::Path;

use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::Principal;
use super::jwks::Jwks;
use super::remembered::Remembered;
use crate::config::{ConfigError, JwtSettings, vars};
use crate::error::ApiError;

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 5;
/// Longer tokens are rejected unparsed; real ones are well under 2 KiB.
const MAX_TOKEN_LEN: usize = 8 * 1024;
/// Below this an HS256 secret is guessable offline; we warn, not refuse,
/// so short dev secrets keep working.
const MIN_SECRET_LEN: usize = 32;

/// Verifies bearer tokens. Built once at start-up and shared as
/// `Arc<Verifier>`; verification takes `&self`.
pub struct Verifier {
    keys: Keys,
    /// Claim rules, and for a fixed key its one algorithm.
    validation: Validation,
    /// Tokens that passed, so a client's next requests skip the check.
    remembered: Remembered,
}

/// Where the signing key comes from.
enum Keys {
    /// A secret or PEM key, fixed for the process lifetime.
    Fixed { key: DecodingKey, alg: Algorithm },
    /// Keys fetched by `kid`, each with its own algorithm.
    Jwks(Jwks),
}

impl std::fmt::Debug for Verifier {
    // Never prints key material.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Verifier");
        match &self.keys {
            Keys::Fixed { alg, .. } => d.field("alg", alg),
            Keys::Jwks(jwks) => d.field("jwks", jwks),
        };
        d.field("iss", &self.validation.iss)
            .field("aud", &self.validation.aud)
            .finish()
    }
}

/// The claims we read; `exp`, `nbf`, `iss` and `aud` are checked by the
/// library from the same payload.
#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// Checked by the library; read here for how long the token may be
    /// remembered (a number, whole or not).
    #[serde(default)]
    exp: Option<f64>,
}

impl Verifier {
    /// Builds the verifier for the one key source `settings` names.
    ///
    /// A PEM file is read now and must hold an RSA public key (RS256) or an
    /// EC P-256 public key (ES256); otherwise the error names
    /// `BFF_JWT_PUBLIC_KEY_FILE`. A JWKS URL is fetched once now, but an
    /// unreachable endpoint only logs a warning: keys are fetched again when
    /// the first token needs them, and every `settings.jwks_refresh` in the
    /// background (a task that ends when the verifier is dropped).
    pub async fn from_settings(settings: &JwtSettings, http: reqwest::Client) -> Result<Verifier, ConfigError> {
        let keys = match (&settings.hs256_secret, &settings.public_key_file, &settings.jwks_url) {
            (Some(secret), None, None) => {
                if secret.is_empty() {
                    return Err(ConfigError::new(vars::JWT_HS256_SECRET, "the secret must not be empty"));
                }
                if secret.len() < MIN_SECRET_LEN {
                    tracing::warn!(
                        variable = vars::JWT_HS256_SECRET,
                        "the HS256 secret is shorter than {MIN_SECRET_LEN} bytes; fine for development, weak otherwise"
                    );
                }
                Keys::Fixed {
                    key: DecodingKey::from_secret(secret.as_bytes()),
                    alg: Algorithm::HS256,
                }
            }
            (None, Some(path), None) => {
                let (key, alg) = load_pem(path).await?;
                Keys::Fixed { key, alg }
            }
            (None, None, Some(url)) => Keys::Jwks(Jwks::start(url.clone(), http, settings.jwks_refresh).await),
            _ => {
                let names = format!(
                    "{}, {} or {}",
                    vars::JWT_HS256_SECRET,
                    vars::JWT_PUBLIC_KEY_FILE,
                    vars::JWT_JWKS_URL
                );
                return Err(ConfigError::new(names, "set exactly one JWT key source"));
            }
        };
        let mut validation = claim_rules(settings);
        // Fixed keys have one algorithm for life: set it once. JWKS keys
        // each set theirs per token.
        if let Keys::Fixed { alg, .. } = &keys {
            validation.algorithms = vec![*alg];
        }
        Ok(Verifier {
            keys,
            validation,
            remembered: Remembered::default(),
        })
    }

    /// Verifies `token` (the part after `Bearer `) and returns its principal.
    ///
    /// Errors: [`ApiError::TokenExpired`] for a correctly signed token past
    /// its `exp` (plus leeway); [`ApiError::InvalidToken`] for anything else.
    ///
    /// A token that passed is remembered until its `exp` (at most a minute,
    /// and only while the key set is the same), so a client's next requests
    /// skip the check.
    pub async fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            tracing::debug!(len = token.len(), "bearer token rejected: empty or too long");
            return Err(ApiError::InvalidToken);
        }
        // Read before checking: a key set that changes meanwhile makes the
        // entry stale at once rather than vouched for by the new keys.
        let keys = self.key_generation();
        if let Some(principal) = self.remembered.get(token, keys) {
            return Ok(principal);
        }
        let (principal, exp) = self.check(token).await?;
        if let Some(exp) = exp {
            self.remembered
                .insert(token, &principal, exp + LEEWAY_SECS as f64, keys);
        }
        Ok(principal)
    }

    /// Which key set a token is checked against now: a fixed key is always
    /// the same; JWKS keys change with each refresh.
    fn key_generation(&self) -> u64 {
        match &self.keys {
            Keys::Fixed { .. } => 0,
            Keys::Jwks(jwks) => jwks.generation(),
        }
    }

    /// The full check of [`Self::verify`]: the principal, and the token's
    /// `exp`.
    async fn check(&self, token: &str) -> Result<(Principal, Option<f64>), ApiError> {
        // `alg: none` and unknown algorithms fail here: the library's
        // `Algorithm` has no such variant.
        let header = jsonwebtoken::decode_header(token).map_err(|e| rejected("unreadable header", &e))?;
        let jwks_key;
        let (key, alg) = match &self.keys {
            Keys::Fixed { key, alg } => (key, *alg),
            Keys::Jwks(jwks) => {
                jwks_key = jwks.key_for(header.kid.as_deref()).await.ok_or_else(|| {
                    tracing::debug!(
                        kid = header.kid.as_deref().unwrap_or("<none>"),
                        "bearer token rejected: no JWKS key for its kid"
                    );
                    ApiError::InvalidToken
                })?;
                (&jwks_key.key, jwks_key.alg)
            }
        };
        if header.alg != alg {
            tracing::debug!(token_alg = ?header.alg, key_alg = ?alg, "bearer token rejected: algorithm not accepted for this key");
            return Err(ApiError::InvalidToken);
        }
        // The rules for a fixed key already name its algorithm; a JWKS key
        // brings its own.
        let validation = if self.validation.algorithms == [alg] {
            Cow::Borrowed(&self.validation)
        } else {
            let mut v = self.validation.clone();
            v.algorithms = vec![alg];
            Cow::Owned(v)
        };
        // The library checks the signature before any claim, so "expired"
        // is only ever reported for a genuine token.
        let data = jsonwebtoken::decode::<Claims>(token, key, &validation).map_err(|e| {
            if *e.kind() == ErrorKind::ExpiredSignature {
                tracing::debug!("bearer token rejected: expired");
                ApiError::TokenExpired
            } else {
                rejected("failed verification", &e)
            }
        })?;
        if data.claims.sub.is_empty() {
            tracing::debug!("bearer token rejected: empty sub");
            return Err(ApiError::InvalidToken);
        }
        let principal = Principal {
            sub: data.claims.sub.into(),
        };
        Ok((principal, data.claims.exp))
    }

    /// The principal of the request's bearer token, if it carries one.
    ///
    /// `Ok(None)`: no `Authorization` header, or a scheme other than
    /// `Bearer` (another scheme is not ours to judge). `Bearer` (any case)
    /// with an empty or bad token is an error, never anonymous: a client
    /// that sent a token expects it to count.
    pub async fn from_headers(&self, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
        let Some(value) = headers.get(http::header::AUTHORIZATION) else {
            return Ok(None);
        };
        let raw = value.as_bytes();
        let (scheme, rest) = match raw.iter().position(|b| *b == b' ') {
            Some(i) => (&raw[..i], &raw[i + 1..]),
            None => (raw, &[][..]),
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            return Ok(None);
        }
        let token = std::str::from_utf8(rest).map_err(|_| {
            tracing::debug!("bearer token rejected: not UTF-8");
            ApiError::InvalidToken
        })?;
        self.verify(token.trim_matches(' ')).await.map(Some)
    }
}

/// The claim rules shared by every key (docs/api.md#authentication).
fn claim_rules(settings: &JwtSettings) -> Validation {
    // The algorithm list is replaced with the key's one algorithm.
    let mut v = Validation::new(Algorithm::HS256);
    v.leeway = LEEWAY_SECS;
    v.validate_exp = true;
    v.validate_nbf = true;
    let mut required = vec!["exp", "sub"];
    if let Some(iss) = &settings.issuer {
        v.set_issuer(&[iss]);
        required.push("iss");
    }
    // Without a configured audience, `aud` is ignored rather than (the
    // library's default) rejected when present.
    v.validate_aud = settings.audience.is_some();
    if let Some(aud) = &settings.audience {
        v.set_audience(&[aud]);
        required.push("aud");
    }
    v.set_required_spec_claims(&required);
    v
}

/// Reads a PEM public key: RSA means RS256, EC P-256 means ES256.
async fn load_pem(path: &Path) -> Result<(DecodingKey, Algorithm), ConfigError> {
    let var = vars::JWT_PUBLIC_KEY_FILE;
    let pem = tokio::fs::read(path)
        .await
        .map_err(|e| ConfigError::new(var, format!("cannot read {}: {e}", path.display())))?;
    // The library would also take a private key or a certificate; refusing
    // them here turns a misconfiguration into a start-up error instead of
    // every token failing.
    let text = String::from_utf8_lossy(&pem);
    let label = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("-----BEGIN ")?.strip_suffix("-----"));
    match label {
        Some("PUBLIC KEY" | "RSA PUBLIC KEY") => {}
        Some(other) => {
            return Err(ConfigError::new(
                var,
                format!(
                    "{} holds a PEM \"{other}\"; expected a public key (\"BEGIN PUBLIC KEY\")",
                    path.display()
                ),
            ));
        }
        None => {
            return Err(ConfigError::new(var, format!("{} is not a PEM file", path.display())));
        }
    }
    if let Ok(key) = DecodingKey::from_rsa_pem(&pem) {
        return Ok((key, Algorithm::RS256));
    }
    if let Ok(key) = DecodingKey::from_ec_pem(&pem) {
        // Building an ES256 verifier parses the point as P-256, so a P-384
        // (or corrupt) key is refused now rather than at the first token.
        if jsonwebtoken::crypto::verify("", b"", &key, Algorithm::ES256).is_ok() {
            return Ok((key, Algorithm::ES256));
        }
        return Err(ConfigError::new(
            var,
            format!(
                "{}: only EC keys on the P-256 curve (ES256) are supported",
                path.display()
            ),
        ));
    }
    Err(ConfigError::new(
        var,
        format!("{}: not an RSA or EC P-256 public key", path.display()),
    ))
}

/// Logs why a token failed (debug: it is the client's fault) and returns
/// the client-facing error.
fn rejected(what: &str, e: &jsonwebtoken::errors::Error) -> ApiError {
    tracing::debug!(error = %e, "bearer token rejected: {what}");
    ApiError::InvalidToken
}
