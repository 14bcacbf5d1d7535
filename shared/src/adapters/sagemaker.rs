//! The SageMaker adapter, with the domain's Identity Center application assignments (sso-admin).

use std::collections::BTreeMap;

use aws_sdk_sagemaker::Client;
use aws_sdk_sagemaker::types::{
    AppInstanceType, AppLifecycleManagement, AppType, CodeEditorAppSettings, EbsStorageSettings,
    IdleSettings, JupyterLabAppSettings, LifecycleManagement, OwnershipSettings, ResourceSpec,
    SharingType, SpaceSettings, SpaceSharingSettings, SpaceStorageSettings,
    StudioWebPortalSettings, Tag, UserSettings,
};
use aws_sdk_ssoadmin::types::PrincipalType;

use super::places::PerDomain;
use super::{CallRate, aws_error, code_of, epoch_ms};
use crate::error::{Result, WardenError};
use crate::ids::{DomainId, ResourceName, UserId};
use crate::model::{DomainDescription, ProfileStatus, ProfileSummary};
use crate::ports::{AppSummary, CreateOutcome, ProfileSpec, SpaceSummary, Studio, UpdateOutcome};
use crate::template::{AppTypeSettings, PrivateSpace};

const SERVICE: &str = "sagemaker";

/// [`Studio`] over the SageMaker and SSO admin clients.
#[derive(Debug, Clone)]
pub struct SageMakerStudio {
    /// SageMaker clients per domain (the domain's account and region), each paced by the
    /// limiter of its account and region at its HTTP client: every request counts, each page
    /// of a listing and each retry.
    pub(crate) sagemaker: std::sync::Arc<PerDomain<Client>>,
    pub(crate) sso: aws_sdk_ssoadmin::Client,
    /// Paces SSO admin calls (Identity Center's shared quota).
    pub(crate) sso_rate: CallRate,
}

impl SageMakerStudio {
    /// Every domain in the function's own account and region, through `sagemaker`.
    pub fn new(sagemaker: Client, sso: aws_sdk_ssoadmin::Client) -> Self {
        Self::with_clients(PerDomain::home_only(sagemaker), sso)
    }

    /// Domains anywhere: SageMaker clients per domain (see [`PerDomain`]).
    pub fn with_clients(sagemaker: PerDomain<Client>, sso: aws_sdk_ssoadmin::Client) -> Self {
        Self {
            sagemaker: std::sync::Arc::new(sagemaker),
            sso,
            sso_rate: CallRate::unlimited(),
        }
    }

    /// Paces SSO admin calls (Identity Center's shared quota).
    pub fn with_sso_rate(mut self, sso: CallRate) -> Self {
        self.sso_rate = sso;
        self
    }

    /// DescribeUserProfile, with a missing profile as `None`: the one place this call is made.
    pub(crate) async fn describe_user_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
    ) -> Result<
        Option<aws_sdk_sagemaker::operation::describe_user_profile::DescribeUserProfileOutput>,
    > {
        let at = self.sagemaker.at(domain).await?;
        match at
            .client
            .describe_user_profile()
            .domain_id(domain.as_str())
            .user_profile_name(name.as_str())
            .send()
            .await
        {
            Ok(out) => Ok(Some(out)),
            Err(e) if code_of(&e) == Some("ResourceNotFound") => Ok(None),
            Err(e) => Err(aws_error(SERVICE, "DescribeUserProfile", e)),
        }
    }

    async fn profile_arn(&self, domain: &DomainId, name: &ResourceName) -> Result<Option<String>> {
        Ok(self
            .describe_user_profile(domain, name)
            .await?
            .and_then(|out| out.user_profile_arn().map(str::to_owned)))
    }

    async fn apps(
        &self,
        domain: &DomainId,
        profile: Option<&str>,
        space: Option<&str>,
    ) -> Result<Vec<AppSummary>> {
        let at = self.sagemaker.at(domain).await?;
        let mut pages = at
            .client
            .list_apps()
            .domain_id_equals(domain.as_str())
            .set_user_profile_name_equals(profile.map(str::to_owned))
            .set_space_name_equals(space.map(str::to_owned))
            .max_results(100)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        loop {
            let Some(page) = pages.next().await else {
                break;
            };
            let page = page.map_err(|e| aws_error(SERVICE, "ListApps", e))?;
            for app in page.apps() {
                let (Some(app_type), Some(app_name)) = (app.app_type(), app.app_name()) else {
                    continue;
                };
                out.push(AppSummary {
                    app_type: app_type.as_str().to_owned(),
                    app_name: app_name.to_owned(),
                    status: app
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    user_profile: app.user_profile_name().map(str::to_owned),
                    space: app.space_name().map(str::to_owned),
                });
            }
        }
        Ok(out)
    }
}

