use super::*;

fn parse(src: &str) -> Result<Policy, PolicyError> {
    Policy::parse(src, "policy.toml", &BTreeMap::new())
}

const MINIMAL: &str = r#"
[identity_store]
id = "d-9067c0ffee"

[[domains]]
name = "research"
id = "d-research00001"

[[mappings]]
group = "ml-researchers"
domain = "research"
priority = 10
execution_role = "arn:aws:iam::111122223333:role/studio-research"
security_groups = ["sg-0a1b2c3d4e5f60001"]
"#;

fn message(err: PolicyError) -> (usize, String) {
    match err {
        PolicyError::Invalid { line, message, .. } => (line, message),
        PolicyError::Unlocated { message, .. } => (0, message),
    }
}

#[test]
fn the_example_policy_is_valid() {
    let src = include_str!("../../../examples/policy.toml");
    let policy = parse(src).expect("examples/policy.toml is valid");
    assert_eq!(policy.domains.len(), 1);
    assert_eq!(policy.mappings.len(), 2);
    // Sorted by domain, then priority descending.
    assert_eq!(policy.mappings[0].priority, 20);
    assert_eq!(policy.offboarding.grace_period, Duration::from_secs(86_400));
}

#[test]
fn a_minimal_policy_gets_default_offboarding() {
    let policy = parse(MINIMAL).expect("valid");
    assert_eq!(policy.offboarding, Offboarding::default());
    assert_eq!(
        policy.mappings[0].group,
        GroupRef::DisplayName("ml-researchers".into())
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let (line, msg) =
        message(parse("[identity_store]\nid = \"d-9067c0ffee\"\n[[domains]\n").expect_err("bad"));
    assert_eq!(line, 3, "{msg}");
}

#[test]
fn unknown_fields_are_rejected_with_their_line() {
    let src = MINIMAL.replace("priority = 10", "priority = 10\nexecution_roel = \"x\"");
    let (line, msg) = message(parse(&src).expect_err("typo"));
    assert_eq!(line, 13, "{msg}");
    assert!(msg.contains("execution_roel"), "{msg}");
}

#[test]
fn semantic_errors_name_the_field_and_line() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "id = \"d-9067c0ffee\"",
            "id = \"nope\"",
            3,
            "identity_store.id",
        ),
        (
            "domain = \"research\"",
            "domain = \"other\"",
            11,
            "mappings[0].domain",
        ),
        (
            "role/studio-research\"",
            "user/studio-research\"",
            13,
            "mappings[0].execution_role",
        ),
        (
            "[\"sg-0a1b2c3d4e5f60001\"]",
            "[\"sg-xyz\"]",
            14,
            "mappings[0].security_groups",
        ),
        (
            "id = \"d-research00001\"",
            "id = \"D-Research\"",
            7,
            "domains[0].id",
        ),
    ];
    for (from, to, want_line, want_field) in cases {
        let src = MINIMAL.replace(from, to);
        let (line, msg) = message(parse(&src).expect_err(to));
        assert_eq!(line, *want_line, "{to}: {msg}");
        assert!(msg.contains(want_field), "{to}: {msg}");
    }
}

#[test]
fn duplicate_priorities_in_a_domain_are_ambiguous() {
    let src = format!(
        "{MINIMAL}\n[[mappings]]\ngroup = \"ml-leads\"\ndomain = \"research\"\npriority = 10\nexecution_role = \"arn:aws:iam::111122223333:role/lead\"\n"
    );
    let (line, msg) = message(parse(&src).expect_err("ambiguous"));
    assert_eq!(line, 19, "{msg}");
    assert!(msg.contains("mappings[1].priority"), "{msg}");
}

#[test]
fn a_group_mapped_twice_to_one_domain_is_rejected() {
    let src = format!(
        "{MINIMAL}\n[[mappings]]\ngroup = \"ml-researchers\"\ndomain = \"research\"\npriority = 11\nexecution_role = \"arn:aws:iam::111122223333:role/lead\"\n"
    );
    let (_, msg) = message(parse(&src).expect_err("duplicate"));
    assert!(msg.contains("already mapped"), "{msg}");
}

