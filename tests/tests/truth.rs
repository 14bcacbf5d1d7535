//! What AWS really does, and what studio-warden does about it (issue 11): shared spaces that
//! keep a profile, apps that fail, settings SageMaker rejects, tags UpdateUserProfile cannot
//! change, and names held by profiles made by hand. Real handlers, real SDK, the emulator.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sagemaker::types::AppType;
use serde_json::{Value, json};
use warden::engine::{TAG_MANAGED, TAG_USER_ID};
use warden::ids::UserId;
use warden::model::{Attention, OffboardStep, Phase, UserRecord};
use warden::template::template_hash;
use warden_tests::fixture::*;

fn keys(report: &Value, field: &str) -> Vec<String> {
    report["drift"][field]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A world whose drift checks run (a baseline), so that findings are raised and alerted.
async fn guarded(options: WorldOptions) -> World {
    World::with(WorldOptions {
        baseline: Some(String::new()),
        ..options
    })
    .await
    .expect("world")
}

/// The full handler, as the schedule invokes it.
async fn sweep(world: &World) -> Value {
    world
        .invoke(json!({"mode": "apply"}))
        .await
        .expect("sweep succeeds")
}

/// The engine alone, as if the clock read `now() + offset`, until `done` holds.
async fn sweep_until(world: &World, offset: i64, what: &str, done: impl AsyncFn() -> bool) {
    for round in 0..40 {
        let report = world
            .invoke_at(json!({"mode": "apply"}), now() + offset + round)
            .await
            .expect("sweep");
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        if done().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    panic!("{what}: not reached after 40 sweeps");
}

async fn record(world: &World, user: &str) -> UserRecord {
    world.record(user).await.expect("ledger").expect("record")
}

/// A user of the researchers' mapping with a settled profile: (user, membership, profile).
async fn researcher(world: &World, name: &str) -> (String, String, String) {
    let user = world.add_user(name).await.expect("user");
    let membership = world.join(&user, &world.researchers).await.expect("join");
    world
        .invoke_at(json!({"mode": "apply"}), now())
        .await
        .expect("sweep");
    world.settle().await.expect("settled");
    let profile = record(world, &user).await.profile.to_string();
    (user, membership, profile)
}

/// The user leaves the group, and a sweep starts the grace period now.
async fn leave(world: &World, membership: &str) {
    world.leave(membership).await.expect("leave");
    world
        .invoke_at(json!({"mode": "apply"}), now())
        .await
        .expect("sweep");
}

/// The alerts of one rule among those received, as (event, resource).
fn alerts_of(alerts: &[ReceivedAlert], rule: &str) -> Vec<(String, String)> {
    alerts
        .iter()
        .filter(|a| a.attributes.get("rule").map(String::as_str) == Some(rule))
        .map(|a| {
            (
                a.attributes.get("event").cloned().unwrap_or_default(),
                a.document()
                    .and_then(|d| d["finding"]["resource"].as_str().map(str::to_owned))
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// SageMaker deletes no profile that owns a space, and a shared space holds other people's
/// work. With `shared_spaces = "keep"` (the default) offboarding removes the user's access
/// (the suspension), deletes the private space (after the retention, here none), keeps the
/// shared one and the profile, and says so: one history row, one alert. Once an operator
/// deletes the shared space, offboarding finishes.
#[tokio::test]
async fn owned_shared_spaces_keep_the_profile_and_alert_once() {
    let world = guarded(WorldOptions::default()).await;
    let (jane, membership, name) = researcher(&world, "jane").await;
    world
        .start_app(&name, AppType::JupyterServer, "default")
        .await
        .expect("app");
    world
        .private_space(&name, "jane-private")
        .await
        .expect("private space");
    world
        .shared_space(&name, "team-notebooks")
        .await
        .expect("shared space");
    leave(&world, &membership).await;

    sweep_until(&world, 7200, "blocked", async || {
        matches!(
            record(&world, &jane).await.phase,
            Phase::Offboarding {
                step: OffboardStep::Blocked,
                ..
            }
        )
    })
    .await;
    let r = record(&world, &jane).await;
    assert_eq!(
        r.attention,
        Some(Attention::SharedSpaces {
            spaces: vec!["team-notebooks".into()]
        })
    );
    assert!(world.profiles().await.expect("p").contains_key(&name));
    assert_eq!(
        world.spaces().await.expect("spaces"),
        vec!["team-notebooks".to_owned()],
        "the private space went, the shared one stayed"
    );

    // Access went first, at the suspension; the deletion stopped at the shared space.
    let steps: Vec<String> = world
        .history(&jane)
        .await
        .expect("history")
        .into_iter()
        .map(|h| format!("{}: {}", h.action, h.outcome))
        .collect();
    let suspended = steps
        .iter()
        .position(|s| s.starts_with("Suspend: suspended"));
    let blocked = steps
        .iter()
        .position(|s| s.starts_with("Offboard: blocked"));
    assert!(suspended.is_some() && suspended < blocked, "{steps:#?}");

    // Further passes find the same and write nothing.
    let rows = world.history(&jane).await.expect("history").len();
    for round in 0..3 {
        world
            .invoke_at(json!({"mode": "apply"}), now() + 8000 + round)
            .await
            .expect("sweep");
    }
    assert_eq!(world.history(&jane).await.expect("history").len(), rows);
    let blocked_rows = world
        .history(&jane)
        .await
        .expect("history")
        .iter()
        .filter(|h| h.outcome.starts_with("blocked"))
        .count();
    assert_eq!(blocked_rows, 1);

    // The drift sweep raises it once.
    let key = format!("profile.offboarding-blocked#{name}");
    let report = sweep(&world).await;
    assert!(keys(&report, "opened").contains(&key), "{report:#}");
    let report = sweep(&world).await;
    assert!(!keys(&report, "opened").contains(&key), "{report:#}");
    assert!(keys(&report, "open").contains(&key), "{report:#}");
    let alerts = world.read_alerts().await.expect("alerts");
    assert_eq!(
        alerts_of(&alerts, "profile.offboarding-blocked"),
        vec![("opened".to_owned(), name.clone())],
        "{alerts:#?}"
    );

    // An operator moves the work and deletes the space: offboarding finishes.
    world
        .sagemaker
        .delete_app()
        .domain_id(world.domain.as_str())
        .space_name("team-notebooks")
        .app_type(AppType::JupyterLab)
        .app_name("default")
        .send()
        .await
        .expect("DeleteApp");
    tokio::time::sleep(Duration::from_millis(600)).await;
    world
        .sagemaker
        .delete_space()
        .domain_id(world.domain.as_str())
        .space_name("team-notebooks")
        .send()
        .await
        .expect("DeleteSpace");
    sweep_until(&world, 9000, "offboarded", async || {
        matches!(record(&world, &jane).await.phase, Phase::Offboarded { .. })
    })
    .await;
    assert!(!world.profiles().await.expect("p").contains_key(&name));
    let report = sweep(&world).await;
    assert!(keys(&report, "resolved").contains(&key), "{report:#}");
}

/// With `shared_spaces = "delete"` the user's shared spaces and their apps are deleted before
/// the profile, like private ones.
#[tokio::test]
async fn shared_spaces_are_deleted_when_the_policy_says_so() {
    let world = World::with(WorldOptions {
        shared_spaces: "delete",
        ..WorldOptions::default()
    })
    .await
    .expect("world");
    let (jane, membership, name) = researcher(&world, "jane").await;
    world
        .shared_space(&name, "team-notebooks")
        .await
        .expect("shared space");
    leave(&world, &membership).await;
    sweep_until(&world, 7200, "offboarded", async || {
        matches!(record(&world, &jane).await.phase, Phase::Offboarded { .. })
    })
    .await;
    assert!(world.profiles().await.expect("p").is_empty());
    assert!(world.spaces().await.expect("spaces").is_empty());
    let outcomes: Vec<String> = world
        .history(&jane)
        .await
        .expect("history")
        .into_iter()
        .map(|h| h.outcome)
        .collect();
    assert!(
        outcomes.iter().all(|o| !o.starts_with("blocked")),
        "{outcomes:#?}"
    );
}

/// An app that failed was deleted by SageMaker itself (DeleteApp on it is a
/// ValidationException): offboarding counts it as gone instead of failing on it.
#[tokio::test]
async fn failed_apps_count_as_gone() {
    let world = World::new().await.expect("world");
    let (jane, membership, name) = researcher(&world, "jane").await;
    world
        .start_app(&name, AppType::JupyterServer, "default")
        .await
        .expect("app");
    world
        .private_space(&name, "jane-private")
        .await
        .expect("space");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let domain = world.domain.as_str();
    world
        .emulator
        .fail_app(
            domain,
            ("UserProfileName", &name),
            "JupyterServer",
            "default",
        )
        .await
        .expect("fail the profile's app");
    world
        .emulator
        .fail_app(
            domain,
            ("SpaceName", "jane-private"),
            "JupyterLab",
            "default",
        )
        .await
        .expect("fail the space's app");
    leave(&world, &membership).await;
    let before = world.emulator.stats().await.expect("stats");
    // `sweep_until` fails on any failure in a report.
    sweep_until(&world, 7200, "offboarded", async || {
        matches!(record(&world, &jane).await.phase, Phase::Offboarded { .. })
    })
    .await;
    let calls = warden_tests::calls_between(&before, &world.emulator.stats().await.expect("stats"));
    assert_eq!(
        calls.get("sagemaker:DeleteApp"),
        None,
        "no DeleteApp on failed apps: {calls:?}"
    );
    assert!(world.profiles().await.expect("p").is_empty());
}

/// Settings SageMaker rejects (here an instance type outside AWS's enum, in a policy built
/// past the policy's own validation) are the operator's to fix: the run records a failure
/// for the user once, the drift sweep alerts once, and no sweep sends them again until the
/// mapping changes.
#[tokio::test]
async fn settings_sagemaker_rejects_are_recorded_and_alerted_once() {
    let mut world = guarded(WorldOptions::default()).await;
    let (jane, _membership, name) = researcher(&world, "jane").await;
    let mut policy = (*world.engine.policy).clone();
    for m in policy.mappings.iter_mut().filter(|m| m.priority == 10) {
        m.template.apps.jupyterlab_instance_type = Some("ml.t3.colossal".into());
        m.template_hash = template_hash(&m.template);
    }
    world.deploy(policy);

    let report = sweep(&world).await;
    let update: Vec<_> = actions(&report)
        .into_iter()
        .filter(|(a, _)| a == "Update")
        .collect();
    assert_eq!(update.len(), 1, "{report:#}");
    assert!(
        update[0]
            .1
            .starts_with("failed: SageMaker rejected the mapping's settings"),
        "{report:#}"
    );
    assert_eq!(
        report["failures"]
            .as_array()
            .map(Vec::len)
            .unwrap_or_default(),
        1,
        "{report:#}"
    );
    let key = format!("profile.settings-rejected#{name}");
    assert!(keys(&report, "opened").contains(&key), "{report:#}");
    assert!(matches!(
        record(&world, &jane).await.attention,
        Some(Attention::SettingsRejected { .. })
    ));

    // No sweep sends the same settings again, or writes history, or alerts again.
    let rows = world.history(&jane).await.expect("history").len();
    let before = world.emulator.stats().await.expect("stats");
    let report = sweep(&world).await;
    assert!(
        actions(&report).iter().all(|(a, _)| a != "Update"),
        "{report:#}"
    );
    let calls = warden_tests::calls_between(&before, &world.emulator.stats().await.expect("stats"));
    assert_eq!(calls.get("sagemaker:UpdateUserProfile"), None, "{calls:?}");
    assert_eq!(world.history(&jane).await.expect("history").len(), rows);
    let alerts = world.read_alerts().await.expect("alerts");
    assert_eq!(
        alerts_of(&alerts, "profile.settings-rejected"),
        vec![("opened".to_owned(), name.clone())]
    );

    // The operator fixes the policy: the update goes through and the finding resolves.
    world
        .edit_policy("ml.t3.medium", "ml.t3.large")
        .expect("policy");
    let report = sweep(&world).await;
    assert!(
        actions(&report).contains(&("Update".into(), "ok".into())),
        "{report:#}"
    );
    assert_eq!(record(&world, &jane).await.attention, None);
    assert!(keys(&report, "resolved").contains(&key), "{report:#}");
}

/// UpdateUserProfile takes no tags: a changed mapping's tags, and a move to another mapping,
/// reach the profile through AddTags and DeleteTags. Tags nobody's mapping sets are left alone,
/// and studio-warden's own are never touched.
#[tokio::test]
async fn mapping_tags_reach_existing_profiles() {
    let mut world = World::new().await.expect("world");
    let (jane, _membership, name) = researcher(&world, "jane").await;
    let arn = world
        .describe(&name)
        .await
        .expect("describe")
        .user_profile_arn()
        .map(str::to_owned)
        .expect("arn");
    world
        .sagemaker
        .add_tags()
        .resource_arn(&arn)
        .tags(
            aws_sdk_sagemaker::types::Tag::builder()
                .key("cost-centre")
                .value("42")
                .build(),
        )
        .send()
        .await
        .expect("a tag added by hand");
    let ours = |t: &BTreeMap<String, String>| {
        (
            t.get(TAG_MANAGED).cloned(),
            t.get(TAG_USER_ID).cloned(),
            t.get("cost-centre").cloned(),
        )
    };
    let kept = (
        Some("true".to_owned()),
        Some(jane.clone()),
        Some("42".to_owned()),
    );

    // A move to the leads' mapping adds its tier.
    let lead = world.join(&jane, &world.leads).await.expect("join leads");
    let report = sweep(&world).await;
    assert!(
        actions(&report).contains(&("Update".into(), "ok".into())),
        "{report:#}"
    );
    let tags = world.tags(&name).await.expect("tags");
    assert_eq!(tags.get("tier").map(String::as_str), Some("lead"));
    assert_eq!(ours(&tags), kept);

    // Back to the researchers' mapping: the tier goes.
    world.settle().await.expect("settled");
    world.leave(&lead).await.expect("leave leads");
    sweep(&world).await;
    let tags = world.tags(&name).await.expect("tags");
    assert_eq!(tags.get("tier"), None, "{tags:?}");
    assert_eq!(ours(&tags), kept);

    // The mapping's tags change.
    world.settle().await.expect("settled");
    world
        .edit_policy(
            "tags = { team = \"research\" }",
            "tags = { team = \"ml\", project = \"atlas\" }",
        )
        .expect("policy");
    sweep(&world).await;
    let tags = world.tags(&name).await.expect("tags");
    assert_eq!(tags.get("team").map(String::as_str), Some("ml"));
    assert_eq!(tags.get("project").map(String::as_str), Some("atlas"));
    assert_eq!(ours(&tags), kept);
    let _ = record(&world, &jane).await;
}

/// A joining user's name held by a profile made by hand: the user gets the first
/// alternative name, the hand-made profile is left alone and reported as unmanaged (one
/// alert), and no sweep without change writes history, before or after the user leaves.
#[tokio::test]
async fn a_name_held_by_a_hand_made_profile() {
    let world = guarded(WorldOptions::default()).await;
    let jane = world.add_user("jane").await.expect("user");
    let names = warden::naming::profile_names("jane", &UserId::parse(&jane).expect("id"));
    let taken = names[0].to_string();
    world.hand_made_profile(&taken).await.expect("by hand");
    let membership = world.join(&jane, &world.researchers).await.expect("join");

    let report = sweep(&world).await;
    let create: Vec<_> = actions(&report)
        .into_iter()
        .filter(|(a, _)| a == "Create")
        .collect();
    assert_eq!(
        create,
        vec![(
            "Create".to_owned(),
            format!(
                "ok (created as {}: {taken} is held by a profile that is not studio-warden's for this user)",
                names[1]
            )
        )],
        "{report:#}"
    );
    let r = record(&world, &jane).await;
    assert_eq!(r.profile, names[1]);
    assert_eq!(
        world
            .tags(names[1].as_str())
            .await
            .expect("tags")
            .get(TAG_USER_ID),
        Some(&jane)
    );
    assert!(keys(&report, "opened").contains(&format!("profile.unmanaged#{taken}")));

    world.settle().await.expect("settled");
    sweep(&world).await;
    let rows = world.history(&jane).await.expect("history").len();
    sweep(&world).await;
    assert_eq!(world.history(&jane).await.expect("history").len(), rows);

    leave(&world, &membership).await;
    sweep_until(&world, 7200, "offboarded", async || {
        matches!(record(&world, &jane).await.phase, Phase::Offboarded { .. })
    })
    .await;
    let profiles = world.profiles().await.expect("profiles");
    assert!(profiles.contains_key(&taken), "the hand-made profile stays");
    assert!(!profiles.contains_key(names[1].as_str()));
    let rows = world.history(&jane).await.expect("history").len();
    for round in 0..3 {
        world
            .invoke_at(json!({"mode": "apply"}), now() + 9000 + round)
            .await
            .expect("sweep");
    }
    assert_eq!(world.history(&jane).await.expect("history").len(), rows);
    let alerts = world.read_alerts().await.expect("alerts");
    assert_eq!(
        alerts_of(&alerts, "profile.unmanaged"),
        vec![("opened".to_owned(), taken.clone())],
        "{alerts:#?}"
    );
}

/// A record whose profile lost studio-warden's ownership tag (somebody removed it) is
/// closed once when the user leaves: the profile is left alone, and later sweeps write
/// nothing.
#[tokio::test]
async fn a_profile_that_is_no_longer_ours_is_refused_once() {
    let world = World::new().await.expect("world");
    let (jane, membership, name) = researcher(&world, "jane").await;
    let arn = world
        .describe(&name)
        .await
        .expect("describe")
        .user_profile_arn()
        .map(str::to_owned)
        .expect("arn");
    world
        .sagemaker
        .delete_tags()
        .resource_arn(&arn)
        .tag_keys(TAG_USER_ID)
        .send()
        .await
        .expect("somebody removes the ownership tag");
    leave(&world, &membership).await;
    sweep_until(&world, 7200, "closed", async || {
        matches!(record(&world, &jane).await.phase, Phase::Offboarded { .. })
    })
    .await;
    assert!(world.profiles().await.expect("p").contains_key(&name));
    let history = world.history(&jane).await.expect("history");
    assert_eq!(
        history
            .iter()
            .filter(|h| h.outcome.starts_with("refused"))
            .count(),
        1,
        "{history:#?}"
    );
    for round in 0..3 {
        world
            .invoke_at(json!({"mode": "apply"}), now() + 9000 + round)
            .await
            .expect("sweep");
    }
    assert_eq!(
        world.history(&jane).await.expect("history").len(),
        history.len()
    );
}
