//! A whole studio-warden world on the emulator: the ledger table, a SageMaker domain, an
//! Identity Store with the policy's groups, and the real engine and handler over the real SDK
//! clients. Scenario tests and `make demo` are written against it.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use aws_sdk_ec2::types::{IpPermission, IpRange, VpcEndpointType};
use aws_sdk_identitystore::types::MemberId;
use aws_sdk_sagemaker::types::{
    AppNetworkAccessType, AppType, AuthMode, OwnershipSettings, SharingType, SpaceSharingSettings,
    UserSettings,
};
use aws_types::SdkConfig;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use warden::events;
use warden::ids::{DomainId, UserId};
use warden::model::UserRecord;
use warden::policy::Policy;
use warden::ports::{HistoryEntry, Ledger};
use warden::runtime::{AwsEngine, AwsGuard, HandlerError, Settings, build_engine, build_guard};

use crate::{Emulator, EmulatorOptions, HarnessError};

/// The identity store every sample event in `events/` names.
pub const STORE: &str = "d-9067c0ffee";
/// The ids the samples in `events/` use, replaced by the real ones before a sample is fed in.
pub const SAMPLE_USER_1: &str = "9067c0ffee-1111aaaa-0000-4000-8000-000000000001";
pub const SAMPLE_USER_2: &str = "9067c0ffee-1111aaaa-0000-4000-8000-000000000002";
pub const SAMPLE_GROUP_1: &str = "9067c0ffee-2222bbbb-0000-4000-8000-000000000001";
pub const SAMPLE_GROUP_2: &str = "9067c0ffee-2222bbbb-0000-4000-8000-000000000002";
pub const SAMPLE_MEMBERSHIP_1: &str = "9067c0ffee-3333cccc-0000-4000-8000-000000000001";
pub const SAMPLE_DOMAIN: &str = "d-abc123def456";

/// The policy's groups.
pub const RESEARCHERS: &str = "ml-researchers";
pub const LEADS: &str = "ml-leads";
pub const RESEARCH_ROLE: &str = "arn:aws:iam::123456789012:role/studio-research";
pub const LEAD_ROLE: &str = "arn:aws:iam::123456789012:role/studio-research-lead";
/// Placeholders in [`policy_toml`]; a [`World`] replaces them with the real EC2 groups it
/// creates ([`World::research_sg`], [`World::lead_sg`]).
pub const RESEARCH_SG: &str = "sg-0a1b2c3d4e5f60001";
pub const LEAD_SG: &str = "sg-0a1b2c3d4e5f60002";
/// The customer-managed key the world's domain is created with.
pub const KMS_KEY: &str =
    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
/// The account a world's baseline trusts for VpcOnly Docker images.
pub const TRUSTED_ACCOUNT: &str = "111122223333";
/// The interface endpoints a world's VPC has (the baseline's required three).
pub const ENDPOINT_SERVICES: &[&str] = &["sagemaker.api", "sagemaker.runtime", "sts"];

/// Options of a world.
#[derive(Debug, Clone)]
pub struct WorldOptions {
    pub grace_period: &'static str,
    /// `offboarding.retention`: how long a suspended user's data is kept. The default is
    /// `"0s"`: most tests are about what offboarding does (its order, shared spaces, failed
    /// apps, cuts, races), not when, and with no retention they still go through both stages
    /// (a suspension, then the deletion on the next pass) with the clocks they had. Tests about
    /// the timeline set a real one.
    pub retention: &'static str,
    /// `offboarding.remove`: "profile" or "apps".
    pub remove: &'static str,
    /// `offboarding.shared_spaces`: "keep" or "delete".
    pub shared_spaces: &'static str,
    pub auth_mode: AuthMode,
    pub emulator: EmulatorOptions,
    /// `Some(extra TOML lines)`: the domain gets a `[domains.baseline]` (the world's VPC,
    /// subnets, key, role, egress within the VPC) plus these lines, and the drift checks run.
    /// `None`: no baseline, no drift checks.
    pub baseline: Option<String>,
    /// Whether the domain is created with [`KMS_KEY`] (else AWS's own key).
    pub domain_kms_key: bool,
}

impl Default for WorldOptions {
    fn default() -> Self {
        Self {
            grace_period: "1h",
            retention: "0s",
            remove: "profile",
            shared_spaces: "keep",
            auth_mode: AuthMode::Iam,
            emulator: EmulatorOptions {
                status_delay: Duration::from_millis(200),
                ..EmulatorOptions::default()
            },
            baseline: None,
            domain_kms_key: true,
        }
    }
}

/// Everything a scenario needs.
pub struct World {
    pub emulator: Emulator,
    pub sdk: SdkConfig,
    pub domain: DomainId,
    pub table: String,
    pub researchers: String,
    pub leads: String,
    pub policy_source: String,
    pub engine: AwsEngine,
    /// The drift checks (checks nothing when the policy has no baseline).
    pub guard: AwsGuard,
    pub identity: aws_sdk_identitystore::Client,
    pub sagemaker: aws_sdk_sagemaker::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    /// The domain's VPC (10.0.0.0/16) and its two private subnets.
    pub vpc: String,
    pub subnets: Vec<String>,
    /// The mappings' security groups, real EC2 groups of the VPC (egress within the VPC).
    pub research_sg: String,
    pub lead_sg: String,
    /// Interface endpoints of the VPC, by service (`sts` -> `vpce-...`).
    pub endpoints: BTreeMap<String, String>,
    /// The alert topic (`WARDEN_TOPIC_ARN`) and the SQS queue subscribed to it.
    pub topic_arn: String,
    pub queue_url: String,
}