/// The UserSettings a template asks for. An app type's settings are sent only when the mapping
/// sets one of them, so that a mapping that does not use them leaves the domain's defaults.
pub(crate) fn user_settings(spec: &ProfileSpec) -> UserSettings {
    let t = &spec.template;
    let apps = &t.apps;
    let mut settings = UserSettings::builder()
        .execution_role(&t.execution_role)
        .set_security_groups(Some(
            t.security_groups
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
        ))
        .set_default_landing_uri(apps.default_landing_uri.clone());
    if apps.jupyterlab_instance_type.is_some()
        || !apps.jupyterlab_lifecycle_config_arns.is_empty()
        || !apps.jupyterlab.is_empty()
    {
        let lab = &apps.jupyterlab;
        settings = settings.jupyter_lab_app_settings(
            JupyterLabAppSettings::builder()
                .set_default_resource_spec(resource_spec(
                    apps.jupyterlab_instance_type.as_deref(),
                    lab,
                ))
                .set_lifecycle_config_arns(
                    (!apps.jupyterlab_lifecycle_config_arns.is_empty())
                        .then(|| apps.jupyterlab_lifecycle_config_arns.clone()),
                )
                .set_custom_images(custom_images(lab))
                .set_app_lifecycle_management(lifecycle_management(lab))
                .build(),
        );
    }
    if apps.code_editor_instance_type.is_some() || !apps.code_editor.is_empty() {
        let editor = &apps.code_editor;
        settings = settings.code_editor_app_settings(
            CodeEditorAppSettings::builder()
                .set_default_resource_spec(resource_spec(
                    apps.code_editor_instance_type.as_deref(),
                    editor,
                ))
                .set_lifecycle_config_arns(
                    (!editor.lifecycle_config_arns.is_empty())
                        .then(|| editor.lifecycle_config_arns.clone()),
                )
                .set_custom_images(custom_images(editor))
                .set_app_lifecycle_management(lifecycle_management(editor))
                .build(),
        );
    }
    if !apps.hidden_instance_types.is_empty() {
        settings = settings.studio_web_portal_settings(
            StudioWebPortalSettings::builder()
                .set_hidden_instance_types(Some(
                    apps.hidden_instance_types
                        .iter()
                        .map(|i| AppInstanceType::from(i.as_str()))
                        .collect(),
                ))
                .build(),
        );
    }
    settings.build()
}

/// `DefaultResourceSpec`, or `None` when the mapping sets none of its members.
fn resource_spec(instance_type: Option<&str>, app: &AppTypeSettings) -> Option<ResourceSpec> {
    (instance_type.is_some()
        || app.default_lifecycle_config_arn.is_some()
        || app.image_arn.is_some())
    .then(|| {
        ResourceSpec::builder()
            .set_instance_type(instance_type.map(AppInstanceType::from))
            .set_lifecycle_config_arn(app.default_lifecycle_config_arn.clone())
            .set_sage_maker_image_arn(app.image_arn.clone())
            .build()
    })
}

fn custom_images(app: &AppTypeSettings) -> Option<Vec<aws_sdk_sagemaker::types::CustomImage>> {
    (!app.custom_images.is_empty()).then(|| {
        app.custom_images
            .iter()
            .map(|c| {
                aws_sdk_sagemaker::types::CustomImage::builder()
                    .image_name(&c.image_name)
                    .app_image_config_name(&c.app_image_config_name)
                    .set_image_version_number(c.image_version_number)
                    .build()
            })
            .collect()
    })
}

