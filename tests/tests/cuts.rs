//! A run cut at any point resumes without loss.
//!
//! Lambda ends a run at its deadline (or on a crash, or an out-of-memory kill) wherever the
//! run happens to be: between two calls, or after AWS carried out a call whose answer the
//! function never saw. These tests make that happen at the N-th AWS call, for every N a run
//! makes (or a spread of them), in both places, by giving the engine an HTTP client that stops
//! answering at call N and then dropping the run's future (the engine spawns no task, so
//! dropping the future is what freezing the sandbox is: nothing of it runs any more).
//!
//! Then the next runs, uncut, must reach the state an uncut run reaches: every entitled user
//! has exactly one profile and an `Active` record; the user who left is `Offboarded` with no
//! profile, through both stages (suspended, then deleted); every user's history holds exactly
//! one successful `Create` (no row lost, none doubled); no profile exists twice.
//!
//! `make test` cuts after every call of the run, and before a spread of them;
//! `WARDEN_CUT_POINTS=all` cuts before and after every call (the long variant).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_sagemaker::types::AppType;
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use futures::StreamExt;
use serde_json::json;
use tokio::sync::Notify;
use warden::model::Phase;
use warden::runtime::{AwsEngine, Settings, build_engine};
use warden_tests::fixture::*;

/// Where a run is cut, counted in AWS calls (HTTP requests, retries included).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    /// Call N is never sent.
    Before(u64),
    /// Call N is carried out by AWS; its answer never reaches the function.
    After(u64),
    /// No cut: count the calls.
    Never,
}

#[derive(Debug)]
struct CutState {
    cut: Cut,
    calls: AtomicU64,
    reached: Notify,
}

/// An HTTP client that passes calls to the real one until the cut, then never answers.
#[derive(Debug, Clone)]
struct CuttingClient {
    inner: SharedHttpClient,
    state: Arc<CutState>,
}

#[derive(Debug)]
struct CuttingConnector {
    inner: SharedHttpConnector,
    state: Arc<CutState>,
}

impl HttpClient for CuttingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CuttingConnector {
            inner: self.inner.http_connector(settings, components),
            state: self.state.clone(),
        })
    }
}

impl HttpConnector for CuttingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let n = self.state.calls.fetch_add(1, Ordering::SeqCst) + 1;
        let inner = self.inner.clone();
        let state = self.state.clone();
        HttpConnectorFuture::new(async move {
            if let Cut::Before(at) = state.cut
                && n >= at
            {
                state.reached.notify_one();
                std::future::pending::<()>().await;
            }
            let response = inner.call(request).await;
            if let Cut::After(at) = state.cut
                && n >= at
            {
                state.reached.notify_one();
                std::future::pending::<()>().await;
            }
            response
        })
    }
}

/// The world's engine, built again over an HTTP client that cuts at `cut`.
fn cutting_engine(world: &World, cut: Cut) -> (AwsEngine, Arc<CutState>) {
    let state = Arc::new(CutState {
        cut,
        calls: AtomicU64::new(0),
        reached: Notify::new(),
    });
    // The SDK's default client, as the engine gets it (an SdkConfig does not carry it).
    let inner = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::AwsLc,
        ))
        .build_https();
    let sdk = world
        .sdk
        .to_builder()
        .http_client(CuttingClient {
            inner,
            state: state.clone(),
        })
        .build();
    let settings = Settings {
        policy: world.engine.policy.clone(),
        table: world.table.clone(),
        concurrency: 4,
        identity_tps: 200,
        sagemaker_tps: 200,
        topic_arn: None,
        work_queue: None,
    };
    (build_engine(&settings, &sdk), state)
}

/// What a case starts from, at time `t`: ann, bob and cy joined the researchers (their
/// events were lost), dee had a profile with a running app and left an hour ago (her grace
/// period is over: the cut sweep suspends her, and with the world's retention of 0s the
/// next runs delete her data), and eve, a lead, has her profile already.
struct Case {
    world: World,
    t: i64,
    joined: Vec<String>,
    left: String,
    steady: String,
}

