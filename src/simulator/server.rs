//! [`Simulator`]: starts the eight services (and the control API) on their
//! ports, holds their shared state, and stops them. What each service
//! answers is in `services/`; how faults act is in `inject.rs`.

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::middleware::from_fn_with_state;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::control;
use super::fault::Fault;
use super::inject::inject;
use super::listener::{ConnHandle, Gate, GateListener};
use super::port::Port;
use super::record::RecordedRequest;
use super::service::Service;
use super::services::{self, OrderBook, PlacedOrder, Stores};
use super::sync::lock;

/// How long `shutdown` waits for in-flight requests before cutting them off.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where and how the simulator starts.
#[derive(Clone, Debug)]
pub struct SimulatorConfig {
    /// The address every port binds. Default (in `ephemeral`) 127.0.0.1.
    pub host: IpAddr,
    /// One port per service in [`Service::ALL`] order; `None` binds them all
    /// to ephemeral ports (0).
    pub ports: Option<[u16; 8]>,
    /// The control API's port; `None` starts no control API.
    pub control_port: Option<u16>,
    /// Faults in force from the start.
    pub faults: Vec<(Service, Fault)>,
}

impl SimulatorConfig {
    /// 127.0.0.1, every port ephemeral, no control API, no faults: what tests want.
    pub fn ephemeral() -> Self {
        SimulatorConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            ports: None,
            control_port: None,
            faults: Vec::new(),
        }
    }
}

/// A running simulator. Cheap to clone: clones share the same services.
///
/// Dropping every handle without [`Simulator::shutdown`] leaves the
/// services running until the Tokio runtime ends (as at the end of a
/// `#[tokio::test]`).
#[derive(Clone)]
pub struct Simulator {
    shared: Arc<Shared>,
}

struct Shared {
    /// Indexed by [`Service::index`].
    ports: Vec<Arc<Port>>,
    control: Option<SocketAddr>,
    /// The orders service's placed orders, for [`Simulator::placed_orders`].
    orders: Arc<OrderBook>,
    shutdown: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Simulator {
    /// Binds every port, then starts serving. A port that cannot be bound
    /// fails the start with an error naming the service and address, and
    /// nothing keeps running.
    pub async fn start(config: SimulatorConfig) -> io::Result<Simulator> {
        let started = Instant::now();
        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut ports = Vec::with_capacity(Service::ALL.len());
        for service in Service::ALL {
            let addr = SocketAddr::new(config.host, config.ports.map_or(0, |p| p[service.index()]));
            let gate = Gate::bind(addr)
                .map_err(|e| io::Error::new(e.kind(), format!("simulator {service} cannot listen on {addr}: {e}")))?;
            ports.push(Arc::new(Port::new(
                service,
                Arc::new(gate),
                started,
                shutdown_rx.clone(),
            )));
        }
        let control_listener = match config.control_port {
            Some(port) => {
                let addr = SocketAddr::new(config.host, port);
                let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
                    io::Error::new(e.kind(), format!("simulator control API cannot listen on {addr}: {e}"))
                })?;
                Some(listener)
            }
            None => None,
        };
        let control = control_listener
            .as_ref()
            .map(tokio::net::TcpListener::local_addr)
            .transpose()?;
        for (service, fault) in config.faults {
            ports[service.index()].set_fault(fault);
        }

        let stores = Stores::default();
        let mut tasks = Vec::with_capacity(ports.len() + 1);
        for port in &ports {
            let app = services::router(port.service, &stores)
                .layer(from_fn_with_state(port.clone(), inject))
                .into_make_service_with_connect_info::<ConnHandle>();
            let serve = axum::serve(GateListener::new(port.gate.clone()), app)
                .with_graceful_shutdown(shutdown_signal(shutdown_rx.clone()));
            tasks.push(tokio::spawn(async move {
                let _ = serve.await;
            }));
        }
        let simulator = Simulator {
            shared: Arc::new(Shared {
                ports,
                control,
                orders: stores.orders.clone(),
                shutdown,
                tasks: Mutex::new(tasks),
            }),
        };
        if let Some(listener) = control_listener {
            let serve = axum::serve(listener, control::router(simulator.clone()))
                .with_graceful_shutdown(shutdown_signal(shutdown_rx));
            lock(&simulator.shared.tasks).push(tokio::spawn(async move {
                let _ = serve.await;
            }));
        }
        Ok(simulator)
    }

    fn port(&self, service: Service) -> &Port {
        &self.shared.ports[service.index()]
    }

    /// The base URL of `service`, e.g. `http://127.0.0.1:9101`.
    pub fn url(&self, service: Service) -> String {
        self.port(service).url()
    }

    /// The control API's base URL, when it runs.
    pub fn control_url(&self) -> Option<String> {
        self.shared.control.map(|addr| format!("http://{addr}"))
    }

    /// Replaces the fault of `service`. Takes effect for the next request;
    /// `down` closes (or re-opens) the port before this returns.
    pub fn set_fault(&self, service: Service, fault: Fault) {
        self.port(service).set_fault(fault);
    }

    /// The current fault of `service`.
    pub fn fault(&self, service: Service) -> Fault {
        self.port(service).fault()
    }

    /// Makes every service healthy again (and re-opens ports that were down).
    pub fn clear_faults(&self) {
        for service in Service::ALL {
            self.set_fault(service, Fault::default());
        }
    }

    /// Requests `service` received since start or the last reset, faulted ones included.
    pub fn count(&self, service: Service) -> u64 {
        self.port(service).recorder.count()
    }

    /// The last 1000 requests `service` received, oldest first.
    pub fn requests(&self, service: Service) -> Vec<RecordedRequest> {
        self.port(service).requests()
    }

    /// The orders placed through the orders service's `POST /orders`
    /// (the last 100,000), oldest first, each with its idempotency key.
    /// Not cleared by [`Simulator::reset_counters`]: the orders stay placed.
    pub fn placed_orders(&self) -> Vec<PlacedOrder> {
        self.shared.orders.placed()
    }

    /// Zeroes every service's count and forgets their recorded requests.
    pub fn reset_counters(&self) {
        for port in &self.shared.ports {
            port.recorder.reset();
        }
    }

    /// Stops every listener, ends held requests (hang, latency), waits up to
    /// five seconds for answers in flight, then stops the rest.
    pub async fn shutdown(self) {
        self.shared.shutdown.send_replace(true);
        for port in &self.shared.ports {
            port.gate.retire();
        }
        let tasks = std::mem::take(&mut *lock(&self.shared.tasks));
        let deadline = tokio::time::Instant::now() + SHUTDOWN_GRACE;
        for task in tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
    }
}

/// Resolves when `shutdown` becomes true; never if the sender is gone.
async fn shutdown_signal(mut shutdown: watch::Receiver<bool>) {
    if shutdown.wait_for(|down| *down).await.is_err() {
        std::future::pending::<()>().await;
    }
}
