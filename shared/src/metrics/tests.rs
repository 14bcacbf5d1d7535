use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::drift::DriftReport;
use crate::engine::{ActionReport, Report};
use crate::ids::{DomainId, GroupId, ResourceName, UserId};
use crate::model::{Attention, Entitlement};
use crate::planner::Action;
use crate::policy::{AppDefaults, ProfileTemplate};
use crate::safety::{Held, HoldEntry, HoldReport};

fn catalogue() -> &'static Catalogue {
    super::catalogue().expect("shared/metrics.json parses")
}

fn uid(n: u8) -> UserId {
    UserId::parse(&format!(
        "9067c0ffee-1111aaaa-0000-4000-8000-0000000000{n:02x}"
    ))
    .expect("valid")
}

fn domain() -> DomainId {
    DomainId::parse("d-research00001").expect("valid")
}

fn profile(n: u8) -> ResourceName {
    ResourceName::parse(&format!("user{n}-0a1b2c3d")).expect("valid")
}

fn entitlement(n: u8) -> Box<Entitlement> {
    Box::new(Entitlement {
        user: uid(n),
        user_name: format!("user{n}@example.com"),
        mapping: 0,
        group: GroupId::parse("9067c0ffee-2222bbbb-0000-4000-8000-000000000001").expect("valid"),
        group_label: "group \"g1\"".into(),
        template: ProfileTemplate {
            execution_role: "arn:aws:iam::111122223333:role/a".into(),
            security_groups: vec![],
            tags: BTreeMap::new(),
            apps: AppDefaults::default(),
            private_space: None,
        },
        template_hash: "h".into(),
    })
}

fn done(action: Action, outcome: Outcome) -> ActionReport {
    ActionReport {
        domain: domain(),
        action,
        outcome,
    }
}

fn create(n: u8) -> Action {
    Action::Create {
        user: uid(n),
        profile: profile(n),
        entitlement: entitlement(n),
        reason: "member".into(),
    }
}

fn update(n: u8) -> Action {
    Action::Update {
        user: uid(n),
        profile: profile(n),
        entitlement: entitlement(n),
        reason: "changed".into(),
    }
}

fn offboard(n: u8) -> Action {
    Action::Offboard {
        user: uid(n),
        profile: profile(n),
        reason: "retention over".into(),
        released_by: None,
    }
}

/// A report as the engine answers it (only the service's constructors are public).
fn report() -> Report {
    let mut r = Report::drift_only(&DriftReport::default());
    r.trigger = "sweep-01".into();
    r
}

fn invocation(reconcile: Report, drift: Option<DriftReport>) -> InvocationReport {
    InvocationReport {
        counts: Some(reconcile.counts()),
        reconcile,
        drift,
        batch_item_failures: None,
    }
}

fn measured(input: InputKind, answer: Result<&InvocationReport, &WardenError>) -> Measurements {
    measure(&Invocation {
        input,
        answer,
        duration: Duration::from_millis(1234),
        calls: &CallCounts::new(),
    })
}

/// A measurement, rounded (every one of these tests counts whole things); -1 when absent.
fn get(m: &Measurements, name: &str) -> i64 {
    m.get(name).map_or(-1, |v| v.round() as i64)
}

/// The record `measured` becomes, as the line a function writes.
fn line(input: InputKind, m: &Measurements) -> String {
    let doc = emf::document(
        catalogue(),
        "StudioWarden",
        "studio-warden-dev-compliance-sweep",
        1_764_583_200_000,
        input == InputKind::Sweep(Mode::Apply),
        m,
        &BTreeMap::from([("requestId".to_owned(), "req-1".to_owned())]),
    );
    serde_json::to_string(&doc).expect("serialises")
}

fn parse(line: &str) -> Value {
    serde_json::from_str(line).expect("JSON")
}