#[test]
fn reserved_and_aws_tags_are_rejected() {
    for key in ["\"studio-warden:user-id\"", "\"aws:foo\""] {
        let src = MINIMAL.replace(
            "security_groups",
            &format!("tags = {{ {key} = \"x\" }}\nsecurity_groups"),
        );
        let (line, msg) = message(parse(&src).expect_err(key));
        assert_eq!(line, 14, "{msg}");
    }
}

#[test]
fn more_than_40_tags_are_refused_at_the_tags() {
    let tags: Vec<String> = (0..41).map(|n| format!("t{n} = \"x\"")).collect();
    let src = MINIMAL.replace(
        "security_groups",
        &format!("tags = {{ {} }}\nsecurity_groups", tags.join(", ")),
    );
    let (line, msg) = message(parse(&src).expect_err("41 tags"));
    assert_eq!(line, 14, "{msg}");
    assert!(msg.contains("mappings[0].tags: at most 40 tags"), "{msg}");
}

#[test]
fn grace_period_must_be_a_duration() {
    let src = format!("{MINIMAL}\n[offboarding]\ngrace_period = \"soon\"\n");
    let (line, msg) = message(parse(&src).expect_err("bad duration"));
    assert_eq!(line, 17, "{msg}");
    assert!(msg.contains("offboarding.grace_period"), "{msg}");
    let ok = parse(&format!(
        "{MINIMAL}\n[offboarding]\ngrace_period = \"90m\"\ndry_run = true\n"
    ))
    .expect("valid");
    assert_eq!(
        ok.offboarding,
        Offboarding {
            grace_period: Duration::from_secs(5400),
            retention: Duration::from_secs(30 * 86_400),
            remove: Removal::Profile,
            shared_spaces: SharedSpaces::Keep,
            max_per_run: 10,
            max_percent: 25,
            dry_run: true
        }
    );
}

#[test]
fn retention_is_a_duration_of_30_days_by_default() {
    assert_eq!(
        parse(MINIMAL).expect("valid").offboarding.retention,
        Duration::from_secs(30 * 86_400)
    );
    let src =
        format!("{MINIMAL}\n[offboarding]\ngrace_period = \"24h\"\nretention = \"a month\"\n");
    let (line, msg) = message(parse(&src).expect_err("bad duration"));
    assert_eq!(line, 18, "{msg}");
    assert!(
        msg.contains("offboarding.retention: \"a month\" is not a duration"),
        "{msg}"
    );
    let policy = parse(&format!("{MINIMAL}\n[offboarding]\nretention = \"7d\"\n")).expect("valid");
    assert_eq!(
        policy.offboarding.retention,
        Duration::from_secs(7 * 86_400)
    );
    assert_eq!(
        policy.offboarding.data_retention(),
        Some(Duration::from_secs(7 * 86_400))
    );
    let zero = parse(&format!("{MINIMAL}\n[offboarding]\nretention = \"0s\"\n")).expect("valid");
    assert_eq!(zero.offboarding.data_retention(), Some(Duration::ZERO));
    // `remove = "apps"` never deletes data, whatever the retention says.
    let apps = parse(&format!(
        "{MINIMAL}\n[offboarding]\nretention = \"7d\"\nremove = \"apps\"\n"
    ))
    .expect("valid");
    assert_eq!(apps.offboarding.data_retention(), None);
}

#[test]
fn domain_ids_can_come_from_the_deployment() {
    let src = MINIMAL.replace("id = \"d-research00001\"\n", "");
    let (_, msg) = message(parse(&src).expect_err("no id"));
    assert!(msg.contains("WARDEN_DOMAIN_IDS"), "{msg}");
    let ids = BTreeMap::from([("research".to_owned(), "d-fromstack01".to_owned())]);
    let policy = Policy::parse(&src, "policy.toml", &ids).expect("id from the deployment");
    assert_eq!(policy.domains[0].id.as_str(), "d-fromstack01");
}

#[test]
fn group_or_group_id_but_not_both() {
    let both = MINIMAL.replace(
        "group = \"ml-researchers\"",
        "group = \"ml-researchers\"\ngroup_id = \"9067c0ffee-2222bbbb-0000-4000-8000-000000000001\"",
    );
    assert!(
        message(parse(&both).expect_err("both"))
            .1
            .contains("not both")
    );
    let by_id = MINIMAL.replace(
        "group = \"ml-researchers\"",
        "group_id = \"9067c0ffee-2222bbbb-0000-4000-8000-000000000001\"",
    );
    let policy = parse(&by_id).expect("by id");
    assert!(matches!(policy.mappings[0].group, GroupRef::Id(_)));
}

