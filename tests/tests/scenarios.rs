//! Scenarios: sample payloads from `events/` fed to the real handler, over the real SDK,
//! against the emulator. Each test tells one part of studio-warden's story.

use std::collections::BTreeMap;

use aws_sdk_sagemaker::types::{AppType, AuthMode};
use serde_json::{Value, json};
use warden::engine::{TAG_MANAGED, TAG_SUSPENDED, TAG_USER_ID};
use warden::model::Phase;
use warden_tests::fixture::*;

/// The AWS calls made since `before`, by "service:Operation".
async fn calls_since(world: &World, before: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    let after = world.emulator.stats().await.expect("stats");
    warden_tests::calls_between(before, &after)
}

fn writes(calls: &BTreeMap<String, u64>) -> Vec<String> {
    calls
        .keys()
        .filter(|k| {
            [
                "Create", "Update", "Delete", "Put", "Assign", "AddTags", "Write",
            ]
            .iter()
            .any(|w| k.contains(w))
        })
        .cloned()
        .collect()
}

/// Sweeps (as if at `now() + offset`) until `done` holds: SageMaker deletes asynchronously, so
/// offboarding takes several passes. Fails the test after 40 sweeps.
async fn sweep_until(
    world: &World,
    offset: i64,
    what: &str,
    done: impl AsyncFn(&warden::engine::Report) -> bool,
) {
    for round in 0..40 {
        let report = world
            .invoke_at(json!({"mode": "apply"}), now() + offset + round)
            .await
            .expect("sweep");
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        if done(&report).await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    panic!("{what}: not reached after 40 sweeps");
}

async fn sweep(world: &World) -> Value {
    world
        .invoke(json!({"mode": "apply"}))
        .await
        .expect("sweep succeeds")
}

/// The first slice: a CreateGroupMembership event gives the user a profile with the group's
/// settings and the ownership tag, recorded in the ledger.
#[tokio::test]
async fn a_membership_event_creates_the_profile_with_the_groups_settings() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane.doe@example.com").await.expect("user");
    let membership = world.join(&jane, &world.researchers).await.expect("join");
    let event = world
        .joined_event(&jane, &world.researchers, &membership)
        .expect("sample");
    let event_id = event["id"].as_str().expect("id").to_owned();

    let report = world.invoke(event).await.expect("handled");
    assert_eq!(
        actions(&report),
        vec![("Create".into(), "ok".into())],
        "{report:#}"
    );

    let profiles = world.profiles().await.expect("profiles");
    assert_eq!(profiles.len(), 1, "{profiles:?}");
    let name = profiles.keys().next().expect("one").clone();
    assert!(name.starts_with("jane-doe-example-com-"), "{name}");
    let described = world.describe(&name).await.expect("describe");
    let settings = described.user_settings().expect("settings");
    assert_eq!(settings.execution_role(), Some(RESEARCH_ROLE));
    assert_eq!(settings.security_groups(), [world.research_sg.as_str()]);
    assert_eq!(settings.default_landing_uri(), Some("studio::"));
    let tags = world.tags(&name).await.expect("tags");
    assert_eq!(tags.get(TAG_MANAGED).map(String::as_str), Some("true"));
    assert_eq!(tags.get(TAG_USER_ID), Some(&jane));
    assert_eq!(tags.get("team").map(String::as_str), Some("research"));

    let record = world
        .record(&jane)
        .await
        .expect("ledger")
        .expect("a record");
    assert_eq!(record.phase, Phase::Active);
    assert_eq!(record.profile.as_str(), name);
    assert_eq!(
        record.group.as_ref().map(|g| g.as_str()),
        Some(world.researchers.as_str())
    );
    let history = world.history(&jane).await.expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(
        (history[0].action.as_str(), history[0].outcome.as_str()),
        ("Create", "ok")
    );
    assert_eq!(history[0].trigger, event_id);
}

/// Events are hints: a member whose event never arrived gets a profile from the sweep, and a
/// second sweep with nothing to do changes nothing.
#[tokio::test]
async fn the_sweep_creates_what_events_missed_and_then_has_nothing_to_do() {
    let world = World::new().await.expect("world");
    let mut users = Vec::new();
    for name in ["ana", "bo", "cy"] {
        let id = world.add_user(name).await.expect("user");
        world.join(&id, &world.researchers).await.expect("join");
        users.push(id);
    }
    let schedule = world
        .sample("scheduler-detail-string.json", &[])
        .expect("sample");
    let report = world.invoke(schedule).await.expect("sweep");
    assert_eq!(
        actions(&report)
            .iter()
            .filter(|(a, o)| a == "Create" && o == "ok")
            .count(),
        3,
        "{report:#}"
    );
    assert_eq!(world.profiles().await.expect("profiles").len(), 3);

    world.settle().await.expect("settled");
    // Confirms the statuses (ledger only), then nothing at all.
    sweep(&world).await;
    let before = world.emulator.stats().await.expect("stats");
    let report = sweep(&world).await;
    assert_eq!(actions(&report), vec![], "{report:#}");
    let calls = calls_since(&world, &before).await;
    assert_eq!(
        writes(&calls),
        vec!["dynamodb:PutItem".to_owned()],
        "only the sweep summary: {calls:?}"
    );
    assert_eq!(calls.get("dynamodb:PutItem"), Some(&1), "{calls:?}");
    assert!(
        !calls
            .keys()
            .any(|k| k.contains("DescribeUserProfile") || k.contains(":DescribeUser")),
        "per-user calls in a no-op sweep: {calls:?}"
    );
}