/// An alert as an SQS subscriber of the topic receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedAlert {
    pub subject: String,
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}

impl ReceivedAlert {
    /// The JSON document after the readable text.
    pub fn document(&self) -> Option<Value> {
        let (_, json) = self.body.rsplit_once("\n\n")?;
        serde_json::from_str(json).ok()
    }
}

/// A fixture step failed; tests `expect` on these with the step's name.
#[derive(Debug, thiserror::Error)]
pub enum WorldError {
    #[error(transparent)]
    Harness(#[from] HarnessError),
    #[error("{step}: {message}")]
    Step { step: &'static str, message: String },
}

fn step<E: std::error::Error + 'static>(step: &'static str) -> impl FnOnce(E) -> WorldError {
    move |e| WorldError::Step {
        step,
        message: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string(),
    }
}

/// The policy the worlds run under.
pub fn policy_toml(domain: &str, leads_group_id: &str, grace_period: &str, remove: &str) -> String {
    format!(
        r#"[identity_store]
id = "{STORE}"
region = "us-east-1"

[[domains]]
name = "research"
id = "{domain}"

[[mappings]]
group = "{RESEARCHERS}"
domain = "research"
priority = 10
execution_role = "{RESEARCH_ROLE}"
security_groups = ["{RESEARCH_SG}"]
tags = {{ team = "research" }}

[mappings.apps]
default_landing_uri = "studio::"
jupyterlab_instance_type = "ml.t3.medium"

[[mappings]]
group_id = "{leads_group_id}"
domain = "research"
priority = 20
execution_role = "{LEAD_ROLE}"
security_groups = ["{RESEARCH_SG}", "{LEAD_SG}"]
tags = {{ team = "research", tier = "lead" }}

[offboarding]
grace_period = "{grace_period}"
remove = "{remove}"
"#
    )
}

/// The engine and the drift checks of a world, under a policy.
fn functions(
    policy: Policy,
    table: &str,
    topic_arn: &str,
    sdk: &SdkConfig,
) -> (AwsEngine, AwsGuard) {
    let settings = Settings {
        policy: std::sync::Arc::new(policy),
        table: table.to_owned(),
        concurrency: 4,
        // The emulator has no quota; pace anyway (the limiter is part of the path under
        // test), but well above AWS's rates so that scenarios stay quick.
        identity_tps: 200,
        sagemaker_tps: 200,
        topic_arn: Some(topic_arn.to_owned()),
        work_queue: None,
    };
    let engine = build_engine(&settings, sdk);
    let guard = build_guard(&settings, sdk, &engine);
    (engine, guard)
}

impl World {
    /// Deploys another policy (a new cold start): the functions are built anew over the same
    /// world. The policy is taken as given: a test may hand in one that the policy's own
    /// validation would refuse, to see what AWS makes of it.
    pub fn deploy(&mut self, policy: Policy) {
        let (engine, guard) = functions(policy, &self.table, &self.topic_arn, &self.sdk);
        self.engine = engine;
        self.guard = guard;
    }

    /// Deploys the world's policy with `from` replaced by `to` in its source (parsed and
    /// validated, as a deployment would).
    pub fn edit_policy(&mut self, from: &str, to: &str) -> Result<(), WorldError> {
        if !self.policy_source.contains(from) {
            return Err(WorldError::Step {
                step: "edit policy",
                message: format!("{from:?} is not in the policy"),
            });
        }
        let source = self.policy_source.replacen(from, to, 1);
        let policy = Policy::parse(&source, "world", &BTreeMap::new()).map_err(step("policy"))?;
        self.policy_source = source;
        self.deploy(policy);
        Ok(())
    }

    /// Deploys `source` as functions whose own account and region are `home` (the stack sets
    /// `WARDEN_ACCOUNT_ID`; Lambda sets `AWS_REGION`): the policy may place domains in other
    /// accounts and regions.
    pub fn deploy_at(
        &mut self,
        source: &str,
        home: &warden::policy::Home,
    ) -> Result<(), WorldError> {
        let policy =
            Policy::parse_at(source, "world", &BTreeMap::new(), home).map_err(step("policy"))?;
        self.policy_source = source.to_owned();
        self.deploy(policy);
        Ok(())
    }

