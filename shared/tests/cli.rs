//! The `studio-warden` binary as a script runs it: its exit codes, what goes to standard output
//! and to standard error, and the environment it reads (the functions' settings and the
//! standard AWS variables). What it answers against AWS is tested on the emulator
//! (tests/tests/operator.rs, through the same entry point).

use std::net::TcpListener;
use std::process::{Command, Output};

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/policy.toml");

/// The binary with an empty environment plus `vars`: no credentials, profile or region from
/// the machine running the tests.
fn studio_warden(args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_studio-warden"))
        .args(args)
        .env_clear()
        .envs(vars.iter().copied())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_and_usage_errors() {
    let out = studio_warden(&["--help"], &[]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("Exit codes:"),
        "{}",
        text(&out.stdout)
    );
    let out = studio_warden(&["explain"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(
        text(&out.stderr).contains("<USER>"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn check_policy_is_a_subcommand_with_the_same_output() {
    let out = studio_warden(&["check-policy", EXAMPLE], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let first = stdout.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!("{EXAMPLE}: valid: identity store d-")),
        "{stdout}"
    );
    assert!(first.contains(" mapping(s), grace period "), "{stdout}");
    assert!(
        stdout
            .lines()
            .skip(1)
            .all(|l| l.starts_with("  ") && l.contains(" -> ")),
        "{stdout}"
    );

    let dir = std::env::temp_dir().join(format!("studio-warden-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let broken = dir.join("broken.toml");
    std::fs::write(&broken, "[identity_store]\nid = 42\n").expect("write");
    let broken = broken.to_string_lossy().into_owned();
    let out = studio_warden(&["check-policy", EXAMPLE, &broken], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).starts_with(&broken),
        "{}",
        text(&out.stderr)
    );
    // WARDEN_DOMAIN_IDS is read as the functions read it.
    let out = studio_warden(
        &["check-policy", EXAMPLE],
        &[("WARDEN_DOMAIN_IDS", "not json")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--domain-ids"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_settings_are_exit_3_and_name_what_to_set() {
    let out = studio_warden(&["holds"], &[("WARDEN_POLICY_FILE", EXAMPLE)]);
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    let err = text(&out.stderr);
    assert!(err.contains("WARDEN_TABLE"), "{err}");
    assert!(err.contains("what to do:"), "{err}");
}

/// AWS_ENDPOINT_URL is honoured: pointed at a port where nothing answers, the CLI fails with
/// exit 3 and says how to reach AWS or the emulator.
#[test]
fn an_unreachable_endpoint_is_exit_3_with_what_to_do() {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = studio_warden(
        &["--table", "ledger", "holds"],
        &[
            ("WARDEN_POLICY_FILE", EXAMPLE),
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "example"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("dynamodb Query failed"), "{err}");
    assert!(err.contains("what to do: AWS was not reached"), "{err}");
}
