//! Carries "this section was served stale" from the cache up to the
//! fan-out section that awaited it, without threading a flag through every
//! typed backend call: the section runs inside a task-local scope that the
//! cache marks.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

tokio::task_local! {
    static STALE: Arc<AtomicBool>;
}

/// Runs `fut` and reports whether anything inside served a stale value.
pub(crate) async fn observe_stale<F: Future>(fut: F) -> (F::Output, bool) {
    let flag = Arc::new(AtomicBool::new(false));
    let output = STALE.scope(flag.clone(), fut).await;
    (output, flag.load(Ordering::Relaxed))
}

/// Marks the innermost observing scope, if any, as stale.
pub(crate) fn mark_stale() {
    let _ = STALE.try_with(|flag| flag.store(true, Ordering::Relaxed));
}
