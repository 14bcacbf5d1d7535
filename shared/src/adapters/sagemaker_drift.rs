//! [`DomainInspector`] for [`SageMakerStudio`]: the security-relevant fields of DescribeDomain
//! and DescribeUserProfile.

use super::SageMakerStudio;
use crate::drift::model::ProfileDetail;
use crate::drift::ports::DomainInspector;
use crate::error::Result;
use crate::ids::{DomainId, ResourceName};
use crate::model::ProfileStatus;

impl DomainInspector for SageMakerStudio {
    async fn profile_detail(
        &self,
        domain: &DomainId,
        name: &ResourceName,
    ) -> Result<Option<ProfileDetail>> {
        Ok(self.describe_user_profile(domain, name).await?.map(|out| {
            let settings = out.user_settings();
            ProfileDetail {
                name: name.clone(),
                status: ProfileStatus::from_api(out.status().map_or("Pending", |s| s.as_str())),
                execution_role: settings.and_then(|s| s.execution_role()).map(str::to_owned),
                security_groups: settings
                    .map(|s| s.security_groups().to_vec())
                    .unwrap_or_default(),
            }
        }))
    }
}