    /// Deploys `source` as functions running in another account (`sdk`'s credentials), whose
    /// own account and region are `home`: a hub that reaches this world's account through
    /// roles. The hub's ledger table (the world's table name) is created in the hub's account
    /// on the first such deployment, and the world's ledger helpers then read it.
    pub async fn deploy_hub(
        &mut self,
        source: &str,
        home: &warden::policy::Home,
        sdk: SdkConfig,
    ) -> Result<(), WorldError> {
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let exists = dynamodb
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
            .is_ok();
        if !exists {
            create_ledger_table(&dynamodb, &self.table).await?;
        }
        let policy =
            Policy::parse_at(source, "world", &BTreeMap::new(), home).map_err(step("policy"))?;
        let (engine, guard) = functions(policy, &self.table, &self.topic_arn, &sdk);
        self.policy_source = source.to_owned();
        self.engine = engine;
        self.guard = guard;
        self.dynamodb = dynamodb;
        Ok(())
    }

    pub async fn new() -> Result<World, WorldError> {
        Self::with(WorldOptions::default()).await
    }

    pub async fn with(options: WorldOptions) -> Result<World, WorldError> {
        let emulator = Emulator::start_with(options.emulator.clone()).await?;
        let sdk = emulator.sdk_config();
        let identity = aws_sdk_identitystore::Client::new(&sdk);
        let sagemaker = aws_sdk_sagemaker::Client::new(&sdk);
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        let table = "studio-warden-ledger".to_owned();
        create_ledger_table(&dynamodb, &table).await?;
        let ec2 = aws_sdk_ec2::Client::new(&sdk);
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let net = create_network(&ec2).await?;
        let (topic_arn, queue_url) = create_alert_topic(&sns, &sqs).await?;
        let mut create = sagemaker
            .create_domain()
            .domain_name("research")
            .auth_mode(options.auth_mode)
            .app_network_access_type(AppNetworkAccessType::VpcOnly)
            .default_user_settings(
                UserSettings::builder()
                    .execution_role(RESEARCH_ROLE)
                    .security_groups(&net.research_sg)
                    .build(),
            )
            .set_subnet_ids(Some(net.subnets.clone()))
            .vpc_id(&net.vpc);
        if options.domain_kms_key {
            create = create.kms_key_id(KMS_KEY);
        }
        let domain = create
            .send()
            .await
            .map_err(step("CreateDomain"))?
            .domain_id()
            .map(str::to_owned)
            .ok_or(WorldError::Step {
                step: "CreateDomain",
                message: "no domain id".into(),
            })?;
        let domain = DomainId::parse(&domain).map_err(step("domain id"))?;
        let researchers = create_group(&identity, RESEARCHERS).await?;
        let leads = create_group(&identity, LEADS).await?;
        let mut policy_source = policy_toml(
            domain.as_str(),
            &leads,
            options.grace_period,
            options.remove,
        )
        .replace(RESEARCH_SG, &net.research_sg)
        .replace(LEAD_SG, &net.lead_sg)
        .replace(
            "[offboarding]\n",
            &format!(
                "[offboarding]\nshared_spaces = \"{}\"\nretention = \"{}\"\n",
                options.shared_spaces, options.retention
            ),
        );
        if let Some(extra) = &options.baseline {
            let baseline = baseline_toml(&net, extra);
            policy_source =
                policy_source.replacen("[[mappings]]", &format!("{baseline}\n[[mappings]]"), 1);
        }
        let policy =
            Policy::parse(&policy_source, "world", &BTreeMap::new()).map_err(step("policy"))?;
        let (engine, guard) = functions(policy, &table, &topic_arn, &sdk);
        Ok(World {
            emulator,
            sdk,
            domain,
            table,
            researchers,
            leads,
            policy_source,
            engine,
            guard,
            identity,
            sagemaker,
            dynamodb,
            ec2,
            sns,
            sqs,
            vpc: net.vpc,
            subnets: net.subnets,
            research_sg: net.research_sg,
            lead_sg: net.lead_sg,
            endpoints: net.endpoints,
            topic_arn,
            queue_url,
        })
    }

    /// Every alert waiting in the queue subscribed to the topic, oldest first; they are
    /// deleted from the queue as they are read.
    pub async fn read_alerts(&self) -> Result<Vec<ReceivedAlert>, WorldError> {
        let mut out = Vec::new();
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(step("ReceiveMessage"))?;
            let messages = received.messages();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let envelope: Value = serde_json::from_str(m.body().unwrap_or_default())
                    .map_err(step("SNS envelope"))?;
                let attributes = envelope["MessageAttributes"]
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(k, v)| {
                                (
                                    k.clone(),
                                    v["Value"].as_str().unwrap_or_default().to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(ReceivedAlert {
                    subject: envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                    body: envelope["Message"].as_str().unwrap_or_default().to_owned(),
                    attributes,
                });
                if let Some(handle) = m.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(step("DeleteMessage"))?;
                }
            }
        }
        Ok(out)
    }

    /// Runs only the drift sweep with a deadline (none: no limit).
    pub async fn drift_sweep_until(
        &self,
        deadline: tokio::time::Instant,
    ) -> warden::drift::DriftReport {
        self.guard
            .sweep(
                &format!("sweep-{}", ulid_like()),
                warden::model::Mode::Apply,
                now(),
                Some(deadline),
            )
            .await
    }

