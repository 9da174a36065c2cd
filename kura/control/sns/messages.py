"""What a delivery puts on the wire: the signed JSON document SNS posts (or e-mails as email-json),
its HTTP headers, and the plain-text e-mail of the `email` protocol. Pure functions of a delivery's
spec, the signer and Kura's endpoint URL."""

from __future__ import annotations

import email.message
import email.utils
import json
from typing import Any
from urllib.parse import quote

from kura.services.sns import signing

USER_AGENT = "Amazon Simple Notification Service Agent"
SENDER = "no-reply@sns.kura.invalid"
API_VERSION = "2010-03-31"


def subscribe_url(endpoint_url: str, topic_arn: str, token: str) -> str:
    return (f"{endpoint_url}/?Action=ConfirmSubscription&Version={API_VERSION}"
            f"&TopicArn={quote(topic_arn, safe='')}&Token={token}")


def unsubscribe_url(endpoint_url: str, subscription_arn: str) -> str:
    return (f"{endpoint_url}/?Action=Unsubscribe&Version={API_VERSION}"
            f"&SubscriptionArn={quote(subscription_arn, safe='')}")


def document(spec: dict[str, Any], signer: signing.Signer, endpoint_url: str) -> dict[str, Any]:
    """The JSON document of a delivery, signed, with its fields in the order SNS writes them."""
    kind = spec["Type"]
    doc: dict[str, Any] = {"Type": kind, "MessageId": spec["MessageId"]}
    if kind == "Notification":
        doc["TopicArn"] = spec["TopicArn"]
        if spec.get("Subject") is not None:
            doc["Subject"] = spec["Subject"]
        doc.update(Message=spec["Message"], Timestamp=spec["Timestamp"])
    else:
        doc.update(Token=spec["Token"], TopicArn=spec["TopicArn"], Message=spec["Message"],
                   SubscribeURL=subscribe_url(endpoint_url, spec["TopicArn"], spec["Token"]),
                   Timestamp=spec["Timestamp"])
    version = spec.get("signature_version", "1")
    doc["SignatureVersion"] = version
    doc["Signature"] = signer.sign(doc, version)
    doc["SigningCertURL"] = f"{endpoint_url}{signing.URL_PREFIX}{signer.cert_name}"
    if kind == "Notification":
        doc["UnsubscribeURL"] = unsubscribe_url(endpoint_url, spec["SubscriptionArn"])
        if spec.get("MessageAttributes"):
            doc["MessageAttributes"] = spec["MessageAttributes"]
    return doc


def http_request(spec: dict[str, Any], signer: signing.Signer, endpoint_url: str
                 ) -> tuple[bytes, dict[str, str]]:
    """Body and headers of the POST to an HTTP/S endpoint."""
    headers = {"x-amz-sns-message-type": spec["Type"], "x-amz-sns-message-id": spec["MessageId"],
               "x-amz-sns-topic-arn": spec["TopicArn"], "User-Agent": USER_AGENT,
               "Content-Type": spec.get("content_type") or "text/plain; charset=UTF-8"}
    if spec["Type"] == "Notification":
        headers["x-amz-sns-subscription-arn"] = spec["SubscriptionArn"]
    if spec["Type"] == "Notification" and spec.get("raw"):
        headers["x-amz-sns-rawdelivery"] = "true"
        return spec["Message"].encode(), headers
    return json.dumps(document(spec, signer, endpoint_url), indent=2).encode(), headers


def mail(spec: dict[str, Any], signer: signing.Signer, endpoint_url: str) -> bytes:
    """The RFC 5322 message an `email` or `email-json` subscriber finds in its maildir."""
    msg = email.message.EmailMessage()
    msg["From"] = email.utils.formataddr((spec.get("DisplayName") or "Kura Notifications", SENDER))
    msg["To"] = spec["endpoint"]
    msg["Date"] = email.utils.formatdate(localtime=False)
    msg["Message-ID"] = f"<{spec['MessageId']}@sns.kura.invalid>"
    if spec["protocol"] == "email-json":
        msg["Subject"] = spec.get("Subject") or "AWS Notification Message"
        msg.set_content(json.dumps(document(spec, signer, endpoint_url), indent=2))
    elif spec["Type"] == "Notification":
        msg["Subject"] = spec.get("Subject") or "AWS Notification Message"
        link = unsubscribe_url(endpoint_url, spec["SubscriptionArn"])
        msg.set_content(f"{spec['Message']}\n\n--\nIf you wish to stop receiving notifications from this "
                        f"topic, please click or visit the link below to unsubscribe:\n{link}\n")
    else:
        msg["Subject"] = "AWS Notification - Subscription Confirmation"
        link = subscribe_url(endpoint_url, spec["TopicArn"], spec["Token"])
        msg.set_content(f"You have chosen to subscribe to the topic:\n{spec['TopicArn']}\n\n"
                        f"To confirm this subscription, click or visit the link below (If this was in error "
                        f"no action is necessary):\n{link}\n")
    return msg.as_bytes()
