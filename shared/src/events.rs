//! Classifies an inbound Lambda payload into what studio-warden should look at.
//!
//! An event is only a hint about *which subjects* (a user, a group, a domain, ...) to re-read;
//! the core then reconciles those subjects against the truth. This module therefore never
//! decides anything: it recognises the payload, checks every field it reads, and names the
//! subjects. Everything it does not recognise is either a [`Skip`] (well-formed, nothing to do,
//! with the reason for a log line) or an [`EventError`] (malformed, named by its JSON path).
//!
//! Payloads it accepts:
//! - an EventBridge envelope with `detail-type` "AWS API Call via CloudTrail" (see
//!   `events/README.md` for the record shapes of each service, and where they come from);
//! - an EventBridge Scheduler envelope (`source` "aws.scheduler", `detail` the *string* "{}")
//!   or a scheduled-rule envelope (`source` "aws.events", `detail` `{}`): a sweep in apply mode;
//! - the custom input of a schedule, with no envelope at all: `{}`, `{"mode":"apply"}` or
//!   `{"mode":"plan"}`. Any other key or mode is an error, never a silent apply.
//!
//! The CloudTrail record is read as a [`serde_json::Value`], never through a typed CloudTrail
//! struct: real console records carry `"sessionIssuer": {}`, which such structs reject, and
//! this module only needs a handful of fields anyway.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::ids::{
    DomainId, GroupId, IdentityStoreId, InvalidId, MembershipId, ResourceName, SecurityGroupId,
    UserId,
};
use crate::model::Mode;

/// The value Identity Center writes in place of a field it will not log.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// `detail-type` of a CloudTrail API call delivered by EventBridge.
pub const API_CALL_DETAIL_TYPE: &str = "AWS API Call via CloudTrail";
/// `detail-type` of EventBridge Scheduler and of scheduled EventBridge rules.
pub const SCHEDULED_DETAIL_TYPE: &str = "Scheduled Event";

/// `source` of Identity Center's own Identity Store notifications, sent to the default bus of
/// the Identity Center account and home region without a CloudTrail trail (IAM Identity Center
/// user guide, "Set up event notifications" and "EventBridge event message structure").
/// CloudTrail's Identity Store records use the same source with the detail-type
/// [`API_CALL_DETAIL_TYPE`]; the notifications have their own detail-types.
pub const NOTIFICATION_SOURCE: &str = "aws.identitystore";

/// The notification detail-types studio-warden acts on: each names one user or one group to
/// re-read. "User Created" and "Group Created" are not among them: a new user or group has no
/// membership yet, and memberships entitle (the same reasoning as CloudTrail's CreateUser).
pub mod notification {
    pub const USER_UPDATED: &str = "User Updated";
    pub const USER_DELETED: &str = "User Deleted";
    pub const GROUP_UPDATED: &str = "Group Updated";
    pub const GROUP_DELETED: &str = "Group Deleted";
    /// Every one of them, for the infrastructure's rule and the tests.
    pub const ACTED_ON: [&str; 4] = [USER_UPDATED, USER_DELETED, GROUP_UPDATED, GROUP_DELETED];
}

/// CloudTrail event sources this module acts on.
pub mod source {
    /// The Identity Store API (SDK, CLI, IaC).
    pub const IDENTITY_STORE: &str = "identitystore.amazonaws.com";
    /// The IAM Identity Center console's directory API.
    pub const SSO_DIRECTORY: &str = "sso-directory.amazonaws.com";
    /// SCIM provisioning from an external IdP (Okta, Entra ID, ...).
    pub const SCIM: &str = "identitystore-scim.amazonaws.com";
    /// SageMaker (domains and user profiles: drift checks).
    pub const SAGEMAKER: &str = "sagemaker.amazonaws.com";
    /// EC2 (security group rules: drift checks).
    pub const EC2: &str = "ec2.amazonaws.com";
}

/// What an inbound payload asks studio-warden to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Inbound {
    /// A scheduled or manual sweep: EventBridge Scheduler envelope whose `detail` is the STRING
    /// "{}", an EventBridge scheduled-rule envelope (source aws.events, detail-type "Scheduled
    /// Event", detail {}), or custom input with no envelope at all: `{}` / `{"mode":"plan"}` /
    /// `{"mode":"apply"}`.
    Sweep(SweepRequest),
    /// An Identity Center CloudTrail record (EventBridge detail-type "AWS API Call via
    /// CloudTrail"), or one of Identity Center's own notifications (source
    /// `aws.identitystore`, detail-type "User Updated" and the like), that names users, groups
    /// or memberships to reconcile: membership-sync.
    Membership(Change),
    /// A SageMaker or EC2 CloudTrail record that names a domain, profile or security group to
    /// check against the baseline: compliance-sweep.
    Drift(Change),
    /// Well-formed but nothing to do; always carries why, for a log line.
    Skip(Skip),
    /// A batch of the work queue's messages (the SQS event source mapping's event): a fanned-out
    /// sweep's work items, one domain each, for compliance-sweep in worker mode.
    Work(WorkBatch),
}

/// The records of an SQS event, in the order SQS delivered them. Each body is read by the
/// worker: a body that is not a work item fails alone (it reaches the dead-letter queue),
/// while a record without a message id fails the whole event (it cannot be reported alone).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkBatch {
    pub records: Vec<WorkRecord>,
}

/// One SQS record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkRecord {
    /// `messageId`: what `batchItemFailures` names.
    pub message_id: String,
    /// `attributes.MessageGroupId` (FIFO queues).
    pub group: Option<String>,
    /// `attributes.ApproximateReceiveCount`: the retry backoff grows with it.
    pub receive_count: Option<u32>,
    /// `receiptHandle`: what makes a failed message visible again sooner than the queue's
    /// visibility timeout (`ChangeMessageVisibility`).
    pub receipt_handle: Option<String>,
    pub body: String,
}

/// `eventSource` of an SQS record in a Lambda event.
pub const SQS_EVENT_SOURCE: &str = "aws:sqs";

/// A sweep to run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepRequest {
    pub mode: Mode,
    /// The envelope `id` when the sweep came in an EventBridge envelope.
    pub trigger_id: Option<String>,
    /// An operator's decision on a hold, made before the sweep runs:
    /// `{"mode":"approve","hold":"<id>"}` or `{"mode":"discard","hold":"<id>"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

/// An operator's decision on a hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub hold: String,
    pub approve: bool,
}

/// A CloudTrail API call, or an Identity Center notification, that names subjects to reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The EventBridge envelope `id`: the trigger id recorded in the ledger.
    pub event_id: String,
    /// `detail.eventID`, the CloudTrail record id, when the record has one.
    pub cloudtrail_event_id: Option<String>,
    /// `detail.eventSource`, one of [`source`]; for a notification, [`NOTIFICATION_SOURCE`].
    pub event_source: String,
    /// `detail.eventName`; for a notification, its detail-type (one of [`notification`]).
    pub event_name: String,
    /// `detail.eventTime`, else the envelope `time`.
    pub event_time: Option<String>,
    /// Non-empty, de-duplicated, in the order the record names them.
    pub subjects: Vec<Subject>,
    /// The envelope's `account` and `region`: where the change happened. A rule forwarding an
    /// event to another account's bus keeps them, so a drift event from a spoke names the
    /// spoke's account and region (`None` when absent or not an account id / a region name).
    pub origin: Origin,
}

/// Where an event happened, from its envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Origin {
    pub account: Option<String>,
    pub region: Option<String>,
}

impl Origin {
    fn of(envelope: &Node<'_>) -> Self {
        let field = |key: &str| {
            envelope
                .opt(key)
                .ok()
                .flatten()
                .and_then(|n| n.value.as_str().map(str::to_owned))
        };
        Self {
            account: field("account").filter(|a| crate::ids::AccountId::parse(a).is_ok()),
            region: field("region").filter(|r| crate::ids::is_region(r)),
        }
    }
}

/// Something to re-read and reconcile.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    User(UserId),
    Group(GroupId),
    /// Only a membership id is known (identitystore DeleteGroupMembership): resolve it through
    /// the ledger, else re-read the mapped groups.
    Membership(MembershipId),
    /// A membership was created and the event tells all three (identitystore
    /// CreateGroupMembership): the ledger learns the id.
    NewMembership {
        membership: MembershipId,
        group: GroupId,
        user: UserId,
    },
    /// A SageMaker domain changed (drift check).
    Domain(DomainId),
    /// A SageMaker user profile changed (drift check).
    Profile {
        domain: DomainId,
        name: ResourceName,
    },
    /// An EC2 security group's rules changed (drift check).
    SecurityGroup(SecurityGroupId),
}

/// A well-formed payload with nothing to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skip {
    /// The EventBridge envelope `id`.
    pub event_id: Option<String>,
    pub reason: SkipReason,
}

