"""SNS through a real `kura up`: the HTTP confirmation handshake (by SubscribeURL and by
ConfirmSubscription), signed notifications verified against SigningCertURL's certificate (signature
versions 1 and 2), message structure, raw delivery, retries under a delivery policy, e-mail into a
maildir, and what Kura refuses."""

from __future__ import annotations

import email
import email.policy
import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography.exceptions import InvalidSignature

from kura.config import Paths
from kura.net import tls
from tests.kura_fixture import KuraServer
from tests.sns_subscriber import Subscriber, fetch, subscriber, verify


def _ca(kura: KuraServer) -> bytes:
    return (kura.home / "tls" / "ca.pem").read_bytes()


def _confirmed(kura: KuraServer, sub: Subscriber, topic: str, via_url: bool = True) -> str:
    sns = kura.client("sns")
    assert sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=sub.url)["SubscriptionArn"] == \
        "pending confirmation"
    got = sub.next_of("SubscriptionConfirmation")
    doc = got.doc
    verify(doc, _ca(kura))
    assert (doc["TopicArn"], got.headers["x-amz-sns-topic-arn"]) == (topic, topic)
    if via_url:
        answer = fetch(doc["SubscribeURL"]).decode()  # unsigned GET, as a subscriber's browser does
        assert "<ConfirmSubscriptionResult>" in answer
        return answer.split("<SubscriptionArn>")[1].split("</SubscriptionArn>")[0]
    return str(sns.confirm_subscription(TopicArn=topic, Token=doc["Token"])["SubscriptionArn"])


def test_http_handshake_then_signed_notifications(kura: KuraServer) -> None:
    sns = kura.client("sns")
    topic = sns.create_topic(Name="alerts", Tags=[{"Key": "team", "Value": "db"}])["TopicArn"]
    assert topic.endswith(":alerts") and topic.startswith(f"arn:aws:sns:{kura.region}:")
    with subscriber() as sub:
        arn = _confirmed(kura, sub, topic)
        listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [s["SubscriptionArn"] for s in listed] == [arn]
        attrs = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
        assert (attrs["SubscriptionsConfirmed"], attrs["SubscriptionsPending"]) == ("1", "0")

        sns.publish(TopicArn=topic, Subject="disk", Message="free space below 10%",
                    MessageAttributes={"severity": {"DataType": "String", "StringValue": "high"},
                                       "percent": {"DataType": "Number", "StringValue": "9.5"}})
        got = sub.next_of("Notification")
        doc = got.doc
        assert (doc["Subject"], doc["Message"]) == ("disk", "free space below 10%")
        assert doc["SignatureVersion"] == "1"
        assert doc["MessageAttributes"]["severity"] == {"Type": "String", "Value": "high"}
        assert got.headers["x-amz-sns-subscription-arn"] == arn
        assert got.headers["user-agent"] == "Amazon Simple Notification Service Agent"
        verify(doc, _ca(kura))
        tampered = {**doc, "Message": "free space fine"}
        with pytest.raises(InvalidSignature):
            verify(tampered)

        sns.set_topic_attributes(TopicArn=topic, AttributeName="SignatureVersion", AttributeValue="2")
        sns.publish(TopicArn=topic, Message=json.dumps({"default": "plain", "http": "for http"}),
                    MessageStructure="json")
        doc = sub.next_of("Notification").doc
        assert (doc["Message"], doc["SignatureVersion"], "Subject" in doc) == ("for http", "2", False)
        verify(doc, _ca(kura))

        sns.unsubscribe(SubscriptionArn=arn)
        bye = sub.next_of("UnsubscribeConfirmation").doc
        verify(bye)
        assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
        fetch(bye["SubscribeURL"])  # the notice's link restores the subscription
        restored = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [s["SubscriptionArn"] for s in restored] == [arn]
    sns.delete_topic(TopicArn=topic)
    assert sns.list_subscriptions()["Subscriptions"] == []


