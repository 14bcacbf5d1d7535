//! The operator CLI without AWS: its sentences, its tables, its command line and its hints.

use std::collections::BTreeMap;

use super::explain::{
    DirectoryStatus, DomainStory, Explanation, FindingView, HoldView, MappingMatch, ProfileView,
    Situation, verdict,
};
use super::*;
use crate::catalogue::Severity;
use crate::drift::model::FindingState;
use crate::ids::{DomainId, GroupId, ResourceName, UserId};
use crate::model::{Attention, OffboardStep, Phase, UserRecord};
use crate::policy::{Offboarding, Removal};
use crate::ports::{HistoryEntry, SweepSummary};
use crate::safety::{Hold, HoldEntry, HoldStatus};

const MONDAY: Epoch = 1_772_442_000; // 2026-03-02T09:00:00Z

fn uid() -> UserId {
    UserId::parse("9067c0ffee-1111aaaa-0000-4000-8000-000000000001").expect("id")
}

fn gid() -> GroupId {
    GroupId::parse("9067c0ffee-2222bbbb-0000-4000-8000-000000000001").expect("id")
}

fn did() -> DomainId {
    DomainId::parse("d-abc123def456").expect("id")
}

fn profile() -> ResourceName {
    ResourceName::parse("ana-lopez-example-com-1a2b3c4d").expect("name")
}

fn record(phase: Phase) -> UserRecord {
    UserRecord {
        domain: did(),
        user: uid(),
        user_name: "ana.lopez@example.com".into(),
        profile: profile(),
        phase,
        group: Some(gid()),
        template_hash: Some("h1".into()),
        profile_status: None,
        attention: None,
        released_by: None,
        version: 3,
        updated_at: MONDAY,
    }
}

fn mapping(index: usize, priority: i64, wins: bool) -> MappingMatch {
    MappingMatch {
        mapping: index,
        group: "group \"ml-researchers\"".into(),
        group_id: gid(),
        priority,
        wins,
        template_hash: "h1".into(),
    }
}

fn situation<'a>(
    o: &'a Offboarding,
    winner: Option<&'a MappingMatch>,
    record: Option<&'a UserRecord>,
) -> Situation<'a> {
    Situation {
        offboarding: o,
        directory: DirectoryStatus::Enabled,
        winner,
        record,
        profile_found: true,
        held: None,
        pending_hold: None,
    }
}

#[test]
fn the_verdict_says_why_in_every_phase() {
    let o = Offboarding::default();
    let w = mapping(0, 10, true);
    let active = record(Phase::Active);
    assert_eq!(
        verdict(&situation(&o, Some(&w), Some(&active))),
        "entitled through group \"ml-researchers\" (mapping 0, priority 10); profile ana-lopez-example-com-1a2b3c4d is Active"
    );
    assert_eq!(
        verdict(&situation(&o, Some(&w), None)),
        "entitled through group \"ml-researchers\" (mapping 0, priority 10); no profile yet: the next membership event or sweep creates it"
    );
    assert_eq!(
        verdict(&situation(&o, None, None)),
        "not entitled: member of no group mapped to this domain; studio-warden never gave them a profile here"
    );
    let grace = record(Phase::Grace { since: MONDAY });
    assert_eq!(
        verdict(&situation(&o, None, Some(&grace))),
        "not entitled since 2026-03-02T09:00:00Z: member of no group mapped to this domain; suspension due at 2026-03-03T09:00:00Z (grace period 1day)"
    );
    let suspended = record(Phase::Suspended { at: MONDAY });
    assert!(
        verdict(&situation(&o, None, Some(&suspended)))
            .ends_with("suspended at 2026-03-02T09:00:00Z: no access, data kept until 2026-04-01T09:00:00Z (retention 30days)"),
    );
    let apps_only = Offboarding {
        remove: Removal::Apps,
        ..Offboarding::default()
    };
    assert!(
        verdict(&situation(&apps_only, None, Some(&suspended)))
            .ends_with("data kept (remove = \"apps\")")
    );
    let mut gone = record(Phase::Offboarded { at: MONDAY });
    gone.released_by = Some("01HOLD".into());
    let mut s = situation(&o, None, Some(&gone));
    s.directory = DirectoryStatus::Deleted;
    assert_eq!(
        verdict(&s),
        "not entitled: not in the Identity Store (deleted); offboarded at 2026-03-02T09:00:00Z: profile and private spaces deleted; this leaving was released by hold 01HOLD"
    );
    // Entitled again while leaving: restored by the next run.
    assert!(verdict(&situation(&o, Some(&w), Some(&grace))).ends_with(
        "again: the next event or sweep restores profile ana-lopez-example-com-1a2b3c4d (now Grace)"
    ));
}