    /// Runs only the drift sweep, as if the clock read `now` (for reminders).
    pub async fn drift_sweep_at(&self, now: i64) -> warden::drift::DriftReport {
        self.guard
            .sweep(
                &format!("sweep-{}", ulid_like()),
                warden::model::Mode::Apply,
                now,
                None,
            )
            .await
    }

    /// Creates a security group in the world's VPC (default egress to anywhere, as EC2 does).
    pub async fn security_group(&self, name: &str) -> Result<String, WorldError> {
        create_sg(&self.ec2, &self.vpc, name, false).await
    }

    /// Adds an ingress rule to a group: `protocol`, port, CIDR.
    pub async fn allow_ingress(
        &self,
        group: &str,
        port: i32,
        cidr: &str,
    ) -> Result<(), WorldError> {
        self.ec2
            .authorize_security_group_ingress()
            .group_id(group)
            .ip_permissions(permission("tcp", port, cidr))
            .send()
            .await
            .map_err(step("AuthorizeSecurityGroupIngress"))?;
        Ok(())
    }

    /// Removes an ingress rule added by [`World::allow_ingress`].
    pub async fn revoke_ingress(
        &self,
        group: &str,
        port: i32,
        cidr: &str,
    ) -> Result<(), WorldError> {
        self.ec2
            .revoke_security_group_ingress()
            .group_id(group)
            .ip_permissions(permission("tcp", port, cidr))
            .send()
            .await
            .map_err(step("RevokeSecurityGroupIngress"))?;
        Ok(())
    }

    /// Adds an egress rule to a group.
    pub async fn allow_egress(&self, group: &str, port: i32, cidr: &str) -> Result<(), WorldError> {
        self.ec2
            .authorize_security_group_egress()
            .group_id(group)
            .ip_permissions(permission("tcp", port, cidr))
            .send()
            .await
            .map_err(step("AuthorizeSecurityGroupEgress"))?;
        Ok(())
    }

    /// Sets the domain's AppNetworkAccessType.
    pub async fn set_network_access(&self, access: AppNetworkAccessType) -> Result<(), WorldError> {
        self.sagemaker
            .update_domain()
            .domain_id(self.domain.as_str())
            .app_network_access_type(access)
            .send()
            .await
            .map_err(step("UpdateDomain"))?;
        Ok(())
    }

    /// Creates a user and returns the id.
    pub async fn add_user(&self, user_name: &str) -> Result<String, WorldError> {
        let out = self
            .identity
            .create_user()
            .identity_store_id(STORE)
            .user_name(user_name)
            .display_name(user_name)
            .name(
                aws_sdk_identitystore::types::Name::builder()
                    .given_name(user_name)
                    .family_name("Example")
                    .build(),
            )
            .send()
            .await
            .map_err(step("CreateUser"))?;
        Ok(out.user_id().to_owned())
    }

    /// Adds a user to a group and returns the membership id.
    pub async fn join(&self, user: &str, group: &str) -> Result<String, WorldError> {
        let out = self
            .identity
            .create_group_membership()
            .identity_store_id(STORE)
            .group_id(group)
            .member_id(MemberId::UserId(user.to_owned()))
            .send()
            .await
            .map_err(step("CreateGroupMembership"))?;
        Ok(out.membership_id().to_owned())
    }

    pub async fn leave(&self, membership: &str) -> Result<(), WorldError> {
        self.identity
            .delete_group_membership()
            .identity_store_id(STORE)
            .membership_id(membership)
            .send()
            .await
            .map_err(step("DeleteGroupMembership"))?;
        Ok(())
    }

    pub async fn delete_user(&self, user: &str) -> Result<(), WorldError> {
        self.identity
            .delete_user()
            .identity_store_id(STORE)
            .user_id(user)
            .send()
            .await
            .map_err(step("DeleteUser"))?;
        Ok(())
    }

    pub async fn delete_group(&self, group: &str) -> Result<(), WorldError> {
        self.identity
            .delete_group()
            .identity_store_id(STORE)
            .group_id(group)
            .send()
            .await
            .map_err(step("DeleteGroup"))?;
        Ok(())
    }

    /// Renames a group (UpdateGroup on displayName), as an administrator or the IdP would.
    pub async fn rename_group(&self, group: &str, new_name: &str) -> Result<(), WorldError> {
        self.identity
            .update_group()
            .identity_store_id(STORE)
            .group_id(group)
            .operations(
                aws_sdk_identitystore::types::AttributeOperation::builder()
                    .attribute_path("displayName")
                    .attribute_value(aws_smithy_types::Document::String(new_name.to_owned()))
                    .build()
                    .map_err(step("AttributeOperation"))?,
            )
            .send()
            .await
            .map_err(step("UpdateGroup"))?;
        Ok(())
    }

    /// Creates a group.
    pub async fn create_group(&self, name: &str) -> Result<String, WorldError> {
        create_group(&self.identity, name).await
    }

    /// Renames a user (UpdateUser on userName).
    pub async fn rename(&self, user: &str, new_name: &str) -> Result<(), WorldError> {
        let op = aws_sdk_identitystore::types::AttributeOperation::builder()
            .attribute_path("userName")
            .attribute_value(aws_smithy_types::Document::String(new_name.to_owned()))
            .build()
            .map_err(step("AttributeOperation"))?;
        self.identity
            .update_user()
            .identity_store_id(STORE)
            .user_id(user)
            .operations(op)
            .send()
            .await
            .map_err(step("UpdateUser"))?;
        Ok(())
    }

