//! The users service: `GET /users/{id}` for `u-1`..`u-1000`.

use axum::extract::Path;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use super::ApiError;
use crate::simulator::data::{BASE_TIME, DAY, USERS, between, hash, parse_id, pick, rfc3339};

const SALT_FIRST: u64 = 101;
const SALT_LAST: u64 = 102;
const SALT_TIER: u64 = 103;
const SALT_SINCE: u64 = 104;
const SALT_LANGUAGE: u64 = 105;
const SALT_MARKETING: u64 = 106;

pub(crate) const FIRST_NAMES: [&str; 16] = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam", "Maya", "Noor",
    "Omar", "Priya",
];
pub(crate) const LAST_NAMES: [&str; 12] = [
    "Adams", "Baker", "Chen", "Dubois", "Evans", "Fischer", "Garcia", "Haddad", "Ito", "Jensen", "Kowalski", "Lopez",
];
const TIERS: [&str; 5] = ["standard", "standard", "silver", "gold", "platinum"];
const LANGUAGES: [&str; 7] = ["en", "en", "en", "fr", "de", "es", "nl"];

/// The upstream contract's `User` (docs/api.md, "Upstream shapes").
#[derive(Debug, Serialize)]
pub(crate) struct User {
    id: String,
    name: String,
    email: String,
    avatar_url: String,
    tier: &'static str,
    created_at: String,
    preferences: Preferences,
}

#[derive(Debug, Serialize)]
struct Preferences {
    currency: &'static str,
    language: &'static str,
    marketing_opt_in: bool,
}

/// User number `n` (1..=1000).
pub(crate) fn user(n: u32) -> User {
    let n64 = u64::from(n);
    let first = pick(hash(&[SALT_FIRST, n64]), &FIRST_NAMES);
    let last = pick(hash(&[SALT_LAST, n64]), &LAST_NAMES);
    // Accounts were opened within three years before the base date.
    let since = BASE_TIME - between(hash(&[SALT_SINCE, n64]), DAY as u64, 3 * 365 * DAY as u64) as i64;
    User {
        id: format!("u-{n}"),
        name: format!("{first} {last}"),
        email: format!("{}.{}{n}@example.com", first.to_lowercase(), last.to_lowercase()),
        avatar_url: format!("https://img.example.com/avatars/u-{n}.png"),
        tier: pick(hash(&[SALT_TIER, n64]), &TIERS),
        created_at: rfc3339(since),
        preferences: Preferences {
            currency: "USD",
            language: pick(hash(&[SALT_LANGUAGE, n64]), &LANGUAGES),
            marketing_opt_in: hash(&[SALT_MARKETING, n64]).is_multiple_of(2),
        },
    }
}

/// The user number of a known user id.
pub(crate) fn user_number(id: &str) -> Option<u32> {
    parse_id(id, "u-", USERS)
}

async fn get_user(Path(id): Path<String>) -> Result<Json<User>, ApiError> {
    user_number(&id).map(|n| Json(user(n))).ok_or(ApiError::NotFound)
}

pub(crate) fn routes() -> Router {
    Router::new().route("/users/{id}", get(get_user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_is_the_same_every_time_and_users_differ() {
        let a = serde_json::to_value(user(42)).expect("json");
        assert_eq!(a, serde_json::to_value(user(42)).expect("json"));
        assert_ne!(a, serde_json::to_value(user(43)).expect("json"));
        assert_eq!(a["id"], "u-42");
        assert_eq!(a["preferences"]["currency"], "USD");
        assert!(a["email"].as_str().is_some_and(|e| e.ends_with("42@example.com")));
    }
}
