"""Versions and staging labels: PutSecretValue idempotency, UpdateSecretVersionStage, pruning."""

from __future__ import annotations

import uuid

from kura.services.secretsmanager.names import VALUE_KIND
from tests.unit.test_secretsmanager import DAY, REGION, Sm, sm_fixture  # noqa: F401


def _stages(sm: Sm, name: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = sm("DescribeSecret", SecretId=name)["VersionIdsToStages"]
    return {k: sorted(v) for k, v in out.items()}


def test_put_moves_current_and_previous(sm: Sm) -> None:
    v1 = sm.create("p", "one")["VersionId"]
    v2 = sm("PutSecretValue", SecretId="p", SecretString="two")
    assert v2["VersionStages"] == ["AWSCURRENT"]
    v3 = sm("PutSecretValue", SecretId="p", SecretString="three")["VersionId"]
    assert _stages(sm, "p") == {v2["VersionId"]: ["AWSPREVIOUS"], v3: ["AWSCURRENT"]}
    assert sm.value("p") == "three" and sm.value("p", VersionStage="AWSPREVIOUS") == "two"
    assert sm.value("p", VersionId=v1) == "one"  # deprecated, still readable by id
    listed = sm("ListSecretVersionIds", SecretId="p")["Versions"]
    assert [v["VersionId"] for v in listed] == [v3, v2["VersionId"]]
    with_old = sm("ListSecretVersionIds", SecretId="p", IncludeDeprecated=True)["Versions"]
    assert [v["VersionId"] for v in with_old] == [v3, v2["VersionId"], v1]
    assert "VersionStages" not in with_old[2]


def test_put_idempotency_by_client_request_token(sm: Sm) -> None:
    sm.create("idem", "one")
    token = str(uuid.uuid4())
    first = sm("PutSecretValue", SecretId="idem", SecretString="two", ClientRequestToken=token)
    again = sm("PutSecretValue", SecretId="idem", SecretString="two", ClientRequestToken=token)
    assert again == first
    assert len(sm("ListSecretVersionIds", SecretId="idem")["Versions"]) == 2
    err = sm.error("PutSecretValue", SecretId="idem", SecretString="other", ClientRequestToken=token)
    assert err.code == "ResourceExistsException"
    binary = sm.error("PutSecretValue", SecretId="idem", SecretBinary=b"two", ClientRequestToken=token)
    assert binary.code == "ResourceExistsException"


def test_put_with_custom_stages_keeps_current(sm: Sm) -> None:
    v1 = sm.create("cust", "one")["VersionId"]
    v2 = sm("PutSecretValue", SecretId="cust", SecretString="two", VersionStages=["AWSPENDING"])["VersionId"]
    assert _stages(sm, "cust") == {v1: ["AWSCURRENT"], v2: ["AWSPENDING"]}
    v3 = sm("PutSecretValue", SecretId="cust", SecretString="3", VersionStages=["AWSPENDING", "blue"])
    assert _stages(sm, "cust") == {v1: ["AWSCURRENT"], v3["VersionId"]: ["AWSPENDING", "blue"]}
    err = sm.error("PutSecretValue", SecretId="cust")
    assert err.code == "InvalidParameterException"


def test_get_by_version_and_stage(sm: Sm) -> None:
    v1 = sm.create("g", "one")["VersionId"]
    v2 = sm("PutSecretValue", SecretId="g", SecretString="two")["VersionId"]
    assert sm.value("g", VersionId=v1, VersionStage="AWSPREVIOUS") == "one"
    err = sm.error("GetSecretValue", SecretId="g", VersionId=v2, VersionStage="AWSPREVIOUS")
    assert err.code == "ResourceNotFoundException"
    err = sm.error("GetSecretValue", SecretId="g", VersionId=str(uuid.uuid4()))
    assert err.code == "ResourceNotFoundException" and "VersionId" in err.message
    err = sm.error("GetSecretValue", SecretId="g", VersionStage="nope")
    assert err.code == "ResourceNotFoundException" and "staging label: nope" in err.message


def test_update_secret_version_stage(sm: Sm) -> None:
    v1 = sm.create("st", "one")["VersionId"]
    v2 = sm("PutSecretValue", SecretId="st", SecretString="two")["VersionId"]
    # Roll back: AWSCURRENT to v1; AWSPREVIOUS follows to v2 automatically.
    sm("UpdateSecretVersionStage", SecretId="st", VersionStage="AWSCURRENT", MoveToVersionId=v1,
       RemoveFromVersionId=v2)
    assert _stages(sm, "st") == {v1: ["AWSCURRENT"], v2: ["AWSPREVIOUS"]}
    assert sm.value("st") == "one"
    err = sm.error("UpdateSecretVersionStage", SecretId="st", VersionStage="AWSCURRENT", MoveToVersionId=v2)
    assert err.code == "InvalidParameterException" and "RemoveFromVersionId" in err.message
    err = sm.error("UpdateSecretVersionStage", SecretId="st", VersionStage="AWSCURRENT",
                   RemoveFromVersionId=v1)
    assert err.code == "InvalidParameterException" and "can't be completely removed" in err.message
    sm("UpdateSecretVersionStage", SecretId="st", VersionStage="blue", MoveToVersionId=v2)
    assert _stages(sm, "st") == {v1: ["AWSCURRENT"], v2: ["AWSPREVIOUS", "blue"]}
    sm("UpdateSecretVersionStage", SecretId="st", VersionStage="blue", RemoveFromVersionId=v2)
    err = sm.error("UpdateSecretVersionStage", SecretId="st", VersionStage="blue", RemoveFromVersionId=v2)
    assert err.code == "InvalidParameterException"
    err = sm.error("UpdateSecretVersionStage", SecretId="st", VersionStage="x", MoveToVersionId="0" * 32)
    assert err.code == "InvalidParameterException"


def test_staging_label_limit(sm: Sm) -> None:
    v1 = sm.create("lim", "one")["VersionId"]
    for i in range(19):
        sm("UpdateSecretVersionStage", SecretId="lim", VersionStage=f"l{i}", MoveToVersionId=v1)
    err = sm.error("UpdateSecretVersionStage", SecretId="lim", VersionStage="l19", MoveToVersionId=v1)
    assert err.code == "LimitExceededException"


def test_deprecated_versions_pruned_beyond_100_but_not_within_a_day(sm: Sm) -> None:
    first = sm.create("many", "v0")["VersionId"]
    for i in range(1, 100):
        sm("PutSecretValue", SecretId="many", SecretString=f"v{i}")
    assert len(sm("ListSecretVersionIds", SecretId="many", IncludeDeprecated=True)["Versions"]) == 100
    err = sm.error("PutSecretValue", SecretId="many", SecretString="v100")
    assert err.code == "LimitExceededException"  # all 100 are younger than 24 hours
    sm.clock.advance(DAY)
    sm("PutSecretValue", SecretId="many", SecretString="v100")
    ids = [v["VersionId"] for v in
           sm("ListSecretVersionIds", SecretId="many", IncludeDeprecated=True, MaxResults=100)["Versions"]]
    assert len(ids) == 100 and first not in ids
    assert sm.error("GetSecretValue", SecretId="many", VersionId=first).code == "ResourceNotFoundException"
    assert len(sm.store.list(VALUE_KIND, REGION)) == 100  # its encrypted value went with it


def test_list_versions_pages(sm: Sm) -> None:
    sm.create("pg", "v0")
    for i in range(1, 5):
        sm.clock.advance(1)
        sm("PutSecretValue", SecretId="pg", SecretString=f"v{i}")
    seen: list[str] = []
    token = None
    while True:
        params: dict[str, str] = {"NextToken": token} if token else {}
        page = sm("ListSecretVersionIds", SecretId="pg", IncludeDeprecated=True, MaxResults=2, **params)
        seen += [v["VersionId"] for v in page["Versions"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) == 5
    err = sm.error("ListSecretVersionIds", SecretId="pg", NextToken="garbage!")
    assert err.code == "InvalidNextTokenException"
