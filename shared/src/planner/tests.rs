use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::ids::GroupId;
use crate::model::OffboardStep;
use crate::policy::{AppDefaults, ProfileTemplate};
use crate::template::template_hash;

const GRACE: Duration = Duration::from_secs(3600);
const RETENTION: Duration = Duration::from_secs(3 * 3600);

fn uid(n: u8) -> UserId {
    UserId::parse(&format!(
        "9067c0ffee-1111aaaa-0000-4000-8000-0000000000{n:02x}"
    ))
    .expect("valid")
}

fn gid(n: u8) -> GroupId {
    GroupId::parse(&format!(
        "9067c0ffee-2222bbbb-0000-4000-8000-0000000000{n:02x}"
    ))
    .expect("valid")
}

fn domain() -> DomainId {
    DomainId::parse("d-research00001").expect("valid")
}

/// A mapping's settings; the role `idle` also shuts idle JupyterLab apps down (one of the
/// settings of issue 15), so that the property test mixes old and new settings.
fn template(role: &str) -> ProfileTemplate {
    let mut apps = AppDefaults::default();
    if role == "idle" {
        apps.jupyterlab.idle = Some(crate::policy::IdleShutdown {
            timeout_minutes: Some(180),
            min_timeout_minutes: Some(60),
            max_timeout_minutes: Some(480),
        });
    }
    ProfileTemplate {
        execution_role: format!("arn:aws:iam::111122223333:role/{role}"),
        security_groups: vec![],
        tags: BTreeMap::new(),
        apps,
        private_space: None,
    }
}

fn ent(n: u8, role: &str) -> Entitlement {
    let t = template(role);
    Entitlement {
        user: uid(n),
        user_name: format!("user{n}@example.com"),
        mapping: 0,
        group: gid(1),
        group_label: "group \"g1\"".into(),
        template_hash: template_hash(&t),
        template: t,
    }
}

fn record(n: u8, phase: Phase) -> UserRecord {
    let e = ent(n, "a");
    UserRecord {
        domain: domain(),
        user: uid(n),
        user_name: e.user_name.clone(),
        profile: naming::profile_name(&e.user_name, &uid(n)),
        phase,
        group: Some(gid(1)),
        template_hash: Some(e.template_hash),
        profile_status: Some(ProfileStatus::InService),
        attention: None,
        released_by: None,
        version: 3,
        updated_at: 0,
    }
}

fn summary(name: &ResourceName, status: ProfileStatus) -> ProfileSummary {
    ProfileSummary {
        name: name.clone(),
        status,
        modified_ms: None,
    }
}

struct World {
    desired: BTreeMap<UserId, Entitlement>,
    profiles: BTreeMap<ResourceName, ProfileSummary>,
    records: BTreeMap<UserId, UserRecord>,
    grace: Duration,
    /// `None`: `remove = "apps"`, data kept for ever.
    retention: Option<Duration>,
}

impl Default for World {
    fn default() -> Self {
        Self {
            desired: BTreeMap::new(),
            profiles: BTreeMap::new(),
            records: BTreeMap::new(),
            grace: GRACE,
            retention: Some(RETENTION),
        }
    }
}

impl World {
    fn plan(&self, now: Epoch) -> Vec<Action> {
        plan(&DomainState {
            domain: &domain(),
            desired: &self.desired,
            profiles: &self.profiles,
            records: &self.records,
            scope: &Scope::All,
            grace_period: self.grace,
            retention: self.retention,
            now,
        })
    }
}

#[test]
fn an_entitled_user_without_a_record_gets_a_profile() {
    let w = World {
        desired: BTreeMap::from([(uid(1), ent(1, "a"))]),
        profiles: BTreeMap::new(),
        records: BTreeMap::new(),
        ..World::default()
    };
    let actions = w.plan(0);
    assert_eq!(actions.len(), 1);
    let Action::Create { profile, .. } = &actions[0] else {
        panic!("{actions:?}")
    };
    assert!(profile.as_str().starts_with("user1-example-com-"));
}

