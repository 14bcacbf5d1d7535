//! The Identity Store adapter (read-only).

use aws_sdk_identitystore::Client;
use aws_sdk_identitystore::operation::describe_group::DescribeGroupError;
use aws_sdk_identitystore::operation::describe_user::DescribeUserError;
use aws_sdk_identitystore::operation::get_group_id::GetGroupIdError;
use aws_sdk_identitystore::operation::get_user_id::GetUserIdError;
use aws_sdk_identitystore::operation::list_group_memberships::ListGroupMembershipsError;
use aws_sdk_identitystore::operation::list_group_memberships_for_member::ListGroupMembershipsForMemberError;
use aws_sdk_identitystore::types::error::ResourceNotFoundException;
use aws_sdk_identitystore::types::{
    AlternateIdentifier, MemberId, ResourceType, UniqueAttribute, UserStatus,
};
use aws_smithy_types::Document;

use super::{CallRate, aws_error};
use crate::error::{Result, WardenError};
use crate::ids::{GroupId, IdentityStoreId, MembershipId, UserId};
use crate::model::User;
use crate::ports::Directory;

const SERVICE: &str = "identitystore";

/// [`Directory`] over `aws_sdk_identitystore::Client`.
#[derive(Debug, Clone)]
pub struct IdentityStoreDirectory {
    client: Client,
    store: IdentityStoreId,
    rate: CallRate,
}

impl IdentityStoreDirectory {
    pub fn new(client: Client, store: IdentityStoreId) -> Self {
        Self {
            client,
            store,
            rate: CallRate::unlimited(),
        }
    }

    /// Paces every call (each page of a listing counts as one).
    pub fn with_rate(mut self, rate: CallRate) -> Self {
        self.rate = rate;
        self
    }
}

/// Whether a `ResourceNotFoundException` says that `what` is missing, from its typed
/// `ResourceType`. The same exception names a missing identity store (`IDENTITY_STORE`: a
/// wrong store id in the policy, or the wrong region) or another resource: those are errors,
/// never "the user was deleted" (which would offboard everyone) nor "the group has no
/// members". A missing `ResourceType` says nothing either way, so it is an error too.
fn not_found(e: &ResourceNotFoundException, what: ResourceType) -> bool {
    e.resource_type() == Some(&what)
}

fn user_from(id: &str, user_name: Option<&str>, status: Option<&UserStatus>) -> Result<User> {
    Ok(User {
        id: UserId::parse(id)?,
        user_name: user_name.unwrap_or_default().to_owned(),
        enabled: !matches!(status, Some(UserStatus::Disabled)),
    })
}

