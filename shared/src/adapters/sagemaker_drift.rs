//! [`DomainInspector`] for [`SageMakerStudio`]: the security-relevant fields of DescribeDomain
//! and DescribeUserProfile.

use super::{SageMakerStudio, aws_error};
use crate::drift::model::{DomainSnapshot, ProfileDetail};
use crate::drift::ports::DomainInspector;
use crate::error::Result;
use crate::ids::{DomainId, ResourceName};
use crate::model::ProfileStatus;

const SERVICE: &str = "sagemaker";

impl DomainInspector for SageMakerStudio {
    async fn inspect_domain(&self, domain: &DomainId) -> Result<DomainSnapshot> {
        self.rate.wait().await;
        let out = self
            .sagemaker
            .describe_domain()
            .domain_id(domain.as_str())
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "DescribeDomain", e))?;
        let settings = out.domain_settings();
        let docker = settings.and_then(|s| s.docker_settings());
        let user = out.default_user_settings();
        Ok(DomainSnapshot {
            id: domain.clone(),
            name: out.domain_name().unwrap_or_default().to_owned(),
            status: out
                .status()
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
            auth_mode: out
                .auth_mode()
                .map(|m| m.as_str().to_owned())
                .unwrap_or_default(),
            // The API's default when the field is absent.
            app_network_access_type: out.app_network_access_type().map_or_else(
                || "PublicInternetOnly".to_owned(),
                |t| t.as_str().to_owned(),
            ),
            vpc_id: out.vpc_id().map(str::to_owned),
            subnet_ids: out.subnet_ids().to_vec(),
            security_group_ids: settings
                .map(|s| s.security_group_ids().to_vec())
                .unwrap_or_default(),
            default_user_security_groups: user
                .map(|u| u.security_groups().to_vec())
                .unwrap_or_default(),
            default_user_execution_role: user.and_then(|u| u.execution_role()).map(str::to_owned),
            default_space_security_groups: out
                .default_space_settings()
                .map(|s| s.security_groups().to_vec())
                .unwrap_or_default(),
            kms_key_id: out
                .kms_key_id()
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
            docker_access: docker
                .and_then(|d| d.enable_docker_access())
                .map(|f| f.as_str().to_owned()),
            vpc_only_trusted_accounts: docker
                .map(|d| d.vpc_only_trusted_accounts().to_vec())
                .unwrap_or_default(),
        })
    }

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
