//! The adapters against the emulator, through the real SDK: the ledger's conditional writes,
//! the directory's reads, and the studio adapter's error mapping.

use std::collections::BTreeSet;

use warden::WardenError;
use warden::ids::{DomainId, GroupId, MembershipId, ResourceName, UserId};
use warden::model::{Phase, UserRecord};
use warden::ports::{Directory, HistoryEntry, Ledger, Studio};
use warden_tests::fixture::*;

fn record(world: &World, user: &str, version: u64) -> UserRecord {
    UserRecord {
        domain: world.domain.clone(),
        user: UserId::parse(user).expect("id"),
        user_name: "jane".into(),
        profile: ResourceName::parse("jane-1a2b3c4d").expect("name"),
        phase: Phase::Active,
        group: None,
        template_hash: Some("abc".into()),
        profile_status: None,
        attention: None,
        version,
        updated_at: 1,
    }
}

const USER: &str = "9067c0ffee-1111aaaa-0000-4000-8000-000000000001";

#[tokio::test]
async fn ledger_writes_are_conditional_on_the_version_read() {
    let world = World::new().await.expect("world");
    let ledger = &world.engine.ledger;
    ledger
        .put_record(&record(&world, USER, 1))
        .await
        .expect("first claim");
    let lost = ledger
        .put_record(&record(&world, USER, 1))
        .await
        .expect_err("second claim loses");
    assert!(matches!(lost, WardenError::LedgerConflict { .. }), "{lost}");
    assert!(lost.is_retryable());
    ledger
        .put_record(&record(&world, USER, 2))
        .await
        .expect("next version");
    let stale = ledger
        .put_record(&record(&world, USER, 2))
        .await
        .expect_err("stale writer loses");
    assert!(matches!(stale, WardenError::LedgerConflict { .. }));
    let back = ledger
        .record(&world.domain, &UserId::parse(USER).expect("id"))
        .await
        .expect("read")
        .expect("there");
    assert_eq!(back, record(&world, USER, 2), "round trip");
    let all = ledger.records(&world.domain).await.expect("records");
    assert_eq!(all.len(), 1);
    let other = DomainId::parse("d-otherdomain1").expect("id");
    assert!(ledger.records(&other).await.expect("records").is_empty());
}

#[tokio::test]
async fn history_is_append_only_and_ordered() {
    let world = World::new().await.expect("world");
    let ledger = &world.engine.ledger;
    let user = UserId::parse(USER).expect("id");
    for i in 0..25 {
        let entry = HistoryEntry {
            user: user.clone(),
            domain: world.domain.clone(),
            profile: None,
            action: format!("Step{i:02}"),
            reason: "test".into(),
            trigger: "t".into(),
            outcome: "ok".into(),
            at: i,
        };
        ledger.append(&entry).await.expect("append");
    }
    let history = ledger.history(&user).await.expect("history");
    let actions: Vec<_> = history.iter().map(|h| h.action.clone()).collect();
    let expected: Vec<_> = (0..25).map(|i| format!("Step{i:02}")).collect();
    assert_eq!(actions, expected);
}

#[tokio::test]
async fn events_and_memberships_are_remembered() {
    let world = World::new().await.expect("world");
    let ledger = &world.engine.ledger;
    assert!(!ledger.event_seen("evt-1").await.expect("read"));
    ledger.mark_event("evt-1", 100, 60).await.expect("mark");
    assert!(ledger.event_seen("evt-1").await.expect("read"));
    let m = MembershipId::parse("9067c0ffee-3333cccc-0000-4000-8000-000000000001").expect("id");
    let g = GroupId::parse("9067c0ffee-2222bbbb-0000-4000-8000-000000000001").expect("id");
    let u = UserId::parse(USER).expect("id");
    assert_eq!(ledger.membership(&m).await.expect("read"), None);
    ledger
        .remember_membership(&m, &g, &u)
        .await
        .expect("remember");
    assert_eq!(ledger.membership(&m).await.expect("read"), Some((g, u)));
}

#[tokio::test]
async fn the_directory_reads_users_groups_and_memberships() {
    let world = World::new().await.expect("world");
    let dir = &world.engine.directory;
    let jane = world.add_user("jane.doe@example.com").await.expect("user");
    let bo = world.add_user("bo").await.expect("user");
    world.join(&jane, &world.researchers).await.expect("join");
    world.join(&jane, &world.leads).await.expect("join");
    world.join(&bo, &world.researchers).await.expect("join");
    let jane_id = UserId::parse(&jane).expect("id");

    let user = dir.user(&jane_id).await.expect("read").expect("exists");
    assert_eq!(user.user_name, "jane.doe@example.com");
    assert!(user.enabled);
    let groups: BTreeSet<String> = dir
        .groups_of(&jane_id)
        .await
        .expect("groups")
        .iter()
        .map(|g| g.to_string())
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from([world.researchers.clone(), world.leads.clone()])
    );
    let members: BTreeSet<String> = dir
        .members_of(&GroupId::parse(&world.researchers).expect("id"))
        .await
        .expect("members")
        .iter()
        .map(|(_, u)| u.to_string())
        .collect();
    assert_eq!(members, BTreeSet::from([jane.clone(), bo.clone()]));
    assert_eq!(
        dir.group_id(RESEARCHERS)
            .await
            .expect("lookup")
            .map(|g| g.to_string()),
        Some(world.researchers.clone())
    );
    assert_eq!(dir.group_id("no-such-group").await.expect("lookup"), None);
    assert_eq!(dir.users().await.expect("users").len(), 2);

    world.delete_user(&jane).await.expect("delete");
    assert_eq!(
        dir.user(&jane_id).await.expect("read"),
        None,
        "a deleted user is None, not an error"
    );
    assert!(dir.groups_of(&jane_id).await.expect("groups").is_empty());
}

#[tokio::test]
async fn the_studio_adapter_maps_sagemaker_answers() {
    let world = World::new().await.expect("world");
    let studio = &world.engine.studio;
    let name = ResourceName::parse("jane-1a2b3c4d").expect("name");
    assert_eq!(
        studio
            .describe_profile(&world.domain, &name)
            .await
            .expect("describe"),
        None
    );
    assert!(
        studio
            .delete_profile(&world.domain, &name)
            .await
            .expect("a missing profile counts as deleted")
    );
    let info = studio.describe_domain(&world.domain).await.expect("domain");
    assert_eq!(info.auth_mode, "IAM");
    assert_eq!(info.sso_application_arn, None);
    let missing = DomainId::parse("d-nosuchdomain").expect("id");
    let err = studio
        .list_profiles(&missing)
        .await
        .map(|_| ())
        .and(studio.describe_domain(&missing).await.map(|_| ()));
    let err = err.expect_err("unknown domain");
    assert!(!err.is_retryable(), "{err}");
}