#[test]
fn the_verdict_names_what_waits_for_an_operator() {
    let o = Offboarding::default();
    let mut blocked = record(Phase::Offboarding {
        since: MONDAY,
        step: OffboardStep::Blocked,
    });
    blocked.attention = Some(Attention::SharedSpaces {
        spaces: vec!["team".into()],
    });
    let v = verdict(&situation(&o, None, Some(&blocked)));
    assert!(v.contains("(step Blocked)"), "{v}");
    assert!(
        v.contains("needs an operator: the profile owns shared space(s) team"),
        "{v}"
    );
    let active = record(Phase::Active);
    let mut s = situation(&o, None, Some(&active));
    s.held =
        Some("held: mapping 0 (group \"ml-researchers\") is missing: group x no longer exists");
    s.pending_hold = Some("01HOLD");
    let v = verdict(&s);
    assert!(
        v.contains("nothing starts until the policy or the group is fixed"),
        "{v}"
    );
    assert!(
        v.ends_with("`studio-warden approve 01HOLD` lets it start"),
        "{v}"
    );
    // The settings changed: the next run updates them.
    let w = MappingMatch {
        template_hash: "h2".into(),
        ..mapping(0, 10, true)
    };
    let v = verdict(&situation(&o, Some(&w), Some(&active)));
    assert!(
        v.ends_with("its settings are not the mapping's yet: the next run updates them"),
        "{v}"
    );
    let mut s = situation(&o, Some(&w), Some(&active));
    s.profile_found = false;
    assert!(
        verdict(&s).ends_with("but SageMaker has no such profile: the next sweep creates it again")
    );
}

#[test]
fn tables_align_their_columns_and_leave_the_last_one_free() {
    let text = render::table(
        &["A", "LONGER", "TEXT"],
        &[
            vec!["xyz".into(), "1".into(), "first".into()],
            vec!["é".into(), "22".into(), "second, longer".into()],
        ],
    );
    assert_eq!(
        text,
        "A    LONGER  TEXT\nxyz  1       first\né    22      second, longer\n"
    );
}

fn history_row(action: &str, outcome: &str, trigger: &str, at: Epoch) -> HistoryEntry {
    HistoryEntry {
        user: uid(),
        domain: did(),
        profile: Some(profile()),
        action: action.into(),
        reason: "no longer entitled".into(),
        trigger: trigger.into(),
        outcome: outcome.into(),
        at,
    }
}

fn offboarded() -> Explanation {
    Explanation {
        user: uid(),
        user_name: "ana.lopez@example.com".into(),
        directory: DirectoryStatus::Enabled,
        domains: vec![DomainStory {
            domain: "research".into(),
            domain_id: did(),
            mappings: vec![],
            doubts: vec![],
            verdict: "not entitled: member of no group mapped to this domain; offboarded".into(),
            record: Some(record(Phase::Offboarded { at: MONDAY })),
            profile: None,
            findings: vec![],
        }],
        holds: vec![],
        history: vec![
            history_row("StartGrace", "ok", "evt-1", MONDAY),
            history_row("Offboard", "offboarded", "sweep-2", MONDAY + 60),
        ],
        history_total: 5,
    }
}

#[test]
fn an_explanation_reads_top_down_with_each_history_row_and_its_trigger() {
    let text = render::explanation(&offboarded());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "User ana.lopez@example.com (9067c0ffee-1111aaaa-0000-4000-8000-000000000001): in the Identity Store, enabled"
    );
    assert!(
        text.contains("\nDomain research (d-abc123def456)\n"),
        "{text}"
    );
    assert!(
        text.contains("  mappings: none of the user's groups is mapped here\n"),
        "{text}"
    );
    assert!(
        text.contains("  ledger:   Offboarded (profile ana-lopez-example-com-1a2b3c4d, group 9067c0ffee-2222bbbb-0000-4000-8000-000000000001, version 3, updated 2026-03-02T09:00:00Z)"),
        "{text}"
    );
    assert!(
        text.contains("  profile:  ana-lopez-example-com-1a2b3c4d is not in SageMaker"),
        "{text}"
    );
    assert!(
        text.contains("History (the last 2 of 5 rows; `studio-warden history` shows all)"),
        "{text}"
    );
    assert!(
        text.contains(
            "  2026-03-02T09:01:00Z  Offboard    sweep-2  offboarded — no longer entitled\n"
        ),
        "{text}"
    );
}

