//! The deletion threshold and holds: every domain of a run is planned first; then the starts
//! of grace periods and offboardings are counted (per domain and in total) and, above
//! `[offboarding] max_per_run` / `max_percent`, held back together with the leavers whose
//! group is in doubt, in one pending hold an operator approves or discards.

use super::observe::DomainObservation;
use super::{Engine, Report, Run, Store};
use crate::error::{Result, WardenError};
use crate::ids::{DomainId, UserId};
use crate::model::{Epoch, Mode, Phase};
use crate::planner::Action;
use crate::policy::Domain;
use crate::ports::{Directory, Studio};
use crate::safety::{
    self, Approvals, DomainPlan, Hold, HoldEntry, HoldReport, HoldStatus, Threshold,
};

/// Whether an action starts a leaving, given the phase of the user's record: a grace period, a
/// suspension (the grace period is over), or a deletion of data that is not already under way
/// (the retention is over). What the deletion threshold counts, and what a fan-out worker may
/// only do for the users the coordinator's gate released.
pub(crate) fn is_start(phase: Option<&Phase>, action: &Action) -> bool {
    match action {
        Action::StartGrace { .. } => true,
        Action::Suspend { .. } => !matches!(phase, Some(Phase::Suspending { .. })),
        Action::Offboard { .. } => !matches!(phase, Some(Phase::Offboarding { .. })),
        _ => false,
    }
}

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// Plans every observed domain, then passes the plans through the safety net: the
    /// threshold, and one pending hold for whatever waits for an operator. `full` says the run
    /// saw every user of every domain (a complete sweep): only then may it replace a pending
    /// hold's users or find the hold expired.
    pub(super) async fn plan_all(
        &self,
        run: &Run,
        report: &mut Report,
        observed: &[(&Domain, DomainObservation)],
        full: bool,
    ) -> Result<Vec<DomainPlan>> {
        let holds = self.ledger.holds().await?;
        let approvals = Approvals::new(&holds);
        let mut plans = Vec::with_capacity(observed.len());
        for (domain, o) in observed {
            let actions = self.plan_domain(run, report, &domain.id, o, &approvals);
            let managed = o
                .records
                .values()
                .filter(|r| !matches!(r.phase, Phase::Offboarded { .. }))
                .count();
            plans.push(DomainPlan {
                domain: domain.id.clone(),
                managed,
                actions,
            });
        }
        let record_of = |d: &DomainId, u: &UserId| {
            observed
                .iter()
                .find(|(domain, _)| domain.id == *d)
                .and_then(|(_, o)| o.records.get(u))
        };
        let phase_of = |d: &DomainId, u: &UserId| record_of(d, u).map(|r| &r.phase);
        let starts = |d: &DomainId, a: &Action| is_start(a.user().and_then(|u| phase_of(d, u)), a);
        let threshold = Threshold {
            max_per_run: self.policy.offboarding.max_per_run,
            max_percent: self.policy.offboarding.max_percent,
        };
        let release = |d: &DomainId, a: &Action| {
            approvals
                .release(a.user().and_then(|u| record_of(d, u)))
                .map(str::to_owned)
        };
        let gate = safety::gate(&mut plans, starts, release, threshold);
        for (entry, hold) in &gate.released {
            tracing::info!(domain = %entry.domain, user = %entry.user, action = %entry.action, hold = %hold, "released by an approved hold");
        }
        let mut users: Vec<HoldEntry> = report
            .held
            .iter()
            .map(|h| HoldEntry {
                domain: h.domain.clone(),
                user: h.user.clone(),
                action: h.action.to_owned(),
                version: 0,
            })
            .chain(gate.held.iter().cloned())
            .map(|mut entry| {
                // What the operator will approve: the record as it is now.
                entry.version = record_of(&entry.domain, &entry.user).map_or(0, |r| r.version);
                entry
            })
            .collect();
        let pending = holds.iter().find(|h| h.status == HoldStatus::Pending);
        let writes = run.mode == Mode::Apply && !self.policy.offboarding.dry_run;
        if users.is_empty() {
            if let Some(p) = pending
                && full
                && writes
            {
                tracing::info!(hold = %p.id, "hold expired: nothing waits for an operator any more");
                self.save_hold_quietly(Hold {
                    status: HoldStatus::Expired,
                    decided_at: Some(run.now),
                    decided_by: Some(run.trigger.clone()),
                    version: p.version + 1,
                    ..p.clone()
                })
                .await?;
            }
            return Ok(plans);
        }
        // A run that saw only some users adds to a pending hold; a full sweep restates it.
        if !full && let Some(p) = pending {
            users.extend(p.users.iter().cloned());
        }
        users.sort();
        users.dedup();
        let reason = match (&gate.tripped, report.held.is_empty()) {
            (Some(r), true) => r.clone(),
            (Some(r), false) => format!("{r}; and leavers whose group is in doubt"),
            (None, _) => {
                "leavers whose group is in doubt (deleted, unresolvable or conflicting)".to_owned()
            }
        };
        tracing::error!(users = users.len(), reason = %reason, "deletions held for an operator");
        let mut hold_report = HoldReport {
            id: pending.map(|p| p.id.clone()),
            reason: reason.clone(),
            users: users.clone(),
        };
        if writes {
            let next = match pending {
                Some(p) if p.users == users => None,
                Some(p) => Some(Hold {
                    users,
                    reason,
                    version: p.version + 1,
                    ..p.clone()
                }),
                None => Some(Hold {
                    id: ulid::Ulid::generate().to_string(),
                    status: HoldStatus::Pending,
                    reason,
                    users,
                    found_by: run.trigger.clone(),
                    created_at: run.now,
                    decided_at: None,
                    decided_by: None,
                    version: 1,
                }),
            };
            if let Some(h) = next {
                let id = h.id.clone();
                if self.save_hold_quietly(h).await? {
                    hold_report.id = Some(id);
                }
            }
        }
        report.hold = Some(hold_report);
        Ok(plans)
    }

    /// Writes a hold; `Ok(false)` when another invocation wrote it first (its version stands).
    async fn save_hold_quietly(&self, hold: Hold) -> Result<bool> {
        match self.ledger.save_hold(&hold).await {
            Ok(()) => Ok(true),
            Err(WardenError::LedgerConflict { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// An operator's decision on a pending hold: approve (its users' grace periods and
    /// offboardings may start) or discard (the operator fixed the cause; a run that still
    /// finds too many starts records a new hold). Deciding the same way twice is a no-op.
    pub async fn decide(&self, hold: &str, approve: bool, trigger: &str, now: Epoch) -> Result<()> {
        let Some(h) = self
            .ledger
            .holds()
            .await?
            .into_iter()
            .find(|h| h.id == hold)
        else {
            return Err(WardenError::Hold(format!("there is no hold {hold:?}")));
        };
        let status = if approve {
            HoldStatus::Approved
        } else {
            HoldStatus::Discarded
        };
        if h.status == status {
            return Ok(());
        }
        if h.status != HoldStatus::Pending {
            return Err(WardenError::Hold(format!(
                "hold {hold} is {:?}, not pending: nothing to decide",
                h.status
            )));
        }
        tracing::warn!(hold = %hold, decision = ?status, users = h.users.len(), "an operator decided a hold");
        self.ledger
            .save_hold(&Hold {
                status,
                decided_at: Some(now),
                decided_by: Some(trigger.to_owned()),
                version: h.version + 1,
                ..h
            })
            .await
    }
}
