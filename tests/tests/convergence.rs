//! The lifecycle engine's main property, on the emulator with the real SDK: random membership
//! histories, with events dropped, duplicated, delayed (so reordered), delivered while a sweep
//! runs, and with throttling and server errors injected into every AWS API, always converge to
//! the Identity Store's truth: every entitled user has exactly one profile with the settings
//! of their highest-priority group; nobody else has one; no entitled user's profile is ever
//! deleted; the unmanaged profile is never touched; the ledger tells each user's story.
//! Offboarding has both its stages in play: with no grace period a leaver is suspended while
//! the history runs (and restored, tag removed, on rejoining); the retention of an hour passes
//! only in the final sweeps, two hours apart, which delete the leavers' data.
//!
//! Each case runs a whole world (~10-30 s), so `make test` runs a few cases; set
//! `PROPTEST_CASES=50` for a long run.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use proptest::prelude::*;
use serde_json::{Value, json};
use warden::model::Phase;
use warden_tests::FaultRule;
use warden_tests::fixture::*;

#[derive(Debug, Clone, Copy)]
enum Delivery {
    Now,
    Dropped,
    Twice,
    Later,
}

fn delivery() -> impl Strategy<Value = Delivery> {
    prop_oneof![
        4 => Just(Delivery::Now),
        1 => Just(Delivery::Dropped),
        1 => Just(Delivery::Twice),
        2 => Just(Delivery::Later),
    ]
}

#[derive(Debug, Clone)]
struct Step {
    user: usize,
    /// 0: ml-researchers, 1: ml-leads.
    group: usize,
    join: bool,
    delivery: Delivery,
    /// Run a sweep concurrently with this step's delivery.
    with_sweep: bool,
}

fn step() -> impl Strategy<Value = Step> {
    (
        0..4usize,
        0..2usize,
        any::<bool>(),
        delivery(),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(user, group, join, delivery, with_sweep)| Step {
            user,
            group,
            join,
            delivery,
            with_sweep,
        })
}

const USERS: [&str; 4] = [
    "ana.lopez@example.com",
    "bo",
    "cy.chen@example.com",
    "dee_dee",
];