#[test]
fn an_explanation_shows_the_winner_the_losers_and_the_profile() {
    let mut e = offboarded();
    let d = &mut e.domains[0];
    d.mappings = vec![mapping(1, 20, true), mapping(0, 10, false)];
    d.record = Some(record(Phase::Active));
    d.profile = Some(ProfileView {
        name: profile(),
        status: "InService".into(),
        execution_role: Some("arn:aws:iam::123456789012:role/r".into()),
        security_groups: vec!["sg-1".into(), "sg-2".into()],
        suspended: None,
    });
    d.doubts = vec!["mapping 2 (group \"x\"): unresolved".into()];
    d.findings = vec![FindingState {
        domain: did(),
        rule: "profile.template".into(),
        resource: profile().to_string(),
        severity: Severity::High,
        status: FindingStatus::Open,
        expected: "role r".into(),
        actual: "role s".into(),
        message: "hand-edited role".into(),
        first_seen: MONDAY,
        last_seen: MONDAY,
        last_alerted: None,
        resolved_at: None,
        exempt_until: None,
        version: 1,
    }];
    let text = render::explanation(&e);
    assert!(
        text.contains(&format!(
            "  mapping:  group \"ml-researchers\" ({}), mapping 1, priority 20: wins\n",
            gid()
        )),
        "{text}"
    );
    assert!(
        text.contains(", mapping 0, priority 10: lost to mapping 1 (priority 20 > 10)\n"),
        "{text}"
    );
    assert!(text.contains("  doubt:    mapping 2"), "{text}");
    assert!(
        text.contains("  profile:  ana-lopez-example-com-1a2b3c4d InService: role arn:aws:iam::123456789012:role/r, security groups sg-1, sg-2\n"),
        "{text}"
    );
    assert!(
        text.contains("  finding:  [high] profile.template ana-lopez-example-com-1a2b3c4d (open): hand-edited role"),
        "{text}"
    );
}

fn hold(status: HoldStatus) -> Hold {
    Hold {
        id: "01HOLDAAAA".into(),
        status,
        reason: "5 grace periods or offboardings would start".into(),
        users: vec![HoldEntry {
            domain: did(),
            user: uid(),
            action: "StartGrace".into(),
            version: 3,
        }],
        found_by: "sweep-1".into(),
        created_at: MONDAY,
        decided_at: None,
        decided_by: None,
        version: 1,
    }
}

#[test]
fn pending_holds_list_their_users_by_name() {
    let view = HoldView {
        hold: hold(HoldStatus::Pending),
        user_names: BTreeMap::from([(uid(), "ana.lopez@example.com".to_owned())]),
    };
    let text = render::holds(&[view]);
    assert!(
        text.starts_with("HOLD        STATUS   USERS  CREATED"),
        "{text}"
    );
    assert!(
        text.contains("01HOLDAAAA  pending  1      2026-03-02T09:00:00Z  sweep-1   -           5 grace periods"),
        "{text}"
    );
    assert!(
        text.contains(
            "Pending hold 01HOLDAAAA holds back (approve: studio-warden approve 01HOLDAAAA):"
        ),
        "{text}"
    );
    assert!(
        text.contains("d-abc123def456  StartGrace  ana.lopez@example.com  9067c0ffee"),
        "{text}"
    );
    let decided = HoldView {
        hold: Hold {
            decided_by: Some("cli:jane".into()),
            ..hold(HoldStatus::Approved)
        },
        user_names: BTreeMap::new(),
    };
    let text = render::holds(&[decided]);
    assert!(text.contains("approved"), "{text}");
    assert!(text.contains("cli:jane"), "{text}");
    assert!(!text.contains("Pending hold"), "{text}");
    assert_eq!(
        render::holds(&[]),
        "no holds: no deletion has ever waited for an operator\n"
    );
}

#[test]
fn findings_and_sweeps_are_tables() {
    let f = FindingView {
        domain_name: "research".into(),
        state: FindingState {
            domain: did(),
            rule: "domain.network-access".into(),
            resource: "d-abc123def456".into(),
            severity: Severity::Critical,
            status: FindingStatus::Open,
            expected: "VpcOnly".into(),
            actual: "PublicInternetOnly".into(),
            message: "the domain is public".into(),
            first_seen: MONDAY,
            last_seen: MONDAY,
            last_alerted: Some(MONDAY),
            resolved_at: None,
            exempt_until: None,
            version: 1,
        },
    };
    let text = render::findings(&[f]);
    assert_eq!(
        text.lines().nth(1),
        Some(
            "critical  open    research  domain.network-access  d-abc123def456  2026-03-02T09:00:00Z  the domain is public"
        )
    );
    let sweep = SweepSummary {
        sweep_id: "sweep-01J".into(),
        mode: "apply".into(),
        started_at: MONDAY,
        finished_at: MONDAY + 4,
        complete: false,
        actions: BTreeMap::from([("Create".to_owned(), 3), ("StartGrace".to_owned(), 1)]),
        failures: 2,
        unmanaged: 1,
        fanned_out: None,
    };
    let text = render::sweeps(&[sweep]);
    assert_eq!(
        text.lines().nth(1),
        Some(
            "2026-03-02T09:00:00Z  4s    NO        2         1          sweep-01J  Create 3, StartGrace 1"
        )
    );
    assert_eq!(
        render::sweeps(&[]),
        "no sweep recorded: is compliance-sweep scheduled?\n"
    );
}

