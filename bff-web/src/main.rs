//! Starts bff-web; everything else is in the library.

use std::process::ExitCode;

use bff_shared::serve::{Binary, run_main};

/// mimalloc instead of the system allocator: a request allocates many
/// small short-lived buffers across worker threads, where glibc's malloc
/// showed up as ~15% of CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    run_main(Binary {
        name: "bff-web",
        about: "the Backend-for-Frontend for browsers",
        defaults: bff_web::defaults,
        app: bff_web::app,
    })
}
