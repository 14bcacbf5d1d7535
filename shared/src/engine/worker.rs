//! A fan-out sweep's worker (see [`crate::fanout`]): reconciles the one domain a work item
//! names, from the item's desired state and the domain as it is now.

use std::collections::BTreeMap;

use super::holds::is_start;
use super::observe::DomainObservation;
use super::outcome::merge_passes;
use super::run::finish;
use super::{ActionReport, Engine, Outcome, Report, Run, Store};
use crate::desired::ResolvedMappings;
use crate::error::{Result, WardenError};
use crate::fanout::{self, ItemError, Wanted, WorkItem, keep_released};
use crate::ids::UserId;
use crate::model::{DomainView, Entitlement, Epoch, Mode, ProfileSummary, Scope};
use crate::policy::Domain;
use crate::ports::{Directory, Studio};
use crate::safety::Approvals;
use tokio::time::Instant;

/// The passes a worker makes over its item's domain in one invocation: the first, and more
/// while the last one's failures are ones a retry can fix (a throttle the SDK's retries did
/// not outlast, a ledger record another invocation changed, a listing that failed for now)
/// and the deadline allows. Each pass reads the domain and its records again and plans from
/// them, so it redoes nothing done. Without them, one throttled call would fail the whole item
/// until SQS delivers it again, after the queue's visibility timeout (six times the function's
/// timeout, 90 minutes in the hub stack).
pub const WORK_PASSES: u32 = 3;

/// The pause before pass `n + 1`: `n` times this (the service's bucket refills meanwhile).
pub const PASS_PAUSE: std::time::Duration = std::time::Duration::from_secs(1);

/// Why a worker did not do an item.
#[derive(Debug)]
pub enum WorkError {
    /// The item is not one this worker can do (malformed, an unknown domain): it fails until
    /// SQS moves it to the dead-letter queue.
    Item(ItemError),
    /// The work failed (the ledger, AWS).
    Run(WardenError),
}

/// What a worker made of an item.
#[derive(Debug)]
pub enum Worked<'p> {
    /// Reconciled: the report, and the domain as the run left it (for its drift checks);
    /// `None` when the deadline cut the run before it had observed the domain.
    Done {
        domain: &'p Domain,
        report: Box<Report>,
        view: Option<Box<DomainView>>,
    },
    /// Dropped unworked, and why: the item is stale (another policy, or too old); later
    /// sweeps cover its domain.
    Dropped { domain: &'p Domain, why: String },
}