#[test]
fn hostile_values_never_panic() {
    for src in [
        "",
        "\u{0}",
        "[identity_store]\nid = 5\n",
        "identity_store = []",
        &"[".repeat(10_000),
        &format!("[identity_store]\nid = \"{}\"\n", "d".repeat(100_000)),
    ] {
        assert!(parse(src).is_err());
    }
}

#[test]
fn the_infra_fixture_policy_is_valid_with_the_stack_supplied_domain_id() {
    // The Pulumi tests derive IAM scope from this file; it must be a policy the functions accept.
    let src = include_str!("../../../infra/tests/fixtures/policy.toml");
    assert!(
        parse(src).is_err(),
        "research has no id without WARDEN_DOMAIN_IDS"
    );
    let ids = BTreeMap::from([("research".to_owned(), "d-fromstack01".to_owned())]);
    let policy = Policy::parse(src, "fixture", &ids).expect("valid with the stack's id");
    assert_eq!(policy.domains.len(), 2);
    assert_eq!(
        policy.offboarding.grace_period,
        Duration::from_secs(72 * 3600)
    );
}

#[test]
fn removal_is_profile_or_apps() {
    let apps = parse(&format!("{MINIMAL}\n[offboarding]\nremove = \"apps\"\n")).expect("valid");
    assert_eq!(apps.offboarding.remove, Removal::Apps);
    let (line, msg) = message(
        parse(&format!(
            "{MINIMAL}\n[offboarding]\nremove = \"everything\"\n"
        ))
        .expect_err("bad"),
    );
    assert_eq!(line, 17, "{msg}");
    assert!(msg.contains("offboarding.remove"), "{msg}");
}

#[test]
fn the_deletion_threshold_is_a_count_and_a_percentage() {
    let p = parse(&format!(
        "{MINIMAL}\n[offboarding]\nmax_per_run = 0\nmax_percent = 100\n"
    ))
    .expect("valid");
    assert_eq!(
        (p.offboarding.max_per_run, p.offboarding.max_percent),
        (0, 100)
    );
    for (line, bad, field) in [
        ("max_per_run = -1", 17, "offboarding.max_per_run"),
        ("max_percent = 0", 17, "offboarding.max_percent"),
        ("max_percent = 101", 17, "offboarding.max_percent"),
    ] {
        let (at, msg) =
            message(parse(&format!("{MINIMAL}\n[offboarding]\n{line}\n")).expect_err("bad"));
        assert_eq!(at, bad, "{msg}");
        assert!(msg.contains(field), "{msg}");
    }
}

#[test]
fn shared_spaces_are_kept_unless_the_policy_deletes_them() {
    assert_eq!(
        parse(MINIMAL).expect("valid").offboarding.shared_spaces,
        SharedSpaces::Keep
    );
    let delete = parse(&format!(
        "{MINIMAL}\n[offboarding]\nshared_spaces = \"delete\"\n"
    ))
    .expect("valid");
    assert_eq!(delete.offboarding.shared_spaces, SharedSpaces::Delete);
    let (line, msg) = message(
        parse(&format!(
            "{MINIMAL}\n[offboarding]\nshared_spaces = \"archive\"\n"
        ))
        .expect_err("bad"),
    );
    assert_eq!(line, 17, "{msg}");
    assert!(msg.contains("offboarding.shared_spaces"), "{msg}");
}

// ---------------------------------------------------------------- [domains.baseline]

fn with_baseline(lines: &str) -> String {
    MINIMAL.replace(
        "id = \"d-research00001\"\n",
        &format!("id = \"d-research00001\"\n\n[domains.baseline]\n{lines}\n"),
    )
}

#[test]
fn a_domain_without_baseline_gets_no_drift_checks() {
    assert_eq!(parse(MINIMAL).expect("valid").domains[0].baseline, None);
}

