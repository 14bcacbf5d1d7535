"""One source of truth for the handled events: events/routes.json.

Every sample in events/ is routed to exactly one of membership-sync, compliance-sweep, schedule
(delivered by the Scheduler, never by a rule) or skip. shared/tests/events.rs holds the Rust
classifier to that file; this test holds the deployed EventBridge patterns to it, evaluated with
a small implementation of EventBridge's matching (eventpattern.py). Where a pattern is narrower
than the classifier on purpose, the exception is named in its own test below.
"""

import copy
import json

import pytest
from conftest import FIXTURES, INFRA_DIR
from eventpattern import matches
from support import pattern

EVENTS = INFRA_DIR.parent / "events"
ROUTES = json.loads((EVENTS / "routes.json").read_text())
SAMPLES = {p.name: json.loads(p.read_text()) for p in sorted(EVENTS.glob("*.json")) if p.name != "routes.json"}
RULE_OF = {"membership-sync": "membership-events", "compliance-sweep": "drift-events"}
DESTINATIONS = {"membership-sync", "compliance-sweep", "schedule", "skip"}


@pytest.fixture(scope="module")
def events_stack(synth):
    """The stack deployed with the policy whose values the samples use (store d-9067c0ffee,
    domain d-abc123def456, security groups of the samples)."""
    return synth(policyFile=str(FIXTURES / "events-policy.toml"), domainId="d-abc123def456")


def rules(stack) -> dict:
    return {rule: pattern(stack.named(rule)) for rule in RULE_OF.values()}


def test_routes_name_every_sample_and_only_samples():
    assert set(ROUTES) == set(SAMPLES), "events/routes.json must list every sample in events/, and only those"
    assert set(ROUTES.values()) <= DESTINATIONS


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_each_rule_matches_exactly_the_samples_routed_to_its_function(events_stack, name):
    routed = ROUTES[name]
    for function, rule in RULE_OF.items():
        matched = matches(rules(events_stack)[rule], SAMPLES[name])
        assert matched == (routed == function), f"{rule} {'matches' if matched else 'misses'} {name}, routed to {routed}"


def test_the_forwarder_in_another_home_region_matches_the_same_samples(synth):
    stack = synth(region="eu-west-1", policyFile=str(FIXTURES / "events-policy.toml"), domainId="d-abc123def456")
    forward = pattern(stack.named("membership-events-forward"))
    for name, sample in SAMPLES.items():
        assert matches(forward, sample) == (ROUTES[name] == "membership-sync"), name


def mutated(name: str, path: str, value=None, delete: bool = False) -> dict:
    event = copy.deepcopy(SAMPLES[name])
    *parents, leaf = path.split("/")
    node = event
    for key in parents:
        node = node[key]
    if delete:
        del node[leaf]
    else:
        node[leaf] = value
    return event


def test_where_the_rules_are_narrower_than_the_classifier_it_is_on_purpose(events_stack):
    """The documented exceptions: events the classifier would turn into a change but that no
    rule delivers. Each is deliberate, and the scheduled sweep covers it.

    1. A console (sso-directory) record without `identityStoreId`: the classifier checks the
       store only where the record names it; the rule requires it, so that another store's
       console events never wake the function. No recorded console event lacks it.
    2. A security-group change of a group no policy, baseline or config names: the classifier
       names any group; the rule only the groups that matter, so that a burst of unrelated
       changes cannot throttle the sweep (issue 12, item 9).
    3. A SageMaker change in a domain the stack does not manage: the drift check would ignore
       it ("domain not managed"); the rule never delivers it.
    4. A record whose `errorCode` is JSON null: the classifier treats null as no error; the
       rule's `exists: false` sees a present key. CloudTrail omits the key on success.
    """
    membership, drift = rules(events_stack)["membership-events"], rules(events_stack)["drift-events"]
    no_store = mutated("sso-directory-AddMemberToGroup.json", "detail/requestParameters/identityStoreId", delete=True)
    assert not matches(membership, no_store)
    for name, sample in SAMPLES.items():
        if name.startswith("ec2-"):
            text = json.dumps(sample)
            for group in ("sg-0a1b2c3d4e5f60718", "sg-0fedcba9876543210"):
                text = text.replace(group, "sg-0123456789abcdef9")
            assert not matches(drift, json.loads(text)), f"{name} about an unrelated group"
    assert not matches(drift, mutated("sagemaker-UpdateDomain.json", "detail/requestParameters/domainId", "d-unmanaged0001"))
    assert not matches(membership, mutated("identitystore-CreateGroupMembership.json", "detail/errorCode", None))