    /// Disables or enables a user, as the Identity Center console does.
    pub async fn set_enabled(&self, user: &str, enabled: bool) -> Result<(), WorldError> {
        Ok(self.emulator.set_user_status(STORE, user, enabled).await?)
    }

    /// A sample from `events/`, with its fixture ids replaced by this world's.
    pub fn sample(&self, file: &str, ids: &[(&str, &str)]) -> Result<Value, WorldError> {
        let path = crate::workspace_root().join("events").join(file);
        let mut text = std::fs::read_to_string(&path).map_err(step("read sample"))?;
        text = text.replace(SAMPLE_DOMAIN, self.domain.as_str());
        for (from, to) in ids {
            text = text.replace(from, to);
        }
        serde_json::from_str(&text).map_err(step("parse sample"))
    }

    /// The Identity Store's CreateGroupMembership event (from `events/`) for `user` joining
    /// `group` through `membership`.
    pub fn joined_event(
        &self,
        user: &str,
        group: &str,
        membership: &str,
    ) -> Result<Value, WorldError> {
        self.sample(
            "identitystore-CreateGroupMembership.json",
            &[
                (SAMPLE_USER_1, user),
                (SAMPLE_GROUP_1, group),
                (SAMPLE_MEMBERSHIP_1, membership),
            ],
        )
    }

    /// Feeds a payload (a JSON value, or what [`warden::runtime::Payload::from_slice`] made of
    /// raw bytes) to the real handler, as Lambda would.
    pub async fn invoke(
        &self,
        payload: impl Into<warden::runtime::Payload>,
    ) -> Result<Value, HandlerError> {
        let mut context = Context::default();
        context.request_id = format!("req-{}", ulid_like());
        warden::runtime::handle(
            &self.engine,
            &self.guard,
            LambdaEvent::new(payload.into(), context),
        )
        .await
    }

    /// The world's engine and drift checks built again as a function builds them: the
    /// product's retry configuration (adaptive, six attempts: not the harness's) and
    /// `margin` as the deadline margin.
    pub fn lambda_like(&self, margin: Duration) -> (AwsEngine, AwsGuard) {
        let sdk = self
            .sdk
            .to_builder()
            .retry_config(warden::runtime::retry_config())
            .build();
        let settings = Settings {
            policy: self.engine.policy.clone(),
            table: self.table.clone(),
            concurrency: 4,
            identity_tps: 200,
            sagemaker_tps: 200,
            topic_arn: Some(self.topic_arn.clone()),
            work_queue: None,
        };
        let mut engine = build_engine(&settings, &sdk);
        engine.options.deadline_margin = margin;
        let guard = build_guard(&settings, &sdk, &engine);
        (engine, guard)
    }

    /// Feeds a payload to the real handler as `function` runs in Lambda, with metrics: the
    /// world's functions built again with clients that count their AWS calls, and the one
    /// embedded metric format record the invocation writes (captured instead of stdout).
    /// Answers the handler's answer and the record.
    pub async fn invoke_metered(
        &self,
        function: warden::service::Function,
        payload: impl Into<warden::runtime::Payload>,
    ) -> (Result<Value, HandlerError>, String) {
        let sink = warden::metrics::Captured::default();
        let telemetry = warden::metrics::Telemetry::from_lookup(
            |_| None,
            function.name(),
            std::sync::Arc::new(sink.clone()),
        );
        let settings = Settings {
            policy: self.engine.policy.clone(),
            table: self.table.clone(),
            concurrency: 4,
            identity_tps: 200,
            sagemaker_tps: 200,
            topic_arn: Some(self.topic_arn.clone()),
            work_queue: None,
        };
        let calls = Some(&telemetry.calls);
        let engine = warden::runtime::build_engine_with(&settings, &self.sdk, calls);
        let guard = warden::runtime::build_guard_with(&settings, &self.sdk, &engine, calls);
        let mut context = Context::default();
        context.request_id = format!("req-{}", ulid_like());
        let answer = warden::runtime::handle_with_metrics(
            function,
            &engine,
            &guard,
            &warden::fanout::NoFanOut,
            LambdaEvent::new(payload.into(), context),
            &telemetry,
        )
        .await;
        (answer, sink.lines().join("\n"))
    }

    /// Feeds a payload to the real handler of `engine` and `guard`, with Lambda's deadline
    /// `time_left` from now.
    pub async fn invoke_within(
        engine: &AwsEngine,
        guard: &AwsGuard,
        payload: Value,
        time_left: Duration,
    ) -> Result<Value, HandlerError> {
        let mut context = Context::default();
        context.request_id = format!("req-{}", ulid_like());
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        context.deadline = now_ms + time_left.as_millis() as u64;
        warden::runtime::handle(engine, guard, LambdaEvent::new(payload, context)).await
    }