/// A redelivered event changes nothing the second time.
#[tokio::test]
async fn a_redelivered_event_is_recognised() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    let membership = world.join(&jane, &world.researchers).await.expect("join");
    let event = world
        .joined_event(&jane, &world.researchers, &membership)
        .expect("sample");
    world.invoke(event.clone()).await.expect("first");
    let again = world.invoke(event).await.expect("second");
    assert!(
        again["skipped"]
            .as_str()
            .unwrap_or_default()
            .contains("already handled"),
        "{again:#}"
    );
    assert_eq!(world.profiles().await.expect("profiles").len(), 1);
    assert_eq!(world.history(&jane).await.expect("history").len(), 1);
}

/// The highest-priority mapping wins; moving between groups updates the profile in place.
#[tokio::test]
async fn the_highest_priority_group_wins_and_changes_update_the_profile() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    world.join(&jane, &world.researchers).await.expect("join");
    sweep(&world).await;
    world.settle().await.expect("settled");
    let name = world
        .record(&jane)
        .await
        .expect("ledger")
        .expect("record")
        .profile
        .to_string();
    assert_eq!(
        world
            .describe(&name)
            .await
            .expect("d")
            .user_settings()
            .and_then(|s| s.execution_role()),
        Some(RESEARCH_ROLE)
    );

    let lead = world.join(&jane, &world.leads).await.expect("join leads");
    let event = world
        .sample(
            "sso-directory-AddMemberToGroup.json",
            &[(SAMPLE_USER_1, &jane), (SAMPLE_GROUP_1, &world.leads)],
        )
        .expect("sample");
    let report = world.invoke(event).await.expect("handled");
    assert_eq!(
        actions(&report),
        vec![("Update".into(), "ok".into())],
        "{report:#}"
    );
    let settings = world
        .describe(&name)
        .await
        .expect("d")
        .user_settings()
        .cloned()
        .expect("settings");
    assert_eq!(settings.execution_role(), Some(LEAD_ROLE));
    assert_eq!(
        settings.security_groups(),
        [world.research_sg.as_str(), world.lead_sg.as_str()]
    );
    assert_eq!(
        world.profiles().await.expect("profiles").len(),
        1,
        "updated, not duplicated"
    );
    let _ = lead;
}

/// Leaving starts the grace period; after it the user is suspended (apps gone, the profile
/// and its private space kept and tagged); after the retention the private space and the
/// profile go, in SageMaker's order, over as many runs as deletion takes. The history tells
/// the story, stage by stage.
#[tokio::test]
async fn leaving_suspends_after_the_grace_period_and_deletes_in_order_after_the_retention() {
    let world = World::with(WorldOptions {
        retention: "1d",
        ..WorldOptions::default()
    })
    .await
    .expect("world");
    let jane = world.add_user("jane").await.expect("user");
    let membership = world.join(&jane, &world.researchers).await.expect("join");
    sweep(&world).await;
    world.settle().await.expect("settled");
    let name = world
        .record(&jane)
        .await
        .expect("ledger")
        .expect("record")
        .profile
        .to_string();
    world
        .start_app(&name, AppType::JupyterServer, "default")
        .await
        .expect("app");
    world
        .private_space(&name, "jane-space")
        .await
        .expect("space");

    world.leave(&membership).await.expect("leave");
    let event = world
        .sample(
            "identitystore-DeleteGroupMembership.json",
            &[(SAMPLE_MEMBERSHIP_1, &membership)],
        )
        .expect("sample");
    let report = world.invoke(event).await.expect("handled");
    assert!(
        actions(&report).contains(&("StartGrace".into(), "ok".into())),
        "{report:#}"
    );
    assert!(matches!(
        world.record(&jane).await.expect("l").expect("r").phase,
        Phase::Grace { .. }
    ));

    // Inside the grace period nothing happens.
    let report = world
        .invoke_at(json!({"mode": "apply"}), now() + 60)
        .await
        .expect("sweep");
    assert!(
        report
            .actions
            .iter()
            .all(|a| !matches!(a.action.kind(), "Suspend" | "Offboard")),
        "{report:?}"
    );

    // After it, the suspension: access goes, the data stays.
    sweep_until(&world, 7200, "suspended", async |_| {
        matches!(
            world.record(&jane).await.expect("l").expect("r").phase,
            Phase::Suspended { .. }
        )
    })
    .await;
    assert!(
        world
            .profiles()
            .await
            .expect("profiles")
            .contains_key(&name)
    );
    assert_eq!(world.spaces().await.expect("spaces"), vec!["jane-space"]);
    assert_eq!(world.live_apps().await.expect("apps"), vec![]);
    assert!(
        world
            .tags(&name)
            .await
            .expect("tags")
            .contains_key(TAG_SUSPENDED)
    );

    // A day on (the retention), each run goes as far as SageMaker lets it.
    sweep_until(&world, 7200 + 86_400 + 60, "offboarded", async |_| {
        matches!(
            world.record(&jane).await.expect("l").expect("r").phase,
            Phase::Offboarded { .. }
        )
    })
    .await;
    assert!(world.profiles().await.expect("profiles").is_empty());
    assert!(world.spaces().await.expect("spaces").is_empty());

    let steps: Vec<String> = world
        .history(&jane)
        .await
        .expect("history")
        .into_iter()
        .map(|h| format!("{}: {}", h.action, h.outcome))
        .collect();
    let pos = |needle: &str| {
        steps
            .iter()
            .position(|s| s.starts_with(needle))
            .unwrap_or(usize::MAX)
    };
    assert!(pos("Create: ok") < pos("StartGrace: ok"), "{steps:#?}");
    assert!(
        pos("StartGrace: ok") < pos("Suspend: in progress: 1 app(s) deleting"),
        "{steps:#?}"
    );
    assert!(
        pos("Suspend: in progress: 1 app(s) deleting") < pos("Suspend: suspended"),
        "{steps:#?}"
    );
    assert!(
        pos("Suspend: suspended") < pos("Offboard: in progress: 1 private space(s) deleting"),
        "{steps:#?}"
    );
    assert!(
        pos("Offboard: in progress: 1 private space(s) deleting") < pos("Offboard: offboarded"),
        "{steps:#?}"
    );
}