def test_scim_events_cannot_be_scoped_to_the_store(events_stack, synth):
    """The other documented exception, the other way round: SCIM records carry no identity
    store id, so the SCIM branch matches every SCIM call of the account (one Identity Center
    instance, one store) unless scimTenantId narrows it to one SCIM tenant."""
    membership = rules(events_stack)["membership-events"]
    sample = SAMPLES["scim-PatchGroup-hidden-members.json"]
    assert "identityStoreId" not in sample["detail"]["requestParameters"]
    assert matches(membership, sample)
    tenant = sample["detail"]["requestParameters"]["tenantId"]
    scoped = pattern(synth(policyFile=str(FIXTURES / "events-policy.toml"), domainId="d-abc123def456", scimTenantId=tenant).named("membership-events"))
    assert matches(scoped, sample)
    assert not matches(scoped, mutated("scim-PatchGroup-hidden-members.json", "detail/requestParameters/tenantId", "another-tenant"))


def test_the_matcher_itself_follows_eventbridge():
    """Spot checks of the test's EventBridge matcher on the documented operators."""
    event = {"detail": {"a": "x", "list": ["p", "q"], "items": [{"id": "1"}, {"id": "2"}], "nul": None}}
    assert matches({"detail": {"a": ["x", "y"]}}, event)
    assert not matches({"detail": {"a": ["y"]}}, event)
    assert matches({"detail": {"list": ["q"]}}, event)
    assert matches({"detail": {"items": {"id": ["2"]}}}, event)
    assert matches({"detail": {"a": [{"prefix": "x"}]}}, event)
    assert matches({"detail": {"missing": [{"exists": False}]}}, event)
    assert not matches({"detail": {"nul": [{"exists": False}]}}, event)
    assert matches({"detail": {"nul": [None]}}, event)
    assert matches({"detail": {"a": [{"anything-but": "y"}]}}, event)
    assert not matches({"detail": {"a": [{"anything-but": ["x"]}]}}, event)
    assert not matches({"detail": {"missing": [{"anything-but": "x"}]}}, event)
    assert matches({"detail": {"$or": [{"a": ["nope"]}, {"list": ["p"]}]}}, event)
    assert not matches({"detail": {"$or": [{"a": ["nope"]}, {"list": ["z"]}]}}, event)
    with pytest.raises(AssertionError):
        matches({"detail": {"a": [{"numeric": [">", 0]}]}}, event)


def test_notifications_are_not_scoped_to_the_store_on_purpose(events_stack):
    """Identity Center's own notifications: the rule matches them whatever store their
    resources name (their `detail` is undocumented and the store's ARN in `resources` is
    inferred, so a pattern resting on it could drop them all); the classifier skips another
    store's (shared/src/events.rs, the notification tests)."""
    membership = rules(events_stack)["membership-events"]
    sample = SAMPLES["identitystore-notification-User-Deleted.json"]
    assert matches(membership, sample)
    other = json.loads(json.dumps(sample).replace("d-9067c0ffee", "d-1234567890"))
    assert matches(membership, other)
    # Only the four detail-types that name a user or group to re-read.
    assert not matches(membership, {**sample, "detail-type": "User Created"})
    assert not matches(membership, {**sample, "detail-type": "Group Created"})
