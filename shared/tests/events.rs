//! Every sample in `events/` classifies as expected, and no payload (arbitrary JSON or a
//! mutated sample) makes `classify` panic, answer inconsistently or return a bad `Change`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use warden::events::{Inbound, NOTIFICATION_SOURCE, SkipReason, Subject, classify, source};
use warden::ids::{
    DomainId, GroupId, IdentityStoreId, MembershipId, ResourceName, SecurityGroupId, UserId,
};
use warden::model::Mode;

const STORE: &str = "d-9067c0ffee";
const U1: &str = "9067c0ffee-1111aaaa-0000-4000-8000-000000000001";
const U2: &str = "9067c0ffee-1111aaaa-0000-4000-8000-000000000002";
const G1: &str = "9067c0ffee-2222bbbb-0000-4000-8000-000000000001";
const G2: &str = "9067c0ffee-2222bbbb-0000-4000-8000-000000000002";
const M1: &str = "9067c0ffee-3333cccc-0000-4000-8000-000000000001";
const DOMAIN: &str = "d-abc123def456";
const SG: &str = "sg-0a1b2c3d4e5f60718";
const SG_DEFAULT: &str = "sg-0fedcba9876543210";
const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

fn store() -> IdentityStoreId {
    IdentityStoreId::parse(STORE).expect("valid store")
}

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events")
}

/// What a sample must classify as. Event ids, CloudTrail ids and times are checked against the
/// file itself rather than repeated here.
enum Expect {
    /// A sweep; `true` when it came in an envelope (its id is the trigger id).
    Sweep(Mode, bool),
    Change(&'static str, &'static str, Vec<Subject>),
    Skip(SkipReason),
}

fn user(id: &str) -> Subject {
    Subject::User(UserId::parse(id).expect("valid"))
}
fn group(id: &str) -> Subject {
    Subject::Group(GroupId::parse(id).expect("valid"))
}
fn profile(name: &str) -> Subject {
    Subject::Profile {
        domain: DomainId::parse(DOMAIN).expect("valid"),
        name: ResourceName::parse(name).expect("valid"),
    }
}
fn sg(id: &str) -> Subject {
    Subject::SecurityGroup(SecurityGroupId::parse(id).expect("valid"))
}
fn not_handled(event_source: &str, event_name: &str) -> Expect {
    Expect::Skip(SkipReason::NotHandled {
        event_source: event_source.to_owned(),
        event_name: event_name.to_owned(),
    })
}
fn failed(event_name: &str, error_code: &str) -> Expect {
    Expect::Skip(SkipReason::FailedCall {
        event_name: event_name.to_owned(),
        error_code: error_code.to_owned(),
    })
}