async fn case() -> Case {
    let world = World::new().await.expect("world");
    let t = now();
    let dee = world.add_user("dee@example.com").await.expect("user");
    let eve = world.add_user("eve@example.com").await.expect("user");
    let dee_membership = world.join(&dee, &world.researchers).await.expect("join");
    world.join(&eve, &world.leads).await.expect("join");
    world
        .invoke_at(json!({"mode": "apply"}), t - 7200)
        .await
        .expect("first sweep");
    world.settle().await.expect("settle");
    let dee_profile = world.record(&dee).await.expect("l").expect("r").profile;
    world
        .start_app(dee_profile.as_str(), AppType::JupyterServer, "default")
        .await
        .expect("app");
    world.leave(&dee_membership).await.expect("leave");
    world
        .invoke_at(json!({"mode": "apply"}), t - 7100)
        .await
        .expect("grace starts");
    let mut joined = Vec::new();
    for name in ["ann", "bob", "cy"] {
        let user = world
            .add_user(&format!("{name}@example.com"))
            .await
            .expect("user");
        world.join(&user, &world.researchers).await.expect("join");
        joined.push(user);
    }
    Case {
        world,
        t,
        joined,
        left: dee,
        steady: eve,
    }
}

/// Runs one sweep at `c.t` with the given cut; true if the cut happened.
async fn cut_sweep(c: &Case, cut: Cut) -> (bool, u64) {
    let store = c.world.engine.policy.identity_store.id.clone();
    let inbound =
        warden::events::classify(&json!({"mode": "apply"}), &store).expect("a sweep request");
    cut_run(&c.world, inbound, c.t, cut).await
}

/// Handles `inbound` with the given cut; true if the cut happened, and the calls made.
async fn cut_run(
    world: &World,
    inbound: warden::events::Inbound,
    now: i64,
    cut: Cut,
) -> (bool, u64) {
    let (engine, state) = cutting_engine(world, cut);
    let run = engine.handle(inbound, now, None);
    let reached = state.reached.notified();
    let was_cut = tokio::select! {
        report = run => {
            assert!(
                cut != Cut::Never || report.as_ref().is_ok_and(|r| r.failures.is_empty()),
                "{report:?}"
            );
            false
        }
        () = reached => true,
    };
    (was_cut, state.calls.load(Ordering::SeqCst))
}

/// Sweeps, uncut, until the world is steady, then checks that nothing was lost or doubled.
async fn converges(c: &Case, label: &str) {
    let world = &c.world;
    for round in 0..30 {
        let report = world
            .invoke_at(json!({"mode": "apply"}), c.t + 1 + round)
            .await
            .unwrap_or_else(|e| panic!("{label}: sweep failed: {e}"));
        assert!(report.failures.is_empty(), "{label}: {:?}", report.failures);
        let offboarded = matches!(
            world.record(&c.left).await.expect("l").map(|r| r.phase),
            Some(Phase::Offboarded { .. })
        );
        if offboarded && report.actions.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    }
    world.settle().await.expect("settle");

    let profiles = world.profiles().await.expect("profiles");
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for user in c.joined.iter().chain([&c.steady]) {
        let record = world
            .record(user)
            .await
            .expect("ledger")
            .unwrap_or_else(|| panic!("{label}: no record for {user}"));
        assert_eq!(record.phase, Phase::Active, "{label}: {user}");
        expected.insert(record.profile.to_string(), "InService".into());
        let creates: Vec<String> = world
            .creations(user)
            .await
            .expect("history")
            .into_iter()
            .map(|h| h.outcome)
            .collect();
        assert_eq!(
            creates.len(),
            1,
            "{label}: {user}'s Create rows: {creates:?}"
        );
    }
    assert_eq!(
        profiles, expected,
        "{label}: exactly the entitled users' profiles, once each"
    );
    let dee = world.record(&c.left).await.expect("l").expect("r");
    assert!(
        matches!(dee.phase, Phase::Offboarded { .. }),
        "{label}: {dee:?}"
    );
    let steps: Vec<String> = world
        .history(&c.left)
        .await
        .expect("history")
        .into_iter()
        .map(|h| format!("{}: {}", h.action, h.outcome))
        .collect();
    for needle in [
        "Create: ok",
        "StartGrace: ok",
        "Suspend: suspended",
        "Offboard: offboarded",
    ] {
        assert!(
            steps.iter().any(|s| s.starts_with(needle)),
            "{label}: dee's history lacks {needle}: {steps:#?}"
        );
    }
}