/// Rejoining during the grace period cancels the offboarding.
#[tokio::test]
async fn rejoining_within_the_grace_period_keeps_the_profile() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    let membership = world.join(&jane, &world.researchers).await.expect("join");
    sweep(&world).await;
    world.settle().await.expect("settled");
    world.leave(&membership).await.expect("leave");
    sweep(&world).await;
    assert!(matches!(
        world.record(&jane).await.expect("l").expect("r").phase,
        Phase::Grace { .. }
    ));
    world.join(&jane, &world.researchers).await.expect("rejoin");
    let report = sweep(&world).await;
    assert_eq!(
        actions(&report),
        vec![("Restore".into(), "ok".into())],
        "{report:#}"
    );
    let report = world
        .invoke_at(json!({"mode": "apply"}), now() + 86_400)
        .await
        .expect("later");
    assert!(
        report.actions.iter().all(|a| a.action.kind() == "Record"),
        "only bookkeeping: {report:?}"
    );
    assert_eq!(world.profiles().await.expect("profiles").len(), 1);
}

/// A profile studio-warden did not make is reported and never touched.
#[tokio::test]
async fn an_unmanaged_profile_is_reported_and_left_alone() {
    let world = World::new().await.expect("world");
    world
        .hand_made_profile("made-by-hand")
        .await
        .expect("by hand");
    let report = sweep(&world).await;
    assert_eq!(
        actions(&report),
        vec![("ReportUnmanaged".into(), "reported".into())],
        "{report:#}"
    );
    let report = world
        .invoke_at(json!({"mode": "apply"}), now() + 30 * 86_400)
        .await
        .expect("much later");
    assert_eq!(report.actions.len(), 1);
    assert!(
        world
            .profiles()
            .await
            .expect("profiles")
            .contains_key("made-by-hand")
    );
}

/// A dry-run plan returns what a sweep would do, and writes nothing anywhere.
#[tokio::test]
async fn a_plan_shows_the_work_and_writes_nothing() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    world.join(&jane, &world.researchers).await.expect("join");
    let before = world.emulator.stats().await.expect("stats");
    let plan = world
        .invoke(
            world
                .sample("sweep-custom-input-plan.json", &[])
                .expect("sample"),
        )
        .await
        .expect("plan");
    assert_eq!(plan["mode"], "plan");
    assert_eq!(
        actions(&plan),
        vec![("Create".into(), "planned".into())],
        "{plan:#}"
    );
    let calls = calls_since(&world, &before).await;
    assert!(writes(&calls).is_empty(), "a plan made writes: {calls:?}");
    assert!(world.profiles().await.expect("profiles").is_empty());
    assert!(world.record(&jane).await.expect("ledger").is_none());
}

/// Failed calls and other stores' events are skipped; malformed input is an error. None writes.
#[tokio::test]
async fn skips_and_malformed_input_write_nothing() {
    let world = World::new().await.expect("world");
    for file in [
        "failed-call-errorCode.json",
        "other-identity-store.json",
        "identitystore-CreateUser.json",
    ] {
        let report = world
            .invoke(world.sample(file, &[]).expect("sample"))
            .await
            .expect("skip is not an error");
        assert!(report["skipped"].is_string(), "{file}: {report:#}");
    }
    for bad in [
        json!([1, 2]),
        json!({"mode": "plna"}),
        json!({"detail-type": "AWS API Call via CloudTrail"}),
        json!(null),
    ] {
        let err = world.invoke(bad.clone()).await.expect_err("malformed");
        let diagnostic: lambda_runtime::Diagnostic = err.into();
        assert!(
            diagnostic.error_type.starts_with("NonRetryable."),
            "{bad}: {diagnostic:?}"
        );
    }
    let scan = world
        .dynamodb
        .scan()
        .table_name(&world.table)
        .send()
        .await
        .expect("scan");
    assert_eq!(scan.count(), 0, "nothing written");
}