impl Directory for IdentityStoreDirectory {
    async fn user(&self, user: &UserId) -> Result<Option<User>> {
        self.rate.wait().await;
        match self
            .client
            .describe_user()
            .identity_store_id(self.store.as_str())
            .user_id(user.as_str())
            .send()
            .await
        {
            Ok(out) => user_from(out.user_id(), out.user_name(), out.user_status()).map(Some),
            Err(e)
                if matches!(e.as_service_error(),
                    Some(DescribeUserError::ResourceNotFoundException(nf))
                        if not_found(nf, ResourceType::User)) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error(SERVICE, "DescribeUser", e)),
        }
    }

    async fn users(&self) -> Result<Vec<User>> {
        let mut pages = self
            .client
            .list_users()
            .identity_store_id(self.store.as_str())
            .max_results(100)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        loop {
            let Some(page) = self.rate.page(pages.next()).await else {
                break;
            };
            let page = page.map_err(|e| aws_error(SERVICE, "ListUsers", e))?;
            for u in page.users() {
                out.push(user_from(u.user_id(), u.user_name(), u.user_status())?);
            }
        }
        Ok(out)
    }

    async fn groups_of(&self, user: &UserId) -> Result<Vec<GroupId>> {
        let mut pages = self
            .client
            .list_group_memberships_for_member()
            .identity_store_id(self.store.as_str())
            .member_id(MemberId::UserId(user.as_str().to_owned()))
            .max_results(100)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        loop {
            match self.rate.page(pages.next()).await {
                None => break,
                Some(Ok(page)) => {
                    for m in page.group_memberships() {
                        if let Some(g) = m.group_id() {
                            out.push(GroupId::parse(g)?);
                        }
                    }
                }
                // A deleted user has no groups.
                Some(Err(e))
                    if matches!(e.as_service_error(),
                        Some(ListGroupMembershipsForMemberError::ResourceNotFoundException(nf))
                            if not_found(nf, ResourceType::User)) =>
                {
                    break;
                }
                Some(Err(e)) => return Err(aws_error(SERVICE, "ListGroupMembershipsForMember", e)),
            }
        }
        Ok(out)
    }

    async fn members_of(&self, group: &GroupId) -> Result<Option<Vec<(MembershipId, UserId)>>> {
        let mut pages = self
            .client
            .list_group_memberships()
            .identity_store_id(self.store.as_str())
            .group_id(group.as_str())
            .max_results(100)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        loop {
            match self.rate.page(pages.next()).await {
                None => break,
                Some(Ok(page)) => {
                    for m in page.group_memberships() {
                        let Some(MemberId::UserId(uid)) = m.member_id() else {
                            continue;
                        };
                        out.push((MembershipId::parse(m.membership_id())?, UserId::parse(uid)?));
                    }
                }
                // A deleted group: not an empty one.
                Some(Err(e))
                    if matches!(e.as_service_error(),
                        Some(ListGroupMembershipsError::ResourceNotFoundException(nf))
                            if not_found(nf, ResourceType::Group)) =>
                {
                    return Ok(None);
                }
                Some(Err(e)) => return Err(aws_error(SERVICE, "ListGroupMemberships", e)),
            }
        }
        Ok(Some(out))
    }

    async fn group_name(&self, group: &GroupId) -> Result<Option<String>> {
        self.rate.wait().await;
        match self
            .client
            .describe_group()
            .identity_store_id(self.store.as_str())
            .group_id(group.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(Some(out.display_name().unwrap_or_default().to_owned())),
            Err(e)
                if matches!(e.as_service_error(),
                    Some(DescribeGroupError::ResourceNotFoundException(nf))
                        if not_found(nf, ResourceType::Group)) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error(SERVICE, "DescribeGroup", e)),
        }
    }

    async fn group_id(&self, display_name: &str) -> Result<Option<GroupId>> {
        let attribute = UniqueAttribute::builder()
            .attribute_path("displayName")
            .attribute_value(Document::String(display_name.to_owned()))
            .build()
            .map_err(|e| {
                WardenError::Config(format!("group display name {display_name:?}: {e}"))
            })?;
        self.rate.wait().await;
        match self
            .client
            .get_group_id()
            .identity_store_id(self.store.as_str())
            .alternate_identifier(AlternateIdentifier::UniqueAttribute(attribute))
            .send()
            .await
        {
            Ok(out) => Ok(Some(GroupId::parse(out.group_id())?)),
            // No group has this display name.
            Err(e)
                if matches!(e.as_service_error(),
                    Some(GetGroupIdError::ResourceNotFoundException(nf))
                        if not_found(nf, ResourceType::Group)) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error(SERVICE, "GetGroupId", e)),
        }
    }

    async fn user_id(&self, user_name: &str) -> Result<Option<UserId>> {
        let attribute = UniqueAttribute::builder()
            .attribute_path("userName")
            .attribute_value(Document::String(user_name.to_owned()))
            .build()
            .map_err(|e| WardenError::Config(format!("user name {user_name:?}: {e}")))?;
        self.rate.wait().await;
        match self
            .client
            .get_user_id()
            .identity_store_id(self.store.as_str())
            .alternate_identifier(AlternateIdentifier::UniqueAttribute(attribute))
            .send()
            .await
        {
            Ok(out) => Ok(Some(UserId::parse(out.user_id())?)),
            // No user has this user name.
            Err(e)
                if matches!(e.as_service_error(),
                    Some(GetUserIdError::ResourceNotFoundException(nf))
                        if not_found(nf, ResourceType::User)) =>
            {
                Ok(None)
            }
            Err(e) => Err(aws_error(SERVICE, "GetUserId", e)),
        }
    }
}
