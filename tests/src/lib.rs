//! Test harness for studio-warden: starts the local AWS emulator
//! (`tests/emulator/emulator.py`, moto plus the SageMaker Studio, sso-admin and Identity
//! Store operations moto lacks) on a free port and hands out an [`aws_types::SdkConfig`]
//! pointing every service at it.
//!
//! ```no_run
//! # async fn demo() -> Result<(), warden_tests::HarnessError> {
//! let emulator = warden_tests::Emulator::start().await?;
//! let sagemaker = aws_sdk_sagemaker::Client::new(&emulator.sdk_config());
//! # let _ = sagemaker;
//! # Ok(()) }
//! ```
//!
//! Every emulator is a child process in its own process group; dropping the
//! [`Emulator`] kills that group and reaps the child, and the emulator also exits by
//! itself when the test process dies.

pub mod fixture;
pub mod queue;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region};
use aws_sdk_sagemaker::config::Credentials;
use aws_types::SdkConfig;
use aws_types::sdk_config::RetryConfig;
use serde::{Deserialize, Serialize};

/// How long [`Emulator::start_with`] waits for the `EMULATOR READY` line.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The region every emulator client uses.
pub const REGION: &str = "us-east-1";

/// moto's default account, which owns every resource created through the emulator.
pub const ACCOUNT_ID: &str = "123456789012";

/// Keep at most this much of the emulator's stderr (the tail) for failure reports.
const STDERR_KEEP: usize = 64 * 1024;

/// Errors of the harness itself (not of the AWS calls made through it).
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    /// No Python interpreter at the expected place.
    #[error(
        "no Python for the emulator at {path}: run `make venv` (or point WARDEN_PYTHON at a Python with moto[server] installed)"
    )]
    PythonMissing {
        /// Where the interpreter was looked for.
        path: PathBuf,
    },
    /// The emulator script is missing.
    #[error("emulator script not found at {path}")]
    ScriptMissing {
        /// Where the script was looked for.
        path: PathBuf,
    },
    /// The emulator process could not be spawned.
    #[error("could not spawn the emulator: {0}")]
    Spawn(#[source] std::io::Error),
    /// The emulator did not report readiness.
    #[error("the emulator did not start: {reason}\n--- emulator stderr ---\n{stderr}")]
    Startup {
        /// What went wrong.
        reason: String,
        /// The tail of the emulator's stderr.
        stderr: String,
    },
    /// An option cannot be passed to the emulator.
    #[error("invalid emulator option: {0}")]
    InvalidOption(String),
    /// Talking to the control endpoint failed at the transport level.
    #[error("control endpoint {path}: {source}")]
    ControlIo {
        /// The control path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The control endpoint answered with an error status.
    #[error("control endpoint {path} answered {status}: {body}")]
    ControlStatus {
        /// The control path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// The response body.
        body: String,
    },
    /// A control response could not be parsed.
    #[error("control endpoint {path} sent an unreadable answer: {detail}")]
    ControlResponse {
        /// The control path.
        path: String,
        /// What could not be parsed.
        detail: String,
    },
}

/// A fault switch: for calls to `service` / `operation` (`"*"` matches any), throttle a
/// fraction of the calls, fail a fraction with a 5xx, and add latency to all of them.
///
/// `service` is the SigV4 signing name (`sagemaker`, `identitystore`, `dynamodb`, `sns`,
/// `sqs`, `ec2`, `scheduler`, `events`), except that sso-admin is `sso-admin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// Service name, or `"*"`.
    pub service: String,
    /// Operation name as in the API reference (`ListUserProfiles`), or `"*"`.
    pub operation: String,
    /// Fraction of calls (0..=1) answered with the service's throttling error.
    pub throttle: f64,
    /// Fraction of calls (0..=1) answered with a 500 server error.
    pub error: f64,
    /// Latency added to every matching call, in milliseconds.
    pub latency_ms: u64,
}

impl Default for FaultRule {
    fn default() -> Self {
        FaultRule::new("*", "*")
    }
}

impl FaultRule {
    /// A rule that matches `service` / `operation` and injects nothing yet.
    pub fn new(service: impl Into<String>, operation: impl Into<String>) -> Self {
        FaultRule {
            service: service.into(),
            operation: operation.into(),
            throttle: 0.0,
            error: 0.0,
            latency_ms: 0,
        }
    }

    /// Sets the throttled fraction.
    pub fn with_throttle(mut self, fraction: f64) -> Self {
        self.throttle = fraction;
        self
    }

    /// Sets the server-error fraction.
    pub fn with_error(mut self, fraction: f64) -> Self {
        self.error = fraction;
        self
    }

