//! Starts bff-mobile; everything else is in the library.

use std::process::ExitCode;

use bff_shared::serve::{Binary, run_main};

fn main() -> ExitCode {
    run_main(Binary {
        name: "bff-mobile",
        about: "the Backend-for-Frontend for mobile apps",
        defaults: bff_mobile::defaults,
        app: bff_mobile::app,
    })
}
