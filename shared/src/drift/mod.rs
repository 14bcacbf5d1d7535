//! Drift detection: each domain with a `[domains.baseline]` is held to its secure network
//! baseline. observe (SageMaker, EC2, the ledger) -> evaluate (pure [`rules`]) -> reconcile
//! findings (pure [`findings`]) -> record and queue alerts (one ledger transaction per finding)
//! -> publish the outbox (SNS).
//!
//! A sweep checks everything and resolves whatever it no longer finds; an event (UpdateDomain,
//! Create/UpdateUserProfile, a security group rule change) checks just the resources it names.
//! Alerts are sent on a new finding, on its resolution and, while it stays open, every
//! `reminder`; a publish that fails stays in the ledger's outbox and is retried by the next run.

pub mod findings;
pub mod model;
pub mod observed;
pub mod ports;
pub mod rules;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use crate::catalogue::Severity;
use crate::error::{Result, WardenError};
use crate::events::{Change, Subject};
use crate::ids::{DomainId, ResourceName, SecurityGroupId};
use crate::model::{DomainView, Epoch, Mode, Phase, ProfileSummary, UserRecord};
use crate::policy::{Baseline, Domain, Policy};
use crate::ports::{HistoryEntry, Ledger, ProfileSpec, Studio, UpdateOutcome};

use findings::{AlertKind, alert_message, transitions};
use model::{ExpectedTemplate, Finding, FindingState, FindingStatus, ManagedProfile, Snapshot};
use observed::Observation;
use ports::{Alerts, DomainInspector, FindingStore, Network};

/// The drift checker over its ports. `alerts` is `None` when no topic is configured: findings
/// are then recorded and logged, and nothing is published.
pub struct Guard<I, N, A, F> {
    pub policy: Arc<Policy>,
    /// SageMaker: [`DomainInspector`] for the reads, [`Studio`] for listings and remediation.
    pub inspector: I,
    pub network: N,
    pub alerts: Option<A>,
    /// The ledger: finding states, the outbox, user records and history.
    pub store: F,
    /// The region, for endpoint service names (`com.amazonaws.<region>.sts`).
    pub region: String,
    /// Profiles described at once.
    pub concurrency: usize,
    /// No domain is started with less than this left before the Lambda deadline (the
    /// engine's `deadline_margin`: one setting for the whole run).
    pub deadline_margin: std::time::Duration,
}

/// Profile observations to save and names to forget.
type ObservationUpdate = (Vec<Observation>, Vec<ResourceName>);

/// What a drift run found and did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DriftReport {
    pub trigger: String,
    pub mode: Mode,
    /// True when no drift checks are configured ([`crate::service::NoDrift`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    /// The domains checked.
    pub domains: Vec<String>,
    /// Findings open after this run, as `rule#resource` (in the part of the domain checked).
    pub open: Vec<String>,
    /// The findings of `open`, counted by severity (for the metrics).
    #[serde(skip)]
    pub open_by_severity: BTreeMap<Severity, u64>,
    pub opened: Vec<String>,
    pub reminded: Vec<String>,
    pub resolved: Vec<String>,
    pub exempt: Vec<String>,
    /// Findings repaired by opt-in remediation.
    pub remediated: Vec<String>,
    pub alerts_published: u64,
    /// Alerts left in the outbox for the next run (publish failed, or no topic).
    pub alerts_pending: u64,
    /// True when the sweep stopped before the Lambda deadline with domains left unchecked;
    /// the next sweep checks them (an unchecked domain's findings are left as they were).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub incomplete: bool,
    /// Plan mode: the findings, in full.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<Finding>,
    pub failures: Vec<String>,
    #[serde(skip)]
    pub retryable_failure: bool,
}

impl DriftReport {
    fn new(trigger: &str, mode: Mode) -> Self {
        Self {
            trigger: trigger.to_owned(),
            mode,
            ..Self::default()
        }
    }

    fn fail(&mut self, what: &str, e: &WardenError) {
        tracing::error!(error = %e, retryable = e.is_retryable(), "drift: {what} failed");
        self.retryable_failure |= e.is_retryable();
        self.failures.push(format!("{what}: {e}"));
    }
}

