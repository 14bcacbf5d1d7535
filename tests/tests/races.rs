//! Optimistic concurrency, made deterministic: another invocation writes a user's record
//! between this run's read and its write. The run must not fail; it re-reads the user and
//! reconciles from the truth as it is now, and the ledger holds exactly one row for what
//! happened once.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use serde_json::json;
use warden::Result;
use warden::adapters::DynamoLedger;
use warden::drift::model::{AlertMessage, FindingState};
use warden::drift::observed::Observation;
use warden::drift::ports::FindingStore;
use warden::engine::{Engine, Report};
use warden::ids::{DomainId, GroupId, MembershipId, ResourceName, UserId};
use warden::model::{Epoch, Phase, UserRecord};
use warden::ports::{HistoryEntry, Ledger, Pin, SweepSummary};
use warden::safety::Hold;
use warden_tests::fixture::*;

/// The ledger, except that the first time a `Create` is committed, "another invocation"
/// commits the same creation first (the same record version, its own history row).
///
/// Or (`bumps`), the first `bumps` times a record is written other than by a `Create`,
/// "another invocation" writes the user's record first (the same content, the next version),
/// so that this run's write conflicts and its re-read plans a write again.
struct Overtaken {
    inner: DynamoLedger,
    fired: AtomicBool,
    bumps: AtomicU32,
}

impl Overtaken {
    /// "Another invocation" writes the user's record (the same content, the next version)
    /// before this run's write, while bumps are left.
    async fn bump(&self, record: &UserRecord) -> Result<()> {
        if self
            .bumps
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
            && let Some(mut theirs) = self.inner.record(&record.domain, &record.user).await?
        {
            theirs.version += 1;
            self.inner.put_record(&theirs).await?;
        }
        Ok(())
    }
}

impl Ledger for Overtaken {
    async fn record(&self, domain: &DomainId, user: &UserId) -> Result<Option<UserRecord>> {
        self.inner.record(domain, user).await
    }
    async fn records(&self, domain: &DomainId) -> Result<Vec<UserRecord>> {
        self.inner.records(domain).await
    }
    async fn put_record(&self, record: &UserRecord) -> Result<()> {
        self.bump(record).await?;
        self.inner.put_record(record).await
    }
    async fn append(&self, entry: &HistoryEntry) -> Result<()> {
        self.inner.append(entry).await
    }
    async fn commit(&self, record: &UserRecord, entry: &HistoryEntry) -> Result<()> {
        if entry.action != "Create" {
            self.bump(record).await?;
        }
        if entry.action == "Create" && !self.fired.swap(true, Ordering::SeqCst) {
            let theirs = HistoryEntry {
                trigger: "the-other-invocation".into(),
                ..entry.clone()
            };
            self.inner.commit(record, &theirs).await?;
        }
        self.inner.commit(record, entry).await
    }
    async fn history(&self, user: &UserId) -> Result<Vec<HistoryEntry>> {
        self.inner.history(user).await
    }
    async fn event_seen(&self, event_id: &str) -> Result<bool> {
        self.inner.event_seen(event_id).await
    }
    async fn mark_event(&self, event_id: &str, now: Epoch, ttl_secs: i64) -> Result<()> {
        self.inner.mark_event(event_id, now, ttl_secs).await
    }
    async fn remember_membership(
        &self,
        membership: &MembershipId,
        group: &GroupId,
        user: &UserId,
    ) -> Result<()> {
        self.inner
            .remember_membership(membership, group, user)
            .await
    }
    async fn membership(&self, membership: &MembershipId) -> Result<Option<(GroupId, UserId)>> {
        self.inner.membership(membership).await
    }
    async fn record_sweep(&self, summary: &SweepSummary) -> Result<()> {
        self.inner.record_sweep(summary).await
    }
    async fn sweeps(&self, limit: usize) -> Result<Vec<SweepSummary>> {
        self.inner.sweeps(limit).await
    }
    async fn holds(&self) -> Result<Vec<Hold>> {
        self.inner.holds().await
    }
    async fn save_hold(&self, hold: &Hold) -> Result<()> {
        self.inner.save_hold(hold).await
    }
    async fn pins(&self) -> Result<Vec<Pin>> {
        self.inner.pins().await
    }
    async fn pin(&self, pin: &Pin) -> Result<()> {
        self.inner.pin(pin).await
    }
}

