//! The engine's and the drift checks' adapters, built once per cold start from one
//! `SdkConfig`.

use aws_types::SdkConfig;

use super::{AwsEngine, Settings};
use crate::adapters::{
    CallRate, DynamoLedger, Ec2Network, IdentityStoreDirectory, PerDomain, Reach, SageMakerStudio,
    SnsAlerts, paced,
};
use crate::drift::Guard;
use crate::engine::{Engine, EngineOptions};
use crate::metrics::{AwsCalls, MeteredClient};

/// Builds the engine's adapters from one `SdkConfig`.
pub fn build_engine(settings: &Settings, sdk: &SdkConfig) -> AwsEngine {
    build_engine_with(settings, sdk, None)
}

/// As [`build_engine`], with every client counting its calls into `calls`.
///
/// Clients for the function's own account and region are built here; those for domains
/// elsewhere on first use (see [`PerDomain`]), so that cold start costs the same whatever the
/// policy names. Nothing here calls AWS: an assumed role's credentials are fetched on the first
/// call that needs them.
pub fn build_engine_with(
    settings: &Settings,
    sdk: &SdkConfig,
    calls: Option<&AwsCalls>,
) -> AwsEngine {
    let policy = settings.policy.clone();
    // The Identity Store lives in the Identity Center home region, which may differ, and may be
    // reached through a role in the Identity Center account.
    let identity_sdk = Reach::new(sdk, calls, settings.identity_tps).config(
        policy.identity_store.region.as_deref(),
        policy.identity_store.role.as_deref(),
    );
    // One limiter for all of Identity Center (Identity Store and SSO admin share the quota).
    let identity_rate = CallRate::per_second(settings.identity_tps);
    let sagemaker_rate = CallRate::per_second(settings.sagemaker_tps);
    let sagemaker = PerDomain::for_policy(
        aws_sdk_sagemaker::Client::metered(&paced(sdk, sagemaker_rate.clone()), calls),
        sagemaker_rate,
        &policy,
        Reach::new(sdk, calls, settings.sagemaker_tps),
    );
    Engine {
        directory: IdentityStoreDirectory::new(
            aws_sdk_identitystore::Client::metered(&identity_sdk, calls),
            policy.identity_store.id.clone(),
        )
        .with_rate(identity_rate.clone()),
        studio: SageMakerStudio::with_clients(
            sagemaker,
            aws_sdk_ssoadmin::Client::metered(&identity_sdk, calls),
        )
        .with_sso_rate(identity_rate),
        ledger: DynamoLedger::new(
            aws_sdk_dynamodb::Client::metered(sdk, calls),
            settings.table.clone(),
        ),
        options: EngineOptions {
            concurrency: settings.concurrency,
            ..EngineOptions::default()
        },
        policy,
    }
}

/// The drift checker over the real AWS adapters.
pub type AwsGuard = Guard<SageMakerStudio, Ec2Network, SnsAlerts, DynamoLedger>;

/// Builds the drift checker from the same `SdkConfig`, sharing the engine's SageMaker adapter
/// (and its call rate) and ledger.
pub fn build_guard(settings: &Settings, sdk: &SdkConfig, engine: &AwsEngine) -> AwsGuard {
    build_guard_with(settings, sdk, engine, None)
}

/// As [`build_guard`], with its own clients (SNS, EC2) counting their calls into `calls`.
pub fn build_guard_with(
    settings: &Settings,
    sdk: &SdkConfig,
    engine: &AwsEngine,
    calls: Option<&AwsCalls>,
) -> AwsGuard {
    let alerts = settings
        .topic_arn
        .as_ref()
        .map(|arn| SnsAlerts::new(aws_sdk_sns::Client::metered(sdk, calls), arn.clone()));
    if alerts.is_none() {
        tracing::warn!(
            "WARDEN_TOPIC_ARN is not set: drift findings are recorded in the ledger and logged, but no alert is published"
        );
    }
    let ec2_rate = CallRate::per_second(crate::adapters::EC2_TPS);
    Guard {
        policy: settings.policy.clone(),
        inspector: engine.studio.clone(),
        network: Ec2Network::with_clients(PerDomain::for_policy(
            aws_sdk_ec2::Client::metered(&paced(sdk, ec2_rate.clone()), calls),
            ec2_rate,
            &settings.policy,
            Reach::new(sdk, calls, crate::adapters::EC2_TPS),
        )),
        alerts,
        store: engine.ledger.clone(),
        region: sdk
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.to_string()),
        concurrency: settings.concurrency,
        deadline_margin: engine.options.deadline_margin,
    }
}
