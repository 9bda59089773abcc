//! `bff-stack simulate`: the simulator alone, with faults from flags.
//! Parsing the flags into a [`SimulatorConfig`] lives here; the binary only
//! wires [`SimulateArgs`] in and calls [`run`].
//!
//! ```text
//! bff-stack simulate --latency-ms 10 --fault orders:error_rate=0.5,error_status=503 --fault reviews:hang
//! bff-stack simulate --fault catalog:truncate,chunked,fault_rate=0.2 --fault orders:stall_body
//! ```

use std::net::IpAddr;

use super::fault::Fault;
use super::server::{Simulator, SimulatorConfig};
use super::service::Service;

/// Flags of `bff-stack simulate`.
#[derive(clap::Args, Clone, Debug)]
pub struct SimulateArgs {
    /// Address every port binds.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port of the first service; service i (users, orders, catalog, pricing,
    /// inventory, recommendations, notifications, reviews) gets base + i.
    /// 0 gives every service an ephemeral port.
    #[arg(long, default_value_t = 9101)]
    pub base_port: u16,
    /// Port of the control API (0: ephemeral).
    #[arg(long, default_value_t = 9100)]
    pub control_port: u16,
    /// A fault from the start, as SERVICE:KEY=VALUE[,KEY=VALUE...] with the
    /// keys latency_ms, jitter_ms, error_rate, error_status, hang, malformed,
    /// reset, down, truncate (half the body, then a reset), stall_body (half
    /// the body, then nothing), chunked (no Content-Length) and fault_rate
    /// (the share of requests faulted, default 1); a bare boolean key means
    /// true. SERVICE may be `all`. Repeatable; later flags override earlier
    /// ones key by key.
    #[arg(long = "fault", value_name = "SERVICE:KEY=VALUE,...")]
    pub fault: Vec<String>,
    /// Latency for every service, in milliseconds (a --fault may override it).
    #[arg(long, value_name = "N")]
    pub latency_ms: Option<u64>,
}

impl SimulateArgs {
    /// The simulator configuration these flags describe, or a one-line
    /// error naming the bad flag.
    pub fn config(&self) -> Result<SimulatorConfig, String> {
        let host: IpAddr = self
            .host
            .parse()
            .map_err(|_| format!("--host {}: expected an IP address such as 127.0.0.1", self.host))?;
        let ports = match self.base_port {
            0 => None,
            base if base > u16::MAX - 7 => {
                return Err(format!(
                    "--base-port {base}: the eight services need base to base + 7; use at most 65528"
                ));
            }
            base => Some(Service::ALL.map(|s| base + s.index() as u16)),
        };
        let mut faults: [Fault; 8] = std::array::from_fn(|_| Fault {
            latency_ms: self.latency_ms.unwrap_or(0),
            ..Fault::default()
        });
        for spec in &self.fault {
            apply_spec(&mut faults, spec).map_err(|e| format!("--fault {spec}: {e}"))?;
        }
        Ok(SimulatorConfig {
            host,
            ports,
            control_port: Some(self.control_port),
            faults: Service::ALL
                .into_iter()
                .zip(faults)
                .filter(|(_, fault)| !fault.is_healthy())
                .collect(),
        })
    }
}

/// Applies one `SERVICE:KEY=VALUE,...` spec.
fn apply_spec(faults: &mut [Fault; 8], spec: &str) -> Result<(), String> {
    let (name, settings) = spec
        .split_once(':')
        .ok_or("expected SERVICE:KEY=VALUE[,KEY=VALUE...]")?;
    let targets: Vec<Service> = if name == "all" {
        Service::ALL.to_vec()
    } else {
        vec![Service::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = Service::ALL.iter().map(|s| s.name()).collect();
            format!("unknown service {name:?} (expected all or one of {})", known.join(", "))
        })?]
    };
    for setting in settings.split(',').filter(|s| !s.trim().is_empty()) {
        let (key, value) = match setting.split_once('=') {
            Some((key, value)) => (key, Some(value)),
            None => (setting, None),
        };
        for service in &targets {
            faults[service.index()].set(key, value)?;
        }
    }
    Ok(())
}