#[test]
fn an_empty_baseline_gets_the_defaults() {
    let policy = parse(&with_baseline("")).expect("valid");
    let b = policy.domains[0].baseline.as_ref().expect("baseline");
    assert_eq!(b, &Baseline::default());
    assert_eq!(b.network_access, "VpcOnly");
    assert_eq!(b.endpoints, ["sagemaker.api", "sagemaker.runtime", "sts"]);
    assert!(!b.docker_access && !b.remediate);
    assert_eq!(
        b.severity("net.sg.open-ingress"),
        crate::catalogue::Severity::Critical
    );
}

#[test]
fn the_example_baseline_is_complete() {
    let src = include_str!("../../../examples/policy.toml");
    let policy = parse(src).expect("valid");
    let b = policy.domains[0]
        .baseline
        .as_ref()
        .expect("the example has a baseline");
    assert!(b.vpc_id.is_some() && b.kms_key_id.is_some() && b.allowed_egress.is_some());
    assert!(b.endpoints.contains(&"ecr.api".to_owned()));
    assert!(!b.enabled("profile.unmanaged"));
    assert_eq!(b.exemptions.len(), 1);
    // A date means the end of that day, UTC.
    assert_eq!(b.exemptions[0].until, 1_782_864_000);
}

#[test]
fn baseline_values_are_checked_with_their_line() {
    let cases: &[(&str, &str)] = &[
        ("network_access = \"Open\"", "network_access"),
        ("vpc_id = \"vpc-xyz\"", "vpc_id"),
        ("subnets = [\"sub-1\"]", "subnets"),
        ("security_groups = [\"group-1\"]", "security_groups"),
        ("auth_mode = \"LDAP\"", "auth_mode"),
        (
            "vpc_only_trusted_accounts = [\"12\"]",
            "vpc_only_trusted_accounts",
        ),
        ("execution_role = \"role\"", "execution_role"),
        ("allowed_egress = [\"10.0.0.0/40\"]", "allowed_egress"),
        ("endpoints = [\"com.amazonaws.us-east-1.sts\"]", "endpoints"),
        ("reminder = \"soon\"", "reminder"),
        ("rules = { \"net.nope\" = { enabled = false } }", "rules"),
        (
            "rules = { \"net.sg.egress\" = { severity = \"huge\" } }",
            "severity",
        ),
    ];
    for (line, field) in cases {
        let (at, msg) = message(parse(&with_baseline(line)).expect_err(line));
        assert_eq!(at, 10, "{line}: {msg}");
        assert!(
            msg.contains(&format!("baseline.{field}")) || msg.contains(field),
            "{line}: {msg}"
        );
    }
    let (at, msg) = message(parse(&with_baseline("vpc = \"x\"")).expect_err("unknown"));
    assert_eq!(at, 10, "{msg}");
}

#[test]
fn exemptions_need_a_known_rule_and_a_date() {
    let ok = with_baseline(
        "[[domains.baseline.exemptions]]\nrule = \"net.sg.open-ingress\"\nresource = \"sg-0a1b2c3d4e5f60001\"\nuntil = \"2026-07-01T12:00:00Z\"\nreason = \"demo\"",
    );
    let b = parse(&ok).expect("valid").domains[0]
        .baseline
        .clone()
        .expect("b");
    assert_eq!(b.exemptions[0].until, 1_782_907_200);
    assert!(
        b.exemption("net.sg.open-ingress", "sg-0a1b2c3d4e5f60001", 0)
            .is_some()
    );
    assert!(
        b.exemption("net.sg.open-ingress", "sg-0a1b2c3d4e5f60001", 1_782_907_200)
            .is_none()
    );
    let (line, msg) =
        message(parse(&ok.replace("2026-07-01T12:00:00Z", "soon")).expect_err("date"));
    assert_eq!(line, 13, "{msg}");
    assert!(msg.contains("exemptions[0].until"), "{msg}");
    let (_, msg) = message(parse(&ok.replace("net.sg.open-ingress", "x")).expect_err("rule"));
    assert!(msg.contains("exemptions[0].rule"), "{msg}");
}

// Domains in other accounts and regions (organisations).

const HUB: &str = "111111111111";

fn hub() -> Home {
    Home {
        account: Some(AccountId::parse(HUB).expect("valid")),
        region: Some("us-east-1".into()),
    }
}

fn parse_home(src: &str, home: &Home) -> Result<Policy, PolicyError> {
    Policy::parse_at(src, "policy.toml", &BTreeMap::new(), home)
}

