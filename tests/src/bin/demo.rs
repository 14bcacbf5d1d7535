//! `make demo`: studio-warden's story on the local emulator, narrated. Everything below goes
//! through the real handler and the real AWS SDK clients; only AWS itself is emulated.

use std::time::Duration;

use aws_sdk_sagemaker::types::{AppNetworkAccessType, AppType};
use serde_json::{Value, json};
use warden_tests::fixture::*;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn heading(text: &str) {
    println!("\n==> {text}");
}

fn say(text: impl AsRef<str>) {
    println!("    {}", text.as_ref());
}

fn show_report(report: &Value) {
    let actions = report["actions"].as_array().cloned().unwrap_or_default();
    if actions.is_empty() {
        say(match report["skipped"].as_str() {
            Some(why) => format!("nothing to do ({why})"),
            None => "nothing to do".to_owned(),
        });
    }
    for a in actions {
        say(format!(
            "{:<16} {:<28} {}  [{}]",
            a["action"].as_str().unwrap_or_default(),
            a["profile"].as_str().unwrap_or_default(),
            a["reason"]
                .as_str()
                .unwrap_or("unmanaged: not in the ledger"),
            a["outcome"].as_str().unwrap_or_default(),
        ));
    }
}

async fn show_profiles(world: &World) -> Result<()> {
    let profiles = world.profiles().await?;
    say(format!(
        "SageMaker now holds {} profile(s):",
        profiles.len()
    ));
    for (name, status) in profiles {
        let tags = world.tags(&name).await?;
        let owner = tags
            .get("studio-warden:user-id")
            .map_or("not managed".to_owned(), |u| format!("user {u}"));
        say(format!("  {name:<28} {status:<10} {owner}"));
    }
    Ok(())
}