impl FindingStore for Overtaken {
    async fn findings(&self, domain: &DomainId) -> Result<Vec<FindingState>> {
        self.inner.findings(domain).await
    }
    async fn save_finding(&self, state: &FindingState, alert: Option<&AlertMessage>) -> Result<()> {
        self.inner.save_finding(state, alert).await
    }
    async fn outbox(&self) -> Result<Vec<(String, AlertMessage)>> {
        self.inner.outbox().await
    }
    async fn outbox_done(&self, id: &str) -> Result<()> {
        self.inner.outbox_done(id).await
    }
    async fn observations(&self, domain: &DomainId) -> Result<Vec<Observation>> {
        self.inner.observations(domain).await
    }
    async fn save_observations(
        &self,
        domain: &DomainId,
        save: &[Observation],
        forget: &[ResourceName],
    ) -> Result<()> {
        self.inner.save_observations(domain, save, forget).await
    }
}

/// An apply sweep by the world's engine over [`Overtaken`] (its `Create` race already spent
/// when `fired`; `bumps` writes overtaken): the ledger wrapper afterwards, and the report.
async fn sweep_overtaken(world: &World, fired: bool, bumps: u32) -> (Overtaken, Report) {
    let engine = Engine {
        policy: world.engine.policy.clone(),
        directory: world.engine.directory.clone(),
        studio: world.engine.studio.clone(),
        ledger: Overtaken {
            inner: world.engine.ledger.clone(),
            fired: AtomicBool::new(fired),
            bumps: AtomicU32::new(bumps),
        },
        options: world.engine.options.clone(),
    };
    let inbound = warden::events::classify(
        &json!({"mode": "apply"}),
        &world.engine.policy.identity_store.id,
    )
    .expect("sweep");
    let report = engine.handle(inbound, now(), None).await.expect("report");
    (engine.ledger, report)
}

#[tokio::test]
async fn a_run_overtaken_by_another_re_reads_the_user_and_does_not_fail() {
    let world = World::new().await.expect("world");
    let ann = world.add_user("ann@example.com").await.expect("user");
    world.join(&ann, &world.researchers).await.expect("join");
    let (ledger, report) = sweep_overtaken(&world, false, 0).await;
    assert!(ledger.fired.load(Ordering::SeqCst), "the race happened");
    assert!(report.failures.is_empty(), "{report:?}");
    let outcomes: Vec<(&str, String)> = report
        .actions
        .iter()
        .map(|a| (a.action.kind(), a.outcome.to_string()))
        .collect();
    assert!(
        outcomes
            .iter()
            .any(|(kind, outcome)| *kind == "Create" && outcome.starts_with("conflict")),
        "{outcomes:?}"
    );

    let record = world.record(&ann).await.expect("ledger").expect("record");
    assert_eq!(record.phase, Phase::Active);
    let creates: Vec<String> = world
        .history(&ann)
        .await
        .expect("history")
        .into_iter()
        .filter(|h| h.action == "Create")
        .map(|h| format!("{} <- {}", h.outcome, h.trigger))
        .collect();
    assert_eq!(
        creates.len(),
        1,
        "only the invocation that won recorded the creation: {creates:?}"
    );
    assert!(creates[0].ends_with("the-other-invocation"), "{creates:?}");
    assert_eq!(world.profiles().await.expect("profiles").len(), 1);

    // The next run finds nothing left to do.
    let again = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert!(
        again["failures"].as_array().is_none_or(Vec::is_empty),
        "{again:#}"
    );
}

