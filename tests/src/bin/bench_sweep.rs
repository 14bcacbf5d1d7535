//! `bench_sweep`: sweep scale on the emulator (issue 6). Seeds N users across 50 groups mapped
//! to 3 domains, injects API latency, then measures (1) a sweep with everything to create and
//! (2) a sweep where nothing changed: wall time, AWS calls per operation, and the ratio of
//! calls made to the pagination minimum (the list pages that any complete sweep must read,
//! plus the one summary write).
//!
//! `cargo run --release -p warden-tests --bin bench_sweep -- --users 1000 --latency-ms 5`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_sagemaker::types::{AuthMode, UserSettings};
use clap::Parser;
use serde_json::json;
use warden::policy::Policy;
use warden::runtime::{Settings, build_engine};
use warden_tests::fixture::now;
use warden_tests::{Emulator, EmulatorOptions, FaultRule, calls_between};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
struct Args {
    /// Users in the Identity Store, spread over the groups.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    #[arg(long, default_value_t = 50)]
    groups: usize,
    #[arg(long, default_value_t = 3)]
    domains: usize,
    /// Latency added to every AWS call, in milliseconds.
    #[arg(long, default_value_t = 5)]
    latency_ms: u64,
    /// Client-side rates (calls per second); the defaults are the functions' defaults.
    #[arg(long, default_value_t = 10)]
    identity_tps: u32,
    #[arg(long, default_value_t = 8)]
    sagemaker_tps: u32,
    /// Users worked on at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Keep moto's TransactWriteItems, which deep-copies the table on every call.
    #[arg(long)]
    moto_transactions: bool,
    /// Seed the state a finished onboarding leaves (profiles InService with their tags and
    /// settings, ledger records Active) instead of creating it, and measure only the sweep
    /// where nothing changed: for 50,000 users, which the emulator cannot onboard one
    /// `CreateUserProfile` at a time in reasonable time.
    #[arg(long)]
    prebuilt: bool,
    /// Print the emulator's call counts to stderr this often (seconds; 0: never).
    #[arg(long, default_value_t = 60)]
    progress_s: u64,
}

const STORE: &str = "d-9067c0ffee";

fn pages(n: usize) -> u64 {
    n.div_ceil(100).max(1) as u64
}

async fn calls(emulator: &Emulator) -> Result<BTreeMap<String, u64>> {
    Ok(emulator.stats().await?)
}

/// A control request with an hour's read timeout (the harness's `raw_request` waits 30 s).
fn control_long(addr: &str, path: &str, body: &str) -> std::result::Result<String, String> {
    control_long_io(addr, path, body).map_err(|e| e.to_string())?
}