    /// Sets the added latency.
    pub fn with_latency_ms(mut self, latency_ms: u64) -> Self {
        self.latency_ms = latency_ms;
        self
    }

    /// The `--fault` command-line form: `service:Operation:throttle=..,error=..,latency=..`.
    pub fn to_spec(&self) -> String {
        format!(
            "{}:{}:throttle={},error={},latency={}",
            self.service, self.operation, self.throttle, self.error, self.latency_ms
        )
    }

    fn check(&self) -> Result<(), HarnessError> {
        let in_range = |v: f64| (0.0..=1.0).contains(&v);
        if !in_range(self.throttle) || !in_range(self.error) || self.throttle + self.error > 1.0 {
            return Err(HarnessError::InvalidOption(format!(
                "fault rule {self:?}: throttle and error must be fractions whose sum is at most 1"
            )));
        }
        if self.service.contains(':') || self.operation.contains(':') {
            return Err(HarnessError::InvalidOption(format!(
                "fault rule {self:?}: names cannot contain ':'"
            )));
        }
        Ok(())
    }
}

/// Start-up options of an emulator.
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// How long Pending / Updating / Deleting statuses last.
    pub status_delay: Duration,
    /// User profiles per domain before `ResourceLimitExceeded` (`None`: the emulator's
    /// default, 1000).
    pub profile_quota: Option<u32>,
    /// Seed of the fault draws and of moto's generated ids.
    pub seed: u64,
    /// Fault switches active from the first call.
    pub faults: Vec<FaultRule>,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        EmulatorOptions {
            status_delay: Duration::from_millis(200),
            profile_quota: None,
            seed: 0,
            faults: Vec::new(),
        }
    }
}

/// A running emulator. Dropping it kills the process (group) and waits for it.
pub struct Emulator {
    child: Child,
    endpoint: String,
    addr: String,
    sdk_config: SdkConfig,
    stderr: Arc<Mutex<Vec<u8>>>,
    readers: Vec<JoinHandle<()>>,
    startup: Duration,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("pid", &self.child.id())
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

/// The workspace root (the directory holding the top-level `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// The Python interpreter the emulator runs with: `$WARDEN_PYTHON`, else the
/// workspace's `.venv/bin/python`.
pub fn python_path() -> PathBuf {
    match std::env::var_os("WARDEN_PYTHON") {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => workspace_root().join(".venv").join("bin").join("python"),
    }
}

/// Path of the emulator launcher script.
pub fn emulator_script() -> PathBuf {
    workspace_root()
        .join("tests")
        .join("emulator")
        .join("emulator.py")
}

impl Emulator {
    /// Starts an emulator with the default options.
    pub async fn start() -> Result<Emulator, HarnessError> {
        Emulator::start_with(EmulatorOptions::default()).await
    }

    /// Starts an emulator on a free port and waits until it is ready.
    pub async fn start_with(opts: EmulatorOptions) -> Result<Emulator, HarnessError> {
        let python = python_path();
        if !python.exists() {
            return Err(HarnessError::PythonMissing { path: python });
        }
        let script = emulator_script();
        if !script.exists() {
            return Err(HarnessError::ScriptMissing { path: script });
        }
        for rule in &opts.faults {
            rule.check()?;
        }
        let mut command = Command::new(&python);
        command
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .arg("--seed")
            .arg(opts.seed.to_string())
            .arg("--status-delay")
            .arg(format!("{}", opts.status_delay.as_secs_f64()))
            .arg("--parent-pid")
            .arg(std::process::id().to_string());
        if let Some(quota) = opts.profile_quota {
            command.arg("--profile-quota").arg(quota.to_string());
        }
        for rule in &opts.faults {
            command.arg("--fault").arg(rule.to_spec());
        }
        command
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);

