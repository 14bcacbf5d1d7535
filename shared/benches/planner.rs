//! Criterion benchmarks of the pure core at scale: the planner over one domain and the
//! desired-state computation. Run with `cargo bench -p studio-warden --bench planner`
//! (or `make bench`). Inputs are plain data built in memory; nothing here does I/O.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use warden::desired::{ResolvedMappings, entitlements};
use warden::ids::{DomainId, GroupId, ResourceName, UserId};
use warden::model::{
    Entitlement, Epoch, Phase, ProfileStatus, ProfileSummary, Scope, User, UserRecord,
};
use warden::naming;
use warden::planner::{DomainState, plan};
use warden::policy::{GroupRef, Policy};

const EXAMPLE_POLICY: &str = include_str!("../../examples/policy.toml");
const SIZES: [usize; 3] = [1_000, 10_000, 50_000];
const GRACE: Duration = Duration::from_secs(24 * 3600);
const NOW: Epoch = 1_790_000_000;

fn user_id(n: usize) -> UserId {
    UserId::parse(&format!("9067c0ffee-{n:08x}-0000-4000-8000-{n:012x}")).expect("user id")
}

fn group_id(n: usize) -> GroupId {
    GroupId::parse(&format!("9067c0ffee-{n:08x}-1111-4000-8000-{n:012x}")).expect("group id")
}

fn example_policy() -> Policy {
    Policy::parse(EXAMPLE_POLICY, "examples/policy.toml", &BTreeMap::new()).expect("policy")
}

/// One domain's worth of planner input.
struct World {
    domain: DomainId,
    desired: BTreeMap<UserId, Entitlement>,
    profiles: BTreeMap<ResourceName, ProfileSummary>,
    records: BTreeMap<UserId, UserRecord>,
}

impl World {
    fn state(&self) -> DomainState<'_> {
        DomainState {
            domain: &self.domain,
            desired: &self.desired,
            profiles: &self.profiles,
            records: &self.records,
            scope: &Scope::All,
            grace_period: GRACE,
            retention: Some(GRACE),
            now: NOW,
        }
    }
}

#[derive(Clone, Copy)]
enum Mix {
    /// Every user entitled, recorded Active with the current template, profile InService.
    InSync,
    /// Every user entitled, no record and no profile yet.
    AllCreate,
    /// As `InSync`, but every tenth user lost the entitlement and their grace period is over.
    OffboardTenth,
}

impl Mix {
    fn name(self) -> &'static str {
        match self {
            Mix::InSync => "in_sync",
            Mix::AllCreate => "all_create",
            Mix::OffboardTenth => "offboard_10pct",
        }
    }
}

fn world(policy: &Policy, users: usize, mix: Mix) -> World {
    let mapping = &policy.mappings[0];
    let domain = policy.domains[0].id.clone();
    let group = group_id(0);
    let hash = mapping.template_hash.clone();
    let mut w = World {
        domain: domain.clone(),
        desired: BTreeMap::new(),
        profiles: BTreeMap::new(),
        records: BTreeMap::new(),
    };
    for n in 0..users {
        let user = user_id(n);
        let user_name = format!("user{n}@example.com");
        let profile = naming::profile_name(&user_name, &user);
        let leaving = matches!(mix, Mix::OffboardTenth) && n % 10 == 0;
        if !leaving {
            w.desired.insert(
                user.clone(),
                Entitlement {
                    user: user.clone(),
                    user_name: user_name.clone(),
                    mapping: 0,
                    group: group.clone(),
                    group_label: mapping.group.to_string(),
                    template: mapping.template.clone(),
                    template_hash: hash.clone(),
                },
            );
        }
        if matches!(mix, Mix::AllCreate) {
            continue;
        }
        w.profiles.insert(
            profile.clone(),
            ProfileSummary {
                name: profile.clone(),
                status: ProfileStatus::InService,
                modified_ms: Some((NOW - 86_400 * 30) * 1000),
            },
        );
        w.records.insert(
            user.clone(),
            UserRecord {
                domain: domain.clone(),
                user,
                user_name,
                profile,
                phase: if leaving {
                    Phase::Grace {
                        since: NOW - 2 * 86_400,
                    }
                } else {
                    Phase::Active
                },
                group: Some(group.clone()),
                template_hash: Some(hash.clone()),
                profile_status: Some(ProfileStatus::InService),
                attention: None,
                released_by: None,
                version: 3,
                updated_at: NOW - 86_400,
            },
        );
    }
    w
}

