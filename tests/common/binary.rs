//! Running a BFF release binary as a black box: start it with nothing but
//! the given variables, wait for it, stop it. Shared by the start-up tests
//! of both BFF packages (each includes this file by path).

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// `bin` with an empty environment plus `vars`, output captured.
pub fn command(bin: &str, vars: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd
}

/// Runs `bin` to completion (it must exit on its own) and returns its exit
/// code and stderr.
pub fn run_to_exit(bin: &str, vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = command(bin, vars).spawn().expect("binary starts");
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

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `GET /healthz` on `port` answers 200.
pub fn wait_healthy(port: u16, child: &mut Child) {
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

/// Sends SIGTERM to `child` and asserts it exits 0 within 5 s.
pub fn assert_sigterm_exits_zero(child: &mut Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(0));
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "did not exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
