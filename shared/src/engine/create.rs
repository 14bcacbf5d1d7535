//! Create: claim the name in the ledger, assign the user to the domain's Identity Center
//! application (SSO-mode domains), create the profile and the private space the mapping asks
//! for, record it.

use super::apply::next;
use super::run::InDomain;
use super::{Engine, Outcome, Store, TAG_USER_ID};
use crate::error::{Result, WardenError};
use crate::ids::{ResourceName, UserId};
use crate::model::{Entitlement, Phase, ProfileStatus, UserRecord};
use crate::naming;
use crate::planner::Action;
use crate::ports::{CreateOutcome, Directory, Studio};

impl<D: Directory, S: Studio, L: Store> Engine<D, S, L> {
    pub(super) async fn create(
        &self,
        at: InDomain<'_>,
        action: &Action,
        user: &UserId,
        profile: &ResourceName,
        e: &Entitlement,
        record: Option<&UserRecord>,
    ) -> Result<Outcome> {
        let InDomain { run, domain, info } = at;
        // 1. Claim the name in the ledger, so that two invocations never create two profiles
        //    for one user (for example across a rename).
        let claimed = match record {
            Some(r) if r.phase == Phase::Creating => r.clone(),
            Some(r) => {
                let rec = UserRecord {
                    phase: Phase::Creating,
                    ..next(r, run)
                };
                self.put(run, &rec).await?;
                rec
            }
            None => {
                let rec = UserRecord {
                    domain: domain.clone(),
                    user: user.clone(),
                    user_name: e.user_name.clone(),
                    profile: profile.clone(),
                    phase: Phase::Creating,
                    group: Some(e.group.clone()),
                    template_hash: None,
                    profile_status: None,
                    attention: None,
                    released_by: None,
                    version: 1,
                    updated_at: run.now,
                };
                match self.put(run, &rec).await {
                    Ok(()) => rec,
                    Err(WardenError::LedgerConflict { .. }) => {
                        return Ok(Outcome::ClaimedElsewhere);
                    }
                    Err(err) => return Err(err),
                }
            }
        };
        // 2. SSO-mode domains: the assignment comes before the profile (AWS's documented order).
        if let Some(app) = info.and_then(|i| i.sso_application_arn.as_deref()) {
            self.studio.assign(app, user).await?;
        }
        // 3. The profile. A name already taken is fine only if the profile is ours; a name held
        //    by a profile that is not this user's (made by hand, another tool's) is left alone
        //    and the claim moves to the user's next alternative name, once.
        let spec = self.spec(user, e, info);
        let mut claimed = claimed;
        let candidates = naming::profile_names(&e.user_name, user);
        let mut tried = vec![];
        let outcome = loop {
            let name = claimed.profile.clone();
            match self.studio.create_profile(domain, &name, &spec).await? {
                CreateOutcome::Created => break Outcome::Ok,
                CreateOutcome::AlreadyExists => {
                    let tags = self
                        .studio
                        .profile_tags(domain, &name)
                        .await?
                        .unwrap_or_default();
                    if tags.get(TAG_USER_ID).map(String::as_str) == Some(user.as_str()) {
                        break Outcome::Adopted;
                    }
                }
            }
            tried.push(name.clone());
            let Some(alternative) = candidates.iter().find(|c| !tried.contains(c)) else {
                let outcome = Outcome::NameTaken { profile: name };
                self.note(run, domain, action, &outcome).await?;
                return Ok(outcome);
            };
            tracing::warn!(domain = %domain, user = %user, taken = %name, alternative = %alternative, "profile name held by a profile that is not this user's: taking the alternative name");
            claimed = UserRecord {
                profile: alternative.clone(),
                ..next(&claimed, run)
            };
            self.put(run, &claimed).await?;
        };
        let profile = &claimed.profile;
        // 4. The private space the mapping asks for, owned by the profile (offboarding deletes
        //    it with the user's other private spaces). Here, before the record leaves
        //    `Creating`, so that a run cut in between creates it on the next pass (the profile
        //    is then adopted); a space of that name already there is the one a cut run made.
        if let Some(space) = &e.template.private_space {
            match self
                .studio
                .create_private_space(domain, profile, space)
                .await?
            {
                CreateOutcome::Created => {
                    tracing::info!(domain = %domain, user = %user, space = %profile, "private space created");
                }
                CreateOutcome::AlreadyExists => {
                    tracing::info!(domain = %domain, user = %user, space = %profile, "private space already there");
                }
            }
        }
        let outcome = match (outcome, tried.first()) {
            (Outcome::Ok | Outcome::Adopted, Some(taken)) => Outcome::CreatedAs {
                profile: profile.clone(),
                taken: taken.clone(),
            },
            (o, _) => o,
        };
        run.touched(domain, profile);
        // 5. Record it. The profile is Pending; the sweep confirms InService later.
        let rec = UserRecord {
            phase: Phase::Active,
            user_name: e.user_name.clone(),
            group: Some(e.group.clone()),
            template_hash: Some(e.template_hash.clone()),
            profile_status: Some(ProfileStatus::Pending),
            attention: None,
            ..next(&claimed, run)
        };
        self.transition(run, rec, action, outcome).await
    }
}
