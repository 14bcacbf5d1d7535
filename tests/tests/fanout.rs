//! The fanned-out sweep on the emulator: the coordinator (compliance-sweep with a work queue)
//! against a real SQS FIFO queue, then the messages it sent fed to the real handler as the
//! SQS event source mapping would deliver them (`Records`), and the messages the handler did
//! not report failed deleted, as the mapping does.

use std::collections::BTreeMap;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use warden::fanout::{self, Limits, WorkItem};
use warden::model::Phase;
use warden::ports::{Ledger, SweepSummary};
use warden_tests::FaultRule;
use warden_tests::fixture::*;
use warden_tests::queue::*;

/// A world with a second domain, "vision", mapped from the group `ml-vision`, and a FIFO
/// work queue. Answers the world, the vision domain's id, the group's id and the queue URL.
async fn two_domains(extra_offboarding: &str) -> (World, String, String, String) {
    let mut world = World::new().await.expect("world");
    let vision = world
        .sagemaker
        .create_domain()
        .domain_name("vision")
        .auth_mode(aws_sdk_sagemaker::types::AuthMode::Iam)
        .app_network_access_type(aws_sdk_sagemaker::types::AppNetworkAccessType::VpcOnly)
        .default_user_settings(
            aws_sdk_sagemaker::types::UserSettings::builder()
                .execution_role(RESEARCH_ROLE)
                .security_groups(&world.research_sg)
                .build(),
        )
        .set_subnet_ids(Some(world.subnets.clone()))
        .vpc_id(&world.vpc)
        .send()
        .await
        .expect("CreateDomain vision")
        .domain_id()
        .expect("domain id")
        .to_owned();
    let group = world.create_group("ml-vision").await.expect("group");
    let added = format!(
        r#"[[domains]]
name = "vision"
id = "{vision}"

[[mappings]]
group = "ml-vision"
domain = "vision"
priority = 10
execution_role = "{RESEARCH_ROLE}"
security_groups = ["{sg}"]

[offboarding]
{extra_offboarding}"#,
        sg = world.research_sg,
    );
    world
        .edit_policy("[offboarding]\n", &added)
        .expect("policy with two domains");
    let queue = fifo_queue(&world).await;
    (world, vision, group, queue)
}

/// The work queue: FIFO, with a visibility timeout of 1 s.
async fn fifo_queue(world: &World) -> String {
    world
        .sqs
        .create_queue()
        .queue_name("studio-warden-work.fifo")
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(QueueAttributeName::VisibilityTimeout, "1")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("url")
        .to_owned()
}

/// [`two_domains`] with one user (lin) in vision's group, and with `ada` another in the
/// researchers, and an apply sweep's coordinator run: vision's item waits in the queue, and
/// research's behind it when ada joined (else research is settled: nothing to enqueue).
/// Answers the world, vision's id, the queue and the fan-out over it.
async fn lin_joins_vision_and_a_sweep_queues(
    ada: bool,
) -> (World, String, String, warden::adapters::SqsFanOut) {
    let (world, vision, ml_vision, queue) = two_domains("").await;
    let fanout = fan_out(&world, &queue, Limits::default());
    if ada {
        let ada = world.add_user("ada@example.com").await.expect("user");
        world.join(&ada, &world.researchers).await.expect("join");
    }
    let lin = world.add_user("lin@example.com").await.expect("user");
    world.join(&lin, &ml_vision).await.expect("join");
    invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    (world, vision, queue, fanout)
}

async fn profiles_of(world: &World, domain: &str) -> Vec<String> {
    world
        .sagemaker
        .list_user_profiles()
        .domain_id_equals(domain)
        .send()
        .await
        .expect("ListUserProfiles")
        .user_profiles()
        .iter()
        .filter_map(|p| p.user_profile_name().map(str::to_owned))
        .collect()
}

