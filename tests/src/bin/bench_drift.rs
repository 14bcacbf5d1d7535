//! `bench_drift`: the drift sweep's cost per profile on the emulator (issue 6). Gives a domain
//! with a secure network baseline N managed profiles, then runs three drift sweeps and prints
//! wall time and AWS calls per operation for each:
//!
//! 1. the first drift sweep: every profile is described (nothing cached yet);
//! 2. a sweep where nothing changed: the profiles' `LastModifiedTime` has not moved, so no
//!    profile is described;
//! 3. a sweep after one profile was changed out of band: that one is described.
//!
//! `cargo run -p warden-tests --bin bench_drift -- --users 1000`

use std::time::{Duration, Instant};

use aws_sdk_sagemaker::types::UserSettings;
use clap::Parser;
use futures::stream::{self, StreamExt, TryStreamExt};
use warden_tests::fixture::{STORE, World, WorldOptions, now};
use warden_tests::{EmulatorOptions, calls_between};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

#[derive(Parser)]
struct Args {
    /// Managed profiles in the domain.
    #[arg(long, default_value_t = 1000)]
    users: usize,
}

async fn drift_sweep(world: &World, label: &str) -> Result<u64> {
    let before = world.emulator.stats().await?;
    let started = Instant::now();
    let report = world.drift_sweep_at(now()).await;
    let took = started.elapsed();
    let calls = calls_between(&before, &world.emulator.stats().await?);
    if !report.failures.is_empty() {
        return Err(format!("{label}: {:?}", report.failures).into());
    }
    let total: u64 = calls.values().sum();
    let describes = calls
        .get("sagemaker:DescribeUserProfile")
        .copied()
        .unwrap_or(0);
    println!(
        "{label}: {:.2} s, {total} calls, {describes} DescribeUserProfile, {} findings open",
        took.as_secs_f64(),
        report.open.len()
    );
    for (op, n) in &calls {
        println!("    {op:<40} {n}");
    }
    Ok(describes)
}

/// A whole compliance sweep through the real handler (reconcile, then drift), nothing changed:
/// the AWS calls it makes, by operation.
async fn compliance_sweep(world: &World) -> Result<u64> {
    let before = world.emulator.stats().await?;
    let started = Instant::now();
    let report = world
        .invoke(serde_json::json!({"mode": "apply"}))
        .await
        .map_err(|e| format!("compliance sweep: {e}"))?;
    let took = started.elapsed();
    let calls = calls_between(&before, &world.emulator.stats().await?);
    if report["failures"].as_array().is_some_and(|f| !f.is_empty()) {
        return Err(format!("compliance sweep: {}", report["failures"]).into());
    }
    let total: u64 = calls.values().sum();
    println!(
        "compliance sweep (reconcile + drift), nothing changed: {:.2} s, {total} calls",
        took.as_secs_f64()
    );
    for (op, n) in &calls {
        println!("    {op:<40} {n}");
    }
    Ok(total)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let args = Args::parse();
    let world = World::with(WorldOptions {
        baseline: Some(String::new()),
        emulator: EmulatorOptions {
            status_delay: Duration::from_millis(50),
            profile_quota: Some(200_000),
            ..EmulatorOptions::default()
        },
        ..WorldOptions::default()
    })
    .await?;
    let (_, users) = world
        .emulator
        .seed_identity_store(STORE, &["bench-seed".to_owned()], args.users, "drift")
        .await?;
    let started = Instant::now();
    stream::iter(users.iter())
        .map(|user| world.join(user, &world.researchers))
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await?;
    let report = world
        .engine
        .sweep("bench-create", warden::model::Mode::Apply, now(), None)
        .await?;
    if !report.failures.is_empty() {
        return Err(format!("create sweep: {:?}", report.failures).into());
    }
    // Let the profiles settle, then record their statuses (the engine's Record actions).
    for _ in 0..600 {
        let profiles = world.profiles().await?;
        if profiles.len() >= args.users && profiles.values().all(|s| s == "InService") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    world
        .engine
        .sweep("bench-record", warden::model::Mode::Apply, now(), None)
        .await?;
    println!(
        "{} users: profiles created and settled in {:.1} s",
        args.users,
        started.elapsed().as_secs_f64()
    );

    let first = drift_sweep(&world, "first drift sweep (nothing cached)").await?;
    let quiet = drift_sweep(&world, "drift sweep, nothing changed").await?;
    let name = world
        .record(&users[0])
        .await?
        .ok_or("no record for the first user")?
        .profile;
    world
        .sagemaker
        .update_user_profile()
        .domain_id(world.domain.as_str())
        .user_profile_name(name.as_str())
        .user_settings(
            UserSettings::builder()
                .security_groups(&world.lead_sg)
                .build(),
        )
        .send()
        .await?;
    world.settle().await?;
    let one = drift_sweep(&world, "drift sweep, one profile changed").await?;
    println!(
        "DescribeUserProfile per sweep: {first} (first), {quiet} (nothing changed), {one} (one changed)"
    );
    // Once more so that the changed profile is cached again, then the whole compliance sweep.
    drift_sweep(&world, "drift sweep, settled again").await?;
    let total = compliance_sweep(&world).await?;
    println!("calls per compliance sweep, nothing changed: {total}");
    Ok(())
}