/// A deleted user is entitled to nothing.
#[tokio::test]
async fn a_deleted_user_loses_the_profile() {
    let world = World::with(WorldOptions {
        grace_period: "0s",
        ..WorldOptions::default()
    })
    .await
    .expect("world");
    let jane = world.add_user("jane").await.expect("user");
    world.join(&jane, &world.researchers).await.expect("join");
    sweep(&world).await;
    world.settle().await.expect("settled");
    world.delete_user(&jane).await.expect("delete");
    let event = world
        .sample("identitystore-DeleteUser.json", &[(SAMPLE_USER_2, &jane)])
        .expect("sample");
    world.invoke(event).await.expect("handled");
    sweep_until(&world, 0, "profile deleted", async |_| {
        world.profiles().await.expect("profiles").is_empty()
    })
    .await;
}

/// SCIM hides the members of a PatchGroup: the group is re-read, and the removed member found
/// through the ledger.
#[tokio::test]
async fn a_scim_patch_group_rereads_the_group() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    let bo = world.add_user("bo").await.expect("user");
    let m = world.join(&jane, &world.researchers).await.expect("join");
    sweep(&world).await;
    world.join(&bo, &world.researchers).await.expect("join");
    world.leave(&m).await.expect("leave");
    let event = world
        .sample(
            "scim-PatchGroup-hidden-members.json",
            &[(SAMPLE_GROUP_1, &world.researchers)],
        )
        .expect("sample");
    let before = world.emulator.stats().await.expect("stats");
    let report = world.invoke(event).await.expect("handled");
    let calls = calls_since(&world, &before).await;
    assert!(
        !calls.contains_key("identitystore:ListUsers"),
        "a group event must not list the whole store: {calls:?}"
    );
    let mut got = actions(&report);
    got.sort();
    assert_eq!(
        got,
        vec![
            ("Create".into(), "ok".into()),
            ("StartGrace".into(), "ok".into())
        ],
        "{report:#}"
    );
}

