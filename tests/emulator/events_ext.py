"""EventBridge: a rule whose target is an event bus delivers the event itself, as AWS does
(README: "EventBridge across accounts").

moto 5.2.5 re-puts such an event in the target account (``put_events`` there): the envelope
then says ``account`` = the *receiving* account, with a new id and no resources, and the
receiving bus's resource policy is never read. In AWS the event keeps its envelope: a
receiving rule selects senders with an ``account`` field ("Rules with an account field do not
match any events sent from other accounts", model documentation of PutPermission), and the
receiver must first allow the sender in its bus policy (doc: EventBridge user guide, "Sending
and receiving events between AWS accounts"), which may name accounts or the organisation
(``aws:PrincipalOrgID``).

Here, an event-bus target:
  * in another account: delivered only if the target bus exists and its policy admits the
    sending account for ``events:PutEvents`` on the bus (iam_policy.py: the principal is the
    target's ``RoleArn`` if it has one, else the sending account); otherwise dropped, as AWS
    drops a failed invocation (it counts in FailedInvocations; no DLQ is modelled);
  * in the same account: delivered (same-account bus-to-bus permissions are identity-based
    through the target's role, which the emulator does not model);
  * a target without an input transformer (an SQS queue, a log group) receives the whole
    event; moto's default template left out ``account``;
  * the delivered event is the same envelope (id, account, region, time, source,
    detail-type, resources, detail), matched against the receiving bus's rules, whose own
    event-bus targets are not followed: the user guide says events received from another
    account are not sent on to a third, and bus-to-bus forwarding is one hop.
"""

from __future__ import annotations

import copy
from typing import Any

from moto.events.models import Rule, events_backends
from moto.utilities.arns import parse_arn

import iam_policy

_original_send_to_targets = Rule.send_to_targets


def _is_bus(target: dict[str, Any]) -> bool:
    arn = str(target.get("Arn", ""))
    return arn.startswith("arn:") and ":events:" in arn and ":event-bus/" in arn


def _admitted(bus: Any, sender_account: str, target: dict[str, Any]) -> bool:
    if bus.account_id == sender_account:
        return True
    policy = bus.policy
    if policy is None:
        return False
    role = target.get("RoleArn")
    request = iam_policy.Request(
        action="events:PutEvents",
        resource=bus.arn,
        account=sender_account,
        principal_arn=role or f"arn:aws:iam::{sender_account}:root",
        kind="assumed-role" if role else "account",
        org_id=iam_policy.org_of(sender_account),
    )
    try:
        return iam_policy.decide(policy, request)
    except iam_policy.Unsupported:
        return False


def _deliver(bus: Any, event: dict[str, Any]) -> None:
    for rule in list(bus.rules.values()):
        if getattr(rule, "state", "ENABLED") != "ENABLED":
            continue
        _send(rule, copy.deepcopy(event), follow_buses=False)


def _with_targets(self: Rule, targets: list[dict[str, Any]], event: dict[str, Any], transform_input: bool) -> None:
    """moto's delivery to ``targets`` only (the rule's list is restored afterwards; every
    request runs under the emulator's lock)."""
    saved = self.targets
    self.targets = targets
    try:
        _original_send_to_targets(self, event, transform_input)
    finally:
        self.targets = saved


def _send(self: Rule, event: dict[str, Any], transform_input: bool = True, follow_buses: bool = True) -> None:
    buses = [t for t in self.targets if _is_bus(t)]
    plain = [t for t in self.targets if not _is_bus(t) and not t.get("InputTransformer")]
    transformed = [t for t in self.targets if not _is_bus(t) and t.get("InputTransformer")]
    if plain:
        # The whole event, as AWS delivers it to a target without an input transformer
        # (moto's default template left out "account").
        envelope = copy.deepcopy(event)
        envelope.pop("ingestion-time", None)
        _with_targets(self, plain, envelope, False)
    if transformed:
        _with_targets(self, transformed, copy.deepcopy(event), transform_input)
    if not buses or not follow_buses or not self.event_pattern.matches_event(event):
        return
    for target in buses:
        arn = parse_arn(target["Arn"])
        backend = events_backends[arn.account][arn.region]
        bus = backend.event_buses.get(arn.resource_id)
        if bus is None or not _admitted(bus, self.account_id, target):
            continue
        _deliver(bus, event)


def send_to_targets(self: Rule, original_event: Any, transform_input: bool = True) -> None:
    _send(self, original_event, transform_input)


def install() -> None:
    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


install()
