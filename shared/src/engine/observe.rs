//! Observe: resolve the policy's groups, then read what the planner needs about the users a
//! run looks at: their groups and status in the Identity Store, their profiles in SageMaker
//! and their records in the ledger.

use std::collections::{BTreeMap, BTreeSet};

use futures::stream::{self, StreamExt, TryStreamExt};

use super::run::finish;
use super::{Engine, Report, Run, Store};
use crate::desired::entitlements;
use crate::error::{Result, WardenError};
use crate::ids::{DomainId, GroupId, ResourceName, UserId};
use crate::model::{DomainDescription, Entitlement, Mode, ProfileSummary, Scope, User, UserRecord};
use crate::policy::Domain;
use crate::ports::{Directory, Studio};

/// What one domain looks like to the planner.
pub(super) struct DomainObservation {
    pub desired: BTreeMap<UserId, Entitlement>,
    pub profiles: BTreeMap<ResourceName, ProfileSummary>,
    pub records: BTreeMap<UserId, UserRecord>,
    pub scope: Scope,
    /// `DescribeDomain`, when it was read before planning (a sweep of a domain with a
    /// baseline: the drift sweep needs it anyway).
    pub description: Option<DomainDescription>,
}

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// What one user is entitled to, per domain, as the Identity Store says now.
    pub(super) async fn entitlements_of(
        &self,
        run: &Run,
        user: &UserId,
    ) -> Result<BTreeMap<DomainId, Entitlement>> {
        let found = self.directory.user(user).await?;
        let groups: BTreeSet<GroupId> = match &found {
            Some(u) if u.enabled => self.directory.groups_of(user).await?.into_iter().collect(),
            _ => BTreeSet::new(),
        };
        let u = found.unwrap_or_else(|| User {
            id: user.clone(),
            user_name: String::new(),
            enabled: false,
        });
        Ok(entitlements(&self.policy, &run.resolved, &u, &groups))
    }

    /// Reconciles some users, each observed on its own: the event path.
    pub(crate) async fn reconcile_users(
        &self,
        run: &Run,
        users: &BTreeSet<UserId>,
    ) -> Result<Report> {
        let mut report = Report::new(&run.trigger, run.mode);
        let done = self.reconcile_users_into(run, users, &mut report).await;
        finish(run, report, done)
    }

    async fn reconcile_users_into(
        &self,
        run: &Run,
        users: &BTreeSet<UserId>,
        report: &mut Report,
    ) -> Result<()> {
        let mut desired: BTreeMap<DomainId, BTreeMap<UserId, Entitlement>> = BTreeMap::new();
        for user in users {
            let entitled = run
                .bounded(
                    "reading the Identity Store",
                    self.entitlements_of(run, user),
                )
                .await?;
            for (domain, e) in entitled {
                desired.entry(domain).or_default().insert(user.clone(), e);
            }
        }
        let mut observed_domains = Vec::new();
        for domain in &self.policy.domains {
            let desired = desired.remove(&domain.id).unwrap_or_default();
            let read = async {
                let mut records = BTreeMap::new();
                let mut profiles = BTreeMap::new();
                for user in users {
                    let record = run
                        .bounded("reading the ledger", self.ledger.record(&domain.id, user))
                        .await?;
                    let name = match (&record, desired.get(user)) {
                        (Some(r), _) => Some(r.profile.clone()),
                        (None, Some(e)) => Some(crate::naming::profile_name(&e.user_name, user)),
                        (None, None) => None,
                    };
                    if let Some(name) = name
                        && let Some(p) = run
                            .bounded(
                                "describing the profile",
                                self.studio.describe_profile(&domain.id, &name),
                            )
                            .await?
                    {
                        profiles.insert(name, p);
                    }
                    if let Some(r) = record {
                        records.insert(user.clone(), r);
                    }
                }
                Ok::<_, WardenError>((records, profiles))
            };
            // As in the sweep: a domain that cannot be read fails alone.
            let (records, profiles) = match read.await {
                Ok(read) => read,
                Err(e @ WardenError::DeadlineExceeded(_)) => return Err(e),
                Err(e) => {
                    unreadable(report, domain, &e);
                    continue;
                }
            };
            let observed = DomainObservation {
                desired,
                profiles,
                records,
                scope: Scope::Users(users.clone()),
                description: None,
            };
            observed_domains.push((domain, observed));
        }
        let plans = self.plan_all(run, report, &observed_domains, false).await?;
        for ((domain, observed), plan) in observed_domains.iter().zip(plans) {
            match self
                .apply_domain(run, report, &domain.id, observed, plan.actions)
                .await
            {
                Ok(()) => {}
                Err(e @ WardenError::DeadlineExceeded(_)) => return Err(e),
                Err(e) => unreadable(report, domain, &e),
            }
        }
        Ok(())
    }

    /// Reconciles from complete listings: the sweep, and events that name groups.
    /// `only` restricts the users acted on to the members of these groups (plus these users and
    /// whoever the ledger says got a profile through one of the groups).
    pub(super) async fn reconcile_all(
        &self,
        run: &Run,
        only: Option<(BTreeSet<GroupId>, BTreeSet<UserId>)>,
    ) -> Result<Report> {
        let mut report = Report::new(&run.trigger, run.mode);
        let done = self.reconcile_all_into(run, only, &mut report).await;
        finish(run, report, done)
    }

    async fn reconcile_all_into(
        &self,
        run: &Run,
        only: Option<(BTreeSet<GroupId>, BTreeSet<UserId>)>,
        report: &mut Report,
    ) -> Result<()> {
        let seen = self.observe_all(run, only, report).await?;
        let full = seen.full;
        let plans = self.plan_all(run, report, &seen.domains, full).await?;
        for (((domain, observed), listed), plan) in
            seen.domains.into_iter().zip(seen.listings).zip(plans)
        {
            match self
                .apply_domain(run, report, &domain.id, &observed, plan.actions)
                .await
            {
                Ok(()) => {}
                Err(e @ WardenError::DeadlineExceeded(_)) => return Err(e),
                Err(e) => {
                    unreadable(report, domain, &e);
                    continue;
                }
            }
            if seen.scope_users.is_none() && run.mode == Mode::Apply {
                self.raise_safety_into(run, domain, report).await?;
            }
            if run.hand_on {
                report.observed.insert(
                    domain.id.clone(),
                    run.view(&domain.id, listed, &observed.records, observed.description),
                );
            }
        }
        Ok(())
    }

    /// Everything a reconcile from complete listings reads before it plans: the directory
    /// once (every mapped group's members, the users), the ledger and the profiles of each
    /// domain. A domain the deadline leaves unobserved is not in the answer (the report is
    /// then incomplete).
    ///
    /// The directory and the domains' profiles are read at the same time: neither needs the
    /// other before the plan, and they are throttled apart (Identity Center in its account and
    /// home region, SageMaker per account and region), so a sweep waits for the longer of the
    /// two, not their sum. The domains are read up to [`DOMAINS_AT_ONCE`] at once: each place's
    /// limiter keeps its account within its rate, so domains in different places go as fast
    /// as each allows, and domains in one place share its pace. The ledger's records are read
    /// last, just before the plan: they are what other invocations write, so the fresher the
    /// better (a record changed since is caught by its version, but costs a second pass).
    pub(super) async fn observe_all<'p>(
        &'p self,
        run: &Run,
        only: Option<(BTreeSet<GroupId>, BTreeSet<UserId>)>,
        report: &mut Report,
    ) -> Result<Observed<'p>> {
        let resolved = &run.resolved;

        // Identity side: one pass over the users, one per mapped group.
        let mut wanted_groups: Vec<GroupId> = resolved.groups().cloned().collect();
        if let Some((named, _)) = &only {
            wanted_groups.extend(named.iter().filter(|g| !resolved.is_mapped(g)).cloned());
        }
        let directory = async {
            let member_lists: Vec<(GroupId, Option<Vec<_>>)> = run
                .bounded(
                    "listing the groups' members",
                    stream::iter(wanted_groups)
                        .map(|g| async move { self.directory.members_of(&g).await.map(|m| (g, m)) })
                        .buffer_unordered(self.options.concurrency)
                        .try_collect(),
                )
                .await?;
            // The sweep lists every user (one paginated pass, no per-user calls); a group
            // event describes only the users it concerns (below), so that one event never
            // pays for the whole store.
            let listed = match &only {
                None => Some(
                    run.bounded("listing the users", self.directory.users())
                        .await?,
                ),
                Some(_) => None,
            };
            Ok::<_, WardenError>((member_lists, listed))
        };
        // Each domain's profiles (and description), in the policy's order; a domain not
        // started for want of time ends the run's observation.
        // (The futures are made first, not in the stream's `map`: a closure there over
        // borrowed domains makes the future `Send` for one lifetime only.)
        let reads: Vec<_> = self
            .policy
            .domains
            .iter()
            .map(|domain| async move {
                if run.past_deadline() {
                    return None;
                }
                Some(self.read_domain(run, domain).await)
            })
            .collect();
        let at_once = self.policy.domains.len().clamp(1, DOMAINS_AT_ONCE);
        let domains = stream::iter(reads).buffered(at_once).collect::<Vec<_>>();
        let (directory, reads) = futures::join!(directory, domains);
        let (member_lists, listed_users) = directory?;

        let mut groups_of: BTreeMap<UserId, BTreeSet<GroupId>> = BTreeMap::new();
        let mut members_of_named: BTreeSet<UserId> = BTreeSet::new();
        for (group, members) in member_lists {
            // Deleted since the run resolved the mappings: its members cannot be known, so the
            // run stops rather than take them for leavers; the next run finds the group
            // missing and holds them.
            let Some(members) = members else {
                if resolved.is_mapped(&group) {
                    return Err(WardenError::PartialFailure {
                        what: "reading mapped groups",
                        failures: vec![format!("group {group} was deleted during the run")],
                    });
                }
                continue;
            };
            let named = only.as_ref().is_some_and(|(gs, _)| gs.contains(&group));
            for (_, user) in members {
                if named {
                    members_of_named.insert(user.clone());
                }
                groups_of.entry(user).or_default().insert(group.clone());
            }
        }
        let mut started = Vec::new();
        for read in reads {
            let Some(read) = read else {
                report.complete = false;
                break;
            };
            started.push(read);
        }
        // The ledger's records of every domain started (a group-scoped run needs them all to
        // find who got a profile through one of the named groups: SCIM hides the members an
        // event removed); a ledger that cannot be read ends the run.
        let records: Vec<_> = self
            .policy
            .domains
            .iter()
            .take(started.len())
            .map(|domain| async move {
                let records = run
                    .bounded("reading the ledger", self.ledger.records(&domain.id))
                    .await?;
                Ok::<BTreeMap<UserId, UserRecord>, WardenError>(
                    records.into_iter().map(|r| (r.user.clone(), r)).collect(),
                )
            })
            .collect();
        let records: Vec<BTreeMap<UserId, UserRecord>> = stream::iter(records)
            .buffered(at_once)
            .try_collect()
            .await?;
        let started: Vec<_> = records.into_iter().zip(started).collect();
        let scope_users: Option<BTreeSet<UserId>> = only.as_ref().map(|(groups, extra)| {
            let mut users = members_of_named.clone();
            users.extend(extra.iter().cloned());
            users.extend(
                started
                    .iter()
                    .flat_map(|(records, _)| records.values())
                    .filter(|r| r.group.as_ref().is_some_and(|g| groups.contains(g)))
                    .map(|r| r.user.clone()),
            );
            users
        });
        let mut users: BTreeMap<UserId, User> = listed_users
            .unwrap_or_default()
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        let to_describe: Vec<UserId> = match &scope_users {
            None => groups_of
                .keys()
                .filter(|u| !users.contains_key(*u))
                .cloned()
                .collect(),
            Some(scope) => scope.iter().cloned().collect(),
        };
        let described: Vec<Option<User>> = run
            .bounded(
                "describing the users",
                stream::iter(to_describe)
                    .map(|u| async move { self.directory.user(&u).await })
                    .buffer_unordered(self.options.concurrency)
                    .try_collect(),
            )
            .await?;
        users.extend(described.into_iter().flatten().map(|u| (u.id.clone(), u)));
        let mut desired: BTreeMap<DomainId, BTreeMap<UserId, Entitlement>> = BTreeMap::new();
        for (user_id, groups) in &groups_of {
            let Some(user) = users.get(user_id) else {
                continue;
            };
            for (domain, e) in entitlements(&self.policy, resolved, user, groups) {
                desired
                    .entry(domain)
                    .or_default()
                    .insert(user_id.clone(), e);
            }
        }

        let mut observed_domains = Vec::new();
        for (domain, (records, read)) in self.policy.domains.iter().zip(started) {
            // A domain that cannot be read (its account's role does not trust this function,
            // SageMaker refuses, the region is down) fails loudly and alone: nothing is planned
            // for it, and the other domains go on. The deadline still ends the whole run.
            let (listed, description) = match read {
                Ok(read) => read,
                Err(e @ WardenError::DeadlineExceeded(_)) => return Err(e),
                Err(e) => {
                    unreadable(report, domain, &e);
                    continue;
                }
            };
            let profiles: BTreeMap<ResourceName, ProfileSummary> =
                listed.iter().map(|p| (p.name.clone(), p.clone())).collect();
            let desired = desired.remove(&domain.id).unwrap_or_default();
            let scope = match &scope_users {
                None => Scope::All,
                Some(users) => Scope::Users(users.clone()),
            };
            let observed = DomainObservation {
                desired,
                profiles,
                records,
                scope,
                description,
            };
            observed_domains.push((domain, (observed, listed)));
        }
        let full = scope_users.is_none() && report.complete;
        let (domains, listings): (Vec<_>, Vec<_>) = observed_domains
            .into_iter()
            .map(|(d, (o, l))| ((d, o), l))
            .unzip();
        Ok(Observed {
            domains,
            listings,
            scope_users,
            full,
        })
    }

    /// One domain's profiles, and its description when the run hands it on to a drift sweep.
    async fn read_domain(
        &self,
        run: &Run,
        domain: &Domain,
    ) -> Result<(Vec<ProfileSummary>, Option<DomainDescription>)> {
        let listed = run
            .bounded(
                "listing the profiles",
                self.studio.list_profiles(&domain.id),
            )
            .await?;
        let description = if run.hand_on && domain.baseline.is_some() {
            Some(
                run.bounded(
                    "describing the domain",
                    self.studio.describe_domain(&domain.id),
                )
                .await?,
            )
        } else {
            None
        };
        Ok((listed, description))
    }
}

/// Domains read at once by a sweep (see [`Engine::observe_all`]).
pub const DOMAINS_AT_ONCE: usize = 32;

/// What [`Engine::observe_all`] read: each observed domain with its observation and its
/// profile listing, the users a group-scoped run acts on (`None`: all), and whether the run
/// saw every user of every domain.
pub(super) struct Observed<'p> {
    pub domains: Vec<(&'p Domain, DomainObservation)>,
    pub listings: Vec<Vec<ProfileSummary>>,
    pub scope_users: Option<BTreeSet<UserId>>,
    pub full: bool,
}

/// A domain that cannot be read or worked on (its account's role does not trust this function,
/// SageMaker refuses, its region is down) fails loudly and alone: what is left of its plan waits
/// for the next run, and the other domains go on.
fn unreadable(report: &mut Report, domain: &crate::policy::Domain, e: &WardenError) {
    tracing::error!(domain = %domain.id, name = %domain.name, error = %e, retryable = e.is_retryable(), "domain unreadable: skipped by this run, the others go on");
    report.retryable_failure |= e.is_retryable();
    report
        .failures
        .push(format!("domain {} ({}): {e}", domain.name, domain.id));
}