        let started = Instant::now();
        let mut child = command.spawn().map_err(HarnessError::Spawn)?;
        let stderr_buf = Arc::new(Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        if let Some(stderr) = child.stderr.take() {
            let buf = Arc::clone(&stderr_buf);
            readers.push(std::thread::spawn(move || drain_stderr(stderr, &buf)));
        }
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<String>();
        if let Some(stdout) = child.stdout.take() {
            readers.push(std::thread::spawn(move || read_stdout(stdout, ready_tx)));
        }

        let failure = |child: &mut Child, readers: Vec<JoinHandle<()>>, reason: String| {
            kill_and_reap(child);
            for reader in readers {
                let _ = reader.join();
            }
            HarnessError::Startup {
                reason,
                stderr: stderr_text(&stderr_buf),
            }
        };

        let line = match tokio::time::timeout(STARTUP_TIMEOUT, ready_rx).await {
            Ok(Ok(line)) => line,
            Ok(Err(_)) => {
                let status = child.wait().ok();
                return Err(failure(
                    &mut child,
                    readers,
                    format!("it exited before printing EMULATOR READY (status {status:?})"),
                ));
            }
            Err(_) => {
                return Err(failure(
                    &mut child,
                    readers,
                    format!("no EMULATOR READY line within {STARTUP_TIMEOUT:?}"),
                ));
            }
        };
        let endpoint = match line.trim().strip_prefix("EMULATOR READY ") {
            Some(url) => url.trim().to_string(),
            None => {
                return Err(failure(
                    &mut child,
                    readers,
                    format!("unexpected first line {line:?}"),
                ));
            }
        };
        let addr = endpoint.trim_start_matches("http://").to_string();
        let startup = started.elapsed();
        let sdk_config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(endpoint.clone())
            .region(Region::new(REGION))
            .credentials_provider(Credentials::new(
                "AKIAEMULATOR0000TEST",
                "emulator-secret-access-key",
                None,
                None,
                "warden-tests",
            ))
            .retry_config(RetryConfig::standard())
            .load()
            .await;
        Ok(Emulator {
            child,
            endpoint,
            addr,
            sdk_config,
            stderr: stderr_buf,
            readers,
            startup,
        })
    }

    /// The emulator's base URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The emulator's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Time from spawning the process to reading its READY line.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// SDK configuration for every service: the emulator's endpoint, `us-east-1`,
    /// static test credentials and the default (standard) retry configuration.
    pub fn sdk_config(&self) -> SdkConfig {
        self.sdk_config.clone()
    }

    /// Replaces the active fault rules (an empty slice switches faults off).
    pub async fn set_faults(&self, rules: &[FaultRule]) -> Result<(), HarnessError> {
        for rule in rules {
            rule.check()?;
        }
        let body =
            serde_json::to_string(rules).map_err(|e| HarnessError::InvalidOption(e.to_string()))?;
        self.control_ok("POST", "/_emulator/faults", &body)
            .await
            .map(|_| ())
    }

    /// Clears fault rules, call statistics and every resource (moto's and the
    /// extensions').
    pub async fn reset(&self) -> Result<(), HarnessError> {
        self.control_ok("POST", "/_emulator/reset", "")
            .await
            .map(|_| ())
    }

    /// AWS calls received so far, keyed `"service:Operation"` (e.g.
    /// `"sagemaker:CreateUserProfile"`), including calls answered with injected faults.
    pub async fn stats(&self) -> Result<BTreeMap<String, u64>, HarnessError> {
        Ok(self.stats_report().await?.calls)
    }

    /// Faults injected so far, keyed `"service:Operation:throttle"` /
    /// `"service:Operation:error"`.
    pub async fn injected_faults(&self) -> Result<BTreeMap<String, u64>, HarnessError> {
        Ok(self.stats_report().await?.faults)
    }

    /// Changes the status delay and/or the per-domain profile quota of a running
    /// emulator.
    pub async fn configure(
        &self,
        status_delay: Option<Duration>,
        profile_quota: Option<u32>,
    ) -> Result<(), HarnessError> {
        let body = serde_json::json!({
            "status_delay": status_delay.map(|d| d.as_secs_f64()),
            "profile_quota": profile_quota,
        });
        self.control_ok("POST", "/_emulator/config", &body.to_string())
            .await
            .map(|_| ())
    }

    /// Re-seeds the fault draws (and moto's id generator).
    pub async fn set_seed(&self, seed: u64) -> Result<(), HarnessError> {
        let body = serde_json::json!({ "seed": seed });
        self.control_ok("POST", "/_emulator/config", &body.to_string())
            .await
            .map(|_| ())
    }

    /// Bulk set-up for benchmarks: creates `groups` and `users` users in the Identity Store
    /// (user j joins group j % groups.len()) without one request per user. Returns the group
    /// ids by name and the user ids in order.
    pub async fn seed_identity_store(
        &self,
        identity_store_id: &str,
        groups: &[String],
        users: usize,
        prefix: &str,
    ) -> Result<(BTreeMap<String, String>, Vec<String>), HarnessError> {
        #[derive(Deserialize)]
        struct Seeded {
            groups: BTreeMap<String, String>,
            users: Vec<String>,
        }
        let body = serde_json::json!({
            "IdentityStoreId": identity_store_id,
            "Groups": groups,
            "Users": users,
            "Prefix": prefix,
        });
        let text = self
            .control_ok("POST", "/_emulator/identitystore/seed", &body.to_string())
            .await?;
        let seeded: Seeded =
            serde_json::from_str(&text).map_err(|e| HarnessError::ControlResponse {
                path: "/_emulator/identitystore/seed".to_string(),
                detail: e.to_string(),
            })?;
        Ok((seeded.groups, seeded.users))
    }