/// Which part of a domain one check looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Coverage<'a> {
    /// Everything (a sweep), reading what the reconcile observed of the domain if it ran.
    Full(Option<&'a DomainView>),
    /// The domain's settings and network (UpdateDomain).
    Domain,
    /// Some profiles (Create/UpdateUserProfile), and their security groups.
    Profiles(BTreeSet<ResourceName>),
    /// Some security groups, if the domain uses or approves them (a rule change).
    SecurityGroups(BTreeSet<String>),
}

/// The security groups a domain approves: the baseline's plus every mapping's for the domain.
pub fn approved_security_groups(
    policy: &Policy,
    domain: &Domain,
    baseline: &Baseline,
) -> BTreeSet<SecurityGroupId> {
    let mut out: BTreeSet<SecurityGroupId> = baseline.security_groups.iter().cloned().collect();
    for m in policy.mappings_for(&domain.name) {
        out.extend(m.template.security_groups.iter().cloned());
    }
    out
}

impl<I, N, A, F> Guard<I, N, A, F>
where
    I: DomainInspector + Studio,
    N: Network,
    A: Alerts,
    F: FindingStore + Ledger,
{
    /// Checks every domain that has a baseline, then publishes the outbox. Failures are
    /// reported per domain; the next sweep repairs what this one could not.
    pub async fn sweep(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<tokio::time::Instant>,
    ) -> DriftReport {
        self.sweep_observed(trigger, mode, now, deadline, &BTreeMap::new())
            .await
    }

    /// As [`Guard::sweep`], reading each domain's profile listing, ledger records and
    /// description from `observed` (the reconcile that ran just before) where it has them.
    pub async fn sweep_observed(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<tokio::time::Instant>,
        observed: &BTreeMap<DomainId, DomainView>,
    ) -> DriftReport {
        self.sweep_some(trigger, mode, now, deadline, observed, None)
            .await
    }

    /// As [`Guard::sweep_observed`], for one domain (by name): a fan-out worker's drift
    /// checks, after its reconcile of the domain.
    pub async fn sweep_domain(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<tokio::time::Instant>,
        domain: &str,
        observed: Option<DomainView>,
    ) -> DriftReport {
        let observed: BTreeMap<DomainId, DomainView> = self
            .policy
            .domains
            .iter()
            .find(|d| d.name == domain)
            .zip(observed)
            .map(|(d, v)| (d.id.clone(), v))
            .into_iter()
            .collect();
        self.sweep_some(trigger, mode, now, deadline, &observed, Some(domain))
            .await
    }

    async fn sweep_some(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
        deadline: Option<tokio::time::Instant>,
        observed: &BTreeMap<DomainId, DomainView>,
        only: Option<&str>,
    ) -> DriftReport {
        let plan = mode == Mode::Plan;
        let mut report = DriftReport::new(trigger, mode);
        for domain in &self.policy.domains {
            let Some(baseline) = &domain.baseline else {
                continue;
            };
            if only.is_some_and(|name| name != domain.name) {
                continue;
            }
            // Stop starting domains when less than the margin is left (the outbox is still
            // flushed below); a domain checked in part would resolve findings it never saw.
            if deadline.is_some_and(|d| tokio::time::Instant::now() + self.deadline_margin >= d) {
                tracing::warn!(domain = %domain.id, "drift: deadline near, domain left to the next sweep");
                report.incomplete = true;
                continue;
            }
            let view = observed.get(&domain.id);
            let reads_by = crate::deadline::calls_by(deadline, self.deadline_margin);
            if let Err(e) = self
                .run(
                    &mut report,
                    domain,
                    baseline,
                    Coverage::Full(view),
                    mode,
                    now,
                    reads_by,
                )
                .await
            {
                if matches!(e, WardenError::DeadlineExceeded(_)) {
                    // Its reads were cut: nothing of the domain was judged.
                    report.incomplete = true;
                }
                report.fail(&format!("domain {}", domain.name), &e);
            }
        }
        if !plan {
            self.flush(&mut report).await;
        }
        self.log(&report);
        report
    }

    /// Checks just the resources a CloudTrail event names.
    pub async fn check(&self, change: &Change, now: Epoch) -> DriftReport {
        let mut report = DriftReport::new(&change.event_id, Mode::Apply);
        let mut work: Vec<(&Domain, &Baseline, Coverage)> = Vec::new();
        // The domain of that id in the account and region the event came from: the same
        // `d-...` in another place is another domain.
        let (account, region) = (
            change.origin.account.as_deref(),
            change.origin.region.as_deref(),
        );
        let with_baseline = |id| {
            self.policy
                .domain_at(id, account, region)
                .and_then(|d| d.baseline.as_ref().map(|b| (d, b)))
        };
        for subject in &change.subjects {
            match subject {
                Subject::Domain(id) => match with_baseline(id) {
                    Some((d, b)) => work.push((d, b, Coverage::Domain)),
                    None => {
                        tracing::info!(domain = %id, "drift: domain not managed or without baseline: ignored")
                    }
                },
                Subject::Profile { domain, name } => match with_baseline(domain) {
                    Some((d, b)) => {
                        work.push((d, b, Coverage::Profiles(BTreeSet::from([name.clone()]))));
                    }
                    None => {
                        tracing::info!(domain = %domain, "drift: domain not managed or without baseline: ignored")
                    }
                },
                Subject::SecurityGroup(sg) => {
                    for d in &self.policy.domains {
                        if !d.is_at(&self.policy.home, account, region) {
                            continue;
                        }
                        if let Some(b) = &d.baseline {
                            let ids = BTreeSet::from([sg.to_string()]);
                            work.push((d, b, Coverage::SecurityGroups(ids)));
                        }
                    }
                }
                other => tracing::info!(subject = ?other, "drift: not a drift subject"),
            }
        }
        for (domain, baseline, scope) in work {
            if let Err(e) = self
                .run(&mut report, domain, baseline, scope, Mode::Apply, now, None)
                .await
            {
                report.fail(&format!("domain {}", domain.name), &e);
            }
        }
        self.flush(&mut report).await;
        self.log(&report);
        report
    }

    fn log(&self, report: &DriftReport) {
        tracing::info!(
            trigger = %report.trigger,
            mode = %report.mode,
            open = report.open.len(),
            opened = ?report.opened,
            resolved = ?report.resolved,
            reminded = report.reminded.len(),
            published = report.alerts_published,
            pending = report.alerts_pending,
            failures = report.failures.len(),
            "drift check finished"
        );
    }

    /// Checks one domain's scope. Its reads are abandoned at `reads_by` (the deadline's time
    /// for calls): then nothing of the domain is judged, and no finding changes.
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        report: &mut DriftReport,
        domain: &Domain,
        baseline: &Baseline,
        scope: Coverage<'_>,
        mode: Mode,
        now: Epoch,
        reads_by: Option<tokio::time::Instant>,
    ) -> Result<()> {
        let plan = mode == Mode::Plan;
        let (previous, (snap, seen)) =
            crate::deadline::within(reads_by, "drift: reading the domain", async {
                // The safety net's findings are the reconcile's to open and resolve.
                let previous: Vec<FindingState> = self
                    .store
                    .findings(&domain.id)
                    .await?
                    .into_iter()
                    .filter(|f| !crate::catalogue::is_safety_rule(&f.rule))
                    .collect();
                let observed = self
                    .observe(domain, baseline, &scope, &previous, now)
                    .await?;
                Ok((previous, observed))
            })
            .await?;
        let eval = rules::evaluate(baseline, &snap);
        if !report.domains.contains(&domain.id.to_string()) {
            report.domains.push(domain.id.to_string());
        }
        if plan {
            report.open.extend(findings::keys(&eval.findings));
            for f in &eval.findings {
                *report.open_by_severity.entry(f.severity).or_insert(0) += 1;
            }
            report.findings.extend(eval.findings);
            return Ok(());
        }
        if let Some((save, forget)) = seen
            && !(save.is_empty() && forget.is_empty())
        {
            // A cache: if it cannot be written, the next sweep describes these again.
            if let Err(e) = self
                .store
                .save_observations(&domain.id, &save, &forget)
                .await
            {
                tracing::warn!(domain = %domain.id, error = %e, "drift: profile observations not saved; the next sweep describes them again");
            }
        }
        let remediations = if baseline.remediate {
            self.remediate(report, domain, &snap, &eval.findings, now)
                .await
        } else {
            BTreeMap::new()
        };
        for t in transitions(&domain.id, baseline, &previous, &eval, now) {
            let key = t.state.key();
            let alert = t.alert.map(|kind| {
                alert_message(
                    &t.state,
                    kind,
                    &domain.name,
                    remediations.get(&key).map(String::as_str),
                )
            });
            let queued = match (&alert, &self.alerts) {
                (Some(a), None) => {
                    tracing::warn!(subject = %a.subject, "drift alert NOT published: WARDEN_TOPIC_ARN is not set; the finding is recorded in the ledger");
                    None
                }
                (a, _) => a.as_ref(),
            };
            match self.store.save_finding(&t.state, queued).await {
                Ok(()) => {}
                Err(WardenError::LedgerConflict { .. }) => {
                    tracing::info!(finding = %key, "drift: another invocation recorded this finding first");
                    continue;
                }
                Err(e) => return Err(e),
            }
            let list = match (t.state.status, t.alert) {
                (FindingStatus::Exempt, _) => &mut report.exempt,
                (_, Some(AlertKind::Opened)) => &mut report.opened,
                (_, Some(AlertKind::Reminder)) => &mut report.reminded,
                (FindingStatus::Resolved, _) => &mut report.resolved,
                _ => continue,
            };
            list.push(key);
        }
        for f in &eval.findings {
            if baseline.exemption(&f.rule, &f.resource, now).is_none() {
                report.open.push(f.key());
                *report.open_by_severity.entry(f.severity).or_insert(0) += 1;
            }
        }
        Ok(())
    }

    /// Reads what the scope needs. A full sweep also returns the profile observations to save
    /// and forget (see [`observed`]).
    async fn observe(
        &self,
        domain: &Domain,
        baseline: &Baseline,
        scope: &Coverage<'_>,
        previous: &[FindingState],
        now: Epoch,
    ) -> Result<(Snapshot, Option<ObservationUpdate>)> {
        let approved = approved_security_groups(&self.policy, domain, baseline);
        let mut snap = Snapshot {
            // A domain elsewhere is checked against its own region's endpoint names.
            region: domain
                .place
                .as_ref()
                .map_or_else(|| self.region.clone(), |p| p.region.clone()),
            full: matches!(scope, Coverage::Full(_)),
            managed: self.managed(domain, scope).await?,
            approved_security_groups: approved.clone(),
            ..Snapshot::default()
        };
        let mut seen = None;
        let mut groups: BTreeSet<String> = BTreeSet::new();
        match scope {
            Coverage::Full(_) | Coverage::Domain => {
                let described = match scope {
                    Coverage::Full(Some(view)) => view.description.clone(),
                    _ => None,
                };
                let d = match described {
                    Some(d) => d,
                    None => self.inspector.describe_domain(&domain.id).await?,
                };
                groups.extend(d.security_group_ids.iter().cloned());
                groups.extend(d.default_user_security_groups.iter().cloned());
                groups.extend(d.default_space_security_groups.iter().cloned());
                groups.extend(approved.iter().map(|s| s.to_string()));
                if let Coverage::Full(view) = scope {
                    let (profiles, update) = self.profiles(&domain.id, *view, now).await?;
                    for (name, detail) in profiles {
                        if let Some(p) = &detail {
                            groups.extend(p.security_groups.iter().cloned());
                        }
                        snap.profiles.insert(name, detail);
                    }
                    seen = Some(update);
                }
                let subnets = d.subnet_ids.clone();
                let found = self.network.subnets(&domain.id, &subnets).await?;
                for id in subnets {
                    let info = found.iter().find(|s| s.id == id).cloned();
                    snap.subnets.insert(id, info);
                }
                if let Some(vpc) = &d.vpc_id {
                    snap.endpoints = Some(self.network.vpc_endpoints(&domain.id, vpc).await?);
                }
                snap.domain = Some(d);
            }
            Coverage::Profiles(names) => {
                for name in names {
                    let detail = self.inspector.profile_detail(&domain.id, name).await?;
                    if let Some(p) = &detail {
                        groups.extend(p.security_groups.iter().cloned());
                    }
                    snap.profiles.insert(name.clone(), detail);
                }
            }
            Coverage::SecurityGroups(ids) => {
                // Only groups this domain uses, approves, or has findings about.
                let d = self.inspector.describe_domain(&domain.id).await?;
                let mut known: BTreeSet<String> = approved.iter().map(|s| s.to_string()).collect();
                known.extend(d.security_group_ids.iter().cloned());
                known.extend(d.default_user_security_groups.iter().cloned());
                known.extend(d.default_space_security_groups.iter().cloned());
                known.extend(previous.iter().map(|f| f.resource.clone()));
                for id in ids {
                    if known.contains(id) {
                        groups.insert(id.clone());
                    } else {
                        tracing::info!(security_group = %id, domain = %domain.id, "drift: security group not used by the domain's settings or approved: left to the sweep");
                    }
                }
            }
        }
        let groups: Vec<String> = groups.into_iter().collect();
        let found = if groups.is_empty() {
            Vec::new()
        } else {
            self.network.security_groups(&domain.id, &groups).await?
        };
        for id in groups {
            let info = found.iter().find(|g| g.id == id).cloned();
            snap.security_groups.insert(id, info);
        }
        Ok((snap, seen))
    }

    /// Every profile of a domain with its settings: from the observation cache where the
    /// listing's stamp has not moved, described otherwise.
    async fn profiles(
        &self,
        domain: &DomainId,
        view: Option<&DomainView>,
        now: Epoch,
    ) -> Result<(
        Vec<(ResourceName, Option<model::ProfileDetail>)>,
        ObservationUpdate,
    )> {
        let listed = match view {
            Some(v) => v.profiles.clone(),
            None => self.inspector.list_profiles(domain).await?,
        };
        let cache: BTreeMap<ResourceName, Observation> = self
            .store
            .observations(domain)
            .await?
            .into_iter()
            .map(|o| (o.name.clone(), o))
            .collect();
        let plan = observed::read_plan(listed, &cache, now);
        tracing::debug!(
            domain = %domain,
            cached = plan.cached.len(),
            describe = plan.describe.len(),
            "drift: profiles to describe"
        );
        let described: Vec<(ProfileSummary, Option<model::ProfileDetail>)> =
            stream::iter(plan.describe)
                .map(|p| async move {
                    self.inspector
                        .profile_detail(domain, &p.name)
                        .await
                        .map(|detail| (p, detail))
                })
                .buffer_unordered(self.concurrency.max(1))
                .try_collect()
                .await?;
        let update = observed::updates(&described, &cache, plan.gone, now);
        let mut out: Vec<(ResourceName, Option<model::ProfileDetail>)> = plan
            .cached
            .into_iter()
            .map(|d| (d.name.clone(), Some(d)))
            .collect();
        out.extend(described.into_iter().map(|(p, d)| (p.name, d)));
        Ok((out, update))
    }

    /// The ledger's managed profiles of a domain, with the template each should have.
    async fn managed(
        &self,
        domain: &Domain,
        scope: &Coverage<'_>,
    ) -> Result<BTreeMap<ResourceName, ManagedProfile>> {
        // The domain's mappings with their fingerprints.
        let mappings: Vec<(&str, ExpectedTemplate)> = self
            .policy
            .mappings
            .iter()
            .enumerate()
            .filter(|(_, m)| m.domain == domain.name)
            .map(|(i, m)| {
                let expected = ExpectedTemplate {
                    mapping: i,
                    execution_role: m.template.execution_role.clone(),
                    security_groups: m
                        .template
                        .security_groups
                        .iter()
                        .map(|s| s.to_string())
                        .collect(),
                };
                (m.template_hash.as_str(), expected)
            })
            .collect();
        let mut out = BTreeMap::new();
        let records: Vec<UserRecord> = match scope {
            Coverage::Full(Some(view)) => view.records.clone(),
            _ => self.store.records(&domain.id).await?,
        };
        for r in records {
            if matches!(r.phase, Phase::Offboarded { .. }) {
                continue;
            }
            let template = mappings
                .iter()
                .find(|(hash, _)| Some(*hash) == r.template_hash.as_deref())
                .map(|(_, expected)| expected.clone());
            out.insert(
                r.profile.clone(),
                ManagedProfile {
                    phase: r.phase.name().to_owned(),
                    template,
                    user: r.user.clone(),
                    attention: r.attention.clone(),
                },
            );
        }
        Ok(out)
    }

    /// Opt-in remediation of the safe case: a managed profile whose role or security groups
    /// drifted from its mapping gets its mapping's settings back (UpdateUserProfile), recorded
    /// in the user's history as `Remediate`. Returns a note per finding key.
    async fn remediate(
        &self,
        report: &mut DriftReport,
        domain: &Domain,
        snap: &Snapshot,
        current: &[Finding],
        now: Epoch,
    ) -> BTreeMap<String, String> {
        let mut notes = BTreeMap::new();
        for f in current.iter().filter(|f| f.rule == rules::PROFILE_TEMPLATE) {
            let Ok(name) = ResourceName::parse(&f.resource) else {
                continue;
            };
            let Some(m) = snap.managed.get(&name) else {
                continue;
            };
            let Some(mapping) = m
                .template
                .as_ref()
                .and_then(|t| self.policy.mappings.get(t.mapping))
            else {
                continue;
            };
            let spec = ProfileSpec {
                template: mapping.template.clone(),
                tags: BTreeMap::new(),
                sso_user_name: None,
            };
            let outcome = match self
                .inspector
                .update_profile(&domain.id, &name, &spec)
                .await
            {
                Ok(UpdateOutcome::Updated) => "ok".to_owned(),
                Ok(UpdateOutcome::Deferred(why)) => format!("deferred: {why}"),
                // The mapping's own settings, rejected: the policy is wrong for AWS, and trying
                // again cannot help.
                Ok(UpdateOutcome::Rejected(why)) => {
                    let text = format!("failed: SageMaker rejected the mapping's settings: {why}");
                    tracing::error!(profile = %name, error = %why, "drift: remediation rejected by SageMaker");
                    report.failures.push(format!("remediate {name}: {text}"));
                    text
                }
                Err(e) => {
                    report.fail(&format!("remediate {name}"), &e);
                    format!("failed: {e}")
                }
            };
            let entry = HistoryEntry {
                user: m.user.clone(),
                domain: domain.id.clone(),
                profile: Some(name.clone()),
                action: "Remediate".into(),
                reason: format!("{}: {} (restored {})", f.rule, f.message, f.expected),
                trigger: report.trigger.clone(),
                outcome: outcome.clone(),
                at: now,
            };
            if let Err(e) = self.store.append(&entry).await {
                report.fail(&format!("history of {name}"), &e);
            }
            if outcome == "ok" {
                report.remediated.push(f.key());
            }
            notes.insert(
                f.key(),
                format!("UpdateUserProfile restored the mapping's settings ({outcome})"),
            );
        }
        notes
    }

    /// Publishes the outbox, oldest first; stops at the first failure so that alerts keep
    /// their order, and leaves the rest for the next run.
    async fn flush(&self, report: &mut DriftReport) {
        let Some(alerts) = &self.alerts else {
            return;
        };
        let queued = match self.store.outbox().await {
            Ok(q) => q,
            Err(e) => {
                report.fail("reading the outbox", &e);
                return;
            }
        };
        let total = queued.len() as u64;
        for (id, alert) in queued {
            if let Err(e) = alerts.publish(&alert).await {
                report.fail("publishing an alert", &e);
                break;
            }
            report.alerts_published += 1;
            if let Err(e) = self.store.outbox_done(&id).await {
                // Published but still queued: it will be sent again (at least once).
                report.fail("removing a published alert from the outbox", &e);
                break;
            }
        }
        report.alerts_pending = total - report.alerts_published;
    }
}
