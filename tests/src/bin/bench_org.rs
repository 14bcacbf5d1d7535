//! `bench_org`: an organisation's sweep on the emulator (issue 14). N accounts, one domain each
//! (alternately in eu-west-1 and us-west-2), reached through their spoke roles; U users per
//! account's group; the emulator admits at most R SageMaker calls a second per account and
//! region (a token bucket, as AWS throttles), and the functions pace themselves at the same R.
//!
//! It measures, for the fanned-out path (the scheduled sweep as coordinator, W workers taking
//! the FIFO queue's messages as the event source mapping would hand them to concurrent Lambda
//! invocations):
//! 1. the time to onboard everyone (the coordinator's invocation to the last worker's answer);
//! 2. the time of a sweep where nothing changed, and where its calls fell (the emulator's call
//!    timeline: per operation, the first arrival and the last answer);
//!
//! and compares each with the throttle bound (the busiest account's SageMaker calls divided by
//! R: no schedule can be faster) and, with `--sequential`, with the same sweep on the
//! single-invocation path (no queue: one function works the domains one after another).
//!
//! `cargo run -p warden-tests --bin bench_org -- --accounts 30 --users 1000 --rate 8`

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sagemaker::types::{AuthMode, UserSettings};
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use aws_types::region::Region;
use clap::Parser;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::{Value, json};
use warden::ids::AccountId;
use warden::policy::{Home, Policy};
use warden::ports::Ledger;
use warden::runtime::{Settings, build_engine, build_fanout, build_guard, handle_fanned};
use warden::service::Function;
use warden_tests::fixture::create_ledger_table;
use warden_tests::{ACCOUNT_ID as HUB, Emulator, EmulatorOptions};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

#[derive(Parser, Clone)]
struct Args {
    /// Workload accounts, one domain each.
    #[arg(long, default_value_t = 30)]
    accounts: usize,
    /// Users per account (each account's domain has its own group).
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// SageMaker calls per second per account and region: the emulator's limit and the
    /// functions' pace (`WARDEN_SAGEMAKER_TPS`).
    #[arg(long, default_value_t = 8)]
    rate: u32,
    /// Concurrent workers (the event source mapping's maximum concurrency).
    #[arg(long, default_value_t = 30)]
    workers: usize,
    /// Identity Center calls per second (`WARDEN_IDENTITY_TPS`).
    #[arg(long, default_value_t = 10)]
    identity_tps: u32,
    /// Users worked on at once within a domain (`WARDEN_CONCURRENCY`).
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Also run the same onboarding and no-change sweep on the single-invocation path (a
    /// second emulator, the same setup, no queue).
    #[arg(long)]
    sequential: bool,
    /// Skip the fanned-out path (with `--sequential`: only the single-invocation path).
    #[arg(long)]
    no_fanout: bool,
}

const STORE: &str = "d-9067c0ffee";
/// compliance-sweep's timeout in the stack (infra: `complianceSweepTimeoutSeconds`, 900):
/// each worker invocation's deadline.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(900);
const QUEUE: &str = "bench-work.fifo";

fn account(a: usize) -> String {
    format!("{:012}", 200_000_000_000u64 + a as u64)
}

fn region(a: usize) -> &'static str {
    if a.is_multiple_of(2) {
        "eu-west-1"
    } else {
        "us-west-2"
    }
}

/// A control request with an hour's read timeout (seeding 30,000 users takes minutes).
fn control_long(addr: &str, path: &str, body: &str) -> std::result::Result<String, String> {
    use std::io::{Read, Write};
    let run = || -> std::io::Result<String> {
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(3600)))?;
        write!(
            stream,
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response)
    };
    let response = run().map_err(|e| e.to_string())?;
    match response.split_once("\r\n\r\n") {
        Some((head, text))
            if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") =>
        {
            Ok(text.to_owned())
        }
        Some((head, text)) => Err(format!("{path}: {head}: {text}")),
        None => Err(format!("{path}: no end of headers")),
    }
}

