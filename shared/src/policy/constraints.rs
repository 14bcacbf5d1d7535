//! SageMaker's own constraints on the settings a policy carries, checked when the policy is
//! loaded, so that a policy AWS would refuse at `CreateUserProfile` / `UpdateUserProfile` never
//! reaches a run.
//!
//! The constraints are not written here: `shared/sagemaker-constraints.json` is a pruned copy of
//! botocore's SageMaker service model (the one the emulator validates requests with), holding
//! the request members a policy sets and their `min`/`max` lengths, list sizes, `pattern`s,
//! `enum` values and `required` members, plus the `aws:` tag-key prefix AWS documents as
//! reserved. `scripts/sagemaker_constraints.py` generates it; a test in `make test` fails when
//! it is stale. This module builds, from a mapping, the request members it sets
//! ([`mapping_request`], the one place that names which policy field goes where, as the
//! SageMaker adapter sends them) and walks them against each operation's input shape: one
//! generic walk, no per-field check.
//!
//! AWS matches patterns with Java's `java.util.regex` against the whole value; [`Pattern`]
//! translates the few classes whose meaning differs in the `regex` crate (`\d`, `\w`, `\s`
//! and `.` are ASCII / exclude line terminators in Java) and anchors the result. Lengths count
//! Unicode code points, as Smithy's `length` trait and the emulator do.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::LazyLock;

use serde::Deserialize;
use toml::Spanned;

use super::{RawMapping, Validator};

static SOURCE: &str = include_str!("../../sagemaker-constraints.json");

/// The constraints file, parsed and its patterns compiled at first use (the first policy load).
static MODEL: LazyLock<Result<Model, String>> = LazyLock::new(|| {
    serde_json::from_str(SOURCE).map_err(|e| format!("shared/sagemaker-constraints.json: {e}"))
});

/// The pruned service model.
#[derive(Debug, Deserialize)]
pub(super) struct Model {
    /// Operation name -> its input shape.
    pub(super) operations: BTreeMap<String, String>,
    pub(super) shapes: BTreeMap<String, Shape>,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Kind {
    String,
    Integer,
    List,
    Structure,
    /// Maps, longs, booleans and the rest: no policy field maps to one today.
    #[serde(other)]
    Other,
}

/// One shape and the constraints the model puts on it.
#[derive(Debug, Deserialize)]
pub(super) struct Shape {
    #[serde(rename = "type")]
    pub(super) kind: Kind,
    /// Length of a string (code points), size of a list, or range of an integer.
    min: Option<u64>,
    max: Option<u64>,
    pattern: Option<Pattern>,
    #[serde(rename = "enum")]
    values: Option<Vec<String>>,
    /// Structure members: name -> shape.
    #[serde(default)]
    pub(super) members: BTreeMap<String, String>,
    #[serde(default)]
    required: Vec<String>,
    /// List member shape.
    member: Option<String>,
    /// Documented outside the model (its `source` says where).
    reserved_prefix: Option<ReservedPrefix>,
}

#[derive(Debug, Deserialize)]
struct ReservedPrefix {
    prefix: String,
    ignore_case: bool,
}

/// A model pattern: as AWS writes it (for messages) and compiled for a full match.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
pub(super) struct Pattern {
    source: String,
    regex: regex::Regex,
}

impl TryFrom<String> for Pattern {
    type Error = String;