fn expectations() -> BTreeMap<&'static str, Expect> {
    use Expect::{Change, Skip, Sweep};
    let is = source::IDENTITY_STORE;
    let console = source::SSO_DIRECTORY;
    let scim = source::SCIM;
    BTreeMap::from([
        // identitystore.amazonaws.com
        (
            "identitystore-CreateGroupMembership.json",
            Change(
                is,
                "CreateGroupMembership",
                vec![Subject::NewMembership {
                    membership: MembershipId::parse(M1).expect("valid"),
                    group: GroupId::parse(G1).expect("valid"),
                    user: UserId::parse(U1).expect("valid"),
                }],
            ),
        ),
        (
            "identitystore-DeleteGroupMembership.json",
            Change(
                is,
                "DeleteGroupMembership",
                vec![Subject::Membership(MembershipId::parse(M1).expect("valid"))],
            ),
        ),
        (
            "identitystore-DeleteUser.json",
            Change(is, "DeleteUser", vec![user(U2)]),
        ),
        (
            "identitystore-DeleteGroup.json",
            Change(is, "DeleteGroup", vec![group(G2)]),
        ),
        (
            "identitystore-UpdateUser.json",
            Change(is, "UpdateUser", vec![user(U1)]),
        ),
        (
            "identitystore-UpdateGroup.json",
            Change(is, "UpdateGroup", vec![group(G1)]),
        ),
        (
            "identitystore-CreateUser.json",
            not_handled(is, "CreateUser"),
        ),
        // Identity Center's own notifications (source aws.identitystore, no trail): the
        // subject comes from the envelope's resources.
        (
            "identitystore-notification-User-Updated.json",
            Change(NOTIFICATION_SOURCE, "User Updated", vec![user(U1)]),
        ),
        (
            "identitystore-notification-User-Deleted.json",
            Change(NOTIFICATION_SOURCE, "User Deleted", vec![user(U2)]),
        ),
        (
            "identitystore-notification-Group-Updated.json",
            Change(NOTIFICATION_SOURCE, "Group Updated", vec![group(G1)]),
        ),
        (
            "identitystore-notification-Group-Deleted.json",
            Change(NOTIFICATION_SOURCE, "Group Deleted", vec![group(G2)]),
        ),
        (
            "identitystore-notification-User-Created.json",
            not_handled(NOTIFICATION_SOURCE, "User Created"),
        ),
        (
            "failed-call-errorCode.json",
            failed("CreateGroupMembership", "ConflictException"),
        ),
        (
            "other-identity-store.json",
            Skip(SkipReason::OtherIdentityStore {
                expected: STORE.to_owned(),
                found: "d-1234567890".to_owned(),
            }),
        ),
        // sso-directory.amazonaws.com
        (
            "sso-directory-AddMemberToGroup.json",
            Change(console, "AddMemberToGroup", vec![user(U1)]),
        ),
        (
            "sso-directory-AddMemberToGroup-empty-session-issuer.json",
            Change(console, "AddMemberToGroup", vec![user(U2)]),
        ),
        (
            "sso-directory-RemoveMemberFromGroup.json",
            Change(console, "RemoveMemberFromGroup", vec![user(U1)]),
        ),
        (
            "sso-directory-DeleteUser.json",
            Change(console, "DeleteUser", vec![user(U2)]),
        ),
        (
            "sso-directory-DisableUser.json",
            Change(console, "DisableUser", vec![user(U1)]),
        ),
        (
            "sso-directory-EnableUser.json",
            Change(console, "EnableUser", vec![user(U1)]),
        ),
        (
            "sso-directory-UpdateUser.json",
            Change(console, "UpdateUser", vec![user(U1)]),
        ),
        (
            "sso-directory-DeleteGroup.json",
            Change(console, "DeleteGroup", vec![group(G2)]),
        ),
        // Console renames: a level-triggered re-read of the group or user.
        (
            "sso-directory-UpdateGroupDisplayName.json",
            Change(console, "UpdateGroupDisplayName", vec![group(G1)]),
        ),
        (
            "sso-directory-UpdateUserName.json",
            Change(console, "UpdateUserName", vec![user(U1)]),
        ),
        // identitystore-scim.amazonaws.com
        (
            "scim-PatchGroup-hidden-members.json",
            Change(scim, "PatchGroup", vec![group(G1)]),
        ),
        (
            "scim-PatchGroup-remove-member.json",
            Change(scim, "PatchGroup", vec![group(G1)]),
        ),
        (
            "scim-PatchGroup-failed-ValidationException.json",
            failed("PatchGroup", "ValidationException"),
        ),
        (
            "scim-PatchGroup-hidden-id.json",
            Skip(SkipReason::NoSubject {
                event_source: scim.to_owned(),
                event_name: "PatchGroup".to_owned(),
                why: format!("detail.requestParameters.id read {HIDDEN:?}"),
            }),
        ),
        (
            "scim-PatchUser.json",
            Change(scim, "PatchUser", vec![user(U1)]),
        ),
        ("scim-PutUser.json", Change(scim, "PutUser", vec![user(U2)])),
        (
            "scim-DeleteUser.json",
            Change(scim, "DeleteUser", vec![user(U2)]),
        ),
        (
            "scim-DeleteGroup.json",
            Change(scim, "DeleteGroup", vec![group(G2)]),
        ),
        ("scim-CreateUser.json", not_handled(scim, "CreateUser")),
        // sagemaker.amazonaws.com
        (
            "sagemaker-UpdateDomain.json",
            Change(
                source::SAGEMAKER,
                "UpdateDomain",
                vec![Subject::Domain(DomainId::parse(DOMAIN).expect("valid"))],
            ),
        ),
        (
            "sagemaker-CreateUserProfile.json",
            Change(
                source::SAGEMAKER,
                "CreateUserProfile",
                vec![profile("jdoe")],
            ),
        ),
        (
            "sagemaker-UpdateUserProfile.json",
            Change(
                source::SAGEMAKER,
                "UpdateUserProfile",
                vec![profile("jdoe")],
            ),
        ),
        (
            "sagemaker-DeleteUserProfile.json",
            Change(
                source::SAGEMAKER,
                "DeleteUserProfile",
                vec![profile("asmith")],
            ),
        ),
        // ec2.amazonaws.com
        (
            "ec2-AuthorizeSecurityGroupIngress.json",
            Change(source::EC2, "AuthorizeSecurityGroupIngress", vec![sg(SG)]),
        ),
        (
            "ec2-AuthorizeSecurityGroupIngress-groupName-only.json",
            Change(
                source::EC2,
                "AuthorizeSecurityGroupIngress",
                vec![sg(SG_DEFAULT)],
            ),
        ),
        (
            "ec2-AuthorizeSecurityGroupEgress.json",
            Change(source::EC2, "AuthorizeSecurityGroupEgress", vec![sg(SG)]),
        ),
        (
            "ec2-RevokeSecurityGroupIngress.json",
            Change(source::EC2, "RevokeSecurityGroupIngress", vec![sg(SG)]),
        ),
        (
            "ec2-RevokeSecurityGroupEgress.json",
            Change(source::EC2, "RevokeSecurityGroupEgress", vec![sg(SG)]),
        ),
        (
            "ec2-ModifySecurityGroupRules.json",
            Change(source::EC2, "ModifySecurityGroupRules", vec![sg(SG)]),
        ),
        // sweeps
        ("scheduler-detail-string.json", Sweep(Mode::Apply, true)),
        (
            "scheduler-detail-string-newlines.json",
            Sweep(Mode::Apply, true),
        ),
        ("scheduled-rule.json", Sweep(Mode::Apply, true)),
        ("sweep-custom-input-plan.json", Sweep(Mode::Plan, false)),
        ("sweep-custom-input-apply.json", Sweep(Mode::Apply, false)),
        ("sweep-custom-input-empty.json", Sweep(Mode::Apply, false)),
        // other EventBridge events
        (
            "signin-ConsoleLogin-other-detail-type.json",
            not_handled("aws.signin", "AWS Console Sign In via CloudTrail"),
        ),
    ])
}