/// Each user's entitlement to the item's domain, rebuilt from the worker's policy: the item
/// names the winning mapping, which must exist and be the domain's.
pub fn entitlements(
    policy: &crate::policy::Policy,
    item: &WorkItem,
) -> std::result::Result<BTreeMap<UserId, Entitlement>, ItemError> {
    let mut out = BTreeMap::new();
    for (
        user,
        Wanted {
            user_name,
            mapping,
            group,
        },
    ) in &item.desired
    {
        let Some(m) = policy
            .mappings
            .get(*mapping)
            .filter(|m| m.domain == item.domain)
        else {
            return Err(ItemError::Malformed(format!(
                "user {user}: mapping {mapping} is not a mapping of domain {:?}",
                item.domain
            )));
        };
        out.insert(
            user.clone(),
            Entitlement {
                user: user.clone(),
                user_name: user_name.clone(),
                mapping: *mapping,
                group: group.clone(),
                group_label: m.group.to_string(),
                template: m.template.clone(),
                template_hash: m.template_hash.clone(),
            },
        );
    }
    Ok(out)
}

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// A worker: reconciles the one domain `item` names, from the item's desired state and the
    /// domain as it is now (the item may be minutes old): its profiles and ledger records read
    /// again, planned, the starts of a leaving the item does not release taken out (answered
    /// as deferred), the rest carried out.
    pub async fn work(
        &self,
        item: &WorkItem,
        now: Epoch,
        deadline: Option<Instant>,
    ) -> std::result::Result<Worked<'_>, WorkError> {
        let Some(domain) = self.policy.domains.iter().find(|d| d.name == item.domain) else {
            return Err(WorkError::Item(ItemError::UnknownDomain(
                item.domain.clone(),
            )));
        };
        if item.policy != fanout::fingerprint(&self.policy) {
            return Ok(Worked::Dropped {
                domain,
                why: "the policy changed since the sweep planned (a deployment in between): the next sweep plans the domain under the new one".into(),
            });
        }
        let age = now.saturating_sub(item.now);
        if age > fanout::MAX_ITEM_AGE_SECS {
            return Ok(Worked::Dropped {
                domain,
                why: format!(
                    "the item is {age} s old, more than {} s: later sweeps cover the domain",
                    fanout::MAX_ITEM_AGE_SECS
                ),
            });
        }
        let desired = entitlements(&self.policy, item).map_err(WorkError::Item)?;
        let resolved = ResolvedMappings::from_statuses(&self.policy, &item.mappings);
        // Earlier passes' actions, for the users the last pass did not act on again.
        let mut earlier: Vec<ActionReport> = Vec::new();
        let mut pass = 1;
        let (mut report, view) = loop {
            let mut run = Run::new(
                &item.sweep_id,
                Mode::Apply,
                now,
                deadline,
                self.options.deadline_margin,
                resolved.clone(),
            );
            run.hand_on = true;
            let mut report = Report::new(&item.sweep_id, Mode::Apply);
            let mut view: Option<DomainView> = None;
            let done = self
                .work_into(
                    &run,
                    domain,
                    desired.clone(),
                    &item.released,
                    &mut report,
                    &mut view,
                )
                .await;
            let retry = match &done {
                Ok(()) => {
                    report.complete
                        && !run.was_cut()
                        && (report.retryable_failure || !report.conflicted.is_empty())
                }
                Err(WardenError::DeadlineExceeded(_)) => false,
                Err(e) => e.is_retryable(),
            };
            if retry && pass < WORK_PASSES && !run.past_deadline() {
                tracing::info!(sweep_id = %item.sweep_id, domain = %domain.name, pass, failures = report.failures.len(), conflicted = report.conflicted.len(), error = ?done.as_ref().err().map(ToString::to_string), "failures a retry can fix: the domain is read and planned again");
                earlier = merge_passes(earlier, report.actions);
                tokio::time::sleep(PASS_PAUSE * pass).await;
                pass += 1;
                continue;
            }
            let mut report = finish(&run, report, done).map_err(WorkError::Run)?;
            report.actions = merge_passes(earlier, report.actions);
            break (report, view);
        };
        // A record another invocation changed under the last pass, the passes spent (the
        // event path's re-read of a user would plan beyond the item's domain and past its
        // gate): the item fails and its redelivery reads the domain again.
        for user in std::mem::take(&mut report.conflicted) {
            report.retryable_failure = true;
            report.failures.push(format!(
                "{}: the ledger record changed under this run (another invocation); the item is tried again",
                user.as_str()
            ));
        }
        Ok(Worked::Done {
            domain,
            report: Box::new(report),
            view: view.map(Box::new),
        })
    }

    async fn work_into(
        &self,
        run: &Run,
        domain: &Domain,
        desired: BTreeMap<UserId, Entitlement>,
        released: &BTreeMap<UserId, Option<String>>,
        report: &mut Report,
        view: &mut Option<DomainView>,
    ) -> Result<()> {
        let listed = run
            .bounded(
                "listing the profiles",
                self.studio.list_profiles(&domain.id),
            )
            .await?;
        let description = match domain.baseline {
            Some(_) => Some(
                run.bounded(
                    "describing the domain",
                    self.studio.describe_domain(&domain.id),
                )
                .await?,
            ),
            None => None,
        };
        let records = run
            .bounded("reading the ledger", self.ledger.records(&domain.id))
            .await?
            .into_iter()
            .map(|r| (r.user.clone(), r))
            .collect::<BTreeMap<_, _>>();
        let holds = run
            .bounded("reading the holds", self.ledger.holds())
            .await?;
        let approvals = Approvals::new(&holds);
        let observed = DomainObservation {
            desired,
            profiles: listed
                .iter()
                .map(|p| (p.name.clone(), p.clone()))
                .collect::<BTreeMap<_, ProfileSummary>>(),
            records,
            scope: Scope::All,
            description,
        };
        let planned = self.plan_domain(run, report, &domain.id, &observed, &approvals);
        let phase = |a: &crate::planner::Action| {
            a.user()
                .and_then(|u| observed.records.get(u))
                .map(|r| &r.phase)
        };
        let (actions, deferred) = keep_released(planned, |a| is_start(phase(a), a), released);
        for action in deferred {
            tracing::warn!(domain = %domain.id, user = ?action.user(), action = action.kind(), sweep_id = %run.trigger, "start of a leaving not released by the sweep's central gate: deferred");
            report.actions.push(ActionReport {
                domain: domain.id.clone(),
                action,
                outcome: Outcome::Deferred(format!(
                    "the central gate of sweep {} did not release this start (the item predates it); left to the next sweep",
                    run.trigger
                )),
            });
        }
        self.apply_domain(run, report, &domain.id, &observed, actions)
            .await?;
        *view = Some(run.view(&domain.id, listed, &observed.records, observed.description));
        Ok(())
    }
}