/// In SSO-mode domains the user is assigned to the domain's application, and the profile names
/// the Identity Center user.
#[tokio::test]
async fn sso_domains_get_the_assignment_and_the_sso_user() {
    let world = World::with(WorldOptions {
        auth_mode: AuthMode::Sso,
        ..WorldOptions::default()
    })
    .await
    .expect("world");
    let jane = world.add_user("jane.doe@example.com").await.expect("user");
    world.join(&jane, &world.researchers).await.expect("join");
    sweep(&world).await;
    let name = world
        .record(&jane)
        .await
        .expect("l")
        .expect("r")
        .profile
        .to_string();
    let d = world.describe(&name).await.expect("describe");
    assert_eq!(d.single_sign_on_user_identifier(), Some("UserName"));
    assert_eq!(d.single_sign_on_user_value(), Some("jane.doe@example.com"));
    let app = world
        .sagemaker
        .describe_domain()
        .domain_id(world.domain.as_str())
        .send()
        .await
        .expect("domain")
        .single_sign_on_application_arn()
        .expect("an SSO application")
        .to_owned();
    let sso = aws_sdk_ssoadmin::Client::new(&world.sdk);
    let assigned = sso
        .list_application_assignments()
        .application_arn(&app)
        .send()
        .await
        .expect("list");
    let principals: BTreeMap<_, _> = assigned
        .application_assignments()
        .iter()
        .map(|a| {
            (
                a.principal_id().to_owned(),
                a.principal_type().as_str().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        principals.get(&jane).map(String::as_str),
        Some("USER"),
        "{principals:?}"
    );
}

/// With `remove = "apps"`, offboarding stops at the suspension: the user's apps (their own
/// and their private spaces') go, the profile is tagged suspended, and the profile and its
/// data are kept for ever, whatever the retention; rejoining restores the profile as it was.
#[tokio::test]
async fn suspension_keeps_the_profile_and_its_data() {
    let world = World::with(WorldOptions {
        grace_period: "0s",
        retention: "30d",
        remove: "apps",
        ..WorldOptions::default()
    })
    .await
    .expect("world");
    let jane = world.add_user("jane").await.expect("user");
    let m = world.join(&jane, &world.researchers).await.expect("join");
    sweep(&world).await;
    world.settle().await.expect("settled");
    let name = world
        .record(&jane)
        .await
        .expect("l")
        .expect("r")
        .profile
        .to_string();
    world
        .start_app(&name, AppType::JupyterServer, "default")
        .await
        .expect("app");
    world
        .private_space(&name, "jane-space")
        .await
        .expect("space");
    world.leave(&m).await.expect("leave");
    sweep_until(&world, 0, "suspended", async |_| {
        matches!(
            world.record(&jane).await.expect("l").expect("r").phase,
            Phase::Suspended { .. }
        )
    })
    .await;
    assert!(
        world
            .profiles()
            .await
            .expect("profiles")
            .contains_key(&name),
        "the profile is kept"
    );
    let spaces = world
        .sagemaker
        .list_spaces()
        .domain_id_equals(world.domain.as_str())
        .send()
        .await
        .expect("spaces");
    assert_eq!(spaces.spaces().len(), 1, "the private space is kept");
    let apps = world
        .sagemaker
        .list_apps()
        .domain_id_equals(world.domain.as_str())
        .send()
        .await
        .expect("apps");
    assert!(
        apps.apps()
            .iter()
            .all(|a| a.status().map(|s| s.as_str()) == Some("Deleted")),
        "every app stopped: {:?}",
        apps.apps()
    );
    let tags = world.tags(&name).await.expect("tags");
    assert!(tags.contains_key(TAG_SUSPENDED), "{tags:?}");
    let suspended = world
        .history(&jane)
        .await
        .expect("history")
        .into_iter()
        .filter(|h| h.action == "Suspend" && h.outcome.starts_with("suspended"))
        .map(|h| h.outcome)
        .collect::<Vec<_>>();
    assert_eq!(
        suspended,
        vec!["suspended: apps and access removed; profile, spaces and home kept by policy"]
    );
    let report = sweep(&world).await;
    assert_eq!(
        actions(&report),
        vec![],
        "a suspended user stays suspended: {report:#}"
    );
    // Far past the retention of 30 days: nothing is deleted.
    let report = world
        .invoke_at(json!({"mode": "apply"}), now() + 365 * 86_400)
        .await
        .expect("a year later");
    assert!(report.actions.is_empty(), "{report:?}");
    assert!(world.profiles().await.expect("p").contains_key(&name));
    assert_eq!(world.spaces().await.expect("spaces"), vec!["jane-space"]);
    world.join(&jane, &world.researchers).await.expect("rejoin");
    let report = sweep(&world).await;
    assert_eq!(
        actions(&report),
        vec![("Restore".into(), "ok".into())],
        "{report:#}"
    );
    let tags = world.tags(&name).await.expect("tags");
    assert!(!tags.contains_key(TAG_SUSPENDED), "{tags:?}");
}

/// A running JupyterServer app does not hold a mapping change back: AWS documents no refusal of
/// UpdateUserProfile while an app runs (unknown in AWS; the emulator does the documented
/// thing), so the update is applied and recorded at once.
#[tokio::test]
async fn an_update_while_an_app_runs_is_applied() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    world.join(&jane, &world.researchers).await.expect("join");
    sweep(&world).await;
    world.settle().await.expect("settled");
    let name = world
        .record(&jane)
        .await
        .expect("l")
        .expect("r")
        .profile
        .to_string();
    world
        .start_app(&name, AppType::JupyterServer, "default")
        .await
        .expect("app");
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    world.join(&jane, &world.leads).await.expect("join leads");
    let report = sweep(&world).await;
    let got = actions(&report);
    assert_eq!(got, vec![("Update".into(), "ok".into())], "{report:#}");
    assert_eq!(
        world
            .describe(&name)
            .await
            .expect("d")
            .user_settings()
            .and_then(|s| s.execution_role()),
        Some(LEAD_ROLE)
    );
    let history = world.history(&jane).await.expect("history");
    assert!(
        history
            .iter()
            .any(|h| h.action == "Update" && h.outcome == "ok"),
        "{history:?}"
    );
}

/// A sweep that reaches the Lambda deadline stops starting work, says it is incomplete, and
/// the next run finishes.
#[tokio::test]
async fn a_sweep_cut_by_the_deadline_resumes_on_the_next_run() {
    let world = World::new().await.expect("world");
    for name in ["ana", "bo", "cy"] {
        let id = world.add_user(name).await.expect("user");
        world.join(&id, &world.researchers).await.expect("join");
    }
    let inbound = warden::events::classify(
        &json!({"mode": "apply"}),
        &world.engine.policy.identity_store.id,
    )
    .expect("sweep input");
    // Less time left than the engine's safety margin: nothing may start.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
    let report = world
        .engine
        .handle(inbound.clone(), now(), Some(deadline))
        .await
        .expect("report");
    assert!(!report.complete, "{report:?}");
    assert!(
        report.actions.iter().all(|a| !a.outcome.is_ok()),
        "{report:?}"
    );
    assert!(world.profiles().await.expect("profiles").is_empty());
    let report = world
        .engine
        .handle(inbound, now(), None)
        .await
        .expect("report");
    assert!(report.complete);
    assert_eq!(world.profiles().await.expect("profiles").len(), 3);
}

/// The event handler and two sweeps at once over the same users: one profile per user, every
/// user's profile recorded as made once (a later run may record adopting it), no failure.
#[tokio::test]
async fn an_event_and_two_sweeps_at_once_agree() {
    let world = World::new().await.expect("world");
    let mut users = Vec::new();
    for name in ["ana", "bo", "cy", "dee", "eve"] {
        let id = world.add_user(name).await.expect("user");
        let m = world.join(&id, &world.researchers).await.expect("join");
        users.push((id, m));
    }
    let (ana, m) = &users[0];
    let event = world
        .joined_event(ana, &world.researchers, m)
        .expect("sample");
    let (a, b, c) = tokio::join!(
        world.invoke(json!({"mode": "apply"})),
        world.invoke(json!({"mode": "apply"})),
        world.invoke(event),
    );
    for r in [&a, &b, &c] {
        let r = r.as_ref().expect("no invocation fails");
        assert!(r["failures"].as_array().is_none_or(Vec::is_empty), "{r:#}");
    }
    assert_eq!(
        world.profiles().await.expect("profiles").len(),
        users.len(),
        "no duplicates"
    );
    // A sweep that listed the domain before another invocation created a profile, and read
    // the ledger after it recorded it, sees "active, profile missing" and creates it again:
    // SageMaker answers that it exists and the profile is adopted (recorded as such), never
    // made twice. So exactly one creation that made the profile; adoptions may follow it.
    let adopted = warden::engine::Outcome::Adopted.to_string();
    for (user, _) in &users {
        let record = world.record(user).await.expect("ledger").expect("a record");
        assert_eq!(record.phase, Phase::Active);
        let created: Vec<_> = world
            .creations(user)
            .await
            .expect("history")
            .into_iter()
            .collect();
        let made = created.iter().filter(|h| h.outcome != adopted).count();
        assert_eq!(
            made, 1,
            "{user}: exactly one creation made the profile: {created:?}"
        );
    }
}

/// How long past Lambda's deadline an answer may come in these tests: generous for a loaded
/// machine, far below what the SDK's retries take against a service that throttles every call.
const ANSWER_SLACK: std::time::Duration = std::time::Duration::from_secs(10);

/// The deadline holds when AWS is slow: with the Identity Store throttling every call, the
/// SDK's retries and backoff (the functions' own retry configuration) would outlast Lambda's
/// timeout. The engine waits on no AWS call past the time it has, so the membership event
/// answers a `Retryable.*` error about when the deadline comes (Lambda then retries it), and
/// its redelivery, once the store answers again, does the work.
#[tokio::test]
async fn a_membership_event_answers_retryable_by_its_deadline_while_the_identity_store_throttles() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    let m = world.join(&jane, &world.researchers).await.expect("join");
    let event = world
        .joined_event(&jane, &world.researchers, &m)
        .expect("sample");
    let (engine, guard) = world.lambda_like(std::time::Duration::from_secs(2));
    world
        .emulator
        .set_faults(&[warden_tests::FaultRule::new("identitystore", "*").with_throttle(1.0)])
        .await
        .expect("faults");
    let time_left = std::time::Duration::from_secs(5);
    let started = std::time::Instant::now();
    let answer = World::invoke_within(&engine, &guard, event.clone(), time_left).await;
    let took = started.elapsed();
    eprintln!("throttled membership event answered in {took:?} (deadline {time_left:?})");
    let d: lambda_runtime::Diagnostic = answer.expect_err("nothing could be read").into();
    assert_eq!(d.error_type, "Retryable.DeadlineExceeded", "{d:?}");
    assert!(
        took < time_left + ANSWER_SLACK,
        "answered {took:?} after the start, the deadline was {time_left:?}"
    );
    assert!(world.profiles().await.expect("profiles").is_empty());

    world.emulator.set_faults(&[]).await.expect("faults off");
    let report = World::invoke_within(&engine, &guard, event, std::time::Duration::from_secs(60))
        .await
        .expect("the redelivery does the work");
    assert_eq!(actions(&report), [("Create".to_owned(), "ok".to_owned())]);
}

