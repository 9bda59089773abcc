//! The bff-mobile binary's start-up contract (docs/operations.md#start-up-errors-and-exit-codes): started
//! with nothing but `BFF_*` variables, it either serves or exits non-zero
//! with one line that names the variable at fault; SIGTERM drains and
//! exits 0.

#[path = "../../tests/common/binary.rs"]
mod binary;

use std::net::TcpListener;

use binary::{assert_sigterm_exits_zero, command, free_port, wait_healthy};

const BIN: &str = env!("CARGO_BIN_EXE_bff-mobile");

fn run_to_exit(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    binary::run_to_exit(BIN, vars)
}

#[test]
fn without_a_jwt_key_it_refuses_to_start_naming_the_variables() {
    let (code, stderr) = run_to_exit(&[("BFF_LISTEN", &format!("127.0.0.1:{}", free_port()))]);
    assert_ne!(code, Some(0));
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    for var in ["BFF_JWT_HS256_SECRET", "BFF_JWT_PUBLIC_KEY_FILE", "BFF_JWT_JWKS_URL"] {
        assert!(stderr.contains(var), "{stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_bad_value_stops_it_with_one_line_naming_the_variable() {
    for (var, value) in [
        ("BFF_DEADLINE_MS", "fast"),
        ("BFF_LISTEN", "not-an-address"),
        ("BFF_UPSTREAM_USERS_URL", "users.internal"),
        ("BFF_RATE_LIMIT_RPS", "-5"),
        ("BFF_REDIS_URL", "http://not-redis"),
        ("BFF_JWT_PUBLIC_KEY_FILE", "/nonexistent/key.pem"),
    ] {
        let mut vars = vec![("BFF_JWT_HS256_SECRET", "s3cret"), (var, value)];
        if var == "BFF_JWT_PUBLIC_KEY_FILE" {
            vars.remove(0);
        }
        let (code, stderr) = run_to_exit(&vars);
        assert_ne!(code, Some(0), "{var}={value}");
        assert_eq!(stderr.trim().lines().count(), 1, "{var}: {stderr}");
        assert!(stderr.contains(var), "{var}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn an_address_in_use_is_a_one_line_error_naming_bff_listen() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (code, stderr) = run_to_exit(&[("BFF_JWT_HS256_SECRET", "s3cret"), ("BFF_LISTEN", &addr)]);
    assert_ne!(code, Some(0));
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("BFF_LISTEN"), "{stderr}");
}

#[test]
fn sigterm_makes_it_exit_zero_promptly() {
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = command(BIN, &[("BFF_JWT_HS256_SECRET", "s3cret"), ("BFF_LISTEN", &listen)])
        .spawn()
        .expect("binary starts");
    wait_healthy(port, &mut child);
    assert_sigterm_exits_zero(&mut child);
}
