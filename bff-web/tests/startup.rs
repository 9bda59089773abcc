//! The bff-web binary's start-up contract (docs/operations.md#start-up-errors-and-exit-codes), including
//! its own variable, `BFF_CORS_ORIGINS`.

#[path = "../../tests/common/binary.rs"]
mod binary;

use binary::{assert_sigterm_exits_zero, command, free_port, run_to_exit, wait_healthy};

const BIN: &str = env!("CARGO_BIN_EXE_bff-web");

#[test]
fn without_a_jwt_key_it_refuses_to_start_naming_the_variables() {
    let (code, stderr) = run_to_exit(BIN, &[("BFF_LISTEN", &format!("127.0.0.1:{}", free_port()))]);
    assert_ne!(code, Some(0));
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains("BFF_JWT_HS256_SECRET"), "{stderr}");
}

#[test]
fn a_bad_cors_origin_stops_it_with_one_line_naming_the_variable() {
    let (code, stderr) = run_to_exit(BIN, &[("BFF_JWT_HS256_SECRET", "s3cret"), ("BFF_CORS_ORIGINS", "*")]);
    assert_ne!(code, Some(0));
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("BFF_CORS_ORIGINS"), "{stderr}");
}

#[test]
fn it_serves_with_cors_origins_and_exits_zero_on_sigterm() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let vars = [
        ("BFF_JWT_HS256_SECRET", "s3cret"),
        ("BFF_LISTEN", listen.as_str()),
        ("BFF_CORS_ORIGINS", "https://shop.test,http://localhost:3000"),
    ];
    let mut child = command(BIN, &vars).spawn().expect("binary starts");
    wait_healthy(port, &mut child);
    assert_sigterm_exits_zero(&mut child);
}
