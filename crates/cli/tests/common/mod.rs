//! A `keepwell serve` of the binary under test, for the tests that drive it over HTTP.
#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Creates a write key with `keepwell writekey create` and returns it.
pub fn write_key(url: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_keepwell"))
        .args(["writekey", "create", "--name", "test", "--database-url", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts `keepwell serve` on `port` over the database at `url`.
pub fn serve(url: &str, port: u16) -> Child {
    serve_with(url, port, &[])
}

/// Starts `keepwell serve` on `port` over the database at `url`, with `env` set too.
pub fn serve_with(url: &str, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_keepwell"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", url])
        .env("KEEPWELL_LOG", "error")
        .env("KEEPWELL_DATA_DIR", std::env::temp_dir().join("kw-serve-unused"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .expect("start keepwell serve")
}

/// The Python of the test venv (scripts/test sets it), for the real clients and servers.
pub fn python() -> String {
    std::env::var("KEEPWELL_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Waits until the server at `base` answers `/readyz`.
pub async fn ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status().is_success()) {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