def test_confirm_by_api_raw_delivery_and_retries(kura: KuraServer) -> None:
    sns = kura.client("sns")
    topic = sns.create_topic(Name="retries")["TopicArn"]
    with subscriber() as sub:
        arn = _confirmed(kura, sub, topic, via_url=False)
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="RawMessageDelivery",
                                        AttributeValue="true")
        policy = {"healthyRetryPolicy": {"minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 3}}
        sns.set_subscription_attributes(SubscriptionArn=arn, AttributeName="DeliveryPolicy",
                                        AttributeValue=json.dumps(policy))
        effective = json.loads(sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
                               ["EffectiveDeliveryPolicy"])
        assert effective["healthyRetryPolicy"]["numRetries"] == 3
        sub.answers = [500, 503]
        started = time.monotonic()
        sns.publish(TopicArn=topic, Message="raw body")
        tries = [sub.next_of("Notification") for _ in range(3)]
        took = time.monotonic() - started
        assert {t.body for t in tries} == {b"raw body"}
        assert tries[0].headers["x-amz-sns-rawdelivery"] == "true"
        assert len({t.headers["x-amz-sns-message-id"] for t in tries}) == 1
        assert 2.0 <= took < 8.0, took  # two retries one second apart (plus the reconciler's tick)

        sub.answers = [404]  # a 4xx is final: no retry
        sns.publish(TopicArn=topic, Message="once")
        assert sub.next_of("Notification").body == b"once"
        with pytest.raises(Exception):  # noqa: B017 - queue.Empty
            sub.next(timeout=2.5)
    sns.delete_topic(TopicArn=topic)


def test_https_endpoint_with_a_kura_certificate(kura: KuraServer, tmp_path: Path) -> None:
    """An HTTPS subscriber whose certificate the Kura CA issued: Kura checks it as any TLS client."""
    ca = tls.ensure_ca(Paths(kura.home))
    cert = tls.issue(ca, "sns-subscriber", ["127.0.0.1"], tmp_path)
    sns = kura.client("sns")
    topic = sns.create_topic(Name="secure")["TopicArn"]
    with subscriber(cert) as sub:
        sns.subscribe(TopicArn=topic, Protocol="https", Endpoint=sub.url)
        token = sub.next_of("SubscriptionConfirmation").doc["Token"]
        sns.confirm_subscription(TopicArn=topic, Token=token)
        sns.publish(TopicArn=topic, Message="over TLS")
        assert sub.next_of("Notification").doc["Message"] == "over TLS"
    sns.delete_topic(TopicArn=topic)


def _mails(kura: KuraServer, address: str, count: int, timeout: float = 15) -> list[Any]:
    box = kura.home / "mail" / address / "new"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(box.glob("*"), key=lambda p: p.stat().st_mtime) if box.exists() else []
        if len(files) >= count:
            return [_parse(p) for p in files]
        time.sleep(0.1)
    raise AssertionError(f"{count} mails expected in {box}")


def _parse(path: Path) -> Any:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def test_email_to_maildir(kura: KuraServer) -> None:
    sns = kura.client("sns")
    topic = sns.create_topic(Name="mail", Attributes={"DisplayName": "DB team"})["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
    confirm = _mails(kura, "ops@example.com", 1)[0]
    assert confirm["Subject"] == "AWS Notification - Subscription Confirmation"
    link = next(line for line in confirm.get_content().splitlines() if line.startswith("http"))
    fetch(link)
    sns.publish(TopicArn=topic, Subject="Reboot", Message="db-1 restarted")
    note = _mails(kura, "ops@example.com", 2)[1]
    assert (note["Subject"], note["To"]) == ("Reboot", "ops@example.com") and "DB team" in note["From"]
    assert note.get_content().startswith("db-1 restarted")

    sns.subscribe(TopicArn=topic, Protocol="email-json", Endpoint="robot@example.com")
    doc = json.loads(_mails(kura, "robot@example.com", 1)[0].get_content())
    verify(doc, _ca(kura))
    sns.confirm_subscription(TopicArn=topic, Token=doc["Token"])
    sns.publish(TopicArn=topic, Message="json mail")
    note_doc = json.loads(_mails(kura, "robot@example.com", 2)[1].get_content())
    assert note_doc["Message"] == "json mail"
    verify(note_doc)
    sns.delete_topic(TopicArn=topic)


def _code(call: Any, **kw: Any) -> str:
    with pytest.raises(ClientError) as info:
        call(**kw)
    return str(info.value.response["Error"]["Code"])


def test_refusals_and_errors(kura: KuraServer) -> None:
    sns = kura.client("sns")
    topic = sns.create_topic(Name="errs")["TopicArn"]
    assert sns.create_topic(Name="errs")["TopicArn"] == topic  # idempotent
    assert _code(sns.create_topic, Name="errs", Attributes={"DisplayName": "other"}) == "InvalidParameter"
    assert _code(sns.create_topic, Name="orders.fifo", Attributes={"FifoTopic": "true"}) == "InvalidParameter"
    assert _code(sns.subscribe, TopicArn=topic, Protocol="sqs", Endpoint="arn:aws:sqs:x:1:q") == \
        "InvalidParameter"
    assert _code(sns.subscribe, TopicArn=topic, Protocol="http", Endpoint="https://x") == "InvalidParameter"
    assert _code(sns.publish, TopicArn=topic + "-nope", Message="m") == "NotFound"
    assert _code(sns.publish, TopicArn=topic, Message="m", MessageStructure="json") == "InvalidParameter"
    assert _code(sns.get_topic_attributes, TopicArn="not-an-arn") == "InvalidParameter"
    # Anything but the two SNS links still needs a signature.
    url = f"{kura.endpoint}/?Action=ListTopics&Version=2010-03-31"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, timeout=10)
    assert info.value.code == 403
    sns.delete_topic(TopicArn=topic)
