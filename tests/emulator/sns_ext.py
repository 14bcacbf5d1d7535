"""SNS Publish limits moto 5.2.5 does not enforce (checked in front of moto).

* ``Subject``: "Subjects must be UTF-8 text with no line breaks or control characters, and
  less than 100 characters long" (PublishInput.Subject in the service model). moto only
  refuses more than 100 characters (so it accepts exactly 100) and answers with its own
  text. Refused: ``InvalidParameter`` "Invalid parameter: Subject".
* ``Message``: required and non-empty; an empty message is ``InvalidParameter``
  "Invalid parameter: Empty message".
* Message attribute names: "can't start with AWS. or Amazon. (or any variations in casing)"
  (SNS developer guide, "Amazon SNS message attributes"), except the attributes SNS itself
  defines under ``AWS.SNS.`` and ``AWS.MM.`` (SMS and mobile push settings). Refused:
  ``ParameterValueInvalid`` (the model's InvalidParameterValueException code; which of
  the two modelled parameter errors AWS returns here is unknown in AWS).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any, Callable
from urllib.parse import parse_qs

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ATTRIBUTE_NAME = re.compile(r"MessageAttributes\.entry\.\d+\.Name")
_SNS_DEFINED = ("aws.sns.", "aws.mm.")


def _params(body: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/x-amz-json") or content_type.startswith("application/json"):
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return {}
        if not isinstance(data, dict):
            return {}
        names = list((data.get("MessageAttributes") or {}).keys())
        return {"Subject": data.get("Subject"), "Message": data.get("Message"), "names": names}
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    names = [v[0] for k, v in form.items() if _ATTRIBUTE_NAME.fullmatch(k)]
    return {
        "Subject": form["Subject"][0] if "Subject" in form else None,
        "Message": form["Message"][0] if "Message" in form else None,
        "names": names,
    }


def publish_refusal(body: bytes, content_type: str) -> tuple[str, str] | None:
    """(error code, message) for a Publish AWS refuses, else None."""
    p = _params(body, content_type)
    subject = p.get("Subject")
    if subject is not None and (len(subject) >= 100 or _CONTROL.search(subject)):
        return "InvalidParameter", "Invalid parameter: Subject"
    if p.get("Message") is not None and p["Message"] == "":
        return "InvalidParameter", "Invalid parameter: Empty message"
    for name in p.get("names") or []:
        lowered = name.lower()
        if (lowered.startswith("aws.") or lowered.startswith("amazon.")) and not lowered.startswith(_SNS_DEFINED):
            return (
                "ParameterValueInvalid",
                f"The message attribute name '{name}' is invalid: names starting with 'AWS.' or 'Amazon.' are reserved",
            )
    return None


def error(start_response: Callable[..., Any], code: str, message: str) -> list[bytes]:
    request_id = str(uuid.uuid4())
    payload = (
        f"<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type>"
        f"<Code>{code}</Code><Message>{_xml(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    start_response(
        "400 Bad Request",
        [("Content-Type", "text/xml"), ("Content-Length", str(len(payload))), ("x-amzn-RequestId", request_id)],
    )
    return [payload]


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
