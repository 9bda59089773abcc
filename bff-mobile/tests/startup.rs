//! The release binary's start-up contract (DESIGN.md section 10): started
//! with nothing but `BFF_*` variables, it either serves or exits non-zero
//! with one line that names the variable at fault; SIGTERM drains and
//! exits 0.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bff-mobile");

fn command(vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs the binary to completion (it must exit on its own) and returns its
/// exit code and stderr.
fn run_to_exit(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = command(vars).spawn().expect("binary starts");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            return (status.code(), stderr);
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("the binary did not exit on a start-up error");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
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

fn wait_healthy(port: u16, child: &mut Child) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::Write;
            let _ = write!(stream, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            let mut first = String::new();
            let _ = BufReader::new(stream).read_line(&mut first);
            if first.contains(" 200 ") {
                return;
            }
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("exited early: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("never became healthy");
}

#[test]
fn sigterm_makes_it_exit_zero_promptly() {
    let port = free_port();
    let mut child = command(&[
        ("BFF_JWT_HS256_SECRET", "s3cret"),
        ("BFF_LISTEN", &format!("127.0.0.1:{port}")),
    ])
    .spawn()
    .expect("binary starts");
    wait_healthy(port, &mut child);
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