/// One deployment under test: the emulator with the organisation built, the functions, and
/// the queue.
struct Org {
    emulator: Arc<Emulator>,
    settings: Settings,
    sdk: aws_types::SdkConfig,
    queue_url: String,
}

async fn build(args: &Args, started: Instant) -> Result<Org> {
    let emulator = Arc::new(
        Emulator::start_with(EmulatorOptions {
            status_delay: Duration::from_millis(50),
            profile_quota: Some(200_000),
            ..EmulatorOptions::default()
        })
        .await?,
    );
    let (status, text) = emulator
        .raw_request(
            "POST",
            "/_emulator/config",
            r#"{"fast_transactions": true}"#,
        )
        .await?;
    if status != 200 {
        return Err(format!("fast_transactions: {status} {text}").into());
    }
    // The functions' own retry configuration (adaptive, six attempts), as deployed.
    let sdk = emulator
        .sdk_config()
        .to_builder()
        .retry_config(warden::runtime::retry_config())
        .build();
    create_ledger_table(&aws_sdk_dynamodb::Client::new(&sdk), "ledger").await?;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let queue_url = sqs
        .create_queue()
        .queue_name(QUEUE)
        .attributes(QueueAttributeName::FifoQueue, "true")
        // As the hub stack makes it: six times the function's timeout (a failed item the
        // worker does not make visible again sooner comes back after this).
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            (6 * FUNCTION_TIMEOUT.as_secs()).to_string(),
        )
        .send()
        .await?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let trust = json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{HUB}:root")},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string();
    let mut domains = Vec::new();
    for a in 0..args.accounts {
        let acct = account(a);
        emulator
            .create_role(&acct, "studio-warden-spoke", &trust)
            .await?;
        let spoke = sdk
            .to_builder()
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                acct.clone(),
                "spoke-secret",
                None,
                None,
                "bench",
            )))
            .region(Region::new(region(a)))
            .build();
        let out = aws_sdk_sagemaker::Client::new(&spoke)
            .create_domain()
            .domain_name(format!("bench-{a}"))
            .auth_mode(AuthMode::Iam)
            .default_user_settings(
                UserSettings::builder()
                    .execution_role(format!("arn:aws:iam::{acct}:role/bench"))
                    .build(),
            )
            .subnet_ids("subnet-0a1b2c3d4e5f60001")
            .vpc_id("vpc-0a1b2c3d4e5f60001")
            .send()
            .await?;
        domains.push(out.domain_id().unwrap_or_default().to_owned());
    }
    let group_names: Vec<String> = (0..args.accounts)
        .map(|g| format!("bench-account-{g:02}"))
        .collect();
    let seeding = Instant::now();
    let body = json!({
        "IdentityStoreId": STORE,
        "Groups": group_names,
        "Users": args.users * args.accounts,
        "Prefix": "bench-user-",
    });
    let addr = emulator
        .endpoint()
        .trim_start_matches("http://")
        .to_string();
    let seeded = tokio::task::spawn_blocking(move || {
        control_long(&addr, "/_emulator/identitystore/seed", &body.to_string())
    })
    .await??;
    let seeded: Value = serde_json::from_str(&seeded)?;
    let group_ids: BTreeMap<String, String> =
        serde_json::from_value(seeded.get("groups").cloned().unwrap_or_default())?;
    eprintln!(
        "[{:>7.1?}] {} accounts, {} users seeded in {:.1?}",
        started.elapsed(),
        args.accounts,
        args.users * args.accounts,
        seeding.elapsed()
    );
    // The per-account limit starts now: the setup's CreateDomain calls do not count.
    let limits =
        json!({"rate_limits": {"sagemaker": {"per_second": args.rate, "burst": args.rate}}});
    let (status, text) = emulator
        .raw_request("POST", "/_emulator/config", &limits.to_string())
        .await?;
    if status != 200 {
        return Err(format!("rate_limits: {status} {text}").into());
    }

    let mut policy = format!("[identity_store]\nid = \"{STORE}\"\n\n");
    for (a, id) in domains.iter().enumerate() {
        policy.push_str(&format!(
            "[[domains]]\nname = \"bench-{a}\"\nid = \"{id}\"\naccount = \"{}\"\nregion = \"{}\"\n\n",
            account(a),
            region(a)
        ));
    }
    for (g, name) in group_names.iter().enumerate() {
        policy.push_str(&format!(
            "[[mappings]]\ngroup_id = \"{}\"\ndomain = \"bench-{g}\"\npriority = 1\nexecution_role = \"arn:aws:iam::{}:role/bench\"\n\n",
            group_ids[name],
            account(g)
        ));
    }
    let home = Home {
        account: Some(AccountId::parse(HUB)?),
        region: Some("us-east-1".into()),
    };
    let policy = Policy::parse_at(&policy, "bench", &BTreeMap::new(), &home)?;
    let settings = Settings {
        policy: Arc::new(policy),
        table: "ledger".into(),
        concurrency: args.concurrency,
        identity_tps: args.identity_tps,
        sagemaker_tps: args.rate,
        topic_arn: None,
        work_queue: Some(queue_url.clone()),
    };
    Ok(Org {
        emulator,
        settings,
        sdk,
        queue_url,
    })
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn context(deadline_in: Duration) -> Context {
    let mut context = Context::default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    context.request_id = format!(
        "bench-{now_ms}-{}",
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    context.deadline = now_ms + deadline_in.as_millis() as u64;
    context
}

/// The SQS event of one message, as the event source mapping hands it to a worker (Lambda
/// developer guide, "Using Lambda with Amazon SQS").
fn sqs_event(message: &aws_sdk_sqs::types::Message) -> Value {
    let attr = |name: MessageSystemAttributeName| {
        message
            .attributes()
            .and_then(|a| a.get(&name))
            .cloned()
            .unwrap_or_default()
    };
    json!({"Records": [{
        "messageId": message.message_id().unwrap_or_default(),
        "receiptHandle": message.receipt_handle().unwrap_or_default(),
        "body": message.body().unwrap_or_default(),
        "attributes": {
            "ApproximateReceiveCount": attr(MessageSystemAttributeName::ApproximateReceiveCount),
            "SentTimestamp": attr(MessageSystemAttributeName::SentTimestamp),
            "SenderId": attr(MessageSystemAttributeName::SenderId),
            "ApproximateFirstReceiveTimestamp": attr(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp),
            "MessageGroupId": attr(MessageSystemAttributeName::MessageGroupId),
            "MessageDeduplicationId": attr(MessageSystemAttributeName::MessageDeduplicationId),
            "SequenceNumber": attr(MessageSystemAttributeName::SequenceNumber),
        },
        "messageAttributes": {},
        "md5OfBody": message.md5_of_body().unwrap_or_default(),
        "eventSource": "aws:sqs",
        "eventSourceARN": format!("arn:aws:sqs:us-east-1:{HUB}:{QUEUE}"),
        "awsRegion": "us-east-1"
    }]})
}

/// One sweep on the fanned-out path: the coordinator's invocation, then `workers` concurrent
/// workers taking one message each until the queue stays empty. Returns the wall time and the
/// worker invocations that reported their item failed.
async fn fanned_sweep(org: &Org, args: &Args) -> Result<(Duration, usize, usize)> {
    let engine = Arc::new(build_engine(&org.settings, &org.sdk));
    let guard = Arc::new(build_guard(&org.settings, &org.sdk, &engine));
    let fanout = Arc::new(build_fanout(&org.settings, &org.sdk, &engine));
    let started = Instant::now();
    let answer = handle_fanned(
        Function::ComplianceSweep,
        engine.as_ref(),
        guard.as_ref(),
        fanout.as_ref(),
        LambdaEvent::new(json!({"mode": "apply"}), context(FUNCTION_TIMEOUT)),
    )
    .await
    .map_err(|e| format!("coordinator: {e}"))?;
    let coordinated = started.elapsed();
    // Domains with nothing to write are settled: the coordinator checks them itself.
    let enqueued = answer["queued"].as_array().map_or(0, Vec::len);
    let sqs = aws_sdk_sqs::Client::new(&org.sdk);
    // The messages done (deleted), by id: a message delivered twice is done once.
    let done = Arc::new(std::sync::Mutex::new(
        std::collections::BTreeSet::<String>::new(),
    ));
    let failed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..args.workers {
        let (sqs, queue, engine, guard, fanout, done, failed) = (
            sqs.clone(),
            org.queue_url.clone(),
            engine.clone(),
            guard.clone(),
            fanout.clone(),
            done.clone(),
            failed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while done.lock().map_or(0, |d| d.len()) < enqueued {
                let got = sqs
                    .receive_message()
                    .queue_url(&queue)
                    .max_number_of_messages(1)
                    .message_system_attribute_names(MessageSystemAttributeName::All)
                    .wait_time_seconds(0)
                    .send()
                    .await?;
                let Some(message) = got.messages().first() else {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                };
                let answer = handle_fanned(
                    Function::ComplianceSweep,
                    engine.as_ref(),
                    guard.as_ref(),
                    fanout.as_ref(),
                    LambdaEvent::new(sqs_event(message), context(FUNCTION_TIMEOUT)),
                )
                .await
                .map_err(|e| format!("worker: {e}"))?;
                let failures = answer["batchItemFailures"].as_array().map_or(0, Vec::len);
                if failures > 0 {
                    // Reported failed: left in the queue, as the event source mapping
                    // leaves it; it comes back when the worker made it visible again (or
                    // after the queue's visibility timeout).
                    failed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    continue;
                }
                sqs.delete_message()
                    .queue_url(&queue)
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .send()
                    .await?;
                if let Ok(mut d) = done.lock() {
                    d.insert(message.message_id().unwrap_or_default().to_owned());
                }
            }
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    // Every domain done: the sweep's summary has every domain's result, complete.
    let summary = engine
        .ledger
        .sweeps(1)
        .await?
        .into_iter()
        .next()
        .ok_or("no sweep summary")?;
    let progress = summary.fanned_out.clone().unwrap_or_default();
    if !summary.complete || progress.complete != args.accounts as u64 {
        return Err(format!("the sweep is not complete: {summary:?}").into());
    }
    eprintln!(
        "  coordinator {coordinated:.1?} (directory, plans, {enqueued} items queued, {} domains settled and checked in place), workers {:.1?}",
        args.accounts - enqueued,
        started.elapsed() - coordinated
    );
    Ok((
        started.elapsed(),
        enqueued,
        failed.load(std::sync::atomic::Ordering::SeqCst),
    ))
}

/// Switches the emulator's call timeline on (emptied), or prints where its calls fell and
/// switches it off: per operation, its calls, and the first arrival and last answer in
/// seconds from the first call of all.
async fn timeline(org: &Org, on: bool) -> Result<()> {
    if on {
        org.emulator
            .raw_request("POST", "/_emulator/config", r#"{"call_timeline": true}"#)
            .await?;
        return Ok(());
    }
    let stats = emulator_stats(org).await?;
    let calls = stats["timeline"].as_array().cloned().unwrap_or_default();
    let start = calls
        .iter()
        .filter_map(|c| c[0].as_f64())
        .fold(f64::INFINITY, f64::min);
    let mut spans: BTreeMap<String, (u64, f64, f64)> = BTreeMap::new();
    for c in &calls {
        let (Some(arrival), Some(done), Some(op)) = (c[0].as_f64(), c[1].as_f64(), c[2].as_str())
        else {
            continue;
        };
        let span = spans
            .entry(op.to_owned())
            .or_insert((0, f64::INFINITY, f64::NEG_INFINITY));
        span.0 += 1;
        span.1 = span.1.min(arrival - start);
        span.2 = span.2.max(done - start);
    }
    let mut spans: Vec<_> = spans.into_iter().collect();
    spans.sort_by(|a, b| a.1.1.total_cmp(&b.1.1));
    eprintln!("  where the no-change sweep's calls fell (s from its first call):");
    for (op, (n, first, last)) in spans {
        eprintln!("    {op:<45} {n:>6} calls  {first:>7.1} .. {last:>7.1}");
    }
    org.emulator
        .raw_request("POST", "/_emulator/config", r#"{"call_timeline": false}"#)
        .await?;
    Ok(())
}

/// One sweep on the single-invocation path (no queue).
async fn direct_sweep(org: &Org) -> Result<(Duration, Value)> {
    let mut settings = org.settings.clone();
    settings.work_queue = None;
    let engine = build_engine(&settings, &org.sdk);
    let guard = build_guard(&settings, &org.sdk, &engine);
    let fanout = build_fanout(&settings, &org.sdk, &engine);
    let started = Instant::now();
    let answer = handle_fanned(
        Function::ComplianceSweep,
        &engine,
        &guard,
        &fanout,
        LambdaEvent::new(
            json!({"mode": "apply"}),
            context(Duration::from_secs(3 * 3600)),
        ),
    )
    .await
    .map_err(|e| format!("sweep: {e}"))?;
    Ok((started.elapsed(), answer))
}

/// The emulator's request statistics (`GET /_emulator/stats`).
async fn emulator_stats(org: &Org) -> Result<Value> {
    let (status, body) = org
        .emulator
        .raw_request("GET", "/_emulator/stats", "")
        .await?;
    if status != 200 {
        return Err(format!("stats: {status}").into());
    }
    Ok(serde_json::from_str(&body)?)
}

/// Calls the emulator admitted, per account (all regions), for `service`.
fn admitted(stats: &Value, service: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    if let Some(accounts) = stats["accounts"].as_object() {
        for (acct, regions) in accounts {
            let n: u64 = regions
                .as_object()
                .map(|r| {
                    r.values()
                        .map(|s| s[service]["accepted"].as_u64().unwrap_or(0))
                        .sum()
                })
                .unwrap_or(0);
            out.insert(acct.clone(), n);
        }
    }
    out
}

/// What one phase cost: SageMaker calls per workload account, Identity Center calls, and the
/// calls the emulator's rate limit refused (throttled, then retried by the SDK).
struct Cost {
    sagemaker: BTreeMap<String, u64>,
    identity: u64,
    throttled: u64,
}

type Snapshot = (BTreeMap<String, u64>, BTreeMap<String, u64>, u64);

async fn snapshot(org: &Org) -> Result<Snapshot> {
    let stats = emulator_stats(org).await?;
    let throttled = stats["rate_limited"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
    if throttled > 0 {
        eprintln!(
            "  throttled so far, by operation: {}",
            stats["rate_limited"]
        );
    }
    // Every call so far (throttled ones too), by operation, for the services a sweep spends on.
    let by_operation: BTreeMap<&str, u64> = stats["calls"]
        .as_object()
        .map(|calls| {
            calls
                .iter()
                .filter(|(k, _)| k.starts_with("sagemaker:") || k.starts_with("sts:"))
                .filter_map(|(k, v)| Some((k.as_str(), v.as_u64()?)))
                .collect()
        })
        .unwrap_or_default();
    eprintln!("  calls so far, by operation: {by_operation:?}");
    Ok((
        admitted(&stats, "sagemaker"),
        admitted(&stats, "identitystore"),
        throttled,
    ))
}

fn cost(before: &Snapshot, after: &Snapshot) -> Cost {
    let sagemaker = after
        .0
        .iter()
        .map(|(k, v)| (k.clone(), v - before.0.get(k).copied().unwrap_or(0)))
        .filter(|(k, _)| k.as_str() != HUB)
        .collect();
    let identity = after.1.values().sum::<u64>() - before.1.values().sum::<u64>();
    Cost {
        sagemaker,
        identity,
        throttled: after.2 - before.2,
    }
}

/// The throttle bound of a phase: the busiest account's SageMaker calls at `rate` a second,
/// less the bucket's first `rate` calls (its burst: the bucket starts full), which need not
/// wait: the least time any schedule can take with the emulator's bucket.
fn bound(calls: &BTreeMap<String, u64>, rate: u32) -> (u64, Duration) {
    let busiest = calls.values().copied().max().unwrap_or(0);
    let waited = busiest.saturating_sub(u64::from(rate));
    (
        busiest,
        Duration::from_secs_f64(waited as f64 / f64::from(rate)),
    )
}

fn report(label: &str, took: Duration, cost: &Cost, args: &Args) {
    let (busiest, b) = bound(&cost.sagemaker, args.rate);
    let total: u64 = cost.sagemaker.values().sum();
    let identity = Duration::from_secs_f64(cost.identity as f64 / f64::from(args.identity_tps));
    // A phase within every bucket's burst has no throttle bound to compare with.
    let ratio = if b.is_zero() {
        "none (within the burst)".to_owned()
    } else {
        format!("{:.2}", took.as_secs_f64() / b.as_secs_f64())
    };
    println!(
        "{label}: {took:.1?}; SageMaker calls {total} (busiest account {busiest}, {} throttled), throttle bound {b:.1?}, ratio {ratio}; Identity Center calls {} ({identity:.1?} at {}/s), ratio to the sum of both bounds {:.2}",
        cost.throttled,
        cost.identity,
        args.identity_tps,
        took.as_secs_f64() / (b + identity).as_secs_f64().max(1e-9)
    );
}

async fn path(args: &Args, fanned: bool, started: Instant) -> Result<()> {
    let org = build(args, started).await?;
    let name = if fanned {
        format!("fanned out, {} workers", args.workers)
    } else {
        "single invocation".to_owned()
    };
    // 1. Everyone to onboard.
    let before = snapshot(&org).await?;
    let took = if fanned {
        let (took, items, failed) = fanned_sweep(&org, args).await?;
        eprintln!(
            "[{:>7.1?}] onboarding: {items} items ({failed} attempts reported failed and redelivered), {took:.1?}",
            started.elapsed()
        );
        took
    } else {
        let (took, answer) = direct_sweep(&org).await?;
        eprintln!(
            "[{:>7.1?}] onboarding: {} failures, {took:.1?}",
            started.elapsed(),
            answer["failures"].as_array().map_or(0, Vec::len)
        );
        took
    };
    let onboard = cost(&before, &snapshot(&org).await?);
    // The statuses settle and are recorded (the sweep after a creation confirms it).
    tokio::time::sleep(Duration::from_millis(300)).await;
    if fanned {
        fanned_sweep(&org, args).await?;
    } else {
        direct_sweep(&org).await?;
    }
    // 2. Nothing changed (with the emulator's call timeline, for where the time goes).
    timeline(&org, true).await?;
    let before = snapshot(&org).await?;
    let noop_took = if fanned {
        fanned_sweep(&org, args).await?.0
    } else {
        direct_sweep(&org).await?.0
    };
    let noop = cost(&before, &snapshot(&org).await?);
    timeline(&org, false).await?;
    println!(
        "## {name}: {} accounts x {} users, {} SageMaker calls/s per account, identity {} calls/s, concurrency {}",
        args.accounts, args.users, args.rate, args.identity_tps, args.concurrency
    );
    report("onboard everyone", took, &onboard, args);
    report("no-change sweep", noop_took, &noop, args);
    println!();
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let started = Instant::now();
    if !args.no_fanout {
        path(&args, true, started).await?;
    }
    if args.sequential {
        path(&args, false, started).await?;
    }
    Ok(())
}
