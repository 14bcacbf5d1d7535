use std::collections::BTreeMap;

use super::*;
use crate::ids::ResourceName;
use crate::policy::Policy;

fn uid(n: u32) -> UserId {
    UserId::parse(&format!("9067c0ffee-{n:08x}-0000-4000-8000-000000000001")).expect("id")
}

fn gid() -> GroupId {
    GroupId::parse("9067c0ffee-2222bbbb-0000-4000-8000-000000000001").expect("id")
}

fn policy(template_role: &str) -> Policy {
    let source = format!(
        r#"[identity_store]
id = "d-9067c0ffee"

[[domains]]
name = "research"
id = "d-abc123def456"

[[domains]]
name = "vision"
id = "d-abc123def457"

[[mappings]]
group = "ml-researchers"
domain = "research"
priority = 10
execution_role = "{template_role}"

[[mappings]]
group = "ml-vision"
domain = "vision"
priority = 10
execution_role = "arn:aws:iam::123456789012:role/vision"
"#
    );
    Policy::parse(&source, "test", &BTreeMap::new()).expect("policy")
}

fn item(users: u32) -> WorkItem {
    WorkItem {
        format: ITEM_FORMAT,
        sweep_id: "sweep-01JTEST".into(),
        domain: "research".into(),
        now: 1_790_000_000,
        policy: fingerprint(&policy("arn:aws:iam::123456789012:role/research")),
        mappings: BTreeMap::from([(0, MappingStatus::Resolved { group: gid() })]),
        desired: (0..users)
            .map(|n| {
                (
                    uid(n),
                    Wanted {
                        user_name: format!("user{n}@example.com"),
                        mapping: 0,
                        group: gid(),
                    },
                )
            })
            .collect(),
        released: BTreeMap::from([(uid(1), None), (uid(2), Some("01JHOLD".to_owned()))]),
    }
}

#[test]
fn the_default_limits_keep_below_aws_limits() {
    let limits = Limits::default();
    assert!(limits.inline_bytes < SQS_MESSAGE_MAX_BYTES);
    assert_eq!(SQS_MESSAGE_MAX_BYTES, 1024 * 1024);
    // A chunk and its keys and attribute names fit one DynamoDB item.
    assert!(limits.chunk_bytes + 1024 < DYNAMODB_ITEM_MAX_BYTES);
}

#[test]
fn a_small_item_goes_inline_and_reads_back_the_same() {
    let item = item(3);
    let encoded = encode(&item, Limits::default()).expect("encodes");
    let Encoded::Inline { body } = &encoded else {
        panic!("not inline: {encoded:?}");
    };
    assert_eq!(decode(body), Ok(Body::Item(Box::new(item))));
}

#[test]
fn the_size_decision_is_the_json_size_against_the_inline_limit() {
    let item = item(3);
    let json = serde_json::to_string(&Body::Item(Box::new(item.clone()))).expect("json");
    let exactly = Limits {
        inline_bytes: json.len(),
        chunk_bytes: 100,
    };
    assert!(matches!(encode(&item, exactly), Ok(Encoded::Inline { .. })));
    let one_less = Limits {
        inline_bytes: json.len() - 1,
        chunk_bytes: 100,
    };
    assert!(matches!(
        encode(&item, one_less),
        Ok(Encoded::Stored { .. })
    ));
}

#[test]
fn a_large_item_goes_through_the_ledger_whole_in_ordered_chunks() {
    // 12,000 users: about 1.3 MB of JSON, over SQS's 1 MiB.
    let item = item(12_000);
    let limits = Limits::default();
    let json = serde_json::to_string(&Body::Item(Box::new(item.clone()))).expect("json");
    assert!(json.len() > SQS_MESSAGE_MAX_BYTES, "{}", json.len());
    let Encoded::Stored {
        body,
        reference,
        chunks,
    } = encode(&item, limits).expect("encodes")
    else {
        panic!("not stored");
    };
    assert!(body.len() < 1024, "{body}");
    assert_eq!(decode(&body), Ok(Body::Stored(reference.clone())));
    assert!(chunks.iter().all(|c| c.len() <= limits.chunk_bytes));
    assert_eq!(chunks.len(), json.len().div_ceil(limits.chunk_bytes));
    assert_eq!(reference.chunks as usize, chunks.len());
    // Never truncated: the chunks are the whole item, in order.
    assert_eq!(chunks.concat(), json.as_bytes());
    assert_eq!(reassemble(&reference, chunks), Ok(item));
}

#[test]
fn a_stored_item_missing_a_chunk_or_changed_is_refused() {
    let item = item(50);
    let limits = Limits {
        inline_bytes: 100,
        chunk_bytes: 500,
    };
    let Encoded::Stored {
        reference, chunks, ..
    } = encode(&item, limits).expect("encodes")
    else {
        panic!("not stored");
    };
    assert!(chunks.len() > 2);
    let mut missing = chunks.clone();
    missing.pop();
    assert!(matches!(
        reassemble(&reference, missing),
        Err(ItemError::Stored { .. })
    ));
    let mut changed = chunks.clone();
    changed[1][0] ^= 1;
    assert!(matches!(
        reassemble(&reference, changed),
        Err(ItemError::Stored { .. })
    ));
    let other = StoredRef {
        domain: "vision".into(),
        ..reference.clone()
    };
    assert!(matches!(
        reassemble(&other, chunks),
        Err(ItemError::Stored { .. })
    ));
}

