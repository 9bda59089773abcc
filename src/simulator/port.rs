//! [`Port`]: the run-time state of one service: its gate, its current fault,
//! what it received, and the signals every request may need (the clock and
//! shutdown). Shared by the [`Simulator`](super::Simulator) handle, the
//! control API and the fault-injection layer.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use super::fault::Fault;
use super::listener::Gate;
use super::record::{RecordedRequest, Recorder};
use super::service::Service;
use super::sync::{read, write};

pub(crate) struct Port {
    pub(crate) service: Service,
    pub(crate) gate: Arc<Gate>,
    /// Read on every request, written only by control calls.
    fault: RwLock<Fault>,
    pub(crate) recorder: Recorder,
    /// When the simulator started: recorded times count from here.
    started: Instant,
    /// Becomes true at shutdown; held requests (hang, latency) end then.
    shutdown: watch::Receiver<bool>,
}

impl Port {
    pub(crate) fn new(service: Service, gate: Arc<Gate>, started: Instant, shutdown: watch::Receiver<bool>) -> Port {
        Port {
            service,
            gate,
            fault: RwLock::new(Fault::default()),
            recorder: Recorder::default(),
            started,
            shutdown,
        }
    }

    /// `http://host:port`.
    pub(crate) fn url(&self) -> String {
        format!("http://{}", self.gate.addr())
    }

    pub(crate) fn fault(&self) -> Fault {
        read(&self.fault).clone()
    }

    /// Stores `fault` and opens or closes the port to match its `down`.
    pub(crate) fn set_fault(&self, fault: Fault) {
        let mut current = write(&self.fault);
        // The gate changes under the fault's lock so that two concurrent
        // calls cannot leave the port closed under a fault that is not `down`.
        self.gate.set_open(!fault.down);
        *current = fault;
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.recorder.requests()
    }

    /// Milliseconds since the simulator started.
    pub(crate) fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// Sleeps for `duration`; false if the simulator shut down first.
    pub(crate) async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            () = self.until_shutdown() => false,
        }
    }

    /// Resolves at shutdown. A simulator whose handles were all dropped
    /// without `shutdown` never shuts down: its tasks end with the runtime.
    pub(crate) async fn until_shutdown(&self) {
        let mut shutdown = self.shutdown.clone();
        if shutdown.wait_for(|down| *down).await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