fn samples() -> Vec<(String, Value)> {
    let dir = events_dir();
    let mut samples = Vec::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 name")
            .to_owned();
        if name == "README.md" || name == ROUTES {
            continue;
        }
        assert!(
            name.ends_with(".json"),
            "unexpected file in events/: {name}"
        );
        let text = fs::read_to_string(&path).expect("readable");
        let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        samples.push((name, value));
    }
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    samples
}

/// `events/routes.json`: which function each sample reaches (or that it reaches none). The
/// infrastructure tests (`infra/tests/test_routes.py`) hold the deployed EventBridge patterns
/// to the same file, so the classifier and the rules cannot drift apart.
const ROUTES: &str = "routes.json";

/// Where the classifier's answer sends a payload: the function the rule must invoke.
fn route_of(inbound: &Inbound) -> &'static str {
    match inbound {
        Inbound::Sweep(_) => "schedule",
        Inbound::Skip(_) => "skip",
        // The work queue's SQS events reach compliance-sweep through its event source
        // mapping, not through an EventBridge rule.
        Inbound::Work(_) => "work-queue",
        Inbound::Membership(change) => {
            assert!(
                change.subjects.iter().all(|s| matches!(
                    s,
                    Subject::User(_)
                        | Subject::Group(_)
                        | Subject::Membership(_)
                        | Subject::NewMembership { .. }
                )),
                "a membership change names a drift subject: {change:?}"
            );
            "membership-sync"
        }
        Inbound::Drift(change) => {
            assert!(
                change.subjects.iter().all(|s| matches!(
                    s,
                    Subject::Domain(_) | Subject::Profile { .. } | Subject::SecurityGroup(_)
                )),
                "a drift change names an identity subject: {change:?}"
            );
            "compliance-sweep"
        }
    }
}