#[test]
fn a_body_that_is_not_a_work_item_is_malformed() {
    for body in [
        "",
        "not json",
        "{}",
        r#"{"mode":"apply"}"#,
        r#"{"item":{"format":1}}"#,
        r#"{"stored":{"sweep_id":"s","domain":"d","chunks":1,"bytes":1,"sha256":"x","extra":1}}"#,
    ] {
        assert!(
            matches!(decode(body), Err(ItemError::Malformed(_))),
            "{body:?}: {:?}",
            decode(body)
        );
    }
    let mut future = item(1);
    future.format = ITEM_FORMAT + 1;
    let body = serde_json::to_string(&Body::Item(Box::new(future))).expect("json");
    assert_eq!(decode(&body), Err(ItemError::Format(ITEM_FORMAT + 1)));
}

#[test]
fn fifo_failures_are_the_first_failed_message_and_every_later_one() {
    let ids: Vec<String> = ["m1", "m2", "m3", "m4"].map(String::from).to_vec();
    assert!(batch_item_failures(&ids, None).is_empty());
    assert_eq!(batch_item_failures(&ids, Some(0)), ids);
    assert_eq!(batch_item_failures(&ids, Some(2)), ["m3", "m4"]);
    assert_eq!(batch_item_failures(&ids, Some(3)), ["m4"]);
    assert!(batch_item_failures(&ids, Some(9)).is_empty());
}

#[test]
fn the_dedup_id_is_the_sweep_and_the_domain_or_its_hash() {
    assert_eq!(dedup_id("sweep-01J", "research"), "sweep-01J#research");
    let long = "x".repeat(200);
    let id = dedup_id("sweep-01J", &long);
    assert_eq!(id.len(), 64);
    assert!(sqs_token_ok(&id));
    assert_ne!(id, dedup_id("sweep-01K", &long));
    assert!(sqs_token_ok(&dedup_id("sweep 01J", "research")));
}

#[test]
fn the_fingerprint_follows_the_mappings() {
    let a = fingerprint(&policy("arn:aws:iam::123456789012:role/research"));
    assert_eq!(
        a,
        fingerprint(&policy("arn:aws:iam::123456789012:role/research"))
    );
    assert_ne!(
        a,
        fingerprint(&policy("arn:aws:iam::123456789012:role/other"))
    );
}

fn start(kind: &str, n: u32) -> Action {
    let user = uid(n);
    let profile = ResourceName::parse(&format!("user-{n}")).expect("name");
    let reason = "left".to_owned();
    match kind {
        "StartGrace" => Action::StartGrace {
            user,
            profile,
            reason,
            released_by: None,
        },
        "Offboard" => Action::Offboard {
            user,
            profile,
            reason,
            released_by: None,
        },
        _ => Action::Forget {
            user,
            profile,
            reason,
        },
    }
}

#[test]
fn a_worker_starts_only_the_leavings_the_gate_released() {
    let released = item(0).released;
    let actions = vec![
        start("StartGrace", 1),
        start("StartGrace", 2),
        start("Offboard", 3),
        start("Forget", 4),
    ];
    let is_start = |a: &Action| matches!(a, Action::StartGrace { .. } | Action::Offboard { .. });
    let (keep, deferred) = keep_released(actions, is_start, &released);
    assert_eq!(deferred, vec![start("Offboard", 3)]);
    assert_eq!(keep.len(), 3);
    assert_eq!(keep[0], start("StartGrace", 1));
    assert_eq!(keep[1].released_by(), Some("01JHOLD"));
    assert!(
        matches!(&keep[1], Action::StartGrace { reason, .. } if reason.ends_with("(released by hold 01JHOLD)"))
    );
    assert_eq!(keep[2], start("Forget", 4));
}

#[test]
fn a_worker_rebuilds_entitlements_from_its_policy_and_refuses_a_foreign_mapping() {
    let policy = policy("arn:aws:iam::123456789012:role/research");
    let good = item(2);
    let rebuilt = crate::engine::entitlements(&policy, &good).expect("rebuilt");
    assert_eq!(rebuilt.len(), 2);
    let e = &rebuilt[&uid(1)];
    assert_eq!(e.user_name, "user1@example.com");
    assert_eq!(e.template_hash, policy.mappings[0].template_hash);
    assert_eq!(e.template, policy.mappings[0].template);
    // Mapping 1 is vision's: an item for research cannot name it.
    let mut foreign = item(1);
    if let Some(w) = foreign.desired.values_mut().next() {
        w.mapping = 1;
    }
    assert!(matches!(
        crate::engine::entitlements(&policy, &foreign),
        Err(ItemError::Malformed(_))
    ));
    let mut missing = item(1);
    if let Some(w) = missing.desired.values_mut().next() {
        w.mapping = 7;
    }
    assert!(matches!(
        crate::engine::entitlements(&policy, &missing),
        Err(ItemError::Malformed(_))
    ));
}

#[test]
fn the_retry_backoff_doubles_with_each_receipt_up_to_the_longest_function_run() {
    let secs = |n: Option<u32>| retry_backoff(n).as_secs();
    assert_eq!(secs(None), 60);
    assert_eq!(secs(Some(0)), 60);
    assert_eq!(secs(Some(1)), 60);
    assert_eq!(secs(Some(2)), 120);
    assert_eq!(secs(Some(4)), 480);
    assert_eq!(secs(Some(5)), 900);
    assert_eq!(secs(Some(u32::MAX)), 900);
}
