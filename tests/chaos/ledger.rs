//! Every `Idempotency-Key` the clients sent, with its body and the order
//! ids its 201s carried; and, after the run, the proof that each key placed
//! exactly one order (section 5): a retry of every key answers 201 with
//! that key's one order, and the orders service holds one order per key.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use bff_stack::simulator::Simulator;
use futures::StreamExt;
use serde_json::Value;

use crate::check::{Asked, Fit};
use crate::load::Run;

/// One key: who sent it, what it carried, what came back.
pub struct KeyRecord {
    pub user: String,
    pub token: String,
    pub body: Value,
    /// Order ids of the 201s it got during the run (one at most, if the
    /// BFF keeps its promise).
    pub created: BTreeSet<String>,
}

#[derive(Default)]
pub struct Ledger {
    pub keys: BTreeMap<String, KeyRecord>,
}

/// What the reconciliation found.
#[derive(Default)]
pub struct Reconciled {
    pub keys: usize,
    /// Keys that got a 201 during the run.
    pub created_during_run: usize,
    /// Orders the orders service holds for this run's users.
    pub placed: usize,
    pub violations: Vec<String>,
}

/// How many retries run at once after the run (as many as the clients).
const RETRY_CONCURRENCY: usize = 12;

/// Retries every key, then compares with the orders the simulator placed.
pub async fn reconcile(run: Arc<Run>, sim: &Simulator, ledger: &Ledger) -> Reconciled {
    let mut out = Reconciled {
        keys: ledger.keys.len(),
        ..Reconciled::default()
    };
    for (key, record) in &ledger.keys {
        if record.created.len() > 1 {
            out.violations.push(format!(
                "key {key} got 201s with different orders: {:?}",
                record.created
            ));
        }
    }
    out.created_during_run = ledger.keys.values().filter(|r| !r.created.is_empty()).count();

    let http = crate::load::client(run.deadline);
    let retries = futures::stream::iter(ledger.keys.iter().map(|(key, record)| {
        let http = http.clone();
        let run = run.clone();
        async move {
            let request = http
                .post(format!("{}/v1/checkout", run.base))
                .bearer_auth(&record.token)
                .header("idempotency-key", key)
                .json(&record.body);
            let fit = run
                .exchange(Asked::Checkout, request, format!("retry of key {key}"))
                .await;
            (key, record, fit)
        }
    }))
    .buffer_unordered(RETRY_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;

    let mut final_ids: BTreeMap<&str, String> = BTreeMap::new();
    for (key, record, fit) in retries {
        match fit {
            Some(Fit::Created(id)) => {
                if let Some(first) = record.created.first()
                    && *first != id
                {
                    out.violations
                        .push(format!("key {key} placed {first} but its retry answers {id}"));
                }
                final_ids.insert(key, id);
            }
            other => out.violations.push(format!(
                "with faults cleared, the retry of key {key} answered {other:?}, not 201"
            )),
        }
    }

    let placed: Vec<_> = sim
        .placed_orders()
        .into_iter()
        .filter(|p| ledger.keys.values().any(|r| r.user == p.user_id))
        .collect();
    out.placed = placed.len();
    let mut per_key: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for order in &placed {
        per_key
            .entry(order.idempotency_key.as_str())
            .or_default()
            .push(order.order_id.as_str());
        match ledger.keys.get(&order.idempotency_key) {
            None => out.violations.push(format!(
                "the orders service holds order {} under key {:?}, which no client sent",
                order.order_id, order.idempotency_key
            )),
            Some(record) if record.user != order.user_id => out.violations.push(format!(
                "order {} placed for {} under {}'s key",
                order.order_id, order.user_id, record.user
            )),
            Some(_) => {}
        }
    }
    for key in ledger.keys.keys() {
        let orders = per_key.get(key.as_str()).map_or(&[][..], Vec::as_slice);
        match (orders, final_ids.get(key.as_str())) {
            ([one], Some(answered)) if one == answered => {}
            // Already reported: the retry failed.
            ([_], None) => {}
            (orders, answered) => out.violations.push(format!(
                "key {key}: the orders service holds {orders:?}, the BFF answers {answered:?}"
            )),
        }
    }
    out
}
