//! Organisations (issue 14): domains in other accounts and regions, reached through the role
//! each account's spoke stack creates, on the emulator (which tells accounts apart by their
//! access keys and honours the roles' trust policies in AssumeRole).
//!
//! The hub is the world's own account (123456789012, us-east-1); spokes are made here.

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_sagemaker::types::{AppNetworkAccessType, AuthMode, UserSettings};
use aws_types::SdkConfig;
use aws_types::region::Region;
use serde_json::{Value, json};
use warden::ids::{AccountId, DomainId, UserId};
use warden::policy::Home;
use warden::ports::Ledger;
use warden_tests::ACCOUNT_ID as HUB;
use warden_tests::fixture::{RESEARCHERS, World};

const B: &str = "222222222222";
const C: &str = "333333333333";
/// An account whose spoke role trusts somebody else.
const D: &str = "444444444444";
/// An account the policy does not name, with a domain of its own.
const E: &str = "555555555555";

fn hub() -> Home {
    Home {
        account: AccountId::parse(HUB).ok(),
        region: Some("us-east-1".into()),
    }
}

/// The SDK configuration of someone acting in `account` (the emulator takes a 12-digit access
/// key id as that account).
fn as_account(world: &World, account: &str, region: &str) -> SdkConfig {
    world
        .sdk
        .to_builder()
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            account,
            "spoke-secret",
            None,
            None,
            "spoke",
        )))
        .region(Region::new(region.to_owned()))
        .build()
}

/// A trust policy admitting the principals of `account`.
fn trusting(account: &str) -> String {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
            "Action": "sts:AssumeRole"
        }]
    })
    .to_string()
}

/// A domain in `account` and `region`, with its VPC, subnet and security group.
struct Spoke {
    account: &'static str,
    region: &'static str,
    name: &'static str,
    domain: String,
    vpc: String,
    security_group: String,
    sagemaker: aws_sdk_sagemaker::Client,
    ec2: aws_sdk_ec2::Client,
    /// `[domains.baseline]` lines, when the drift checks hold the domain to one.
    baseline: Option<String>,
}

impl Spoke {
    async fn new(
        world: &World,
        account: &'static str,
        region: &'static str,
        name: &'static str,
    ) -> Spoke {
        let sdk = as_account(world, account, region);
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let vpc = ec2
            .create_vpc()
            .cidr_block("10.1.0.0/16")
            .send()
            .await
            .expect("CreateVpc")
            .vpc()
            .and_then(|v| v.vpc_id())
            .expect("a VPC id")
            .to_owned();
        let subnet = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block("10.1.1.0/24")
            .send()
            .await
            .expect("CreateSubnet")
            .subnet()
            .and_then(|s| s.subnet_id())
            .expect("a subnet id")
            .to_owned();
        let security_group = ec2
            .create_security_group()
            .vpc_id(&vpc)
            .group_name("studio-research")
            .description("Studio")
            .send()
            .await
            .expect("CreateSecurityGroup")
            .group_id()
            .expect("a group id")
            .to_owned();
        let sagemaker = aws_sdk_sagemaker::Client::new(&sdk);
        let domain = sagemaker
            .create_domain()
            .domain_name(name)
            .auth_mode(AuthMode::Iam)
            .app_network_access_type(AppNetworkAccessType::VpcOnly)
            .default_user_settings(
                UserSettings::builder()
                    .execution_role(format!("arn:aws:iam::{account}:role/studio-research"))
                    .security_groups(&security_group)
                    .build(),
            )
            .subnet_ids(&subnet)
            .vpc_id(&vpc)
            .send()
            .await
            .expect("CreateDomain")
            .domain_id()
            .expect("a domain id")
            .to_owned();
        Spoke {
            account,
            region,
            name,
            domain,
            vpc,
            security_group,
            sagemaker,
            ec2,
            baseline: None,
        }
    }

    /// The policy's lines for this domain and a mapping of the researchers to it.
    fn toml(&self) -> String {
        format!(
            r#"[[domains]]
name = "{name}"
id = "{domain}"
account = "{account}"
region = "{region}"
{baseline}
[[mappings]]
group = "{RESEARCHERS}"
domain = "{name}"
priority = 10
execution_role = "arn:aws:iam::{account}:role/studio-research"
security_groups = ["{sg}"]

"#,
            name = self.name,
            domain = self.domain,
            account = self.account,
            region = self.region,
            sg = self.security_group,
            baseline = self.baseline.as_deref().unwrap_or_default(),
        )
    }

