"""The pure parts of SNS and of its producers: delivery policy delays, filter policies, signatures
(verified as a subscriber verifies them), composite alarm rules and RDS's event notification body."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from kura.api.errors import AwsError
from kura.config import Paths
from kura.control.rds.event_notify import message, wanted
from kura.control.sns import messages
from kura.metrics import alarm_rule
from kura.services.sns import delivery_policy, filter_policy, signing
from kura.store.types import Event


def test_retry_delays_follow_the_four_phases() -> None:
    policy = delivery_policy.retry_policy({"minDelayTarget": 2, "maxDelayTarget": 20, "numRetries": 8,
                                           "numNoDelayRetries": 1, "numMinDelayRetries": 2,
                                           "numMaxDelayRetries": 1, "backoffFunction": "linear"})
    delays = [delivery_policy.retry_delay(policy, n) for n in range(1, 9)]
    assert delays[:3] == [0.0, 2.0, 2.0] and delays[-1] == 20.0
    assert delays[3:7] == sorted(delays[3:7]) and delays[6] == 20.0
    default = delivery_policy.retry_policy({})
    assert [delivery_policy.retry_delay(default, n) for n in (1, 2, 3)] == [20.0, 20.0, 20.0]
    for shape in delivery_policy.BACKOFF:
        curve = [delivery_policy.retry_delay({**policy, "backoffFunction": shape}, n) for n in range(4, 8)]
        assert curve == sorted(curve) and 2.0 <= curve[0] <= curve[-1] == 20.0
    with pytest.raises(AwsError):
        delivery_policy.retry_policy({"minDelayTarget": 0})
    with pytest.raises(AwsError):  # more than an hour of retries
        delivery_policy.retry_policy({"minDelayTarget": 600, "maxDelayTarget": 600, "numRetries": 10})


def test_filter_policies() -> None:
    attrs = filter_policy.attribute_values({"severity": {"Type": "String", "Value": "high"},
                                            "count": {"Type": "Number", "Value": "12"},
                                            "tags": {"Type": "String.Array", "Value": '["db","prod"]'}})
    assert filter_policy.matches(filter_policy.parse('{"severity": ["high", "critical"]}'), attrs)
    assert not filter_policy.matches(filter_policy.parse('{"severity": [{"anything-but": "high"}]}'), attrs)
    assert filter_policy.matches(filter_policy.parse('{"count": [{"numeric": [">", 10, "<=", 12]}]}'), attrs)
    both = '{"tags": ["prod"], "severity": [{"prefix": "hi"}]}'
    assert filter_policy.matches(filter_policy.parse(both), attrs)
    assert not filter_policy.matches(filter_policy.parse('{"region": [{"exists": true}]}'), attrs)
    assert filter_policy.matches(filter_policy.parse('{"$or": [{"region": ["x"]}, {"count": [12]}]}'), attrs)
    body = {"detail": {"state": "ALARM"}}
    assert filter_policy.matches(filter_policy.parse('{"detail": {"state": ["ALARM"]}}'), body)
    with pytest.raises(AwsError):
        filter_policy.parse('{"severity": "high"}')


@pytest.mark.parametrize("version", ["1", "2"])
def test_signed_messages_verify_with_the_certificate(tmp_path: Path, version: str) -> None:
    paths = Paths(tmp_path)
    signer = signing.signer(paths)
    spec = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:r-1:1:t", "Subject": "s",
            "Message": "line 1\nline 2", "Timestamp": "2024-05-06T07:08:09.250Z",
            "signature_version": version, "SubscriptionArn": "arn:aws:sns:r-1:1:t:sub"}
    doc = messages.document(spec, signer, "http://127.0.0.1:1")
    assert doc["SigningCertURL"].endswith(signer.cert_name)
    pem = signing.certificate(paths, signer.cert_name)
    assert pem is not None and signing.certificate(paths, "../signing.key") is None
    cert = x509.load_pem_x509_certificate(pem)
    fields = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
    canonical = "".join(f"{k}\n{doc[k]}\n" for k in fields)
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(base64.b64decode(doc["Signature"]), canonical.encode(), padding.PKCS1v15(),
                  hashes.SHA256() if version == "2" else hashes.SHA1())
    assert signing.signer(paths).cert_pem == signer.cert_pem  # loaded again, not renewed


def test_composite_rules() -> None:
    node = alarm_rule.parse('(ALARM("cpu") OR ALARM(arn:aws:cloudwatch:r:1:alarm:disk)) AND NOT OK(lag)')
    assert alarm_rule.alarms(node) == {"cpu", "disk", "lag"}
    assert alarm_rule.holds(node, {"cpu": "ALARM", "lag": "ALARM"})
    assert not alarm_rule.holds(node, {"cpu": "ALARM", "lag": "OK"})
    assert alarm_rule.holds(alarm_rule.parse("TRUE OR FALSE AND FALSE"), {})  # AND binds tighter
    for bad in ("ALARM(cpu", "ALARM(cpu) AND", "alarm(cpu)", "ALARM(cpu) XOR OK(x)", ""):
        with pytest.raises(alarm_rule.RuleError):
            alarm_rule.parse(bad)


def test_rds_event_notification_body() -> None:
    event = Event("ap-northeast-1", "db-instance", "db-1", "DB instance restarted", ("availability",),
                  1_700_000_000.25, 7, {"arn": "arn:aws:rds:ap-northeast-1:1:db:db-1"})
    body = json.loads(message(event))
    assert list(body) == ["Event Source", "Event Time", "Identifier Link", "Source ID", "Source ARN",
                          "Event ID", "Event Message"]
    assert body["Event Time"] == "2023-11-14 22:13:20.250"
    assert body["Event ID"].endswith("#RDS-EVENT-0006") and body["Source ID"] == "db-1"
    assert wanted({"SourceType": "db-instance", "SourceIds": ["db-1"], "EventCategories": ["availability"]},
                  event)
    assert not wanted({"SourceType": "db-cluster"}, event)
    assert not wanted({"EventCategories": ["backup"]}, event)
    assert not wanted({}, Event("r", "cache-cluster", "c", "m"))  # ElastiCache's events are not RDS's
