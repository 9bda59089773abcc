//! Starts bff-web; everything else is in the library.

use std::process::ExitCode;

use bff_shared::serve::{Binary, run_main};

fn main() -> ExitCode {
    run_main(Binary {
        name: "bff-web",
        about: "the Backend-for-Frontend for browsers",
        defaults: bff_web::defaults,
        app: bff_web::app,
    })
}