    fn try_from(source: String) -> Result<Self, String> {
        let anchored = format!(r"\A(?:{})\z", java_to_rust(&source));
        let regex = regex::Regex::new(&anchored)
            .map_err(|e| format!("pattern {source:?} is not usable with the regex crate: {e}"))?;
        Ok(Self { source, regex })
    }
}

/// Java's meaning of the classes the `regex` crate reads differently: `\d`, `\w`, `\s` are
/// ASCII (not Unicode) and `.` excludes Java's line terminators (not only `\n`). Surrogate
/// pairs written as a range (`\uD800\uDC00-\uDBFF\uDFFF`) mean every supplementary code point.
/// Everything else (`\p{L}`, classes, groups, counted repetition) means the same in both.
fn java_to_rust(pattern: &str) -> String {
    let pattern = pattern.replace(r"\uD800\uDC00-\uDBFF\uDFFF", r"\x{10000}-\x{10FFFF}");
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut class_depth = 0usize;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('d') => out.push_str("[0-9]"),
                Some('D') => out.push_str("[^0-9]"),
                Some('w') => out.push_str("[0-9A-Za-z_]"),
                Some('W') => out.push_str("[^0-9A-Za-z_]"),
                Some('s') => out.push_str(r"[\t\n\x0B\f\r ]"),
                Some('S') => out.push_str(r"[^\t\n\x0B\f\r ]"),
                Some(other) => {
                    out.push('\\');
                    out.push(other);
                }
                None => out.push('\\'),
            },
            '[' => {
                class_depth += 1;
                out.push(c);
            }
            ']' if class_depth > 0 => {
                class_depth -= 1;
                out.push(c);
            }
            '.' if class_depth == 0 => out.push_str(r"[^\n\r\x{85}\x{2028}\x{2029}]"),
            _ => out.push(c),
        }
    }
    out
}

/// The loaded constraints, or why they cannot be loaded (a build with a broken file; the
/// tests load it, so this never happens in a released build).
pub(super) fn model() -> Result<&'static Model, &'static str> {
    MODEL.as_ref().map_err(String::as_str)
}

// ---------------------------------------------------------------------- the request

/// A request member as the policy writes it: the policy field it comes from and where.
pub(super) struct Node<'a> {
    /// The policy field, as errors name it (`mappings[0].security_groups[1]`).
    field: String,
    /// How the value is introduced in messages (`key` for a tag key), or empty.
    noun: &'static str,
    span: Range<usize>,
    value: Value<'a>,
}