#[test]
fn nothing_to_do_when_everything_matches() {
    let r = record(1, Phase::Active);
    let w = World {
        desired: BTreeMap::from([(uid(1), ent(1, "a"))]),
        profiles: BTreeMap::from([(
            r.profile.clone(),
            summary(&r.profile, ProfileStatus::InService),
        )]),
        records: BTreeMap::from([(uid(1), r)]),
        ..World::default()
    };
    assert_eq!(w.plan(0), vec![]);
}

#[test]
fn a_changed_mapping_updates_the_profile_once_it_is_in_service() {
    let r = record(1, Phase::Active);
    let mut w = World {
        desired: BTreeMap::from([(uid(1), ent(1, "b"))]),
        profiles: BTreeMap::from([(
            r.profile.clone(),
            summary(&r.profile, ProfileStatus::InService),
        )]),
        records: BTreeMap::from([(uid(1), r.clone())]),
        ..World::default()
    };
    assert!(matches!(w.plan(0).as_slice(), [Action::Update { .. }]));
    w.profiles.insert(
        r.profile.clone(),
        summary(&r.profile, ProfileStatus::Pending),
    );
    let actions = w.plan(0);
    assert!(
        matches!(actions.as_slice(), [Action::Record { .. }]),
        "no update while Pending: {actions:?}"
    );
}

#[test]
fn settings_sagemaker_rejected_are_not_sent_again_until_they_change() {
    let mut r = record(1, Phase::Active);
    r.attention = Some(crate::model::Attention::SettingsRejected {
        template_hash: ent(1, "b").template_hash,
        message: "ValidationException".into(),
    });
    let mut w = World {
        desired: BTreeMap::from([(uid(1), ent(1, "b"))]),
        profiles: BTreeMap::from([(
            r.profile.clone(),
            summary(&r.profile, ProfileStatus::InService),
        )]),
        records: BTreeMap::from([(uid(1), r.clone())]),
        ..World::default()
    };
    assert_eq!(w.plan(0), vec![], "the rejected settings are not retried");
    // The mapping changes again (here: back to what the profile has, then to something new).
    w.desired.insert(uid(1), ent(1, "c"));
    assert!(matches!(w.plan(0).as_slice(), [Action::Update { .. }]));
}