/// The cuts to try for a run of `total` calls. Being cut before call N leaves AWS as being
/// cut after call N-1 does (only the run's own memory differs), so `After` at every call
/// covers every state a cut can leave; `Before` is tried at a spread as well.
/// `WARDEN_CUT_POINTS=all`: both at every call; `=N`: both at N points spread evenly.
fn cuts(total: u64) -> Vec<Cut> {
    let spread = |n: u64| -> Vec<u64> {
        let n = n.clamp(1, total.max(1));
        let mut out: Vec<u64> = (0..n).map(|i| 1 + i * (total * 4 / 5) / n).collect();
        out.dedup();
        out
    };
    match std::env::var("WARDEN_CUT_POINTS").ok().as_deref() {
        Some("all") => (1..=total)
            .flat_map(|at| [Cut::Before(at), Cut::After(at)])
            .collect(),
        Some(n) => spread(n.parse().unwrap_or(6))
            .into_iter()
            .flat_map(|at| [Cut::Before(at), Cut::After(at)])
            .collect(),
        None => (1..=total)
            .map(Cut::After)
            .chain(spread(4).into_iter().map(Cut::Before))
            .collect(),
    }
}

/// One case: a fresh world, a sweep cut at `cut`, then uncut sweeps until steady.
async fn cut_and_resume(cut: Cut, total: u64) {
    let c = case().await;
    let (was_cut, _) = cut_sweep(&c, cut).await;
    // Retries and concurrency make the count vary a little from run to run; a cut point in
    // the last fifth may lie past the end of this run.
    let at = match cut {
        Cut::Before(at) | Cut::After(at) => at,
        Cut::Never => 0,
    };
    assert!(
        was_cut || at > total * 4 / 5,
        "{cut:?}: the run ended before the cut ({total} calls in the reference run)"
    );
    converges(&c, &format!("{cut:?} of {total}")).await;
}

#[tokio::test]
async fn a_sweep_cut_at_any_call_resumes_without_loss() {
    // An uncut run first: it must converge too, and it says how many calls a run makes.
    let reference = case().await;
    let (cut, total) = cut_sweep(&reference, Cut::Never).await;
    assert!(!cut);
    assert!(total > 20, "a sweep of this world makes {total} calls");
    converges(&reference, "uncut").await;
    drop(reference);

    let cuts = cuts(total);
    eprintln!("an uncut sweep of this world makes {total} calls; cutting at {cuts:?}");
    // Four worlds (four emulators) at a time: the cases wait on SageMaker's statuses more
    // than they compute.
    futures::stream::iter(cuts)
        .map(|cut| cut_and_resume(cut, total))
        .buffer_unordered(4)
        .collect::<Vec<()>>()
        .await;
}

/// A CreateGroupMembership event cut at every call, then redelivered (as Lambda retries an
/// asynchronous invocation that timed out): one profile, one Create row, and the event marked
/// handled only by the run that finished.
#[tokio::test]
async fn an_event_cut_at_any_call_is_finished_by_its_redelivery() {
    async fn event_case(cut: Cut) -> u64 {
        let world = World::new().await.expect("world");
        let user = world.add_user("ann@example.com").await.expect("user");
        let membership = world.join(&user, &world.researchers).await.expect("join");
        let event = world
            .joined_event(&user, &world.researchers, &membership)
            .expect("sample");
        let store = world.engine.policy.identity_store.id.clone();
        let inbound = warden::events::classify(&event, &store).expect("classified");
        let (was_cut, calls) = cut_run(&world, inbound, now(), cut).await;
        assert_eq!(was_cut, cut != Cut::Never, "{cut:?}");
        let label = format!("{cut:?} of the event");
        if cut != Cut::Never {
            // The cut run never reached its last call, the mark: the redelivery does the work.
            let redelivered = world.invoke(event.clone()).await.expect("redelivery");
            assert!(
                redelivered["failures"].as_array().is_none_or(Vec::is_empty),
                "{label}: {redelivered:#}"
            );
            assert!(redelivered["skipped"].is_null(), "{label}: {redelivered:#}");
        }
        let again = world.invoke(event).await.expect("second redelivery");
        assert!(
            again["skipped"]
                .as_str()
                .is_some_and(|s| s.contains("already handled")),
            "{label}: {again:#}"
        );
        world.settle().await.expect("settle");
        let record = world.record(&user).await.expect("l").expect("record");
        assert_eq!(record.phase, Phase::Active, "{label}");
        let profiles = world.profiles().await.expect("profiles");
        assert_eq!(
            profiles.keys().collect::<Vec<_>>(),
            vec![&record.profile.to_string()],
            "{label}"
        );
        let creates = world.creations(&user).await.expect("history");
        assert_eq!(creates.len(), 1, "{label}: {creates:?}");
        calls
    }

    let total = event_case(Cut::Never).await;
    assert!(total >= 5, "the event makes {total} calls");
    eprintln!("the event makes {total} calls; cutting after each");
    futures::stream::iter((1..total).map(Cut::After))
        .map(event_case)
        .buffer_unordered(4)
        .collect::<Vec<u64>>()
        .await;
}
