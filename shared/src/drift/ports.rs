//! The drift checks' ports: what they read from SageMaker beyond [`crate::ports::Studio`], from
//! EC2, where alerts go (SNS), and where finding states and the alert outbox live (the ledger).

use std::future::Future;

use super::model::{
    AlertMessage, EndpointInfo, FindingState, ProfileDetail, SecurityGroupInfo, SubnetInfo,
};
use super::observed::Observation;
use crate::error::Result;
use crate::ids::{DomainId, ResourceName};

/// SageMaker's security-relevant settings of profiles (domains: [`crate::ports::Studio::describe_domain`]).
pub trait DomainInspector: Send + Sync {
    /// `DescribeUserProfile`'s status, role and security groups; `None` if there is no such
    /// profile.
    fn profile_detail(
        &self,
        domain: &DomainId,
        name: &ResourceName,
    ) -> impl Future<Output = Result<Option<ProfileDetail>>> + Send;
}

/// EC2, read-only, in the account and region of the domain `domain` (whose network it is).
pub trait Network: Send + Sync {
    /// The groups that exist among `ids`, with their rules (unknown ids are left out).
    fn security_groups(
        &self,
        domain: &DomainId,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<SecurityGroupInfo>>> + Send;
    /// The subnets that exist among `ids`, with their internet routes.
    fn subnets(
        &self,
        domain: &DomainId,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<SubnetInfo>>> + Send;
    /// Every VPC endpoint of a VPC.
    fn vpc_endpoints(
        &self,
        domain: &DomainId,
        vpc: &str,
    ) -> impl Future<Output = Result<Vec<EndpointInfo>>> + Send;
}

/// Where alerts go (an SNS topic).
pub trait Alerts: Send + Sync {
    fn publish(&self, alert: &AlertMessage) -> impl Future<Output = Result<()>> + Send;
}

/// Finding states and the alert outbox, in the ledger.
pub trait FindingStore: Send + Sync {
    /// Every finding state of a domain.
    fn findings(&self, domain: &DomainId)
    -> impl Future<Output = Result<Vec<FindingState>>> + Send;
    /// Writes a finding state if nobody else wrote since `state.version - 1` (or, for version
    /// 1, if there is none), and in the same transaction queues its alert in the outbox.
    /// `Err(LedgerConflict)` if another invocation won.
    fn save_finding(
        &self,
        state: &FindingState,
        alert: Option<&AlertMessage>,
    ) -> impl Future<Output = Result<()>> + Send;
    /// The queued alerts, oldest first, with their outbox ids.
    fn outbox(&self) -> impl Future<Output = Result<Vec<(String, AlertMessage)>>> + Send;
    /// Removes a published alert from the outbox.
    fn outbox_done(&self, id: &str) -> impl Future<Output = Result<()>> + Send;
    /// What the last full sweeps described of a domain's profiles (see [`super::observed`]).
    fn observations(
        &self,
        domain: &DomainId,
    ) -> impl Future<Output = Result<Vec<Observation>>> + Send;
    /// Stores `save` and forgets `forget` (last writer wins: it is a cache, and a stale entry
    /// only costs a description).
    fn save_observations(
        &self,
        domain: &DomainId,
        save: &[Observation],
        forget: &[ResourceName],
    ) -> impl Future<Output = Result<()>> + Send;
}
