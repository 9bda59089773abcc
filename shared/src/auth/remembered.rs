//! Tokens already verified, remembered by their exact text so that a
//! client's next requests skip decoding, the signature check and the claim
//! rules (the largest part of a small request's own work, as a JWT
//! authenticator in a proxy such as Envoy does with its token cache).
//!
//! Only a token that passed every check is remembered, with the principal
//! it gave; a failure is never remembered, so a bad token costs a full
//! check each time and cannot crowd out good ones. An entry lasts until the
//! token's `exp` (plus the leeway the check allows), and at most a minute;
//! it is forgotten when the key set it was checked against changes (a JWKS
//! refresh), so a key removed from the JWKS stops working as it did
//! before. The table is bounded: when full, expired entries go, and if
//! that is not enough, all of them.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::Principal;

/// The most entries kept (about 3 MiB of tokens at their usual size).
const MAX_ENTRIES: usize = 10_000;
/// The longest a verification is trusted again without checking.
const MAX_AGE: Duration = Duration::from_secs(60);

struct Entry {
    principal: Principal,
    until: Instant,
    /// The key set's generation the token was checked against.
    keys: u64,
}

/// Verified tokens and what they gave.
#[derive(Default)]
pub(super) struct Remembered {
    entries: Mutex<HashMap<Box<str>, Entry>>,
}

impl Remembered {
    /// The principal of `token` if it was verified against the key set
    /// `keys` and has not expired since.
    pub(super) fn get(&self, token: &str, keys: u64) -> Option<Principal> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = entries.get(token)?;
        (entry.keys == keys && Instant::now() < entry.until).then(|| entry.principal.clone())
    }

    /// Remembers a token that passed every check against the key set
    /// `keys`; `valid_until` is its `exp` plus the leeway, in seconds since
    /// the epoch.
    pub(super) fn insert(&self, token: &str, principal: &Principal, valid_until: f64, keys: u64) {
        let now_unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let left = valid_until - now_unix;
        if left.is_nan() || left <= 0.0 {
            return;
        }
        let now = Instant::now();
        let until = now + Duration::from_secs_f64(left.min(MAX_AGE.as_secs_f64()));
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(token) {
            entries.retain(|_, entry| entry.until > now);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let entry = Entry {
            principal: principal.clone(),
            until,
            keys,
        };
        entries.insert(token.into(), entry);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(sub: &str) -> Principal {
        Principal { sub: sub.into() }
    }

    fn in_secs(secs: f64) -> f64 {
        SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs_f64() + secs
    }

    #[test]
    fn a_remembered_token_gives_its_principal_for_its_key_set_only() {
        let remembered = Remembered::default();
        assert_eq!(remembered.get("t", 0), None);
        remembered.insert("t", &principal("u-1"), in_secs(3600.0), 0);
        assert_eq!(remembered.get("t", 0), Some(principal("u-1")));
        assert_eq!(remembered.get("t", 1), None, "the key set changed since");
        assert_eq!(remembered.get("t2", 0), None, "another token");
        assert_eq!(remembered.get("", 0), None);
    }

    #[test]
    fn an_expired_token_is_not_remembered_and_one_about_to_expire_not_for_long() {
        let remembered = Remembered::default();
        remembered.insert("old", &principal("u-1"), in_secs(-1.0), 0);
        assert_eq!(remembered.get("old", 0), None);
        assert_eq!(remembered.len(), 0);
        remembered.insert("soon", &principal("u-1"), in_secs(0.05), 0);
        assert!(remembered.get("soon", 0).is_some());
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(remembered.get("soon", 0), None, "past its exp");
    }

    #[test]
    fn the_table_stays_bounded() {
        let remembered = Remembered::default();
        for i in 0..MAX_ENTRIES + 10 {
            remembered.insert(&format!("t{i}"), &principal("u"), in_secs(3600.0), 0);
        }
        assert!(remembered.len() <= MAX_ENTRIES);
        assert!(
            remembered.get(&format!("t{}", MAX_ENTRIES + 9), 0).is_some(),
            "the newest is kept"
        );
    }
}
