//! Resolve: the policy's groups, by the ids pinned in the ledger (a display name is resolved
//! once and pinned), each checked to still exist and still carry the policy's name.

use std::collections::BTreeMap;

use super::{Engine, Store};
use crate::desired::{MappingStatus, ResolvedMappings};
use crate::error::{Result, WardenError};
use crate::ids::GroupId;
use crate::model::{Epoch, Mode};
use crate::policy::GroupRef;
use crate::ports::{Directory, Pin, Studio};

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    /// Resolves the policy's group references. A display name is resolved once and its group
    /// id pinned in the ledger; later runs use the pinned id, check that the group still
    /// exists and still has that name (one DescribeGroup per mapped group), and look the name
    /// up again only when it changed. Any directory failure fails the run: a group that cannot
    /// be read is never taken for a group without members.
    pub(super) async fn resolve_mappings(
        &self,
        trigger: &str,
        mode: Mode,
        now: Epoch,
    ) -> Result<ResolvedMappings> {
        let pins: BTreeMap<String, GroupId> = if self
            .policy
            .mappings
            .iter()
            .any(|m| matches!(m.group, GroupRef::DisplayName(_)))
        {
            self.ledger
                .pins()
                .await?
                .into_iter()
                .map(|p| (p.display_name, p.group))
                .collect()
        } else {
            BTreeMap::new()
        };
        let mut status: BTreeMap<GroupRef, MappingStatus> = BTreeMap::new();
        for m in &self.policy.mappings {
            if status.contains_key(&m.group) {
                continue;
            }
            let st = match &m.group {
                GroupRef::Id(id) => match self.directory.group_name(id).await? {
                    Some(_) => MappingStatus::Resolved { group: id.clone() },
                    None => MappingStatus::Missing { group: id.clone() },
                },
                GroupRef::DisplayName(name) => match pins.get(name) {
                    Some(pinned) => self.check_pinned(name, pinned).await?,
                    None => self.pin_group(name, trigger, mode, now).await?,
                },
            };
            match &st {
                MappingStatus::Resolved { .. } => {}
                MappingStatus::Renamed { now, .. } => {
                    tracing::warn!(group = %m.group, now = %now, "mapped group renamed: still used by its pinned id; update the policy")
                }
                other => {
                    tracing::warn!(group = %m.group, status = ?other, "mapped group in doubt: its members are held (no grace period, no offboarding)")
                }
            }
            status.insert(m.group.clone(), st);
        }
        Ok(ResolvedMappings::from_status(&self.policy, |g| {
            status.get(g).cloned().unwrap_or(MappingStatus::Unresolved)
        }))
    }

    /// A pinned display name: is the group still there, and still so named?
    async fn check_pinned(&self, name: &str, pinned: &GroupId) -> Result<MappingStatus> {
        let Some(current) = self.directory.group_name(pinned).await? else {
            return Ok(MappingStatus::Missing {
                group: pinned.clone(),
            });
        };
        if current == name {
            return Ok(MappingStatus::Resolved {
                group: pinned.clone(),
            });
        }
        // Renamed. Does the policy's name now belong to another group (re-created by the IdP,
        // or another group renamed into it)?
        Ok(match self.directory.group_id(name).await? {
            Some(other) if other != *pinned => MappingStatus::Conflict {
                pinned: pinned.clone(),
                other,
            },
            _ => MappingStatus::Renamed {
                group: pinned.clone(),
                now: current,
            },
        })
    }

    /// A display name seen for the first time: resolve it and pin the id (a plan pins
    /// nothing: it writes nothing).
    async fn pin_group(
        &self,
        name: &str,
        trigger: &str,
        mode: Mode,
        now: Epoch,
    ) -> Result<MappingStatus> {
        let Some(group) = self.directory.group_id(name).await? else {
            return Ok(MappingStatus::Unresolved);
        };
        if mode == Mode::Plan {
            return Ok(MappingStatus::Resolved { group });
        }
        let pin = Pin {
            display_name: name.to_owned(),
            group: group.clone(),
            pinned_at: now,
            trigger: trigger.to_owned(),
        };
        match self.ledger.pin(&pin).await {
            Ok(()) => {
                tracing::info!(group = %name, id = %group, "display name pinned to its group id");
                Ok(MappingStatus::Resolved { group })
            }
            // Another invocation pinned it first: its pin is the truth.
            Err(WardenError::LedgerConflict { .. }) => {
                let pinned = self
                    .ledger
                    .pins()
                    .await?
                    .into_iter()
                    .find(|p| p.display_name == name)
                    .map(|p| p.group)
                    .ok_or_else(|| WardenError::LedgerConflict {
                        key: format!("PIN/GROUP#{name}"),
                    })?;
                self.check_pinned(name, &pinned).await
            }
            Err(e) => Err(e),
        }
    }
}
