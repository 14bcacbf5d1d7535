"""SQS fixes to moto 5.2.5 (README: "SQS FIFO queues and message size").

* **Deduplication interval** (model documentation of SendMessage's MessageDeduplicationId:
  "any messages sent with the same MessageDeduplicationId are accepted successfully but
  aren't delivered during the 5-minute deduplication interval"): moto only compared a new
  message with the messages still in the queue, so a duplicate sent after the first had been
  received and deleted was delivered again. Each FIFO queue now remembers every
  deduplication id it accepted (explicit or content-based) for 300 seconds from its send,
  whatever became of the message.
* **Message size in bytes, attributes included** (model: MessageBody "The maximum size is
  1 MiB or 1,048,576 bytes", MaximumMessageSize "The limit of how many bytes a message can
  contain"; MessageAttributeValue: "All parts of the message attribute, including Name,
  Type, and Value, are part of the message size restriction"): moto counted the body's
  characters only. Above the queue's MaximumMessageSize, SendMessage is
  ``InvalidParameterValue`` "One or more parameters are invalid. Reason: Message must be
  shorter than N bytes." (report: AWS's answer quoted in getmoto/moto#450 and
  artilleryio/artillery#3683), as moto answers; SendMessageBatch whose messages together
  exceed 1 MiB is ``BatchRequestTooLong`` (model: the operation's documented error).
* **A FIFO group's order after a visibility timeout** (doc: "FIFO queue delivery logic in
  Amazon SQS", "Amazon SQS FIFO queue key terms": messages of a group are "processed one at
  a time, in strict order"; in flight messages block the group until "deleted, or they
  become visible again"): moto dropped a timed-out message from its in-flight set only when
  its receive loop reached it, and re-read the group's in-flight state at that moment, so
  of a batch b1, b2, b3 that timed out together b1 and b2 were skipped (b3 still counted
  in flight) and b3 came back first. A FIFO receive here first settles which messages are
  in flight at one instant (received and not visible again: visibility timeout not over,
  not changed to 0), holds back every group with a message in flight, and then delivers the
  rest in send order; a group's message that is still delayed holds back the later ones
  of its group too. Each pass runs under the emulator's lock (``config.LOCK``), and a long
  poll waits between passes outside it, so concurrent receivers never get one group's
  messages at once.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections import OrderedDict
from copy import deepcopy
from typing import Any

from moto.core.utils import unix_time_millis
from moto.sqs.exceptions import BatchRequestTooLong, InvalidParameterValue
from moto.sqs.models import MAXIMUM_MESSAGE_LENGTH, Message, Queue, SQSBackend, _filter_message_attributes

from config import LOCK

DEDUPLICATION_INTERVAL_MS = 300_000
# While a long poll finds nothing, it looks again after a new message arrives or after this
# long (in-flight messages becoming visible again send no signal).
LONG_POLL_RECHECK_SECONDS = 0.1

_original_add_message = Queue.add_message
_original_send_message = SQSBackend.send_message
_original_send_message_batch = SQSBackend.send_message_batch
_original_receive_message = SQSBackend.receive_message


def _value_bytes(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    text = str(value)
    return len(text.encode("utf-8"))


def _binary_bytes(value: Any) -> int:
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    try:
        return len(base64.b64decode(str(value), validate=True))
    except (binascii.Error, ValueError):
        return _value_bytes(value)


def message_size(body: str, attributes: dict[str, Any] | None) -> int:
    """Bytes a message counts against the limit: the UTF-8 body plus each attribute's name,
    data type and value."""
    size = _value_bytes(body)
    for name, attribute in (attributes or {}).items():
        size += _value_bytes(name)
        if not isinstance(attribute, dict):
            continue
        size += _value_bytes(attribute.get("DataType") or attribute.get("data_type"))
        if attribute.get("BinaryValue") is not None:
            size += _binary_bytes(attribute["BinaryValue"])
        else:
            size += _value_bytes(attribute.get("StringValue"))
    return size


def _check_size(queue: Queue, body: str, attributes: dict[str, Any] | None) -> None:
    limit = int(queue.maximum_message_size)  # type: ignore[arg-type]
    if message_size(body, attributes) > limit:
        raise InvalidParameterValue(
            f"One or more parameters are invalid. Reason: Message must be shorter than {limit} bytes."
        )


def send_message(self: SQSBackend, queue_name: str, message_body: str, message_attributes: Any = None, *args: Any, **kwargs: Any) -> Any:
    _check_size(self.get_queue(queue_name), message_body, message_attributes)
    return _original_send_message(self, queue_name, message_body, message_attributes, *args, **kwargs)


def send_message_batch(self: SQSBackend, queue_name: str, entries: dict[str, dict[str, Any]]) -> Any:
    total = sum(message_size(e.get("MessageBody", ""), e.get("MessageAttributes")) for e in entries.values())
    if total > MAXIMUM_MESSAGE_LENGTH:
        raise BatchRequestTooLong(total)
    queue = self.get_queue(queue_name)
    for entry in entries.values():
        _check_size(queue, entry.get("MessageBody", ""), entry.get("MessageAttributes"))
    return _original_send_message_batch(self, queue_name, entries)


def add_message(self: Queue, message: Any) -> None:
    dedup = getattr(message, "deduplication_id", None)
    if self.fifo_queue and dedup:
        seen: OrderedDict[str, int] = self.__dict__.setdefault("_warden_dedup", OrderedDict())
        now = int(unix_time_millis())
        while seen:
            oldest, at = next(iter(seen.items()))
            if now - at < DEDUPLICATION_INTERVAL_MS:
                break
            del seen[oldest]
        if dedup in seen:
            return  # accepted, not delivered
        seen[dedup] = now
    _original_add_message(self, message)


def _dead_letter_due(queue: Queue, message: Message) -> bool:
    """moto's redrive rule: a message received maxReceiveCount times goes to the dead-letter
    queue instead of being received again."""
    return (
        queue.dead_letter_queue is not None
        and bool(queue.redrive_policy)
        and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]  # type: ignore[index]
    )


def receive_fifo_once(
    backend: SQSBackend,
    queue: Queue,
    queue_name: str,
    count: int,
    visibility_timeout: int,
    attribute_names: list[str],
) -> list[Message]:
    """One look at a FIFO queue, at one instant: a group with a message in flight gives
    nothing; the others give their messages in send order, up to ``count``."""
    now = unix_time_millis()
    in_flight = queue.pending_messages
    # Received messages whose visibility timeout is over (or was changed to 0) are back.
    for message in [m for m in in_flight if m.visible_at <= now]:
        in_flight.discard(message)
    held = {m.group_id for m in queue._messages if m.visible_at > now}
    result: list[Message] = []
    to_dead_letter: list[Message] = []
    for message in list(queue._messages):  # in send order
        group = message.group_id
        if group in held:
            continue
        if message.delayed_until > now:
            held.add(group)  # the later messages of its group wait for it
            continue
        if not backend.is_message_valid_based_on_retention_period(queue_name, message):
            continue  # past the retention period: AWS deletes it, it is never delivered
        if _dead_letter_due(queue, message):
            to_dead_letter.append(message)
            continue
        in_flight.add(message)
        message.mark_received(visibility_timeout=visibility_timeout)
        delivered = deepcopy(message)
        _filter_message_attributes(delivered, attribute_names)
        result.append(delivered)
        if len(result) >= count:
            break
    for message in to_dead_letter:
        queue._messages.remove(message)
        queue.dead_letter_queue.add_message(message)  # type: ignore[union-attr]
    return result


def receive_message(
    self: SQSBackend,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Message]:
    """ReceiveMessage: one pass under the lock (a FIFO queue's own, a standard queue's
    moto's), and for a long poll, more passes until a message comes or the wait is over."""
    deadline = time.monotonic() + wait_seconds_timeout
    names = message_attribute_names or []
    while True:
        with LOCK:
            queue = self.get_queue(queue_name)
            if queue.fifo_queue:
                result = receive_fifo_once(self, queue, queue_name, count, visibility_timeout, names)
            else:
                result = _original_receive_message(self, queue_name, count, 0, visibility_timeout, names)
        remaining = deadline - time.monotonic()
        if result or remaining <= 0:
            return result
        with queue._messages_lock:
            queue._messages_lock.wait(timeout=min(remaining, LONG_POLL_RECHECK_SECONDS))


def install() -> None:
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
    Queue.add_message = add_message  # type: ignore[method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]
    SQSBackend.send_message_batch = send_message_batch  # type: ignore[method-assign]


install()