fn bench_plan(c: &mut Criterion) {
    let policy = example_policy();
    let mut g = c.benchmark_group("planner/plan");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    for mix in [Mix::InSync, Mix::AllCreate, Mix::OffboardTenth] {
        for &users in &SIZES {
            let w = world(&policy, users, mix);
            // Sanity (not timed): the inputs produce the plan the mix describes.
            let actions = plan(&w.state());
            let expected = match mix {
                Mix::InSync => 0,
                Mix::AllCreate => users,
                Mix::OffboardTenth => users.div_ceil(10),
            };
            assert_eq!(actions.len(), expected, "{} {users}", mix.name());
            g.throughput(Throughput::Elements(users as u64));
            g.bench_with_input(BenchmarkId::new(mix.name(), users), &w, |b, w| {
                // The plan is dropped outside the timed routine.
                b.iter_with_large_drop(|| plan(black_box(&w.state())));
            });
        }
    }
    g.finish();
}

/// A policy with `groups` mappings (by group id) spread over three domains.
fn wide_policy(groups: usize) -> Policy {
    let mut toml = String::from("[identity_store]\nid = \"d-9067c0ffee\"\n");
    let domains = ["research", "analytics", "platform"];
    for (i, d) in domains.iter().enumerate() {
        toml.push_str(&format!(
            "[[domains]]\nname = \"{d}\"\nid = \"d-{d:0<8}{i:05}\"\n"
        ));
    }
    for i in 0..groups {
        toml.push_str(&format!(
            "[[mappings]]\ngroup_id = \"{}\"\ndomain = \"{}\"\npriority = {i}\n\
             execution_role = \"arn:aws:iam::111122223333:role/studio-{i}\"\n\
             security_groups = [\"sg-0a1b2c3d4e5f6{i:04}\"]\n\
             tags = {{ team = \"team-{i}\", cost-center = \"cc-{i}\" }}\n",
            group_id(i),
            domains[i % domains.len()],
        ));
    }
    Policy::parse(&toml, "wide-policy.toml", &BTreeMap::new()).expect("wide policy")
}

fn bench_entitlements(c: &mut Criterion) {
    const USERS: usize = 50_000;
    const GROUPS: usize = 50;
    let policy = wide_policy(GROUPS);
    let resolved = ResolvedMappings::new(&policy, |g| match g {
        GroupRef::Id(id) => Some(id.clone()),
        GroupRef::DisplayName(_) => None,
    });
    assert!(resolved.unresolved.is_empty());
    let users: Vec<User> = (0..USERS)
        .map(|n| User {
            id: user_id(n),
            user_name: format!("user{n}@example.com"),
            enabled: n % 100 != 0,
        })
        .collect();

    let mut g = c.benchmark_group("desired/entitlements");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(USERS as u64));
    // Each user in `per_user` of the 50 mapped groups (plus one unmapped group): the typical
    // case is a handful; 50 is the worst case the policy allows to matter.
    for per_user in [3usize, 50] {
        let memberships: Vec<BTreeSet<GroupId>> = (0..USERS)
            .map(|n| {
                let mut s: BTreeSet<GroupId> = (0..per_user)
                    .map(|k| group_id((n + k * 7) % GROUPS))
                    .collect();
                s.insert(group_id(GROUPS + 1));
                s
            })
            .collect();
        g.bench_function(
            BenchmarkId::new(format!("50k_users_50_groups/{per_user}_per_user"), USERS),
            |b| {
                b.iter(|| {
                    users
                        .iter()
                        .zip(&memberships)
                        .map(|(u, gs)| entitlements(&policy, &resolved, u, gs).len())
                        .sum::<usize>()
                });
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench_plan, bench_entitlements);
criterion_main!(benches);
