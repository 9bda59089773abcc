//! A probe of the machine, so that the latency bound judges the BFF and
//! not the CI host: an OS thread (outside the Tokio runtime, so a BFF that
//! blocked its executor would not be excused) sleeps 5 ms at a time and
//! notes how late it wakes. On a shared machine the whole process is now
//! and then not scheduled for hundreds of milliseconds; an answer that is
//! late by no more than the stalls it lived through is counted, reported,
//! and not a violation.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(5);
/// Oversleeping less than this is ordinary timer slack, not a stall.
const NOTABLE: Duration = Duration::from_millis(2);

pub struct Stalls {
    /// (when the probe woke, how late), for notable ones.
    log: Arc<Mutex<Vec<(Instant, Duration)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stalls {
    pub fn start() -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let before = Instant::now();
                    std::thread::sleep(TICK);
                    let woke = Instant::now();
                    let late = woke.duration_since(before).saturating_sub(TICK);
                    if late > NOTABLE {
                        log.lock().unwrap_or_else(PoisonError::into_inner).push((woke, late));
                    }
                }
            })
        };
        Stalls {
            log,
            stop,
            thread: Some(thread),
        }
    }

    /// The time the machine lost between `from` and `to`: the sum of the
    /// stalls that overlap that span.
    pub fn lost_between(&self, from: Instant, to: Instant) -> Duration {
        self.log
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|(woke, late)| *woke >= from && woke.checked_sub(*late).is_none_or(|start| start <= to))
            .map(|(_, late)| *late)
            .sum()
    }

    /// The longest stall seen.
    pub fn worst(&self) -> Duration {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.iter().map(|(_, late)| *late).max().unwrap_or_default()
    }
}

impl Drop for Stalls {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
