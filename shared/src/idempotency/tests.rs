//! The memory store's contract, with a paused clock (waits and leases are
//! tokio timers) except where moka's own clock (the TTL) is under test.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use tokio::time::Instant;

use super::guard::RECORD_RETRY_EVERY;
use super::*;

const LEASE: Duration = Duration::from_secs(2);

fn store() -> Arc<MemoryStore> {
    Arc::new(MemoryStore::new(Duration::from_secs(3600), 1 << 20))
}

fn key(user: &str) -> ScopedKey {
    ScopedKey::new(user, "key-1")
}

fn answer(body: &str) -> StoredAnswer {
    StoredAnswer {
        status: 201,
        body: Bytes::copy_from_slice(body.as_bytes()),
    }
}

fn soon() -> Instant {
    Instant::now() + Duration::from_millis(500)
}

async fn own(store: &MemoryStore, key: &ScopedKey, fingerprint: &Fingerprint) -> Claim {
    match store.begin(key, fingerprint, LEASE, soon()).await {
        Ok(Begin::Owner(claim)) => claim,
        other => panic!("expected to own the key, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_completed_request_is_replayed_byte_for_byte() {
    let store = store();
    let request = Fingerprint::of(b"order p-1 x 2");
    let claim = own(&store, &key("u-1"), &request).await;
    store
        .complete(&key("u-1"), &claim, &answer("{\"order\":1}"))
        .await
        .unwrap();
    for _ in 0..3 {
        let again = store.begin(&key("u-1"), &request, LEASE, soon()).await.unwrap();
        assert!(
            matches!(again, Begin::Replay(ref a) if *a == answer("{\"order\":1}")),
            "{again:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn another_request_under_a_used_key_is_a_mismatch_whether_done_or_in_flight() {
    let store = store();
    let first = Fingerprint::of(b"first");
    let second = Fingerprint::of(b"second");
    let claim = own(&store, &key("u-1"), &first).await;
    let in_flight = store.begin(&key("u-1"), &second, LEASE, soon()).await.unwrap();
    assert!(matches!(in_flight, Begin::Mismatch), "{in_flight:?}");
    store.complete(&key("u-1"), &claim, &answer("a")).await.unwrap();
    let done = store.begin(&key("u-1"), &second, LEASE, soon()).await.unwrap();
    assert!(matches!(done, Begin::Mismatch), "{done:?}");
}

#[tokio::test(start_paused = true)]
async fn keys_are_scoped_to_the_user() {
    let store = store();
    let request = Fingerprint::of(b"same");
    let claim = own(&store, &key("u-1"), &request).await;
    store.complete(&key("u-1"), &claim, &answer("u-1's")).await.unwrap();
    own(&store, &key("u-2"), &request).await;
}

#[tokio::test(start_paused = true)]
async fn an_abandoned_key_is_free_for_a_retry() {
    let store = store();
    let request = Fingerprint::of(b"r");
    let first = own(&store, &key("u-1"), &request).await;
    store.abandon(&key("u-1"), &first).await.unwrap();
    let second = own(&store, &key("u-1"), &request).await;
    assert_ne!(first.token(), second.token());
}

#[tokio::test(start_paused = true)]
async fn of_two_concurrent_begins_one_owns_and_the_other_gets_its_answer() {
    let store = store();
    let request = Fingerprint::of(b"r");
    let begin = |store: Arc<MemoryStore>| {
        tokio::spawn(async move { store.begin(&key("u-1"), &request, LEASE, Instant::now() + LEASE).await })
    };
    let (first, second) = (begin(store.clone()), begin(store.clone()));
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        first.is_finished() != second.is_finished(),
        "exactly one begin returns at once"
    );
    let (owner, waiter) = if first.is_finished() {
        (first, second)
    } else {
        (second, first)
    };
    let Ok(Begin::Owner(claim)) = owner.await.unwrap() else {
        panic!("the first to return owns the key")
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiter.is_finished(), "the duplicate waits for the owner");
    store
        .complete(&key("u-1"), &claim, &answer("the one order"))
        .await
        .unwrap();
    let replay = waiter.await.unwrap().unwrap();
    assert!(
        matches!(replay, Begin::Replay(ref a) if *a == answer("the one order")),
        "{replay:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_waiter_takes_over_when_the_owner_abandons() {
    let store = store();
    let request = Fingerprint::of(b"r");
    let claim = own(&store, &key("u-1"), &request).await;
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { store.begin(&key("u-1"), &request, LEASE, Instant::now() + LEASE).await })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    store.abandon(&key("u-1"), &claim).await.unwrap();
    let taken = waiter.await.unwrap().unwrap();
    assert!(
        matches!(taken, Begin::Owner(ref c) if c.token() != claim.token()),
        "{taken:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_waiter_gives_up_at_its_own_deadline_with_the_lease_left_as_retry_after() {
    let store = store();
    let request = Fingerprint::of(b"r");
    own(&store, &key("u-1"), &request).await;
    let started = Instant::now();
    let outcome = store
        .begin(&key("u-1"), &request, LEASE, started + Duration::from_millis(300))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(300));
    let Begin::InProgress { retry_after } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(retry_after, LEASE - Duration::from_millis(300));
}

#[tokio::test(start_paused = true)]
async fn a_vanished_owner_loses_the_key_when_its_lease_runs_out() {
    let store = store();
    let request = Fingerprint::of(b"r");
    let stale = own(&store, &key("u-1"), &request).await;
    let started = Instant::now();
    // The waiter's deadline is past the lease: it takes the key over then.
    let taken = store
        .begin(&key("u-1"), &request, LEASE, started + LEASE * 2)
        .await
        .unwrap();
    assert_eq!(started.elapsed(), LEASE);
    let Begin::Owner(fresh) = taken else {
        panic!("{taken:?}")
    };
    // The old owner's late outcome does not touch the new owner's record.
    store.complete(&key("u-1"), &stale, &answer("late")).await.unwrap();
    store.abandon(&key("u-1"), &stale).await.unwrap();
    let waiting = store.begin(&key("u-1"), &request, LEASE, Instant::now()).await.unwrap();
    assert!(matches!(waiting, Begin::InProgress { .. }), "{waiting:?}");
    store.complete(&key("u-1"), &fresh, &answer("fresh")).await.unwrap();
    let replay = store.begin(&key("u-1"), &request, LEASE, soon()).await.unwrap();
    assert!(
        matches!(replay, Begin::Replay(ref a) if *a == answer("fresh")),
        "{replay:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_guard_frees_its_key() {
    let store = store();
    let request = Fingerprint::of(b"r");
    let claim = own(&store, &key("u-1"), &request).await;
    drop(ClaimGuard::new(store.clone(), key("u-1"), claim));
    tokio::task::yield_now().await;
    own(&store, &key("u-1"), &request).await;
}

#[tokio::test(start_paused = true)]
async fn a_completed_guard_leaves_the_record() {
    let store = store();
    let request = Fingerprint::of(b"r");
    let claim = own(&store, &key("u-1"), &request).await;
    ClaimGuard::new(store.clone(), key("u-1"), claim)
        .complete(&answer("kept"), soon())
        .await
        .unwrap();
    tokio::task::yield_now().await;
    let replay = store.begin(&key("u-1"), &request, LEASE, soon()).await.unwrap();
    assert!(matches!(replay, Begin::Replay(_)), "{replay:?}");
}

/// A memory store whose `complete` fails (or hangs) a given number of
/// times, and which counts abandons.
#[derive(Debug)]
struct FlakyStore {
    inner: MemoryStore,
    failures_left: std::sync::atomic::AtomicU32,
    hang: bool,
    abandons: std::sync::atomic::AtomicU32,
}

impl FlakyStore {
    fn new(failures: u32, hang: bool) -> Arc<Self> {
        Arc::new(Self {
            inner: MemoryStore::new(Duration::from_secs(3600), 1 << 20),
            failures_left: failures.into(),
            hang,
            abandons: 0.into(),
        })
    }
}

impl IdempotencyStore for FlakyStore {
    fn begin<'a>(
        &'a self,
        key: &'a ScopedKey,
        fingerprint: &'a Fingerprint,
        lease: Duration,
        wait_until: Instant,
    ) -> BoxFuture<'a, Result<Begin, StoreError>> {
        self.inner.begin(key, fingerprint, lease, wait_until)
    }

    fn complete<'a>(
        &'a self,
        key: &'a ScopedKey,
        claim: &'a Claim,
        answer: &'a StoredAnswer,
    ) -> BoxFuture<'a, Result<(), StoreError>> {
        use std::sync::atomic::Ordering;
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        match (failing, self.hang) {
            (false, _) => self.inner.complete(key, claim, answer),
            (true, false) => Box::pin(async { Err(StoreError("down".into())) }),
            (true, true) => Box::pin(std::future::pending()),
        }
    }

    fn abandon<'a>(&'a self, key: &'a ScopedKey, claim: &'a Claim) -> BoxFuture<'a, Result<(), StoreError>> {
        self.abandons.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.abandon(key, claim)
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_record_is_retried_in_the_background_and_the_key_is_never_freed() {
    let store = FlakyStore::new(3, false);
    let request = Fingerprint::of(b"r");
    let claim = own(&store.inner, &key("u-1"), &request).await;
    let guard = ClaimGuard::new(store.clone(), key("u-1"), claim);
    assert!(guard.complete(&answer("placed"), soon()).await.is_err());

    // A retry meanwhile waits for the record instead of redoing the work.
    let retry = store
        .begin(&key("u-1"), &request, LEASE, Instant::now() + Duration::from_secs(3))
        .await
        .unwrap();
    assert!(
        matches!(retry, Begin::Replay(ref a) if *a == answer("placed")),
        "{retry:?}"
    );
    assert_eq!(store.abandons.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn recording_waits_for_a_silent_store_no_longer_than_the_deadline() {
    let store = FlakyStore::new(1, true);
    let request = Fingerprint::of(b"r");
    let claim = own(&store.inner, &key("u-1"), &request).await;
    let deadline = Instant::now() + Duration::from_millis(100);
    let guard = ClaimGuard::new(store.clone(), key("u-1"), claim);
    assert!(guard.complete(&answer("placed"), deadline).await.is_err());
    assert_eq!(Instant::now(), deadline);
    tokio::time::sleep(RECORD_RETRY_EVERY * 2).await;
    let replay = store.begin(&key("u-1"), &request, LEASE, soon()).await.unwrap();
    assert!(
        matches!(replay, Begin::Replay(_)),
        "recorded by the next attempt: {replay:?}"
    );
}

#[tokio::test]
async fn records_expire_after_the_ttl() {
    let store = MemoryStore::new(Duration::from_secs(1), 1 << 20);
    let request = Fingerprint::of(b"r");
    let claim = own(&store, &key("u-1"), &request).await;
    store.complete(&key("u-1"), &claim, &answer("a")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    own(&store, &key("u-1"), &request).await;
}

#[tokio::test(start_paused = true)]
async fn memory_stays_bounded_under_a_flood_of_keys() {
    let store = MemoryStore::new(Duration::from_secs(3600), 64 * 1024);
    let request = Fingerprint::of(b"r");
    for n in 0..5_000 {
        let key = ScopedKey::new("u-1", format!("key-{n}"));
        let claim = own(&store, &key, &request).await;
        store.complete(&key, &claim, &answer(&"x".repeat(100))).await.unwrap();
    }
    assert!(store.settled_bytes().await <= 64 * 1024, "{store:?}");
}

#[test]
fn fingerprints_differ_by_content_and_print_briefly() {
    assert_eq!(Fingerprint::of(b"a"), Fingerprint::of(b"a"));
    assert_ne!(Fingerprint::of(b"a"), Fingerprint::of(b"b"));
    let printed = format!("{:?}", Fingerprint::of(b"a"));
    assert!(printed.starts_with("Fingerprint(") && printed.len() < 40, "{printed}");
}