#[test]
fn every_sample_is_routed_where_the_classifier_sends_it() {
    let path = events_dir().join(ROUTES);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let routes: BTreeMap<String, String> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{ROUTES}: {e}"));
    let samples = samples();
    let names: Vec<&str> = samples.iter().map(|(n, _)| n.as_str()).collect();
    let listed: Vec<&str> = routes.keys().map(String::as_str).collect();
    assert_eq!(
        listed, names,
        "{ROUTES} must list every sample, and only samples"
    );
    for (name, payload) in &samples {
        let got = classify(payload, &store()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            route_of(&got),
            routes[name.as_str()],
            "{name}: the classifier says {got:?}"
        );
    }
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

#[test]
fn every_sample_classifies_as_expected() {
    let mut expected = expectations();
    let samples = samples();
    for (name, payload) in &samples {
        let expect = expected
            .remove(name.as_str())
            .unwrap_or_else(|| panic!("{name} has no expectation: add it to expectations()"));
        let got = classify(payload, &store()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let envelope_id = str_at(payload, "/id").map(str::to_owned);
        match (expect, got) {
            (Expect::Sweep(mode, enveloped), Inbound::Sweep(sweep)) => {
                assert_eq!(sweep.mode, mode, "{name}");
                assert_eq!(
                    sweep.trigger_id,
                    if enveloped { envelope_id } else { None },
                    "{name}"
                );
            }
            (
                Expect::Change(event_source, event_name, subjects),
                Inbound::Membership(change) | Inbound::Drift(change),
            ) => {
                assert_eq!(Some(change.event_id), envelope_id, "{name}");
                assert_eq!(
                    change.cloudtrail_event_id.as_deref(),
                    str_at(payload, "/detail/eventID"),
                    "{name}"
                );
                // The record's time, else (notifications, records without one) the envelope's.
                assert_eq!(
                    change.event_time.as_deref(),
                    str_at(payload, "/detail/eventTime").or_else(|| str_at(payload, "/time")),
                    "{name}"
                );
                assert_eq!(change.event_source, event_source, "{name}");
                assert_eq!(change.event_name, event_name, "{name}");
                assert_eq!(change.subjects, subjects, "{name}");
            }
            (Expect::Skip(reason), Inbound::Skip(skip)) => {
                assert_eq!(skip.event_id, envelope_id, "{name}");
                assert_eq!(skip.reason, reason, "{name}");
            }
            (_, got) => panic!("{name}: unexpected {got:?}"),
        }
    }
    assert!(
        expected.is_empty(),
        "expectations without a sample file: {:?}",
        expected.keys().collect::<Vec<_>>()
    );
}

#[test]
fn every_sample_uses_the_shared_fixture_values() {
    for (name, payload) in samples() {
        if payload.get("detail-type").is_none() {
            continue;
        }
        assert_eq!(str_at(&payload, "/account"), Some("111122223333"), "{name}");
        assert_eq!(str_at(&payload, "/region"), Some("us-east-1"), "{name}");
        for key in [
            "version",
            "id",
            "detail-type",
            "source",
            "time",
            "resources",
            "detail",
        ] {
            assert!(payload.get(key).is_some(), "{name} lacks {key}");
        }
        if let Some(store_id) = str_at(&payload, "/detail/requestParameters/identityStoreId") {
            assert!(
                store_id == STORE || name == "other-identity-store.json",
                "{name}"
            );
        }
    }
}

#[test]
fn classifications_serialise_for_a_plan() {
    for (name, payload) in samples() {
        let inbound = classify(&payload, &store()).expect("classifies");
        let echoed = serde_json::to_value(&inbound).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(echoed.is_object(), "{name}");
    }
    let sweep = classify(&json!({"mode": "plan"}), &store()).expect("sweep");
    assert_eq!(
        serde_json::to_value(sweep).expect("serialises"),
        json!({"sweep": {"mode": "plan", "trigger_id": null}})
    );
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Keys and strings that steer arbitrary JSON into the classifier's interesting branches.
const KEYS: &[&str] = &[
    "detail-type",
    "detail",
    "source",
    "id",
    "time",
    "mode",
    "eventSource",
    "eventName",
    "eventID",
    "eventTime",
    "errorCode",
    "requestParameters",
    "responseElements",
    "identityStoreId",
    "groupId",
    "userId",
    "memberId",
    "member",
    "membershipId",
    "domainId",
    "userProfileName",
    "groupName",
    "securityGroupRuleSet",
    "items",
    "ModifySecurityGroupRulesRequest",
    "GroupId",
    "resources",
];
const STRINGS: &[&str] = &[
    "AWS API Call via CloudTrail",
    "Scheduled Event",
    "aws.scheduler",
    "aws.events",
    "{}",
    "\n{}\n",
    "plan",
    "apply",
    "identitystore.amazonaws.com",
    "sso-directory.amazonaws.com",
    "identitystore-scim.amazonaws.com",
    "sagemaker.amazonaws.com",
    "ec2.amazonaws.com",
    "CreateGroupMembership",
    "DeleteGroupMembership",
    "AddMemberToGroup",
    "PatchGroup",
    "UpdateDomain",
    "CreateUserProfile",
    "AuthorizeSecurityGroupIngress",
    "ModifySecurityGroupRules",
    STORE,
    U1,
    G1,
    M1,
    DOMAIN,
    SG,
    HIDDEN,
    "d-1234567890",
    "aws.identitystore",
    "User Updated",
    "Group Deleted",
    "arn:aws:identitystore:::user/9067c0ffee-1111aaaa-0000-4000-8000-000000000001",
    "arn:aws:identitystore:::group/not-an-id",
    "arn:aws:identitystore::111122223333:identitystore/d-9067c0ffee",
    "",
];

fn arb_string() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(STRINGS).prop_map(str::to_owned),
        1 => ".{0,40}",
        1 => "\\PC{0,12}",
    ]
}

fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(KEYS).prop_map(str::to_owned),
        1 => "[a-zA-Z-]{0,12}",
    ]
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        arb_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 96, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((arb_key(), inner), 0..8)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

