//! The fault mix: every upstream faulty on a share of its calls, in one of
//! the simulator's modes, the draw renewed every [`WINDOW`] from a seeded
//! RNG so that a failing run can be replayed with the same sequence of
//! faults (the clients' timing still varies from run to run).
//!
//! Each service deals its modes from its own shuffled deck, so that in a
//! default run (20 s, 14 windows) every service goes through every mode:
//! a rare combination (the orders pass-through with a stalled chunked
//! body) is met in every run, not in one run out of two.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bff_stack::simulator::{Fault, Service, Simulator};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// How long one draw of faults stays in force: 13 modes fit in 20 s.
pub const WINDOW: Duration = Duration::from_millis(1500);

/// The simulator's modes, each drawn with the same probability.
#[derive(Clone, Copy, Debug)]
enum Mode {
    Latency,
    Error(u16),
    Hang,
    Malformed,
    Reset,
    Down,
    Truncate { chunked: bool },
    StallBody { chunked: bool },
}

const MODES: [Mode; 13] = [
    Mode::Latency,
    Mode::Error(500),
    Mode::Error(502),
    Mode::Error(503),
    Mode::Error(429),
    Mode::Hang,
    Mode::Malformed,
    Mode::Reset,
    Mode::Down,
    Mode::Truncate { chunked: false },
    Mode::Truncate { chunked: true },
    Mode::StallBody { chunked: false },
    Mode::StallBody { chunked: true },
];

impl Mode {
    fn label(self) -> String {
        match self {
            Mode::Latency => "latency".into(),
            Mode::Error(status) => format!("error_{status}"),
            Mode::Hang => "hang".into(),
            Mode::Malformed => "malformed".into(),
            Mode::Reset => "reset".into(),
            Mode::Down => "down".into(),
            Mode::Truncate { chunked: false } => "truncate".into(),
            Mode::Truncate { chunked: true } => "truncate_chunked".into(),
            Mode::StallBody { chunked: false } => "stall_body".into(),
            Mode::StallBody { chunked: true } => "stall_body_chunked".into(),
        }
    }

    /// The fault for this mode, on `fault_rate` of the calls. Latency and
    /// jitter reach past the deadline now and then, so that some calls
    /// time out and others are merely slow.
    fn fault(self, rng: &mut StdRng, fault_rate: f64, deadline: Duration) -> Fault {
        let deadline_ms = deadline.as_millis() as u64;
        let base = Fault {
            fault_rate,
            ..Fault::default()
        };
        match self {
            Mode::Latency => Fault {
                latency_ms: rng.random_range(0..=deadline_ms * 3 / 5),
                jitter_ms: rng.random_range(0..=deadline_ms * 3 / 5),
                ..base
            },
            Mode::Error(status) => Fault {
                error_rate: 1.0,
                error_status: status,
                ..base
            },
            Mode::Hang => Fault { hang: true, ..base },
            Mode::Malformed => Fault {
                malformed: true,
                ..base
            },
            Mode::Reset => Fault { reset: true, ..base },
            // A port is open or closed: `down` holds for the whole window.
            Mode::Down => Fault {
                down: true,
                ..Fault::default()
            },
            Mode::Truncate { chunked } => Fault {
                truncate: true,
                chunked,
                ..base
            },
            Mode::StallBody { chunked } => Fault {
                stall_body: true,
                chunked,
                ..base
            },
        }
    }
}

/// What the mix did, for the summary.
#[derive(Default)]
pub struct MixLog {
    pub windows: u32,
    /// How many service-windows each mode had.
    pub modes: BTreeMap<String, u32>,
}

/// Draws a fault for every service, every [`WINDOW`], until `stop`; then
/// leaves the last draw in force (the caller clears it).
pub async fn rotate(sim: Simulator, seed: u64, deadline: Duration, stop: Instant) -> MixLog {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut log = MixLog::default();
    let mut decks: Vec<Vec<Mode>> = vec![Vec::new(); Service::ALL.len()];
    while Instant::now() < stop {
        log.windows += 1;
        for (service, deck) in Service::ALL.into_iter().zip(&mut decks) {
            if deck.is_empty() {
                *deck = MODES.to_vec();
                deck.shuffle(&mut rng);
            }
            let mode = deck.pop().expect("a full deck");
            // A share of the calls: enough that even the slowest endpoint
            // meets each mode a few times per window.
            let fault_rate = rng.random_range(0.2..=0.6);
            sim.set_fault(service, mode.fault(&mut rng, fault_rate, deadline));
            *log.modes.entry(mode.label()).or_default() += 1;
        }
        let left = stop.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(WINDOW)).await;
    }
    log
}
