//! The orders every user already has: 3 to 25 per user, ids
//! `o-<user>-<k>` with `k = 1` the oldest, 1 to 4 lines of existing products
//! at their list price.

use super::{Order, OrderLine};
use crate::simulator::data::{BASE_TIME, DAY, USERS, between, hash, parse_id, pick, product_from, rfc3339};
use crate::simulator::services::pricing::list_price_cents;

const SALT_COUNT: u64 = 201;
const SALT_TIME: u64 = 202;
const SALT_STATUS: u64 = 203;
const SALT_LINES: u64 = 204;
const SALT_PRODUCT: u64 = 205;
const SALT_QUANTITY: u64 = 206;

/// Seconds between two orders of a user (more than the up-to-a-day jitter,
/// so `k` and `created_at` sort alike).
const SPACING: i64 = 3 * DAY;

/// How many generated orders user `n` has.
pub(super) fn count(n: u32) -> u64 {
    between(hash(&[SALT_COUNT, u64::from(n)]), 3, 25)
}

/// Order `k` (1 = oldest) of user `n`; `k` must be in `1..=count(n)`.
pub(super) fn order(n: u32, k: u64) -> Order {
    let n64 = u64::from(n);
    let total_orders = count(n);
    let at = BASE_TIME + i64::from(n) * 600 + k as i64 * SPACING + (hash(&[SALT_TIME, n64, k]) % DAY as u64) as i64;
    let status_pick = hash(&[SALT_STATUS, n64, k]);
    // Recent orders are still on their way; old ones arrived (or were cancelled).
    let status = match total_orders - k {
        0 => pick(status_pick, &["placed", "shipped"]),
        1 => pick(status_pick, &["shipped", "delivered"]),
        _ => pick(
            status_pick,
            &["delivered", "delivered", "delivered", "delivered", "cancelled"],
        ),
    };
    let line_count = between(hash(&[SALT_LINES, n64, k]), 1, 4);
    let mut lines: Vec<OrderLine> = Vec::with_capacity(line_count as usize);
    let mut j = 0;
    while (lines.len() as u64) < line_count {
        let product = product_from(hash(&[SALT_PRODUCT, n64, k, j]));
        let product_id = format!("p-{product}");
        if !lines.iter().any(|line| line.product_id == product_id) {
            lines.push(OrderLine {
                product_id,
                quantity: between(hash(&[SALT_QUANTITY, n64, k, j]), 1, 3),
                unit_price_cents: list_price_cents(product),
            });
        }
        j += 1;
    }
    Order {
        id: format!("o-{n}-{k}"),
        user_id: format!("u-{n}"),
        status,
        created_at: rfc3339(at),
        total_cents: lines.iter().map(|line| line.quantity * line.unit_price_cents).sum(),
        currency: "USD".to_owned(),
        lines,
    }
}

/// The generated order with this id, if it exists.
pub(super) fn find(id: &str) -> Option<Order> {
    let rest = id.strip_prefix("o-")?;
    let (user, k) = rest.split_once('-')?;
    let user = parse_id(&format!("u-{user}"), "u-", USERS)?;
    let k = parse_id(&format!("k-{k}"), "k-", u32::MAX)?;
    (u64::from(k) <= count(user)).then(|| order(user, u64::from(k)))
}

/// A time after every generated order, for orders placed later.
pub(super) fn after_all() -> i64 {
    BASE_TIME + i64::from(USERS) * 600 + 26 * SPACING
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_orders_add_up_and_sort_newest_last_by_k() {
        for n in [1, 17, USERS] {
            let mut previous = String::new();
            for k in 1..=count(n) {
                let o = order(n, k);
                assert_eq!(
                    o.total_cents,
                    o.lines.iter().map(|l| l.quantity * l.unit_price_cents).sum::<u64>()
                );
                assert!((1..=4).contains(&o.lines.len()));
                assert!(o.created_at > previous, "{} after {previous}", o.created_at);
                assert!(o.created_at < rfc3339(after_all()));
                previous = o.created_at.clone();
                assert_eq!(find(&o.id).map(|f| f.created_at), Some(o.created_at));
            }
        }
    }

    #[test]
    fn only_existing_order_ids_are_found() {
        assert!(find("o-1-1").is_some());
        for id in ["o-1-0", "o-1-26", "o-0-1", "o-1001-1", "o-1", "x-1-1", "o-1-01"] {
            assert!(find(id).is_none(), "{id}");
        }
    }
}
