//! Wires a BFF to a running simulator on a loopback port: used by the demo
//! (`cargo run`) and by the end-to-end tests, so both exercise the same
//! start-up path as the release binaries (settings from a variable map,
//! `Platform::new`, the BFF's `app`, `serve`).

use std::collections::HashMap;
use std::net::SocketAddr;

use bff_shared::config::{self, ConfigError, Settings, vars};
use bff_shared::ops::Readiness;
use bff_shared::platform::Platform;
use bff_shared::serve;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::simulator::{Service, Simulator};

/// One BFF this process started.
pub struct RunningBff {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (metrics, readiness), for inspection.
    pub platform: Platform,
    stop: Option<oneshot::Sender<()>>,
    cut_short: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningBff {
    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Starts draining, as SIGTERM does, without waiting: `/readyz` turns
    /// 503 at once, and the listener closes after the drain delay.
    pub fn start_draining(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Ends the drain delay early, as a second SIGTERM does; it has no
    /// effect before [`RunningBff::start_draining`].
    pub fn cut_drain_short(&mut self) {
        if let Some(cut_short) = self.cut_short.take() {
            let _ = cut_short.send(());
        }
    }

    /// Whether serving has ended: the drain is over.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Starts draining (if not yet started) and waits for the drain delay
    /// and then for in-flight requests to finish.
    pub async fn shutdown(mut self) {
        self.start_draining();
        let _ = self.task.await;
    }
}

/// The variables that point every upstream at `sim`.
pub fn upstream_env(sim: &Simulator) -> HashMap<String, String> {
    Service::ALL
        .iter()
        .map(|s| (vars::upstream(s.name(), "URL"), sim.url(*s)))
        .collect()
}

/// Loads settings from `defaults` and `env` (as the binaries do from the
/// process environment), then starts the BFF built by `app` on `listen`.
pub async fn start_bff(
    defaults: Settings,
    env: &HashMap<String, String>,
    app: serve::AppFn,
) -> Result<RunningBff, ConfigError> {
    let settings = config::load(defaults, None, env)?;
    let listener = serve::bind(settings.listen).await?;
    let addr = listener
        .local_addr()
        .map_err(|e| ConfigError::new(vars::LISTEN, format!("cannot read the bound address: {e}")))?;
    let platform = Platform::new(settings).await?;
    let readiness: Readiness = platform.readiness.clone();
    let router = app(platform.clone())?;
    let (stop, stopped) = oneshot::channel::<()>();
    let (cut_short, cut) = oneshot::channel::<()>();
    let edge = platform.settings.edge.clone();
    // Dropping the `RunningBff` drops both senders: it shuts down with no
    // drain delay.
    let task = tokio::spawn(async move {
        serve::serve_until(
            listener,
            router,
            &edge,
            readiness,
            async move {
                let _ = stopped.await;
            },
            async move {
                let _ = cut.await;
            },
        )
        .await
    });
    Ok(RunningBff {
        addr,
        platform,
        stop: Some(stop),
        cut_short: Some(cut_short),
        task,
    })
}