/// Two domains of the same `d-...` id: one at home, one in account 222222222222, eu-west-1.
fn placed(extra: &str) -> String {
    MINIMAL.replace(
        "[[mappings]]",
        &format!(
            "[[domains]]\nname = \"b\"\nid = \"d-research00001\"\naccount = \"222222222222\"\nregion = \"eu-west-1\"\n{extra}\n[[mappings]]"
        ),
    )
}

#[test]
fn a_domain_elsewhere_is_placed_and_reached_through_the_spoke_role_by_default() {
    let policy = parse_home(&placed(""), &hub()).expect("valid");
    let home = policy.domain("research").expect("declared");
    assert_eq!(home.place, None);
    assert_eq!(home.role, None);
    assert_eq!(home.id.to_string(), "d-research00001");
    let b = policy.domain("b").expect("declared");
    assert_eq!(
        b.place,
        Some(Place {
            account: AccountId::parse("222222222222").expect("valid"),
            region: "eu-west-1".into()
        })
    );
    assert_eq!(
        b.role.as_deref(),
        Some("arn:aws:iam::222222222222:role/studio-warden-spoke")
    );
    // Same d- id, another place: another domain, with its own ledger key.
    assert_ne!(b.id, home.id);
    assert_eq!(b.id.as_str(), "d-research00001");
    assert_eq!(b.id.to_string(), "d-research00001@222222222222/eu-west-1");
    assert_eq!(b.message_group(&policy.home), "222222222222#eu-west-1");
    assert_eq!(home.message_group(&policy.home), "111111111111#us-east-1");
}

#[test]
fn the_functions_own_account_and_region_written_out_are_home() {
    let src = MINIMAL.replace(
        "id = \"d-research00001\"",
        "id = \"d-research00001\"\naccount = \"111111111111\"\nregion = \"us-east-1\"",
    );
    let policy = parse_home(&src, &hub()).expect("valid");
    let d = &policy.domains[0];
    assert_eq!((d.place.as_ref(), d.role.as_ref()), (None, None));
    assert_eq!(d.id.to_string(), "d-research00001", "ledger keys unchanged");
}

#[test]
fn another_region_of_the_own_account_is_placed_without_a_role() {
    let src = MINIMAL
        .replace(
            "id = \"d-research00001\"",
            "id = \"d-research00001\"\nregion = \"eu-central-1\"",
        )
        .replace("111122223333", HUB);
    let policy = parse_home(&src, &hub()).expect("valid");
    let d = &policy.domains[0];
    assert_eq!(
        d.id.to_string(),
        "d-research00001@111111111111/eu-central-1"
    );
    assert_eq!(d.role, None);
}

#[test]
fn roles_by_name_or_arn_and_only_in_the_domains_account() {
    let policy = parse_home(&placed("role = \"warden-reader\""), &hub()).expect("valid");
    assert_eq!(
        policy.domain("b").and_then(|d| d.role.as_deref()),
        Some("arn:aws:iam::222222222222:role/warden-reader")
    );
    let arn = "role = \"arn:aws:iam::222222222222:role/path/warden\"";
    let policy = parse_home(&placed(arn), &hub()).expect("valid");
    assert_eq!(
        policy.domain("b").and_then(|d| d.role.as_deref()),
        Some("arn:aws:iam::222222222222:role/path/warden")
    );
    // A role of another account would reach the wrong account's resources.
    let (_, msg) = message(
        parse_home(
            &placed("role = \"arn:aws:iam::333333333333:role/studio-warden-spoke\""),
            &hub(),
        )
        .expect_err("refused"),
    );
    assert!(msg.contains("not in 222222222222"), "{msg}");
    let (_, msg) =
        message(parse_home(&placed("role = \"no spaces\""), &hub()).expect_err("refused"));
    assert!(msg.contains("neither a role ARN nor a role name"), "{msg}");
    // The China partition's ARN.
    let cn = placed("").replace("eu-west-1", "cn-north-1");
    let policy = parse_home(&cn, &hub()).expect("valid");
    assert_eq!(
        policy.domain("b").and_then(|d| d.role.as_deref()),
        Some("arn:aws-cn:iam::222222222222:role/studio-warden-spoke")
    );
}

