"""KMS aliases, tags and key policies."""

from __future__ import annotations

import json

import pytest

from tests.unit.test_kms_keys import ACCOUNT, REGION, Kms, open_kms

kms_fixture = pytest.fixture(name="kms")(open_kms)


def test_alias_lifecycle(kms: Kms) -> None:
    a, b = kms.key()["KeyId"], kms.key()["KeyId"]
    kms("CreateAlias", AliasName="alias/app", TargetKeyId=a)
    err = kms.error("CreateAlias", AliasName="alias/app", TargetKeyId=b)
    assert err.code == "AlreadyExistsException" and f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app" in err.message
    entry = kms("ListAliases")["Aliases"][0]
    assert entry["AliasArn"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:alias/app" and entry["TargetKeyId"] == a
    kms.clock.advance(10)
    kms("UpdateAlias", AliasName="alias/app", TargetKeyId=b)
    entry = kms("ListAliases")["Aliases"][0]
    assert entry["TargetKeyId"] == b and entry["LastUpdatedDate"] == entry["CreationDate"] + 10
    assert kms("DescribeKey", KeyId="alias/app")["KeyMetadata"]["KeyId"] == b
    kms("DeleteAlias", AliasName="alias/app")
    assert kms("ListAliases")["Aliases"] == []
    assert kms.error("DeleteAlias", AliasName="alias/app").code == "NotFoundException"
    assert kms.error("UpdateAlias", AliasName="alias/app", TargetKeyId=a).code == "NotFoundException"


@pytest.mark.parametrize("name", ["app", "alias/", "alias/aws/mine"])
def test_alias_names_are_checked(kms: Kms, name: str) -> None:
    key_id = kms.key()["KeyId"]
    assert kms.error("CreateAlias", AliasName=name, TargetKeyId=key_id).code == "InvalidAliasNameException"


def test_alias_targets(kms: Kms) -> None:
    key_id = kms.key()["KeyId"]
    assert kms.error("CreateAlias", AliasName="alias/x", TargetKeyId="alias/y").code == "NotFoundException"
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    assert kms.error("CreateAlias", AliasName="alias/x", TargetKeyId=key_id).code == \
        "KMSInvalidStateException"
    disabled = kms.key()["KeyId"]
    kms("DisableKey", KeyId=disabled)
    kms("CreateAlias", AliasName="alias/x", TargetKeyId=disabled)  # allowed on AWS too


def test_list_aliases_per_key_and_pages(kms: Kms) -> None:
    a, b = kms.key()["KeyId"], kms.key()["KeyId"]
    for i in range(3):
        kms("CreateAlias", AliasName=f"alias/a{i}", TargetKeyId=a)
    kms("CreateAlias", AliasName="alias/b", TargetKeyId=b)
    assert [x["AliasName"] for x in kms("ListAliases", KeyId=a)["Aliases"]] == ["alias/a0", "alias/a1",
                                                                                 "alias/a2"]
    arn = kms("DescribeKey", KeyId=b)["KeyMetadata"]["Arn"]
    assert [x["AliasName"] for x in kms("ListAliases", KeyId=arn)["Aliases"]] == ["alias/b"]
    first = kms("ListAliases", Limit=3)
    assert first["Truncated"] and len(first["Aliases"]) == 3
    rest = kms("ListAliases", Limit=3, Marker=first["NextMarker"])
    assert [x["AliasName"] for x in rest["Aliases"]] == ["alias/b"] and rest["Truncated"] is False
    assert kms.error("ListAliases", KeyId="00000000-0000-0000-0000-000000000000").code == "NotFoundException"
    assert kms.error("ListAliases", Limit=101).code == "ValidationException"


def test_tags(kms: Kms) -> None:
    key_id = kms.key(Tags=[{"TagKey": "a", "TagValue": "1"}])["KeyId"]
    new = [{"TagKey": "b", "TagValue": "2"}, {"TagKey": "a", "TagValue": "3"}]
    kms("TagResource", KeyId=key_id, Tags=new)
    assert kms("ListResourceTags", KeyId=key_id)["Tags"] == [{"TagKey": "a", "TagValue": "3"},
                                                             {"TagKey": "b", "TagValue": "2"}]
    kms("UntagResource", KeyId=key_id, TagKeys=["a", "zz"])
    out = kms("ListResourceTags", KeyId=key_id)
    assert out["Tags"] == [{"TagKey": "b", "TagValue": "2"}] and out["Truncated"] is False
    many = [{"TagKey": f"k{i}", "TagValue": ""} for i in range(50)]
    assert kms.error("TagResource", KeyId=key_id, Tags=many).code == "TagException"
    assert kms.error("TagResource", KeyId=key_id, Tags=[{"TagKey": "aws:x", "TagValue": ""}]).code == \
        "TagException"
    kms("ScheduleKeyDeletion", KeyId=key_id, PendingWindowInDays=7)
    assert kms.error("TagResource", KeyId=key_id, Tags=[]).code == "KMSInvalidStateException"


def test_key_policies_are_stored_documents(kms: Kms) -> None:
    key_id = kms.key()["KeyId"]
    default = json.loads(kms("GetKeyPolicy", KeyId=key_id)["Policy"])
    assert default["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*"}]})
    kms("PutKeyPolicy", KeyId=key_id, PolicyName="default", Policy=policy)
    assert kms("GetKeyPolicy", KeyId=key_id, PolicyName="default") == {"Policy": policy,
                                                                        "PolicyName": "default"}
    assert kms("ListKeyPolicies", KeyId=key_id) == {"PolicyNames": ["default"], "Truncated": False}
    assert kms.error("PutKeyPolicy", KeyId=key_id, Policy="[").code == "MalformedPolicyDocumentException"
    assert kms.error("GetKeyPolicy", KeyId=key_id, PolicyName="other").code == "NotFoundException"
    created = kms.key(Policy=policy)["KeyId"]
    assert kms("GetKeyPolicy", KeyId=created)["Policy"] == policy
