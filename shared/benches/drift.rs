//! Criterion benchmark of the drift rules over one domain snapshot at scale.
//! Run with `cargo bench -p studio-warden --bench drift` (or `make bench`).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use warden::drift::model::{
    EndpointInfo, ExpectedTemplate, ManagedProfile, ProfileDetail, SecurityGroupInfo, SgRule,
    Snapshot, SubnetInfo,
};
use warden::drift::rules::evaluate;
use warden::ids::{ResourceName, UserId};
use warden::model::DomainDescription;
use warden::model::ProfileStatus;
use warden::naming;
use warden::policy::{Baseline, Policy};

const EXAMPLE_POLICY: &str = include_str!("../../examples/policy.toml");
const PROFILES: usize = 50_000;

fn user_id(n: usize) -> UserId {
    UserId::parse(&format!("9067c0ffee-{n:08x}-0000-4000-8000-{n:012x}")).expect("user id")
}

fn rule(peer: &str) -> SgRule {
    SgRule {
        protocol: "tcp".into(),
        from_port: Some(443),
        to_port: Some(443),
        peer: peer.into(),
    }
}

/// The example policy's "research" domain, compliant with its baseline, with `PROFILES`
/// profiles. With `drifted`, every tenth profile breaks one profile rule (a changed role,
/// an unapproved security group, a failed status, no ledger record, or a user in grace).
/// The example baseline switches `profile.unmanaged` off, so the no-record case finds nothing.
fn snapshot(policy: &Policy, drifted: bool) -> (Baseline, Snapshot) {
    let domain = &policy.domains[0];
    let baseline = domain
        .baseline
        .clone()
        .expect("example domain has a baseline");
    let mapping = &policy.mappings[0];
    let role = mapping.template.execution_role.clone();
    let sgs: Vec<String> = mapping
        .template
        .security_groups
        .iter()
        .map(|s| s.to_string())
        .collect();
    let vpc = baseline.vpc_id.clone().expect("vpc");
    let d = DomainDescription {
        id: domain.id.clone(),
        name: domain.name.clone(),
        status: "InService".into(),
        auth_mode: baseline.auth_mode.clone().unwrap_or_else(|| "SSO".into()),
        sso_application_arn: None,
        app_network_access_type: baseline.network_access.clone(),
        vpc_id: Some(vpc.clone()),
        subnet_ids: baseline.subnets.clone(),
        security_group_ids: baseline
            .security_groups
            .iter()
            .map(|s| s.to_string())
            .collect(),
        default_user_security_groups: sgs.clone(),
        default_user_execution_role: baseline.execution_role.clone(),
        default_space_security_groups: vec![],
        kms_key_id: baseline.kms_key_id.clone(),
        docker_access: Some("DISABLED".into()),
        vpc_only_trusted_accounts: vec![],
    };
    let approved = warden::drift::approved_security_groups(policy, domain, &baseline);
    let mut security_groups = BTreeMap::new();
    for sg in approved.iter().map(|s| s.to_string()) {
        security_groups.insert(
            sg.clone(),
            Some(SecurityGroupInfo {
                id: sg,
                vpc_id: Some(vpc.clone()),
                ingress: vec![rule("10.0.0.0/16")],
                egress: vec![rule("10.0.4.0/24"), rule("pl-63a5400a")],
            }),
        );
    }
    let subnets = baseline
        .subnets
        .iter()
        .map(|s| {
            (
                s.clone(),
                Some(SubnetInfo {
                    id: s.clone(),
                    vpc_id: Some(vpc.clone()),
                    route_table: Some("rtb-0a1b2c3d".into()),
                    internet_routes: vec![],
                }),
            )
        })
        .collect();
    // The baseline's endpoints already hold the required three.
    let endpoints = baseline
        .endpoints
        .iter()
        .map(|svc| EndpointInfo {
            id: format!("vpce-{}", svc.replace('.', "-")),
            vpc_id: vpc.clone(),
            service_name: format!("com.amazonaws.us-east-1.{svc}"),
            endpoint_type: "Interface".into(),
            state: "available".into(),
            private_dns_enabled: true,
        })
        .collect();

    let mut profiles = BTreeMap::new();
    let mut managed = BTreeMap::new();
    for n in 0..PROFILES {
        let user = user_id(n);
        let name: ResourceName = naming::profile_name(&format!("user{n}@example.com"), &user);
        let kind = if drifted && n % 10 == 0 {
            (n / 10) % 5
        } else {
            usize::MAX
        };
        let mut detail = ProfileDetail {
            name: name.clone(),
            status: ProfileStatus::InService,
            execution_role: Some(role.clone()),
            security_groups: sgs.clone(),
        };
        let mut phase = "Active";
        match kind {
            0 => detail.execution_role = Some("arn:aws:iam::111122223333:role/hand-made".into()),
            1 => detail.security_groups.push("sg-0a1b2c3d4e5f69999".into()),
            2 => detail.status = ProfileStatus::UpdateFailed,
            4 => phase = "Grace",
            _ => {}
        }
        if kind != 3 {
            managed.insert(
                name.clone(),
                ManagedProfile {
                    phase: phase.into(),
                    template: Some(ExpectedTemplate {
                        mapping: 0,
                        execution_role: role.clone(),
                        security_groups: sgs.clone(),
                    }),
                    user,
                    attention: None,
                },
            );
        }
        profiles.insert(name, Some(detail));
    }
    let snap = Snapshot {
        domain: Some(d),
        profiles,
        security_groups,
        subnets,
        endpoints: Some(endpoints),
        region: "us-east-1".into(),
        managed,
        approved_security_groups: approved,
        full: true,
    };
    (baseline, snap)
}

fn bench_evaluate(c: &mut Criterion) {
    let policy =
        Policy::parse(EXAMPLE_POLICY, "examples/policy.toml", &BTreeMap::new()).expect("policy");
    let mut g = c.benchmark_group("drift/evaluate");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .throughput(Throughput::Elements(PROFILES as u64));
    for drifted in [false, true] {
        let (baseline, snap) = snapshot(&policy, drifted);
        // Sanity (not timed): a compliant snapshot has no findings; a drifted one has some.
        let eval = evaluate(&baseline, &snap);
        assert_eq!(
            eval.findings.is_empty(),
            !drifted,
            "{:?}",
            eval.findings.first()
        );
        let label = if drifted {
            "10pct_drifted"
        } else {
            "compliant"
        };
        g.bench_with_input(BenchmarkId::new(label, PROFILES), &snap, |b, snap| {
            b.iter_with_large_drop(|| evaluate(black_box(&baseline), black_box(snap)));
        });
    }
    g.finish();
}

criterion_group!(benches, bench_evaluate);
criterion_main!(benches);