const EVENTS: &[(&str, &str)] = &[
    ("identitystore.amazonaws.com", "CreateGroupMembership"),
    ("identitystore.amazonaws.com", "DeleteGroupMembership"),
    ("identitystore.amazonaws.com", "DeleteUser"),
    ("identitystore.amazonaws.com", "UpdateGroup"),
    ("identitystore.amazonaws.com", "CreateUser"),
    ("sso-directory.amazonaws.com", "AddMemberToGroup"),
    ("sso-directory.amazonaws.com", "DisableUser"),
    ("sso-directory.amazonaws.com", "DeleteGroup"),
    ("identitystore-scim.amazonaws.com", "PatchGroup"),
    ("identitystore-scim.amazonaws.com", "PutUser"),
    ("sagemaker.amazonaws.com", "UpdateDomain"),
    ("sagemaker.amazonaws.com", "UpdateUserProfile"),
    ("ec2.amazonaws.com", "AuthorizeSecurityGroupIngress"),
    ("ec2.amazonaws.com", "ModifySecurityGroupRules"),
    ("s3.amazonaws.com", "PutObject"),
];

/// A field value: mostly plausible ids, sometimes anything at all.
fn arb_field() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => proptest::sample::select(STRINGS).prop_map(Value::from),
        1 => arb_json(),
        1 => proptest::collection::vec((proptest::sample::select(KEYS), proptest::sample::select(STRINGS)), 0..4)
            .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), Value::from(v))).collect())),
    ]
}

