//! The fan-out sweep (see [`crate::fanout`]): the coordinator observes and plans every domain
//! as a sweep does, passes the plans through the central gate, and enqueues one work item per
//! domain; a worker reconciles the one domain an item names.

use std::collections::BTreeMap;

use tokio::time::Instant;

use super::holds::is_start;
use super::observe::DomainObservation;
use super::outcome::merge_passes;
use super::run::finish;
use super::{ActionReport, Engine, Outcome, Report, Run, Store};
use crate::desired::ResolvedMappings;
use crate::error::{Result, WardenError};
use crate::fanout::{
    self, Encoded, FanOut, ItemError, OutMessage, Queued, Wanted, WorkItem, keep_released,
};
use crate::ids::UserId;
use crate::model::{DomainView, Entitlement, Epoch, Mode, ProfileSummary, Scope};
use crate::policy::Domain;
use crate::ports::{Directory, Studio, SweepSummary};
use crate::safety::Approvals;

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
    /// The coordinator of a fanned-out apply sweep: reads the directory once, observes and
    /// plans every domain, passes the plans through the safety net (the threshold and the
    /// holds, raised here, centrally), raises the safety findings, then enqueues one work item
    /// per domain instead of applying. Records the sweep's summary with the number of domains
    /// enqueued; the workers add their results to it.
    pub async fn fan_out<F: FanOut>(
        &self,
        trigger: &str,
        now: Epoch,
        deadline: Option<Instant>,
        queue: &F,
    ) -> Result<Report> {
        let report = match self.start(trigger, Mode::Apply, now, deadline).await {
            Ok(run) => {
                let mut report = Report::new(trigger, Mode::Apply);
                let done = self.fan_out_into(&run, queue, &mut report).await;
                finish(&run, report, done)?
            }
            Err(WardenError::DeadlineExceeded(why)) => {
                tracing::warn!(sweep_id = trigger, %why, "sweep cut by the deadline before it could plan");
                let mut report = Report::new(trigger, Mode::Apply);
                report.complete = false;
                report
            }
            Err(e) => return Err(e),
        };
        tracing::info!(
            sweep_id = trigger,
            domains = report.queued.len(),
            complete = report.complete,
            "sweep fanned out"
        );
        let summary = SweepSummary {
            sweep_id: trigger.to_owned(),
            mode: "apply".into(),
            started_at: now,
            finished_at: time::OffsetDateTime::now_utc().unix_timestamp(),
            complete: report.complete,
            actions: BTreeMap::new(),
            failures: report.failures.len() as u64,
            unmanaged: 0,
            fanned_out: Some(fanout::Progress {
                domains: report.queued.len() as u64,
                ..fanout::Progress::default()
            }),
        };
        self.ledger.record_sweep(&summary).await?;
        Ok(report)
    }

    async fn fan_out_into<F: FanOut>(
        &self,
        run: &Run,
        queue: &F,
        report: &mut Report,
    ) -> Result<()> {
        let seen = self.observe_all(run, None, report).await?;
        let plans = self.plan_all(run, report, &seen.domains, seen.full).await?;
        let policy = fanout::fingerprint(&self.policy);
        let limits = queue.limits();
        for ((domain, observed), plan) in seen.domains.iter().zip(plans) {
            self.raise_safety_into(run, domain, report).await?;
            let phase = |a: &crate::planner::Action| {
                a.user()
                    .and_then(|u| observed.records.get(u))
                    .map(|r| &r.phase)
            };
            let released: BTreeMap<UserId, Option<String>> = plan
                .actions
                .iter()
                .filter(|&a| is_start(phase(a), a))
                .filter_map(|a| {
                    a.user()
                        .map(|u| (u.clone(), a.released_by().map(str::to_owned)))
                })
                .collect();
            let item = WorkItem {
                format: fanout::ITEM_FORMAT,
                sweep_id: run.trigger.clone(),
                domain: domain.name.clone(),
                now: run.now,
                policy: policy.clone(),
                mappings: run.resolved.status.clone(),
                desired: observed
                    .desired
                    .iter()
                    .map(|(u, e)| {
                        (
                            u.clone(),
                            Wanted {
                                user_name: e.user_name.clone(),
                                mapping: e.mapping,
                                group: e.group.clone(),
                            },
                        )
                    })
                    .collect(),
                released,
            };
            let encoded = fanout::encode(&item, limits)?;
            let stored = match &encoded {
                Encoded::Stored {
                    reference, chunks, ..
                } => {
                    run.bounded(
                        "storing the work item",
                        queue.put_chunks(
                            reference,
                            chunks,
                            run.now.saturating_add(fanout::STORED_TTL_SECS),
                        ),
                    )
                    .await?;
                    Some(reference.chunks)
                }
                Encoded::Inline { .. } => None,
            };
            let message = OutMessage {
                body: encoded.body().to_owned(),
                group: fanout::message_group(&self.policy, domain),
                dedup: fanout::dedup_id(&run.trigger, &domain.name),
            };
            run.bounded("enqueueing the work item", queue.enqueue(&message))
                .await?;
            tracing::info!(sweep_id = %run.trigger, domain = %domain.name, group = %message.group, users = item.desired.len(), released = item.released.len(), stored = ?stored, "work item enqueued");
            report.queued.push(Queued {
                domain: domain.name.clone(),
                domain_id: domain.id.clone(),
                group: message.group,
                users: item.desired.len(),
                planned: plan.actions.len(),
                released: item.released.len(),
                stored_chunks: stored,
            });
        }
        Ok(())
    }

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