/// An action cut by the deadline (SageMaker throttling every CreateUserProfile) is reported
/// unfinished: the run is incomplete, the event answers `Retryable.*` by its deadline, the
/// user's history says why, and the redelivery creates the profile once.
#[tokio::test]
async fn an_action_cut_by_the_deadline_is_unfinished_and_its_event_retryable() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    let m = world.join(&jane, &world.researchers).await.expect("join");
    let event = world
        .joined_event(&jane, &world.researchers, &m)
        .expect("sample");
    let (engine, guard) = world.lambda_like(std::time::Duration::from_secs(2));
    world
        .emulator
        .set_faults(&[
            warden_tests::FaultRule::new("sagemaker", "CreateUserProfile").with_throttle(1.0),
        ])
        .await
        .expect("faults");
    let time_left = std::time::Duration::from_secs(6);
    let started = std::time::Instant::now();
    let answer = World::invoke_within(&engine, &guard, event.clone(), time_left).await;
    let took = started.elapsed();
    eprintln!("throttled CreateUserProfile: event answered in {took:?} (deadline {time_left:?})");
    let d: lambda_runtime::Diagnostic = answer.expect_err("the creation was cut").into();
    assert_eq!(d.error_type, "Retryable.DeadlineExceeded", "{d:?}");
    assert!(
        d.error_message.contains("0 of 1 action(s) done"),
        "{}",
        d.error_message
    );
    assert!(
        took < time_left + ANSWER_SLACK,
        "answered {took:?} after the start, the deadline was {time_left:?}"
    );
    let record = world.record(&jane).await.expect("ledger").expect("claimed");
    assert_eq!(record.phase, Phase::Creating, "{record:?}");
    let history = world.history(&jane).await.expect("history");
    assert!(
        history
            .iter()
            .any(|h| h.action == "Create" && h.outcome.starts_with("failed: deadline")),
        "the history says why: {history:?}"
    );

    world.emulator.set_faults(&[]).await.expect("faults off");
    let report = World::invoke_within(&engine, &guard, event, std::time::Duration::from_secs(60))
        .await
        .expect("the redelivery does the work");
    assert!(
        actions(&report)
            .iter()
            .any(|(a, o)| a == "Create" && o.starts_with("ok")),
        "{report:#}"
    );
    assert_eq!(world.profiles().await.expect("profiles").len(), 1);
    assert_eq!(world.creations(&jane).await.expect("history").len(), 1);
}

