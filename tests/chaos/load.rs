//! The load: a dozen clients, each a user with its own token and
//! connection pool, calling every endpoint of one BFF in a seeded random
//! order until the run stops, and judging every answer as it comes.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::check::{Asked, Fit, Observed, judge};
use crate::ledger::{KeyRecord, Ledger};
use crate::stalls::Stalls;
use crate::support::Bff;

/// Violations kept word for word; the rest are only counted.
const KEPT_VIOLATIONS: usize = 20;

/// What every client shares: where the BFF is, the bounds, the tallies.
pub struct Run {
    pub bff: Bff,
    pub base: String,
    pub deadline: Duration,
    /// Added to the deadline for the latency bound (see `main.rs`).
    pub margin: Duration,
    pub stop: Instant,
    pub seed: u64,
    /// Products with stock, so that a checkout of one unit each is never
    /// legitimately out of stock.
    pub in_stock: Vec<String>,
    /// The simulator's `host:port`s, which no answer may contain.
    pub upstream_hosts: Vec<String>,
    pub tally: Mutex<Tally>,
    pub ledger: Mutex<Ledger>,
    /// How long the machine did not run this process, for the latency bound.
    pub stalls: Stalls,
}

/// Counts of what the clients saw.
#[derive(Default)]
pub struct Tally {
    pub requests: u64,
    pub by_endpoint: BTreeMap<&'static str, u64>,
    pub by_status: BTreeMap<u16, u64>,
    pub partial: u64,
    pub aborted: u64,
    pub passed_on: u64,
    pub worst: Duration,
    pub worst_what: String,
    /// Answers past the deadline + margin only by the machine's stalls.
    pub late_by_stalls: u64,
    pub violations: Vec<String>,
    pub violation_count: u64,
}

impl Tally {
    fn violation(&mut self, what: String) {
        self.violation_count += 1;
        if self.violations.len() < KEPT_VIOLATIONS {
            self.violations.push(what);
        }
    }
}

/// A client for loopback that gives up well after any answer is due, so a
/// BFF that never answers fails the run instead of holding it.
pub fn client(deadline: Duration) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(deadline + Duration::from_secs(5))
        .build()
        .expect("client")
}