/// Idle shutdown: `LifecycleManagement = ENABLED` with the mapping's timeouts.
fn lifecycle_management(app: &AppTypeSettings) -> Option<AppLifecycleManagement> {
    app.idle.map(|idle| {
        AppLifecycleManagement::builder()
            .idle_settings(
                IdleSettings::builder()
                    .lifecycle_management(LifecycleManagement::Enabled)
                    .set_idle_timeout_in_minutes(idle.timeout_minutes)
                    .set_min_idle_timeout_in_minutes(idle.min_timeout_minutes)
                    .set_max_idle_timeout_in_minutes(idle.max_timeout_minutes)
                    .build(),
            )
            .build()
    })
}

fn summary(name: &str, status: Option<&str>, modified_ms: Option<i64>) -> Result<ProfileSummary> {
    Ok(ProfileSummary {
        name: ResourceName::parse(name)?,
        status: ProfileStatus::from_api(status.unwrap_or("Pending")),
        modified_ms,
    })
}

impl Studio for SageMakerStudio {
    async fn describe_domain(&self, domain: &DomainId) -> Result<DomainDescription> {
        let at = self.sagemaker.at(domain).await?;
        let out = at
            .client
            .describe_domain()
            .domain_id(domain.as_str())
            .send()
            .await
            .map_err(|e| aws_error(SERVICE, "DescribeDomain", e))?;
        let settings = out.domain_settings();
        let docker = settings.and_then(|s| s.docker_settings());
        let user = out.default_user_settings();
        Ok(DomainDescription {
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
            sso_application_arn: out.single_sign_on_application_arn().map(str::to_owned),
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

    async fn list_profiles(&self, domain: &DomainId) -> Result<Vec<ProfileSummary>> {
        let at = self.sagemaker.at(domain).await?;
        let mut pages = at
            .client
            .list_user_profiles()
            .domain_id_equals(domain.as_str())
            .max_results(100)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        loop {
            let Some(page) = pages.next().await else {
                break;
            };
            let page = page.map_err(|e| aws_error(SERVICE, "ListUserProfiles", e))?;
            for p in page.user_profiles() {
                // ListUserProfiles filters on the domain; guard anyway against a foreign row.
                if p.domain_id().is_some_and(|d| d != domain.as_str()) {
                    continue;
                }
                let Some(name) = p.user_profile_name() else {
                    continue;
                };
                out.push(summary(
                    name,
                    p.status().map(|s| s.as_str()),
                    epoch_ms(p.last_modified_time()),
                )?);
            }
        }
        Ok(out)
    }

    async fn describe_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
    ) -> Result<Option<ProfileSummary>> {
        self.describe_user_profile(domain, name)
            .await?
            .map(|out| {
                summary(
                    name.as_str(),
                    out.status().map(|s| s.as_str()),
                    epoch_ms(out.last_modified_time()),
                )
            })
            .transpose()
    }

    async fn create_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
        spec: &ProfileSpec,
    ) -> Result<CreateOutcome> {
        let at = self.sagemaker.at(domain).await?;
        let tags = spec
            .tags
            .iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect::<Vec<_>>();
        let mut request = at
            .client
            .create_user_profile()
            .domain_id(domain.as_str())
            .user_profile_name(name.as_str())
            .set_tags(Some(tags))
            .user_settings(user_settings(spec));
        if let Some(user_name) = &spec.sso_user_name {
            request = request
                .single_sign_on_user_identifier("UserName")
                .single_sign_on_user_value(user_name);
        }
        match request.send().await {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(e) if code_of(&e) == Some("ResourceInUse") => Ok(CreateOutcome::AlreadyExists),
            Err(e) => Err(aws_error(SERVICE, "CreateUserProfile", e)),
        }
    }

    async fn update_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
        spec: &ProfileSpec,
    ) -> Result<UpdateOutcome> {
        let at = self.sagemaker.at(domain).await?;
        match at
            .client
            .update_user_profile()
            .domain_id(domain.as_str())
            .user_profile_name(name.as_str())
            .user_settings(user_settings(spec))
            .send()
            .await
        {
            Ok(_) => Ok(UpdateOutcome::Updated),
            // The one in-use condition the API reference documents for UpdateUserProfile
            // ("Resource being accessed is in use"): the next sweep tries again.
            Err(e) if code_of(&e) == Some("ResourceInUse") => Ok(UpdateOutcome::Deferred(
                aws_error(SERVICE, "UpdateUserProfile", e).to_string(),
            )),
            // The request itself is wrong for AWS (the policy's settings): the same request
            // fails again, so it is not retried until the settings change.
            Err(e) if code_of(&e) == Some("ValidationException") => Ok(UpdateOutcome::Rejected(
                aws_error(SERVICE, "UpdateUserProfile", e).to_string(),
            )),
            Err(e) => Err(aws_error(SERVICE, "UpdateUserProfile", e)),
        }
    }