/// Waits until every profile of `domain` is in service (the world's own `settle` waits for its
/// own domain only).
async fn settle(world: &World, domain: &str) {
    for _ in 0..100 {
        let listed = world
            .sagemaker
            .list_user_profiles()
            .domain_id_equals(domain)
            .send()
            .await
            .expect("ListUserProfiles");
        if listed
            .user_profiles()
            .iter()
            .all(|p| p.status().map(|s| s.as_str()) == Some("InService"))
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the profiles of {domain} did not settle in 10 s");
}

async fn latest_sweep(world: &World) -> SweepSummary {
    world
        .engine
        .ledger
        .sweeps(1)
        .await
        .expect("sweeps")
        .into_iter()
        .next()
        .expect("a sweep")
}

fn domains_of(report: &Value) -> Vec<String> {
    report["queued"]
        .as_array()
        .map(|q| {
            q.iter()
                .map(|d| d["domain"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Users in two domains: the coordinator reads the directory once, plans both domains and
/// enqueues one item each (nothing applied yet, both in the domains' place's message group);
/// the workers create the profiles; the sweep's summary adds the two domains' results up. A
/// second sweep changes nothing and writes nothing to SageMaker.
#[tokio::test]
async fn a_fanned_out_sweep_reconciles_each_domain_in_its_worker() {
    let (world, vision, ml_vision, queue) = two_domains("").await;
    let fanout = fan_out(&world, &queue, Limits::default());
    for name in ["ada@example.com", "grace@example.com"] {
        let user = world.add_user(name).await.expect("user");
        world.join(&user, &world.researchers).await.expect("join");
    }
    let lin = world.add_user("lin@example.com").await.expect("user");
    world.join(&lin, &ml_vision).await.expect("join");

    let before = world.emulator.stats().await.expect("stats");
    let report = invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    assert_eq!(domains_of(&report), ["research", "vision"], "{report:#}");
    assert_eq!(
        report["actions"],
        json!([]),
        "the coordinator applies nothing"
    );
    let calls = warden_tests::calls_between(&before, &world.emulator.stats().await.expect("stats"));
    assert_eq!(calls.get("sagemaker:CreateUserProfile"), None, "{calls:?}");
    // The directory read once: one ListGroupMemberships per mapped group, one ListUsers.
    assert_eq!(calls.get("identitystore:ListUsers"), Some(&1), "{calls:?}");
    assert_eq!(
        calls.get("identitystore:ListGroupMemberships"),
        Some(&3),
        "{calls:?}"
    );
    let pending = latest_sweep(&world).await;
    assert!(!pending.complete, "no worker has reported yet: {pending:?}");
    assert_eq!(
        pending.fanned_out.as_ref().map(|p| (p.domains, p.reported)),
        Some((2, 0))
    );

    let messages = receive(&world, &queue).await;
    assert_eq!(messages.len(), 2);
    assert!(
        messages.iter().all(|m| m.group == "self#home"),
        "{messages:?}"
    );
    assert!(work(&world, &fanout, &queue, &messages).await.is_empty());
    assert_eq!(profiles_of(&world, world.domain.as_str()).await.len(), 2);
    assert_eq!(profiles_of(&world, &vision).await.len(), 1);
    let summary = latest_sweep(&world).await;
    assert!(summary.complete, "{summary:?}");
    assert_eq!(summary.actions.get("Create"), Some(&3), "{summary:?}");
    assert_eq!(
        summary
            .fanned_out
            .as_ref()
            .map(|p| (p.domains, p.reported, p.complete)),
        Some((2, 2, 2))
    );
    let (exit, out) = world.cli(&["sweeps", "--json"]).await;
    assert_eq!(exit, warden::operator::Exit::Ok, "{out:?}");

    // Nothing changed: once the records know the profiles are in service (one more sweep,
    // bookkeeping only), a sweep plans nothing and its workers write nothing to SageMaker.
    world.settle().await.expect("settle");
    settle(&world, &vision).await;
    invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    let messages = receive(&world, &queue).await;
    assert!(work(&world, &fanout, &queue, &messages).await.is_empty());
    let summary = latest_sweep(&world).await;
    assert_eq!(
        summary.actions.keys().collect::<Vec<_>>(),
        ["Record"],
        "{summary:?}"
    );
    // Both domains settled: the coordinator checks them from its own reading, so nothing is
    // enqueued, each domain is listed once, and the sweep is complete when it answers.
    let before = world.emulator.stats().await.expect("stats");
    let report = invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    assert_eq!(domains_of(&report), Vec::<String>::new(), "{report:#}");
    assert!(receive(&world, &queue).await.is_empty());
    let calls = warden_tests::calls_between(&before, &world.emulator.stats().await.expect("stats"));
    let sagemaker_writes: Vec<_> = calls
        .keys()
        .filter(|k| k.starts_with("sagemaker:") && !k.contains(":List") && !k.contains(":Describe"))
        .collect();
    assert!(sagemaker_writes.is_empty(), "{calls:?}");
    assert_eq!(
        calls.get("sagemaker:ListUserProfiles"),
        Some(&2),
        "{calls:?}"
    );
    assert_eq!(calls.get("sqs:SendMessage"), None, "{calls:?}");
    let summary = latest_sweep(&world).await;
    assert!(summary.complete, "{summary:?}");
    assert!(summary.actions.is_empty(), "{summary:?}");
    assert_eq!(
        summary
            .fanned_out
            .as_ref()
            .map(|p| (p.domains, p.reported, p.complete)),
        Some((2, 2, 2))
    );

    // A plan still answers in one call: no message sent.
    let plan = invoke(&world, &fanout, json!({"mode": "plan"}))
        .await
        .expect("plan");
    assert!(plan.get("queued").is_none(), "{plan:#}");
    assert!(receive(&world, &queue).await.is_empty());
}

/// A message for a domain the policy does not name, and one that is not a work item, are
/// poison: reported failed (SQS moves them to the dead-letter queue after maxReceiveCount),
/// while the others are done. On a FIFO queue everything after the first failure of a batch
/// is reported failed too, and not worked.
#[tokio::test]
async fn an_unknown_domain_fails_alone_and_fifo_order_holds() {
    let (world, vision, queue, fanout) = lin_joins_vision_and_a_sweep_queues(true).await;
    let mut sent = receive(&world, &queue).await;
    assert_eq!(sent.len(), 2);
    let research = sent.remove(0);
    let vision_item = sent.remove(0);
    let fanout::Body::Item(item) = fanout::decode(&research.body).expect("an item") else {
        panic!("stored");
    };
    let unknown = WorkItem {
        domain: "nowhere".into(),
        ..*item
    };
    let body = fanout::encode(&unknown, Limits::default()).expect("encodes");
    world
        .sqs
        .send_message()
        .queue_url(&queue)
        .message_body(body.body())
        // Another group: the research and vision items, received and not yet deleted, hold
        // theirs (FIFO delivers nothing more of a group while a message of it is in flight).
        .message_group_id("other#home")
        .message_deduplication_id("unknown-domain")
        .send()
        .await
        .expect("SendMessage");
    let poison = receive(&world, &queue).await.remove(0);
    let garbage = Received {
        id: "garbage-1".into(),
        body: "this is not a work item".into(),
        ..poison.clone()
    };

    // The unknown domain first: it fails, and the research item after it is not worked.
    let failed = work(&world, &fanout, &queue, &[poison.clone(), research.clone()]).await;
    assert_eq!(failed, [poison.id.clone(), research.id.clone()]);
    assert!(profiles_of(&world, world.domain.as_str()).await.is_empty());

    // The unknown domain last: the others are done, it alone fails; garbage fails too.
    let failed = work(
        &world,
        &fanout,
        &queue,
        &[research, vision_item, poison.clone()],
    )
    .await;
    assert_eq!(failed, [poison.id]);
    assert_eq!(profiles_of(&world, world.domain.as_str()).await.len(), 1);
    assert_eq!(profiles_of(&world, &vision).await.len(), 1);
    assert_eq!(
        work(&world, &fanout, &queue, std::slice::from_ref(&garbage)).await,
        [garbage.id]
    );
}

/// An item larger than the message limit (here made small) goes through the ledger in chunks
/// with a TTL, and the worker puts it together whole.
#[tokio::test]
async fn an_oversized_item_goes_through_the_ledger() {
    let (world, vision, ml_vision, queue) = two_domains("").await;
    let limits = Limits {
        inline_bytes: 256,
        chunk_bytes: 300,
    };
    let fanout = fan_out(&world, &queue, limits);
    for n in 0..4 {
        let user = world
            .add_user(&format!("user{n}@example.com"))
            .await
            .expect("user");
        world.join(&user, &ml_vision).await.expect("join");
    }
    let report = invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    let stored: Vec<u64> = report["queued"]
        .as_array()
        .expect("queued")
        .iter()
        .filter_map(|q| q["stored_chunks"].as_u64())
        .collect();
    // Research has no users: settled, checked by the coordinator, not enqueued.
    assert_eq!(domains_of(&report), ["vision"], "{report:#}");
    assert_eq!(stored.len(), 1, "{report:#}");
    assert!(stored.iter().any(|n| *n > 2), "{report:#}");
    let messages = receive(&world, &queue).await;
    assert!(
        messages
            .iter()
            .all(|m| m.body.len() < 512 && m.body.starts_with("{\"stored\"")),
        "{messages:?}"
    );
    // The chunks carry an expiry (DynamoDB TTL).
    let sweep_id = report["trigger"].as_str().expect("trigger");
    let chunks = world
        .dynamodb
        .query()
        .table_name(&world.table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("WORK#{sweep_id}#vision")),
        )
        .send()
        .await
        .expect("Query");
    assert!(chunks.count() > 2);
    assert!(chunks.items().iter().all(|i| i.contains_key("expires_at")));
    assert!(work(&world, &fanout, &queue, &messages).await.is_empty());
    assert_eq!(profiles_of(&world, &vision).await.len(), 4);
    assert!(latest_sweep(&world).await.complete);
}

/// Bulk offboarding under fan-out: the central gate holds it, and no worker starts a leaving
/// the gate did not release, even for a user who left after the coordinator planned. Approved,
/// the next fanned-out sweep releases the held users to their workers.
#[tokio::test]
async fn the_central_hold_holds_a_bulk_offboarding_under_fan_out() {
    let (world, _vision, _ml_vision, queue) = two_domains("max_per_run = 2\n").await;
    let fanout = fan_out(&world, &queue, Limits::default());
    let mut users = Vec::new();
    for n in 0..4 {
        let user = world
            .add_user(&format!("user{n}@example.com"))
            .await
            .expect("user");
        let membership = world.join(&user, &world.researchers).await.expect("join");
        users.push((user, membership));
    }
    invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    let messages = receive(&world, &queue).await;
    assert!(work(&world, &fanout, &queue, &messages).await.is_empty());

    // One leaver passes the gate: her grace period starts.
    world.leave(&users[0].1).await.expect("leave");
    invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    let messages = receive(&world, &queue).await;
    assert!(work(&world, &fanout, &queue, &messages).await.is_empty());
    let record = world
        .record(&users[0].0)
        .await
        .expect("record")
        .expect("one");
    assert!(matches!(record.phase, Phase::Grace { .. }), "{record:?}");

    // Her grace period ends after the coordinator planned (it released nothing): the worker
    // finds her suspension due, and defers it rather than start what the gate never counted.
    // (Eve joins, so that research has work and an item: a domain with nothing to write is
    // settled by the coordinator, and no worker runs later than its plan.)
    let eve = world.add_user("eve@example.com").await.expect("user");
    world.join(&eve, &world.researchers).await.expect("join");
    invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    let messages = receive(&world, &queue).await;
    let fanout::Body::Item(item) = fanout::decode(&messages[0].body).expect("item") else {
        panic!("stored");
    };
    assert_eq!(item.domain, "research");
    assert!(item.released.is_empty(), "{item:?}");
    let worked = world
        .engine
        .work(&item, now() + 2 * 3600, None)
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let warden::engine::Worked::Done { report, .. } = worked else {
        panic!("dropped");
    };
    let suspend: Vec<_> = report
        .actions
        .iter()
        .filter(|a| a.action.kind() == "Suspend")
        .collect();
    assert_eq!(suspend.len(), 1, "{:?}", report.actions);
    assert!(
        suspend[0]
            .outcome
            .to_string()
            .starts_with("deferred: the central gate"),
        "{}",
        suspend[0].outcome
    );
    let record = world
        .record(&users[0].0)
        .await
        .expect("record")
        .expect("one");
    assert!(matches!(record.phase, Phase::Grace { .. }), "{record:?}");
    assert!(work(&world, &fanout, &queue, &messages).await.is_empty());

    // The three others leave at once: more than max_per_run, held centrally.
    for (_, membership) in &users[1..] {
        world.leave(membership).await.expect("leave");
    }
    let report = invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    let hold = report["hold"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no hold: {report:#}"))
        .to_owned();
    assert_eq!(report["hold"]["users"].as_array().map(Vec::len), Some(3));
    let messages = receive(&world, &queue).await;
    assert!(work(&world, &fanout, &queue, &messages).await.is_empty());
    for (user, _) in &users[1..] {
        let record = world.record(user).await.expect("record").expect("one");
        assert!(matches!(record.phase, Phase::Active), "{record:?}");
    }

    // Approved: the next sweep releases them, and the workers start their grace periods.
    let report = invoke(&world, &fanout, json!({"mode": "approve", "hold": hold}))
        .await
        .expect("approve");
    // Only research has work: vision (no users) is settled and checked by the coordinator.
    assert_eq!(domains_of(&report), ["research"], "{report:#}");
    let messages = receive(&world, &queue).await;
    assert!(work(&world, &fanout, &queue, &messages).await.is_empty());
    for (user, _) in &users[1..] {
        let record = world.record(user).await.expect("record").expect("one");
        assert!(matches!(record.phase, Phase::Grace { .. }), "{record:?}");
        assert_eq!(record.released_by.as_deref(), Some(hold.as_str()));
    }
    let summary = latest_sweep(&world).await;
    assert_eq!(summary.actions.get("StartGrace"), Some(&3), "{summary:?}");
    assert!(summary.complete);
}

/// The summary adds up each domain's attempts: a domain reported incomplete keeps the sweep
/// incomplete until it reports complete.
#[tokio::test]
async fn the_sweep_summary_aggregates_the_domains() {
    let (world, _vision, _ml_vision, queue) = two_domains("").await;
    let fanout = fan_out(&world, &queue, Limits::default());
    let report = invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    let sweep_id = report["trigger"].as_str().expect("trigger").to_owned();
    let result = |domain: &str, complete: bool, creates: u64| fanout::DomainResult {
        domain: domain.to_owned(),
        actions: BTreeMap::from([("Create".to_owned(), creates)]),
        failures: u64::from(!complete),
        unmanaged: 0,
        complete,
        finished_at: now(),
    };
    use warden::fanout::FanOut;
    fanout
        .record_domain(&sweep_id, &result("research", false, 2))
        .await
        .expect("record");
    fanout
        .record_domain(&sweep_id, &result("vision", true, 1))
        .await
        .expect("record");
    let summary = latest_sweep(&world).await;
    assert!(!summary.complete);
    assert_eq!(summary.failures, 1);
    assert_eq!(
        summary
            .fanned_out
            .as_ref()
            .map(|p| (p.domains, p.reported, p.complete)),
        Some((2, 2, 1))
    );
    // research's second attempt finishes: its creates add up, its failures are the latest.
    fanout
        .record_domain(&sweep_id, &result("research", true, 1))
        .await
        .expect("record");
    let summary = latest_sweep(&world).await;
    assert!(summary.complete, "{summary:?}");
    assert_eq!(summary.failures, 0);
    assert_eq!(summary.actions.get("Create"), Some(&4));
    let (exit, out) = world.cli(&["sweeps"]).await;
    assert_eq!(exit, warden::operator::Exit::Ok, "{out:?}");
}

/// Work the deadline leaves undone is a failed item: with less than the margin left, no item
/// is started and the whole batch is reported failed, and made visible again at once
/// (`ChangeMessageVisibility` to 0): the next worker does it without waiting out the queue's
/// visibility timeout.
#[tokio::test]
async fn unfinished_work_is_handed_on_to_a_redelivery() {
    let (world, vision, queue, fanout) = lin_joins_vision_and_a_sweep_queues(true).await;
    let messages = receive(&world, &queue).await;
    assert_eq!(messages.len(), 2);
    // 5 s left, less than the engine's 20 s margin.
    let answer = invoke_within(
        &world,
        &fanout,
        sqs_event(&messages),
        std::time::Duration::from_secs(5),
    )
    .await
    .expect("answered");
    let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
    assert_eq!(failed(&answer), ids, "{answer:#}");
    assert!(profiles_of(&world, &vision).await.is_empty());
    let summary = latest_sweep(&world).await;
    assert!(!summary.complete, "{summary:?}");
    // At once, not after the queue's visibility timeout (1 s here), the same messages come
    // back, in order (FIFO: a group's messages are redelivered in the order they were sent),
    // and are done.
    let again = receive(&world, &queue).await;
    let back: Vec<String> = again.iter().map(|m| m.id.clone()).collect();
    assert_eq!(back, ids, "the same messages, redelivered in order");
    assert!(work(&world, &fanout, &queue, &again).await.is_empty());
    assert_eq!(profiles_of(&world, &vision).await.len(), 1);
    assert_eq!(profiles_of(&world, world.domain.as_str()).await.len(), 1);
    assert!(latest_sweep(&world).await.complete);
}

/// A throttle the SDK's retries do not outlast does not fail the item: the worker reads its
/// domain again and makes another pass, which creates the profile. (Seed 91 throttles the
/// first three `CreateUserProfile` calls, the harness SDK's three attempts, and not the
/// next three.)
#[tokio::test]
async fn a_throttle_the_sdk_does_not_outlast_is_worked_again_in_the_same_delivery() {
    let (world, vision, queue, fanout) = lin_joins_vision_and_a_sweep_queues(false).await;
    world.emulator.set_seed(91).await.expect("seed");
    world
        .emulator
        .set_faults(&[FaultRule::new("sagemaker", "CreateUserProfile").with_throttle(0.5)])
        .await
        .expect("faults");
    let messages = receive(&world, &queue).await;
    assert_eq!(messages.len(), 1, "research is settled: not enqueued");
    let failed = work(&world, &fanout, &queue, &messages).await;
    assert!(failed.is_empty(), "{failed:?}");
    let throttles = world.emulator.injected_faults().await.expect("faults");
    assert_eq!(
        throttles.get("sagemaker:CreateUserProfile:throttle"),
        Some(&3),
        "{throttles:?}"
    );
    assert_eq!(profiles_of(&world, &vision).await.len(), 1);
    let summary = latest_sweep(&world).await;
    assert!(summary.complete, "{summary:?}");
    assert_eq!(summary.failures, 0, "{summary:?}");
    assert_eq!(summary.actions.get("Create"), Some(&1), "{summary:?}");
}

/// Throttling that outlasts every pass fails the item, which comes back after a backoff
/// (`ChangeMessageVisibility`), not after the queue's visibility timeout: here the queue's
/// timeout is 1 s and the backoff a minute, so the group is still waiting after 1.5 s.
#[tokio::test]
async fn an_item_throttled_through_every_pass_comes_back_after_a_backoff() {
    let (world, _vision, queue, fanout) = lin_joins_vision_and_a_sweep_queues(false).await;
    world
        .emulator
        .set_faults(&[FaultRule::new("sagemaker", "CreateUserProfile").with_throttle(1.0)])
        .await
        .expect("faults");
    let messages = receive(&world, &queue).await;
    assert_eq!(messages.len(), 1, "research is settled: not enqueued");
    let before = world.emulator.stats().await.expect("stats");
    // As the event source mapping: what is not reported failed is deleted.
    let failed = work(&world, &fanout, &queue, &messages).await;
    assert!(!failed.is_empty());
    let calls = warden_tests::calls_between(&before, &world.emulator.stats().await.expect("stats"));
    // Every pass tried: three passes of the harness SDK's three attempts.
    assert_eq!(
        calls.get("sagemaker:CreateUserProfile"),
        Some(&9),
        "{calls:?}"
    );
    // One visibility change per message reported failed.
    assert_eq!(
        calls.get("sqs:ChangeMessageVisibility"),
        Some(&(failed.len() as u64)),
        "{calls:?}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        receive(&world, &queue).await.is_empty(),
        "the failed item's group waits out its backoff"
    );
}

/// One domain with a drift baseline, a user in it, and a FIFO work queue; the user's profile
/// created by a fanned-out sweep, and the statuses settled and recorded (one more sweep). The
/// next sweep has nothing to write.
async fn a_guarded_domain_at_rest() -> (World, String, warden::adapters::SqsFanOut) {
    let world = World::with(WorldOptions {
        baseline: Some(String::new()),
        ..WorldOptions::default()
    })
    .await
    .expect("world");
    let queue = fifo_queue(&world).await;
    let fanout = fan_out(&world, &queue, Limits::default());
    let ada = world.add_user("ada@example.com").await.expect("user");
    world.join(&ada, &world.researchers).await.expect("join");
    for _ in 0..2 {
        invoke(&world, &fanout, json!({"mode": "apply"}))
            .await
            .expect("coordinator");
        let messages = receive(&world, &queue).await;
        assert!(work(&world, &fanout, &queue, &messages).await.is_empty());
        world.settle().await.expect("settle");
    }
    // The open findings of a baseline the fixture meets: none, and no alert yet.
    assert!(world.read_alerts().await.expect("alerts").is_empty());
    (world, queue, fanout)
}

/// A settled domain (nothing to write) is drift-checked by the coordinator from its own
/// reading: a security group opened to the world is alerted without any work item, the
/// domain is listed and described once, and its result is in the sweep's summary.
#[tokio::test]
async fn a_settled_domain_is_drift_checked_by_the_coordinator() {
    let (world, queue, fanout) = a_guarded_domain_at_rest().await;
    world
        .allow_ingress(&world.research_sg, 22, "0.0.0.0/0")
        .await
        .expect("open");
    let before = world.emulator.stats().await.expect("stats");
    let report = invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    let calls = warden_tests::calls_between(&before, &world.emulator.stats().await.expect("stats"));
    assert_eq!(domains_of(&report), Vec::<String>::new(), "{report:#}");
    assert!(receive(&world, &queue).await.is_empty());
    assert_eq!(
        calls.get("sagemaker:ListUserProfiles"),
        Some(&1),
        "{calls:?}"
    );
    assert_eq!(calls.get("sagemaker:DescribeDomain"), Some(&1), "{calls:?}");
    let alerts = world.read_alerts().await.expect("alerts");
    let opened: Vec<(String, String)> = alerts
        .iter()
        .map(|a| {
            (
                a.attributes.get("event").cloned().unwrap_or_default(),
                a.attributes.get("rule").cloned().unwrap_or_default(),
            )
        })
        .collect();
    assert!(
        opened.contains(&("opened".to_owned(), "net.sg.open-ingress".to_owned())),
        "{opened:?}"
    );
    let summary = latest_sweep(&world).await;
    assert!(summary.complete, "{summary:?}");
    assert_eq!(
        summary
            .fanned_out
            .as_ref()
            .map(|p| (p.domains, p.reported, p.complete)),
        Some((1, 1, 1))
    );
}

/// A settled domain whose drift checks fail for now (EC2 throttles every call) is not left
/// unchecked: the coordinator enqueues it after all, and its worker checks it afresh once EC2
/// answers, and alerts.
#[tokio::test]
async fn a_settled_domain_the_coordinator_cannot_check_goes_to_a_worker() {
    let (world, queue, fanout) = a_guarded_domain_at_rest().await;
    world
        .allow_ingress(&world.research_sg, 22, "0.0.0.0/0")
        .await
        .expect("open");
    world
        .emulator
        .set_faults(&[FaultRule::new("ec2", "DescribeSecurityGroups").with_throttle(1.0)])
        .await
        .expect("faults");
    let report = invoke(&world, &fanout, json!({"mode": "apply"}))
        .await
        .expect("coordinator");
    assert_eq!(domains_of(&report), ["research"], "{report:#}");
    assert!(world.read_alerts().await.expect("alerts").is_empty());
    // The coordinator's attempt is in the summary, with its failure, until the worker's.
    let pending = latest_sweep(&world).await;
    assert_eq!(pending.failures, 1, "{pending:?}");
    world.emulator.set_faults(&[]).await.expect("faults");
    let messages = receive(&world, &queue).await;
    assert_eq!(messages.len(), 1);
    assert!(work(&world, &fanout, &queue, &messages).await.is_empty());
    let alerts = world.read_alerts().await.expect("alerts");
    assert!(
        alerts
            .iter()
            .any(|a| a.attributes.get("rule").map(String::as_str) == Some("net.sg.open-ingress")),
        "{:?}",
        alerts.iter().map(|a| &a.subject).collect::<Vec<_>>()
    );
    let summary = latest_sweep(&world).await;
    assert!(summary.complete, "{summary:?}");
    assert_eq!(summary.failures, 0, "{summary:?}");
}
