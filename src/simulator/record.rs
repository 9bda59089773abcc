//! What each service received: a request counter and a bounded log of the
//! most recent requests, so tests can assert which calls reached an
//! upstream and with which headers. Filling them is `inject.rs`'s job.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::sync::lock;

/// How many requests each service keeps; older ones are dropped first.
pub(crate) const KEPT_REQUESTS: usize = 1000;

/// One request as a service received it.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and query, e.g. `/orders?user_id=u-1&limit=5`.
    pub path_and_query: String,
    /// Every header in arrival order, names lower-case.
    pub headers: Vec<(String, String)>,
    /// The body, UTF-8 (invalid bytes replaced).
    pub body: String,
    /// When it arrived, in milliseconds since the simulator started.
    pub received_at_ms: u64,
    /// When its answer left, if one did (not for hang, reset or down); for
    /// a cut or stalled body, when its status and headers left.
    pub answered_at_ms: Option<u64>,
}

impl RecordedRequest {
    /// The value of header `name` (lower-case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The counter and the log of one service.
#[derive(Default)]
pub(crate) struct Recorder {
    /// Every request since the last reset; apart from the log because it is
    /// read often and must not wait for the log's lock.
    count: AtomicU64,
    log: Mutex<Log>,
}

/// The last [`KEPT_REQUESTS`] requests; `first_seq` numbers the oldest so
/// that an answer can find its request after older ones were dropped.
#[derive(Default)]
struct Log {
    first_seq: u64,
    items: VecDeque<RecordedRequest>,
}

impl Recorder {
    /// Counts and keeps a request; returns its number for [`Recorder::answered`].
    pub(crate) fn record(&self, request: RecordedRequest) -> u64 {
        self.count.fetch_add(1, Ordering::Relaxed);
        let mut log = lock(&self.log);
        if log.items.len() == KEPT_REQUESTS {
            log.items.pop_front();
            log.first_seq += 1;
        }
        log.items.push_back(request);
        log.first_seq + log.items.len() as u64 - 1
    }

    /// Notes when request `seq` was answered (nothing if it was dropped since).
    pub(crate) fn answered(&self, seq: u64, at_ms: u64) {
        let mut log = lock(&self.log);
        if let Some(index) = seq.checked_sub(log.first_seq)
            && let Some(item) = log.items.get_mut(index as usize)
        {
            item.answered_at_ms = Some(at_ms);
        }
    }

    /// Requests received since the last reset.
    pub(crate) fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The kept requests, oldest first.
    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.log).items.iter().cloned().collect()
    }

    /// Zeroes the counter and forgets the kept requests.
    pub(crate) fn reset(&self) {
        self.count.store(0, Ordering::Relaxed);
        let mut log = lock(&self.log);
        log.first_seq += log.items.len() as u64;
        log.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(path: &str) -> RecordedRequest {
        RecordedRequest {
            method: "GET".into(),
            path_and_query: path.into(),
            headers: vec![("x-request-id".into(), "abc".into())],
            body: String::new(),
            received_at_ms: 0,
            answered_at_ms: None,
        }
    }

    #[test]
    fn the_log_keeps_the_newest_requests_and_answers_find_theirs() {
        let recorder = Recorder::default();
        let first = recorder.record(request("/0"));
        for i in 1..=KEPT_REQUESTS {
            let seq = recorder.record(request(&format!("/{i}")));
            if i == KEPT_REQUESTS {
                recorder.answered(seq, 7);
            }
        }
        recorder.answered(first, 1);
        let kept = recorder.requests();
        assert_eq!(recorder.count(), KEPT_REQUESTS as u64 + 1);
        assert_eq!(kept.len(), KEPT_REQUESTS);
        assert_eq!(kept[0].path_and_query, "/1");
        assert_eq!(kept[KEPT_REQUESTS - 1].answered_at_ms, Some(7));
        assert!(kept.iter().all(|r| r.answered_at_ms != Some(1)));
        assert_eq!(kept[0].header("x-request-id"), Some("abc"));
    }

    #[test]
    fn a_reset_zeroes_the_count_and_empties_the_log() {
        let recorder = Recorder::default();
        let old = recorder.record(request("/old"));
        recorder.reset();
        recorder.answered(old, 3);
        let new = recorder.record(request("/new"));
        recorder.answered(new, 4);
        assert_eq!(recorder.count(), 1);
        let kept = recorder.requests();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].answered_at_ms, Some(4));
    }
}
