//! The settings a profile gets from its mapping, and their fingerprint. A leaf of the
//! vocabulary: the policy, the model and the drift checks all use it, and it uses only ids.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::ids::SecurityGroupId;

/// The settings a profile gets from its mapping.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ProfileTemplate {
    pub execution_role: String,
    pub security_groups: Vec<SecurityGroupId>,
    pub tags: BTreeMap<String, String>,
    pub apps: AppDefaults,
    /// Created with the profile; not part of the fingerprint (see [`PrivateSpace`]).
    #[serde(skip)]
    pub private_space: Option<PrivateSpace>,
}

/// Default app settings applied to the profile's UserSettings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppDefaults {
    /// `studio::` (Studio) or `app:JupyterServer:` and the like.
    pub default_landing_uri: Option<String>,
    /// Default instance type of the user's JupyterLab apps, e.g. `ml.t3.medium`.
    pub jupyterlab_instance_type: Option<String>,
    /// Lifecycle configurations the user's JupyterLab apps may use.
    #[serde(default)]
    pub jupyterlab_lifecycle_config_arns: Vec<String>,
    /// Default instance type of the user's Code Editor apps.
    pub code_editor_instance_type: Option<String>,
    // The members below were added later. Each is left out of the canonical JSON while unset,
    // so that a mapping that does not use them keeps the fingerprint it had before they
    // existed (an upgrade sends no UpdateUserProfile to profiles whose settings did not change).
    /// The JupyterLab settings of `JupyterLabAppSettings` beyond the instance type.
    #[serde(default, skip_serializing_if = "AppTypeSettings::is_empty")]
    pub jupyterlab: AppTypeSettings,
    /// The Code Editor settings of `CodeEditorAppSettings` beyond the instance type.
    #[serde(default, skip_serializing_if = "AppTypeSettings::is_empty")]
    pub code_editor: AppTypeSettings,
    /// Instance types hidden from the user in Studio
    /// (`StudioWebPortalSettings.HiddenInstanceTypes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden_instance_types: Vec<String>,
}

/// Per app type (JupyterLab, Code Editor): idle shutdown, the default lifecycle configuration and
/// image, the lifecycle configurations and custom images the user may pick.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppTypeSettings {
    /// `AppLifecycleManagement.IdleSettings`; `None`: not sent (the domain's settings apply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle: Option<IdleShutdown>,
    /// `DefaultResourceSpec.LifecycleConfigArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_lifecycle_config_arn: Option<String>,
    /// `DefaultResourceSpec.SageMakerImageArn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_arn: Option<String>,
    /// `LifecycleConfigArns` (Code Editor only: JupyterLab's stay in
    /// [`AppDefaults::jupyterlab_lifecycle_config_arns`], where they were first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_config_arns: Vec<String>,
    /// `CustomImages`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_images: Vec<CustomImage>,
}

impl AppTypeSettings {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// Idle shutdown of an app type (`IdleSettings` with `LifecycleManagement = ENABLED`), in
/// minutes: the timeout, and the range within which the user may change it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdleShutdown {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_timeout_minutes: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_timeout_minutes: Option<i32>,
}

/// A custom image the user may pick (`CustomImage`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomImage {
    pub image_name: String,
    pub app_image_config_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_version_number: Option<i32>,
}

/// A private JupyterLab space created for the user when the profile is created, owned by the
/// profile (so offboarding deletes it with the user's other private spaces). It is named like
/// the profile (space names are unique per domain, as profile names are); `display_name` is
/// what Studio shows. Creation-only: it is not part of the fingerprint, and a later change of
/// it (or a space the user deleted) sends nothing to SageMaker.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrivateSpace {
    /// `SpaceDisplayName`.
    pub display_name: Option<String>,
    /// `SpaceStorageSettings.EbsStorageSettings.EbsVolumeSizeInGb`; `None`: the domain's default.
    pub ebs_size_gb: Option<i32>,
}

/// A stable fingerprint of a template (hex SHA-256 of its canonical JSON, first 16 digits).
pub fn template_hash(template: &ProfileTemplate) -> String {
    // Serialising a struct of strings, vectors and BTreeMaps cannot fail; fall back to Debug
    // so that the function stays total.
    let canonical =
        serde_json::to_vec(template).unwrap_or_else(|_| format!("{template:?}").into_bytes());
    Sha256::digest(&canonical)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}