    /// Disables or enables an Identity Store user, as the Identity Center console does (no
    /// public API sets `UserStatus`).
    pub async fn set_user_status(
        &self,
        identity_store_id: &str,
        user_id: &str,
        enabled: bool,
    ) -> Result<(), HarnessError> {
        let body = serde_json::json!({
            "IdentityStoreId": identity_store_id,
            "UserId": user_id,
            "UserStatus": if enabled { "ENABLED" } else { "DISABLED" },
        });
        self.control_ok(
            "POST",
            "/_emulator/identitystore/user-status",
            &body.to_string(),
        )
        .await
        .map(|_| ())
    }

    /// Puts a SageMaker user profile in a status no API can cause (`Failed`,
    /// `Update_Failed`, `Delete_Failed`), or back `InService`.
    pub async fn set_profile_status(
        &self,
        domain_id: &str,
        profile: &str,
        status: &str,
    ) -> Result<(), HarnessError> {
        let body = serde_json::json!({
            "DomainId": domain_id,
            "UserProfileName": profile,
            "Status": status,
        });
        self.control_ok(
            "POST",
            "/_emulator/sagemaker/profile-status",
            &body.to_string(),
        )
        .await
        .map(|_| ())
    }

    /// Puts a live app in `Failed` (SageMaker reaches it on its own: an image that will not
    /// start, no capacity; no API causes it). `owner` is `("UserProfileName", profile)` or
    /// `("SpaceName", space)`.
    pub async fn fail_app(
        &self,
        domain_id: &str,
        owner: (&str, &str),
        app_type: &str,
        app_name: &str,
    ) -> Result<(), HarnessError> {
        let mut body = serde_json::json!({
            "DomainId": domain_id,
            "AppType": app_type,
            "AppName": app_name,
            "Status": "Failed",
            "FailureReason": "the image did not start",
        });
        body[owner.0] = serde_json::Value::from(owner.1);
        self.control_ok("POST", "/_emulator/sagemaker/app-status", &body.to_string())
            .await
            .map(|_| ())
    }

    /// A raw HTTP request to the emulator (control endpoint or moto's `/moto-api/`),
    /// returning the status code and the body.
    pub async fn raw_request(
        &self,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<(u16, String), HarnessError> {
        let addr = self.addr.clone();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        self.exchange(path, request).await
    }

    /// Sends one raw HTTP/1.1 request to the emulator and answers its status and body; `path`
    /// names it in errors.
    async fn exchange(&self, path: &str, request: String) -> Result<(u16, String), HarnessError> {
        let addr = self.addr.clone();
        let path_owned = path.to_string();
        let io_err = |source: std::io::Error| HarnessError::ControlIo {
            path: path_owned.clone(),
            source,
        };
        let joined = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
            let mut stream = TcpStream::connect(&addr)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            stream.write_all(request.as_bytes())?;
            let mut response = Vec::new();
            stream.read_to_end(&mut response)?;
            Ok(response)
        })
        .await
        .map_err(|e| io_err(std::io::Error::other(e.to_string())))?;
        let response = joined.map_err(io_err)?;
        parse_http_response(path, &response)
    }

    /// IAM `CreateRole` in `account` with the trust policy `trust` (a JSON document), through
    /// IAM's query protocol: the product never calls IAM, so the tests do not build the SDK's
    /// IAM client for the one call that sets up a spoke. The request carries `account` as its
    /// access key id, which is how the emulator tells accounts apart (its `accounts.py`; moto
    /// does not check signatures). Answers the role's ARN.
    pub async fn create_role(
        &self,
        account: &str,
        name: &str,
        trust: &str,
    ) -> Result<String, HarnessError> {
        let form = |v: &str| {
            v.bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                        (b as char).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect::<String>()
        };
        let body = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={}&AssumeRolePolicyDocument={}",
            form(name),
            form(trust)
        );
        let addr = self.addr.clone();
        let request = format!(
            "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential={account}/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let (status, text) = self.exchange("iam:CreateRole", request).await?;
        let arn = text
            .split_once("<Arn>")
            .and_then(|(_, rest)| rest.split_once("</Arn>"))
            .map(|(arn, _)| arn.to_owned());
        match (status, arn) {
            (200, Some(arn)) => Ok(arn),
            (status, _) => Err(HarnessError::ControlStatus {
                path: "iam:CreateRole".to_string(),
                status,
                body: text,
            }),
        }
    }