fn no_env(_: &str) -> Option<String> {
    None
}

async fn run_args(args: &[&str]) -> (Exit, Output) {
    let env = Environment {
        var: &no_env,
        sdk: None,
        now: MONDAY,
    };
    let mut out = Output::default();
    let exit = run(args.iter().copied(), &env, &mut out).await;
    (exit, out)
}

#[tokio::test]
async fn help_lists_every_subcommand_and_the_exit_codes() {
    let (exit, out) = run_args(&["studio-warden", "--help"]).await;
    assert_eq!(exit, Exit::Ok);
    for word in [
        "explain",
        "history",
        "findings",
        "holds",
        "approve",
        "discard",
        "plan",
        "sweeps",
        "check-policy",
        "--json",
        "Exit codes:",
        "3  configuration or AWS error",
        "AWS_ENDPOINT_URL",
    ] {
        assert!(
            out.stdout.contains(word),
            "{word} missing from:\n{}",
            out.stdout
        );
    }
    assert!(out.stderr.is_empty());
}

#[tokio::test]
async fn a_wrong_command_line_is_a_usage_error_before_anything_is_read() {
    let cases: [&[&str]; 7] = [
        &["studio-warden"],
        &["studio-warden", "explain"],
        &["studio-warden", "frobnicate"],
        &["studio-warden", "findings", "--status", "closed"],
        &["studio-warden", "explain", " "],
        // No --by and no $USER: who decides must be known.
        &["studio-warden", "approve", "01HOLD"],
        &[
            "studio-warden",
            "check-policy",
            "--domain-ids",
            "[1]",
            "x.toml",
        ],
    ];
    for args in cases {
        let (exit, out) = run_args(args).await;
        assert_eq!(exit, Exit::Usage, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        assert!(!out.stderr.is_empty(), "{args:?}");
    }
}

#[tokio::test]
async fn missing_settings_say_what_to_set() {
    // No WARDEN_TABLE and no policy: exit 3 with the settings to give, before any AWS call.
    let (exit, out) = run_args(&[
        "studio-warden",
        "--policy",
        "/nonexistent/policy.toml",
        "holds",
    ])
    .await;
    assert_eq!(exit, Exit::Failed);
    assert!(
        out.stderr
            .contains("cannot read the policy file /nonexistent/policy.toml"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("what to do: the CLI reads the functions' settings"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn check_policy_validates_as_the_cold_start_does() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/policy.toml");
    let (exit, out) = run_args(&["studio-warden", "check-policy", example]).await;
    assert_eq!(exit, Exit::Ok, "{out:?}");
    assert!(
        out.stdout
            .starts_with(&format!("{example}: valid: identity store ")),
        "{}",
        out.stdout
    );
    let (exit, out) = run_args(&["studio-warden", "check-policy", "/nonexistent.toml"]).await;
    assert_eq!(exit, Exit::Problems);
    assert!(
        out.stderr.starts_with("/nonexistent.toml: cannot read: "),
        "{}",
        out.stderr
    );
    let (exit, out) = run_args(&["studio-warden", "--json", "check-policy", example]).await;
    assert_eq!(exit, Exit::Ok);
    let parsed: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert_eq!(parsed[0]["valid"], serde_json::json!(true));
}

#[test]
fn hints_come_from_error_codes() {
    let aws = |service, code: Option<&str>, retryable| WardenError::Aws {
        service,
        operation: "Query",
        code: code.map(str::to_owned),
        message: "whatever the message says".into(),
        retryable,
    };
    let hint_of = |e: WardenError| hint(&e).unwrap_or_default();
    assert!(
        hint_of(aws("dynamodb", Some("ResourceNotFoundException"), false)).contains("WARDEN_TABLE")
    );
    assert!(
        hint_of(aws("dynamodb", Some("AccessDeniedException"), false)).contains("IAM permissions")
    );
    assert!(hint_of(aws("sagemaker", None, true)).contains("AWS_ENDPOINT_URL"));
    assert!(hint_of(aws("sagemaker", Some("ThrottlingException"), true)).contains("try again"));
    assert_eq!(
        hint(&aws("sagemaker", Some("ValidationException"), false)),
        None
    );
}
