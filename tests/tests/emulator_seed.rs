//! The emulator's bulk set-up for benchmarks, through the real SDK.

use aws_sdk_identitystore::types::MemberId;
use warden_tests::Emulator;

#[tokio::test]
async fn seeding_creates_users_groups_and_memberships_the_api_can_read() {
    let emulator = Emulator::start().await.expect("emulator");
    let store = "d-9067c0ffee";
    let groups: Vec<String> = (0..3).map(|i| format!("bench-{i}")).collect();
    let (ids, users) = emulator
        .seed_identity_store(store, &groups, 250, "u")
        .await
        .expect("seed");
    assert_eq!(ids.len(), 3);
    assert_eq!(users.len(), 250);
    let client = aws_sdk_identitystore::Client::new(&emulator.sdk_config());
    let listed: usize = client
        .list_users()
        .identity_store_id(store)
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await
        .len();
    assert_eq!(listed, 250);
    let members = client
        .list_group_memberships()
        .identity_store_id(store)
        .group_id(&ids["bench-1"])
        .max_results(100)
        .into_paginator()
        .items()
        .send()
        .collect::<Vec<_>>()
        .await;
    assert_eq!(members.len(), 83, "users 1, 4, 7, ... join bench-1");
    let of_user = client
        .list_group_memberships_for_member()
        .identity_store_id(store)
        .member_id(MemberId::UserId(users[4].clone()))
        .send()
        .await
        .expect("memberships");
    assert_eq!(
        of_user.group_memberships()[0].group_id(),
        Some(ids["bench-1"].as_str())
    );
    let bad = emulator.seed_identity_store(store, &[], 5, "x").await;
    assert!(bad.is_err(), "users without groups are refused");
}