    /// Runs the engine on a payload as if the clock read `now` (for grace periods).
    pub async fn invoke_at(
        &self,
        payload: Value,
        now: i64,
    ) -> Result<warden::engine::Report, warden::WardenError> {
        let inbound = events::classify(&payload, &self.engine.policy.identity_store.id)?;
        self.engine.handle(inbound, now, None).await
    }

    /// Runs the operator CLI, `studio-warden ARGS...` (without the program name), against
    /// this world as an operator would against a deployment: the deployment's settings (the
    /// world's policy as `WARDEN_POLICY`, its table as `WARDEN_TABLE`, its topic) and the
    /// emulator's endpoint and credentials with the functions' retry configuration. `$USER`
    /// is `operator`. The same entry point as the `studio-warden` binary.
    pub async fn cli(&self, args: &[&str]) -> (warden::operator::Exit, warden::operator::Output) {
        let vars: BTreeMap<&str, String> = BTreeMap::from([
            ("WARDEN_POLICY", self.policy_source.clone()),
            ("WARDEN_TABLE", self.table.clone()),
            ("WARDEN_TOPIC_ARN", self.topic_arn.clone()),
            ("USER", "operator".to_owned()),
        ]);
        let var = move |key: &str| vars.get(key).cloned();
        let env = warden::operator::Environment {
            var: &var,
            sdk: Some(
                self.sdk
                    .to_builder()
                    .retry_config(warden::runtime::retry_config())
                    .build(),
            ),
            now: now(),
        };
        let mut out = warden::operator::Output::default();
        let argv = std::iter::once("studio-warden").chain(args.iter().copied());
        let exit = warden::operator::run(argv, &env, &mut out).await;
        (exit, out)
    }