fn arb_object() -> impl Strategy<Value = Value> {
    proptest::collection::vec((proptest::sample::select(KEYS), arb_field()), 0..8).prop_map(
        |pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
    )
}

/// A CloudTrail record of a known source and name with plausible, partly broken parameters.
fn arb_api_call() -> impl Strategy<Value = Value> {
    (
        proptest::sample::select(EVENTS),
        arb_object(),
        prop_oneof![Just(Value::Null), arb_object(), arb_json()],
        proptest::option::weighted(0.1, arb_field()),
        proptest::option::weighted(0.1, arb_json()),
    )
        .prop_map(|((source, name), params, response, error, extra)| {
            let mut detail = json!({
                "eventSource": source, "eventName": name, "eventID": "e-1",
                "requestParameters": params, "responseElements": response,
            });
            if let Some(error) = error {
                detail["errorCode"] = error;
            }
            if let Some(extra) = extra {
                detail["eventTime"] = extra;
            }
            detail
        })
}

/// Checks what must hold for any outcome, and that the outcome is deterministic.
fn check(payload: &Value) -> Result<(), TestCaseError> {
    let first = classify(payload, &store());
    let second = classify(payload, &store());
    prop_assert_eq!(&first, &second);
    match first {
        Ok(Inbound::Membership(change) | Inbound::Drift(change)) => {
            prop_assert!(!change.subjects.is_empty());
            for (i, subject) in change.subjects.iter().enumerate() {
                prop_assert!(
                    !change.subjects[..i].contains(subject),
                    "duplicate {:?}",
                    subject
                );
            }
            prop_assert!(serde_json::to_value(&change).is_ok());
        }
        Ok(other) => prop_assert!(serde_json::to_value(&other).is_ok()),
        Err(error) => {
            prop_assert!(!error.is_retryable());
            prop_assert!(!error.to_string().is_empty());
        }
    }
    Ok(())
}

/// Every location in a JSON value, as a JSON pointer.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let path = format!("{at}/{i}");
                out.push(path.clone());
                pointers(child, path, out);
            }
        }
        _ => {}
    }
}

fn mutate(mut payload: Value, pointer: &str, replacement: Option<Value>) -> Value {
    let (parent, last) = pointer.rsplit_once('/').expect("non-root pointer");
    let key = last.replace("~1", "/").replace("~0", "~");
    match (payload.pointer_mut(parent), replacement) {
        (Some(Value::Object(map)), None) => {
            map.remove(&key);
        }
        (Some(Value::Array(items)), None) => {
            if let Ok(i) = key.parse::<usize>() {
                items.remove(i);
            }
        }
        (Some(_), Some(value)) => {
            if let Some(slot) = payload.pointer_mut(pointer) {
                *slot = value;
            }
        }
        _ => {}
    }
    payload
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics(payload in arb_json()) {
        check(&payload)?;
    }

    #[test]
    fn arbitrary_api_calls_never_panic(detail in arb_api_call()) {
        let payload = json!({
            "version": "0", "id": "0d8f0c52-4a8b-4c53-9d0e-1f2a3b4c5d6e",
            "detail-type": "AWS API Call via CloudTrail", "source": "aws.test",
            "account": "111122223333", "time": "2025-11-14T14:07:31Z", "region": "us-east-1",
            "resources": [], "detail": detail,
        });
        check(&payload)?;
    }

    #[test]
    fn mutated_samples_never_panic(
        sample in proptest::sample::select(samples()),
        picks in proptest::collection::vec((any::<proptest::sample::Index>(), proptest::option::of(arb_json())), 1..4),
    ) {
        let (_, mut payload) = sample;
        for (index, replacement) in picks {
            let mut all = Vec::new();
            pointers(&payload, String::new(), &mut all);
            if all.is_empty() {
                break;
            }
            let pointer = index.get(&all).clone();
            payload = mutate(payload, &pointer, replacement);
        }
        check(&payload)?;
    }
}