pub(super) enum Value<'a> {
    Text(&'a str),
    Integer(i64),
    List(Vec<Node<'a>>),
    /// Members by their AWS name, in the order errors are looked for.
    Structure(Vec<(&'static str, Node<'a>)>),
}

impl<'a> Node<'a> {
    fn text(field: String, value: &'a Spanned<String>) -> Self {
        Self {
            field,
            noun: "",
            span: value.span(),
            value: Value::Text(value.get_ref()),
        }
    }

    fn integer(field: String, value: &Spanned<i64>) -> Self {
        Self {
            field,
            noun: "",
            span: value.span(),
            value: Value::Integer(*value.get_ref()),
        }
    }

    /// A value the policy does not write but implies (`LifecycleManagement = ENABLED` when a
    /// timeout is set), checked as if it were at `span`.
    fn implied(field: String, span: Range<usize>, value: &'static str) -> Self {
        Self {
            field,
            noun: "",
            span,
            value: Value::Text(value),
        }
    }

    /// A list; `anchor` locates it when it has no item to point at.
    fn list(field: String, items: &'a [Spanned<String>], anchor: Range<usize>) -> Self {
        let nodes = items
            .iter()
            .enumerate()
            .map(|(j, item)| Node::text(format!("{field}[{j}]"), item))
            .collect();
        Self {
            field,
            noun: "",
            span: items.first().map_or(anchor, Spanned::span),
            value: Value::List(nodes),
        }
    }

    /// A structure of the members that are set; `None` when none is (the member is not sent).
    fn structure(
        field: String,
        span: Range<usize>,
        members: Vec<(&'static str, Option<Node<'a>>)>,
    ) -> Option<Self> {
        let members: Vec<_> = members
            .into_iter()
            .filter_map(|(name, node)| node.map(|n| (name, n)))
            .collect();
        (!members.is_empty()).then_some(Self {
            field,
            noun: "",
            span,
            value: Value::Structure(members),
        })
    }
}

/// The domain a mapping's profiles are created in: its id, the field and the place it came from.
pub(super) struct DomainRef {
    pub(super) field: String,
    /// At the id in the file, or at the domain's name when the deployment supplied it.
    pub(super) id: Spanned<String>,
}

/// What `CreateUserProfile` and `UpdateUserProfile` carry from mapping `i`, as the SageMaker
/// adapter sends it (`adapters/sagemaker.rs`: `create_profile`, `update_profile`,
/// `user_settings`): the one table of policy field -> request member.
pub(super) fn mapping_request<'a>(i: usize, m: &'a RawMapping, domain: &'a DomainRef) -> Node<'a> {
    let at = |field: &str| format!("mappings[{i}].{field}");
    let anchor = m.domain.span();
    let apps = &m.apps;
    let jupyterlab = app_settings(
        i,
        &apps.jupyterlab(),
        &apps.jupyterlab_lifecycle_config_arns,
        "apps.jupyterlab_lifecycle_config_arns",
        anchor.clone(),
    );
    let code_editor = app_settings(
        i,
        &apps.code_editor(),
        &apps.code_editor_lifecycle_config_arns,
        "apps.code_editor_lifecycle_config_arns",
        anchor.clone(),
    );
    let web_portal = Node::structure(
        at("apps.hidden_instance_types"),
        anchor.clone(),
        vec![(
            "HiddenInstanceTypes",
            (!apps.hidden_instance_types.is_empty()).then(|| {
                Node::list(
                    at("apps.hidden_instance_types"),
                    &apps.hidden_instance_types,
                    anchor.clone(),
                )
            }),
        )],
    );
    // CreateSpace, for the private space created with the profile (SpaceDisplayName is
    // checked by the policy itself: its model pattern uses a look-ahead, see `private_space`).
    let space_settings = m.private_space.as_ref().and_then(|space| {
        let ebs = Node::structure(
            at("private_space.ebs_size_gb"),
            anchor.clone(),
            vec![(
                "EbsVolumeSizeInGb",
                space
                    .ebs_size_gb
                    .as_ref()
                    .map(|v| Node::integer(at("private_space.ebs_size_gb"), v)),
            )],
        );
        let storage = Node::structure(
            at("private_space.ebs_size_gb"),
            anchor.clone(),
            vec![("EbsStorageSettings", ebs)],
        );
        Node::structure(
            at("private_space"),
            anchor.clone(),
            vec![("SpaceStorageSettings", storage)],
        )
    });
    let user_settings = Node::structure(
        at("execution_role"),
        m.execution_role.span(),
        vec![
            (
                "ExecutionRole",
                Some(Node::text(at("execution_role"), &m.execution_role)),
            ),
            (
                "SecurityGroups",
                Some(Node::list(
                    at("security_groups"),
                    &m.security_groups,
                    anchor.clone(),
                )),
            ),
            (
                "DefaultLandingUri",
                apps.default_landing_uri
                    .as_ref()
                    .map(|v| Node::text(at("apps.default_landing_uri"), v)),
            ),
            ("JupyterLabAppSettings", jupyterlab),
            ("CodeEditorAppSettings", code_editor),
            ("StudioWebPortalSettings", web_portal),
        ],
    );
    // In the file's order, so that the first bad tag is the one reported.
    let mut in_file: Vec<_> = m.tags.iter().collect();
    in_file.sort_by_key(|(k, _)| k.span().start);
    let tags = in_file
        .into_iter()
        .map(|(k, v)| {
            let key = Node {
                noun: "key",
                ..Node::text(at("tags"), k)
            };
            let value = Node::text(at(&format!("tags.{}", k.get_ref())), v);
            Node {
                field: at("tags"),
                noun: "",
                span: k.span(),
                value: Value::Structure(vec![("Key", key), ("Value", value)]),
            }
        })
        .collect::<Vec<_>>();
    let tags_span = m
        .tags
        .keys()
        .map(Spanned::span)
        .min_by_key(|s| s.start)
        .unwrap_or(anchor.clone());
    Node {
        field: format!("mappings[{i}]"),
        noun: "",
        span: anchor,
        value: Value::Structure(
            [
                (
                    "DomainId",
                    Some(Node::text(domain.field.clone(), &domain.id)),
                ),
                ("UserSettings", user_settings),
                ("SpaceSettings", space_settings),
                (
                    "Tags",
                    Some(Node {
                        field: at("tags"),
                        noun: "",
                        span: tags_span,
                        value: Value::List(tags),
                    }),
                ),
            ]
            .into_iter()
            .filter_map(|(name, node)| node.map(|n| (name, n)))
            .collect(),
        ),
    }
}

/// `JupyterLabAppSettings` or `CodeEditorAppSettings` as mapping `i` sets them; `None` when it
/// sets nothing of that app type. `arns` are the app type's `LifecycleConfigArns` (JupyterLab's
/// have their own key, from before the other settings).
fn app_settings<'a>(
    i: usize,
    app: &super::RawAppType<'a>,
    arns: &'a [Spanned<String>],
    arns_field: &str,
    anchor: Range<usize>,
) -> Option<Node<'a>> {
    let p = app.prefix;
    let at = |key: &str| format!("mappings[{i}].apps.{p}_{key}");
    let text =
        |key: &str, v: &'a Option<Spanned<String>>| v.as_ref().map(|v| Node::text(at(key), v));
    let integer =
        |key: &str, v: &'a Option<Spanned<i64>>| v.as_ref().map(|v| Node::integer(at(key), v));
    let resource_spec = Node::structure(
        at("instance_type"),
        anchor.clone(),
        vec![
            ("InstanceType", text("instance_type", app.instance_type)),
            (
                "LifecycleConfigArn",
                text(
                    "default_lifecycle_config_arn",
                    app.default_lifecycle_config_arn,
                ),
            ),
            ("SageMakerImageArn", text("image_arn", app.image_arn)),
        ],
    );
    // The first idle key in the file carries the implied LifecycleManagement.
    let idle_keys = [
        (
            "IdleTimeoutInMinutes",
            "idle_timeout_minutes",
            app.idle_timeout,
        ),
        (
            "MinIdleTimeoutInMinutes",
            "min_idle_timeout_minutes",
            app.min_idle_timeout,
        ),
        (
            "MaxIdleTimeoutInMinutes",
            "max_idle_timeout_minutes",
            app.max_idle_timeout,
        ),
    ];
    let first_idle = idle_keys
        .iter()
        .filter_map(|&(_, key, v)| v.as_ref().map(|v| (key, v.span())))
        .min_by_key(|(_, span)| span.start);
    let mut idle_members: Vec<(&'static str, Option<Node<'a>>)> = vec![(
        "LifecycleManagement",
        first_idle
            .clone()
            .map(|(key, span)| Node::implied(at(key), span, "ENABLED")),
    )];
    idle_members.extend(
        idle_keys
            .iter()
            .map(|&(member, key, v)| (member, integer(key, v))),
    );
    let idle = Node::structure(
        at("idle_timeout_minutes"),
        first_idle.map_or(anchor.clone(), |(_, span)| span),
        idle_members,
    );
    let lifecycle = Node::structure(
        at("idle_timeout_minutes"),
        anchor.clone(),
        vec![("IdleSettings", idle)],
    );
    let images = app
        .custom_images
        .iter()
        .enumerate()
        .map(|(j, image)| {
            let field = at(&format!("custom_images[{j}]"));
            let member = |key: &str| format!("{field}.{key}");
            Node {
                field: field.clone(),
                noun: "",
                span: image.image_name.span(),
                value: Value::Structure(
                    vec![
                        (
                            "ImageName",
                            Node::text(member("image_name"), &image.image_name),
                        ),
                        (
                            "AppImageConfigName",
                            Node::text(
                                member("app_image_config_name"),
                                &image.app_image_config_name,
                            ),
                        ),
                    ]
                    .into_iter()
                    .chain(image.image_version_number.as_ref().map(|v| {
                        (
                            "ImageVersionNumber",
                            Node::integer(member("image_version_number"), v),
                        )
                    }))
                    .collect(),
                ),
            }
        })
        .collect::<Vec<_>>();
    let images_span = app
        .custom_images
        .first()
        .map_or(anchor.clone(), |c| c.image_name.span());
    Node::structure(
        format!("mappings[{i}].apps"),
        anchor.clone(),
        vec![
            ("DefaultResourceSpec", resource_spec),
            (
                "LifecycleConfigArns",
                (!arns.is_empty()).then(|| {
                    Node::list(format!("mappings[{i}].{arns_field}"), arns, anchor.clone())
                }),
            ),
            (
                "CustomImages",
                (!images.is_empty()).then(|| Node {
                    field: at("custom_images"),
                    noun: "",
                    span: images_span,
                    value: Value::List(images),
                }),
            ),
            ("AppLifecycleManagement", lifecycle),
        ],
    )
}

