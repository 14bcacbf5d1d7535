//! Hostile input: every file in `tests/hostile/` (malformed, truncated, oversized, wrongly typed
//! and injection-laden events and policy files) gets a clear error or a logged skip; nothing
//! panics and nothing is written anywhere.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use warden::runtime::Settings;
use warden_tests::fixture::*;

fn corpus(kind: &str) -> Vec<(String, std::path::PathBuf)> {
    let dir = warden_tests::workspace_root()
        .join("tests/hostile")
        .join(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .map(|e| {
            let e = e.expect("entry");
            (e.file_name().to_string_lossy().into_owned(), e.path())
        })
        .collect();
    files.sort();
    assert!(files.len() >= 8, "the {kind} corpus is missing");
    files
}

#[tokio::test]
async fn hostile_events_are_refused_or_skipped_and_write_nothing() {
    let world = World::new().await.expect("world");
    // A user and a membership exist, so that a mis-parsed event would have something to act on.
    let jane = world.add_user("jane").await.expect("user");
    world.join(&jane, &world.researchers).await.expect("join");
    let before = world.emulator.stats().await.expect("stats");

    let mut payloads: Vec<(String, Value)> = corpus("events")
        .into_iter()
        .map(|(name, path)| {
            let text = std::fs::read_to_string(&path).expect("read");
            (
                name,
                serde_json::from_str(&text).expect("corpus files are JSON"),
            )
        })
        .collect();
    // Generated: deep nesting (as deep as Lambda's JSON parser lets through) and a huge array.
    let mut deep = json!("leaf");
    for _ in 0..120 {
        deep = json!({ "detail": deep });
    }
    payloads.push(("generated-deep-nesting".into(), deep));
    payloads.push((
        "generated-huge-array".into(),
        Value::Array(vec![json!({"mode": "apply"}); 100_000]),
    ));

    for (name, payload) in payloads {
        match world.invoke(payload).await {
            Ok(report) => assert!(
                report["skipped"].is_string()
                    && report["actions"].as_array().is_none_or(Vec::is_empty),
                "{name}: accepted as work: {report:#}"
            ),
            Err(e) => {
                let d: lambda_runtime::Diagnostic = e.into();
                assert!(d.error_type.starts_with("NonRetryable."), "{name}: {d:?}");
                assert!(
                    !d.error_message.is_empty() && d.error_message.len() < 2_000,
                    "{name}: unclear or unbounded error: {}",
                    d.error_message.len()
                );
                assert!(
                    !d.error_message.contains('\u{1b}') && !d.error_message.contains('\u{0}'),
                    "{name}: control characters echoed: {:?}",
                    d.error_message
                );
            }
        }
    }

    // Bytes that are not JSON, as Lambda hands them to the function: every sample in
    // `events/` cut short at a few places, and text that is not JSON at all. Each is refused
    // by the handler as a malformed event (`lambda_runtime` used to refuse them itself, with
    // an undocumented error type).
    let mut broken: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("not-json-text".into(), b"mode=apply".to_vec()),
        ("unclosed-string".into(), br#"{"mode": "apply"#.to_vec()),
    ];
    let samples = warden_tests::workspace_root().join("events");
    for entry in std::fs::read_dir(&samples).expect("samples") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read");
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        for cut in [1, end / 3, end / 2, end] {
            broken.push((format!("{name} cut at {cut}"), bytes[..cut].to_vec()));
        }
    }
    for (name, bytes) in broken {
        let payload = warden::runtime::Payload::from_slice(&bytes);
        assert!(
            matches!(payload, warden::runtime::Payload::Malformed(_)),
            "{name}: parsed as {payload:?}"
        );
        let e = world.invoke(payload).await.expect_err(&name);
        let d: lambda_runtime::Diagnostic = e.into();
        assert_eq!(d.error_type, "NonRetryable.Event", "{name}: {d:?}");
        assert!(
            d.error_message.starts_with("event: payload is not JSON: ")
                && d.error_message.len() < 2_000,
            "{name}: {}",
            d.error_message
        );
    }

    let after = world.emulator.stats().await.expect("stats");
    let writes: BTreeMap<&String, u64> = after
        .iter()
        .map(|(k, v)| (k, v - before.get(k).copied().unwrap_or(0)))
        .filter(|(k, d)| {
            *d > 0
                && [
                    "Create",
                    "Update",
                    "Delete",
                    "Put",
                    "Write",
                    "Tags",
                    "Assignment",
                ]
                .iter()
                .any(|w| k.contains(w))
        })
        .collect();
    assert!(writes.is_empty(), "hostile input caused writes: {writes:?}");
    assert!(world.profiles().await.expect("profiles").is_empty());
    let scan = world
        .dynamodb
        .scan()
        .table_name(&world.table)
        .send()
        .await
        .expect("scan");
    assert_eq!(scan.count(), 0, "the ledger stays empty");
}

#[test]
fn hostile_policies_are_refused_with_the_file_and_the_reason() {
    for (name, path) in corpus("policies") {
        let path = path.to_string_lossy().into_owned();
        let vars = BTreeMap::from([
            ("WARDEN_POLICY_FILE", path.clone()),
            ("WARDEN_TABLE", "t".to_owned()),
        ]);
        let err = Settings::from_lookup(|k| vars.get(k).cloned())
            .expect_err(&name)
            .to_string();
        assert!(
            err.contains(&path),
            "{name}: the error does not name the file: {err}"
        );
        assert!(err.len() < 2_000, "{name}: unbounded error");
        assert!(
            !err.contains("rm -rf") || err.contains("is not an IAM role ARN"),
            "{name}: {err}"
        );
    }
}
