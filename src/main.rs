//! `bff-stack`: runs the demo (default), the simulator alone, mints a
//! development token, or writes the OpenAPI documents.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bff_stack::demo::{self, DemoArgs};
use bff_stack::simulator::{self, SimulateArgs};
use clap::{Parser, Subcommand};

/// The same allocator as the BFF binaries, so the demo behaves like them.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The BFF stack on one machine: upstream simulator, bff-mobile and bff-web.
#[derive(Parser, Debug)]
#[command(name = "bff-stack", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    demo: DemoArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Start the simulator and both BFFs, print URLs and a demo token (the default).
    Demo(DemoArgs),
    /// Run only the upstream simulator, with optional faults.
    Simulate(SimulateArgs),
    /// Mint an HS256 development token.
    Token(TokenArgs),
    /// Write the OpenAPI documents of both BFFs (mobile.json, web.json).
    Openapi(OpenapiArgs),
}

#[derive(clap::Args, Debug)]
struct OpenapiArgs {
    /// The folder to write them to (the committed ones are in `openapi/`).
    #[arg(long, default_value = bff_stack::openapi::DIR)]
    out: PathBuf,
}

#[derive(clap::Args, Debug)]
struct TokenArgs {
    /// The HS256 secret the BFFs were started with.
    #[arg(long, env = "BFF_JWT_HS256_SECRET")]
    secret: String,
    /// The token's subject (user id).
    #[arg(long, default_value = "u-1")]
    sub: String,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    ttl_secs: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("bff-stack: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            None => demo::run(cli.demo).await,
            Some(Command::Demo(args)) => demo::run(args).await,
            Some(Command::Simulate(args)) => simulator::run(args).await,
            Some(Command::Openapi(args)) => bff_stack::openapi::write(&args.out)
                .map(|written| written.iter().for_each(|path| println!("wrote {}", path.display())))
                .map_err(|e| format!("cannot write the OpenAPI documents to {}: {e}", args.out.display())),
            Some(Command::Token(args)) => {
                bff_shared::auth::mint_hs256(&args.secret, &args.sub, Duration::from_secs(args.ttl_secs))
                    .map(|token| println!("{token}"))
                    .map_err(|e| e.to_string())
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("bff-stack: {message}");
            ExitCode::from(2)
        }
    }
}
