//! Runtime settings from the environment, and the client-side call rate.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use warden::adapters::CallRate;
use warden::runtime::{DEFAULT_IDENTITY_TPS, DEFAULT_SAGEMAKER_TPS, Settings};

const POLICY: &str = include_str!("../../examples/policy.toml");

fn settings(vars: &[(&str, &str)]) -> Result<Settings, warden::WardenError> {
    let env: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|k| env.get(k).cloned())
}

#[test]
fn the_environment_configures_the_functions() {
    let s = settings(&[("WARDEN_POLICY", POLICY), ("WARDEN_TABLE", "ledger")]).expect("valid");
    assert_eq!(s.table, "ledger");
    assert_eq!(
        (s.identity_tps, s.sagemaker_tps),
        (DEFAULT_IDENTITY_TPS, DEFAULT_SAGEMAKER_TPS)
    );
    let s = settings(&[
        ("WARDEN_POLICY", POLICY),
        ("WARDEN_TABLE", "ledger"),
        ("WARDEN_IDENTITY_TPS", "5"),
        ("WARDEN_SAGEMAKER_TPS", "3"),
        ("WARDEN_CONCURRENCY", "2"),
    ])
    .expect("valid");
    assert_eq!((s.identity_tps, s.sagemaker_tps, s.concurrency), (5, 3, 2));
    assert_eq!(
        s.work_queue, None,
        "no work queue unless WARDEN_WORK_QUEUE_URL says one"
    );
}

#[test]
fn a_work_queue_url_makes_sweeps_fan_out() {
    let url = "https://sqs.us-east-1.amazonaws.com/111122223333/studio-warden-work.fifo";
    let s = settings(&[
        ("WARDEN_POLICY", POLICY),
        ("WARDEN_TABLE", "ledger"),
        ("WARDEN_WORK_QUEUE_URL", url),
    ])
    .expect("valid");
    assert_eq!(s.work_queue.as_deref(), Some(url));
    let s = settings(&[
        ("WARDEN_POLICY", POLICY),
        ("WARDEN_TABLE", "ledger"),
        ("WARDEN_WORK_QUEUE_URL", " "),
    ])
    .expect("valid");
    assert_eq!(s.work_queue, None);
}

#[test]
fn bad_settings_are_named() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("WARDEN_POLICY", POLICY)], "WARDEN_TABLE"),
        (
            &[
                ("WARDEN_POLICY", POLICY),
                ("WARDEN_TABLE", "t"),
                ("WARDEN_IDENTITY_TPS", "0"),
            ],
            "WARDEN_IDENTITY_TPS",
        ),
        (
            &[
                ("WARDEN_POLICY", POLICY),
                ("WARDEN_TABLE", "t"),
                ("WARDEN_CONCURRENCY", "x"),
            ],
            "WARDEN_CONCURRENCY",
        ),
        (
            &[
                ("WARDEN_POLICY", POLICY),
                ("WARDEN_TABLE", "t"),
                ("WARDEN_DOMAIN_IDS", "[1]"),
            ],
            "WARDEN_DOMAIN_IDS",
        ),
        (
            &[
                ("WARDEN_POLICY_FILE", "/nonexistent/policy.toml"),
                ("WARDEN_TABLE", "t"),
            ],
            "/nonexistent/policy.toml",
        ),
        (
            &[
                ("WARDEN_POLICY", "[identity_store]\nid = 1\n"),
                ("WARDEN_TABLE", "t"),
            ],
            "WARDEN_POLICY:2",
        ),
    ];
    for (vars, needle) in cases {
        let err = settings(vars).expect_err(needle).to_string();
        assert!(err.contains(needle), "{needle}: {err}");
    }
}

#[test]
fn the_policy_file_is_read_from_the_task_root() {
    let dir = std::env::temp_dir().join(format!("warden-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("policy.toml"), POLICY).expect("write");
    let root = dir.to_string_lossy().into_owned();
    let s = settings(&[("LAMBDA_TASK_ROOT", &root), ("WARDEN_TABLE", "t")])
        .expect("policy.toml in the task root");
    assert_eq!(s.policy.mappings.len(), 2);
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn a_call_rate_paces_calls() {
    // 10 per second, evenly spaced (no burst): 25 calls need at least 2.4 s, where a burst of
    // 10 would let them through in 1.5 s. Only a lower bound is asserted (a slow machine can
    // only make it slower).
    let rate = CallRate::per_second(10);
    let start = Instant::now();
    for _ in 0..25 {
        rate.wait().await;
    }
    assert!(
        start.elapsed() >= Duration::from_millis(2300),
        "{:?}",
        start.elapsed()
    );
    let unlimited = CallRate::unlimited();
    for _ in 0..1000 {
        unlimited.wait().await;
    }
}