/// Truly concurrent writers on the emulator: every DynamoDB transaction is held open for a
/// while (as a slow one is in AWS), and each user's event is delivered twice at once (Lambda
/// delivers at least once, and may run both copies together). Both copies plan the same update;
/// the copy whose transaction meets the other's held item is cancelled with
/// `TransactionConflict`, which must answer a `Retryable.*` error (never a non-retryable one,
/// never a success with the work left undone), and its redelivery finds the work done. Each
/// user's update is recorded exactly once.
#[tokio::test]
async fn concurrent_deliveries_that_meet_in_a_transaction_answer_retryable_and_converge() {
    let world = World::new().await.expect("world");
    let mut users = Vec::new();
    for name in ["ana", "bo", "cy"] {
        let id = world.add_user(name).await.expect("user");
        world.join(&id, &world.researchers).await.expect("join");
        users.push(id);
    }
    world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    world.settle().await.expect("settle");
    world.invoke(json!({"mode": "apply"})).await.expect("sweep");

    // Each user joins the leads (a higher priority mapping: an update), and the event is
    // delivered twice at once.
    let mut events = Vec::new();
    for user in &users {
        let m = world.join(user, &world.leads).await.expect("join");
        events.push(world.joined_event(user, &world.leads, &m).expect("sample"));
    }
    let (status, body) = world
        .emulator
        .raw_request(
            "POST",
            "/_emulator/config",
            r#"{"transaction_hold_ms": 2000}"#,
        )
        .await
        .expect("config");
    assert_eq!(status, 200, "{body}");
    let answers = futures::future::join_all(
        events
            .iter()
            .chain(events.iter())
            .map(|e| world.invoke(e.clone())),
    )
    .await;
    let (status, body) = world
        .emulator
        .raw_request("POST", "/_emulator/config", r#"{"transaction_hold_ms": 0}"#)
        .await
        .expect("config");
    assert_eq!(status, 200, "{body}");

    let mut retry = Vec::new();
    for (i, answer) in answers.into_iter().enumerate() {
        match answer {
            Ok(report) => assert!(
                report["failures"].as_array().is_none_or(Vec::is_empty),
                "a success must not leave work undone: {report:#}"
            ),
            Err(e) => {
                let d: lambda_runtime::Diagnostic = e.into();
                assert!(
                    d.error_type.starts_with("Retryable."),
                    "a transaction conflict is retryable: {d:?}"
                );
                retry.push(events[i % events.len()].clone());
            }
        }
    }
    assert!(
        !retry.is_empty(),
        "no delivery met the other's transaction: the race did not happen"
    );
    // Lambda retries what answered Retryable.
    for event in retry {
        let report = world.invoke(event).await.expect("the redelivery succeeds");
        assert!(
            report["failures"].as_array().is_none_or(Vec::is_empty),
            "{report:#}"
        );
    }
    let leads = GroupId::parse(&world.leads).expect("id");
    for user in &users {
        let record = world.record(user).await.expect("ledger").expect("record");
        assert_eq!(record.phase, Phase::Active);
        assert_eq!(record.group.as_ref(), Some(&leads), "{record:?}");
        let updates: Vec<String> = world
            .history(user)
            .await
            .expect("history")
            .into_iter()
            .filter(|h| h.action == "Update" && h.outcome == "ok")
            .map(|h| h.trigger)
            .collect();
        assert_eq!(updates.len(), 1, "{user}: one update recorded: {updates:?}");
    }
    let again = world.invoke(json!({"mode": "apply"})).await.expect("sweep");
    assert!(
        again["actions"]
            .as_array()
            .is_none_or(|a| a.iter().all(|x| x["action"] != "Update")),
        "{again:#}"
    );
}

/// Another invocation writes the user's record under each of this run's first three reads (an
/// event and two sweeps at once can): the run reads the user again each time and its fourth
/// read succeeds; with a record that keeps changing it gives up after `SETTLE_PASSES`
/// re-reads with a failure a retry can fix.
#[tokio::test]
async fn a_record_changed_under_several_reads_is_read_again_each_time() {
    let mut world = World::new().await.expect("world");
    let ann = world.add_user("ann@example.com").await.expect("user");
    world.join(&ann, &world.researchers).await.expect("join");
    world
        .invoke(json!({"mode": "apply"}))
        .await
        .expect("onboarded");
    // First a record that keeps changing (every write overtaken), then one that changes under
    // three reads; each time a new instance type, so that the run plans an update of ann.
    let rounds = [
        (
            warden::engine::SETTLE_PASSES + 1,
            true,
            "ml.t3.medium",
            "ml.t3.large",
        ),
        (
            warden::engine::SETTLE_PASSES,
            false,
            "ml.t3.large",
            "ml.t3.xlarge",
        ),
    ];
    for (bumps, fails, from, to) in rounds {
        world.settle().await.expect("settled"); // SageMaker updates only a settled profile
        world.edit_policy(from, to).expect("policy");
        let (ledger, report) = sweep_overtaken(&world, true, bumps).await;
        assert_eq!(
            ledger.bumps.load(Ordering::SeqCst),
            0,
            "every bump happened: {:?}",
            report
                .actions
                .iter()
                .map(|a| (a.action.kind(), a.outcome.to_string()))
                .collect::<Vec<_>>()
        );
        // One write per read: the first read's and each re-read's, all but the last one's
        // overtaken (every one of them when the record keeps changing).
        let conflict = warden::engine::Outcome::LedgerConflict.to_string();
        let conflicts = report
            .actions
            .iter()
            .filter(|a| a.outcome.to_string() == conflict)
            .count();
        assert_eq!(
            report.actions.len() as u32,
            warden::engine::SETTLE_PASSES + 1,
            "{report:?}"
        );
        assert_eq!(conflicts as u32, bumps, "{report:?}");
        assert_eq!(report.failures.is_empty(), !fails, "{report:?}");
        assert_eq!(report.retryable_failure, fails, "{report:?}");
    }
}