    async fn retag_profile(
        &self,
        domain: &DomainId,
        name: &ResourceName,
        add: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<()> {
        let at = self.sagemaker.at(domain).await?;
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        let Some(arn) = self.profile_arn(domain, name).await? else {
            return Err(WardenError::UnexpectedResponse {
                service: SERVICE,
                operation: "DescribeUserProfile",
                detail: format!("profile {name} disappeared while its tags were reconciled"),
            });
        };
        if !add.is_empty() {
            let tags = add
                .iter()
                .map(|(k, v)| Tag::builder().key(k).value(v).build())
                .collect::<Vec<_>>();
            at.client
                .add_tags()
                .resource_arn(&arn)
                .set_tags(Some(tags))
                .send()
                .await
                .map_err(|e| aws_error(SERVICE, "AddTags", e))?;
        }
        if !remove.is_empty() {
            at.client
                .delete_tags()
                .resource_arn(&arn)
                .set_tag_keys(Some(remove.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error(SERVICE, "DeleteTags", e))?;
        }
        Ok(())
    }

    async fn delete_profile(&self, domain: &DomainId, name: &ResourceName) -> Result<bool> {
        let at = self.sagemaker.at(domain).await?;
        match at
            .client
            .delete_user_profile()
            .domain_id(domain.as_str())
            .user_profile_name(name.as_str())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("ResourceNotFound") => Ok(true),
            Err(e) if code_of(&e) == Some("ResourceInUse") => Ok(false),
            Err(e) => Err(aws_error(SERVICE, "DeleteUserProfile", e)),
        }
    }

    async fn profile_tags(
        &self,
        domain: &DomainId,
        name: &ResourceName,
    ) -> Result<Option<BTreeMap<String, String>>> {
        let at = self.sagemaker.at(domain).await?;
        let Some(arn) = self.profile_arn(domain, name).await? else {
            return Ok(None);
        };
        let mut pages = at
            .client
            .list_tags()
            .resource_arn(arn)
            .into_paginator()
            .send();
        let mut out = BTreeMap::new();
        loop {
            match pages.next().await {
                None => break,
                Some(Ok(page)) => {
                    for tag in page.tags() {
                        if let Some(key) = tag.key() {
                            out.insert(key.to_owned(), tag.value().unwrap_or_default().to_owned());
                        }
                    }
                }
                // The profile may have gone between DescribeUserProfile and ListTags (it was
                // being deleted): SageMaker answers ListTags on a missing ARN with a
                // ValidationException, the code it also uses for a malformed request. Only
                // the codes decide: a profile that DescribeUserProfile no longer finds is gone;
                // one it still finds is an error (never "no tags", which would let an
                // offboarding past the ownership check).
                Some(Err(e))
                    if matches!(
                        code_of(&e),
                        Some("ResourceNotFound" | "ValidationException")
                    ) =>
                {
                    if self.describe_user_profile(domain, name).await?.is_none() {
                        return Ok(None);
                    }
                    return Err(aws_error(SERVICE, "ListTags", e));
                }
                Some(Err(e)) => return Err(aws_error(SERVICE, "ListTags", e)),
            }
        }
        Ok(Some(out))
    }

    async fn profile_apps(
        &self,
        domain: &DomainId,
        profile: &ResourceName,
    ) -> Result<Vec<AppSummary>> {
        self.apps(domain, Some(profile.as_str()), None).await
    }

    async fn space_apps(&self, domain: &DomainId, space: &str) -> Result<Vec<AppSummary>> {
        self.apps(domain, None, Some(space)).await
    }

    async fn delete_app(&self, domain: &DomainId, app: &AppSummary) -> Result<()> {
        let at = self.sagemaker.at(domain).await?;
        match at
            .client
            .delete_app()
            .domain_id(domain.as_str())
            .set_user_profile_name(app.user_profile.clone())
            .set_space_name(app.space.clone())
            .app_type(AppType::from(app.app_type.as_str()))
            .app_name(&app.app_name)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Already deleted or being deleted.
            Err(e) if matches!(code_of(&e), Some("ResourceNotFound" | "ResourceInUse")) => Ok(()),
            Err(e) => Err(aws_error(SERVICE, "DeleteApp", e)),
        }
    }