/// Why a well-formed payload needs no action. Strings taken from the payload are cut to
/// 80 characters so that a hostile value stays loggable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum SkipReason {
    /// `detail.errorCode` is present: the call changed nothing.
    FailedCall {
        event_name: String,
        error_code: String,
    },
    /// The record's `requestParameters.identityStoreId` is not the configured store.
    OtherIdentityStore { expected: String, found: String },
    /// A read-only call, a call that cannot change entitlements or the baseline, a source we
    /// do not act on, or another kind of EventBridge event.
    NotHandled {
        event_source: String,
        event_name: String,
    },
    /// The record is one we act on, but every field that would name a subject is masked
    /// (`HIDDEN_DUE_TO_SECURITY_REASONS`) or absent; the next sweep covers it.
    NoSubject {
        event_source: String,
        event_name: String,
        why: String,
    },
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FailedCall {
                event_name,
                error_code,
            } => write!(
                f,
                "{event_name} failed with {error_code:?}: it changed nothing"
            ),
            Self::OtherIdentityStore { expected, found } => write!(
                f,
                "the call is about identity store {found:?}, not the configured {expected:?}"
            ),
            Self::NotHandled {
                event_source,
                event_name,
            } => write!(
                f,
                "{event_source} {event_name} is not an event studio-warden acts on"
            ),
            Self::NoSubject {
                event_source,
                event_name,
                why,
            } => write!(f, "{event_source} {event_name} names no subject: {why}"),
        }
    }
}

/// Why a payload could not be classified. Bad input is never retryable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The bytes Lambda delivered are not a JSON document (truncated, or not JSON at all):
    /// the parser's reason, with its line and column.
    #[error("payload is not JSON: {reason}")]
    NotJson { reason: String },
    #[error("payload is not a JSON object but {found}")]
    NotAnObject { found: &'static str },
    #[error(
        "unknown field {field:?} in sweep input (a sweep input holds at most \"mode\", and \
         \"hold\" with the modes approve and discard; an EventBridge event would carry \
         \"detail-type\")"
    )]
    UnknownSweepField { field: String },
    #[error(
        "unknown sweep mode {mode:?} (expected \"apply\", \"plan\", or \"approve\" or \
         \"discard\" with a \"hold\")"
    )]
    UnknownMode { mode: String },
    #[error("{context}: {path} is missing")]
    Missing { context: String, path: String },
    #[error("{context}: {path} is {found}, not {expected}")]
    WrongType {
        context: String,
        path: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("{context}: {path}: {source}")]
    InvalidId {
        context: String,
        path: String,
        #[source]
        source: InvalidId,
    },
    #[error("{context}: {path} {value:?} is not valid: {rule}")]
    InvalidValue {
        context: String,
        path: String,
        value: String,
        rule: &'static str,
    },
}

impl EventError {
    /// Bad input stays bad: retrying the same payload cannot succeed.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Classifies one inbound payload. `identity_store` is the configured Identity Store: identity
/// events that name another store are skipped.
pub fn classify(payload: &Value, identity_store: &IdentityStoreId) -> Result<Inbound, EventError> {
    let Value::Object(map) = payload else {
        return Err(EventError::NotAnObject {
            found: kind(payload),
        });
    };
    if ["detail-type", "detail", "source"]
        .iter()
        .any(|key| map.contains_key(*key))
    {
        classify_envelope(payload, identity_store)
    } else if map.contains_key("Records") {
        sqs_records(payload).map(Inbound::Work)
    } else {
        sweep_input(map).map(Inbound::Sweep)
    }
}

// ---------------------------------------------------------------------------------------------
// Sweep input and EventBridge envelopes

fn sweep_input(map: &Map<String, Value>) -> Result<SweepRequest, EventError> {
    let decides = matches!(
        map.get("mode").and_then(Value::as_str),
        Some("approve" | "discard")
    );
    if let Some(field) = map
        .keys()
        .find(|key| key.as_str() != "mode" && !(decides && key.as_str() == "hold"))
    {
        return Err(EventError::UnknownSweepField { field: clip(field) });
    }
    let mode = match map.get("mode") {
        None => Mode::Apply,
        Some(Value::String(mode)) => match mode.as_str() {
            "apply" => Mode::Apply,
            "plan" => Mode::Plan,
            "approve" | "discard" => {
                let whole = Value::Object(map.clone());
                let node = Node::root(&whole, "sweep input");
                let hold = token(&node.req("hold")?)?.to_owned();
                return Ok(SweepRequest {
                    mode: Mode::Apply,
                    trigger_id: None,
                    decision: Some(Decision {
                        hold,
                        approve: mode == "approve",
                    }),
                });
            }
            other => return Err(EventError::UnknownMode { mode: clip(other) }),
        },
        Some(other) => {
            return Err(EventError::WrongType {
                context: "sweep input".to_owned(),
                path: "mode".to_owned(),
                expected: "a string",
                found: kind(other),
            });
        }
    };
    Ok(SweepRequest {
        mode,
        trigger_id: None,
        decision: None,
    })
}

/// An SQS event (Lambda developer guide, "Using Lambda with Amazon SQS": `Records`, each with
/// `messageId`, `body`, `attributes` and `eventSource` "aws:sqs"). Nothing else may be in it.
fn sqs_records(payload: &Value) -> Result<WorkBatch, EventError> {
    let root = Node::root(payload, "SQS event");
    if let Some(field) = root.object()?.keys().find(|k| k.as_str() != "Records") {
        return Err(EventError::InvalidValue {
            context: "SQS event".to_owned(),
            path: clip(field),
            value: String::new(),
            rule: "an SQS event holds only \"Records\"",
        });
    }
    let mut records = Vec::new();
    for record in root.req("Records")?.array()? {
        let source = record.req_str("eventSource")?;
        if source != SQS_EVENT_SOURCE {
            return Err(EventError::InvalidValue {
                context: "SQS event".to_owned(),
                path: record.child_path("eventSource"),
                value: clip(source),
                rule: "compliance-sweep takes records of its work queue only (aws:sqs)",
            });
        }
        let message_id = token(&record.req("messageId")?)?.to_owned();
        let body = record.req_str("body")?.to_owned();
        let attributes = record.opt("attributes")?;
        let group = match attributes
            .as_ref()
            .map(|a| a.opt("MessageGroupId"))
            .transpose()?
        {
            Some(Some(node)) => Some(token(&node)?.to_owned()),
            _ => None,
        };
        let receive_count = match attributes
            .as_ref()
            .map(|a| a.opt("ApproximateReceiveCount"))
            .transpose()?
        {
            Some(Some(node)) => node.str()?.parse::<u32>().ok(),
            _ => None,
        };
        let receipt_handle = record
            .opt("receiptHandle")?
            .map(|node| node.str().map(str::to_owned))
            .transpose()?;
        records.push(WorkRecord {
            message_id,
            group,
            receive_count,
            receipt_handle,
            body,
        });
    }
    Ok(WorkBatch { records })
}

fn classify_envelope(payload: &Value, store: &IdentityStoreId) -> Result<Inbound, EventError> {
    let envelope = Node::root(payload, "EventBridge event");
    let id = token(&envelope.req("id")?)?.to_owned();
    let detail_type = envelope.req_str("detail-type")?;
    let event_source = envelope.req_str("source")?;
    let detail = envelope.req("detail")?;
    match detail_type {
        API_CALL_DETAIL_TYPE => classify_api_call(id, &envelope, &detail, store),
        _ if event_source == NOTIFICATION_SOURCE => {
            classify_notification(id, &envelope, detail_type, store)
        }
        SCHEDULED_DETAIL_TYPE if matches!(event_source, "aws.scheduler" | "aws.events") => {
            scheduled_detail(&detail)?;
            Ok(Inbound::Sweep(SweepRequest {
                mode: Mode::Apply,
                trigger_id: Some(id),
                decision: None,
            }))
        }
        _ => Ok(skip(
            &id,
            SkipReason::NotHandled {
                event_source: clip(event_source),
                event_name: clip(detail_type),
            },
        )),
    }
}

/// A scheduled event's `detail` is `{}` (scheduled rule) or the string "{}" (Scheduler), which
/// some schedules pad with newlines. Anything else is refused rather than guessed at.
fn scheduled_detail(detail: &Node<'_>) -> Result<(), EventError> {
    let empty = match detail.value {
        Value::Object(map) => map.is_empty(),
        Value::String(text) => matches!(
            serde_json::from_str::<Value>(text),
            Ok(Value::Object(map)) if map.is_empty()
        ),
        _ => false,
    };
    if empty {
        Ok(())
    } else {
        Err(EventError::InvalidValue {
            context: detail.ctx.to_owned(),
            path: detail.path.clone(),
            value: clip(&detail.value.to_string()),
            rule: "a scheduled event's detail must be {} or the string \"{}\" \
                   (put sweep options in the schedule's custom input instead)",
        })
    }
}

fn skip(event_id: &str, reason: SkipReason) -> Inbound {
    Inbound::Skip(Skip {
        event_id: Some(event_id.to_owned()),
        reason,
    })
}

// ---------------------------------------------------------------------------------------------
// Identity Center's own notifications

/// An Identity Store notification: which user or group changed. The subject is read from the
/// envelope's `resources`, the ARNs of the resources involved (AWS documents the field; the
/// fields of `detail` are not documented where this was written, so `detail` is not read).
/// The ARNs are Identity Store's own (Service Authorization Reference):
/// `arn:<partition>:identitystore::<account>:identitystore/<store id>`,
/// `arn:<partition>:identitystore:::user/<user id>`, `arn:<partition>:identitystore:::group/<group id>`.
/// A notification about another store is skipped; one whose resources name no user (or group)
/// for its detail-type is skipped as naming no subject, never guessed at (the sweep covers it).
fn classify_notification(
    event_id: String,
    envelope: &Node<'_>,
    detail_type: &str,
    store: &IdentityStoreId,
) -> Result<Inbound, EventError> {
    let user_subject = match detail_type {
        notification::USER_UPDATED | notification::USER_DELETED => true,
        notification::GROUP_UPDATED | notification::GROUP_DELETED => false,
        _ => {
            return Ok(skip(
                &event_id,
                SkipReason::NotHandled {
                    event_source: NOTIFICATION_SOURCE.to_owned(),
                    event_name: clip(detail_type),
                },
            ));
        }
    };
    let context = format!("{NOTIFICATION_SOURCE} {detail_type}");
    let envelope = envelope.with_context(&context);
    let event_time = envelope.opt("time")?.map(|n| token(&n)).transpose()?;
    let mut found = Found::default();
    let resources = match envelope.opt("resources")? {
        Some(node) => node.array()?,
        None => Vec::new(),
    };
    for node in &resources {
        let arn = node.str()?;
        let Some(resource) = identity_store_resource(arn) else {
            continue;
        };
        match resource {
            ("identitystore", id) => {
                if let Some(reason) = other_store_id(node, id, store)? {
                    return Ok(skip(&event_id, reason));
                }
            }
            ("user", id) if user_subject => {
                found.push(Subject::User(parse_text(node, id, UserId::parse)?));
            }
            ("group", id) if !user_subject => {
                found.push(Subject::Group(parse_text(node, id, GroupId::parse)?));
            }
            _ => {}
        }
    }
    if found.subjects.is_empty() {
        return Ok(skip(
            &event_id,
            SkipReason::NoSubject {
                event_source: NOTIFICATION_SOURCE.to_owned(),
                event_name: clip(detail_type),
                why: format!(
                    "resources hold no Identity Store {} ARN",
                    if user_subject { "user" } else { "group" }
                ),
            },
        ));
    }
    Ok(Inbound::Membership(Change {
        event_id,
        cloudtrail_event_id: None,
        event_source: NOTIFICATION_SOURCE.to_owned(),
        event_name: detail_type.to_owned(),
        event_time: event_time.map(str::to_owned),
        subjects: found.subjects,
        origin: Origin::of(&envelope),
    }))
}

/// `(resource type, id)` of an Identity Store ARN (`identitystore`, `user`, `group`,
/// `membership`); `None` for any other ARN.
fn identity_store_resource(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_partition), Some("identitystore"), Some(_region), Some(_account)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    parts.next()?.split_once('/')
}