/// The test's own calls to the Identity Store go through the same faults: retry them.
async fn retrying<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, WorldError>>,
{
    let mut last = None;
    for _ in 0..20 {
        match f().await {
            Ok(v) => return v,
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("test setup call kept failing: {last:?}")
}

/// Delivers an event as Lambda's asynchronous invocation does: a retryable failure is retried
/// (twice), then the event goes to the dead-letter queue (here: is dropped).
async fn deliver(world: &World, event: &Value) {
    for _ in 0..3 {
        match world.invoke(event.clone()).await {
            Ok(_) => return,
            Err(e) => {
                let diagnostic: lambda_runtime::Diagnostic = e.into();
                assert!(
                    diagnostic.error_type.starts_with("Retryable."),
                    "a well-formed event failed for good: {diagnostic:?}"
                );
            }
        }
    }
}

async fn sweep_at(world: &World, at: i64) -> Option<warden::engine::Report> {
    world.invoke_at(json!({"mode": "apply"}), at).await.ok()
}

/// Users entitled per the truth, with the role they should have.
fn entitled(members: &BTreeMap<(usize, usize), String>) -> BTreeMap<usize, &'static str> {
    let mut out = BTreeMap::new();
    for &(user, group) in members.keys() {
        let role = if group == 1 { LEAD_ROLE } else { RESEARCH_ROLE };
        let current = out.entry(user).or_insert(role);
        if group == 1 {
            *current = LEAD_ROLE;
        }
    }
    out
}

async fn run_history(steps: Vec<Step>, grace_zero: bool, seed: u64) {
    let options = WorldOptions {
        grace_period: if grace_zero { "0s" } else { "30m" },
        retention: "1h",
        emulator: warden_tests::EmulatorOptions {
            status_delay: Duration::from_millis(100),
            seed,
            ..warden_tests::EmulatorOptions::default()
        },
        ..WorldOptions::default()
    };
    let world = World::with(options).await.expect("world");
    let groups = [world.researchers.clone(), world.leads.clone()];
    let mut users = Vec::new();
    for name in USERS {
        users.push(world.add_user(name).await.expect("user"));
    }
    world
        .hand_made_profile("made-by-hand")
        .await
        .expect("unmanaged profile");
    let faults: Vec<FaultRule> = ["sagemaker", "identitystore", "dynamodb", "sso-admin"]
        .into_iter()
        .map(|service| {
            FaultRule::new(service, "*")
                .with_throttle(0.10)
                .with_error(0.02)
        })
        .collect();
    world.emulator.set_faults(&faults).await.expect("faults");

    let mut members: BTreeMap<(usize, usize), String> = BTreeMap::new();
    let mut later: Vec<Value> = Vec::new();
    let mut alive_before: BTreeMap<usize, String> = BTreeMap::new();
    for step in steps {
        let key = (step.user, step.group);
        let event = if step.join && !members.contains_key(&key) {
            let m = retrying(|| world.join(&users[step.user], &groups[step.group])).await;
            members.insert(key, m.clone());
            world
                .joined_event(&users[step.user], &groups[step.group], &m)
                .expect("sample")
        } else if !step.join && members.contains_key(&key) {
            let m = members.remove(&key).expect("member");
            retrying(|| world.leave(&m)).await;
            world
                .sample(
                    "identitystore-DeleteGroupMembership.json",
                    &[(SAMPLE_MEMBERSHIP_1, &m)],
                )
                .expect("sample")
        } else {
            continue;
        };
        // Each sample carries a fixed envelope id: give every event its own.
        let mut event = event;
        event["id"] = json!(format!(
            "evt-{}-{}-{}",
            step.user,
            step.group,
            members.len() + later.len() + now() as usize
        ));

        let mut batch = Vec::new();
        match step.delivery {
            Delivery::Now => batch.push(event),
            Delivery::Dropped => {}
            Delivery::Twice => {
                batch.push(event.clone());
                batch.push(event);
            }
            Delivery::Later => later.push(event),
        }
        // Sometimes the delayed events arrive now, newest first.
        if later.len() > 1 && step.with_sweep {
            while let Some(e) = later.pop() {
                batch.push(e);
            }
        }
        for event in &batch {
            if step.with_sweep {
                // The event handler and a sweep at once, over the same users.
                let (_, _) = tokio::join!(deliver(&world, event), sweep_at(&world, now()));
            } else {
                deliver(&world, event).await;
            }
        }

        // Safety: a user entitled before and after this step keeps the profile they had.
        let truth = entitled(&members);
        let profiles = retrying(|| world.profiles()).await;
        let mut alive_now = BTreeMap::new();
        for &user in truth.keys() {
            if let Some(record) = retrying(|| world.record(&users[user])).await {
                let name = record.profile.to_string();
                let status = profiles.get(&name).cloned();
                if let Some(before) = alive_before.get(&user) {
                    assert!(
                        status.as_deref().is_some_and(|s| s != "Deleting"),
                        "entitled user {user}'s profile {before} was deleted (status now {status:?})"
                    );
                }
                if status.as_deref().is_some_and(|s| s != "Deleting") {
                    alive_now.insert(user, name);
                }
            }
        }
        alive_before = alive_now;
    }

    // Whatever was delayed arrives at last; faults stop; time passes beyond any grace period.
    for event in later.drain(..).rev() {
        deliver(&world, &event).await;
    }
    world.emulator.set_faults(&[]).await.expect("clear faults");
    let truth = entitled(&members);
    let mut settled = false;
    for round in 0..80 {
        // Each round is two hours on from the last: a leave first noticed in this phase (its
        // event lost to the faults) starts a grace period that the next round sees pass.
        let report = sweep_at(&world, now() + 7200 * (round + 1))
            .await
            .expect("sweep without faults");
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        // The safety net is part of the state space: many leavers at once are held, and an
        // operator approves the hold (the test plays the operator once faults have stopped).
        let held = match report.hold.as_ref().and_then(|h| h.id.clone()) {
            Some(id) => {
                world
                    .invoke(json!({"mode": "approve", "hold": id}))
                    .await
                    .expect("approve the hold");
                true
            }
            None => false,
        };
        let changing = held
            || report.actions.iter().any(|a| {
                a.action.changes_aws()
                    || a.action.kind() == "StartGrace"
                    || matches!(a.outcome, warden::engine::Outcome::InProgress(_))
            });
        let profiles = world.profiles().await.expect("profiles");
        let steady = profiles.values().all(|s| s == "InService");
        // Safety in the final phase too: entitled users' profiles are never being deleted.
        for &user in truth.keys() {
            if let Some(r) = world.record(&users[user]).await.expect("record")
                && r.phase == Phase::Active
            {
                assert_ne!(
                    profiles.get(r.profile.as_str()).map(String::as_str),
                    Some("Deleting")
                );
            }
        }
        if !changing && steady {
            settled = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(120)).await;
    }
    assert!(settled, "no fixed point");

    // Convergence to the truth.
    let profiles = world.profiles().await.expect("profiles");
    assert!(
        profiles.contains_key("made-by-hand"),
        "the unmanaged profile was touched"
    );
    if profiles.len() != truth.len() + 1 {
        let mut ledger = String::new();
        for user in &users {
            let record = world.record(user).await.expect("record");
            let history = world.history(user).await.expect("history");
            ledger.push_str(&format!("\n{user}: {record:?}\n"));
            for h in history {
                ledger.push_str(&format!(
                    "    {} {} [{}] {} <- {}\n",
                    h.at, h.action, h.reason, h.outcome, h.trigger
                ));
            }
        }
        panic!(
            "one profile per entitled user, no duplicates: {profiles:?}; entitled: {truth:?}{ledger}"
        );
    }
    for (i, user) in users.iter().enumerate() {
        let record = world.record(user).await.expect("record");
        let history = world.history(user).await.expect("history");
        match truth.get(&i) {
            Some(role) => {
                let r = record.expect("an entitled user has a record");
                assert_eq!(r.phase, Phase::Active, "user {i}");
                let d = world
                    .describe(r.profile.as_str())
                    .await
                    .expect("profile exists");
                assert_eq!(
                    d.user_settings().and_then(|s| s.execution_role()),
                    Some(*role),
                    "user {i}"
                );
                let tags = world.tags(r.profile.as_str()).await.expect("tags");
                assert_eq!(tags.get("studio-warden:user-id"), Some(user));
                assert_eq!(
                    tags.get(warden::engine::TAG_SUSPENDED),
                    None,
                    "user {i} is entitled, not suspended"
                );
                assert!(
                    history
                        .iter()
                        .any(|h| h.action == "Create" && h.outcome.starts_with("ok")),
                    "user {i}: {history:?}"
                );
            }
            None => {
                if let Some(r) = record {
                    assert!(
                        matches!(r.phase, Phase::Offboarded { .. }),
                        "user {i}: {:?}",
                        r.phase
                    );
                    assert!(!profiles.contains_key(r.profile.as_str()));
                    assert!(
                        history
                            .iter()
                            .any(|h| h.outcome == "offboarded" || h.action == "Forget"),
                        "user {i}'s story ends with the offboarding: {history:?}"
                    );
                }
            }
        }
    }
    let distinct: BTreeSet<_> = profiles.keys().collect();
    assert_eq!(distinct.len(), profiles.len());
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(3)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_converge_to_the_identity_store(
        steps in prop::collection::vec(step(), 6..16),
        grace_zero in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(run_history(steps, grace_zero, seed));
    }
}