#[test]
fn places_are_validated_and_a_domain_is_claimed_once_per_place() {
    for (extra, want) in [
        ("account = \"2222\"", "domains[1].account"),
        ("region = \"Europe\"", "domains[1].region"),
    ] {
        let src = MINIMAL.replace(
            "[[mappings]]",
            &format!("[[domains]]\nname = \"b\"\nid = \"d-other\"\n{extra}\n[[mappings]]"),
        );
        let (_, msg) = message(parse_home(&src, &hub()).expect_err("refused"));
        assert!(msg.starts_with(want), "{msg}");
    }
    // The same (account, region, id) twice.
    let twice = placed("").replace(
        "[[mappings]]",
        "[[domains]]\nname = \"c\"\nid = \"d-research00001\"\naccount = \"222222222222\"\nregion = \"eu-west-1\"\n[[mappings]]",
    );
    let (_, msg) = message(parse_home(&twice, &hub()).expect_err("refused"));
    assert!(msg.contains("is declared twice"), "{msg}");
    // The place goes in account and region, not in the id.
    let src = MINIMAL.replace(
        "id = \"d-research00001\"",
        "id = \"d-research00001@222222222222/eu-west-1\"",
    );
    let (_, msg) = message(parse_home(&src, &hub()).expect_err("refused"));
    assert!(msg.contains("bare d-... id"), "{msg}");
}

#[test]
fn a_place_needs_the_functions_own_account_and_region_to_compare_with() {
    let (_, msg) = message(parse(&placed("")).expect_err("refused"));
    assert!(msg.contains("WARDEN_ACCOUNT_ID"), "{msg}");
    let no_region = Home {
        account: hub().account,
        region: None,
    };
    let (_, msg) = message(parse_home(&placed(""), &no_region).expect_err("refused"));
    assert!(msg.contains("AWS_REGION"), "{msg}");
}

#[test]
fn an_execution_role_must_be_in_the_domains_account() {
    let src = placed("").replace("domain = \"research\"", "domain = \"b\"");
    let (_, msg) = message(parse_home(&src, &hub()).expect_err("refused"));
    assert!(msg.contains("not in account 222222222222"), "{msg}");
    let ok = src.replace(
        "arn:aws:iam::111122223333:role/studio-research",
        "arn:aws:iam::222222222222:role/studio-research",
    );
    parse_home(&ok, &hub()).expect("valid");
}

#[test]
fn events_match_a_domain_only_from_its_own_place() {
    let policy = parse_home(&placed(""), &hub()).expect("valid");
    let bare = DomainId::parse("d-research00001").expect("valid");
    let at = |a: &str, r: &str| {
        policy
            .domain_at(&bare, Some(a), Some(r))
            .map(|d| d.name.as_str())
    };
    assert_eq!(at("111111111111", "us-east-1"), Some("research"));
    assert_eq!(at("222222222222", "eu-west-1"), Some("b"));
    assert_eq!(at("222222222222", "us-east-1"), None);
    assert_eq!(at("333333333333", "eu-west-1"), None);
    // No origin: only a domain at home may be assumed.
    assert_eq!(
        policy.domain_at(&bare, None, None).map(|d| d.name.as_str()),
        Some("research")
    );
    // A function that does not know its account (single-account stack) matches its own domains
    // from any account, as before, and never a domain placed elsewhere.
    let single = parse(MINIMAL).expect("valid");
    assert!(
        single
            .domain_at(&bare, Some("999999999999"), Some("us-east-1"))
            .is_some()
    );
}

#[test]
fn the_identity_store_role_is_resolved_in_the_functions_account_or_given_as_an_arn() {
    let src = MINIMAL.replace(
        "id = \"d-9067c0ffee\"",
        "id = \"d-9067c0ffee\"\nregion = \"us-west-2\"\nrole = \"arn:aws:iam::444444444444:role/studio-warden-identity\"",
    );
    let policy = parse(&src).expect("valid");
    assert_eq!(
        policy.identity_store.role.as_deref(),
        Some("arn:aws:iam::444444444444:role/studio-warden-identity")
    );
    let by_name = MINIMAL.replace(
        "id = \"d-9067c0ffee\"",
        "id = \"d-9067c0ffee\"\nrole = \"x\"",
    );
    let (_, msg) = message(parse(&by_name).expect_err("needs the account"));
    assert!(msg.contains("give the role's ARN"), "{msg}");
}