/// An id read from inside a string (an ARN's last part), with the string's path in errors.
fn parse_text<T>(
    node: &Node<'_>,
    text: &str,
    parse: fn(&str) -> Result<T, InvalidId>,
) -> Result<T, EventError> {
    parse(text).map_err(|source| EventError::InvalidId {
        context: node.ctx.to_owned(),
        path: node.path.clone(),
        source,
    })
}

/// Compares a store id read from an ARN with the configured store.
fn other_store_id(
    node: &Node<'_>,
    found: &str,
    store: &IdentityStoreId,
) -> Result<Option<SkipReason>, EventError> {
    if found == store.as_str() {
        return Ok(None);
    }
    parse_text(node, found, IdentityStoreId::parse)?;
    Ok(Some(SkipReason::OtherIdentityStore {
        expected: store.to_string(),
        found: clip(found),
    }))
}

// ---------------------------------------------------------------------------------------------
// CloudTrail records

fn classify_api_call(
    event_id: String,
    envelope: &Node<'_>,
    detail: &Node<'_>,
    store: &IdentityStoreId,
) -> Result<Inbound, EventError> {
    detail.object()?;
    let event_source = detail.req_str("eventSource")?;
    let event_name = detail.req_str("eventName")?;
    // A failed call changed nothing, whatever else its record holds (failed records often
    // lack responseElements or carry parameters that were rejected as invalid).
    if let Some(code) = detail
        .get("errorCode")?
        .filter(|node| !node.value.is_null())
    {
        return Ok(skip(
            &event_id,
            SkipReason::FailedCall {
                event_name: clip(event_name),
                error_code: clip(code.str()?),
            },
        ));
    }
    let context = format!("{} {}", clip(event_source), clip(event_name));
    let detail = detail.with_context(&context);
    let cloudtrail_event_id = detail.opt("eventID")?.map(|n| token(&n)).transpose()?;
    let event_time = match detail.opt("eventTime")? {
        Some(node) => Some(token(&node)?),
        None => envelope.opt("time")?.map(|n| token(&n)).transpose()?,
    };

    let outcome = match event_source {
        source::IDENTITY_STORE => identity_store(event_name, &detail, store)?,
        source::SSO_DIRECTORY => sso_directory(event_name, &detail, store)?,
        source::SCIM => scim(event_name, &detail)?,
        source::SAGEMAKER => sagemaker(event_name, &detail)?,
        source::EC2 => ec2(event_name, &detail)?,
        _ => Outcome::NotHandled,
    };
    let reason = match outcome {
        Outcome::Found(found) if !found.subjects.is_empty() => {
            let change = Change {
                event_id,
                cloudtrail_event_id: cloudtrail_event_id.map(str::to_owned),
                event_source: event_source.to_owned(),
                event_name: event_name.to_owned(),
                event_time: event_time.map(str::to_owned),
                subjects: found.subjects,
                origin: Origin::of(envelope),
            };
            // SageMaker and EC2 records name only drift subjects; Identity Center records only
            // identity subjects (each per-source handler returns its own kind).
            return Ok(match event_source {
                source::SAGEMAKER | source::EC2 => Inbound::Drift(change),
                _ => Inbound::Membership(change),
            });
        }
        Outcome::Found(found) => SkipReason::NoSubject {
            event_source: clip(event_source),
            event_name: clip(event_name),
            why: found.why(),
        },
        Outcome::Skip(reason) => reason,
        Outcome::NotHandled => SkipReason::NotHandled {
            event_source: clip(event_source),
            event_name: clip(event_name),
        },
    };
    Ok(skip(&event_id, reason))
}

/// What a per-source handler found in a record.
enum Outcome {
    Found(Found),
    Skip(SkipReason),
    NotHandled,
}

/// Subjects named by a record, plus the paths of the ids it masked.
#[derive(Default)]
struct Found {
    subjects: Vec<Subject>,
    hidden: Vec<String>,
    unnamed: Option<String>,
}

impl Found {
    fn one(subject: Subject) -> Self {
        let mut found = Self::default();
        found.push(subject);
        found
    }

    fn push(&mut self, subject: Subject) {
        if !self.subjects.contains(&subject) {
            self.subjects.push(subject);
        }
    }

    fn why(&self) -> String {
        match (&self.unnamed, self.hidden.is_empty()) {
            (Some(why), _) => why.clone(),
            (None, false) => format!("{} read {HIDDEN:?}", self.hidden.join(", ")),
            (None, true) => "the record names no subject".to_owned(),
        }
    }
}

/// An id field: either a valid id or masked by Identity Center.
enum Read<T> {
    Id(T),
    Hidden(String),
}

fn read_id<T>(
    node: &Node<'_>,
    parse: fn(&str) -> Result<T, InvalidId>,
) -> Result<Read<T>, EventError> {
    let text = node.str()?;
    if text == HIDDEN {
        return Ok(Read::Hidden(node.path.clone()));
    }
    parse(text)
        .map(Read::Id)
        .map_err(|source| EventError::InvalidId {
            context: node.ctx.to_owned(),
            path: node.path.clone(),
            source,
        })
}

/// Reads one id that is the only subject of a record.
fn single<T>(
    node: &Node<'_>,
    parse: fn(&str) -> Result<T, InvalidId>,
    subject: fn(T) -> Subject,
) -> Result<Outcome, EventError> {
    Ok(Outcome::Found(match read_id(node, parse)? {
        Read::Id(id) => Found::one(subject(id)),
        Read::Hidden(path) => Found {
            hidden: vec![path],
            ..Found::default()
        },
    }))
}

/// Compares a record's `identityStoreId` with the configured store.
fn other_store(node: &Node<'_>, store: &IdentityStoreId) -> Result<Option<SkipReason>, EventError> {
    let found = node.str()?;
    if found == store.as_str() {
        return Ok(None);
    }
    IdentityStoreId::parse(found).map_err(|source| EventError::InvalidId {
        context: node.ctx.to_owned(),
        path: node.path.clone(),
        source,
    })?;
    Ok(Some(SkipReason::OtherIdentityStore {
        expected: store.to_string(),
        found: found.to_owned(),
    }))
}

/// `identitystore.amazonaws.com`: every API takes `IdentityStoreId`, so its absence is an error.
fn identity_store(
    name: &str,
    detail: &Node<'_>,
    store: &IdentityStoreId,
) -> Result<Outcome, EventError> {
    if !matches!(
        name,
        "CreateGroupMembership"
            | "DeleteGroupMembership"
            | "DeleteUser"
            | "UpdateUser"
            | "DeleteGroup"
            | "UpdateGroup"
    ) {
        // CreateUser and CreateGroup: a user or group without memberships entitles nobody to
        // anything; the memberships arrive as events of their own.
        return Ok(Outcome::NotHandled);
    }
    let params = detail.req("requestParameters")?;
    if let Some(skip) = other_store(&params.req("identityStoreId")?, store)? {
        return Ok(Outcome::Skip(skip));
    }
    match name {
        "CreateGroupMembership" => create_group_membership(detail, &params),
        "DeleteGroupMembership" => single(
            &params.req("membershipId")?,
            MembershipId::parse,
            Subject::Membership,
        ),
        "DeleteUser" | "UpdateUser" => single(&params.req("userId")?, UserId::parse, Subject::User),
        _ => single(&params.req("groupId")?, GroupId::parse, Subject::Group),
    }
}

