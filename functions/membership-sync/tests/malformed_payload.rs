//! A payload that is not JSON (truncated, not JSON at all, not even UTF-8) is refused by the function's own
//! handler with a documented error type, `NonRetryable.Event`, and the function goes on to the
//! next invocation. (`lambda_runtime` used to refuse it before the handler, as
//! `&lambda_runtime::deserializer::DeserializeError`.)
//!
//! The test plays Lambda's Runtime API on a free port: each `GET .../invocation/next` hands out
//! the next payload, and each `POST .../invocation/<id>/error` is recorded. The real binary
//! runs with a valid policy; a refused payload makes no AWS call, so no AWS is needed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const POLICY: &str = r#"
[identity_store]
id = "d-9067c0ffee"
region = "us-east-1"

[[domains]]
name = "research"
id = "d-abc123def456"

[[mappings]]
group = "ml-researchers"
domain = "research"
priority = 10
execution_role = "arn:aws:iam::123456789012:role/studio-research"
security_groups = ["sg-0a1b2c3d4e5f60001"]
"#;

/// The payloads handed out, in order.
const PAYLOADS: &[&[u8]] = &[
    // A CloudTrail event cut short.
    br#"{"version":"0","id":"7f2a","detail-type":"AWS API Call via CloudTrail","source":"aws.identitystore","detail":{"eventSource":"identitystore.amazonaws.com","eventName":"CreateGroupMembership","requestParameters":{"identityStoreId":"d-90"#,
    // Not JSON at all.
    b"mode=apply",
    // Not even UTF-8 (JSON is UTF-8).
    b"\xff\xfe{}",
];

struct Request {
    method: String,
    path: String,
    body: String,
}

fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let path = parts.next().unwrap_or_default().to_owned();
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
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
    Ok(Some(Request {
        method,
        path,
        body: String::from_utf8_lossy(&body).into_owned(),
    }))
}

/// Serves one connection (the runtime keeps connections alive) until it closes.
fn serve(
    stream: TcpStream,
    next: &std::sync::Mutex<std::vec::IntoIter<(String, &'static [u8])>>,
    errors: &mpsc::Sender<(String, String)>,
) -> std::io::Result<()> {
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    while let Some(request) = read_request(&mut reader)? {
        if request.method == "GET" && request.path.ends_with("/runtime/invocation/next") {
            let Some((id, body)) = next.lock().ok().and_then(|mut n| n.next()) else {
                // Nothing more to invoke: hold the request until the test ends.
                std::thread::sleep(Duration::from_secs(600));
                return Ok(());
            };
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() + 60_000)
                .unwrap_or(0);
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:membership-sync\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )?;
            writer.write_all(body)?;
        } else {
            if request.method == "POST" && request.path.contains("/runtime/invocation/") {
                let _ = errors.send((request.path.clone(), request.body.clone()));
            }
            writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")?;
        }
        writer.flush()?;
    }
    Ok(())
}

#[test]
fn a_payload_that_is_not_json_is_refused_as_a_malformed_event() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (tx, rx) = mpsc::channel();
    let invocations: Vec<(String, &'static [u8])> = PAYLOADS
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("req-{i}"), *p))
        .collect();
    let next: &'static std::sync::Mutex<_> =
        Box::leak(Box::new(std::sync::Mutex::new(invocations.into_iter())));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                let _ = serve(stream, next, &tx);
            });
        }
    });
    let mut child = Command::new(env!("CARGO_BIN_EXE_membership-sync"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{port}"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "membership-sync")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/membership-sync")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIAEMULATOR0000TEST")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("WARDEN_TABLE", "ledger")
        .env("WARDEN_POLICY", POLICY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the function starts");

    let mut answers = Vec::new();
    for _ in PAYLOADS {
        match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(answer) => answers.push(answer),
            Err(_) => break,
        }
    }
    let still_running = child.try_wait().expect("wait").is_none();
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(
        answers.len(),
        PAYLOADS.len(),
        "one answer per payload: {answers:?}"
    );
    for (i, (path, body)) in answers.iter().enumerate() {
        assert_eq!(
            path,
            &format!("/2018-06-01/runtime/invocation/req-{i}/error"),
            "{body}"
        );
        let body: serde_json::Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(body["errorType"], "NonRetryable.Event", "{body}");
        let message = body["errorMessage"].as_str().unwrap_or_default();
        assert!(
            message.starts_with("event: payload is not JSON: "),
            "{message}"
        );
    }
    assert!(
        still_running,
        "the function goes on to the next invocation after refusing one"
    );
}