/// The settings added for issue 15 (idle shutdown, default lifecycle configuration and image,
/// custom images, Code Editor lifecycle configurations, hidden instance types) travel the path
/// of the older ones: each changes the mapping's fingerprint, and a profile whose record holds
/// the old fingerprint is updated. A template that uses none of them keeps the fingerprint it
/// had before they existed (no update after an upgrade), and the private space, created with
/// the profile only, changes nothing.
#[test]
fn each_new_mapping_setting_updates_the_profile_and_unused_ones_change_no_fingerprint() {
    use crate::policy::{AppTypeSettings, CustomImage, IdleShutdown, PrivateSpace};
    // The fingerprint of template("a") before the new settings existed (commit a1789af).
    assert_eq!(template_hash(&template("a")), "a4e787d8fcfad191");

    fn idle(t: i32, min: Option<i32>, max: Option<i32>) -> AppTypeSettings {
        AppTypeSettings {
            idle: Some(IdleShutdown {
                timeout_minutes: Some(t),
                min_timeout_minutes: min,
                max_timeout_minutes: max,
            }),
            ..AppTypeSettings::default()
        }
    }
    const ARN: &str = "arn:aws:sagemaker:us-east-1:111122223333:studio-lifecycle-config/x";
    type Change = fn(&mut ProfileTemplate);
    let changes: [(&str, Change); 7] = [
        ("jupyterlab idle timeout", |t| {
            t.apps.jupyterlab = idle(120, None, None);
        }),
        ("code editor idle range", |t| {
            t.apps.code_editor = idle(120, Some(60), Some(240));
        }),
        ("jupyterlab default lifecycle config", |t| {
            t.apps.jupyterlab.default_lifecycle_config_arn = Some(ARN.into());
        }),
        ("code editor lifecycle configs", |t| {
            t.apps.code_editor.lifecycle_config_arns = vec![ARN.into()];
        }),
        ("code editor image", |t| {
            t.apps.code_editor.image_arn =
                Some("arn:aws:sagemaker:us-east-1:111122223333:image/team-image".into());
        }),
        ("jupyterlab custom images", |t| {
            t.apps.jupyterlab.custom_images = vec![CustomImage {
                image_name: "team-image".into(),
                app_image_config_name: "team-config".into(),
                image_version_number: Some(2),
            }];
        }),
        ("hidden instance types", |t| {
            t.apps.hidden_instance_types = vec!["ml.p5.48xlarge".into()];
        }),
    ];
    let mut seen = BTreeSet::from([template_hash(&template("a"))]);
    for (what, change) in changes {
        let mut t = template("a");
        change(&mut t);
        let hash = template_hash(&t);
        assert!(
            seen.insert(hash.clone()),
            "{what}: the fingerprint did not change"
        );
        let r = record(1, Phase::Active);
        assert_eq!(
            r.template_hash.as_deref(),
            Some(template_hash(&template("a")).as_str())
        );
        let e = Entitlement {
            template_hash: hash,
            template: t,
            ..ent(1, "a")
        };
        let w = World {
            desired: BTreeMap::from([(uid(1), e)]),
            profiles: BTreeMap::from([(
                r.profile.clone(),
                summary(&r.profile, ProfileStatus::InService),
            )]),
            records: BTreeMap::from([(uid(1), r)]),
            ..World::default()
        };
        assert!(
            matches!(w.plan(0).as_slice(), [Action::Update { .. }]),
            "{what}: {:?}",
            w.plan(0)
        );
    }
    let mut with_space = template("a");
    with_space.private_space = Some(PrivateSpace {
        display_name: Some("Notebooks".into()),
        ebs_size_gb: Some(20),
    });
    assert_eq!(template_hash(&with_space), template_hash(&template("a")));
}

#[test]
fn leaving_starts_a_grace_period_then_suspends_then_deletes_after_the_retention() {
    let r = record(1, Phase::Active);
    let mut w = World {
        desired: BTreeMap::new(),
        profiles: BTreeMap::from([(
            r.profile.clone(),
            summary(&r.profile, ProfileStatus::InService),
        )]),
        records: BTreeMap::from([(uid(1), r.clone())]),
        ..World::default()
    };
    assert!(matches!(
        w.plan(100).as_slice(),
        [Action::StartGrace { .. }]
    ));
    w.records
        .insert(uid(1), record(1, Phase::Grace { since: 100 }));
    assert_eq!(w.plan(100 + 3599), vec![], "inside the grace period");
    // The grace period is over: access goes, the data stays.
    assert!(matches!(
        w.plan(100 + 3600).as_slice(),
        [Action::Suspend { .. }]
    ));
    w.records
        .insert(uid(1), record(1, Phase::Suspending { since: 3700 }));
    assert!(matches!(w.plan(3800).as_slice(), [Action::Suspend { .. }]));
    w.records
        .insert(uid(1), record(1, Phase::Suspended { at: 3700 }));
    assert_eq!(w.plan(3700 + 3 * 3600 - 1), vec![], "inside the retention");
    let actions = w.plan(3700 + 3 * 3600);
    let [Action::Offboard { reason, .. }] = actions.as_slice() else {
        panic!("the retention is over: {actions:?}")
    };
    assert!(
        reason.starts_with("retention of 3h since the suspension"),
        "{reason}"
    );
    // A deletion under way goes on.
    w.records.insert(
        uid(1),
        record(
            1,
            Phase::Offboarding {
                since: 20_000,
                step: OffboardStep::DeletingSpaces,
            },
        ),
    );
    assert!(matches!(
        w.plan(20_001).as_slice(),
        [Action::Offboard { .. }]
    ));
}

