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
"""

from __future__ import annotations

import base64
import binascii
from collections import OrderedDict
from typing import Any

from moto.core.utils import unix_time_millis
from moto.sqs.exceptions import BatchRequestTooLong, InvalidParameterValue
from moto.sqs.models import MAXIMUM_MESSAGE_LENGTH, Queue, SQSBackend

DEDUPLICATION_INTERVAL_MS = 300_000

_original_add_message = Queue.add_message
_original_send_message = SQSBackend.send_message
_original_send_message_batch = SQSBackend.send_message_batch


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


def install() -> None:
    Queue.add_message = add_message  # type: ignore[method-assign]
    SQSBackend.send_message = send_message  # type: ignore[method-assign]
    SQSBackend.send_message_batch = send_message_batch  # type: ignore[method-assign]


install()
