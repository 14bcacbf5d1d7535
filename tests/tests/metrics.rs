//! Metrics: the real handler, with metrics on, against the emulator. Each invocation writes one
//! embedded metric format record that follows the specification, and its numbers are what
//! happened: the actions the report lists, and the AWS calls, retries and throttles the
//! emulator itself counted.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use warden::metrics::spec;
use warden::service::Function;
use warden_tests::FaultRule;
use warden_tests::fixture::*;

/// The emulator's name of each service the record names (`AwsCalls.<ours>`).
const SERVICES: [(&str, &str); 6] = [
    ("identitystore", "identitystore"),
    ("ssoadmin", "sso-admin"),
    ("sagemaker", "sagemaker"),
    ("dynamodb", "dynamodb"),
    ("sns", "sns"),
    ("ec2", "ec2"),
];

fn parse_record(line: &str) -> Value {
    assert!(!line.is_empty(), "no metrics record written");
    assert!(!line.contains('\n'), "one record per invocation: {line}");
    assert_eq!(spec::violations(line), Vec::<String>::new(), "{line}");
    serde_json::from_str(line).expect("JSON")
}

fn value(record: &Value, name: &str) -> u64 {
    record.get(name).and_then(Value::as_u64).unwrap_or(0)
}

/// Requests the emulator received between two snapshots, by its service name.
fn by_service(
    before: &BTreeMap<String, u64>,
    after: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for (key, n) in warden_tests::calls_between(before, after) {
        let service = key.split(':').next().unwrap_or_default().to_owned();
        *out.entry(service).or_insert(0) += n;
    }
    out
}

/// Every request the emulator received is an attempt the record counted: a call's first
/// attempt, or a retry.
fn assert_attempts_match(record: &Value, received: &BTreeMap<String, u64>) {
    for (ours, theirs) in SERVICES {
        let attempts = value(record, &format!("AwsCalls.{ours}"))
            + value(record, &format!("AwsRetries.{ours}"));
        assert_eq!(
            attempts,
            received.get(theirs).copied().unwrap_or(0),
            "{ours}: record {record:#}, emulator {received:?}"
        );
    }
}

#[tokio::test]
async fn a_sweep_that_creates_three_profiles_says_so_in_its_record() {
    let world = World::new().await.expect("world");
    for name in ["ana", "bo", "cy"] {
        let user = world.add_user(name).await.expect("user");
        world.join(&user, &world.researchers).await.expect("join");
    }
    let before = world.emulator.stats().await.expect("stats");
    let (answer, line) = world
        .invoke_metered(Function::ComplianceSweep, json!({"mode": "apply"}))
        .await;
    let after = world.emulator.stats().await.expect("stats");
    let report = answer.expect("the sweep succeeds");
    let record = parse_record(&line);

    assert_eq!(report["counts"]["Create"], json!(3), "{report:#}");
    assert_eq!(value(&record, "Actions.Create"), 3, "{record:#}");
    assert_eq!(value(&record, "Invocations"), 1);
    assert_eq!(value(&record, "Errors"), 0);
    assert_eq!(value(&record, "Failures"), 0);
    assert_eq!(record["SweepIncomplete"], json!(0));
    assert_eq!(record["HoldsPending"], json!(0));
    assert_eq!(record["OpenFindings.critical"], json!(0));
    assert!(record["SweepDuration"].as_f64().is_some_and(|ms| ms > 0.0));
    assert_eq!(record["FunctionName"], json!("compliance-sweep"));
    assert_eq!(record["trigger"], report["trigger"]);
    assert!(
        value(&record, "AwsCalls.sagemaker") >= 3,
        "three CreateUserProfile at least"
    );
    assert_attempts_match(&record, &by_service(&before, &after));

    // A second sweep has nothing to do: the record says so, and counts only its own calls.
    let before = world.emulator.stats().await.expect("stats");
    let (answer, line) = world
        .invoke_metered(Function::ComplianceSweep, json!({"mode": "apply"}))
        .await;
    let after = world.emulator.stats().await.expect("stats");
    answer.expect("the sweep succeeds");
    let again = parse_record(&line);
    assert!(again.get("Actions.Create").is_none(), "{again:#}");
    assert_attempts_match(&again, &by_service(&before, &after));
}

#[tokio::test]
async fn throttled_calls_are_counted_by_service_even_when_the_invocation_fails() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane.doe@example.com").await.expect("user");
    let membership = world.join(&jane, &world.researchers).await.expect("join");
    let event = world
        .joined_event(&jane, &world.researchers, &membership)
        .expect("sample");
    world
        .emulator
        .set_faults(&[FaultRule::new("sagemaker", "CreateUserProfile").with_throttle(1.0)])
        .await
        .expect("faults");
    let faults_before = world.emulator.injected_faults().await.expect("faults");
    let before = world.emulator.stats().await.expect("stats");
    let (answer, line) = world.invoke_metered(Function::MembershipSync, event).await;
    let after = world.emulator.stats().await.expect("stats");
    let faults_after = world.emulator.injected_faults().await.expect("faults");
    world.emulator.set_faults(&[]).await.expect("faults off");

    let error = answer.expect_err("every CreateUserProfile is throttled");
    let record = parse_record(&line);
    assert_eq!(value(&record, "Errors"), 1, "{record:#}");
    assert_eq!(
        value(&record, &format!("Errors.{}", error.0.kind())),
        1,
        "{record:#}"
    );
    assert!(value(&record, "Failures") >= 1);
    assert_eq!(record["FunctionName"], json!("membership-sync"));
    assert!(record.get("SweepIncomplete").is_none(), "not a sweep");

    let injected = warden_tests::calls_between(&faults_before, &faults_after)
        .get("sagemaker:CreateUserProfile:throttle")
        .copied()
        .unwrap_or(0);
    assert!(injected >= 2, "the SDK tried more than once: {injected}");
    assert_eq!(
        value(&record, "AwsThrottles.sagemaker"),
        injected,
        "{record:#}"
    );
    assert!(value(&record, "AwsRetries.sagemaker") >= 1, "{record:#}");
    assert_eq!(value(&record, "AwsThrottles.dynamodb"), 0);
    assert_attempts_match(&record, &by_service(&before, &after));
}

#[tokio::test]
async fn a_payload_that_is_not_json_still_writes_its_record() {
    let world = World::new().await.expect("world");
    let payload = warden::runtime::Payload::from_slice(b"{\"truncated\": ");
    let (answer, line) = world
        .invoke_metered(Function::MembershipSync, payload)
        .await;
    assert!(answer.is_err());
    let record = parse_record(&line);
    assert_eq!(value(&record, "Errors.Event"), 1, "{record:#}");
    assert_eq!(value(&record, "Invocations"), 1);
}
