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