    /// The domain as the product knows it: its id and its place.
    fn id(&self) -> DomainId {
        DomainId::parse(&self.domain)
            .and_then(|d| {
                d.at(
                    &AccountId::parse(self.account).expect("an account id"),
                    self.region,
                )
            })
            .expect("a domain id")
    }

    async fn profiles(&self) -> Vec<String> {
        let out = self
            .sagemaker
            .list_user_profiles()
            .domain_id_equals(&self.domain)
            .send()
            .await
            .expect("ListUserProfiles");
        let mut names: Vec<String> = out
            .user_profiles()
            .iter()
            .filter_map(|p| p.user_profile_name().map(str::to_owned))
            .collect();
        names.sort();
        names
    }
}

/// The world with the policy's domains plus `spokes`, deployed as a hub in 123456789012.
fn deploy(world: &mut World, spokes: &[&Spoke]) {
    let extra: String = spokes.iter().map(|s| s.toml()).collect();
    let source = world
        .policy_source
        .replacen("[offboarding]", &format!("{extra}[offboarding]"), 1);
    world
        .deploy_at(&source, &hub())
        .expect("the policy is valid");
}

/// The emulator's calls by account: `{account: {region: {service: {"calls": n, ...}}}}`.
async fn calls_by_account(world: &World) -> Value {
    let (status, body) = world
        .emulator
        .raw_request("GET", "/_emulator/stats", "")
        .await
        .expect("stats");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).expect("JSON")["accounts"].clone()
}

