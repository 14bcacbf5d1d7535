//! The adapters against the emulator, through the real SDK: the ledger's conditional writes,
//! the directory's reads, and the studio adapter's error mapping. Decisions come from error
//! codes and typed fields, never from an error's message.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use warden::WardenError;
use warden::adapters::{IdentityStoreDirectory, SageMakerStudio};
use warden::ids::{DomainId, GroupId, IdentityStoreId, MembershipId, ResourceName, UserId};
use warden::model::{Phase, UserRecord};
use warden::ports::{Directory, HistoryEntry, Ledger, Studio, SweepSummary};
use warden_tests::FaultRule;
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
        released_by: None,
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
        .expect("the group exists")
        .iter()
        .map(|(_, u)| u.to_string())
        .collect();
    assert_eq!(members, BTreeSet::from([jane.clone(), bo.clone()]));
    assert_eq!(
        dir.group_name(&GroupId::parse(&world.researchers).expect("id"))
            .await
            .expect("describe"),
        Some(RESEARCHERS.to_owned())
    );
    assert_eq!(
        dir.group_id(RESEARCHERS)
            .await
            .expect("lookup")
            .map(|g| g.to_string()),
        Some(world.researchers.clone())
    );
    assert_eq!(dir.group_id("no-such-group").await.expect("lookup"), None);
    assert_eq!(
        dir.user_id("jane.doe@example.com").await.expect("lookup"),
        Some(jane_id.clone())
    );
    assert_eq!(
        dir.user_id("nobody@example.com").await.expect("lookup"),
        None
    );
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

/// A well-formed identity store id that the emulator's Identity Center does not have.
const UNKNOWN_STORE: &str = "d-0123456789";

/// A `ResourceNotFoundException` for the identity store itself (a wrong store id in the
/// policy, or the wrong region) is an error: never "the user was deleted", "the user has no
/// groups", "the group has no members" or "no group has this name", each of which would
/// offboard every managed user.
#[tokio::test]
async fn the_directory_never_reads_a_missing_identity_store_as_missing_users_or_groups() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    world.join(&jane, &world.researchers).await.expect("join");
    let jane_id = UserId::parse(&jane).expect("id");
    let researchers = GroupId::parse(&world.researchers).expect("id");
    let wrong = IdentityStoreDirectory::new(
        aws_sdk_identitystore::Client::new(&world.sdk),
        IdentityStoreId::parse(UNKNOWN_STORE).expect("id"),
    );
    let not_found = |what: &str, e: WardenError| {
        assert_eq!(
            e.aws_code(),
            Some("ResourceNotFoundException"),
            "{what}: {e}"
        );
        assert!(!e.is_retryable(), "{what}: {e}");
    };
    not_found(
        "DescribeUser",
        wrong.user(&jane_id).await.expect_err("unknown store"),
    );
    not_found(
        "ListGroupMembershipsForMember",
        wrong.groups_of(&jane_id).await.expect_err("unknown store"),
    );
    not_found(
        "ListGroupMemberships",
        wrong
            .members_of(&researchers)
            .await
            .expect_err("unknown store"),
    );
    not_found(
        "GetGroupId",
        wrong
            .group_id(RESEARCHERS)
            .await
            .expect_err("unknown store"),
    );
    not_found(
        "GetUserId",
        wrong.user_id("jane").await.expect_err("unknown store"),
    );

    // The right store still reads a deleted user as gone and an unknown name as no group.
    let dir = &world.engine.directory;
    assert_eq!(dir.group_id("no-such-group").await.expect("lookup"), None);
    world.delete_user(&jane).await.expect("delete");
    assert_eq!(dir.user(&jane_id).await.expect("read"), None);
    not_found(
        "DescribeGroup",
        wrong
            .group_name(&researchers)
            .await
            .expect_err("unknown store"),
    );

    // A deleted group is no group, never an empty one.
    world
        .delete_group(&world.researchers)
        .await
        .expect("delete group");
    assert_eq!(dir.members_of(&researchers).await.expect("read"), None);
    assert_eq!(dir.group_name(&researchers).await.expect("read"), None);
}