fn metric_names(record: &Value) -> BTreeSet<String> {
    record["_aws"]["CloudWatchMetrics"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|d| d["Metrics"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m["Name"].as_str().map(str::to_owned))
        .collect()
}

/// The string literals a `fn kind(&self) -> &'static str` match answers, read from the source
/// file: the catalogue's keys must be exactly these, so a kind added to the code and not to
/// `shared/metrics.json` fails here.
fn kinds_in_source(source: &str) -> BTreeSet<String> {
    let start = source
        .find("pub fn kind(&self) -> &'static str {")
        .expect("the source has a kind()");
    let body = &source[start..];
    let end = body.find("\n    }\n").expect("kind() ends");
    body[..end]
        .split("=> \"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .map(str::to_owned)
        .collect()
}

fn keys(family: &str) -> BTreeSet<String> {
    catalogue()
        .family(family)
        .map(|f| f.keys.iter().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_catalogue_names_every_kind_the_code_has() {
    let actions = kinds_in_source(include_str!("../planner.rs"));
    assert_eq!(actions.len(), 9, "{actions:?}");
    assert_eq!(keys("Actions"), actions);
    assert_eq!(keys("FailedActions"), actions);
    let errors = kinds_in_source(include_str!("../error.rs"));
    assert_eq!(errors.len(), 12, "{errors:?}");
    assert_eq!(keys("Errors"), errors);
    let severities: BTreeSet<String> = [
        Severity::Info,
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ]
    .iter()
    .map(|s| s.as_str().to_owned())
    .collect();
    assert_eq!(keys("OpenFindings"), severities);
    let services: BTreeSet<String> = Service::ALL.iter().map(|s| s.as_str().to_owned()).collect();
    for family in ["AwsCalls", "AwsRetries", "AwsThrottles"] {
        assert_eq!(keys(family), services, "{family}");
    }
}

#[test]
fn catalogue_names_are_unique_and_valid_metric_names() {
    let c = catalogue();
    let mut seen = BTreeSet::new();
    let names = c.metrics.iter().map(|m| m.name.clone()).chain(
        c.families
            .iter()
            .flat_map(|f| f.keys.iter().map(|k| family_name(&f.family, k))),
    );
    for name in names {
        assert!(seen.insert(name.clone()), "{name} twice");
        assert!(
            !name.is_empty() && name.len() <= 255 && name.is_ascii(),
            "{name}"
        );
    }
    assert!(
        seen.len() <= emf::MAX_METRICS_PER_DIRECTIVE,
        "{} metrics",
        seen.len()
    );
    assert_eq!(seen.len(), c.all().len());
    assert_eq!(c.dimension, "FunctionName");
}

#[test]
fn a_sweep_is_measured_from_its_report() {
    let mut r = report();
    r.actions = vec![
        done(create(1), Outcome::Ok),
        done(create(2), Outcome::Adopted),
        done(create(3), Outcome::Ok),
        done(create(4), Outcome::NotStarted),
        done(update(5), Outcome::Failed("boom".into())),
        done(update(6), Outcome::Deferred("in use".into())),
        done(offboard(7), Outcome::Blocked(Attention::DeleteRefused)),
        done(create(8), Outcome::Planned),
    ];
    r.complete = false;
    r.failures = vec!["update 5 failed".into()];
    r.held = vec![Held {
        domain: domain(),
        user: uid(9),
        action: "StartGrace",
        reason: "over the threshold".into(),
    }];
    let entry = |n: u8| HoldEntry {
        domain: domain(),
        user: uid(n),
        action: "StartGrace".into(),
        version: 1,
    };
    r.hold = Some(HoldReport {
        id: Some("01HOLD".into()),
        reason: "threshold".into(),
        users: vec![entry(9), entry(10), entry(11)],
    });
    r.open_by_severity.insert(Severity::Critical, 1);
    let drift = DriftReport {
        failures: vec!["domain research: throttled".into()],
        open_by_severity: BTreeMap::from([(Severity::Critical, 2), (Severity::Low, 3)]),
        ..DriftReport::default()
    };
    let inv = invocation(r, Some(drift));
    let m = measured(InputKind::Sweep(Mode::Apply), Ok(&inv));
    assert_eq!(get(&m, "Invocations"), 1);
    assert_eq!(get(&m, "Errors"), 0);
    assert_eq!(get(&m, "Actions.Create"), 3, "ok, adopted, ok");
    assert_eq!(get(&m, "FailedActions.Update"), 1);
    assert_eq!(get(&m, "DeferredUsers"), 2, "not started, deferred");
    assert_eq!(get(&m, "BlockedUsers"), 1);
    assert_eq!(get(&m, "HeldUsers"), 3, "held 9, and 9, 10, 11 in the hold");
    assert_eq!(get(&m, "HoldsPending"), 1);
    assert_eq!(
        get(&m, "Failures"),
        2,
        "the reconcile's and the drift checks'"
    );
    assert_eq!(get(&m, "SweepIncomplete"), 1);
    assert_eq!(get(&m, "SweepDuration"), 1234);
    assert_eq!(get(&m, "OpenFindings.critical"), 3, "safety and drift");
    assert_eq!(get(&m, "OpenFindings.low"), 3);
    assert_eq!(get(&m, "OpenFindings.high"), 0);
    let record = parse(&line(InputKind::Sweep(Mode::Apply), &m));
    assert_eq!(record["Actions.Create"], json!(3));
    assert_eq!(
        record["OpenFindings.high"],
        json!(0),
        "a gauge is sent at zero"
    );
    assert!(
        record.get("Actions.Update").is_none(),
        "a zero counter is left out"
    );
    assert!(record.get("Actions.Planned").is_none());
    assert_eq!(
        record["FunctionName"],
        json!("studio-warden-dev-compliance-sweep")
    );
    assert_eq!(record["requestId"], json!("req-1"));
}

#[test]
fn only_apply_sweeps_carry_the_sweep_metrics() {
    let mut r = report();
    r.actions = vec![done(create(1), Outcome::Ok)];
    let inv = invocation(r, None);
    for input in [InputKind::Membership, InputKind::Sweep(Mode::Plan)] {
        let m = measured(input, Ok(&inv));
        let record = parse(&line(input, &m));
        for name in [
            "SweepDuration",
            "SweepIncomplete",
            "HoldsPending",
            "OpenFindings.critical",
        ] {
            assert!(record.get(name).is_none(), "{input:?} {name}");
            assert!(!metric_names(&record).contains(name));
        }
        assert_eq!(record["Invocations"], json!(1));
    }
    let m = measured(InputKind::Sweep(Mode::Apply), Ok(&inv));
    let record = parse(&line(InputKind::Sweep(Mode::Apply), &m));
    assert_eq!(record["SweepIncomplete"], json!(0));
    assert_eq!(record["HoldsPending"], json!(0));
}

#[test]
fn a_drift_event_counts_its_failures_once() {
    let drift = DriftReport {
        failures: vec!["a".into(), "b".into()],
        ..DriftReport::default()
    };
    let inv = InvocationReport {
        reconcile: Report::drift_only(&drift),
        counts: None,
        drift: Some(drift),
        batch_item_failures: None,
    };
    assert_eq!(get(&measured(InputKind::Drift, Ok(&inv)), "Failures"), 2);
}

#[test]
fn a_failed_invocation_counts_its_error_by_kind() {
    let partial = WardenError::PartialFailure {
        what: "reconcile",
        failures: vec!["x".into(), "y".into(), "z".into()],
    };
    let m = measured(InputKind::Membership, Err(&partial));
    assert_eq!(get(&m, "Errors"), 1);
    assert_eq!(get(&m, "Errors.PartialFailure"), 1);
    assert_eq!(get(&m, "Failures"), 3);
    let cut = WardenError::DeadlineExceeded("cut".into());
    let m = measured(InputKind::Sweep(Mode::Apply), Err(&cut));
    assert_eq!(get(&m, "Failures"), 1);
    assert_eq!(
        get(&m, "SweepIncomplete"),
        1,
        "a failed sweep is not complete"
    );
    let record = parse(&line(InputKind::Sweep(Mode::Apply), &m));
    assert_eq!(record["Errors.DeadlineExceeded"], json!(1));
    assert!(
        record.get("HoldsPending").is_none(),
        "unknown after a failed sweep"
    );
}

#[test]
fn aws_calls_are_counted_by_service() {
    let calls = CallCounts::from([
        (
            Service::SageMaker,
            ServiceCalls {
                calls: 7,
                retries: 2,
                throttles: 2,
            },
        ),
        (
            Service::DynamoDb,
            ServiceCalls {
                calls: 4,
                retries: 0,
                throttles: 0,
            },
        ),
    ]);
    let inv = invocation(report(), None);
    let m = measure(&Invocation {
        input: InputKind::Membership,
        answer: Ok(&inv),
        duration: Duration::ZERO,
        calls: &calls,
    });
    let record = parse(&line(InputKind::Membership, &m));
    assert_eq!(record["AwsCalls.sagemaker"], json!(7));
    assert_eq!(record["AwsThrottles.sagemaker"], json!(2));
    assert_eq!(record["AwsRetries.sagemaker"], json!(2));
    assert_eq!(record["AwsCalls.dynamodb"], json!(4));
    assert!(record.get("AwsThrottles.dynamodb").is_none());
    assert!(record.get("AwsCalls.ec2").is_none());
}

/// Every record of every kind of invocation follows the specification, and names only
/// metrics of the catalogue, each with the catalogue's unit.
#[test]
fn every_record_follows_the_specification() {
    let mut r = report();
    r.actions = vec![
        done(create(1), Outcome::Ok),
        done(update(2), Outcome::Failed("x".into())),
    ];
    let inv = invocation(r, Some(DriftReport::default()));
    let error = WardenError::Hold("no such hold".into());
    let calls = CallCounts::from([(
        Service::Ec2,
        ServiceCalls {
            calls: 1,
            retries: 1,
            throttles: 1,
        },
    )]);
    let all = catalogue().all();
    for input in [
        InputKind::Sweep(Mode::Apply),
        InputKind::Sweep(Mode::Plan),
        InputKind::Membership,
        InputKind::Drift,
        InputKind::Skip,
        InputKind::Unclassified,
    ] {
        for answer in [Ok(&inv), Err(&error)] {
            let m = measure(&Invocation {
                input,
                answer,
                duration: Duration::from_secs(3),
                calls: &calls,
            });
            let text = line(input, &m);
            assert_eq!(spec::violations(&text), Vec::<String>::new(), "{text}");
            let record = parse(&text);
            for d in record["_aws"]["CloudWatchMetrics"]
                .as_array()
                .into_iter()
                .flatten()
            {
                for def in d["Metrics"].as_array().into_iter().flatten() {
                    let name = def["Name"].as_str().unwrap_or_default();
                    let (unit, _) = all.get(name).expect("a catalogue metric");
                    assert_eq!(def["Unit"], serde_json::to_value(unit).expect("unit"));
                }
                assert_eq!(d["Namespace"], json!("StudioWarden"));
                assert_eq!(d["Dimensions"], json!([["FunctionName"]]));
            }
            assert!(!text.contains('\n'), "one line");
        }
    }
}

#[test]
fn a_record_with_more_metrics_than_a_directive_holds_is_split() {
    let keys: Vec<String> = (0..250).map(|i| format!("k{i:03}")).collect();
    let big = Catalogue {
        namespace: "StudioWarden".into(),
        dimension: "FunctionName".into(),
        metrics: vec![],
        families: vec![FamilyInfo {
            family: "Many".into(),
            unit: Unit::Count,
            emitted: Emitted::Always,
            by: "test".into(),
            keys: keys.clone(),
            meaning: String::new(),
        }],
    };
    let m: Measurements = keys.iter().map(|k| (family_name("Many", k), 1.0)).collect();
    let doc = emf::document(&big, "StudioWarden", "fn", 1, false, &m, &BTreeMap::new());
    let text = serde_json::to_string(&doc).expect("serialises");
    assert_eq!(spec::violations(&text), Vec::<String>::new());
    let sizes: Vec<usize> = doc
        .aws
        .cloudwatch_metrics
        .iter()
        .map(|d| d.metrics.len())
        .collect();
    assert_eq!(sizes, vec![100, 100, 50]);
}

#[test]
fn unknown_or_non_finite_measurements_stay_out_of_the_record() {
    let m = Measurements::from([
        ("Invocations".to_owned(), 1.0),
        ("NotInTheCatalogue".to_owned(), 5.0),
        ("SweepDuration".to_owned(), f64::NAN),
    ]);
    let text = line(InputKind::Sweep(Mode::Apply), &m);
    assert_eq!(spec::violations(&text), Vec::<String>::new());
    let record = parse(&text);
    assert!(record.get("NotInTheCatalogue").is_none());
    assert!(record.get("SweepDuration").is_none());
    assert_eq!(
        metric_names(&record),
        BTreeSet::from(["Invocations".to_owned()])
    );
}

// --- The validator: each rule breaks the record it should ---------------------------------

fn valid() -> Value {
    json!({
        "_aws": {
            "Timestamp": 1_764_583_200_000_i64,
            "CloudWatchMetrics": [{
                "Namespace": "StudioWarden",
                "Dimensions": [["FunctionName"]],
                "Metrics": [{"Name": "Actions.Create", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60}]
            }]
        },
        "FunctionName": "membership-sync",
        "Actions.Create": 3,
        "Latency": [1.5, 2.0],
        "requestId": "anything: the root may hold other members"
    })
}

fn breaks(mutate: impl FnOnce(&mut Value), expected: &str) {
    let mut doc = valid();
    mutate(&mut doc);
    let found = spec::violations(&doc.to_string());
    assert!(
        found.iter().any(|v| v.contains(expected)),
        "expected a violation containing {expected:?}, found {found:?}"
    );
}

#[test]
fn the_validator_accepts_a_valid_record() {
    assert_eq!(spec::violations(&valid().to_string()), Vec::<String>::new());
}

#[test]
fn the_validator_refuses_what_the_specification_forbids() {
    breaks(
        |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] = json!("Missing");
        },
        "metric \"Missing\" has no value at the root",
    );
    breaks(
        |d| {
            d["Actions.Create"] = json!("3");
        },
        "is not a number or an array of numbers",
    );
    breaks(
        |d| {
            d["Latency"] = json!((0..101).collect::<Vec<_>>());
        },
        "101 values, over 100",
    );
    breaks(
        |d| {
            d["Latency"] = json!([1, "x"]);
        },
        "a value that is not a number",
    );
    breaks(
        |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["Stage"]]);
        },
        "dimension \"Stage\" has no member at the root",
    );
    breaks(
        |d| {
            d["FunctionName"] = json!(7);
        },
        "root member is not a string",
    );
    breaks(
        |d| {
            let keys: Vec<String> = (0..31).map(|i| format!("d{i}")).collect();
            for k in &keys {
                d[k.as_str()] = json!("v");
            }
            d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([keys]);
        },
        "31 dimension keys, over 30",
    );
    breaks(
        |d| {
            let defs: Vec<Value> = (0..101).map(|i| json!({"Name": format!("m{i}")})).collect();
            for i in 0..101 {
                d[format!("m{i}")] = json!(1);
            }
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"] = json!(defs);
        },
        "101 definitions, over 100",
    );
    breaks(
        |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] = json!("Counts");
        },
        "is not a CloudWatch unit",
    );
    breaks(
        |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"][1]["StorageResolution"] = json!(30);
        },
        "is not 1 or 60",
    );
    breaks(
        |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0] = json!({"Unit": "Count"});
        },
        "has no Name",
    );
    breaks(
        |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Period"] = json!(60);
        },
        "does not define: Period",
    );
    breaks(
        |d| {
            d["_aws"]["Timestamp"] = json!("2026-12-01T00:00:00Z");
        },
        "not milliseconds since the epoch",
    );
    breaks(
        |d| {
            if let Some(a) = d["_aws"].as_object_mut() {
                a.remove("Timestamp");
            }
        },
        "_aws has no Timestamp",
    );
    breaks(
        |d| {
            if let Some(a) = d["_aws"].as_object_mut() {
                a.remove("CloudWatchMetrics");
            }
        },
        "_aws has no CloudWatchMetrics",
    );
    breaks(
        |d| {
            if let Some(a) = d["_aws"]["CloudWatchMetrics"][0].as_object_mut() {
                a.remove("Namespace");
            }
        },
        "has no Namespace",
    );
    breaks(
        |d| {
            d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!(":x");
        },
        "must not start with ':'",
    );
    breaks(
        |d| {
            d["FunctionName"] = json!("é");
        },
        "must be printable ASCII",
    );
    breaks(
        |d| {
            if let Some(r) = d.as_object_mut() {
                r.remove("_aws");
            }
        },
        "the root has no _aws member",
    );
    assert!(
        spec::violations(&format!("{} trailing", valid()))[0].contains("not one JSON object alone")
    );
    assert!(spec::violations("[1]")[0].contains("not an object"));
}