#[test]
fn a_zero_retention_deletes_right_after_the_suspension_and_a_zero_grace_suspends_at_once() {
    let r = record(1, Phase::Active);
    let mut w = World {
        profiles: BTreeMap::from([(
            r.profile.clone(),
            summary(&r.profile, ProfileStatus::InService),
        )]),
        records: BTreeMap::from([(uid(1), r)]),
        grace: Duration::ZERO,
        retention: Some(Duration::ZERO),
        ..World::default()
    };
    assert!(matches!(w.plan(100).as_slice(), [Action::Suspend { .. }]));
    w.records
        .insert(uid(1), record(1, Phase::Suspended { at: 100 }));
    assert!(matches!(w.plan(100).as_slice(), [Action::Offboard { .. }]));
}

/// `remove = "apps"`: suspended for ever (until the user rejoins), and a deletion under way
/// when the policy changed to it stops.
#[test]
fn a_policy_that_keeps_data_never_deletes_it() {
    let r = record(1, Phase::Suspended { at: 0 });
    let mut w = World {
        profiles: BTreeMap::from([(
            r.profile.clone(),
            summary(&r.profile, ProfileStatus::InService),
        )]),
        records: BTreeMap::from([(uid(1), r)]),
        retention: None,
        ..World::default()
    };
    assert_eq!(w.plan(i64::MAX / 2), vec![]);
    w.records.insert(
        uid(1),
        record(
            1,
            Phase::Offboarding {
                since: 0,
                step: OffboardStep::DeletingSpaces,
            },
        ),
    );
    assert!(matches!(w.plan(10).as_slice(), [Action::Suspend { .. }]));
    w.desired.insert(uid(1), ent(1, "a"));
    w.records
        .insert(uid(1), record(1, Phase::Suspended { at: 0 }));
    assert!(matches!(w.plan(10).as_slice(), [Action::Restore { .. }]));
}

#[test]
fn rejoining_during_grace_suspension_or_deletion_restores() {
    for phase in [
        Phase::Grace { since: 0 },
        Phase::Suspending { since: 0 },
        Phase::Suspended { at: 0 },
        Phase::Offboarding {
            since: 0,
            step: OffboardStep::DeletingApps,
        },
    ] {
        let r = record(1, phase);
        let w = World {
            desired: BTreeMap::from([(uid(1), ent(1, "a"))]),
            profiles: BTreeMap::from([(
                r.profile.clone(),
                summary(&r.profile, ProfileStatus::InService),
            )]),
            records: BTreeMap::from([(uid(1), r)]),
            ..World::default()
        };
        assert!(matches!(
            w.plan(10_000).as_slice(),
            [Action::Restore { .. }]
        ));
    }
}

#[test]
fn a_profile_without_a_record_is_reported_never_changed() {
    let stranger = ResourceName::parse("someone-by-hand").expect("valid");
    let w = World {
        desired: BTreeMap::new(),
        profiles: BTreeMap::from([(
            stranger.clone(),
            summary(&stranger, ProfileStatus::InService),
        )]),
        records: BTreeMap::new(),
        ..World::default()
    };
    assert_eq!(
        w.plan(0),
        vec![Action::ReportUnmanaged {
            profile: stranger,
            status: ProfileStatus::InService
        }]
    );
}

#[test]
fn a_missing_profile_is_recreated_and_a_lost_one_forgotten() {
    let r = record(1, Phase::Active);
    let w = World {
        desired: BTreeMap::from([(uid(1), ent(1, "a"))]),
        profiles: BTreeMap::new(),
        records: BTreeMap::from([(uid(1), r.clone())]),
        ..World::default()
    };
    assert!(matches!(w.plan(0).as_slice(), [Action::Create { .. }]));
    let w = World {
        desired: BTreeMap::new(),
        profiles: BTreeMap::new(),
        records: BTreeMap::from([(uid(1), r)]),
        ..World::default()
    };
    assert!(matches!(w.plan(0).as_slice(), [Action::Forget { .. }]));
}