fn calls_in(stats: &Value, account: &str, service: &str) -> u64 {
    stats[account]
        .as_object()
        .map(|regions| {
            regions
                .values()
                .map(|r| r[service]["calls"].as_u64().unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sweep_reaches_domains_in_other_accounts_and_regions_and_an_untrusting_role_fails_alone()
{
    let mut world = World::new().await.expect("world");
    let b_eu = Spoke::new(&world, B, "eu-west-1", "b-eu").await;
    let b_us = Spoke::new(&world, B, "us-west-2", "b-us").await;
    let c_eu = Spoke::new(&world, C, "eu-west-1", "c-eu").await;
    let d_eu = Spoke::new(&world, D, "eu-west-1", "d-eu").await;
    let e_eu = Spoke::new(&world, E, "eu-west-1", "e-eu").await;
    for account in [B, C] {
        world
            .emulator
            .create_role(account, "studio-warden-spoke", &trusting(HUB))
            .await
            .expect("CreateRole");
    }
    // D's spoke role trusts another account, not the hub.
    world
        .emulator
        .create_role(D, "studio-warden-spoke", &trusting("999999999999"))
        .await
        .expect("CreateRole");
    deploy(&mut world, &[&b_eu, &b_us, &c_eu, &d_eu]);
    let alice = world.add_user("alice").await.expect("user");
    world.join(&alice, &world.researchers).await.expect("join");

    let report = world.invoke(json!({})).await.expect("the sweep answers");
    // Before the test's own listings, which count too.
    let stats = calls_by_account(&world).await;

    // Alice has a profile in the hub's own domain and in every domain whose role trusts the hub.
    let home: Vec<String> = world
        .profiles()
        .await
        .expect("profiles")
        .into_keys()
        .collect();
    assert_eq!(home.len(), 1, "{report}");
    for spoke in [&b_eu, &b_us, &c_eu] {
        assert_eq!(spoke.profiles().await, home, "{} {report}", spoke.name);
    }
    // D's role does not trust the hub: its domain fails, loudly, and alone.
    assert!(d_eu.profiles().await.is_empty());
    let failures: Vec<&str> = report["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(failures.len(), 1, "{report}");
    assert!(failures[0].starts_with("domain d-eu ("), "{report}");
    assert!(failures[0].contains(&format!("@{D}/eu-west-1")), "{report}");
    // Nothing reached SageMaker in D but the test's CreateDomain (the role was refused first),
    // nor in E, which the policy does not name; E's domain is as it was.
    assert_eq!(
        calls_in(&stats, D, "sagemaker"),
        1,
        "D: its CreateDomain only: {stats}"
    );
    // The hub asked STS for D's role (in D's region), and was refused.
    assert_eq!(
        calls_in(&stats, HUB, "sts"),
        4,
        "b-eu, b-us, c-eu, d-eu: {stats}"
    );
    assert_eq!(
        calls_in(&stats, E, "sagemaker"),
        1,
        "E: its CreateDomain only: {stats}"
    );
    assert!(e_eu.profiles().await.is_empty());

    // The ledger keys carry the place: each domain has its own record of alice.
    let alice_id = UserId::parse(&alice).expect("a user id");
    for spoke in [&b_eu, &b_us, &c_eu] {
        let record = world
            .engine
            .ledger
            .record(&spoke.id(), &alice_id)
            .await
            .expect("ledger")
            .unwrap_or_else(|| panic!("no record of alice in {}", spoke.name));
        assert_eq!(record.domain, spoke.id());
        let pk = format!("DOMAIN#{}@{}/{}", spoke.domain, spoke.account, spoke.region);
        let items = world
            .dynamodb
            .query()
            .table_name(&world.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()),
            )
            .send()
            .await
            .expect("Query");
        assert_eq!(items.count(), 1, "{pk}");
    }
    // The hub's own domain keeps the key it had before domains had places.
    assert!(
        world
            .engine
            .ledger
            .record(&world.domain, &alice_id)
            .await
            .expect("ledger")
            .is_some()
    );

    // Trusted later, D's domain catches up at the next sweep: the failure was not remembered.
    world
        .emulator
        .create_role(D, "studio-warden-reader", &trusting(HUB))
        .await
        .expect("CreateRole");
    let source = world.policy_source.replacen(
        "account = \"444444444444\"\nregion = \"eu-west-1\"\n",
        "account = \"444444444444\"\nregion = \"eu-west-1\"\nrole = \"studio-warden-reader\"\n",
        1,
    );
    world.deploy_at(&source, &hub()).expect("valid");
    let report = world.invoke(json!({})).await.expect("the sweep answers");
    assert_eq!(report["failures"], json!([]), "{report}");
    assert_eq!(d_eu.profiles().await, home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_membership_event_reaches_every_account_on_the_direct_path() {
    let mut world = World::new().await.expect("world");
    let b_eu = Spoke::new(&world, B, "eu-west-1", "b-eu").await;
    let c_eu = Spoke::new(&world, C, "eu-west-1", "c-eu").await;
    for account in [B, C] {
        world
            .emulator
            .create_role(account, "studio-warden-spoke", &trusting(HUB))
            .await
            .expect("CreateRole");
    }
    deploy(&mut world, &[&b_eu, &c_eu]);
    let bob = world.add_user("bob").await.expect("user");
    let membership = world.join(&bob, &world.researchers).await.expect("join");
    let event = world
        .joined_event(&bob, &world.researchers, &membership)
        .expect("event");
    let report = world.invoke(event).await.expect("the event is handled");
    assert_eq!(report["failures"], json!([]), "{report}");
    let home: Vec<String> = world
        .profiles()
        .await
        .expect("profiles")
        .into_keys()
        .collect();
    assert_eq!(home.len(), 1, "{report}");
    assert_eq!(b_eu.profiles().await, home);
    assert_eq!(c_eu.profiles().await, home);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_of_account_b_is_never_reached_through_account_cs_role() {
    let mut world = World::new().await.expect("world");
    let b_eu = Spoke::new(&world, B, "eu-west-1", "b-eu").await;
    for account in [B, C] {
        world
            .emulator
            .create_role(account, "studio-warden-spoke", &trusting(HUB))
            .await
            .expect("CreateRole");
    }
    // The policy says B's domain is in C (a copy-paste slip): the product asks C, through C's
    // role, and C has no such domain. B's domain is never touched.
    let wrong = Spoke {
        account: C,
        region: "eu-west-1",
        name: "b-eu",
        domain: b_eu.domain.clone(),
        vpc: b_eu.vpc.clone(),
        security_group: b_eu.security_group.clone(),
        sagemaker: b_eu.sagemaker.clone(),
        ec2: b_eu.ec2.clone(),
        baseline: None,
    };
    deploy(&mut world, &[&wrong]);
    let alice = world.add_user("alice").await.expect("user");
    world.join(&alice, &world.researchers).await.expect("join");
    let report = world.invoke(json!({})).await.expect("the sweep answers");
    let stats = calls_by_account(&world).await;
    assert!(b_eu.profiles().await.is_empty(), "{report}");
    assert_eq!(
        calls_in(&stats, B, "sagemaker"),
        1,
        "B: its CreateDomain only: {stats}"
    );
    assert!(calls_in(&stats, C, "sagemaker") > 0, "{stats}");
    assert_ne!(report["failures"], json!([]), "{report}");
}

/// The EC2 sample event of an ingress rule added to `group`, as the spoke's rule forwards it
/// to the hub bus: with the spoke's `account` and `region` in the envelope.
fn ingress_event(world: &World, group: &str, account: &str, region: &str) -> Value {
    let mut event = world
        .sample(
            "ec2-AuthorizeSecurityGroupIngress.json",
            &[("sg-0a1b2c3d4e5f60718", group)],
        )
        .expect("sample");
    event["account"] = json!(account);
    event["region"] = json!(region);
    event["id"] = json!(format!("ingress-{account}-{region}"));
    event
}

fn opened(report: &Value) -> Vec<String> {
    report["drift"]["opened"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|k| k.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drift_in_account_c_is_found_in_c_and_only_from_cs_events() {
    let mut world = World::new().await.expect("world");
    let mut c_eu = Spoke::new(&world, C, "eu-west-1", "c-eu").await;
    c_eu.baseline = Some(format!(
        "\n[domains.baseline]\nvpc_id = \"{}\"\nallowed_egress = [\"10.1.0.0/16\"]\n",
        c_eu.vpc
    ));
    world
        .emulator
        .create_role(C, "studio-warden-spoke", &trusting(HUB))
        .await
        .expect("CreateRole");
    deploy(&mut world, &[&c_eu]);
    // Someone opens C's Studio security group to the internet.
    c_eu.ec2
        .authorize_security_group_ingress()
        .group_id(&c_eu.security_group)
        .ip_protocol("tcp")
        .from_port(22)
        .to_port(22)
        .cidr_ip("0.0.0.0/0")
        .send()
        .await
        .expect("AuthorizeSecurityGroupIngress");

    // The same change reported from another account, or from another region of C, is not
    // about C's group: no finding, and nothing read in C.
    for (account, region) in [(B, "eu-west-1"), (C, "us-west-2")] {
        let report = world
            .invoke(ingress_event(&world, &c_eu.security_group, account, region))
            .await
            .expect("handled");
        assert!(opened(&report).is_empty(), "{account} {region}: {report}");
    }
    // C's own event, forwarded to the hub: checked in C, through C's role.
    let report = world
        .invoke(ingress_event(&world, &c_eu.security_group, C, "eu-west-1"))
        .await
        .expect("handled");
    assert_eq!(report["failures"], json!([]), "{report}");
    // (A new group's default egress, anywhere, is outside the baseline's allowed egress too.)
    assert_eq!(
        opened(&report),
        vec![
            format!("net.sg.open-ingress#{}", c_eu.security_group),
            format!("net.sg.egress#{}", c_eu.security_group)
        ],
        "{report}"
    );
    // The finding is C's domain's, under its placed key, and alerted.
    let findings = warden::drift::ports::FindingStore::findings(&world.engine.ledger, &c_eu.id())
        .await
        .expect("findings");
    assert!(
        findings
            .iter()
            .any(|f| f.rule == "net.sg.open-ingress" && f.domain == c_eu.id()),
        "{findings:?}"
    );
    let alerts = world.read_alerts().await.expect("alerts");
    assert_eq!(alerts.len(), 2, "{alerts:#?}");
}

/// The issue's organisation end to end, fanned out: Identity Center with the hub (the
/// delegated administrator's shape), domains in B (two regions) and C plus the hub's own; the
/// scheduled sweep reads the directory once and queues one item per domain, grouped by
/// account and region; three workers take them at once. A join reaches every domain, a leave
/// starts every domain's grace period, each record under its domain's placed key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fanned_out_sweep_reaches_every_account_through_three_workers() {
    use aws_sdk_sqs::types::QueueAttributeName;
    use warden::fanout::Limits;
    use warden::model::Phase;
    use warden_tests::queue::{fan_out, invoke, receive, work};

    let mut world = World::new().await.expect("world");
    let b_eu = Spoke::new(&world, B, "eu-west-1", "b-eu").await;
    let b_us = Spoke::new(&world, B, "us-west-2", "b-us").await;
    let c_eu = Spoke::new(&world, C, "eu-west-1", "c-eu").await;
    for account in [B, C] {
        world
            .emulator
            .create_role(account, "studio-warden-spoke", &trusting(HUB))
            .await
            .expect("CreateRole");
    }
    deploy(&mut world, &[&b_eu, &b_us, &c_eu]);
    let queue = world
        .sqs
        .create_queue()
        .queue_name("studio-warden-work.fifo")
        .attributes(QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .expect("CreateQueue")
        .queue_url()
        .expect("url")
        .to_owned();
    let fanout = fan_out(&world, &queue, Limits::default());
    let alice = world.add_user("alice").await.expect("user");
    let bob = world.add_user("bob").await.expect("user");
    world.join(&alice, &world.researchers).await.expect("join");
    let bobs = world.join(&bob, &world.researchers).await.expect("join");

    // One sweep: the coordinator queues, three workers work the four items at once.
    let sweep = async |world: &World| {
        let before = world.emulator.stats().await.expect("stats");
        let report = invoke(world, &fanout, json!({"mode": "apply"}))
            .await
            .expect("coordinator");
        let after = world.emulator.stats().await.expect("stats");
        // The directory is read once, by the coordinator.
        assert_eq!(
            after.get("identitystore:ListUsers").copied().unwrap_or(0)
                - before.get("identitystore:ListUsers").copied().unwrap_or(0),
            1,
            "{report}"
        );
        let mut messages = receive(world, &queue).await;
        let mut groups: Vec<String> = messages.iter().map(|m| m.group.clone()).collect();
        groups.sort();
        assert_eq!(
            groups,
            [
                format!("{HUB}#us-east-1"),
                format!("{B}#eu-west-1"),
                format!("{B}#us-west-2"),
                format!("{C}#eu-west-1"),
            ],
            "{report}"
        );
        // Three workers: the fourth item waits for the first worker free.
        let fourth = messages.split_off(3);
        let failed = futures::future::join_all(
            messages
                .chunks(1)
                .map(|one| work(world, &fanout, &queue, one)),
        )
        .await;
        assert!(failed.iter().all(Vec::is_empty), "{failed:?}");
        assert!(work(world, &fanout, &queue, &fourth).await.is_empty());
        report
    };

    sweep(&world).await;
    let home: Vec<String> = world
        .profiles()
        .await
        .expect("profiles")
        .into_keys()
        .collect();
    assert_eq!(home.len(), 2);
    for spoke in [&b_eu, &b_us, &c_eu] {
        assert_eq!(spoke.profiles().await, home, "{}", spoke.name);
    }
    let summary = world.engine.ledger.sweeps(1).await.expect("sweeps");
    assert!(summary[0].complete, "{summary:?}");
    assert_eq!(summary[0].actions.get("Create"), Some(&8), "{summary:?}");

    // Bob leaves: every domain starts his grace period, each in its own record.
    world.leave(&bobs).await.expect("leave");
    sweep(&world).await;
    let bob_id = UserId::parse(&bob).expect("a user id");
    for domain in [world.domain.clone(), b_eu.id(), b_us.id(), c_eu.id()] {
        let record = world
            .engine
            .ledger
            .record(&domain, &bob_id)
            .await
            .expect("ledger")
            .unwrap_or_else(|| panic!("no record of bob in {domain}"));
        assert!(
            matches!(record.phase, Phase::Grace { .. }),
            "{domain}: {record:?}"
        );
    }
}

/// A hub outside the Identity Center account: the functions run in account 999 and reach the
/// Identity Store (in the world's account, 123456789012) through `identity_store.role`, and
/// the world's domain, from the hub's view in another account, through its spoke role. Until
/// the identity role trusts the hub, the sweep fails loudly and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hub_elsewhere_reads_identity_center_through_the_identity_role() {
    const ELSEWHERE: &str = "999999999999";
    let mut world = World::new().await.expect("world");
    let hub_sdk = as_account(&world, ELSEWHERE, "us-east-1");
    let identity_role = format!("arn:aws:iam::{HUB}:role/studio-warden-identity");
    // The world's domain, as the hub sees it: in account 123456789012, us-east-1.
    let source = world
        .policy_source
        .replacen(
            "region = \"us-east-1\"\n",
            &format!("region = \"us-east-1\"\nrole = \"{identity_role}\"\n"),
            1,
        )
        .replacen(
            &format!("id = \"{}\"\n", world.domain),
            &format!("id = \"{}\"\naccount = \"{HUB}\"\n", world.domain),
            1,
        );
    let home = Home {
        account: AccountId::parse(ELSEWHERE).ok(),
        region: Some("us-east-1".into()),
    };
    world
        .emulator
        .create_role(HUB, "studio-warden-spoke", &trusting(ELSEWHERE))
        .await
        .expect("CreateRole");
    // The identity role trusts somebody else first.
    world
        .emulator
        .create_role(HUB, "studio-warden-identity", &trusting("888888888888"))
        .await
        .expect("CreateRole");
    world
        .deploy_hub(&source, &home, hub_sdk.clone())
        .await
        .expect("deployed");
    let alice = world.add_user("alice").await.expect("user");
    world.join(&alice, &world.researchers).await.expect("join");

    let refused = world.invoke(json!({})).await;
    assert!(refused.is_err(), "{refused:?}");
    assert!(world.profiles().await.expect("profiles").is_empty());

    // Trusted: a role of the same name cannot be made twice, so a second identity role.
    world
        .emulator
        .create_role(HUB, "studio-warden-identity-2", &trusting(ELSEWHERE))
        .await
        .expect("CreateRole");
    let source = world.policy_source.replace(
        "role/studio-warden-identity\"",
        "role/studio-warden-identity-2\"",
    );
    world
        .deploy_hub(&source, &home, hub_sdk)
        .await
        .expect("deployed");
    let report = world.invoke(json!({})).await.expect("the sweep answers");
    assert_eq!(report["failures"], json!([]), "{report}");
    assert_eq!(
        world.profiles().await.expect("profiles").len(),
        1,
        "{report}"
    );
}

/// Every place's credentials are fetched once per client, however many places there are. The
/// SDK's shared identity cache (the one `aws_config::load` makes) keeps at most 64 partitions,
/// one per client and credentials provider, and evicts one when it is full: with more than
/// that many clients, an evicted place's credentials were fetched again (an AssumeRole) by its
/// next call. Here 40 places, each with a SageMaker and an EC2 client (80 assumed-role
/// clients), are called three times each: 80 AssumeRole calls, no more.
#[tokio::test]
async fn each_place_assumes_its_role_once_per_client_however_many_places() {
    use warden::adapters::{CallRate, PerDomain, Reach};
    use warden::policy::Policy;

    const PLACES: u64 = 40;
    let world = World::new().await.expect("world");
    let mut source = String::from("[identity_store]\nid = \"d-9067c0ffee\"\n\n");
    for i in 0..PLACES {
        let account = format!("{:012}", 600_000_000_000 + i);
        let region = if i % 2 == 0 { "eu-west-1" } else { "us-west-2" };
        world
            .emulator
            .create_role(&account, "studio-warden-spoke", &trusting(HUB))
            .await
            .expect("CreateRole");
        source.push_str(&format!(
            "[[domains]]\nname = \"p{i}\"\nid = \"d-place{i:05}\"\naccount = \"{account}\"\nregion = \"{region}\"\n\n"
        ));
    }
    source.push_str("[[mappings]]\ngroup = \"g\"\ndomain = \"p0\"\npriority = 1\nexecution_role = \"arn:aws:iam::600000000000:role/r\"\n");
    let policy = Policy::parse_at(&source, "test", &std::collections::BTreeMap::new(), &hub())
        .expect("a valid policy");
    let sagemaker = PerDomain::for_policy(
        aws_sdk_sagemaker::Client::new(&world.sdk),
        CallRate::per_second(100),
        &policy,
        Reach::new(&world.sdk, None, 100),
    );
    let ec2 = PerDomain::for_policy(
        aws_sdk_ec2::Client::new(&world.sdk),
        CallRate::per_second(100),
        &policy,
        Reach::new(&world.sdk, None, 100),
    );
    let before = world.emulator.stats().await.expect("stats");
    for _ in 0..3 {
        for domain in &policy.domains {
            let sm = sagemaker.at(&domain.id).await.expect("a client");
            // No such domain in that account: refused by SageMaker, so signed and admitted.
            let err = sm
                .client
                .describe_domain()
                .domain_id(domain.id.as_str())
                .send()
                .await
                .expect_err("no such domain");
            assert!(
                err.as_service_error()
                    .is_some_and(|e| e.is_resource_not_found()),
                "{domain:?}: {err:?}"
            );
            let vpcs = ec2
                .at(&domain.id)
                .await
                .expect("a client")
                .client
                .describe_vpcs()
                .send()
                .await;
            assert!(vpcs.is_ok(), "{domain:?}: {vpcs:?}");
        }
    }
    let after = world.emulator.stats().await.expect("stats");
    let assumed = |stats: &std::collections::BTreeMap<String, u64>| {
        stats.get("sts:AssumeRole").copied().unwrap_or(0)
    };
    assert_eq!(
        assumed(&after) - assumed(&before),
        2 * PLACES,
        "one AssumeRole per place and client"
    );
}