#[test]
fn telemetry_names_the_function_as_lambda_does_and_writes_one_line_per_invocation() {
    let sink = Captured::default();
    let env = |k: &str| match k {
        "AWS_LAMBDA_FUNCTION_NAME" => Some("studio-warden-prod-membership-sync".to_owned()),
        "WARDEN_METRICS_NAMESPACE" => Some("Platform/StudioWarden".to_owned()),
        _ => None,
    };
    let t = Telemetry::from_lookup(env, "membership-sync", Arc::new(sink.clone()));
    assert_eq!(t.function_name, "studio-warden-prod-membership-sync");
    assert_eq!(t.namespace, "Platform/StudioWarden");
    let local = Telemetry::from_lookup(|_| None, "membership-sync", Arc::new(Captured::default()));
    assert_eq!(
        (local.function_name.as_str(), local.namespace.as_str()),
        ("membership-sync", "StudioWarden")
    );

    // Calls counted before the invocation ends are its own, and the next starts from zero.
    let counter = t.calls.counter(Service::IdentityStore);
    let bag = &mut aws_smithy_types::config_bag::ConfigBag::base();
    let input = aws_smithy_runtime_api::client::interceptors::context::Input::erase(());
    let ctx = aws_smithy_runtime_api::client::interceptors::context::InterceptorContext::new(input);
    use aws_smithy_runtime_api::client::interceptors::Intercept;
    counter
        .read_before_execution(&(&ctx).into(), bag)
        .expect("counts");
    let inv = invocation(report(), None);
    t.emit(
        InputKind::Membership,
        Ok(&inv),
        Duration::from_millis(5),
        "req-7",
    );
    t.emit(
        InputKind::Membership,
        Ok(&inv),
        Duration::from_millis(5),
        "req-8",
    );
    let lines = sink.lines();
    assert_eq!(lines.len(), 2);
    for l in &lines {
        assert_eq!(spec::violations(l), Vec::<String>::new(), "{l}");
    }
    let first = parse(&lines[0]);
    assert_eq!(first["AwsCalls.identitystore"], json!(1));
    assert_eq!(
        first["FunctionName"],
        json!("studio-warden-prod-membership-sync")
    );
    assert_eq!(
        first["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        json!("Platform/StudioWarden")
    );
    assert_eq!(first["requestId"], json!("req-7"));
    assert!(parse(&lines[1]).get("AwsCalls.identitystore").is_none());
}