fn control_long_io(
    addr: &str,
    path: &str,
    body: &str,
) -> std::io::Result<std::result::Result<String, String>> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(3600)))?;
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let Some((head, text)) = response.split_once("\r\n\r\n") else {
        return Ok(Err(format!("{path}: no end of headers")));
    };
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        return Ok(Err(format!("{path}: {head}: {text}")));
    }
    Ok(Ok(text.to_string()))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let emulator = std::sync::Arc::new(
        Emulator::start_with(EmulatorOptions {
            status_delay: Duration::from_millis(50),
            profile_quota: Some(200_000),
            ..EmulatorOptions::default()
        })
        .await?,
    );
    let run_started = Instant::now();
    if !args.moto_transactions {
        // moto deep-copies the whole table for every TransactWriteItems, which makes a sweep
        // quadratic in the ledger's size (tests/emulator/dynamodb_ext.py).
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
    }
    let sdk = emulator.sdk_config();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let attr = |n: &str| {
        AttributeDefinition::builder()
            .attribute_name(n)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |n: &str, k| {
        KeySchemaElement::builder()
            .attribute_name(n)
            .key_type(k)
            .build()
    };
    dynamodb
        .create_table()
        .table_name("ledger")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk")?)
        .attribute_definitions(attr("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await?;
    let sagemaker = aws_sdk_sagemaker::Client::new(&sdk);
    let mut domains = Vec::new();
    for d in 0..args.domains {
        let out = sagemaker
            .create_domain()
            .domain_name(format!("bench-{d}"))
            .auth_mode(AuthMode::Iam)
            .default_user_settings(
                UserSettings::builder()
                    .execution_role("arn:aws:iam::123456789012:role/bench")
                    .build(),
            )
            .subnet_ids("subnet-0a1b2c3d4e5f60001")
            .vpc_id("vpc-0a1b2c3d4e5f60001")
            .send()
            .await?;
        domains.push(out.domain_id().unwrap_or_default().to_owned());
    }
    let group_names: Vec<String> = (0..args.groups)
        .map(|g| format!("bench-group-{g:02}"))
        .collect();
    let seeding = Instant::now();
    // The seed endpoint, with a longer read timeout than the harness's 30 s: moto checks every
    // existing user name on each create, so seeding 50,000 users takes minutes.
    let body = json!({
        "IdentityStoreId": STORE,
        "Groups": group_names,
        "Users": args.users,
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
    let seeded: serde_json::Value = serde_json::from_str(&seeded)?;
    let group_ids: BTreeMap<String, String> =
        serde_json::from_value(seeded.get("groups").cloned().unwrap_or_default())?;
    eprintln!(
        "[{:>7.1?}] seeded {} users in {} groups in {:.1?}",
        run_started.elapsed(),
        args.users,
        args.groups,
        seeding.elapsed()
    );

    let mut policy = format!("[identity_store]\nid = \"{STORE}\"\n\n");
    for (d, id) in domains.iter().enumerate() {
        policy.push_str(&format!(
            "[[domains]]\nname = \"bench-{d}\"\nid = \"{id}\"\n\n"
        ));
    }
    for (g, name) in group_names.iter().enumerate() {
        policy.push_str(&format!(
            "[[mappings]]\ngroup_id = \"{}\"\ndomain = \"bench-{}\"\npriority = {}\nexecution_role = \"arn:aws:iam::123456789012:role/bench-{}\"\n\n",
            group_ids[name],
            g % args.domains,
            g + 1,
            g % args.domains
        ));
    }
    let policy = Policy::parse(&policy, "bench", &BTreeMap::new())?;
    let settings = Settings {
        policy: std::sync::Arc::new(policy),
        table: "ledger".into(),
        concurrency: args.concurrency,
        identity_tps: args.identity_tps,
        sagemaker_tps: args.sagemaker_tps,
        topic_arn: None,
        work_queue: None,
    };
    let engine = build_engine(&settings, &sdk);
    if args.latency_ms > 0 {
        emulator
            .set_faults(&[FaultRule::new("*", "*").with_latency_ms(args.latency_ms)])
            .await?;
    }
    let sweep =
        warden::events::classify(&json!({"mode": "apply"}), &engine.policy.identity_store.id)?;

    // Progress on stderr every --progress-s seconds (long runs at 50k users): the calls so far.
    let progress = (args.progress_s > 0).then(|| {
        let emulator = std::sync::Arc::clone(&emulator);
        let every = Duration::from_secs(args.progress_s);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                if let Ok(stats) = emulator.stats().await {
                    let total: u64 = stats.values().sum();
                    let get = |k: &str| stats.get(k).copied().unwrap_or(0);
                    eprintln!(
                        "[{:>7.1?}] {total} calls; CreateUserProfile {}, ListUserProfiles {}, TransactWriteItems {}",
                        run_started.elapsed(),
                        get("sagemaker:CreateUserProfile"),
                        get("sagemaker:ListUserProfiles"),
                        get("dynamodb:TransactWriteItems"),
                    );
                }
            }
        })
    });

    let (created, create_time, create_calls, per_domain) = if args.prebuilt {
        let users: Vec<String> =
            serde_json::from_value(seeded.get("users").cloned().unwrap_or_default())?;
        let started = Instant::now();
        let per_domain = prebuild(&emulator, &engine, &users, &group_names, &group_ids).await?;
        eprintln!(
            "[{:>7.1?}] state of a finished onboarding seeded in {:.1?}",
            run_started.elapsed(),
            started.elapsed()
        );
        (0, Duration::ZERO, BTreeMap::new(), per_domain)
    } else {
        // 1. Everything to create.
        let before = calls(&emulator).await?;
        let started = Instant::now();
        let report = engine.handle(sweep.clone(), now(), None).await?;
        let create_time = started.elapsed();
        eprintln!(
            "[{:>7.1?}] create-everything sweep done in {create_time:.1?}",
            run_started.elapsed()
        );
        let create_calls = calls_between(&before, &calls(&emulator).await?);
        let created = report
            .actions
            .iter()
            .filter(|a| a.action.kind() == "Create" && a.outcome.is_ok())
            .count();
        let mut per_domain: BTreeMap<String, usize> = BTreeMap::new();
        for a in report
            .actions
            .iter()
            .filter(|a| a.action.kind() == "Create")
        {
            *per_domain.entry(a.domain.to_string()).or_default() += 1;
        }
        // Let statuses settle and be recorded.
        tokio::time::sleep(Duration::from_millis(300)).await;
        engine.handle(sweep.clone(), now(), None).await?;
        (created, create_time, create_calls, per_domain)
    };

    // 2. A sweep where nothing changed.
    let before = calls(&emulator).await?;
    let started = Instant::now();
    let report = engine.handle(sweep, now(), None).await?;
    let noop_time = started.elapsed();
    let noop_calls = calls_between(&before, &calls(&emulator).await?);
    if let Some(task) = progress {
        task.abort();
    }
    // User j is in group j % groups; group g maps to domain g % domains.
    let members = |g: usize| (0..args.users).filter(|j| j % args.groups == g).count();
    let minimum: u64 = pages(args.users) // ListUsers
        + (0..args.groups).map(|g| pages(members(g))).sum::<u64>() // ListGroupMemberships
        + domains.iter().map(|d| pages(per_domain.get(d).copied().unwrap_or(0))).sum::<u64>() // ListUserProfiles
        + noop_calls.get("dynamodb:Query").copied().unwrap_or(0) // ledger pages (1 MB each)
        + 1; // the sweep summary
    let made: u64 = noop_calls.values().sum();

    println!(
        "## {} users, {} groups, {} domains, +{} ms per call, rates {}/{} per s, concurrency {}",
        args.users,
        args.groups,
        args.domains,
        args.latency_ms,
        args.identity_tps,
        args.sagemaker_tps,
        args.concurrency
    );
    println!();
    if args.prebuilt {
        println!("everything to create: not measured (--prebuilt: the onboarded state was seeded)");
    } else {
        println!(
            "everything to create: {created} profiles in {:.1?} ({:.1} profiles/s)",
            create_time,
            created as f64 / create_time.as_secs_f64()
        );
        println!("calls: {create_calls:?}");
    }
    println!();
    println!(
        "nothing changed: {:.1?}, {} actions, {made} calls, pagination minimum {minimum}, ratio {:.2}",
        noop_time,
        report.actions.len(),
        made as f64 / minimum as f64
    );
    println!("calls: {noop_calls:?}");
    Ok(())
}

/// Seeds what a finished onboarding leaves: per user, the profile its mapping gives (InService,
/// with the ownership tags and the mapping's role) and an `Active` ledger record with the
/// mapping's fingerprint, exactly as the engine would have written them. Returns the
/// profiles per domain.
async fn prebuild(
    emulator: &Emulator,
    engine: &warden::runtime::AwsEngine,
    users: &[String],
    group_names: &[String],
    group_ids: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, usize>> {
    use futures::stream::{self, StreamExt, TryStreamExt};
    use warden::desired::{ResolvedMappings, entitlements};
    use warden::ids::{GroupId, UserId};
    use warden::model::{Phase, ProfileStatus, User, UserRecord};
    use warden::policy::GroupRef;
    use warden::ports::Ledger;

    let policy = &engine.policy;
    let resolved = ResolvedMappings::new(policy, |g| match g {
        GroupRef::Id(id) => Some(id.clone()),
        GroupRef::DisplayName(_) => None,
    });
    let mut records = Vec::with_capacity(users.len());
    let mut profiles: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for (j, id) in users.iter().enumerate() {
        let user = User {
            id: UserId::parse(id)?,
            user_name: format!("bench-user-{j:06}"),
            enabled: true,
        };
        let group = GroupId::parse(&group_ids[&group_names[j % group_names.len()]])?;
        let groups = std::collections::BTreeSet::from([group]);
        for (domain, e) in entitlements(policy, &resolved, &user, &groups) {
            let profile = warden::naming::profile_name(&user.user_name, &user.id);
            profiles.entry(domain.to_string()).or_default().push(json!({
                "Name": profile.as_str(),
                "Tags": [
                    {"Key": warden::engine::TAG_MANAGED, "Value": "true"},
                    {"Key": warden::engine::TAG_USER_ID, "Value": user.id.as_str()},
                ],
                "UserSettings": {"ExecutionRole": e.template.execution_role},
            }));
            records.push(UserRecord {
                domain,
                user: user.id.clone(),
                user_name: user.user_name.clone(),
                profile,
                phase: Phase::Active,
                group: Some(e.group.clone()),
                template_hash: Some(e.template_hash.clone()),
                profile_status: Some(ProfileStatus::InService),
                attention: None,
                released_by: None,
                version: 1,
                updated_at: now(),
            });
        }
    }
    let mut per_domain = BTreeMap::new();
    for (domain, list) in profiles {
        per_domain.insert(domain.clone(), list.len());
        for chunk in list.chunks(2000) {
            let body = json!({"DomainId": domain, "Profiles": chunk}).to_string();
            let (status, text) = emulator
                .raw_request("POST", "/_emulator/sagemaker/seed-profiles", &body)
                .await?;
            if status != 200 {
                return Err(format!("seed-profiles: {status} {text}").into());
            }
        }
    }
    stream::iter(records.iter())
        .map(|r| engine.ledger.put_record(r))
        .buffer_unordered(32)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(per_domain)
}
