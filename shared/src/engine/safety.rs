//! The safety net's findings: what a full sweep found about the policy's groups (renamed,
//! missing, unresolved, conflicting), recorded and alerted like drift findings (once when
//! opened, reminded, resolved), through the same finding states and outbox. The drift checks
//! leave these rules to the reconcile.

use super::{Engine, Report, Run, Store};
use crate::catalogue::{Severity, is_safety_rule};
use crate::drift::findings::{alert_message, transitions};
use crate::drift::rules::Evaluation;
use crate::error::{Result, WardenError};
use crate::policy::{Baseline, Domain};
use crate::ports::{Directory, Studio};
use crate::safety::{self, HoldReport};

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// Opens, reminds and resolves the safety findings of one domain after a full sweep, and
    /// counts those open in the report.
    pub(super) async fn raise_safety_into(
        &self,
        run: &Run,
        domain: &Domain,
        report: &mut Report,
    ) -> Result<()> {
        let open = self.raise_safety(run, domain, report.hold.as_ref()).await?;
        for (key, severity) in open {
            *report.open_by_severity.entry(severity).or_insert(0) += 1;
            report.safety.push(key);
        }
        Ok(())
    }

    /// Opens, reminds and resolves the safety findings of one domain after a full sweep, and
    /// answers the keys of those open, with their severities.
    pub(super) async fn raise_safety(
        &self,
        run: &Run,
        domain: &Domain,
        hold: Option<&HoldReport>,
    ) -> Result<Vec<(String, Severity)>> {
        let default = Baseline::default();
        let baseline = domain.baseline.as_ref().unwrap_or(&default);
        let mut found =
            safety::mapping_findings(&self.policy, &run.resolved, &domain.name, baseline);
        found.extend(hold.and_then(|h| safety::hold_finding(h, &domain.id, baseline)));
        let previous: Vec<_> = self
            .ledger
            .findings(&domain.id)
            .await?
            .into_iter()
            .filter(|f| is_safety_rule(&f.rule))
            .collect();
        let open: Vec<(String, Severity)> = found.iter().map(|f| (f.key(), f.severity)).collect();
        if found.is_empty() && previous.is_empty() {
            return Ok(open);
        }
        // The sweep looked at every mapping of the domain: what it did not find is resolved.
        let eval = Evaluation {
            findings: found,
            checked: Default::default(),
            full: true,
        };
        for t in transitions(&domain.id, baseline, &previous, &eval, run.now) {
            let alert = t
                .alert
                .map(|kind| alert_message(&t.state, kind, &domain.name, None));
            match self.ledger.save_finding(&t.state, alert.as_ref()).await {
                Ok(()) => {
                    tracing::warn!(domain = %domain.id, finding = %t.state.key(), status = t.state.status.as_str(), "safety finding recorded")
                }
                // Another run recorded it first.
                Err(WardenError::LedgerConflict { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(open)
    }
}