/// The settings of issue 15 (idle shutdown with the user's range, custom images, a default
/// lifecycle configuration, hidden instance types) reach a new profile with its creation, and a
/// change of them reaches the profile through UpdateUserProfile, like the older settings; a
/// sweep after that sends nothing.
#[tokio::test]
async fn idle_shutdown_and_app_settings_reach_the_profile_at_creation_and_on_change() {
    let mut world = World::new().await.expect("world");
    world
        .edit_policy(
            "jupyterlab_instance_type = \"ml.t3.medium\"\n",
            "jupyterlab_instance_type = \"ml.t3.medium\"\n\
             jupyterlab_idle_timeout_minutes = 120\n\
             jupyterlab_min_idle_timeout_minutes = 60\n\
             jupyterlab_max_idle_timeout_minutes = 480\n\
             jupyterlab_custom_images = [{ image_name = \"team-image\", app_image_config_name = \"team-config\", image_version_number = 2 }]\n\
             code_editor_idle_timeout_minutes = 90\n\
             code_editor_default_lifecycle_config_arn = \"arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/editor-tools\"\n\
             code_editor_lifecycle_config_arns = [\"arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/editor-tools\"]\n\
             hidden_instance_types = [\"ml.p5.48xlarge\"]\n",
        )
        .expect("policy");
    let jane = world.add_user("jane").await.expect("user");
    world.join(&jane, &world.researchers).await.expect("join");
    let report = sweep(&world).await;
    assert_eq!(
        actions(&report),
        vec![("Create".into(), "ok".into())],
        "{report:#}"
    );
    world.settle().await.expect("settled");
    sweep(&world).await; // records InService
    let name = world
        .record(&jane)
        .await
        .expect("ledger")
        .expect("record")
        .profile
        .to_string();

    let settings = world
        .describe(&name)
        .await
        .expect("describe")
        .user_settings()
        .cloned()
        .expect("settings");
    let lab = settings.jupyter_lab_app_settings().expect("JupyterLab");
    let idle = lab
        .app_lifecycle_management()
        .and_then(|m| m.idle_settings())
        .expect("idle settings");
    assert_eq!(
        (
            idle.lifecycle_management().map(|m| m.as_str()),
            idle.idle_timeout_in_minutes(),
            idle.min_idle_timeout_in_minutes(),
            idle.max_idle_timeout_in_minutes(),
        ),
        (Some("ENABLED"), Some(120), Some(60), Some(480))
    );
    assert_eq!(
        lab.default_resource_spec()
            .and_then(|r| r.instance_type())
            .map(|i| i.as_str()),
        Some("ml.t3.medium")
    );
    let image = &lab.custom_images()[0];
    assert_eq!(
        (
            image.image_name(),
            image.app_image_config_name(),
            image.image_version_number()
        ),
        (Some("team-image"), Some("team-config"), Some(2))
    );
    let editor = settings.code_editor_app_settings().expect("Code Editor");
    assert_eq!(
        editor
            .app_lifecycle_management()
            .and_then(|m| m.idle_settings())
            .and_then(|i| i.idle_timeout_in_minutes()),
        Some(90)
    );
    assert_eq!(
        editor
            .default_resource_spec()
            .and_then(|r| r.lifecycle_config_arn()),
        Some("arn:aws:sagemaker:us-east-1:123456789012:studio-lifecycle-config/editor-tools")
    );
    assert_eq!(editor.lifecycle_config_arns().len(), 1);
    assert_eq!(
        settings.studio_web_portal_settings().map(|p| p
            .hidden_instance_types()
            .iter()
            .map(|i| i.as_str().to_owned())
            .collect::<Vec<_>>()),
        Some(vec!["ml.p5.48xlarge".to_owned()])
    );

    // The mapping changes its idle timeout: the profile is updated, once.
    world
        .edit_policy(
            "jupyterlab_idle_timeout_minutes = 120",
            "jupyterlab_idle_timeout_minutes = 240",
        )
        .expect("policy");
    let report = sweep(&world).await;
    assert_eq!(
        actions(&report),
        vec![("Update".into(), "ok".into())],
        "{report:#}"
    );
    let idle = world
        .describe(&name)
        .await
        .expect("describe")
        .user_settings()
        .and_then(|s| s.jupyter_lab_app_settings())
        .and_then(|l| l.app_lifecycle_management())
        .and_then(|m| m.idle_settings())
        .cloned()
        .expect("idle settings");
    assert_eq!(idle.idle_timeout_in_minutes(), Some(240));
    assert_eq!(idle.max_idle_timeout_in_minutes(), Some(480));
    world.settle().await.expect("settled");
    sweep(&world).await; // records InService
    let before = world.emulator.stats().await.expect("stats");
    let report = sweep(&world).await;
    assert!(actions(&report).is_empty(), "{report:#}");
    let calls = calls_since(&world, &before).await;
    assert_eq!(calls.get("sagemaker:UpdateUserProfile"), None, "{calls:?}");
}