// ---------------------------------------------------------------------- the walk

/// A constraint a policy value breaks.
#[derive(Debug)]
pub(super) struct Violation {
    pub(super) span: Range<usize>,
    pub(super) message: String,
}

/// The first constraint of any operation in the model that `request` breaks.
pub(super) fn check(model: &Model, request: &Node<'_>) -> Result<(), Violation> {
    // The profile's calls first, so that a member they share with CreateSpace (DomainId) is
    // reported as part of the call that carries most of a mapping.
    let mut operations: Vec<_> = model.operations.iter().collect();
    operations.sort_by_key(|(name, _)| (!name.ends_with("UserProfile"), name.as_str()));
    for (operation, input) in operations {
        Walk { model, operation }.node(request, input, "")?;
    }
    Ok(())
}

struct Walk<'m> {
    model: &'m Model,
    operation: &'m str,
}

/// At most 80 characters of a value, so that an oversized input keeps the message short.
fn shown(value: &str) -> String {
    let mut s: String = value.chars().take(80).collect();
    if value.chars().nth(80).is_some() {
        s.push('…');
    }
    format!("{s:?}")
}

impl Walk<'_> {
    fn fail(
        &self,
        node: &Node<'_>,
        span: Range<usize>,
        shape: &str,
        path: &str,
        what: String,
    ) -> Violation {
        let noun = if node.noun.is_empty() {
            String::new()
        } else {
            format!("{} ", node.noun)
        };
        Violation {
            span,
            message: format!(
                "{}: {noun}{what} ({} {path}, shape {shape})",
                node.field, self.operation
            ),
        }
    }

    fn node(&self, node: &Node<'_>, shape_name: &str, path: &str) -> Result<(), Violation> {
        let Some(shape) = self.model.shapes.get(shape_name) else {
            // A generated file names only shapes it holds; nothing to check against otherwise.
            return Ok(());
        };
        match (&node.value, &shape.kind) {
            (Value::Text(text), Kind::String) => self.text(node, text, shape, shape_name, path),
            (Value::Integer(n), Kind::Integer) => {
                let fail =
                    |what: String| Err(self.fail(node, node.span.clone(), shape_name, path, what));
                if let Some(min) = shape.min.filter(|min| i128::from(*n) < i128::from(*min)) {
                    return fail(format!("{n} is below {min}, SageMaker's minimum"));
                }
                if let Some(max) = shape.max.filter(|max| i128::from(*n) > i128::from(*max)) {
                    return fail(format!("{n} is above {max}, SageMaker's maximum"));
                }
                Ok(())
            }
            (Value::List(items), Kind::List) => {
                let n = items.len() as u64;
                if let Some(max) = shape.max.filter(|max| n > *max) {
                    let span = usize::try_from(max)
                        .ok()
                        .and_then(|max| items.get(max))
                        .map_or(node.span.clone(), |i| i.span.clone());
                    return Err(self.fail(
                        node,
                        span,
                        shape_name,
                        path,
                        format!("has {n} entries; SageMaker accepts at most {max}"),
                    ));
                }
                if let Some(min) = shape.min.filter(|min| n < *min) {
                    return Err(self.fail(
                        node,
                        node.span.clone(),
                        shape_name,
                        path,
                        format!("has {n} entries; SageMaker requires at least {min}"),
                    ));
                }
                let Some(member) = &shape.member else {
                    return Ok(());
                };
                let member_path = format!("{path}.member");
                items
                    .iter()
                    .try_for_each(|item| self.node(item, member, &member_path))
            }
            (Value::Structure(members), Kind::Structure) => {
                for required in &shape.required {
                    if !members.iter().any(|(name, _)| name == required) {
                        return Err(self.fail(
                            node,
                            node.span.clone(),
                            shape_name,
                            path,
                            format!("{required} is required"),
                        ));
                    }
                }
                for (name, member) in members {
                    // A member the operation does not take is not sent with it (tags with
                    // UpdateUserProfile).
                    if let Some(member_shape) = shape.members.get(*name) {
                        let member_path = if path.is_empty() {
                            (*name).to_owned()
                        } else {
                            format!("{path}.{name}")
                        };
                        self.node(member, member_shape, &member_path)?;
                    }
                }
                Ok(())
            }
            // A member whose form is not its shape's (the tests rule it out): not checkable.
            _ => Ok(()),
        }
    }

    fn text(
        &self,
        node: &Node<'_>,
        text: &str,
        shape: &Shape,
        name: &str,
        path: &str,
    ) -> Result<(), Violation> {
        let fail = |what: String| Err(self.fail(node, node.span.clone(), name, path, what));
        let value = shown(text);
        let length = text.chars().count() as u64;
        if let Some(max) = shape.max.filter(|max| length > *max) {
            return fail(format!(
                "{value} has {length} characters; SageMaker accepts at most {max}"
            ));
        }
        if let Some(min) = shape.min.filter(|min| length < *min) {
            return fail(format!(
                "{value} has {length} characters; SageMaker requires at least {min}"
            ));
        }
        if let Some(values) = &shape.values {
            if !values.iter().any(|v| v == text) {
                return fail(format!(
                    "{value} is not one of SageMaker's values{}",
                    suggestions(values, text)
                ));
            }
        } else if let Some(pattern) = &shape.pattern
            && !pattern.regex.is_match(text)
        {
            return fail(format!(
                "{value} does not match SageMaker's pattern {}",
                pattern.source
            ));
        }
        if let Some(reserved) = &shape.reserved_prefix {
            let head: String = text.chars().take(reserved.prefix.chars().count()).collect();
            let taken = if reserved.ignore_case {
                head.to_lowercase() == reserved.prefix.to_lowercase()
            } else {
                head == reserved.prefix
            };
            if taken {
                return fail(format!(
                    "{value} starts with {:?}, a prefix AWS reserves for its own tags{}",
                    reserved.prefix,
                    if reserved.ignore_case {
                        " (in any case)"
                    } else {
                        ""
                    }
                ));
            }
        }
        Ok(())
    }
}

/// A hint for an enum: the values of the same family (`ml.t3.` for `ml.t3.huge`), else a few.
fn suggestions(values: &[String], text: &str) -> String {
    let family = text.rsplit_once('.').map(|(head, _)| format!("{head}."));
    let same: Vec<&str> = values
        .iter()
        .filter(|v| family.as_ref().is_some_and(|f| v.starts_with(f.as_str())))
        .map(String::as_str)
        .take(12)
        .collect();
    if same.is_empty() {
        let some: Vec<&str> = values.iter().take(6).map(String::as_str).collect();
        format!(" (such as {}; {} in all)", some.join(", "), values.len())
    } else {
        format!(" (in that family: {})", same.join(", "))
    }
}

impl Validator<'_> {
    /// The first SageMaker constraint `request` breaks, as a policy error at its line.
    pub(super) fn sagemaker_constraints(
        &self,
        request: &Node<'_>,
    ) -> Result<(), super::PolicyError> {
        let model = model().map_err(|e| {
            self.unlocated(format!(
                "the built-in SageMaker constraints cannot be loaded: {e}"
            ))
        })?;
        check(model, request).map_err(|v| self.at_span(v.span, v.message))
    }
}

#[cfg(test)]
mod tests;
