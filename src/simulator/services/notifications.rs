//! The notifications service: `GET /notifications?user_id=&unread_only=&limit=`.
//!
//! User `n` has 3 to 20 notifications, newest first; the newest 1 to 4 are
//! unread, so every user has some.

use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::users::user_number;
use super::{ApiError, Params, limit, required};
use crate::simulator::data::{BASE_TIME, DAY, between, hash, pick, rfc3339};

const SALT_COUNT: u64 = 701;
const SALT_UNREAD: u64 = 702;
const SALT_KIND: u64 = 703;
const SALT_TIME: u64 = 704;

/// Title and body of each kind of notification.
const KINDS: [(&str, &str); 6] = [
    ("Your order has shipped", "Good news: your parcel is on its way."),
    ("Price drop", "An item on your wish list is now cheaper."),
    ("Back in stock", "Something you looked at is available again."),
    ("Review your purchase", "Tell other shoppers what you think."),
    ("Weekend sale", "Up to 30% off in selected categories."),
    ("Security notice", "A new device signed in to your account."),
];

#[derive(Debug, Serialize)]
struct Notification {
    id: String,
    title: &'static str,
    body: &'static str,
    created_at: String,
    read: bool,
}

/// How many notifications user `n` has, and how many of them are unread.
fn counts(n: u32) -> (u64, u64) {
    let total = between(hash(&[SALT_COUNT, u64::from(n)]), 3, 20);
    (total, between(hash(&[SALT_UNREAD, u64::from(n)]), 1, 4))
}

/// Notification `k` (1 = oldest) of user `n`, read unless among the newest `unread`.
fn notification(n: u32, k: u64, total: u64, unread: u64) -> Notification {
    let (title, body) = pick(hash(&[SALT_KIND, u64::from(n), k]), &KINDS);
    // One every two days after the base date, plus up to a day.
    let at = BASE_TIME + (k as i64) * 2 * DAY + (hash(&[SALT_TIME, u64::from(n), k]) % DAY as u64) as i64;
    Notification {
        id: format!("n-{n}-{k}"),
        title,
        body,
        created_at: rfc3339(at),
        read: k + unread <= total,
    }
}

#[derive(Deserialize)]
struct NotificationsQuery {
    user_id: Option<String>,
    unread_only: Option<String>,
    limit: Option<String>,
}

#[derive(Serialize)]
struct Notifications {
    unread_count: u64,
    items: Vec<Notification>,
}

async fn list(Params(query): Params<NotificationsQuery>) -> Result<Json<Notifications>, ApiError> {
    let user = user_number(required(&query.user_id, "user_id")?).ok_or(ApiError::NotFound)?;
    let limit = limit(&query.limit)?;
    let unread_only = match query.unread_only.as_deref() {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unread_only must be true or false, got {other:?}"
            )));
        }
    };
    let (total, unread) = counts(user);
    let items = (1..=total)
        .rev()
        .map(|k| notification(user, k, total, unread))
        .filter(|item| !unread_only || !item.read)
        .take(limit)
        .collect();
    Ok(Json(Notifications {
        unread_count: unread,
        items,
    }))
}

pub(crate) fn routes() -> Router {
    Router::new().route("/notifications", get(list))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_newest_notifications_are_the_unread_ones() {
        let (total, unread) = counts(9);
        let read: Vec<bool> = (1..=total)
            .rev()
            .map(|k| notification(9, k, total, unread).read)
            .collect();
        assert_eq!(read.iter().filter(|r| !**r).count() as u64, unread);
        assert!(read[..unread as usize].iter().all(|r| !r));
    }
}