/// Starts the simulator, prints its URLs, and serves until Ctrl-C or SIGTERM.
pub async fn run(args: SimulateArgs) -> Result<(), String> {
    let config = args.config()?;
    let simulator = Simulator::start(config).await.map_err(|e| e.to_string())?;
    for service in Service::ALL {
        println!("{:<16} {}", service.name(), simulator.url(service));
    }
    if let Some(control) = simulator.control_url() {
        println!("{:<16} {control}", "control");
    }
    let stopped = stop_signal().await;
    simulator.shutdown().await;
    stopped
}

/// Resolves on Ctrl-C or (on Unix) SIGTERM.
async fn stop_signal() -> Result<(), String> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).map_err(|e| format!("cannot listen for SIGTERM: {e}"))?;
        tokio::select! {
            result = tokio::signal::ctrl_c() => result.map_err(|e| format!("cannot listen for Ctrl-C: {e}")),
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .map_err(|e| format!("cannot listen for Ctrl-C: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: SimulateArgs,
    }

    fn config(flags: &[&str]) -> Result<SimulatorConfig, String> {
        let cli =
            Cli::try_parse_from(std::iter::once("simulate").chain(flags.iter().copied())).map_err(|e| e.to_string())?;
        cli.args.config()
    }

    fn fault_of(config: &SimulatorConfig, service: Service) -> Fault {
        config
            .faults
            .iter()
            .find(|(s, _)| *s == service)
            .map(|(_, f)| f.clone())
            .unwrap_or_default()
    }

    #[test]
    fn defaults_are_the_documented_ports_and_no_faults() {
        let config = config(&[]).expect("defaults");
        assert_eq!(config.host.to_string(), "127.0.0.1");
        assert_eq!(config.ports, Some(Service::ALL.map(Service::default_port)));
        assert_eq!(config.control_port, Some(9100));
        assert!(config.faults.is_empty());
    }

    #[test]
    fn faults_and_global_latency_combine_key_by_key() {
        let config = config(&[
            "--latency-ms",
            "10",
            "--fault",
            "orders:error_rate=0.5,error_status=503",
            "--fault",
            "users:latency_ms=3",
            "--fault",
            "reviews:hang",
            "--fault",
            "catalog:truncate,chunked,fault_rate=0.2",
        ])
        .expect("valid flags");
        assert_eq!(
            fault_of(&config, Service::Orders),
            Fault {
                latency_ms: 10,
                error_rate: 0.5,
                error_status: 503,
                ..Fault::default()
            }
        );
        assert_eq!(fault_of(&config, Service::Users).latency_ms, 3);
        assert!(fault_of(&config, Service::Reviews).hang);
        assert_eq!(
            fault_of(&config, Service::Catalog),
            Fault {
                latency_ms: 10,
                truncate: true,
                chunked: true,
                fault_rate: 0.2,
                ..Fault::default()
            }
        );
        assert_eq!(fault_of(&config, Service::Pricing).latency_ms, 10);
    }

    #[test]
    fn bad_values_give_one_line_naming_the_flag() {
        for (flags, expected) in [
            (&["--fault", "payments:hang"][..], "--fault payments:hang"),
            (&["--fault", "users"][..], "--fault users"),
            (&["--fault", "users:latency_ms=slow"][..], "latency_ms"),
            (&["--fault", "users:error_rate=1.5"][..], "error_rate"),
            (&["--fault", "users:fault_rate=2"][..], "fault_rate"),
            (&["--fault", "users:truncate,stall_body"][..], "stall_body"),
            (&["--host", "localhost:1"][..], "--host"),
            (&["--base-port", "65530"][..], "--base-port"),
        ] {
            let error = config(flags).expect_err("rejected");
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains('\n'), "{error}");
        }
    }

    #[test]
    fn base_port_zero_makes_every_port_ephemeral() {
        assert_eq!(config(&["--base-port", "0"]).expect("valid").ports, None);
    }
}
