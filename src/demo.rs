//! `cargo run`: the whole stack on one machine, with a fresh random JWT
//! secret, and a printout of everything needed to try it.

use std::collections::HashMap;
use std::time::Duration;

use bff_shared::auth::mint_hs256;
use bff_shared::config::vars;
use clap::Args;
use rand::RngCore;

use crate::simulator::{Simulator, SimulatorConfig};
use crate::wiring::{RunningBff, start_bff, upstream_env};

/// Options of the demo.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Port of bff-mobile.
    #[arg(long, default_value_t = 8081)]
    pub mobile_port: u16,
    /// Port of bff-web.
    #[arg(long, default_value_t = 8082)]
    pub web_port: u16,
    /// First port of the simulator's services (users; the others follow).
    #[arg(long, default_value_t = 9101)]
    pub sim_base_port: u16,
    /// Port of the simulator's control API.
    #[arg(long, default_value_t = 9100)]
    pub control_port: u16,
    /// Lifetime of the printed demo token, in seconds.
    #[arg(long, default_value_t = 24 * 3600)]
    pub token_ttl_secs: u64,
}

/// A fresh random HS256 secret (256 bits, hex).
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the demo until Ctrl-C.
pub async fn run(args: DemoArgs) -> Result<(), String> {
    let host = std::net::IpAddr::from([127, 0, 0, 1]);
    let ports: [u16; 8] = std::array::from_fn(|i| args.sim_base_port.saturating_add(i as u16));
    let sim = Simulator::start(SimulatorConfig {
        host,
        ports: Some(ports),
        control_port: Some(args.control_port),
        faults: Vec::new(),
    })
    .await
    .map_err(|e| format!("cannot start the simulator (ports {}-{}): {e}", ports[0], ports[7]))?;

    let secret = random_secret();
    // The demo ignores BFF_* variables of the calling shell except the
    // log format, so a stray variable cannot point it elsewhere.
    let mut env: HashMap<String, String> = upstream_env(&sim);
    env.insert(vars::JWT_HS256_SECRET.into(), secret.clone());
    if let Ok(format) = std::env::var(vars::LOG_FORMAT) {
        env.insert(vars::LOG_FORMAT.into(), format);
    }
    let bffs = start_all(&args, &env).await?;
    let token = mint_hs256(&secret, "u-1", Duration::from_secs(args.token_ttl_secs))
        .map_err(|e| format!("cannot mint the demo token: {e}"))?;
    print_banner(&sim, &bffs, &token);

    bff_shared::serve::shutdown_signal().await;
    eprintln!("\nshutting down…");
    for (_, bff) in bffs {
        bff.shutdown().await;
    }
    sim.shutdown().await;
    Ok(())
}

async fn start_all(args: &DemoArgs, env: &HashMap<String, String>) -> Result<Vec<(&'static str, RunningBff)>, String> {
    let mut bffs = Vec::new();
    let mut mobile_env = env.clone();
    mobile_env.insert(vars::LISTEN.into(), format!("127.0.0.1:{}", args.mobile_port));
    let mobile = start_bff(bff_mobile::defaults(), &mobile_env, bff_mobile::app)
        .await
        .map_err(|e| format!("bff-mobile: {e}"))?;
    bffs.push(("bff-mobile", mobile));
    let mut web_env = env.clone();
    web_env.insert(vars::LISTEN.into(), format!("127.0.0.1:{}", args.web_port));
    let web = start_bff(bff_web::defaults(), &web_env, bff_web::app)
        .await
        .map_err(|e| format!("bff-web: {e}"))?;
    bffs.push(("bff-web", web));
    Ok(bffs)
}

fn print_banner(sim: &Simulator, bffs: &[(&'static str, RunningBff)], token: &str) {
    println!("BFF stack is up.\n");
    for (name, bff) in bffs {
        println!("  {name:<11} {}   (docs: {}/docs)", bff.url(), bff.url());
    }
    if let Some(control) = sim.control_url() {
        println!("  simulator   control API {control}/services");
    }
    println!("\nDemo token for user u-1 (HS256, fresh secret for this run):\n\n  export TOKEN={token}\n");
    println!("Try:\n");
    if let Some((_, mobile)) = bffs.iter().find(|(n, _)| *n == "bff-mobile") {
        let url = mobile.url();
        println!("  curl -s -H \"Authorization: Bearer $TOKEN\" {url}/v1/home");
        println!("  curl -s {url}/v1/products/p-42");
        println!("  curl -s -H \"Authorization: Bearer $TOKEN\" {url}/v1/orders/o-1-1");
    }
    if let Some((_, web)) = bffs.iter().find(|(n, _)| *n == "bff-web") {
        let url = web.url();
        println!("  curl -s -H \"Authorization: Bearer $TOKEN\" {url}/v1/dashboard");
        println!("  curl -s {url}/v1/products/p-42");
    }
    if let Some(control) = sim.control_url() {
        println!("\nSlow down orders to see a partial answer:\n");
        println!(
            "  curl -s -X PUT -H 'Content-Type: application/json' -d '{{\"latency_ms\":800}}' {control}/faults/orders"
        );
        println!("  curl -s -X DELETE {control}/faults");
    }
    println!("\nCtrl-C stops everything.");
}