impl Run {
    pub fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request`, reads the whole answer, and judges it; the verdict
    /// and the latency go into the tally. `None` when it does not fit.
    pub async fn exchange(&self, asked: Asked, request: reqwest::RequestBuilder, what: String) -> Option<Fit> {
        let started = Instant::now();
        let observed = match request.send().await {
            Ok(response) => Observed {
                status: response.status().as_u16(),
                headers: response.headers().clone(),
                body: response.bytes().await.map_err(|e| error_chain(&e)),
            },
            Err(e) => {
                let mut tally = self.tally();
                tally.requests += 1;
                tally.violation(format!("{what}: no answer: {}", error_chain(&e)));
                return None;
            }
        };
        let elapsed = started.elapsed();
        let bound = self.deadline + self.margin;
        let lost = if elapsed > bound {
            self.stalls.lost_between(started, Instant::now())
        } else {
            Duration::ZERO
        };
        let verdict = judge(&asked, &observed).and_then(|fit| self.no_leak(&observed).map(|()| fit));
        let mut tally = self.tally();
        tally.requests += 1;
        *tally.by_endpoint.entry(asked.label()).or_default() += 1;
        *tally.by_status.entry(observed.status).or_default() += 1;
        if elapsed > tally.worst {
            tally.worst = elapsed;
            tally.worst_what = format!("{what} ({})", observed.status);
        }
        if elapsed > bound + lost {
            tally.violation(format!(
                "{what}: answered {} after {elapsed:?}, past the deadline {:?} + {:?} (+ {lost:?} the machine stalled)",
                observed.status, self.deadline, self.margin
            ));
        } else if elapsed > bound {
            tally.late_by_stalls += 1;
        }
        match verdict {
            Ok(fit) => {
                tally.partial += u64::from(fit == Fit::Partial);
                tally.aborted += u64::from(fit == Fit::Aborted);
                tally.passed_on += u64::from(fit == Fit::PassedOn);
                Some(fit)
            }
            Err(why) => {
                tally.violation(format!("{what}: {why}"));
                None
            }
        }
    }

    /// No simulator address in any header or body.
    fn no_leak(&self, observed: &Observed) -> Result<(), String> {
        let body = observed.body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
        for host in &self.upstream_hosts {
            if body.as_ref().is_ok_and(|b| b.contains(host))
                || observed
                    .headers
                    .values()
                    .any(|v| v.to_str().is_ok_and(|v| v.contains(host)))
            {
                return Err(format!("the answer leaks the upstream address {host}"));
            }
        }
        Ok(())
    }
}

/// The error and its causes on one line.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// One client: a user, its token, its orders and its keys.
pub struct Client {
    pub index: u64,
    pub user: String,
    pub token: String,
    /// Order ids the user owns: generated ones, then those it placed.
    pub orders: Vec<String>,
    keys: Vec<String>,
    http: reqwest::Client,
    rng: StdRng,
}

impl Client {
    pub fn new(run: &Run, index: u64, user: String, token: String, orders: Vec<String>) -> Self {
        Client {
            index,
            user,
            token,
            orders,
            keys: Vec::new(),
            http: client(run.deadline),
            rng: StdRng::seed_from_u64(run.seed ^ (index + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }
    }

    /// Calls endpoints until the run stops.
    pub async fn run(mut self, run: &Run) {
        let mut n = 0u64;
        while Instant::now() < run.stop {
            n += 1;
            match self.rng.random_range(0..100) {
                0..30 => self.screen(run).await,
                30..55 => self.product(run).await,
                55..75 => self.order(run).await,
                _ => self.checkout(run, n).await,
            }
        }
    }

    async fn screen(&mut self, run: &Run) {
        let path = match run.bff {
            Bff::Mobile => "/v1/home",
            Bff::Web => "/v1/dashboard",
        };
        let request = self.http.get(format!("{}{path}", run.base)).bearer_auth(&self.token);
        run.exchange(Asked::Screen, request, format!("{} GET {path}", self.user))
            .await;
    }

    async fn product(&mut self, run: &Run) {
        // One in ten asks for a product the catalog does not have (404).
        let known = self.rng.random_range(0..10) > 0;
        let id = if known {
            format!("p-{}", self.rng.random_range(1..=10_000))
        } else {
            format!("p-{}", self.rng.random_range(20_000..30_000))
        };
        let path = format!("/v1/products/{id}");
        let mut request = self.http.get(format!("{}{path}", run.base));
        // Optional auth: half the calls are anonymous.
        if self.rng.random_bool(0.5) {
            request = request.bearer_auth(&self.token);
        }
        run.exchange(Asked::Product { known }, request, format!("{} GET {path}", self.user))
            .await;
    }

    async fn order(&mut self, run: &Run) {
        // One in ten asks for an order that is not the caller's (404).
        let (id, owned) = match self.orders.choose(&mut self.rng) {
            Some(id) if self.rng.random_range(0..10) > 0 => (id.clone(), true),
            _ => (format!("o-chaos-missing-{}", self.rng.random_range(0..1000)), false),
        };
        let path = format!("/v1/orders/{id}");
        let request = self.http.get(format!("{}{path}", run.base)).bearer_auth(&self.token);
        run.exchange(Asked::Order { id, owned }, request, format!("{} GET {path}", self.user))
            .await;
    }

    /// A fresh key (half the time), a key this client used before, or a
    /// fresh key sent twice at once.
    async fn checkout(&mut self, run: &Run, n: u64) {
        let pick = self.rng.random_range(0..100);
        if pick < 35
            && let Some(key) = self.keys.choose(&mut self.rng).cloned()
        {
            self.send_checkout(run, &key, "repeated").await;
            return;
        }
        let key = format!("chaos-{:x}-{}-{n}", run.seed, self.index);
        let count = self.rng.random_range(1..=3);
        let lines: Vec<Value> = run
            .in_stock
            .choose_multiple(&mut self.rng, count)
            .map(|id| json!({ "product_id": id, "quantity": 1 }))
            .collect();
        run.ledger().keys.insert(
            key.clone(),
            KeyRecord {
                user: self.user.clone(),
                token: self.token.clone(),
                body: json!({ "lines": lines }),
                created: Default::default(),
            },
        );
        self.keys.push(key.clone());
        if pick >= 85 {
            let (a, b) = (self.clone_for_pair(), self.clone_for_pair());
            futures::join!(
                a.send_checkout_with(run, &key, "concurrent"),
                b.send_checkout_with(run, &key, "concurrent")
            );
            self.learn_orders(run, &key);
        } else {
            self.send_checkout(run, &key, "fresh").await;
        }
    }

    async fn send_checkout(&mut self, run: &Run, key: &str, how: &str) {
        self.clone_for_pair().send_checkout_with(run, key, how).await;
        self.learn_orders(run, key);
    }

    /// Adds the key's order (if it got one) to the orders this user owns.
    fn learn_orders(&mut self, run: &Run, key: &str) {
        if let Some(record) = run.ledger().keys.get(key) {
            for id in &record.created {
                if !self.orders.contains(id) {
                    self.orders.push(id.clone());
                }
            }
        }
    }

    fn clone_for_pair(&self) -> Sender {
        Sender {
            http: self.http.clone(),
            token: self.token.clone(),
            user: self.user.clone(),
        }
    }
}

/// What one checkout send needs, apart from the client's mutable state.
struct Sender {
    http: reqwest::Client,
    token: String,
    user: String,
}

impl Sender {
    async fn send_checkout_with(&self, run: &Run, key: &str, how: &str) {
        let body = run.ledger().keys.get(key).map(|r| r.body.clone()).unwrap_or_default();
        let request = self
            .http
            .post(format!("{}/v1/checkout", run.base))
            .bearer_auth(&self.token)
            .header("idempotency-key", key)
            .json(&body);
        let what = format!("{} POST /v1/checkout ({how} key {key})", self.user);
        if let Some(Fit::Created(id)) = run.exchange(Asked::Checkout, request, what).await
            && let Some(record) = run.ledger().keys.get_mut(key)
        {
            record.created.insert(id);
        }
    }
}