/// A claim without a profile for a user no longer entitled may belong to an invocation that
/// is creating the profile right now: it is forgotten only once no invocation can still be
/// running (else the profile would appear after the Forget, with no record to manage it).
#[test]
fn a_fresh_claim_is_left_to_its_creator_and_an_abandoned_one_forgotten() {
    let mut r = record(1, Phase::Creating);
    r.updated_at = 1_000;
    let w = World {
        desired: BTreeMap::new(),
        profiles: BTreeMap::new(),
        records: BTreeMap::from([(uid(1), r)]),
        ..World::default()
    };
    assert_eq!(w.plan(1_000 + 60), vec![]);
    assert_eq!(w.plan(1_000 + CLAIM_LEASE_SECS - 1), vec![]);
    assert!(matches!(
        w.plan(1_000 + CLAIM_LEASE_SECS).as_slice(),
        [Action::Forget { .. }]
    ));
}

#[test]
fn event_scope_only_touches_its_users() {
    let r1 = record(1, Phase::Active);
    let w = World {
        desired: BTreeMap::from([(uid(2), ent(2, "a"))]),
        profiles: BTreeMap::new(),
        records: BTreeMap::from([(uid(1), r1)]),
        ..World::default()
    };
    let scope = Scope::Users(BTreeSet::from([uid(2)]));
    let actions = plan(&DomainState {
        domain: &domain(),
        desired: &w.desired,
        profiles: &w.profiles,
        records: &w.records,
        scope: &scope,
        grace_period: GRACE,
        retention: Some(RETENTION),
        now: 0,
    });
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].user(), Some(&uid(2)));
}

/// An idealised executor: what the engine does when every call succeeds at once.
fn apply(w: &mut World, actions: &[Action], now: Epoch) {
    for a in actions {
        match a {
            Action::Create {
                user,
                profile,
                entitlement,
                ..
            } => {
                w.profiles
                    .insert(profile.clone(), summary(profile, ProfileStatus::InService));
                let mut r = record(0, Phase::Active);
                r.user = user.clone();
                r.profile = profile.clone();
                r.user_name = entitlement.user_name.clone();
                r.template_hash = Some(entitlement.template_hash.clone());
                w.records.insert(user.clone(), r);
            }
            Action::Update {
                user, entitlement, ..
            } => {
                let r = w.records.get_mut(user).expect("update has a record");
                r.template_hash = Some(entitlement.template_hash.clone());
                r.group = Some(entitlement.group.clone());
            }
            Action::Record {
                user,
                status,
                user_name,
                ..
            } => {
                let r = w.records.get_mut(user).expect("record has a record");
                if let Some(s) = status {
                    r.profile_status = Some(s.clone());
                }
                if let Some(n) = user_name {
                    r.user_name = n.clone();
                }
            }
            Action::StartGrace { user, .. } => {
                w.records.get_mut(user).expect("grace has a record").phase =
                    Phase::Grace { since: now };
            }
            Action::Restore { user, .. } => {
                w.records.get_mut(user).expect("restore has a record").phase = Phase::Active;
            }
            Action::Suspend { user, .. } => {
                // Access removed; the profile and its data stay.
                w.records.get_mut(user).expect("suspend has a record").phase =
                    Phase::Suspended { at: now };
            }
            Action::Offboard { user, profile, .. } => {
                w.profiles.remove(profile);
                w.records
                    .get_mut(user)
                    .expect("offboard has a record")
                    .phase = Phase::Offboarded { at: now };
            }
            Action::Forget { user, .. } => {
                w.records.get_mut(user).expect("forget has a record").phase =
                    Phase::Offboarded { at: now };
            }
            Action::ReportUnmanaged { .. } => {}
        }
    }
}

