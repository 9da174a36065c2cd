"""SNS's stored kinds, ARNs and the defaults AWS shows for a topic.

A topic is `sns.topic` (id: its name), a subscription `sns.subscription` (id: the UUID that ends its
ARN), and each message on its way to one endpoint an `sns.delivery`, which the control plane sends,
retries and removes (kura/control/sns/).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

KIND_TOPIC = "sns.topic"
KIND_SUBSCRIPTION = "sns.subscription"
KIND_DELIVERY = "sns.delivery"

# Protocols Kura delivers to; the others are refused by name at Subscribe.
DELIVERED = ("http", "https", "email", "email-json")
REFUSED = {"sqs": "SQS queues", "lambda": "Lambda functions", "application": "mobile push endpoints",
           "sms": "SMS", "firehose": "Firehose delivery streams"}

PENDING = "pending confirmation"  # what Subscribe and the List calls show for an unconfirmed subscription
PENDING_ARN = "PendingConfirmation"
TOKEN_LIFETIME = 3 * 86400  # a confirmation token is valid for three days

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

# The HTTP/S retry policy every topic starts with (three retries 20 s apart), as AWS shows it.
DEFAULT_HEALTHY_RETRY: dict[str, Any] = {
    "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
    "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"}
DEFAULT_CONTENT_TYPE = "text/plain; charset=UTF-8"
DEFAULT_DELIVERY_POLICY: dict[str, Any] = {"http": {"defaultHealthyRetryPolicy": DEFAULT_HEALTHY_RETRY,
                                    "disableSubscriptionOverrides": False,
                                    "defaultRequestPolicy": {"headerContentType": DEFAULT_CONTENT_TYPE}}}


@dataclass(frozen=True, slots=True)
class Arn:
    region: str
    account: str
    topic: str
    subscription: str | None = None

    def __str__(self) -> str:
        base = f"arn:aws:sns:{self.region}:{self.account}:{self.topic}"
        return f"{base}:{self.subscription}" if self.subscription else base


def parse_arn(value: str) -> Arn | None:
    parts = value.split(":")
    if len(parts) not in (6, 7) or parts[:3] != ["arn", "aws", "sns"] or not parts[3] or not parts[5]:
        return None
    return Arn(parts[3], parts[4], parts[5], parts[6] if len(parts) == 7 else None)


def topic_arn(region: str, account: str, name: str) -> str:
    return str(Arn(region, account, name))


def valid_topic_name(name: str) -> bool:
    return bool(_TOPIC_NAME.match(name))


def default_policy(arn: str, account: str) -> str:
    """The access policy a new topic gets: its owner may do everything with it."""
    actions = ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
               "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic",
               "SNS:Publish"]
    statement = {"Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
                 "Action": actions, "Resource": arn,
                 "Condition": {"StringEquals": {"AWS:SourceOwner": account}}}
    return json.dumps({"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [statement]},
                      separators=(",", ":"))
