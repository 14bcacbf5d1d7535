//! A function that cannot start tells Lambda why, through the Runtime API's
//! `/runtime/init/error`, and exits: the failed invocation then carries the configuration
//! error (here: the policy's line and column) instead of a bare `Runtime.ExitError`.
//!
//! The test plays Lambda's Runtime API with a one-request HTTP server on a free port and runs
//! the real binary with a broken policy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One HTTP request: method, path and body.
fn read_request(stream: &mut std::net::TcpStream) -> std::io::Result<(String, String, String)> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    stream.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}")?;
    Ok((method, path, String::from_utf8_lossy(&body).into_owned()))
}

#[test]
fn a_broken_policy_is_reported_as_an_init_error() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            if let Ok(request) = read_request(&mut stream) {
                let _ = tx.send(request);
            }
        }
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_membership-sync"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "membership-sync")
        .env("AWS_REGION", "us-east-1")
        .env("WARDEN_TABLE", "ledger")
        .env("WARDEN_POLICY", "[identity_store]\nid = 42\n")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the function starts");

    let received = rx.recv_timeout(Duration::from_secs(20));
    // The process must end by itself once it has reported.
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        match child.try_wait().expect("wait") {
            Some(status) => break Some(status),
            None if Instant::now() > deadline => break None,
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }

    let (method, path, body) = received.expect("a request to the Runtime API");
    assert_eq!(method, "POST");
    assert_eq!(path, "/2018-06-01/runtime/init/error");
    let body: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    assert_eq!(body["errorType"], "NonRetryable.Policy", "{body}");
    let message = body["errorMessage"].as_str().unwrap_or_default();
    assert!(
        message.contains("WARDEN_POLICY:2:6"),
        "the message gives the line and column: {message}"
    );
    let status = status.expect("the function exits after reporting");
    assert!(!status.success(), "{status:?}");
}