    /// The domain's profiles: name -> status.
    pub async fn profiles(&self) -> Result<BTreeMap<String, String>, WorldError> {
        let mut out = BTreeMap::new();
        let mut pages = self
            .sagemaker
            .list_user_profiles()
            .domain_id_equals(self.domain.as_str())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for p in page.map_err(step("ListUserProfiles"))?.user_profiles() {
                out.insert(
                    p.user_profile_name().unwrap_or_default().to_owned(),
                    p.status()
                        .map(|s| s.as_str().to_owned())
                        .unwrap_or_default(),
                );
            }
        }
        Ok(out)
    }

    /// A profile as DescribeUserProfile shows it.
    pub async fn describe(
        &self,
        profile: &str,
    ) -> Result<
        aws_sdk_sagemaker::operation::describe_user_profile::DescribeUserProfileOutput,
        WorldError,
    > {
        self.sagemaker
            .describe_user_profile()
            .domain_id(self.domain.as_str())
            .user_profile_name(profile)
            .send()
            .await
            .map_err(step("DescribeUserProfile"))
    }

    /// A profile's tags.
    pub async fn tags(&self, profile: &str) -> Result<BTreeMap<String, String>, WorldError> {
        let arn = self
            .describe(profile)
            .await?
            .user_profile_arn()
            .unwrap_or_default()
            .to_owned();
        let out = self
            .sagemaker
            .list_tags()
            .resource_arn(arn)
            .send()
            .await
            .map_err(step("ListTags"))?;
        Ok(out
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_owned(), t.value()?.to_owned())))
            .collect())
    }

    /// Whether a user is assigned to the domain's Identity Center application (SSO-mode
    /// domains; an IAM-mode domain has no application and assigns nobody).
    pub async fn assigned(&self, user: &str) -> Result<bool, WorldError> {
        let domain = self
            .sagemaker
            .describe_domain()
            .domain_id(self.domain.as_str())
            .send()
            .await
            .map_err(step("DescribeDomain"))?;
        let Some(app) = domain.single_sign_on_application_arn() else {
            return Ok(false);
        };
        let sso = aws_sdk_ssoadmin::Client::new(&self.sdk);
        let mut pages = sso
            .list_application_assignments()
            .application_arn(app)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(step("ListApplicationAssignments"))?;
            if page
                .application_assignments()
                .iter()
                .any(|a| a.principal_id() == user)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The domain's apps that are not gone (neither `Deleted` nor `Failed`), as
    /// `(owner, type, status)`: the owner is the profile or the space.
    pub async fn live_apps(&self) -> Result<Vec<(String, String, String)>, WorldError> {
        let mut out = Vec::new();
        let mut pages = self
            .sagemaker
            .list_apps()
            .domain_id_equals(self.domain.as_str())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            for a in page.map_err(step("ListApps"))?.apps() {
                let status = a.status().map(|s| s.as_str()).unwrap_or_default();
                if matches!(status, "Deleted" | "Failed") {
                    continue;
                }
                let owner = a.user_profile_name().or(a.space_name()).unwrap_or_default();
                out.push((
                    owner.to_owned(),
                    a.app_type()
                        .map(|t| t.as_str())
                        .unwrap_or_default()
                        .to_owned(),
                    status.to_owned(),
                ));
            }
        }
        Ok(out)
    }

    /// The ledger's record of a user in the domain.
    pub async fn record(&self, user: &str) -> Result<Option<UserRecord>, WorldError> {
        let user = UserId::parse(user).map_err(step("user id"))?;
        self.engine
            .ledger
            .record(&self.domain, &user)
            .await
            .map_err(step("ledger record"))
    }

    /// A user's history in the ledger, oldest first.
    pub async fn history(&self, user: &str) -> Result<Vec<HistoryEntry>, WorldError> {
        let user = UserId::parse(user).map_err(step("user id"))?;
        self.engine
            .ledger
            .history(&user)
            .await
            .map_err(step("ledger history"))
    }

    /// The successful `Create` rows of a user's history: exactly one per profile created.
    pub async fn creations(&self, user: &str) -> Result<Vec<HistoryEntry>, WorldError> {
        Ok(self
            .history(user)
            .await?
            .into_iter()
            .filter(|h| h.action == "Create" && h.outcome.starts_with("ok"))
            .collect())
    }

    /// Waits until every profile has left the transitional statuses.
    pub async fn settle(&self) -> Result<(), WorldError> {
        for _ in 0..100 {
            let profiles = self.profiles().await?;
            if profiles.values().all(|s| s == "InService" || s == "Failed") {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(WorldError::Step {
            step: "settle",
            message: "profiles did not settle in 10 s".into(),
        })
    }

    /// Creates an app for a profile (a user at work).
    pub async fn start_app(
        &self,
        profile: &str,
        app_type: AppType,
        name: &str,
    ) -> Result<(), WorldError> {
        self.sagemaker
            .create_app()
            .domain_id(self.domain.as_str())
            .user_profile_name(profile)
            .app_type(app_type)
            .app_name(name)
            .send()
            .await
            .map_err(step("CreateApp"))?;
        Ok(())
    }

    /// Creates a private space owned by a profile, with a running app.
    pub async fn private_space(&self, owner: &str, space: &str) -> Result<(), WorldError> {
        self.sagemaker
            .create_space()
            .domain_id(self.domain.as_str())
            .space_name(space)
            .ownership_settings(
                OwnershipSettings::builder()
                    .owner_user_profile_name(owner)
                    .build(),
            )
            .space_sharing_settings(
                SpaceSharingSettings::builder()
                    .sharing_type(SharingType::Private)
                    .build(),
            )
            .send()
            .await
            .map_err(step("CreateSpace"))?;
        tokio::time::sleep(Duration::from_millis(250)).await;
        self.sagemaker
            .create_app()
            .domain_id(self.domain.as_str())
            .space_name(space)
            .app_type(AppType::JupyterLab)
            .app_name("default")
            .send()
            .await
            .map_err(step("CreateApp (space)"))?;
        Ok(())
    }

    /// Creates a shared space owned by a profile, with a running app.
    pub async fn shared_space(&self, owner: &str, space: &str) -> Result<(), WorldError> {
        self.sagemaker
            .create_space()
            .domain_id(self.domain.as_str())
            .space_name(space)
            .ownership_settings(
                OwnershipSettings::builder()
                    .owner_user_profile_name(owner)
                    .build(),
            )
            .space_sharing_settings(
                SpaceSharingSettings::builder()
                    .sharing_type(SharingType::Shared)
                    .build(),
            )
            .send()
            .await
            .map_err(step("CreateSpace (shared)"))?;
        tokio::time::sleep(Duration::from_millis(250)).await;
        self.sagemaker
            .create_app()
            .domain_id(self.domain.as_str())
            .space_name(space)
            .app_type(AppType::JupyterLab)
            .app_name("default")
            .send()
            .await
            .map_err(step("CreateApp (shared space)"))?;
        Ok(())
    }

    /// The names of the domain's spaces.
    pub async fn spaces(&self) -> Result<Vec<String>, WorldError> {
        let out = self
            .sagemaker
            .list_spaces()
            .domain_id_equals(self.domain.as_str())
            .send()
            .await
            .map_err(step("ListSpaces"))?;
        Ok(out
            .spaces()
            .iter()
            .filter_map(|s| s.space_name().map(str::to_owned))
            .collect())
    }

    /// Creates a profile by hand, outside studio-warden.
    pub async fn hand_made_profile(&self, name: &str) -> Result<(), WorldError> {
        self.sagemaker
            .create_user_profile()
            .domain_id(self.domain.as_str())
            .user_profile_name(name)
            .send()
            .await
            .map_err(step("CreateUserProfile (by hand)"))?;
        Ok(())
    }
}

/// A handler response's actions, as (action, outcome).
pub fn actions(report: &Value) -> Vec<(String, String)> {
    report["actions"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    (
                        x["action"].as_str().unwrap_or_default().to_owned(),
                        x["outcome"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The wall clock in epoch seconds, as the engine's `now`.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn ulid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    )
}

/// The world's network: a VPC with two private subnets, the mappings' security groups and
/// the required interface endpoints.
struct Network {
    vpc: String,
    subnets: Vec<String>,
    research_sg: String,
    lead_sg: String,
    endpoints: BTreeMap<String, String>,
}

fn permission(protocol: &str, port: i32, cidr: &str) -> IpPermission {
    let range = IpRange::builder().cidr_ip(cidr).build();
    let p = IpPermission::builder()
        .ip_protocol(protocol)
        .ip_ranges(range);
    if protocol == "-1" {
        p.build()
    } else {
        p.from_port(port).to_port(port).build()
    }
}

/// A security group; `private`: EC2's default egress (anywhere) replaced by HTTPS within
/// the VPC.
async fn create_sg(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    name: &str,
    private: bool,
) -> Result<String, WorldError> {
    let id = ec2
        .create_security_group()
        .group_name(name)
        .description(format!("studio-warden test group {name}"))
        .vpc_id(vpc)
        .send()
        .await
        .map_err(step("CreateSecurityGroup"))?
        .group_id()
        .unwrap_or_default()
        .to_owned();
    if private {
        ec2.revoke_security_group_egress()
            .group_id(&id)
            .ip_permissions(permission("-1", 0, "0.0.0.0/0"))
            .send()
            .await
            .map_err(step("RevokeSecurityGroupEgress"))?;
        ec2.authorize_security_group_egress()
            .group_id(&id)
            .ip_permissions(permission("tcp", 443, "10.0.0.0/16"))
            .send()
            .await
            .map_err(step("AuthorizeSecurityGroupEgress"))?;
    }
    Ok(id)
}

async fn create_network(ec2: &aws_sdk_ec2::Client) -> Result<Network, WorldError> {
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .map_err(step("CreateVpc"))?
        .vpc()
        .and_then(|v| v.vpc_id())
        .unwrap_or_default()
        .to_owned();
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        let id = ec2
            .create_subnet()
            .vpc_id(&vpc)
            .cidr_block(cidr)
            .availability_zone(zone)
            .send()
            .await
            .map_err(step("CreateSubnet"))?
            .subnet()
            .and_then(|s| s.subnet_id())
            .unwrap_or_default()
            .to_owned();
        subnets.push(id);
    }
    let research_sg = create_sg(ec2, &vpc, "studio-research", true).await?;
    let lead_sg = create_sg(ec2, &vpc, "studio-lead", true).await?;
    let mut endpoints = BTreeMap::new();
    for service in ENDPOINT_SERVICES {
        let id = ec2
            .create_vpc_endpoint()
            .vpc_id(&vpc)
            .vpc_endpoint_type(VpcEndpointType::Interface)
            .service_name(format!("com.amazonaws.{}.{service}", crate::REGION))
            .set_subnet_ids(Some(subnets.clone()))
            .security_group_ids(&research_sg)
            .private_dns_enabled(true)
            .send()
            .await
            .map_err(step("CreateVpcEndpoint"))?
            .vpc_endpoint()
            .and_then(|e| e.vpc_endpoint_id())
            .unwrap_or_default()
            .to_owned();
        endpoints.insert((*service).to_owned(), id);
    }
    Ok(Network {
        vpc,
        subnets,
        research_sg,
        lead_sg,
        endpoints,
    })
}

/// The world's `[domains.baseline]`: what the fixture builds, plus `extra` lines.
fn baseline_toml(net: &Network, extra: &str) -> String {
    let subnets = net
        .subnets
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        r#"[domains.baseline]
vpc_id = "{vpc}"
subnets = [{subnets}]
kms_key_id = "{KMS_KEY}"
auth_mode = "IAM"
execution_role = "{RESEARCH_ROLE}"
allowed_egress = ["10.0.0.0/16"]
vpc_only_trusted_accounts = ["{TRUSTED_ACCOUNT}"]
reminder = "1h"
{extra}
"#,
        vpc = net.vpc,
    )
}

/// The alert topic and an SQS queue subscribed to it.
async fn create_alert_topic(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
) -> Result<(String, String), WorldError> {
    let topic = sns
        .create_topic()
        .name("studio-warden-alerts")
        .send()
        .await
        .map_err(step("CreateTopic"))?
        .topic_arn()
        .unwrap_or_default()
        .to_owned();
    let queue_url = sqs
        .create_queue()
        .queue_name("studio-warden-alerts-reader")
        .send()
        .await
        .map_err(step("CreateQueue"))?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(step("GetQueueAttributes"))?
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .unwrap_or_default();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .map_err(step("Subscribe"))?;
    Ok((topic, queue_url))
}

/// The ledger's table (string keys `pk`, `sk`; on demand), as the stack creates it.
pub async fn create_ledger_table(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<(), WorldError> {
    let attr = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
    };
    client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attr("pk").map_err(step("attr"))?)
        .attribute_definitions(attr("sk").map_err(step("attr"))?)
        .key_schema(key("pk", KeyType::Hash).map_err(step("key"))?)
        .key_schema(key("sk", KeyType::Range).map_err(step("key"))?)
        .send()
        .await
        .map_err(step("CreateTable"))?;
    Ok(())
}

async fn create_group(
    client: &aws_sdk_identitystore::Client,
    name: &str,
) -> Result<String, WorldError> {
    let out = client
        .create_group()
        .identity_store_id(STORE)
        .display_name(name)
        .send()
        .await
        .map_err(step("CreateGroup"))?;
    Ok(out.group_id().to_owned())
}
