"""ListSecrets filters, sorting and pages; BatchGetSecretValue; GetRandomPassword; resource policies."""

from __future__ import annotations

import json
import string
from typing import Any

import pytest

from kura.services.secretsmanager.password import PUNCTUATION, random_password
from tests.unit.test_secretsmanager import Sm, sm_fixture  # noqa: F401


def _names(sm: Sm, **params: Any) -> list[str]:
    return [s["Name"] for s in sm("ListSecrets", **params)["SecretList"]]


@pytest.fixture
def fleet(sm: Sm) -> Sm:
    sm.create("prod/db/master", Description="Production DATABASE", Tags=[{"Key": "env", "Value": "prod"}])
    sm.clock.advance(1)
    sm.create("prod/cache", Description="redis auth", Tags=[{"Key": "env", "Value": "production"},
                                                           {"Key": "team", "Value": "core"}])
    sm.clock.advance(1)
    sm.create("dev/db/master", Description="dev database", Tags=[{"Key": "env", "Value": "dev"}])
    sm.clock.advance(1)
    sm.create("credsDatabase892")
    return sm


def test_filters(fleet: Sm) -> None:
    sm = fleet
    def f(key: str, *values: str) -> dict[str, Any]:
        return {"Filters": [{"Key": key, "Values": list(values)}]}

    assert _names(sm, **f("name", "prod/")) == ["prod/db/master", "prod/cache"]
    assert _names(sm, **f("name", "Prod/")) == []  # name: case-sensitive
    assert _names(sm, **f("name", "!prod/")) == ["dev/db/master", "credsDatabase892"]
    assert _names(sm, **f("name", "dev", "prod/c")) == ["prod/cache", "dev/db/master"]
    assert _names(sm, **f("description", "production d")) == ["prod/db/master"]  # case-insensitive
    assert _names(sm, **f("tag-key", "te")) == ["prod/cache"]
    assert _names(sm, **f("tag-value", "prod")) == ["prod/db/master", "prod/cache"]
    assert _names(sm, **f("tag-value", "!prod")) == ["dev/db/master", "credsDatabase892"]
    assert _names(sm, **f("primary-region", "us-east")) == _names(sm)
    assert _names(sm, **f("owning-service", "rds")) == []
    # all: words of the value, any attribute, any case; "credsDatabase#892" is creds, database, 892.
    assert _names(sm, **f("all", "DATABASE")) == ["prod/db/master", "dev/db/master", "credsDatabase892"]
    assert _names(sm, **f("all", "core")) == ["prod/cache"]
    assert _names(sm, **f("all", "892")) == ["credsDatabase892"]
    both = {"Filters": [{"Key": "name", "Values": ["prod"]}, {"Key": "tag-value", "Values": ["prod"]}]}
    assert _names(sm, **both) == ["prod/db/master", "prod/cache"]
    two = {"Filters": [{"Key": "name", "Values": ["prod"]}, {"Key": "tag-key", "Values": ["team"]}]}
    assert _names(sm, **two) == ["prod/cache"]


def test_sort_and_pages(fleet: Sm) -> None:
    sm = fleet
    assert _names(sm) == ["prod/db/master", "prod/cache", "dev/db/master", "credsDatabase892"]
    assert _names(sm, SortOrder="desc") == ["credsDatabase892", "dev/db/master", "prod/cache",
                                            "prod/db/master"]
    assert _names(sm, SortBy="name") == sorted(_names(sm))
    for order in ("asc", "desc"):
        seen: list[str] = []
        token = None
        while True:
            page = sm("ListSecrets", MaxResults=3, SortOrder=order, **({"NextToken": token} if token else {}))
            seen += [s["Name"] for s in page["SecretList"]]
            token = page.get("NextToken")
            if not token:
                break
        assert seen == _names(sm, SortOrder=order)
    assert sm.error("ListSecrets", NextToken="bogus").code == "InvalidNextTokenException"


def test_planned_deletion_hidden_unless_asked(fleet: Sm) -> None:
    sm = fleet
    sm("DeleteSecret", SecretId="dev/db/master")
    assert "dev/db/master" not in _names(sm)
    entries = sm("ListSecrets", IncludePlannedDeletion=True)["SecretList"]
    deleted = next(e for e in entries if e["Name"] == "dev/db/master")
    assert deleted["DeletedDate"] == sm.clock.now()
    entry = next(e for e in entries if e["Name"] == "prod/cache")
    assert entry["SecretVersionsToStages"] and entry["Tags"] and "VersionIdsToStages" not in entry