/// `[mappings.private_space]`: onboarding creates the user's private JupyterLab space, owned by
/// the profile and named like it; later sweeps create no other; a space the user deleted is not
/// created again (it is made at onboarding only); offboarding deletes it with the profile.
#[tokio::test]
async fn a_private_space_is_created_at_onboarding_once_and_offboarding_deletes_it() {
    let mut world = World::new().await.expect("world");
    world
        .edit_policy(
            "\n[[mappings]]\ngroup_id",
            "\n[mappings.private_space]\ndisplay_name = \"Notebooks\"\nebs_size_gb = 20\n\n[[mappings]]\ngroup_id",
        )
        .expect("policy");
    let jane = world.add_user("jane").await.expect("user");
    let bo = world.add_user("bo").await.expect("user");
    let membership = world.join(&jane, &world.researchers).await.expect("join");
    world.join(&bo, &world.researchers).await.expect("join");
    let report = sweep(&world).await;
    assert_eq!(
        actions(&report),
        vec![
            ("Create".into(), "ok".into()),
            ("Create".into(), "ok".into())
        ],
        "{report:#}"
    );
    let profile = async |user: &str| {
        world
            .record(user)
            .await
            .expect("ledger")
            .expect("record")
            .profile
            .to_string()
    };
    let (jane_profile, bo_profile) = (profile(&jane).await, profile(&bo).await);
    let mut spaces = world.spaces().await.expect("spaces");
    spaces.sort();
    let mut expected = vec![jane_profile.clone(), bo_profile.clone()];
    expected.sort();
    assert_eq!(spaces, expected);
    let space = world
        .sagemaker
        .describe_space()
        .domain_id(world.domain.as_str())
        .space_name(&jane_profile)
        .send()
        .await
        .expect("DescribeSpace");
    assert_eq!(
        space
            .ownership_settings()
            .and_then(|o| o.owner_user_profile_name()),
        Some(jane_profile.as_str())
    );
    assert_eq!(
        space
            .space_sharing_settings()
            .and_then(|s| s.sharing_type())
            .map(|t| t.as_str()),
        Some("Private")
    );
    assert_eq!(space.space_display_name(), Some("Notebooks"));
    let settings = space.space_settings().expect("space settings");
    assert_eq!(settings.app_type().map(|t| t.as_str()), Some("JupyterLab"));
    assert_eq!(
        settings
            .space_storage_settings()
            .and_then(|s| s.ebs_storage_settings())
            .and_then(|e| e.ebs_volume_size_in_gb()),
        Some(20)
    );

    // Later sweeps create no other space, and do not bring back one the user deleted.
    world.settle().await.expect("settled");
    world
        .sagemaker
        .delete_space()
        .domain_id(world.domain.as_str())
        .space_name(&bo_profile)
        .send()
        .await
        .expect("Bo deletes his space");
    let before = world.emulator.stats().await.expect("stats");
    sweep(&world).await;
    sweep(&world).await;
    let calls = calls_since(&world, &before).await;
    assert_eq!(calls.get("sagemaker:CreateSpace"), None, "{calls:?}");
    sweep_until(&world, 0, "Bo's space gone", async |_| {
        !world.spaces().await.expect("spaces").contains(&bo_profile)
    })
    .await;
    assert_eq!(
        world.spaces().await.expect("spaces"),
        vec![jane_profile.clone()]
    );

    // Jane leaves: after the grace period and the retention (none in this world), her space
    // goes with her profile.
    world.leave(&membership).await.expect("leave");
    let report = sweep(&world).await;
    assert!(
        actions(&report).contains(&("StartGrace".into(), "ok".into())),
        "{report:#}"
    );
    sweep_until(&world, 7200, "offboarded", async |_| {
        matches!(
            world.record(&jane).await.expect("l").expect("r").phase,
            Phase::Offboarded { .. }
        )
    })
    .await;
    assert!(
        !world
            .spaces()
            .await
            .expect("spaces")
            .contains(&jane_profile)
    );
    assert!(
        !world
            .profiles()
            .await
            .expect("profiles")
            .contains_key(&jane_profile)
    );
    let steps: Vec<String> = world
        .history(&jane)
        .await
        .expect("history")
        .into_iter()
        .map(|h| format!("{}: {}", h.action, h.outcome))
        .collect();
    assert!(
        steps
            .iter()
            .any(|s| s == "Offboard: in progress: 1 private space(s) deleting"),
        "{steps:#?}"
    );
}