fn create_group_membership(detail: &Node<'_>, params: &Node<'_>) -> Result<Outcome, EventError> {
    let group = read_id(&params.req("groupId")?, GroupId::parse)?;
    let user = read_id(&params.req("memberId")?.req("userId")?, UserId::parse)?;
    // A successful call returns the membership id; a record without responseElements still
    // names the user, who is then reconciled without the ledger learning the id.
    let membership = match detail.opt("responseElements")? {
        Some(response) => Some(read_id(
            &response.req("membershipId")?,
            MembershipId::parse,
        )?),
        None => None,
    };
    let mut found = Found::default();
    match (membership, user, group) {
        (Some(Read::Id(membership)), Read::Id(user), Read::Id(group)) => {
            found.push(Subject::NewMembership {
                membership,
                group,
                user,
            });
        }
        (membership, Read::Id(user), _) => {
            if let Some(Read::Hidden(path)) = membership {
                found.hidden.push(path);
            }
            found.push(Subject::User(user));
        }
        (_, Read::Hidden(user), Read::Id(group)) => {
            found.hidden.push(user);
            found.push(Subject::Group(group));
        }
        (_, Read::Hidden(user), Read::Hidden(group)) => {
            found.hidden.extend([user, group]);
        }
    }
    Ok(Outcome::Found(found))
}

/// `sso-directory.amazonaws.com`: the IAM Identity Center console. `identityStoreId` is checked
/// where the record carries it.
fn sso_directory(
    name: &str,
    detail: &Node<'_>,
    store: &IdentityStoreId,
) -> Result<Outcome, EventError> {
    if !matches!(
        name,
        "AddMemberToGroup"
            | "RemoveMemberFromGroup"
            | "DeleteUser"
            | "DisableUser"
            | "EnableUser"
            | "UpdateUser"
            | "UpdateUserName"
            | "DeleteGroup"
            | "UpdateGroup"
            | "UpdateGroupDisplayName"
    ) {
        return Ok(Outcome::NotHandled);
    }
    let params = detail.req("requestParameters")?;
    if let Some(node) = params.opt("identityStoreId")?
        && let Some(skip) = other_store(&node, store)?
    {
        return Ok(Outcome::Skip(skip));
    }
    match name {
        "AddMemberToGroup" | "RemoveMemberFromGroup" => {
            // The user is the subject; the group stands in only if the member id is masked.
            let group = read_id(&params.req("groupId")?, GroupId::parse)?;
            let member = read_id(&params.req("member")?.req("memberId")?, UserId::parse)?;
            let mut found = Found::default();
            match (member, group) {
                (Read::Id(user), _) => found.push(Subject::User(user)),
                (Read::Hidden(member), Read::Id(group)) => {
                    found.hidden.push(member);
                    found.push(Subject::Group(group));
                }
                (Read::Hidden(member), Read::Hidden(group)) => {
                    found.hidden.extend([member, group]);
                }
            }
            Ok(Outcome::Found(found))
        }
        "DeleteGroup" | "UpdateGroup" | "UpdateGroupDisplayName" => {
            single(&params.req("groupId")?, GroupId::parse, Subject::Group)
        }
        _ => single(&params.req("userId")?, UserId::parse, Subject::User),
    }
}

/// `identitystore-scim.amazonaws.com`: the resource id is `requestParameters.id` (the SCIM id
/// of a user or group is its Identity Store id). SCIM records carry a `tenantId`, never an
/// `identityStoreId`, so the store cannot be checked here. Member values in PatchGroup read
/// `HIDDEN_DUE_TO_SECURITY_REASONS`, so the group is the subject and is re-read.
fn scim(name: &str, detail: &Node<'_>) -> Result<Outcome, EventError> {
    match name {
        "PatchGroup" | "DeleteGroup" => single(
            &detail.req("requestParameters")?.req("id")?,
            GroupId::parse,
            Subject::Group,
        ),
        "PatchUser" | "PutUser" | "DeleteUser" => single(
            &detail.req("requestParameters")?.req("id")?,
            UserId::parse,
            Subject::User,
        ),
        _ => Ok(Outcome::NotHandled),
    }
}

/// `sagemaker.amazonaws.com`: drift checks of domains and user profiles.
fn sagemaker(name: &str, detail: &Node<'_>) -> Result<Outcome, EventError> {
    match name {
        "UpdateDomain" => {
            let params = detail.req("requestParameters")?;
            let domain = parse(&params.req("domainId")?, DomainId::parse)?;
            Ok(Outcome::Found(Found::one(Subject::Domain(domain))))
        }
        "CreateUserProfile" | "UpdateUserProfile" | "DeleteUserProfile" => {
            let params = detail.req("requestParameters")?;
            let domain = parse(&params.req("domainId")?, DomainId::parse)?;
            let name = parse(&params.req("userProfileName")?, ResourceName::parse)?;
            Ok(Outcome::Found(Found::one(Subject::Profile {
                domain,
                name,
            })))
        }
        _ => Ok(Outcome::NotHandled),
    }
}

/// `ec2.amazonaws.com`: drift checks of security group rules.
fn ec2(name: &str, detail: &Node<'_>) -> Result<Outcome, EventError> {
    match name {
        "AuthorizeSecurityGroupIngress"
        | "AuthorizeSecurityGroupEgress"
        | "RevokeSecurityGroupIngress"
        | "RevokeSecurityGroupEgress" => {
            let params = detail.req("requestParameters")?;
            if let Some(group) = params.opt("groupId")? {
                let group = parse(&group, SecurityGroupId::parse)?;
                return Ok(Outcome::Found(Found::one(Subject::SecurityGroup(group))));
            }
            // In a default VPC a group may be named instead; the id then only shows in the
            // rules the response echoes (Authorize* since 2021).
            let Some(group_name) = params.opt("groupName")? else {
                return Err(params.missing("groupId"));
            };
            let group_name = group_name.str()?;
            let mut found = Found::default();
            if let Some(response) = detail.opt("responseElements")?
                && let Some(rules) = response.opt("securityGroupRuleSet")?
                && let Some(items) = rules.opt("items")?
            {
                for item in items.array()? {
                    if let Some(group) = item.opt("groupId")? {
                        found.push(Subject::SecurityGroup(parse(
                            &group,
                            SecurityGroupId::parse,
                        )?));
                    }
                }
            }
            if found.subjects.is_empty() {
                found.unnamed = Some(format!(
                    "{}.groupName is {:?} and the response names no group id",
                    params.path,
                    clip(group_name)
                ));
            }
            Ok(Outcome::Found(found))
        }
        "ModifySecurityGroupRules" => {
            // CloudTrail wraps this request: requestParameters.ModifySecurityGroupRulesRequest
            // .GroupId. A flat groupId is accepted too.
            let params = detail.req("requestParameters")?;
            let group = match params.opt("ModifySecurityGroupRulesRequest")? {
                Some(request) => request.req("GroupId")?,
                None => match params.opt("groupId")? {
                    Some(group) => group,
                    None => return Err(params.missing("ModifySecurityGroupRulesRequest.GroupId")),
                },
            };
            let group = parse(&group, SecurityGroupId::parse)?;
            Ok(Outcome::Found(Found::one(Subject::SecurityGroup(group))))
        }
        _ => Ok(Outcome::NotHandled),
    }
}

/// Reads an id that Identity Center never masks (SageMaker, EC2).
fn parse<T>(node: &Node<'_>, parse: fn(&str) -> Result<T, InvalidId>) -> Result<T, EventError> {
    parse(node.str()?).map_err(|source| EventError::InvalidId {
        context: node.ctx.to_owned(),
        path: node.path.clone(),
        source,
    })
}

