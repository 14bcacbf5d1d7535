//! The operator CLI (`studio-warden`) against a world on the emulator: the same entry point
//! as the binary, the deployment's settings, the real adapters. Each answer is checked as
//! text (what an operator reads), as `--json` (what a script reads) and by its exit code.

use std::time::Duration;

use serde_json::{Value, json};
use warden::model::Phase;
use warden::operator::{Exit, Output};
use warden::ports::{Ledger, SweepSummary};
use warden_tests::fixture::*;

/// `--json` output, parsed.
fn parsed(out: &Output) -> Value {
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\n{}", out.stdout, out.stderr))
}

async fn sweep(world: &World) -> Value {
    world.invoke(json!({"mode": "apply"})).await.expect("sweep")
}

/// Sweeps from `at`, a second apart, until the user's record is in `phase`.
async fn sweep_until(world: &World, user: &str, at: i64, phase: &str) {
    for round in 0..40 {
        world
            .invoke_at(json!({"mode": "apply"}), at + round)
            .await
            .expect("sweep");
        if let Some(r) = world.record(user).await.expect("ledger")
            && r.phase.name() == phase
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("{user} did not reach {phase}");
}

/// Cy is in both groups: the leads' mapping (priority 20) wins, the researchers' loses (the
/// policy's mappings are numbered as the engine numbers them, highest priority first). The
/// explanation names both, the ledger's phase, the profile SageMaker has (the leads' role), and
/// the creation in the history with the sweep that did it; by name or by id, as text or JSON.
#[tokio::test]
async fn explain_tells_an_active_users_story() {
    let world = World::new().await.expect("world");
    let cy = world.add_user("cy.chen@example.com").await.expect("user");
    world.join(&cy, &world.researchers).await.expect("join");
    world.join(&cy, &world.leads).await.expect("join");
    let report = sweep(&world).await;
    world.settle().await.expect("settled");
    let profile = world
        .record(&cy)
        .await
        .expect("ledger")
        .expect("record")
        .profile
        .to_string();

    let (exit, out) = world.cli(&["explain", "cy.chen@example.com"]).await;
    assert_eq!(exit, Exit::Ok, "{out:?}");
    let text = &out.stdout;
    assert!(
        text.starts_with(&format!(
            "User cy.chen@example.com ({cy}): in the Identity Store, enabled"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "why:      entitled through group id {} (mapping 0, priority 20); profile {profile} is Active",
            world.leads
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "mapping:  group id {}, mapping 0, priority 20: wins",
            world.leads
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "mapping:  group \"{RESEARCHERS}\" ({}), mapping 1, priority 10: lost to mapping 0 (priority 20 > 10)",
            world.researchers
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("profile:  {profile} InService: role {LEAD_ROLE}")),
        "{text}"
    );
    let trigger = report["trigger"].as_str().expect("trigger");
    assert!(text.contains("Create"), "{text}");
    assert!(
        text.contains(trigger),
        "the creation names its sweep: {text}"
    );

    let (exit, out) = world.cli(&["explain", &cy, "--json"]).await;
    assert_eq!(exit, Exit::Ok, "{out:?}");
    let e = parsed(&out);
    assert_eq!(e["user_name"], json!("cy.chen@example.com"));
    assert_eq!(e["directory"], json!("enabled"));
    let d = &e["domains"][0];
    assert_eq!(d["domain_id"], json!(world.domain.to_string()));
    assert_eq!(d["mappings"][0]["mapping"], json!(0));
    assert_eq!(d["mappings"][0]["wins"], json!(true));
    assert_eq!(d["mappings"][1]["wins"], json!(false));
    assert_eq!(d["record"]["phase"], json!("Active"));
    assert_eq!(d["profile"]["status"], json!("InService"));
    assert_eq!(d["profile"]["execution_role"], json!(LEAD_ROLE));
    assert_eq!(e["history"][0]["action"], json!("Create"));
    assert_eq!(e["history"][0]["trigger"], json!(trigger));
}

/// "Why was Ana's profile deleted?": she left her group (the event started her grace period),
/// the sweeps suspended her and deleted her data. The explanation says she is offboarded and
/// why, that SageMaker has no profile any more, and shows each stage with its trigger: the
/// membership event, then the sweeps.
#[tokio::test]
async fn explain_tells_why_an_offboarded_users_profile_was_deleted() {
    let world = World::new().await.expect("world");
    let ana = world.add_user("ana.lopez@example.com").await.expect("user");
    let membership = world.join(&ana, &world.researchers).await.expect("join");
    sweep(&world).await;
    world.settle().await.expect("settled");
    world.leave(&membership).await.expect("leave");
    let event = world
        .sample(
            "identitystore-DeleteGroupMembership.json",
            &[(SAMPLE_MEMBERSHIP_1, &membership)],
        )
        .expect("sample");
    let event_id = event["id"].as_str().expect("id").to_owned();
    world.invoke(event).await.expect("handled");
    sweep_until(&world, &ana, now() + 7200, "Offboarded").await;

    let (exit, out) = world.cli(&["explain", "ana.lopez@example.com"]).await;
    assert_eq!(exit, Exit::Ok, "{out:?}");
    let text = &out.stdout;
    assert!(
        text.contains(
            "why:      not entitled: member of no group mapped to this domain; offboarded at "
        ),
        "{text}"
    );
    assert!(text.contains("  ledger:   Offboarded (profile "), "{text}");
    assert!(text.contains(" is not in SageMaker"), "{text}");
    for stage in ["StartGrace", "Suspend", "Offboard"] {
        assert!(text.contains(stage), "{stage} missing: {text}");
    }
    assert!(
        text.contains(&event_id),
        "the grace period names the event: {text}"
    );

    let (exit, out) = world.cli(&["--json", "history", &ana]).await;
    assert_eq!(exit, Exit::Ok);
    let rows = parsed(&out);
    let rows = rows.as_array().expect("rows");
    let grace = rows
        .iter()
        .find(|r| r["action"] == "StartGrace")
        .expect("grace row");
    assert_eq!(grace["trigger"], json!(event_id));
    let last = rows.last().expect("rows");
    assert_eq!(last["action"], json!("Offboard"));
    assert_eq!(last["outcome"], json!("offboarded"));
    assert!(
        last["trigger"]
            .as_str()
            .is_some_and(|t| t.starts_with("sweep-")),
        "{last}"
    );
    // As text, every row with its trigger.
    let (exit, out) = world.cli(&["history", "ana.lopez@example.com"]).await;
    assert_eq!(exit, Exit::Ok);
    assert_eq!(out.stdout.lines().count(), rows.len() + 1, "{}", out.stdout);
    assert!(out.stdout.starts_with("AT"), "{}", out.stdout);

    // Deleted from Identity Center, she is still explained, from the ledger.
    world.delete_user(&ana).await.expect("delete");
    let (exit, out) = world.cli(&["explain", "ana.lopez@example.com"]).await;
    assert_eq!(exit, Exit::Ok, "{out:?}");
    assert!(
        out.stdout
            .contains("NOT in the Identity Store (deleted); known from the ledger"),
        "{}",
        out.stdout
    );
}

/// Nobody by that name or id: exit 1 and a message that says what to give; nothing on
/// standard output for a script to misread. A user in no mapped group is found, and told so.
#[tokio::test]
async fn an_unknown_user_is_exit_1_and_an_unmapped_one_is_explained() {
    let world = World::new().await.expect("world");
    for args in [
        &["explain", "nobody@example.com"][..],
        &["history", "nobody@example.com"],
        &[
            "--json",
            "explain",
            "9067c0ffee-1111aaaa-0000-4000-8000-00000000dead",
        ],
    ] {
        let (exit, out) = world.cli(args).await;
        assert_eq!(exit, Exit::Problems, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(out.stderr.contains("error: no user"), "{}", out.stderr);
        assert!(out.stderr.contains("what to do:"), "{}", out.stderr);
    }
    world.add_user("dee").await.expect("user");
    let (exit, out) = world.cli(&["explain", "dee"]).await;
    assert_eq!(exit, Exit::Ok, "{out:?}");
    assert!(
        out.stdout.contains(
            "not entitled: member of no group mapped to this domain; studio-warden never gave them a profile here"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("History: none"), "{}", out.stdout);
}

/// A policy that holds every leaving (`max_per_run = 0`): the hold is listed (exit 1 while
/// pending) with its users by name, the explanation says what holds the user, the plan is the
/// function's plan; `approve` records the operator's decision through the engine, and the
/// function's next sweep releases the users, each history row naming the hold.
#[tokio::test]
async fn holds_are_listed_and_approve_releases_them() {
    let mut world = World::new().await.expect("world");
    world
        .edit_policy("[offboarding]\n", "[offboarding]\nmax_per_run = 0\n")
        .expect("policy");
    let mut team = Vec::new();
    for name in ["eli", "fay"] {
        let user = world.add_user(name).await.expect("user");
        let membership = world.join(&user, &world.researchers).await.expect("join");
        team.push((user, membership));
    }
    sweep(&world).await;
    world.settle().await.expect("settled");
    for (_, membership) in &team {
        world.leave(membership).await.expect("leave");
    }
    let report = sweep(&world).await;
    let hold = report["hold"]["id"].as_str().expect("a hold").to_owned();

    let (exit, out) = world.cli(&["holds"]).await;
    assert_eq!(exit, Exit::Problems, "a pending hold: {out:?}");
    assert!(
        out.stdout.contains(&format!("{hold}  pending  2")),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("StartGrace  eli"), "{}", out.stdout);
    let (_, out) = world.cli(&["explain", "eli"]).await;
    assert!(
        out.stdout.contains(&format!("held by pending hold {hold}")),
        "{}",
        out.stdout
    );

    // The CLI's plan is the function's plan (only the run's own trigger differs).
    let (exit, out) = world.cli(&["plan", "--json"]).await;
    assert_eq!(exit, Exit::Problems, "the plan holds deletions: {out:?}");
    let mut ours = parsed(&out);
    let mut theirs = world.invoke(json!({"mode": "plan"})).await.expect("plan");
    for v in [&mut ours, &mut theirs] {
        v["trigger"] = Value::Null;
        v["drift"]["trigger"] = Value::Null;
    }
    assert_eq!(ours, theirs);
    let (_, out) = world.cli(&["plan"]).await;
    assert!(
        out.stdout
            .contains(&format!("hold {hold}: 2 user(s) wait for an operator")),
        "{}",
        out.stdout
    );

    let (exit, out) = world.cli(&["approve", &hold, "--by", "jane"]).await;
    assert_eq!(exit, Exit::Ok, "{out:?}");
    assert!(
        out.stdout
            .starts_with(&format!("hold {hold} approved by cli:jane (2 user(s))")),
        "{}",
        out.stdout
    );
    let recorded = world
        .engine
        .ledger
        .holds()
        .await
        .expect("holds")
        .into_iter()
        .find(|h| h.id == hold)
        .expect("the hold");
    assert_eq!(recorded.decided_by.as_deref(), Some("cli:jane"));
    // The same decision again is no change; another one is refused, as is an unknown hold.
    assert_eq!(world.cli(&["approve", &hold]).await.0, Exit::Ok);
    let (exit, out) = world.cli(&["discard", &hold]).await;
    assert_eq!(exit, Exit::Problems, "{out:?}");
    assert!(out.stderr.contains("not pending"), "{}", out.stderr);
    assert_eq!(
        world.cli(&["approve", "01NOSUCHHOLD"]).await.0,
        Exit::Problems
    );

    // The function's next sweep acts on the approval.
    let report = sweep(&world).await;
    assert_eq!(
        actions(&report)
            .iter()
            .filter(|(a, o)| a == "StartGrace" && o == "ok")
            .count(),
        2,
        "{report:#}"
    );
    for (user, _) in &team {
        let last = world.history(user).await.expect("history");
        let last = last.last().expect("a row");
        assert!(
            last.reason.contains(&format!("released by hold {hold}")),
            "{last:?}"
        );
        assert!(matches!(
            world.record(user).await.expect("l").expect("r").phase,
            Phase::Grace { .. }
        ));
    }
    let (exit, out) = world.cli(&["holds", "--json"]).await;
    assert_eq!(exit, Exit::Ok, "nothing pending: {out:?}");
    assert_eq!(parsed(&out)[0]["status"], json!("approved"));
}

/// A public domain and a security group open to the world: the findings are listed (exit 1:
/// open ones), filtered by status and domain; once fixed, they are resolved and `--status open`
/// lists none of them.
#[tokio::test]
async fn findings_are_listed_and_filtered() {
    let world = World::with(WorldOptions {
        baseline: Some(String::new()),
        ..WorldOptions::default()
    })
    .await
    .expect("world");
    world
        .set_network_access(aws_sdk_sagemaker::types::AppNetworkAccessType::PublicInternetOnly)
        .await
        .expect("public");
    world
        .allow_ingress(&world.research_sg, 22, "0.0.0.0/0")
        .await
        .expect("open");
    sweep(&world).await;

    let (exit, out) = world.cli(&["findings"]).await;
    assert_eq!(exit, Exit::Problems, "{out:?}");
    assert!(out.stdout.starts_with("SEVERITY"), "{}", out.stdout);
    assert!(out.stdout.contains("critical  open"), "{}", out.stdout);
    assert!(
        out.stdout.contains("domain.network-access"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("net.sg.open-ingress"), "{}", out.stdout);

    let (exit, out) = world
        .cli(&[
            "findings", "--domain", "research", "--status", "open", "--json",
        ])
        .await;
    assert_eq!(exit, Exit::Problems);
    let listed = parsed(&out);
    let listed = listed.as_array().expect("list");
    assert!(listed.len() >= 2, "{listed:?}");
    assert!(
        listed
            .iter()
            .all(|f| f["status"] == "open" && f["domain_name"] == "research")
    );
    assert_eq!(listed[0]["severity"], json!("critical"));
    let (exit, out) = world.cli(&["findings", "--domain", "elsewhere"]).await;
    assert_eq!(exit, Exit::Usage, "{out:?}");
    assert!(
        out.stderr.contains("its domains: research"),
        "{}",
        out.stderr
    );

    world
        .set_network_access(aws_sdk_sagemaker::types::AppNetworkAccessType::VpcOnly)
        .await
        .expect("private");
    world
        .revoke_ingress(&world.research_sg, 22, "0.0.0.0/0")
        .await
        .expect("closed");
    sweep(&world).await;
    let (exit, out) = world.cli(&["findings", "--status", "resolved"]).await;
    assert_eq!(exit, Exit::Ok, "only resolved ones listed: {out:?}");
    assert!(
        out.stdout.contains("domain.network-access"),
        "{}",
        out.stdout
    );
    let (_, out) = world.cli(&["findings", "--status", "open", "--json"]).await;
    let open = parsed(&out);
    assert!(
        open.as_array()
            .expect("list")
            .iter()
            .all(|f| f["rule"] != "domain.network-access" && f["rule"] != "net.sg.open-ingress"),
        "{open:#}"
    );
}

/// No sweep yet is a problem (exit 1: is the schedule on?); after sweeps, the latest first,
/// complete, with their counts; a latest sweep that did not complete is a problem again.
#[tokio::test]
async fn sweeps_say_whether_the_sweep_is_healthy() {
    let world = World::new().await.expect("world");
    let (exit, out) = world.cli(&["sweeps"]).await;
    assert_eq!(exit, Exit::Problems);
    assert!(out.stdout.contains("no sweep recorded"), "{}", out.stdout);

    let user = world.add_user("gus").await.expect("user");
    world.join(&user, &world.researchers).await.expect("join");
    let first = sweep(&world).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = sweep(&world).await;
    let (exit, out) = world.cli(&["sweeps", "--json"]).await;
    assert_eq!(exit, Exit::Ok, "{out:?}");
    let listed = parsed(&out);
    assert_eq!(listed[0]["sweep_id"], second["trigger"]);
    assert_eq!(listed[1]["sweep_id"], first["trigger"]);
    assert_eq!(listed[1]["actions"]["Create"], json!(1));
    assert_eq!(listed[0]["complete"], json!(true));
    let (_, out) = world.cli(&["sweeps", "--limit", "1"]).await;
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    assert!(
        out.stdout.contains(second["trigger"].as_str().expect("id")),
        "{}",
        out.stdout
    );

    world
        .engine
        .ledger
        .record_sweep(&SweepSummary {
            sweep_id: "sweep-cut".into(),
            mode: "apply".into(),
            started_at: now() + 60,
            finished_at: now() + 900,
            complete: false,
            actions: Default::default(),
            failures: 1,
            unmanaged: 0,
            fanned_out: None,
        })
        .await
        .expect("record");
    let (exit, out) = world.cli(&["sweeps"]).await;
    assert_eq!(exit, Exit::Problems, "{out:?}");
    assert!(
        out.stdout.lines().nth(1).is_some_and(|l| l.contains("NO")),
        "{}",
        out.stdout
    );
}

/// Settings the deployment lacks, or AWS refusing: exit 3 and what to do.
#[tokio::test]
async fn a_missing_ledger_table_is_exit_3_with_what_to_do() {
    let world = World::new().await.expect("world");
    let (exit, out) = world.cli(&["--table", "no-such-table", "holds"]).await;
    assert_eq!(exit, Exit::Failed, "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr.contains("ResourceNotFoundException"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("what to do: the ledger table does not exist here"),
        "{}",
        out.stderr
    );
}