/// Sweeps from `at`, one second apart, until the user's record reads `phase`, saying what each
/// sweep did of `kind` for the user; answers the time the phase began (`Suspended`) or the last
/// sweep's.
async fn offboard_stage(
    world: &World,
    user: &str,
    at: i64,
    kind: &str,
    phase: &str,
) -> Result<i64> {
    for round in 0..40 {
        let report = world
            .invoke_at(json!({"mode": "apply"}), at + round)
            .await?;
        for a in report.actions.iter().filter(|a| {
            a.action.kind() == kind && a.action.user().map(|u| u.as_str()) == Some(user)
        }) {
            say(format!("sweep {}: {kind}: {}", round + 1, a.outcome));
        }
        if let Some(r) = world.record(user).await?
            && r.phase.name() == phase
        {
            return Ok(match r.phase {
                warden::model::Phase::Suspended { at } => at,
                _ => at + round,
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Err(format!("{user} did not reach {phase} in 40 sweeps").into())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    heading("Starting the local AWS emulator (moto + studio-warden's SageMaker Studio extensions)");
    // The domain carries a secure network baseline ([domains.baseline]): drift checks run with
    // every sweep, and alerts go to an SNS topic that an SQS queue reads back.
    let mut world = World::with(WorldOptions {
        baseline: Some(String::new()),
        retention: "30d",
        ..WorldOptions::default()
    })
    .await?;
    say(format!("emulator at {}", world.emulator.endpoint()));
    say(format!(
        "SageMaker domain {} ; ledger table {} ; identity store {STORE}",
        world.domain, world.table
    ));
    // ml-researchers' JupyterLab apps shut down after an hour idle (the user may pick 1 to 8 h).
    world.edit_policy(
        "jupyterlab_instance_type = \"ml.t3.medium\"\n",
        "jupyterlab_instance_type = \"ml.t3.medium\"\njupyterlab_idle_timeout_minutes = 60\njupyterlab_max_idle_timeout_minutes = 480\n",
    )?;
    say(
        "policy: ml-researchers -> research (priority 10, JupyterLab idle shutdown after 60 min), ml-leads -> research (priority 20), grace period 1h, retention 30d",
    );

    heading("Ana joins ml-researchers; the CloudTrail event reaches membership-sync");
    let ana = world.add_user("ana.lopez@example.com").await?;
    let ana_membership = world.join(&ana, &world.researchers).await?;
    let event = world.joined_event(&ana, &world.researchers, &ana_membership)?;
    show_report(&world.invoke(event).await?);
    let name = world
        .record(&ana)
        .await?
        .map(|r| r.profile.to_string())
        .unwrap_or_default();
    let described = world.describe(&name).await?;
    let settings = described.user_settings();
    let idle = settings
        .and_then(|s| s.jupyter_lab_app_settings())
        .and_then(|l| l.app_lifecycle_management())
        .and_then(|m| m.idle_settings());
    say(format!(
        "profile {name}: role {}, security groups {:?}, JupyterLab idle shutdown {} after {} min (max {} min)",
        settings.and_then(|s| s.execution_role()).unwrap_or("-"),
        settings
            .map(|s| s.security_groups().to_vec())
            .unwrap_or_default(),
        idle.and_then(|i| i.lifecycle_management())
            .map_or("-", |m| m.as_str()),
        idle.and_then(|i| i.idle_timeout_in_minutes())
            .map_or("-".into(), |m| m.to_string()),
        idle.and_then(|i| i.max_idle_timeout_in_minutes())
            .map_or("-".into(), |m| m.to_string()),
    ));
    if let Some(record) = world.record(&ana).await? {
        say(format!(
            "ledger: {} is {} with profile {} (status {:?})",
            record.user_name,
            record.phase.name(),
            record.profile,
            record.profile_status
        ));
    }

    heading("Bo joins ml-researchers and Cy joins ml-leads, but their events are lost");
    let bo = world.add_user("bo").await?;
    let bo_membership = world.join(&bo, &world.researchers).await?;
    let cy = world.add_user("cy.chen@example.com").await?;
    world.join(&cy, &world.leads).await?;
    say("and someone creates a profile by hand in the console: made-by-hand");
    world.hand_made_profile("made-by-hand").await?;

    heading("A dry-run plan ({\"mode\":\"plan\"}) shows what the sweep would do, writing nothing");
    show_report(&world.invoke(json!({"mode": "plan"})).await?);

    heading("The scheduled sweep repairs what the events missed, and leaves made-by-hand alone");
    show_report(
        &world
            .invoke(world.sample("scheduler-detail-string.json", &[])?)
            .await?,
    );
    world.settle().await?;
    show_profiles(&world).await?;

    heading("Ana is working: a JupyterServer app and a private space with a JupyterLab app");
    world
        .start_app(&name, AppType::JupyterServer, "default")
        .await?;
    world.private_space(&name, "ana-space").await?;
    say("running");

    heading("Ana leaves ml-researchers; the DeleteGroupMembership event starts her grace period");
    world.leave(&ana_membership).await?;
    let event = world.sample(
        "identitystore-DeleteGroupMembership.json",
        &[(SAMPLE_MEMBERSHIP_1, &ana_membership)],
    )?;
    show_report(&world.invoke(event).await?);

    heading("Two hours later (grace over), the sweeps suspend Ana: access now, data later");
    let left = now();
    let suspended_at = offboard_stage(&world, &ana, left + 7200, "Suspend", "Suspended").await?;
    say(format!(
        "her apps: {} left running; tag studio-warden:suspended = {}",
        world
            .live_apps()
            .await?
            .iter()
            .filter(|(owner, ..)| *owner == name || owner == "ana-space")
            .count(),
        world
            .tags(&name)
            .await?
            .get("studio-warden:suspended")
            .map_or("(none)", String::as_str)
    ));
    say(format!(
        "her profile and her private space are kept: spaces {:?}",
        world.spaces().await?
    ));

    heading("Two weeks on, a sweep: Ana's data is kept for the 30-day retention");
    let report = world
        .invoke_at(json!({"mode": "apply"}), suspended_at + 14 * 86_400)
        .await?;
    say(format!(
        "{} action(s) for Ana; her profile is still there: {}; a rejoin now would restore it as it is",
        report
            .actions
            .iter()
            .filter(|a| a.action.user().map(|u| u.as_str()) == Some(ana.as_str()))
            .count(),
        world.profiles().await?.contains_key(&name)
    ));

    heading("30 days after the suspension, the sweeps delete her space, then her profile");
    offboard_stage(
        &world,
        &ana,
        suspended_at + 30 * 86_400,
        "Offboard",
        "Offboarded",
    )
    .await?;
    show_profiles(&world).await?;

    heading("Ana's story, from the ledger's append-only history");
    for h in world.history(&ana).await? {
        say(format!(
            "{:<10} {:<42} {} [trigger {}]",
            h.action, h.outcome, h.reason, h.trigger
        ));
    }
    heading(
        "An operator asks why Ana has no Studio any more: studio-warden explain ana.lopez@example.com",
    );
    let (exit, out) = world.cli(&["explain", "ana.lopez@example.com"]).await;
    if exit != warden::operator::Exit::Ok {
        return Err(format!("studio-warden explain failed ({exit:?}): {}", out.stderr).into());
    }
    for line in out.stdout.lines() {
        say(line);
    }
    heading("Drift: the baseline so far (alerts the sweeps above sent to the SNS topic)");
    for a in world.read_alerts().await? {
        say(&a.subject);
    }

    heading(
        "Someone switches the domain to PublicInternetOnly and opens a security group to the world",
    );
    world
        .set_network_access(AppNetworkAccessType::PublicInternetOnly)
        .await?;
    world
        .allow_ingress(&world.research_sg, 22, "0.0.0.0/0")
        .await?;
    say(format!(
        "UpdateDomain AppNetworkAccessType=PublicInternetOnly; {} allows tcp/22 from 0.0.0.0/0",
        world.research_sg
    ));

    heading("The next sweep alerts through SNS; the SQS queue subscribed to the topic receives:");
    world.invoke(json!({"mode": "apply"})).await?;
    for a in world.read_alerts().await? {
        say(format!("Subject: {}", a.subject));
        say(format!("Attributes: {:?}", a.attributes));
        for line in a.body.lines() {
            say(format!("  | {line}"));
        }
    }
    say("a second sweep sends nothing: alerts go out on new findings and resolutions only");
    world.invoke(json!({"mode": "apply"})).await?;
    say(format!(
        "alerts after the second sweep: {}",
        world.read_alerts().await?.len()
    ));

    heading("Both are fixed; the next sweep sends the resolutions");
    world
        .set_network_access(AppNetworkAccessType::VpcOnly)
        .await?;
    world
        .revoke_ingress(&world.research_sg, 22, "0.0.0.0/0")
        .await?;
    world.invoke(json!({"mode": "apply"})).await?;
    for a in world.read_alerts().await? {
        say(format!("Subject: {}", a.subject));
    }
    safety_net(&mut world, &bo, bo_membership).await?;
    println!("\nDone. The emulator stops with this process; nothing is left running.");
    Ok(())
}

/// The safety net: a renamed group changes nothing, and a mass removal waits for an operator.
async fn safety_net(world: &mut World, bo: &str, bo_membership: String) -> Result<()> {
    heading("The safety net, 1: an administrator renames ml-researchers to ml-research-team");
    world
        .rename_group(&world.researchers, "ml-research-team")
        .await?;
    let report = world.invoke(json!({"mode": "apply"})).await?;
    show_report(&report);
    say(format!("open safety findings: {}", report["safety"]));
    for a in world.read_alerts().await? {
        say(format!("Subject: {}", a.subject));
    }
    say(format!(
        "Bo is still {}: the mapping was pinned to the group's id on its first run, not to its name",
        phase_of(world, bo).await?
    ));
    say("the operator updates the policy to the new name; the next sweep resolves the finding");
    world.edit_policy(
        &format!("group = \"{RESEARCHERS}\""),
        "group = \"ml-research-team\"",
    )?;
    world.invoke(json!({"mode": "apply"})).await?;
    for a in world.read_alerts().await? {
        say(format!("Subject: {}", a.subject));
    }

    heading("Four more researchers join; the sweep creates their profiles");
    let mut team = vec![(bo.to_owned(), bo_membership)];
    for name in ["dee", "eli", "fay", "gus"] {
        let user = world.add_user(name).await?;
        let membership = world.join(&user, &world.researchers).await?;
        team.push((user, membership));
    }
    show_report(&world.invoke(json!({"mode": "apply"})).await?);
    world.settle().await?;

    heading("The IdP's sync goes wrong and empties ml-research-team: five leavers in one sweep");
    for (_, membership) in &team {
        world.leave(membership).await?;
    }
    let (answer, metrics) = world
        .invoke_metered(
            warden::service::Function::ComplianceSweep,
            json!({"mode": "apply"}),
        )
        .await;
    let report = answer?;
    let hold = &report["hold"];
    let id = hold["id"]
        .as_str()
        .ok_or_else(|| format!("the sweep did not hold the removals: {report:#}"))?
        .to_owned();
    say(format!(
        "no grace period started; hold {id} names {} user(s): {}",
        hold["users"].as_array().map_or(0, Vec::len),
        hold["reason"].as_str().unwrap_or_default()
    ));
    for a in world.read_alerts().await? {
        say(format!(
            "Subject: {} (severity {})",
            a.subject,
            a.attributes.get("severity").map_or("-", String::as_str)
        ));
    }
    say(
        "the sweep's metrics record (one EMF line on stdout; CloudWatch Logs extracts the metrics,",
    );
    say("and the stack's alarms \"hold waiting\" and \"critical finding open\" fire on it):");
    say(&metrics);
    let plan = world.invoke(json!({"mode": "plan"})).await?;
    say(format!(
        "{{\"mode\":\"plan\"}} shows the same hold: {}",
        plan["hold"]["id"].as_str().unwrap_or("(none)")
    ));
    say(format!(
        "every profile is intact: {} of them",
        world.profiles().await?.len()
    ));

    heading("The team really was disbanded: an operator approves the hold");
    say(format!(
        "{{\"mode\":\"approve\",\"hold\":\"{id}\"}} to compliance-sweep"
    ));
    show_report(&world.invoke(json!({"mode": "approve", "hold": id})).await?);
    if let Some(h) = world.history(bo).await?.last() {
        say(format!(
            "Bo's history: {} {}: {} [trigger {}]",
            h.action, h.outcome, h.reason, h.trigger
        ));
    }
    say("their grace periods run from here; suspension and retention follow as for Ana");
    Ok(())
}

async fn phase_of(world: &World, user: &str) -> Result<String> {
    Ok(world
        .record(user)
        .await?
        .map_or("unknown to the ledger".to_owned(), |r| {
            r.phase.name().to_owned()
        }))
}