    async fn list_spaces(&self, domain: &DomainId) -> Result<Vec<SpaceSummary>> {
        let at = self.sagemaker.at(domain).await?;
        let mut pages = at
            .client
            .list_spaces()
            .domain_id_equals(domain.as_str())
            .max_results(100)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        loop {
            let Some(page) = pages.next().await else {
                break;
            };
            let page = page.map_err(|e| aws_error(SERVICE, "ListSpaces", e))?;
            for s in page.spaces() {
                let Some(name) = s.space_name() else { continue };
                out.push(SpaceSummary {
                    name: name.to_owned(),
                    status: s
                        .status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                    owner: s
                        .ownership_settings_summary()
                        .and_then(|o| o.owner_user_profile_name())
                        .map(str::to_owned),
                    private: s
                        .space_sharing_settings_summary()
                        .and_then(|o| o.sharing_type())
                        .is_some_and(|t| *t == SharingType::Private),
                });
            }
        }
        Ok(out)
    }

    async fn delete_space(&self, domain: &DomainId, space: &str) -> Result<bool> {
        let at = self.sagemaker.at(domain).await?;
        match at
            .client
            .delete_space()
            .domain_id(domain.as_str())
            .space_name(space)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if code_of(&e) == Some("ResourceNotFound") => Ok(true),
            Err(e) if code_of(&e) == Some("ResourceInUse") => Ok(false),
            Err(e) => Err(aws_error(SERVICE, "DeleteSpace", e)),
        }
    }

    async fn create_private_space(
        &self,
        domain: &DomainId,
        owner: &ResourceName,
        space: &PrivateSpace,
    ) -> Result<CreateOutcome> {
        let at = self.sagemaker.at(domain).await?;
        let storage = space.ebs_size_gb.map(|gb| {
            SpaceStorageSettings::builder()
                .ebs_storage_settings(
                    EbsStorageSettings::builder()
                        .ebs_volume_size_in_gb(gb)
                        .build(),
                )
                .build()
        });
        match at
            .client
            .create_space()
            .domain_id(domain.as_str())
            // Named like its owner: space names are unique per domain, as profile names are.
            .space_name(owner.as_str())
            .set_space_display_name(space.display_name.clone())
            .ownership_settings(
                OwnershipSettings::builder()
                    .owner_user_profile_name(owner.as_str())
                    .build(),
            )
            .space_sharing_settings(
                SpaceSharingSettings::builder()
                    .sharing_type(SharingType::Private)
                    .build(),
            )
            .space_settings(
                SpaceSettings::builder()
                    .app_type(AppType::JupyterLab)
                    .set_space_storage_settings(storage)
                    .build(),
            )
            .send()
            .await
        {
            Ok(_) => Ok(CreateOutcome::Created),
            Err(e) if code_of(&e) == Some("ResourceInUse") => Ok(CreateOutcome::AlreadyExists),
            Err(e) => Err(aws_error(SERVICE, "CreateSpace", e)),
        }
    }

    async fn assign(&self, application_arn: &str, user: &UserId) -> Result<()> {
        self.sso_rate.wait().await;
        match self
            .sso
            .create_application_assignment()
            .application_arn(application_arn)
            .principal_id(user.as_str())
            .principal_type(PrincipalType::User)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("ConflictException") => Ok(()),
            Err(e) => Err(aws_error("sso-admin", "CreateApplicationAssignment", e)),
        }
    }

    async fn unassign(&self, application_arn: &str, user: &UserId) -> Result<()> {
        self.sso_rate.wait().await;
        match self
            .sso
            .delete_application_assignment()
            .application_arn(application_arn)
            .principal_id(user.as_str())
            .principal_type(PrincipalType::User)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if code_of(&e) == Some("ResourceNotFoundException") => Ok(()),
            Err(e) => Err(aws_error("sso-admin", "DeleteApplicationAssignment", e)),
        }
    }
}