fn arb_phase() -> impl Strategy<Value = Option<Phase>> {
    prop_oneof![
        Just(None),
        Just(Some(Phase::Creating)),
        Just(Some(Phase::Active)),
        (0i64..30_000).prop_map(|s| Some(Phase::Grace { since: s })),
        (0i64..30_000).prop_map(|s| Some(Phase::Suspending { since: s })),
        (0i64..30_000).prop_map(|s| Some(Phase::Suspended { at: s })),
        Just(Some(Phase::Offboarding {
            since: 0,
            step: OffboardStep::DeletingApps
        })),
        Just(Some(Phase::Offboarding {
            since: 0,
            step: OffboardStep::Blocked
        })),
        (0i64..30_000).prop_map(|s| Some(Phase::Offboarded { at: s })),
    ]
}

/// `[offboarding] retention` as the planner sees it: `None` is `remove = "apps"`.
fn arb_retention() -> impl Strategy<Value = Option<Duration>> {
    prop_oneof![
        Just(None),
        Just(Some(Duration::ZERO)),
        Just(Some(GRACE)),
        Just(Some(RETENTION)),
    ]
}

fn secs(d: Duration) -> Epoch {
    i64::try_from(d.as_secs()).expect("small")
}

proptest! {
    /// From any mix of entitlements, records (suspensions and deletions under way included)
    /// and profiles, under any grace period and retention, repeated planning and applying
    /// reaches a fixed point (one that time passing does not move) where exactly the entitled
    /// users have profiles, and along the way:
    /// - never suspends an entitled user nor deletes an entitled user's data, and never
    ///   touches an unmanaged profile;
    /// - suspends only once the grace period is over;
    /// - deletes data only once the retention since the suspension is over, which for a user
    ///   who leaves during the run is grace + retention after leaving, and never when the
    ///   policy keeps data.
    #[test]
    fn planning_converges_safely(
        users in proptest::collection::vec((any::<bool>(), arb_phase(), any::<bool>(), prop_oneof![Just("a"), Just("b"), Just("idle")]), 1..12),
        strangers in 0usize..3,
        zero_grace in any::<bool>(),
        retention in arb_retention(),
    ) {
        let grace = if zero_grace { Duration::ZERO } else { GRACE };
        let mut w = World { grace, retention, ..World::default() };
        for (i, (entitled, phase, has_profile, role)) in users.iter().enumerate() {
            let n = u8::try_from(i + 1).expect("small");
            if *entitled {
                w.desired.insert(uid(n), ent(n, role));
            }
            if let Some(phase) = phase {
                let r = record(n, phase.clone());
                if *has_profile {
                    w.profiles.insert(r.profile.clone(), summary(&r.profile, ProfileStatus::InService));
                }
                w.records.insert(uid(n), r);
            }
        }
        let mut unmanaged: Vec<ResourceName> = (0..strangers)
            .map(|i| ResourceName::parse(&format!("hand-made-{i}")).expect("valid"))
            .collect();
        // A profile under the name of a user offboarded earlier was made by hand since.
        for (user, r) in &w.records {
            if matches!(r.phase, Phase::Offboarded { .. }) && !w.desired.contains_key(user) && w.profiles.contains_key(&r.profile) {
                unmanaged.push(r.profile.clone());
            }
        }
        for name in &unmanaged {
            w.profiles.insert(name.clone(), summary(name, ProfileStatus::InService));
        }

        // When each user was seen to lose their entitlement in this run (the StartGrace).
        let mut left_at: BTreeMap<UserId, Epoch> = BTreeMap::new();
        let horizon = secs(grace) + retention.map_or(0, secs) + 1;
        let mut now = 40_000;
        let mut settled = false;
        for _ in 0..16 {
            let actions = w.plan(now);
            for a in &actions {
                if let Action::Offboard { user, .. } | Action::Suspend { user, .. } | Action::StartGrace { user, .. } | Action::Forget { user, .. } = a {
                    prop_assert!(!w.desired.contains_key(user), "offboarding an entitled user: {a:?}");
                }
                if let Some(profile) = match a {
                    Action::Update { profile, .. } | Action::Suspend { profile, .. } | Action::Offboard { profile, .. } => Some(profile),
                    _ => None,
                } {
                    prop_assert!(!unmanaged.contains(profile), "touched an unmanaged profile: {a:?}");
                }
                let Some(r) = a.user().and_then(|u| w.records.get(u)) else { continue };
                match a {
                    // The suspension: only after the grace period (or to stop a deletion the
                    // policy no longer wants).
                    Action::Suspend { .. } => match r.phase {
                        Phase::Grace { since } => prop_assert!(now >= since + secs(grace), "suspended inside the grace period: {a:?}"),
                        Phase::Creating | Phase::Active => prop_assert!(grace.is_zero(), "suspended without a grace period: {a:?}"),
                        Phase::Suspending { .. } => {}
                        Phase::Offboarding { .. } => prop_assert!(retention.is_none(), "{a:?}"),
                        ref other => prop_assert!(false, "suspending from {other:?}: {a:?}"),
                    },
                    // The deletion: only after the retention, never when data is kept, and
                    // for a user who left in this run, grace + retention after leaving.
                    Action::Offboard { profile, .. } => {
                        let deletes = w.profiles.contains_key(profile);
                        match (r.phase.clone(), retention) {
                            (_, None) => prop_assert!(!deletes, "the policy keeps data: {a:?}"),
                            (Phase::Suspended { at }, Some(keep)) => {
                                prop_assert!(now >= at + secs(keep), "deleted inside the retention: {a:?}");
                                if let Some(left) = left_at.get(a.user().expect("a user")) {
                                    prop_assert!(now >= left + secs(grace) + secs(keep), "deleted before grace + retention: {a:?}");
                                }
                            }
                            (Phase::Offboarding { .. }, Some(_)) => {}
                            (other, _) => prop_assert!(!deletes, "deleting from {other:?}: {a:?}"),
                        }
                    }
                    _ => {}
                }
            }
            let idle = |plan: &[Action]| plan.iter().all(|a| matches!(a, Action::ReportUnmanaged { .. }));
            if idle(&actions) && idle(&w.plan(now + horizon)) {
                settled = true;
                break;
            }
            for a in &actions {
                if let Action::StartGrace { user, .. } = a {
                    left_at.insert(user.clone(), now);
                }
            }
            apply(&mut w, &actions, now);
            now += secs(GRACE);
        }
        prop_assert!(settled, "no fixed point after 16 rounds");
        for (user, e) in &w.desired {
            let r = w.records.get(user).expect("entitled users have a record");
            prop_assert_eq!(&r.phase, &Phase::Active);
            prop_assert!(w.profiles.contains_key(&r.profile));
            prop_assert_eq!(r.template_hash.as_deref(), Some(e.template_hash.as_str()));
        }
        for (user, r) in &w.records {
            if !w.desired.contains_key(user) {
                match r.phase {
                    // Suspended for ever: only when the policy keeps data.
                    Phase::Suspended { .. } => {
                        prop_assert!(retention.is_none(), "suspended past the retention: {:?}", r);
                        prop_assert!(w.profiles.contains_key(&r.profile), "a suspended user's data is kept");
                    }
                    Phase::Offboarded { .. } => prop_assert!(
                        !w.profiles.contains_key(&r.profile) || unmanaged.contains(&r.profile)
                    ),
                    ref other => prop_assert!(false, "not entitled but {:?}", other),
                }
            }
        }
        for name in &unmanaged {
            prop_assert!(w.profiles.contains_key(name), "unmanaged profile must survive");
        }
    }
}
