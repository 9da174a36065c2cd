"""Publish: checked as SNS checks it, then queued for every confirmed subscription of the topic."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from kura.services.registry import Ctx, operation
from kura.services.sns import errors, fanout, shared
from kura.services.sns.records import parse_arn

MAX_BYTES = 256 * 1024  # message plus attributes
MAX_ATTRIBUTES = 10
_ATTR_NAME = re.compile(r"^(?!\.)(?!.*\.\.)(?!aws\.|amazon\.)[A-Za-z0-9_.-]{1,256}(?<!\.)$", re.IGNORECASE)
_SUBJECT = re.compile(r"^[\x20-\x7e]{1,100}$")


def _attributes(raw: dict[str, dict[str, Any]] | None) -> tuple[dict[str, dict[str, str]], int]:
    """MessageAttributes → {name: {Type, Value}} as notifications carry them, and their size in bytes."""
    out: dict[str, dict[str, str]] = {}
    size = 0
    if len(raw or {}) > MAX_ATTRIBUTES:
        raise errors.invalid(f"MessageAttributes: at most {MAX_ATTRIBUTES} attributes")
    for name, attr in (raw or {}).items():
        if not _ATTR_NAME.match(name):
            raise errors.invalid(f"MessageAttributes: invalid name {name}")
        kind = attr.get("DataType") or ""
        base = kind.split(".", 1)[0]
        if base not in ("String", "Number", "Binary"):
            raise errors.fault("ParameterValueInvalid",
                               f"The message attribute '{name}' has an invalid message attribute type, the "
                               "set of supported type prefixes is Binary, Number, and String.")
        if base == "Binary":
            blob = attr.get("BinaryValue")
            if blob is None:
                raise errors.fault("ParameterValueInvalid", f"The message attribute '{name}' must contain "
                                                            "non-empty message attribute value.")
            value = base64.b64encode(blob if isinstance(blob, bytes) else str(blob).encode()).decode()
        else:
            text = attr.get("StringValue")
            if text is None:
                raise errors.fault("ParameterValueInvalid", f"The message attribute '{name}' must contain "
                                                            "non-empty message attribute value.")
            value = str(text)
            if base == "Number":
                try:
                    float(value)
                except ValueError:
                    raise errors.fault("ParameterValueInvalid", f"Could not cast message attribute '{name}' "
                                                                "value to number.") from None
            if kind.startswith("String.Array"):
                try:
                    if not isinstance(json.loads(value), list):
                        raise ValueError(value)
                except ValueError:
                    raise errors.fault("ParameterValueInvalid", f"The message attribute '{name}' is not a "
                                                                "JSON array.") from None
        out[name] = {"Type": kind, "Value": value}
        size += len(name.encode()) + len(kind.encode()) + len(value.encode())
    return out, size


def _check_structure(message: str) -> None:
    try:
        texts = json.loads(message)
    except ValueError:
        raise errors.invalid("Message Structure - JSON message body failed to parse") from None
    if not isinstance(texts, dict) or "default" not in texts:
        raise errors.invalid("Message Structure - No default entry in JSON message body")
    if not all(isinstance(v, str) for v in texts.values()):
        raise errors.invalid("Message Structure - JSON message body values must be strings")


@operation("sns", "Publish")
def publish(ctx: Ctx, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("PhoneNumber"):
        raise errors.not_implemented("SMS delivery (PhoneNumber)")
    target = params.get("TopicArn") or params.get("TargetArn")
    if not target:
        raise errors.invalid("TopicArn or TargetArn Reason: no value for required parameter")
    parsed = parse_arn(target)
    if parsed is not None and parsed.topic == "endpoint":
        raise errors.not_implemented("mobile push endpoints (TargetArn)")
    topic = shared.get_topic(ctx, target, "TopicArn" if params.get("TopicArn") else "TargetArn")
    if params.get("MessageDeduplicationId"):
        raise errors.invalid("MessageDeduplicationId Reason: The request includes MessageDeduplicationId "
                             "parameter that is not valid for this topic type")
    message = params["Message"]
    if not message:
        raise errors.invalid("Empty message")
    subject = params.get("Subject")
    if subject is not None and not _SUBJECT.match(subject):
        raise errors.invalid("Subject")
    structure = params.get("MessageStructure")
    if structure is not None and structure != "json":
        raise errors.invalid("MessageStructure")
    if structure == "json":
        _check_structure(message)
    attributes, attr_size = _attributes(params.get("MessageAttributes"))
    if len(message.encode()) + attr_size > MAX_BYTES:
        raise errors.invalid("Message too long")
    out = fanout.Outgoing(message, subject, attributes, structure)
    message_id = fanout.publish(ctx.store, topic.region, ctx.account, topic.id, out, ctx.now())
    if message_id is None:
        raise errors.topic_not_found()
    return {"MessageId": message_id}