/// The engine over a policy naming a store that does not exist: a membership event about a
/// managed user, and a sweep, both fail, and the user is not sent into a grace period.
#[tokio::test]
async fn runs_against_a_missing_identity_store_fail_and_offboard_nobody() {
    let world = World::new().await.expect("world");
    let jane = world.add_user("jane").await.expect("user");
    let membership = world.join(&jane, &world.researchers).await.expect("join");
    world
        .invoke(serde_json::json!({"mode": "apply"}))
        .await
        .expect("sweep");
    let before = world.record(&jane).await.expect("ledger").expect("record");
    assert_eq!(before.phase, Phase::Active);

    let source = world.policy_source.replace(STORE, UNKNOWN_STORE);
    let policy = warden::policy::Policy::parse(&source, "world", &Default::default())
        .expect("policy with another store");
    let settings = warden::runtime::Settings {
        policy: Arc::new(policy),
        table: world.table.clone(),
        concurrency: 4,
        identity_tps: 200,
        sagemaker_tps: 200,
        topic_arn: None,
        work_queue: None,
    };
    let engine = warden::runtime::build_engine(&settings, &world.sdk);
    let event = world
        .sample(
            "identitystore-CreateGroupMembership.json",
            &[
                (SAMPLE_USER_1, jane.as_str()),
                (SAMPLE_GROUP_1, world.researchers.as_str()),
                (SAMPLE_MEMBERSHIP_1, membership.as_str()),
                (STORE, UNKNOWN_STORE),
            ],
        )
        .expect("sample");
    for payload in [event, serde_json::json!({"mode": "apply"})] {
        let inbound =
            warden::events::classify(&payload, &engine.policy.identity_store.id).expect("input");
        let err = engine
            .handle(inbound, now(), None)
            .await
            .expect_err("the run cannot read the store");
        assert_eq!(err.aws_code(), Some("ResourceNotFoundException"), "{err}");
        let after = world.record(&jane).await.expect("ledger").expect("record");
        assert_eq!(after, before, "jane's record is untouched");
    }
    assert_eq!(world.profiles().await.expect("profiles").len(), 1);
}