    async fn control_ok(
        &self,
        method: &str,
        path: &str,
        body: &str,
    ) -> Result<String, HarnessError> {
        let (status, text) = self.raw_request(method, path, body).await?;
        if status != 200 {
            return Err(HarnessError::ControlStatus {
                path: path.to_string(),
                status,
                body: text,
            });
        }
        Ok(text)
    }

    async fn stats_report(&self) -> Result<StatsReport, HarnessError> {
        let text = self.control_ok("GET", "/_emulator/stats", "").await?;
        serde_json::from_str(&text).map_err(|e| HarnessError::ControlResponse {
            path: "/_emulator/stats".to_string(),
            detail: e.to_string(),
        })
    }

    /// The tail of what the emulator wrote to stderr so far.
    pub fn stderr(&self) -> String {
        stderr_text(&self.stderr)
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        kill_and_reap(&mut self.child);
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if std::thread::panicking() {
            let stderr = stderr_text(&self.stderr);
            if !stderr.trim().is_empty() {
                eprintln!("--- emulator {} stderr ---\n{stderr}", self.endpoint);
            }
        }
    }
}

#[derive(Debug, Deserialize)]
struct StatsReport {
    calls: BTreeMap<String, u64>,
    faults: BTreeMap<String, u64>,
}

/// Kills the child's process group (the emulator runs as its own group leader), then
/// the child itself, and reaps it.
fn kill_and_reap(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let group = format!("-{}", child.id());
    let _ = Command::new("kill")
        .args(["-KILL", "--", &group])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    let _ = child.kill();
    let _ = child.wait();
}

fn read_stdout(stdout: std::process::ChildStdout, ready: tokio::sync::oneshot::Sender<String>) {
    let mut reader = BufReader::new(stdout);
    let mut ready = Some(ready);
    let mut line = String::new();
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if let Some(tx) = ready.take() {
                    let _ = tx.send(line.clone());
                }
            }
        }
    }
}

fn drain_stderr(mut stderr: std::process::ChildStderr, buf: &Mutex<Vec<u8>>) {
    let mut chunk = [0u8; 8192];
    loop {
        match stderr.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut kept) = buf.lock() {
                    kept.extend_from_slice(&chunk[..n]);
                    if kept.len() > STDERR_KEEP {
                        let excess = kept.len() - STDERR_KEEP;
                        kept.drain(..excess);
                    }
                }
            }
        }
    }
}

fn stderr_text(buf: &Mutex<Vec<u8>>) -> String {
    match buf.lock() {
        Ok(kept) => String::from_utf8_lossy(&kept).into_owned(),
        Err(_) => String::new(),
    }
}

fn parse_http_response(path: &str, response: &[u8]) -> Result<(u16, String), HarnessError> {
    let bad = |detail: &str| HarnessError::ControlResponse {
        path: path.to_string(),
        detail: detail.to_string(),
    };
    let text = String::from_utf8_lossy(response);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| bad("no status line"))?;
    Ok((status, body.to_string()))
}

/// The calls made between two [`Emulator::stats`] snapshots, by operation; only the
/// operations called in between.
pub fn calls_between(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .filter_map(|(k, v)| {
            let d = v.saturating_sub(before.get(k).copied().unwrap_or(0));
            (d > 0).then(|| (k.clone(), d))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_rule_spec_round_trips_the_cli_form() {
        let rule = FaultRule::new("sagemaker", "ListUserProfiles")
            .with_throttle(0.1)
            .with_error(0.02)
            .with_latency_ms(50);
        assert_eq!(
            rule.to_spec(),
            "sagemaker:ListUserProfiles:throttle=0.1,error=0.02,latency=50"
        );
        assert!(rule.check().is_ok());
        assert!(
            FaultRule::default()
                .with_throttle(0.7)
                .with_error(0.7)
                .check()
                .is_err()
        );
    }

    #[test]
    fn parses_status_and_body() {
        let raw = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}";
        let (status, body) = parse_http_response("/x", raw).expect("parse");
        assert_eq!(status, 404);
        assert_eq!(body, "{}");
    }

    #[test]
    fn workspace_root_holds_the_emulator() {
        assert!(emulator_script().ends_with("tests/emulator/emulator.py"));
        assert!(workspace_root().join("Cargo.toml").exists());
    }
}
