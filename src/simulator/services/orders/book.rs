//! [`OrderBook`]: the orders placed through `POST /orders`, by idempotency
//! key, id and user. Bounded: past [`MAX_PLACED`] orders the oldest are
//! forgotten, so a long benchmark of checkouts cannot exhaust memory.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::Order;
use crate::simulator::sync::lock;

/// Placed orders kept.
const MAX_PLACED: usize = 100_000;

/// One order placed through `POST /orders`, with the key that placed it:
/// what tests compare with the keys their clients sent, to show that no
/// key placed two orders and none was lost.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PlacedOrder {
    /// The `user_id` of the order's body.
    pub user_id: String,
    /// The `Idempotency-Key` it was placed under.
    pub idempotency_key: String,
    /// Its id (`o-new-N`).
    pub order_id: String,
}

/// The placed orders; every method takes the lock once and never awaits.
#[derive(Default)]
pub(crate) struct OrderBook {
    inner: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    /// Numbers the ids of placed orders.
    placed: u64,
    /// `(user_id, key)` to order id: keys are scoped to the user, so two
    /// users who happen to send the same key get their own orders.
    by_key: HashMap<(String, String), String>,
    by_id: HashMap<String, (Order, String)>,
    /// Each user's order ids, oldest first.
    by_user: HashMap<String, VecDeque<String>>,
    /// Every kept id, oldest first (for eviction).
    fifo: VecDeque<String>,
}

impl OrderBook {
    /// The order placed earlier under `key` by the same user, or a new one
    /// made by `make(number)`.
    pub(crate) fn place(&self, key: &str, user_id: &str, make: impl FnOnce(u64) -> Order) -> Order {
        let mut book = lock(&self.inner);
        let scoped = (user_id.to_owned(), key.to_owned());
        if let Some(order) = book.by_key.get(&scoped).and_then(|id| book.by_id.get(id)) {
            return order.0.clone();
        }
        book.placed += 1;
        let order = make(book.placed);
        book.by_key.insert(scoped, order.id.clone());
        book.by_user
            .entry(user_id.to_owned())
            .or_default()
            .push_back(order.id.clone());
        book.fifo.push_back(order.id.clone());
        book.by_id.insert(order.id.clone(), (order.clone(), key.to_owned()));
        if book.fifo.len() > MAX_PLACED {
            book.forget_oldest();
        }
        order
    }

    /// Every kept placed order, oldest first.
    pub(crate) fn placed(&self) -> Vec<PlacedOrder> {
        let book = lock(&self.inner);
        book.fifo
            .iter()
            .filter_map(|id| book.by_id.get(id))
            .map(|(order, key)| PlacedOrder {
                user_id: order.user_id.clone(),
                idempotency_key: key.clone(),
                order_id: order.id.clone(),
            })
            .collect()
    }

    pub(crate) fn get(&self, id: &str) -> Option<Order> {
        lock(&self.inner).by_id.get(id).map(|(order, _)| order.clone())
    }

    /// How many orders `user_id` placed, and `limit` of them from `offset`,
    /// newest first.
    pub(crate) fn page(&self, user_id: &str, offset: usize, limit: usize) -> (usize, Vec<Order>) {
        let book = lock(&self.inner);
        let Some(ids) = book.by_user.get(user_id) else {
            return (0, Vec::new());
        };
        let page = ids
            .iter()
            .rev()
            .skip(offset)
            .take(limit)
            .filter_map(|id| book.by_id.get(id).map(|(order, _)| order.clone()))
            .collect();
        (ids.len(), page)
    }
}

impl Book {
    fn forget_oldest(&mut self) {
        let Some(id) = self.fifo.pop_front() else { return };
        let Some((order, key)) = self.by_id.remove(&id) else {
            return;
        };
        self.by_key.remove(&(order.user_id.clone(), key));
        if let Some(ids) = self.by_user.get_mut(&order.user_id) {
            // The globally oldest order is also its user's oldest.
            ids.pop_front();
            if ids.is_empty() {
                self.by_user.remove(&order.user_id);
            }
        }
    }
}