def test_batch_get(fleet: Sm) -> None:
    sm = fleet
    sm("DeleteSecret", SecretId="dev/db/master")
    out = sm("BatchGetSecretValue", SecretIdList=["prod/cache", "nope", "dev/db/master"])
    assert [v["Name"] for v in out["SecretValues"]] == ["prod/cache"]
    assert out["SecretValues"][0]["SecretString"] == "s3cr3t"
    assert {e["SecretId"]: e["ErrorCode"] for e in out["Errors"]} == {
        "nope": "ResourceNotFoundException", "dev/db/master": "InvalidRequestException"}
    page = sm("BatchGetSecretValue", Filters=[{"Key": "name", "Values": ["prod"]}], MaxResults=1)
    assert len(page["SecretValues"]) == 1 and page["NextToken"]
    rest = sm("BatchGetSecretValue", Filters=[{"Key": "name", "Values": ["prod"]}], MaxResults=1,
              NextToken=page["NextToken"])
    assert {page["SecretValues"][0]["Name"], rest["SecretValues"][0]["Name"]} == {"prod/cache",
                                                                                 "prod/db/master"}
    assert "NextToken" not in rest
    assert sm.error("BatchGetSecretValue").code == "InvalidParameterException"
    err = sm.error("BatchGetSecretValue", SecretIdList=["a"], Filters=[{"Key": "name", "Values": ["a"]}])
    assert err.code == "InvalidParameterException"


def test_random_password_options(sm: Sm) -> None:
    default = sm("GetRandomPassword")["RandomPassword"]
    assert len(default) == 32
    for _ in range(50):
        pw = random_password(4)
        assert len(pw) == 4
        assert any(c in string.ascii_lowercase for c in pw) and any(c in string.ascii_uppercase for c in pw)
        assert any(c in string.digits for c in pw) and any(c in PUNCTUATION for c in pw)
    pw = sm("GetRandomPassword", PasswordLength=200, ExcludePunctuation=True, ExcludeCharacters="abcXYZ0")[
        "RandomPassword"]
    assert len(pw) == 200 and not set(pw) & set(PUNCTUATION + "abcXYZ0")
    pw = sm("GetRandomPassword", PasswordLength=100, ExcludeUppercase=True, ExcludeLowercase=True,
            ExcludeNumbers=True)["RandomPassword"]
    assert set(pw) <= set(PUNCTUATION)
    spaced = "".join(sm("GetRandomPassword", PasswordLength=4096, IncludeSpace=True)["RandomPassword"])
    assert " " in spaced
    assert " " not in random_password(4096)
    only_digits = sm("GetRandomPassword", PasswordLength=1, ExcludeUppercase=True, ExcludeLowercase=True,
                     ExcludePunctuation=True)["RandomPassword"]
    assert only_digits.isdigit()
    err = sm.error("GetRandomPassword", PasswordLength=3)  # four types required, three places
    assert err.code == "InvalidParameterException"
    loose = sm("GetRandomPassword", PasswordLength=3, RequireEachIncludedType=False)["RandomPassword"]
    assert len(loose) == 3
    err = sm.error("GetRandomPassword", ExcludeCharacters=string.ascii_letters + string.digits + PUNCTUATION)
    assert err.code == "InvalidParameterException"


POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/app"},
    "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})
PUBLIC = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": "*", "Action": "secretsmanager:GetSecretValue", "Resource": "*"}]})


def test_resource_policies(sm: Sm) -> None:
    arn = sm.create("pol")["ARN"]
    assert sm("GetResourcePolicy", SecretId="pol") == {"ARN": arn, "Name": "pol"}
    assert sm("PutResourcePolicy", SecretId="pol", ResourcePolicy=POLICY) == {
        "ARN": arn, "Name": "pol", "PolicyName": "default"}
    got = sm("GetResourcePolicy", SecretId="pol")
    assert json.loads(got["ResourcePolicy"]) == json.loads(POLICY)
    assert sm("ListResourcePolicies", SecretId="pol")["ResourcePolicies"] == [{"PolicyName": "default"}]
    assert sm.error("PutResourcePolicy", SecretId="pol", ResourcePolicy="{not json").code == \
        "MalformedPolicyDocumentException"
    assert sm.error("PutResourcePolicy", SecretId="pol", ResourcePolicy=POLICY, PolicyName="other").code == \
        "InvalidParameterException"
    assert sm.error("PutResourcePolicy", SecretId="pol", ResourcePolicy=PUBLIC, BlockPublicPolicy=True).code \
        == "PublicPolicyException"
    sm("PutResourcePolicy", SecretId="pol", ResourcePolicy=PUBLIC)
    sm("DeleteResourcePolicy", SecretId="pol")
    assert "ResourcePolicy" not in sm("GetResourcePolicy", SecretId="pol")
    ok = sm("ValidateResourcePolicy", ResourcePolicy=POLICY)
    assert ok == {"PolicyValidationPassed": True, "ValidationErrors": []}
    bad = sm("ValidateResourcePolicy", SecretId="pol", ResourcePolicy=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Maybe", "Action": "x"}]}))
    assert bad["PolicyValidationPassed"] is False and len(bad["ValidationErrors"]) == 2
    assert sm.error("ValidateResourcePolicy", ResourcePolicy="[").code == "MalformedPolicyDocumentException"