/// An event id or timestamp: short printable ASCII, since it becomes a ledger key or a log field.
fn token<'a>(node: &Node<'a>) -> Result<&'a str, EventError> {
    let text = node.str()?;
    if !text.is_empty() && text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(text)
    } else {
        Err(EventError::InvalidValue {
            context: node.ctx.to_owned(),
            path: node.path.clone(),
            value: clip(text),
            rule: "expected 1 to 128 printable ASCII characters",
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Reading JSON with errors that name the path

/// A value inside the payload, with its JSON path and the context for error messages.
struct Node<'a> {
    value: &'a Value,
    path: String,
    ctx: &'a str,
}

impl<'a> Node<'a> {
    fn root(value: &'a Value, ctx: &'a str) -> Self {
        Self {
            value,
            path: String::new(),
            ctx,
        }
    }

    fn with_context<'b>(&self, ctx: &'b str) -> Node<'b>
    where
        'a: 'b,
    {
        Node {
            value: self.value,
            path: self.path.clone(),
            ctx,
        }
    }

    fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn wrong_type(&self, expected: &'static str) -> EventError {
        EventError::WrongType {
            context: self.ctx.to_owned(),
            path: self.path_or_root(),
            expected,
            found: kind(self.value),
        }
    }

    fn missing(&self, key: &str) -> EventError {
        EventError::Missing {
            context: self.ctx.to_owned(),
            path: self.child_path(key),
        }
    }

    fn path_or_root(&self) -> String {
        if self.path.is_empty() {
            "the payload".to_owned()
        } else {
            self.path.clone()
        }
    }

    fn object(&self) -> Result<&'a Map<String, Value>, EventError> {
        self.value
            .as_object()
            .ok_or_else(|| self.wrong_type("an object"))
    }

    fn array(&self) -> Result<Vec<Node<'a>>, EventError> {
        let items = self
            .value
            .as_array()
            .ok_or_else(|| self.wrong_type("an array"))?;
        Ok(items
            .iter()
            .enumerate()
            .map(|(i, value)| Node {
                value,
                path: format!("{}[{i}]", self.path),
                ctx: self.ctx,
            })
            .collect())
    }

    fn str(&self) -> Result<&'a str, EventError> {
        self.value
            .as_str()
            .ok_or_else(|| self.wrong_type("a string"))
    }

    /// The field if present (even when null).
    fn get(&self, key: &str) -> Result<Option<Node<'a>>, EventError> {
        Ok(self.object()?.get(key).map(|value| Node {
            value,
            path: self.child_path(key),
            ctx: self.ctx,
        }))
    }

    /// The field if present and not null.
    fn opt(&self, key: &str) -> Result<Option<Node<'a>>, EventError> {
        Ok(self.get(key)?.filter(|node| !node.value.is_null()))
    }

    /// The field, which must be present (it may still be null: its reader then names the type).
    fn req(&self, key: &str) -> Result<Node<'a>, EventError> {
        self.get(key)?.ok_or_else(|| self.missing(key))
    }

    fn req_str(&self, key: &str) -> Result<&'a str, EventError> {
        self.req(key)?.str()
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Cuts a payload string to 80 characters so that an oversized value stays loggable.
fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const STORE: &str = "d-9067c0ffee";
    const U1: &str = "9067c0ffee-1111aaaa-0000-4000-8000-000000000001";
    const G1: &str = "9067c0ffee-2222bbbb-0000-4000-8000-000000000001";
    const M1: &str = "9067c0ffee-3333cccc-0000-4000-8000-000000000001";
    const ENVELOPE_ID: &str = "6f1e0c52-4a8b-4c53-9d0e-1f2a3b4c5d6e";

    fn store() -> IdentityStoreId {
        IdentityStoreId::parse(STORE).expect("valid store")
    }

    fn run(payload: &Value) -> Result<Inbound, EventError> {
        classify(payload, &store())
    }

    fn err(payload: &Value) -> EventError {
        run(payload).expect_err("expected an error")
    }

    fn err_text(payload: &Value) -> String {
        err(payload).to_string()
    }

    fn api(source: &str, name: &str, params: Value, response: Value) -> Value {
        json!({
            "version": "0",
            "id": ENVELOPE_ID,
            "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.test",
            "account": "111122223333",
            "time": "2025-11-14T14:07:32Z",
            "region": "us-east-1",
            "resources": [],
            "detail": {
                "eventVersion": "1.11",
                "userIdentity": {"type": "Root", "sessionContext": {"sessionIssuer": {}}},
                "eventTime": "2025-11-14T14:07:31Z",
                "eventSource": source,
                "eventName": name,
                "requestParameters": params,
                "responseElements": response,
                "eventID": "0b1c2d3e-4f50-4162-8374-8596a7b8c9d0",
            }
        })
    }

    fn membership(user: Value, group: Value, response: Value) -> Value {
        api(
            source::IDENTITY_STORE,
            "CreateGroupMembership",
            json!({"identityStoreId": STORE, "groupId": group, "memberId": {"userId": user}}),
            response,
        )
    }

    fn subjects(payload: &Value) -> Vec<Subject> {
        match run(payload) {
            Ok(Inbound::Membership(change) | Inbound::Drift(change)) => change.subjects,
            other => panic!("expected a change, got {other:?}"),
        }
    }

    fn reason(payload: &Value) -> SkipReason {
        match run(payload) {
            Ok(Inbound::Skip(skip)) => {
                assert_eq!(skip.event_id.as_deref(), Some(ENVELOPE_ID));
                skip.reason
            }
            other => panic!("expected a skip, got {other:?}"),
        }
    }

    fn user(id: &str) -> Subject {
        Subject::User(UserId::parse(id).expect("valid"))
    }

    fn group(id: &str) -> Subject {
        Subject::Group(GroupId::parse(id).expect("valid"))
    }

    fn set(payload: &mut Value, pointer: &str, value: Value) {
        *payload.pointer_mut(pointer).expect("pointer exists") = value;
    }

    fn remove(payload: &mut Value, pointer: &str) {
        let (parent, key) = pointer.rsplit_once('/').expect("a parent");
        payload
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("parent object")
            .remove(key)
            .expect("key present");
    }

    #[test]
    fn a_payload_that_is_not_an_object_is_refused() {
        for (payload, found) in [
            (json!([]), "an array"),
            (json!([{"mode": "plan"}]), "an array"),
            (Value::Null, "null"),
            (json!("{}"), "a string"),
            (json!(42), "a number"),
            (json!(true), "a boolean"),
        ] {
            assert_eq!(err(&payload), EventError::NotAnObject { found });
        }
        assert_eq!(
            err_text(&Value::Null),
            "payload is not a JSON object but null"
        );
    }

    #[test]
    fn custom_sweep_input_is_strict() {
        let sweep = |mode| {
            Ok(Inbound::Sweep(SweepRequest {
                mode,
                trigger_id: None,
                decision: None,
            }))
        };
        assert_eq!(run(&json!({})), sweep(Mode::Apply));
        assert_eq!(run(&json!({"mode": "apply"})), sweep(Mode::Apply));
        assert_eq!(run(&json!({"mode": "plan"})), sweep(Mode::Plan));
        assert_eq!(
            err_text(&json!({"mode": "plna"})),
            "unknown sweep mode \"plna\" (expected \"apply\", \"plan\", or \"approve\" or \"discard\" with a \"hold\")"
        );
        // An operator's decision on a hold: a sweep that records it first.
        for (mode, approve) in [("approve", true), ("discard", false)] {
            assert_eq!(
                run(&json!({"mode": mode, "hold": "01JHOLD"})),
                Ok(Inbound::Sweep(SweepRequest {
                    mode: Mode::Apply,
                    trigger_id: None,
                    decision: Some(Decision {
                        hold: "01JHOLD".into(),
                        approve,
                    }),
                }))
            );
            assert!(matches!(
                err(&json!({"mode": mode})),
                EventError::Missing { .. }
            ));
            assert!(matches!(
                err(&json!({"mode": mode, "hold": ""})),
                EventError::InvalidValue { .. }
            ));
        }
        assert!(matches!(
            err(&json!({"mode": "apply", "hold": "01JHOLD"})),
            EventError::UnknownSweepField { .. }
        ));
        for mode in ["Plan", "APPLY", "", " plan", "dry-run"] {
            assert!(matches!(
                err(&json!({"mode": mode})),
                EventError::UnknownMode { .. }
            ));
        }
        assert!(
            err_text(&json!({"mod": "plan"})).starts_with("unknown field \"mod\" in sweep input")
        );
        assert!(matches!(
            err(&json!({"mode": "plan", "dryRun": true})),
            EventError::UnknownSweepField { field } if field == "dryRun"
        ));
        assert_eq!(
            err_text(&json!({"mode": true})),
            "sweep input: mode is a boolean, not a string"
        );
        assert!(matches!(
            err(&json!({"mode": null})),
            EventError::WrongType { .. }
        ));
        // The Lambda console's default test event is not a sweep.
        assert!(matches!(
            err(&json!({"key1": "value1", "key2": "value2"})),
            EventError::UnknownSweepField { .. }
        ));
    }

    #[test]
    fn oversized_values_are_cut_in_errors() {
        let long = "m".repeat(5_000);
        match err(&json!({ long.clone(): 1 })) {
            EventError::UnknownSweepField { field } => assert_eq!(field.len(), 80),
            other => panic!("{other:?}"),
        }
        match err(&json!({ "mode": long })) {
            EventError::UnknownMode { mode } => assert_eq!(mode.len(), 80),
            other => panic!("{other:?}"),
        }
    }

    fn scheduled(source: &str, detail: Value) -> Value {
        json!({
            "version": "0",
            "id": ENVELOPE_ID,
            "detail-type": "Scheduled Event",
            "source": source,
            "account": "111122223333",
            "time": "2025-11-21T02:00:00Z",
            "region": "us-east-1",
            "resources": ["arn:aws:scheduler:us-east-1:111122223333:schedule/default/sweep"],
            "detail": detail,
        })
    }

    #[test]
    fn scheduled_envelopes_are_apply_sweeps_with_their_id() {
        let sweep = Ok(Inbound::Sweep(SweepRequest {
            mode: Mode::Apply,
            trigger_id: Some(ENVELOPE_ID.to_owned()),
            decision: None,
        }));
        assert_eq!(run(&scheduled("aws.scheduler", json!("{}"))), sweep);
        assert_eq!(run(&scheduled("aws.scheduler", json!("\n{}\n"))), sweep);
        assert_eq!(run(&scheduled("aws.scheduler", json!({}))), sweep);
        assert_eq!(run(&scheduled("aws.events", json!({}))), sweep);
    }

    #[test]
    fn a_scheduled_detail_other_than_empty_is_refused() {
        for detail in [
            json!("{\"mode\":\"plan\"}"),
            json!("plan"),
            json!(""),
            json!("{"),
            json!({"mode": "plan"}),
            json!(7),
            Value::Null,
            json!([]),
        ] {
            let error = err(&scheduled("aws.scheduler", detail.clone()));
            assert!(
                matches!(&error, EventError::InvalidValue { path, .. } if path == "detail"),
                "{detail}: {error:?}"
            );
        }
        assert!(
            err_text(&scheduled("aws.scheduler", json!("plan")))
                .starts_with("EventBridge event: detail \"\\\"plan\\\"\" is not valid")
        );
    }

    #[test]
    fn other_eventbridge_events_are_skipped() {
        assert_eq!(
            reason(&scheduled("custom.cron", json!({}))),
            SkipReason::NotHandled {
                event_source: "custom.cron".to_owned(),
                event_name: "Scheduled Event".to_owned(),
            }
        );
        let mut signin = scheduled("aws.signin", json!({"eventName": "ConsoleLogin"}));
        set(
            &mut signin,
            "/detail-type",
            json!("AWS Console Sign In via CloudTrail"),
        );
        assert!(matches!(reason(&signin), SkipReason::NotHandled { .. }));
    }

    #[test]
    fn the_envelope_fields_are_checked() {
        let base = membership(json!(U1), json!(G1), json!({"membershipId": M1}));
        for (pointer, message) in [
            ("/id", "EventBridge event: id is missing"),
            ("/detail-type", "EventBridge event: detail-type is missing"),
            ("/source", "EventBridge event: source is missing"),
            ("/detail", "EventBridge event: detail is missing"),
            (
                "/detail/eventSource",
                "EventBridge event: detail.eventSource is missing",
            ),
            (
                "/detail/eventName",
                "EventBridge event: detail.eventName is missing",
            ),
        ] {
            let mut payload = base.clone();
            remove(&mut payload, pointer);
            assert_eq!(err_text(&payload), message);
        }
        for (pointer, value, message) in [
            (
                "/id",
                json!(7),
                "EventBridge event: id is a number, not a string",
            ),
            (
                "/detail",
                json!("{}"),
                "EventBridge event: detail is a string, not an object",
            ),
            (
                "/detail/eventName",
                json!(["CreateGroupMembership"]),
                "EventBridge event: detail.eventName is an array, not a string",
            ),
        ] {
            let mut payload = base.clone();
            set(&mut payload, pointer, value);
            assert_eq!(err_text(&payload), message);
        }
        for bad_id in ["", "has space", &"x".repeat(129), "é"] {
            let mut payload = base.clone();
            set(&mut payload, "/id", json!(bad_id));
            assert!(matches!(err(&payload), EventError::InvalidValue { path, .. } if path == "id"));
        }
        let mut payload = base.clone();
        set(&mut payload, "/detail/eventID", json!(12));
        assert!(
            matches!(err(&payload), EventError::WrongType { path, .. } if path == "detail.eventID")
        );
    }

    #[test]
    fn a_failed_call_is_skipped_before_anything_else_is_read() {
        let mut payload = membership(json!(U1), json!(G1), Value::Null);
        let detail = payload["detail"].as_object_mut().expect("object");
        detail.insert("errorCode".into(), json!("AccessDenied"));
        detail.remove("requestParameters");
        assert_eq!(
            reason(&payload),
            SkipReason::FailedCall {
                event_name: "CreateGroupMembership".to_owned(),
                error_code: "AccessDenied".to_owned(),
            }
        );
        // An unknown source fails the same way.
        set(
            &mut payload,
            "/detail/eventSource",
            json!("s3.amazonaws.com"),
        );
        assert!(matches!(reason(&payload), SkipReason::FailedCall { .. }));
        // A null errorCode is no error.
        let mut ok = membership(json!(U1), json!(G1), json!({"membershipId": M1}));
        ok["detail"]["errorCode"] = Value::Null;
        assert!(matches!(
            run(&ok),
            Ok(Inbound::Membership(_) | Inbound::Drift(_))
        ));
        let mut typed = ok.clone();
        typed["detail"]["errorCode"] = json!(403);
        assert_eq!(
            err_text(&typed),
            "EventBridge event: detail.errorCode is a number, not a string"
        );
    }

    #[test]
    fn create_group_membership_names_all_three() {
        let payload = membership(
            json!(U1),
            json!(G1),
            json!({"membershipId": M1, "identityStoreId": STORE}),
        );
        let change = match run(&payload) {
            Ok(Inbound::Membership(change) | Inbound::Drift(change)) => change,
            other => panic!("{other:?}"),
        };
        assert_eq!(change.event_id, ENVELOPE_ID);
        assert_eq!(
            change.cloudtrail_event_id.as_deref(),
            Some("0b1c2d3e-4f50-4162-8374-8596a7b8c9d0")
        );
        assert_eq!(change.event_source, source::IDENTITY_STORE);
        assert_eq!(change.event_name, "CreateGroupMembership");
        assert_eq!(change.event_time.as_deref(), Some("2025-11-14T14:07:31Z"));
        assert_eq!(
            change.subjects,
            vec![Subject::NewMembership {
                membership: MembershipId::parse(M1).expect("valid"),
                group: GroupId::parse(G1).expect("valid"),
                user: UserId::parse(U1).expect("valid"),
            }]
        );
        let echoed = serde_json::to_value(Inbound::Membership(change)).expect("serialises");
        assert_eq!(
            echoed["membership"]["subjects"][0]["new_membership"]["user"],
            json!(U1)
        );
    }

    #[test]
    fn plain_uuid_ids_of_newer_stores_are_accepted() {
        // Ids as seen in a real 2025 record: no store prefix.
        let user_id = "117b5560-c041-70cf-2973-8b2ec16f4d4e";
        let group_id = "d1cb25d0-b061-705c-90da-b2b62e4f01f8";
        assert_eq!(
            subjects(&membership(json!(user_id), json!(group_id), Value::Null)),
            vec![user(user_id)]
        );
    }

    #[test]
    fn create_group_membership_errors_name_the_path() {
        let mut missing = membership(json!(U1), json!(G1), json!({"membershipId": M1}));
        remove(&mut missing, "/detail/requestParameters/memberId/userId");
        assert_eq!(
            err_text(&missing),
            "identitystore.amazonaws.com CreateGroupMembership: \
             detail.requestParameters.memberId.userId is missing"
        );
        assert_eq!(
            err_text(&membership(
                json!(17),
                json!(G1),
                json!({"membershipId": M1})
            )),
            "identitystore.amazonaws.com CreateGroupMembership: \
             detail.requestParameters.memberId.userId is a number, not a string"
        );
        let invalid = err(&membership(
            json!("a; rm -rf /"),
            json!(G1),
            json!({"membershipId": M1}),
        ));
        assert!(
            matches!(&invalid, EventError::InvalidId { source, .. } if source.kind == "user id")
        );
        assert!(invalid.to_string().starts_with(
            "identitystore.amazonaws.com CreateGroupMembership: \
             detail.requestParameters.memberId.userId: user id \"a; rm -rf /\" is not valid"
        ));
        assert!(matches!(
            err(&membership(json!(U1), json!(M1.replace('3', "x")), json!({"membershipId": M1}))),
            EventError::InvalidId { path, .. } if path == "detail.requestParameters.groupId"
        ));
        assert!(matches!(
            err(&membership(json!(U1), json!(G1), json!({"membershipId": "nope"}))),
            EventError::InvalidId { path, .. } if path == "detail.responseElements.membershipId"
        ));
        assert!(matches!(
            err(&membership(json!(U1), json!(G1), json!({}))),
            EventError::Missing { path, .. } if path == "detail.responseElements.membershipId"
        ));
        assert!(matches!(
            err(&membership(json!(U1), json!(G1), json!("done"))),
            EventError::WrongType { path, .. } if path == "detail.responseElements"
        ));
        let mut null_params = membership(json!(U1), json!(G1), json!({"membershipId": M1}));
        set(&mut null_params, "/detail/requestParameters", Value::Null);
        assert_eq!(
            err_text(&null_params),
            "identitystore.amazonaws.com CreateGroupMembership: \
             detail.requestParameters is null, not an object"
        );
    }

    #[test]
    fn create_group_membership_degrades_to_the_best_subject_available() {
        assert_eq!(
            subjects(&membership(json!(U1), json!(G1), Value::Null)),
            vec![user(U1)]
        );
        let mut absent = membership(json!(U1), json!(G1), Value::Null);
        remove(&mut absent, "/detail/responseElements");
        assert_eq!(subjects(&absent), vec![user(U1)]);
        assert_eq!(
            subjects(&membership(
                json!(U1),
                json!(G1),
                json!({"membershipId": HIDDEN})
            )),
            vec![user(U1)]
        );
        assert_eq!(
            subjects(&membership(
                json!(HIDDEN),
                json!(G1),
                json!({"membershipId": M1})
            )),
            vec![group(G1)]
        );
        assert_eq!(
            reason(&membership(
                json!(HIDDEN),
                json!(HIDDEN),
                json!({"membershipId": M1})
            )),
            SkipReason::NoSubject {
                event_source: source::IDENTITY_STORE.to_owned(),
                event_name: "CreateGroupMembership".to_owned(),
                why: format!(
                    "detail.requestParameters.memberId.userId, detail.requestParameters.groupId \
                     read {HIDDEN:?}"
                ),
            }
        );
    }

    #[test]
    fn identity_events_for_another_store_are_skipped() {
        let mut payload = membership(json!(U1), json!(G1), json!({"membershipId": M1}));
        set(
            &mut payload,
            "/detail/requestParameters/identityStoreId",
            json!("d-1234567890"),
        );
        assert_eq!(
            reason(&payload),
            SkipReason::OtherIdentityStore {
                expected: STORE.to_owned(),
                found: "d-1234567890".to_owned(),
            }
        );
        // The store is compared before the ids are read.
        set(
            &mut payload,
            "/detail/requestParameters/groupId",
            json!("not an id"),
        );
        assert!(matches!(
            reason(&payload),
            SkipReason::OtherIdentityStore { .. }
        ));
        set(
            &mut payload,
            "/detail/requestParameters/identityStoreId",
            json!("d-XYZ"),
        );
        assert!(matches!(
            err(&payload),
            EventError::InvalidId { path, .. } if path == "detail.requestParameters.identityStoreId"
        ));
        remove(&mut payload, "/detail/requestParameters/identityStoreId");
        assert!(matches!(
            err(&payload),
            EventError::Missing { path, .. } if path == "detail.requestParameters.identityStoreId"
        ));

        let console = |params: Value| {
            api(
                source::SSO_DIRECTORY,
                "AddMemberToGroup",
                params,
                Value::Null,
            )
        };
        let other = console(
            json!({"identityStoreId": "d-1234567890", "groupId": G1, "member": {"memberId": U1}}),
        );
        assert!(matches!(
            reason(&other),
            SkipReason::OtherIdentityStore { .. }
        ));
        // The console record may lack the store id: the ids are still read.
        let bare = console(json!({"groupId": G1, "member": {"memberId": U1}}));
        assert_eq!(subjects(&bare), vec![user(U1)]);
    }

    #[test]
    fn identity_store_single_subject_events() {
        let call =
            |name: &str, params: Value| api(source::IDENTITY_STORE, name, params, Value::Null);
        assert_eq!(
            subjects(&call(
                "DeleteGroupMembership",
                json!({"identityStoreId": STORE, "membershipId": M1})
            )),
            vec![Subject::Membership(MembershipId::parse(M1).expect("valid"))]
        );
        for name in ["DeleteUser", "UpdateUser"] {
            assert_eq!(
                subjects(&call(name, json!({"identityStoreId": STORE, "userId": U1}))),
                vec![user(U1)]
            );
        }
        for name in ["DeleteGroup", "UpdateGroup"] {
            assert_eq!(
                subjects(&call(
                    name,
                    json!({"identityStoreId": STORE, "groupId": G1})
                )),
                vec![group(G1)]
            );
        }
        assert!(matches!(
            err(&call("DeleteUser", json!({"identityStoreId": STORE, "groupId": G1}))),
            EventError::Missing { path, .. } if path == "detail.requestParameters.userId"
        ));
        assert!(matches!(
            reason(&call(
                "DeleteGroupMembership",
                json!({"identityStoreId": STORE, "membershipId": HIDDEN})
            )),
            SkipReason::NoSubject { .. }
        ));
        for name in [
            "CreateUser",
            "CreateGroup",
            "DescribeUser",
            "ListGroupMemberships",
        ] {
            assert_eq!(
                reason(&call(name, json!({"identityStoreId": STORE}))),
                SkipReason::NotHandled {
                    event_source: source::IDENTITY_STORE.to_owned(),
                    event_name: name.to_owned(),
                }
            );
        }
    }

    #[test]
    fn console_events() {
        let call =
            |name: &str, params: Value| api(source::SSO_DIRECTORY, name, params, Value::Null);
        for name in ["AddMemberToGroup", "RemoveMemberFromGroup"] {
            let params =
                json!({"identityStoreId": STORE, "groupId": G1, "member": {"memberId": U1}});
            assert_eq!(subjects(&call(name, params)), vec![user(U1)]);
            let hidden =
                json!({"identityStoreId": STORE, "groupId": G1, "member": {"memberId": HIDDEN}});
            assert_eq!(subjects(&call(name, hidden)), vec![group(G1)]);
            let nested = json!({"identityStoreId": STORE, "groupId": G1, "member": {"userId": U1}});
            assert!(matches!(
                err(&call(name, nested)),
                EventError::Missing { path, .. } if path == "detail.requestParameters.member.memberId"
            ));
        }
        for name in ["DeleteUser", "DisableUser", "EnableUser", "UpdateUser"] {
            assert_eq!(
                subjects(&call(name, json!({"identityStoreId": STORE, "userId": U1}))),
                vec![user(U1)]
            );
        }
        for name in ["DeleteGroup", "UpdateGroup"] {
            assert_eq!(
                subjects(&call(
                    name,
                    json!({"identityStoreId": STORE, "groupId": G1})
                )),
                vec![group(G1)]
            );
        }
        assert!(matches!(
            reason(&call("CreateUser", json!({}))),
            SkipReason::NotHandled { .. }
        ));
    }

    #[test]
    fn scim_events() {
        let call = |name: &str, id: Value| {
            api(
                source::SCIM,
                name,
                json!({"tenantId": "t-1", "id": id, "httpBody": {"schemas": [HIDDEN]}}),
                Value::Null,
            )
        };
        for name in ["PatchGroup", "DeleteGroup"] {
            assert_eq!(subjects(&call(name, json!(G1))), vec![group(G1)]);
        }
        for name in ["PatchUser", "PutUser", "DeleteUser"] {
            assert_eq!(subjects(&call(name, json!(U1))), vec![user(U1)]);
        }
        assert_eq!(
            reason(&call("PatchGroup", json!(HIDDEN))),
            SkipReason::NoSubject {
                event_source: source::SCIM.to_owned(),
                event_name: "PatchGroup".to_owned(),
                why: format!("detail.requestParameters.id read {HIDDEN:?}"),
            }
        );
        assert!(matches!(
            err(&call("PatchGroup", json!("Engineering"))),
            EventError::InvalidId { path, .. } if path == "detail.requestParameters.id"
        ));
        assert!(matches!(
            reason(&call("CreateGroup", json!(G1))),
            SkipReason::NotHandled { .. }
        ));
        let mut no_id = call("PatchUser", json!(U1));
        remove(&mut no_id, "/detail/requestParameters/id");
        assert_eq!(
            err_text(&no_id),
            "identitystore-scim.amazonaws.com PatchUser: detail.requestParameters.id is missing"
        );
    }

    #[test]
    fn sagemaker_events() {
        let call = |name: &str, params: Value| api(source::SAGEMAKER, name, params, Value::Null);
        let domain = DomainId::parse("d-abc123def456").expect("valid");
        assert_eq!(
            subjects(&call("UpdateDomain", json!({"domainId": "d-abc123def456"}))),
            vec![Subject::Domain(domain.clone())]
        );
        for name in [
            "CreateUserProfile",
            "UpdateUserProfile",
            "DeleteUserProfile",
        ] {
            assert_eq!(
                subjects(&call(
                    name,
                    json!({"domainId": "d-abc123def456", "userProfileName": "jdoe"})
                )),
                vec![Subject::Profile {
                    domain: domain.clone(),
                    name: ResourceName::parse("jdoe").expect("valid"),
                }]
            );
        }
        assert!(matches!(
            err(&call("UpdateUserProfile", json!({"domainId": "d-abc123def456", "userProfileName": "jane.doe@example.com"}))),
            EventError::InvalidId { path, .. } if path == "detail.requestParameters.userProfileName"
        ));
        assert!(matches!(
            err(&call("UpdateDomain", json!({"DomainId": "d-abc123def456"}))),
            EventError::Missing { path, .. } if path == "detail.requestParameters.domainId"
        ));
        assert!(matches!(
            reason(&call("CreateApp", json!({}))),
            SkipReason::NotHandled { .. }
        ));
    }

    #[test]
    fn ec2_events() {
        let call =
            |name: &str, params: Value, response: Value| api(source::EC2, name, params, response);
        let sg = |id: &str| Subject::SecurityGroup(SecurityGroupId::parse(id).expect("valid"));
        for name in [
            "AuthorizeSecurityGroupIngress",
            "AuthorizeSecurityGroupEgress",
            "RevokeSecurityGroupIngress",
            "RevokeSecurityGroupEgress",
        ] {
            assert_eq!(
                subjects(&call(
                    name,
                    json!({"groupId": "sg-0a1b2c3d4e5f60718"}),
                    Value::Null
                )),
                vec![sg("sg-0a1b2c3d4e5f60718")]
            );
        }
        // By name in a default VPC: the response's rules name the group (once, however many).
        let rules = json!({"_return": true, "securityGroupRuleSet": {"items": [
            {"groupId": "sg-0fedcba9876543210", "securityGroupRuleId": "sgr-1"},
            {"groupId": "sg-0fedcba9876543210", "securityGroupRuleId": "sgr-2"},
        ]}});
        assert_eq!(
            subjects(&call(
                "AuthorizeSecurityGroupIngress",
                json!({"groupName": "default"}),
                rules
            )),
            vec![sg("sg-0fedcba9876543210")]
        );
        assert!(matches!(
            reason(&call("RevokeSecurityGroupIngress", json!({"groupName": "default"}), json!({"_return": true}))),
            SkipReason::NoSubject { why, .. } if why.contains("groupName is \"default\"")
        ));
        assert!(matches!(
            err(&call("RevokeSecurityGroupIngress", json!({"ipPermissions": {}}), Value::Null)),
            EventError::Missing { path, .. } if path == "detail.requestParameters.groupId"
        ));
        assert!(matches!(
            err(&call(
                "AuthorizeSecurityGroupIngress",
                json!({"groupId": "default"}),
                Value::Null
            )),
            EventError::InvalidId { .. }
        ));
        let wrapped =
            json!({"ModifySecurityGroupRulesRequest": {"GroupId": "sg-0a1b2c3d4e5f60718"}});
        assert_eq!(
            subjects(&call("ModifySecurityGroupRules", wrapped, Value::Null)),
            vec![sg("sg-0a1b2c3d4e5f60718")]
        );
        assert_eq!(
            subjects(&call(
                "ModifySecurityGroupRules",
                json!({"groupId": "sg-0a1b2c3d4e5f60718"}),
                Value::Null
            )),
            vec![sg("sg-0a1b2c3d4e5f60718")]
        );
        assert_eq!(
            err_text(&call("ModifySecurityGroupRules", json!({}), Value::Null)),
            "ec2.amazonaws.com ModifySecurityGroupRules: \
             detail.requestParameters.ModifySecurityGroupRulesRequest.GroupId is missing"
        );
        assert!(matches!(
            reason(&call("RunInstances", json!({}), Value::Null)),
            SkipReason::NotHandled { .. }
        ));
    }

    #[test]
    fn unknown_sources_are_not_handled_and_their_names_are_cut() {
        let long = "S".repeat(300);
        match reason(&api(&long, "PutObject", json!({}), Value::Null)) {
            SkipReason::NotHandled {
                event_source,
                event_name,
            } => {
                assert_eq!(event_source.len(), 80);
                assert_eq!(event_name, "PutObject");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_event_time_falls_back_to_the_envelope() {
        let mut payload = membership(json!(U1), json!(G1), json!({"membershipId": M1}));
        remove(&mut payload, "/detail/eventTime");
        remove(&mut payload, "/detail/eventID");
        match run(&payload) {
            Ok(Inbound::Membership(change) | Inbound::Drift(change)) => {
                assert_eq!(change.event_time.as_deref(), Some("2025-11-14T14:07:32Z"));
                assert_eq!(change.cloudtrail_event_id, None);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_input_is_never_retryable() {
        assert!(!err(&Value::Null).is_retryable());
        assert!(!err(&json!({"mode": "x"})).is_retryable());
    }

    #[test]
    fn skip_reasons_read_well_in_a_log_line() {
        let reason = SkipReason::FailedCall {
            event_name: "PatchGroup".to_owned(),
            error_code: "ValidationException".to_owned(),
        };
        assert_eq!(
            reason.to_string(),
            "PatchGroup failed with \"ValidationException\": it changed nothing"
        );
        let skip = serde_json::to_value(Skip {
            event_id: None,
            reason,
        })
        .expect("serialises");
        assert_eq!(skip["reason"]["reason"], json!("failed_call"));
    }

    // ------------------------------------------------ Identity Center's own notifications

    fn notice(detail_type: &str, resources: Value) -> Value {
        json!({
            "version": "0",
            "id": ENVELOPE_ID,
            "detail-type": detail_type,
            "source": "aws.identitystore",
            "account": "111122223333",
            "time": "2026-03-02T09:00:00Z",
            "region": "us-east-1",
            "resources": resources,
            "detail": {}
        })
    }

    fn store_arn(id: &str) -> String {
        format!("arn:aws:identitystore::111122223333:identitystore/{id}")
    }

    #[test]
    fn notifications_name_the_user_or_group_of_their_resources() {
        let user_arn = format!("arn:aws:identitystore:::user/{U1}");
        let group_arn = format!("arn:aws:identitystore:::group/{G1}");
        for detail_type in ["User Updated", "User Deleted"] {
            let payload = notice(detail_type, json!([store_arn(STORE), user_arn, group_arn]));
            match run(&payload) {
                Ok(Inbound::Membership(change)) => {
                    assert_eq!(change.subjects, vec![user(U1)], "{detail_type}");
                    assert_eq!(change.event_source, NOTIFICATION_SOURCE);
                    assert_eq!(change.event_name, detail_type);
                    assert_eq!(change.event_id, ENVELOPE_ID);
                    assert_eq!(change.cloudtrail_event_id, None);
                    assert_eq!(change.event_time.as_deref(), Some("2026-03-02T09:00:00Z"));
                }
                other => panic!("{detail_type}: {other:?}"),
            }
        }
        for detail_type in ["Group Updated", "Group Deleted"] {
            let payload = notice(detail_type, json!([user_arn, group_arn, store_arn(STORE)]));
            assert_eq!(subjects(&payload), vec![group(G1)], "{detail_type}");
        }
        // Without the store's ARN there is nothing to compare: the re-read decides (like SCIM).
        assert_eq!(
            subjects(&notice("User Deleted", json!([user_arn]))),
            vec![user(U1)]
        );
        // Other partitions' ARNs read the same.
        assert_eq!(
            subjects(&notice(
                "User Updated",
                json!([format!("arn:aws-us-gov:identitystore:::user/{U1}")])
            )),
            vec![user(U1)]
        );
    }

    #[test]
    fn notifications_studio_warden_does_not_act_on_are_skipped() {
        for detail_type in ["User Created", "Group Created", "Something New"] {
            let payload = notice(detail_type, json!([store_arn(STORE)]));
            assert_eq!(
                reason(&payload),
                SkipReason::NotHandled {
                    event_source: "aws.identitystore".to_owned(),
                    event_name: detail_type.to_owned(),
                },
                "{detail_type}"
            );
        }
    }

    #[test]
    fn a_notification_about_another_store_is_skipped() {
        let payload = notice(
            "User Deleted",
            json!([
                store_arn("d-1234567890"),
                "arn:aws:identitystore:::user/1234567890-1111aaaa-0000-4000-8000-000000000001"
            ]),
        );
        assert_eq!(
            reason(&payload),
            SkipReason::OtherIdentityStore {
                expected: STORE.to_owned(),
                found: "d-1234567890".to_owned(),
            }
        );
    }

    #[test]
    fn a_notification_whose_resources_name_no_subject_is_skipped_never_guessed() {
        for resources in [
            json!([]),
            json!([store_arn(STORE)]),
            // A group ARN does not make a user notification about that group.
            json!([format!("arn:aws:identitystore:::group/{G1}")]),
            json!(["arn:aws:sagemaker:us-east-1:111122223333:domain/d-abc123def456"]),
            json!(["not an arn"]),
        ] {
            assert!(
                matches!(
                    reason(&notice("User Updated", resources.clone())),
                    SkipReason::NoSubject { .. }
                ),
                "{resources}"
            );
        }
        let mut payload = notice("Group Deleted", json!([]));
        remove(&mut payload, "/resources");
        assert!(matches!(reason(&payload), SkipReason::NoSubject { .. }));
    }

    #[test]
    fn malformed_notifications_are_refused_with_their_path() {
        let payload = notice(
            "User Updated",
            json!(["arn:aws:identitystore:::user/not-an-id"]),
        );
        assert!(
            matches!(err(&payload), EventError::InvalidId { ref path, .. } if path == "resources[0]"),
            "{}",
            err_text(&payload)
        );
        let payload = notice("User Updated", json!("arn:aws:identitystore:::user/x"));
        assert!(
            matches!(err(&payload), EventError::WrongType { ref path, expected: "an array", .. } if path == "resources"),
            "{}",
            err_text(&payload)
        );
        let payload = notice("User Updated", json!([42]));
        assert!(matches!(err(&payload), EventError::WrongType { .. }));
        let payload = notice("User Updated", json!([store_arn("d-x")]));
        assert!(matches!(err(&payload), EventError::InvalidId { .. }));
    }

    #[test]
    fn cloudtrail_records_with_the_same_source_stay_api_calls() {
        // CloudTrail's Identity Store records arrive with source aws.identitystore too; their
        // detail-type sends them down the API-call path, never the notification one.
        let mut payload = membership(json!(U1), json!(G1), json!({"membershipId": M1}));
        set(&mut payload, "/source", json!("aws.identitystore"));
        match run(&payload) {
            Ok(Inbound::Membership(change)) => {
                assert_eq!(change.event_source, source::IDENTITY_STORE);
                assert_eq!(change.event_name, "CreateGroupMembership");
            }
            other => panic!("{other:?}"),
        }
    }

    fn sqs_record(id: &str, body: &str) -> Value {
        json!({
            "messageId": id,
            "receiptHandle": "AQEBexample",
            "body": body,
            "attributes": {"ApproximateReceiveCount": "2", "MessageGroupId": "self#home"},
            "messageAttributes": {},
            "md5OfBody": "0",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:111122223333:studio-warden-work.fifo",
            "awsRegion": "us-east-1"
        })
    }

    #[test]
    fn an_sqs_event_is_a_batch_of_work_records_in_order() {
        let payload = json!({"Records": [sqs_record("m-1", "{}"), sqs_record("m-2", "not json")]});
        let Ok(Inbound::Work(batch)) = classify(&payload, &store()) else {
            panic!("{:?}", classify(&payload, &store()));
        };
        assert_eq!(
            batch.records,
            vec![
                WorkRecord {
                    message_id: "m-1".into(),
                    group: Some("self#home".into()),
                    receive_count: Some(2),
                    receipt_handle: Some("AQEBexample".into()),
                    body: "{}".into(),
                },
                WorkRecord {
                    message_id: "m-2".into(),
                    group: Some("self#home".into()),
                    receive_count: Some(2),
                    receipt_handle: Some("AQEBexample".into()),
                    body: "not json".into(),
                },
            ]
        );
    }

    #[test]
    fn an_sqs_event_without_message_ids_or_from_elsewhere_is_refused() {
        let mut no_id = sqs_record("m-1", "{}");
        no_id.as_object_mut().map(|o| o.remove("messageId"));
        let mut s3 = sqs_record("m-1", "{}");
        s3["eventSource"] = json!("aws:s3");
        for payload in [
            json!({"Records": [no_id]}),
            json!({"Records": [s3]}),
            json!({"Records": {}}),
            json!({"Records": [], "mode": "apply"}),
        ] {
            assert!(classify(&payload, &store()).is_err(), "{payload}");
        }
    }
}