/// How the scripted client answers SageMaker's ListTags.
#[derive(Debug, Clone)]
enum ListTagsScript {
    /// `ValidationException` with this message, the profile left as it is.
    Refuse(&'static str),
    /// The profile is deleted (as if it went between DescribeUserProfile and ListTags), then
    /// `ValidationException` with this message.
    DeleteThenRefuse(&'static str, aws_sdk_sagemaker::Client, String, String),
}

/// An HTTP client over the SDK's own that answers SageMaker's ListTags as scripted and passes
/// every other call to the emulator.
#[derive(Debug, Clone)]
struct Scripted {
    inner: SharedHttpClient,
    list_tags: ListTagsScript,
}

#[derive(Debug)]
struct ScriptedConnector {
    inner: SharedHttpConnector,
    list_tags: ListTagsScript,
}

impl HttpClient for Scripted {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(ScriptedConnector {
            inner: self.inner.http_connector(settings, components),
            list_tags: self.list_tags.clone(),
        })
    }
}

fn validation_exception(message: &str) -> HttpResponse {
    let body = serde_json::json!({"__type": "ValidationException", "message": message});
    let mut response = HttpResponse::new(
        400.try_into().expect("status"),
        SdkBody::from(body.to_string()),
    );
    response
        .headers_mut()
        .insert("content-type", "application/x-amz-json-1.1");
    response
}

impl HttpConnector for ScriptedConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        if request.headers().get("x-amz-target") != Some("SageMaker.ListTags") {
            return self.inner.call(request);
        }
        let script = self.list_tags.clone();
        HttpConnectorFuture::new(async move {
            let message = match script {
                ListTagsScript::Refuse(message) => message,
                ListTagsScript::DeleteThenRefuse(message, sagemaker, domain, name) => {
                    let _ = sagemaker
                        .delete_user_profile()
                        .domain_id(&domain)
                        .user_profile_name(&name)
                        .send()
                        .await;
                    for _ in 0..100 {
                        let gone = sagemaker
                            .describe_user_profile()
                            .domain_id(&domain)
                            .user_profile_name(&name)
                            .send()
                            .await
                            .is_err();
                        if gone {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    message
                }
            };
            Ok(validation_exception(message))
        })
    }
}

fn scripted_studio(world: &World, list_tags: ListTagsScript) -> SageMakerStudio {
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_https();
    let sdk = world
        .sdk
        .to_builder()
        .http_client(Scripted { inner, list_tags })
        .build();
    SageMakerStudio::new(
        aws_sdk_sagemaker::Client::new(&sdk),
        aws_sdk_ssoadmin::Client::new(&sdk),
    )
}

/// ListTags answers `ValidationException` both for a malformed request and for a profile that
/// went away after DescribeUserProfile found it. The adapter tells them apart by describing
/// the profile again, never by the message: a profile still there is an error (never "no
/// tags", which would let an offboarding past the ownership check), whatever the message says;
/// a profile gone is `None`, whatever the message says.
#[tokio::test]
async fn list_tags_refusals_are_told_apart_by_describing_again_not_by_the_message() {
    let world = World::new().await.expect("world");
    let name = "jane-1a2b3c4d";
    world.hand_made_profile(name).await.expect("profile");
    let profile = ResourceName::parse(name).expect("name");

    // Still there, though the message reads like a missing resource.
    let studio = scripted_studio(
        &world,
        ListTagsScript::Refuse("Could not find resource: it does not exist"),
    );
    let err = studio
        .profile_tags(&world.domain, &profile)
        .await
        .expect_err("a refusal for a profile that exists is an error");
    assert_eq!(err.aws_code(), Some("ValidationException"), "{err}");

    // Gone, though the message says nothing of it.
    let studio = scripted_studio(
        &world,
        ListTagsScript::DeleteThenRefuse(
            "1 validation error detected",
            world.sagemaker.clone(),
            world.domain.to_string(),
            name.to_owned(),
        ),
    );
    assert_eq!(
        studio
            .profile_tags(&world.domain, &profile)
            .await
            .expect("a profile that went away is None"),
        None
    );
}

/// Marks the ledger record of `user` as held by another invocation's ongoing transaction.
async fn hold_record(world: &World, user: &str, seconds: u64) {
    let body = serde_json::json!({
        "TableName": world.table,
        "Key": {
            "pk": {"S": format!("DOMAIN#{}", world.domain)},
            "sk": {"S": format!("USER#{user}")},
        },
        "Seconds": seconds,
    });
    let (status, text) = world
        .emulator
        .raw_request(
            "POST",
            "/_emulator/dynamodb/pending-item",
            &body.to_string(),
        )
        .await
        .expect("control endpoint");
    assert_eq!(status, 200, "{text}");
}

fn history_row(world: &World, action: &str) -> HistoryEntry {
    HistoryEntry {
        user: UserId::parse(USER).expect("id"),
        domain: world.domain.clone(),
        profile: None,
        action: action.into(),
        reason: "test".into(),
        trigger: "t".into(),
        outcome: "ok".into(),
        at: 1,
    }
}

/// Only a failed condition means another writer won (`LedgerConflict`: re-read the user). An
/// item held by another invocation's transaction, on PutItem (`TransactionConflictException`)
/// or inside a transaction (cancellation reason `TransactionConflict`), and throttling inside
/// a transaction (reason `ThrottlingError`) are retryable AWS errors: nobody has won yet.
#[tokio::test]
async fn ledger_conflicts_and_throttles_are_told_apart_by_their_codes() {
    let world = World::new().await.expect("world");
    let ledger = &world.engine.ledger;
    ledger
        .put_record(&record(&world, USER, 1))
        .await
        .expect("claim");

    // A condition that failed: another writer won.
    let lost = ledger
        .commit(&record(&world, USER, 1), &history_row(&world, "Stale"))
        .await
        .expect_err("version 1 exists");
    assert!(matches!(lost, WardenError::LedgerConflict { .. }), "{lost}");

    // The record held by an ongoing transaction of another invocation.
    hold_record(&world, USER, 30).await;
    let held = ledger
        .put_record(&record(&world, USER, 2))
        .await
        .expect_err("PutItem on a held item");
    assert!(
        !matches!(held, WardenError::LedgerConflict { .. }),
        "{held}"
    );
    assert_eq!(held.aws_code(), Some("TransactionConflictException"));
    assert!(held.is_retryable(), "{held}");
    let held = ledger
        .commit(&record(&world, USER, 2), &history_row(&world, "Held"))
        .await
        .expect_err("a transaction including a held item");
    assert!(
        !matches!(held, WardenError::LedgerConflict { .. }),
        "{held}"
    );
    assert_eq!(held.aws_code(), Some("TransactionCanceledException"));
    assert!(held.is_retryable(), "{held}");

    // Throttled inside a transaction (another user's record, not held).
    world
        .emulator
        .set_faults(&[FaultRule::new("dynamodb", "TransactWriteItems").with_throttle(1.0)])
        .await
        .expect("faults");
    let other = "9067c0ffee-1111aaaa-0000-4000-8000-000000000002";
    let throttled = ledger
        .commit(&record(&world, other, 1), &history_row(&world, "Throttled"))
        .await
        .expect_err("throttled");
    assert!(
        !matches!(throttled, WardenError::LedgerConflict { .. }),
        "{throttled}"
    );
    assert_eq!(throttled.aws_code(), Some("TransactionCanceledException"));
    assert!(throttled.is_retryable(), "{throttled}");
    world.emulator.set_faults(&[]).await.expect("faults off");

    // Nothing of the refused writes landed.
    let history = ledger
        .history(&UserId::parse(USER).expect("id"))
        .await
        .expect("history");
    assert!(history.is_empty(), "{history:?}");
    assert_eq!(
        ledger
            .record(&world.domain, &UserId::parse(other).expect("id"))
            .await
            .expect("read"),
        None
    );
}

fn summary(id: &str, started_at: i64, complete: bool) -> SweepSummary {
    SweepSummary {
        sweep_id: id.to_owned(),
        mode: "apply".into(),
        started_at,
        finished_at: started_at + 3,
        complete,
        actions: [("Create".to_owned(), 2)].into_iter().collect(),
        failures: u64::from(!complete),
        unmanaged: 0,
        fanned_out: None,
    }
}

/// Sweep ids do not sort by time (a Scheduler envelope's id is a UUID): the latest summaries
/// are the latest started, whatever their ids, and read back as they were written.
#[tokio::test]
async fn recent_sweeps_are_listed_latest_first_whatever_their_ids() {
    let world = World::new().await.expect("world");
    let ledger = &world.engine.ledger;
    assert!(ledger.sweeps(10).await.expect("none yet").is_empty());
    let written = [
        summary("sweep-01JZZZZZZZZZZZZZZZZZZZZZZZ", 1_000, true),
        summary("0b3c1a52-7d7e-4f5e-9a51-2f1f6c7a9d10", 3_000, false),
        summary("f4e2d3c1-0000-4000-8000-000000000001", 2_000, true),
    ];
    for s in &written {
        ledger.record_sweep(s).await.expect("record");
    }
    let latest = ledger.sweeps(2).await.expect("sweeps");
    assert_eq!(latest, vec![written[1].clone(), written[2].clone()]);
    let all = ledger.sweeps(10).await.expect("sweeps");
    assert_eq!(all.len(), 3);
    assert_eq!(all[2], written[0]);
}
