//! The safety net (issue 13): a renamed group changes nothing, a deleted group holds its
//! members, and a directory that cannot be read never makes anyone a leaver. Real handlers,
//! real SDK, the emulator.

use serde_json::{Value, json};
use warden::model::Phase;
use warden_tests::FaultRule;
use warden_tests::fixture::*;

const DAY: i64 = 86_400;

async fn guarded() -> World {
    World::with(WorldOptions {
        baseline: Some(String::new()),
        ..WorldOptions::default()
    })
    .await
    .expect("world")
}

/// `n` researchers with settled profiles.
async fn researchers(world: &World, n: usize) -> Vec<String> {
    members(world, n)
        .await
        .into_iter()
        .map(|(u, _)| u)
        .collect()
}

/// `n` researchers with settled profiles, with their memberships.
async fn members(world: &World, n: usize) -> Vec<(String, String)> {
    let mut users = Vec::with_capacity(n);
    for i in 0..n {
        let user = world.add_user(&format!("user{i:02}")).await.expect("user");
        let membership = world.join(&user, &world.researchers).await.expect("join");
        users.push((user, membership));
    }
    world
        .invoke(json!({"mode": "apply"}))
        .await
        .expect("first sweep");
    world.settle().await.expect("settled");
    users
}

/// The safety findings open after a sweep.
fn opened(report: &Value) -> Vec<String> {
    report["safety"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Every phase of these users is Active, and none of them has a grace or offboarding row.
async fn untouched(world: &World, users: &[String]) {
    for user in users {
        let record = world.record(user).await.expect("ledger").expect("record");
        assert_eq!(record.phase, Phase::Active, "{user}");
        let history = world.history(user).await.expect("history");
        assert!(
            history
                .iter()
                .all(|h| h.action != "StartGrace" && h.action != "Offboard"),
            "{user}: {history:#?}"
        );
    }
}

/// An administrator renames a mapped group of 50 members. The mapping was pinned to the
/// group's id on the first run: the members keep their profiles through sweeps well past the
/// grace period, and the drift sweep alerts once ("group renamed: update the policy"). Once the
/// policy names the new display name, the finding resolves.
#[tokio::test]
async fn a_renamed_group_changes_nothing() {
    let mut world = guarded().await;
    let users = researchers(&world, 50).await;
    assert_eq!(world.profiles().await.expect("profiles").len(), 50);

    world
        .rename_group(&world.researchers, "ml-research")
        .await
        .expect("rename");
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert!(
        opened(&report).contains(&format!("mapping.renamed#{RESEARCHERS}")),
        "{report:#}"
    );
    for offset in [2 * DAY, 40 * DAY] {
        let report = world
            .invoke_at(json!({"mode": "apply"}), now() + offset)
            .await
            .expect("sweep");
        assert!(report.failures.is_empty(), "{:?}", report.failures);
        assert!(
            report
                .actions
                .iter()
                .all(|a| !matches!(a.action.kind(), "StartGrace" | "Offboard")),
            "{:?}",
            report.actions
        );
    }
    assert_eq!(world.profiles().await.expect("profiles").len(), 50);
    untouched(&world, &users).await;
    let alerts = world.read_alerts().await.expect("alerts");
    let renamed: Vec<_> = alerts
        .iter()
        .filter(|a| a.attributes.get("rule").map(String::as_str) == Some("mapping.renamed"))
        .filter(|a| a.attributes.get("event").map(String::as_str) == Some("opened"))
        .collect();
    assert_eq!(renamed.len(), 1, "{alerts:#?}");

    // The operator updates the policy to the new name: it resolves to the pinned group.
    world
        .edit_policy(
            &format!("group = \"{RESEARCHERS}\""),
            "group = \"ml-research\"",
        )
        .expect("policy");
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert!(
        report["actions"]
            .as_array()
            .is_none_or(|a| a.iter().all(|x| x["action"] != "StartGrace")),
        "{report:#}"
    );
    untouched(&world, &users).await;
}

/// The IdP re-creates a group under the pinned name: the name now means another group. The
/// members of neither are offboarded; the conflict is alerted.
#[tokio::test]
async fn a_name_taken_by_another_group_is_a_conflict_that_holds() {
    let world = guarded().await;
    let mut users = researchers(&world, 3).await;
    let leaver = world.add_user("leaver").await.expect("user");
    let membership = world.join(&leaver, &world.researchers).await.expect("join");
    world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    users.push(leaver);
    world
        .rename_group(&world.researchers, "ml-researchers-old")
        .await
        .expect("rename");
    world
        .create_group(RESEARCHERS)
        .await
        .expect("a new group takes the name");
    // One member leaves the pinned group meanwhile: held, not a leaver.
    world.leave(&membership).await.expect("leave");
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert!(
        opened(&report).contains(&format!("mapping.conflict#{RESEARCHERS}")),
        "{report:#}"
    );
    let report = world
        .invoke_at(json!({"mode": "apply"}), now() + 40 * DAY)
        .await
        .expect("sweep");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    untouched(&world, &users).await;
}

/// A mapped group is deleted: its members are held (no grace period starts), the plan and the
/// response name them, and the drift sweep alerts once.
#[tokio::test]
async fn a_deleted_group_holds_its_members() {
    let world = guarded().await;
    let users = researchers(&world, 5).await;
    world
        .delete_group(&world.researchers)
        .await
        .expect("delete");

    let plan = world.invoke(json!({"mode": "plan"})).await.expect("plan");
    assert_eq!(
        plan["held"].as_array().map(Vec::len),
        Some(5),
        "the plan shows the held leavers: {plan:#}"
    );
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert_eq!(
        report["held"].as_array().map(Vec::len),
        Some(5),
        "{report:#}"
    );
    assert!(
        opened(&report).contains(&format!("mapping.missing#{RESEARCHERS}")),
        "{report:#}"
    );
    for offset in [2 * DAY, 40 * DAY] {
        world
            .invoke_at(json!({"mode": "apply"}), now() + offset)
            .await
            .expect("sweep");
    }
    untouched(&world, &users).await;
    assert_eq!(world.profiles().await.expect("profiles").len(), 5);
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    let open = opened(&report);
    assert!(
        open.contains(&format!("mapping.missing#{RESEARCHERS}"))
            && open.iter().any(|k| k.starts_with("offboarding.hold#")),
        "{open:?}"
    );
    let alerts = world.read_alerts().await.expect("alerts");
    let missing: Vec<_> = alerts
        .iter()
        .filter(|a| a.attributes.get("rule").map(String::as_str) == Some("mapping.missing"))
        .filter(|a| a.attributes.get("event").map(String::as_str) == Some("opened"))
        .collect();
    assert_eq!(missing.len(), 1, "alerted once: {alerts:#?}");
}

/// The Identity Store fails every call for a whole sweep (throttling, then server errors): the
/// sweep fails, retryably, and nobody enters a grace period.
#[tokio::test]
async fn a_directory_that_cannot_be_read_makes_no_leavers() {
    let world = World::new().await.expect("world");
    let users = researchers(&world, 3).await;
    for rule in [
        FaultRule::new("identitystore", "*").with_throttle(1.0),
        FaultRule::new("identitystore", "*").with_error(1.0),
    ] {
        world.emulator.set_faults(&[rule]).await.expect("faults");
        let err = world
            .invoke_at(json!({"mode": "apply"}), now() + 2 * DAY)
            .await
            .expect_err("the sweep cannot read the directory");
        assert!(err.is_retryable(), "{err}");
        world.emulator.set_faults(&[]).await.expect("faults off");
        untouched(&world, &users).await;
    }
}

/// `n` researchers with settled profiles, all removed from the group at once, and the sweep
/// that follows.
async fn wiped(world: &World, n: usize) -> (Vec<(String, String)>, Value) {
    let users = members(world, n).await;
    for (_, membership) in &users {
        world.leave(membership).await.expect("leave");
    }
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    (users, report)
}

fn hold_id(report: &Value) -> String {
    report["hold"]["id"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no hold in {report:#}"))
}

fn started_grace(report: &Value) -> usize {
    report["actions"]
        .as_array()
        .map(|a| a.iter().filter(|x| x["action"] == "StartGrace").count())
        .unwrap_or_default()
}

/// The IdP removes everyone from a mapped group at once (a SCIM misconfiguration): more than
/// `max_per_run` (10) leavers in one sweep. Nothing starts; a hold names them, alerted once
/// (critical) and shown by the plan. Discarding it while the cause remains records a new one;
/// approving it releases them, and every released user's history names the hold.
#[tokio::test]
async fn a_directory_wipe_is_held_until_an_operator_approves() {
    let world = guarded().await;
    let (users, report) = wiped(&world, 12).await;
    assert_eq!(started_grace(&report), 0, "{report:#}");
    assert_eq!(report["hold"]["users"].as_array().map(Vec::len), Some(12));
    assert!(
        report["hold"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("max_per_run")),
        "{report:#}"
    );
    let first = hold_id(&report);
    assert!(opened(&report).contains(&format!("offboarding.hold#{first}")));
    let ids: Vec<String> = users.iter().map(|(u, _)| u.clone()).collect();
    untouched(&world, &ids).await;
    let plan = world.invoke(json!({"mode": "plan"})).await.expect("plan");
    assert_eq!(hold_id(&plan), first, "the plan shows the hold: {plan:#}");
    // The same situation on the next sweep: the same hold, no new alert.
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert_eq!(hold_id(&report), first);
    let alerts = world.read_alerts().await.expect("alerts");
    let holds: Vec<_> = alerts
        .iter()
        .filter(|a| a.attributes.get("rule").map(String::as_str) == Some("offboarding.hold"))
        .collect();
    assert_eq!(holds.len(), 1, "{alerts:#?}");
    assert_eq!(
        holds[0].attributes.get("severity").map(String::as_str),
        Some("critical")
    );

    // Discarded while the cause remains: a new hold.
    let report = world
        .invoke(json!({"mode": "discard", "hold": first}))
        .await
        .expect("discard");
    let second = hold_id(&report);
    assert_ne!(second, first);
    assert_eq!(started_grace(&report), 0);

    // Approved: everyone starts the grace period, and the history says why.
    let report = world
        .invoke(json!({"mode": "approve", "hold": second}))
        .await
        .expect("approve");
    assert_eq!(started_grace(&report), 12, "{report:#}");
    assert!(report.get("hold").is_none_or(Value::is_null), "{report:#}");
    for (user, _) in &users {
        let history = world.history(user).await.expect("history");
        assert!(
            history
                .iter()
                .any(|h| h.action == "StartGrace" && h.reason.contains(&second)),
            "{history:#?}"
        );
    }
    // An unknown or decided hold is refused, as bad input.
    let err = world
        .invoke(json!({"mode": "approve", "hold": first}))
        .await
        .expect_err("a discarded hold cannot be approved");
    assert!(format!("{err:?}").contains("Hold"), "{err:?}");
}

/// A few leavers (3 of 20, under both thresholds) offboard as they always did: no hold.
#[tokio::test]
async fn a_few_leavers_are_not_held() {
    let world = World::new().await.expect("world");
    let users = members(&world, 20).await;
    for (_, membership) in users.iter().take(3) {
        world.leave(membership).await.expect("leave");
    }
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert_eq!(started_grace(&report), 3, "{report:#}");
    assert!(report.get("hold").is_none_or(Value::is_null), "{report:#}");
}

/// A hold expires when the situation resolves itself: the members are back.
#[tokio::test]
async fn a_hold_expires_when_the_members_come_back() {
    let world = guarded().await;
    let (users, report) = wiped(&world, 12).await;
    let id = hold_id(&report);
    for (user, _) in &users {
        world.join(user, &world.researchers).await.expect("rejoin");
    }
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert!(report.get("hold").is_none_or(Value::is_null), "{report:#}");
    assert!(
        !opened(&report).contains(&format!("offboarding.hold#{id}")),
        "{report:#}"
    );
    let err = world
        .invoke(json!({"mode": "approve", "hold": id}))
        .await
        .expect_err("an expired hold cannot be approved");
    assert!(format!("{err:?}").contains("Hold"), "{err:?}");
}

/// A mapped group of 50 is deleted: a hold appears (alerted, shown by the plan) and nobody is
/// suspended, however long the sweeps go on. After one approval the 50 start their grace
/// period, are suspended together when it ends, and have their data deleted together when the
/// retention ends: each stage is a mass start, and the one approval carries them through.
#[tokio::test]
async fn a_deleted_groups_members_leave_only_after_approval() {
    let world = World::with(WorldOptions {
        baseline: Some(String::new()),
        retention: "30d",
        ..WorldOptions::default()
    })
    .await
    .expect("world");
    let users = researchers(&world, 50).await;
    world
        .delete_group(&world.researchers)
        .await
        .expect("delete");
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert_eq!(started_grace(&report), 0);
    let id = hold_id(&report);
    assert!(opened(&report).contains(&format!("offboarding.hold#{id}")));
    let plan = world.invoke(json!({"mode": "plan"})).await.expect("plan");
    assert_eq!(hold_id(&plan), id, "the plan shows the hold: {plan:#}");
    let alerts = world.read_alerts().await.expect("alerts");
    assert!(
        alerts
            .iter()
            .any(|a| a.attributes.get("rule").map(String::as_str) == Some("offboarding.hold")),
        "{alerts:#?}"
    );
    // Weeks of sweeps: nobody is suspended while the hold waits.
    let report = world
        .invoke_at(json!({"mode": "apply"}), now() + 40 * DAY)
        .await
        .expect("sweep");
    assert!(report.failures.is_empty(), "{:?}", report.failures);
    untouched(&world, &users).await;

    let report = world
        .invoke(json!({"mode": "approve", "hold": id}))
        .await
        .expect("approve");
    assert_eq!(started_grace(&report), 50, "{report:#}");
    let approved_at = now();
    // The grace period ends for all 50 at once: 50 suspensions in one run, released.
    let mut suspended_at = 0;
    for round in 0..6 {
        let at = approved_at + 2 * 3600 + round;
        let report = world
            .invoke_at(json!({"mode": "apply"}), at)
            .await
            .expect("sweep");
        assert!(report.hold.is_none(), "held again: {:?}", report.hold);
        if every(&world, &users, |p| matches!(p, Phase::Suspended { .. })).await {
            suspended_at = at;
            break;
        }
    }
    assert!(suspended_at > 0, "the 50 were not suspended");
    assert_eq!(world.profiles().await.expect("profiles").len(), 50);
    // The retention ends: 50 deletions in one run, released by the same approval.
    for round in 0..10 {
        let report = world
            .invoke_at(json!({"mode": "apply"}), suspended_at + 31 * DAY + round)
            .await
            .expect("sweep");
        assert!(report.hold.is_none(), "held again: {:?}", report.hold);
        if every(&world, &users, |p| matches!(p, Phase::Offboarded { .. })).await {
            break;
        }
        world.settle().await.expect("settled");
    }
    assert!(every(&world, &users, |p| matches!(p, Phase::Offboarded { .. })).await);
    assert!(world.profiles().await.expect("profiles").is_empty());
    for user in &users {
        let history = world.history(user).await.expect("history");
        for stage in ["StartGrace", "Suspend", "Offboard"] {
            assert!(
                history
                    .iter()
                    .any(|h| h.action == stage && h.reason.contains(&id)),
                "{stage} names the hold: {history:#?}"
            );
        }
    }
}

/// Whether every one of these users' records is in a phase `is`.
async fn every(world: &World, users: &[String], is: impl Fn(&Phase) -> bool) -> bool {
    for user in users {
        match world.record(user).await.expect("ledger") {
            Some(r) if is(&r.phase) => {}
            _ => return false,
        }
    }
    true
}

/// An approval covers one leaving, not the next: twelve leavers approved, back in the group
/// during their grace period, then removed at once again, are held again.
#[tokio::test]
async fn an_approval_does_not_cover_a_later_leaving() {
    let world = guarded().await;
    let (users, report) = wiped(&world, 12).await;
    let first = hold_id(&report);
    let report = world
        .invoke(json!({"mode": "approve", "hold": first}))
        .await
        .expect("approve");
    assert_eq!(started_grace(&report), 12, "{report:#}");
    // Back in the group: restored.
    let mut again = Vec::new();
    for (user, _) in &users {
        again.push(world.join(user, &world.researchers).await.expect("join"));
    }
    world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    let ids: Vec<String> = users.iter().map(|(u, _)| u.clone()).collect();
    assert!(every(&world, &ids, |p| *p == Phase::Active).await);
    // Removed at once again: the old approval does not let them through.
    for membership in &again {
        world.leave(membership).await.expect("leave");
    }
    let report = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert_eq!(started_grace(&report), 0, "{report:#}");
    assert_ne!(hold_id(&report), first);
    assert_eq!(report["hold"]["users"].as_array().map(Vec::len), Some(12));
}
