//! One scenario per sample in `events/`: the truth is changed the way the event says, the
//! sample is fed to the real handler, and the decision is the one that change calls for.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use warden_tests::fixture::*;

/// What happened in the Identity Store before the event arrived.
#[derive(Debug, Clone, Copy)]
enum Setup {
    /// Jane joined ml-researchers; she has no profile yet.
    Joined,
    /// Jane has a profile; then the change below happened.
    Left,
    UserDeleted,
    GroupDeleted,
    Disabled,
    /// Jane was disabled (and is in her grace period), then enabled again.
    Enabled,
    Renamed,
    Unchanged,
}

/// What the handler must answer.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// These actions (sorted), all succeeded (or planned).
    Actions(&'static [&'static str]),
    /// A logged skip, nothing done.
    Skipped,
    /// The safety net: the leaver's grace period is held back (a deleted group's members are
    /// offboarded only after an operator approves), and the answer names the hold.
    Held,
}

fn action_kinds(report: &Value) -> Vec<String> {
    let mut kinds: Vec<String> = report["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| x["action"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    kinds.sort();
    kinds
}

async fn run(file: &str, setup: Setup, expect: Expect) {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane.doe@example.com").await.expect("user");
    let mut membership = String::new();
    if !matches!(setup, Setup::Joined) {
        membership = world.join(&jane, &world.researchers).await.expect("join");
        world.invoke(json!({"mode": "apply"})).await.expect("sweep");
        world.settle().await.expect("settle");
        // Record the settled status, so that the event's decision stands alone.
        world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    }
    match setup {
        Setup::Joined => membership = world.join(&jane, &world.researchers).await.expect("join"),
        Setup::Left => world.leave(&membership).await.expect("leave"),
        Setup::UserDeleted => world.delete_user(&jane).await.expect("delete user"),
        Setup::GroupDeleted => world
            .delete_group(&world.researchers)
            .await
            .expect("delete group"),
        Setup::Disabled => world.set_enabled(&jane, false).await.expect("disable"),
        Setup::Enabled => {
            world.set_enabled(&jane, false).await.expect("disable");
            world
                .invoke(json!({"mode": "apply"}))
                .await
                .expect("sweep starts the grace period");
            world.set_enabled(&jane, true).await.expect("enable");
        }
        Setup::Renamed => world
            .rename(&jane, "jane.roe@example.com")
            .await
            .expect("rename"),
        Setup::Unchanged => {}
    }
    let ids = [
        (SAMPLE_USER_1, jane.as_str()),
        (SAMPLE_USER_2, jane.as_str()),
        (SAMPLE_GROUP_1, world.researchers.as_str()),
        (SAMPLE_GROUP_2, world.researchers.as_str()),
        (SAMPLE_MEMBERSHIP_1, membership.as_str()),
    ];
    let event = world.sample(file, &ids).expect("sample");
    let report = world
        .invoke(event)
        .await
        .unwrap_or_else(|e| panic!("{file}: {e}"));
    match expect {
        Expect::Skipped => {
            assert!(
                report["skipped"].is_string(),
                "{file}: expected a skip: {report:#}"
            );
            assert!(action_kinds(&report).is_empty(), "{file}: {report:#}");
        }
        Expect::Held => {
            assert!(action_kinds(&report).is_empty(), "{file}: {report:#}");
            assert_eq!(
                report["held"].as_array().map(Vec::len),
                Some(1),
                "{file}: {report:#}"
            );
            assert!(report["hold"]["id"].is_string(), "{file}: {report:#}");
        }
        Expect::Actions(kinds) => {
            assert_eq!(action_kinds(&report), kinds.to_vec(), "{file}: {report:#}");
            for a in report["actions"].as_array().into_iter().flatten() {
                let outcome = a["outcome"].as_str().unwrap_or_default();
                assert!(
                    outcome.starts_with("ok") || outcome == "planned",
                    "{file}: {a:#}"
                );
            }
        }
    }
    // The profile's fate follows the decision.
    let profiles = world.profiles().await.expect("profiles");
    match expect {
        Expect::Actions(["Create"]) if file != "sweep-custom-input-plan.json" => {
            assert_eq!(profiles.len(), 1)
        }
        _ => {}
    }
}

macro_rules! triggers {
    ($($name:ident: $file:literal, $setup:ident, $expect:expr;)*) => {
        $(
            #[tokio::test]
            async fn $name() {
                run($file, Setup::$setup, $expect).await;
            }
        )*

        /// Every sample in `events/` has a scenario here (drift samples are in `drift.rs`).
        #[test]
        fn every_identity_and_sweep_sample_has_a_scenario() {
            let covered: BTreeSet<&str> = [$($file),*].into_iter().collect();
            let dir = warden_tests::workspace_root().join("events");
            let mut missing = Vec::new();
            for entry in std::fs::read_dir(&dir).expect("events/") {
                let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
                let drift = name.starts_with("sagemaker-") || name.starts_with("ec2-");
                // routes.json is not a payload: it says which function each sample reaches.
                let payload = name.ends_with(".json") && name != "routes.json";
                if payload && !drift && !covered.contains(name.as_str()) {
                    missing.push(name);
                }
            }
            assert!(missing.is_empty(), "samples without a scenario: {missing:?}");
        }
    };
}

const CREATE: Expect = Expect::Actions(&["Create"]);
const GRACE: Expect = Expect::Actions(&["StartGrace"]);
const RECORD: Expect = Expect::Actions(&["Record"]);

triggers! {
    identitystore_create_group_membership: "identitystore-CreateGroupMembership.json", Joined, CREATE;
    identitystore_delete_group_membership_unknown_id: "identitystore-DeleteGroupMembership.json", Left, GRACE;
    identitystore_delete_user: "identitystore-DeleteUser.json", UserDeleted, GRACE;
    identitystore_delete_group: "identitystore-DeleteGroup.json", GroupDeleted, Expect::Held;
    identitystore_update_user_rename: "identitystore-UpdateUser.json", Renamed, RECORD;
    identitystore_update_group: "identitystore-UpdateGroup.json", Unchanged, Expect::Actions(&[]);
    identitystore_create_user: "identitystore-CreateUser.json", Unchanged, Expect::Skipped;
    notification_user_updated: "identitystore-notification-User-Updated.json", Renamed, RECORD;
    notification_user_deleted: "identitystore-notification-User-Deleted.json", UserDeleted, GRACE;
    notification_group_updated: "identitystore-notification-Group-Updated.json", Unchanged, Expect::Actions(&[]);
    notification_group_deleted: "identitystore-notification-Group-Deleted.json", GroupDeleted, Expect::Held;
    notification_user_created: "identitystore-notification-User-Created.json", Unchanged, Expect::Skipped;
    console_add_member: "sso-directory-AddMemberToGroup.json", Joined, CREATE;
    console_add_member_empty_session_issuer: "sso-directory-AddMemberToGroup-empty-session-issuer.json", Joined, CREATE;
    console_remove_member: "sso-directory-RemoveMemberFromGroup.json", Left, GRACE;
    console_delete_user: "sso-directory-DeleteUser.json", UserDeleted, GRACE;
    console_delete_group: "sso-directory-DeleteGroup.json", GroupDeleted, Expect::Held;
    console_disable_user: "sso-directory-DisableUser.json", Disabled, GRACE;
    console_enable_user: "sso-directory-EnableUser.json", Enabled, Expect::Actions(&["Restore"]);
    console_update_user: "sso-directory-UpdateUser.json", Renamed, RECORD;
    console_update_user_name: "sso-directory-UpdateUserName.json", Renamed, RECORD;
    console_update_group_display_name: "sso-directory-UpdateGroupDisplayName.json", Unchanged, Expect::Actions(&[]);
    scim_patch_group_hidden_members: "scim-PatchGroup-hidden-members.json", Joined, CREATE;
    scim_patch_group_remove_member: "scim-PatchGroup-remove-member.json", Left, GRACE;
    scim_patch_group_failed: "scim-PatchGroup-failed-ValidationException.json", Joined, Expect::Skipped;
    scim_patch_group_hidden_id: "scim-PatchGroup-hidden-id.json", Joined, Expect::Skipped;
    scim_patch_user_deactivates: "scim-PatchUser.json", Disabled, GRACE;
    scim_put_user: "scim-PutUser.json", Renamed, RECORD;
    scim_delete_user: "scim-DeleteUser.json", UserDeleted, GRACE;
    scim_delete_group: "scim-DeleteGroup.json", GroupDeleted, Expect::Held;
    scim_create_user: "scim-CreateUser.json", Unchanged, Expect::Skipped;
    failed_call: "failed-call-errorCode.json", Joined, Expect::Skipped;
    other_identity_store: "other-identity-store.json", Joined, Expect::Skipped;
    other_detail_type: "signin-ConsoleLogin-other-detail-type.json", Joined, Expect::Skipped;
    scheduler_detail_string: "scheduler-detail-string.json", Joined, CREATE;
    scheduler_detail_string_newlines: "scheduler-detail-string-newlines.json", Joined, CREATE;
    scheduled_rule: "scheduled-rule.json", Joined, CREATE;
    custom_input_apply: "sweep-custom-input-apply.json", Joined, CREATE;
    custom_input_empty: "sweep-custom-input-empty.json", Joined, CREATE;
    custom_input_plan: "sweep-custom-input-plan.json", Joined, CREATE;
}
