"""STS and SigV4 against a real Kura server, with boto3, the AWS CLI and bare HTTP."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from botocore.exceptions import ClientError

from tests.kura_fixture import KuraServer

STS_FORM = b"Action=GetCallerIdentity&Version=2011-06-15"
FORM_TYPE = "application/x-www-form-urlencoded; charset=utf-8"
WRONG_SECRET = "x" * 40
UNKNOWN_KEY = "AKIAUNKNOWNKEY000000"


def http(kura: KuraServer, body: bytes, headers: dict[str, str], path: str = "/",
         method: str = "POST") -> tuple[int, str]:
    """Send a raw request, no SDK in between; (status, body) whatever the status."""
    request = urllib.request.Request(kura.endpoint + path, data=body if method == "POST" else None,
                                     headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def xml_code(body: str) -> str:
    match = re.search(r"<Code>([^<]+)</Code>", body)
    assert match, body
    return match.group(1)


def error_code(call: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as info:
        call()
    err = info.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


# -- GetCallerIdentity ------------------------------------------------------------------------------

def test_get_caller_identity_boto3(kura: KuraServer) -> None:
    account = kura.credentials()["account_id"]
    ident = kura.client("sts").get_caller_identity()
    assert ident["Account"] == account
    assert ident["Arn"] == f"arn:aws:iam::{account}:root"
    assert ident["UserId"] == account


def test_get_caller_identity_cli(kura: KuraServer) -> None:
    account = kura.credentials()["account_id"]
    assert kura.aws("sts", "get-caller-identity") == {
        "UserId": account, "Account": account, "Arn": f"arn:aws:iam::{account}:root"}
    assert kura.aws("sts", "get-caller-identity", "--query", "Account", "--output", "text") == account


def test_region_scoped_call(kura: KuraServer) -> None:
    # The signature is scoped to ap-northeast-1; the gateway must verify it with that region.
    ident = kura.client("sts", region="ap-northeast-1").get_caller_identity()
    assert ident["Account"] == kura.credentials()["account_id"]
    assert kura.aws("sts", "get-caller-identity", region="eu-central-1")["Account"] == ident["Account"]


def test_presigned_get_caller_identity(kura: KuraServer) -> None:
    # What EKS-style token authenticators do: fetch a presigned GetCallerIdentity URL.
    url = kura.client("sts").generate_presigned_url(
        "get_caller_identity", Params={}, ExpiresIn=60, HttpMethod="GET")
    with urllib.request.urlopen(url, timeout=10) as resp:
        body = resp.read().decode()
    assert f"<Account>{kura.credentials()['account_id']}</Account>" in body


# -- rejected requests, with AWS's codes ------------------------------------------------------------

def test_wrong_secret_query_service(kura: KuraServer) -> None:
    sts = kura.client("sts", aws_secret_access_key=WRONG_SECRET)
    assert error_code(sts.get_caller_identity) == ("SignatureDoesNotMatch", 403)


def test_wrong_secret_json_service(kura: KuraServer) -> None:
    sm = kura.client("secretsmanager", aws_secret_access_key=WRONG_SECRET)
    assert error_code(sm.list_secrets) == ("InvalidSignatureException", 400)


def test_unknown_access_key_query_service(kura: KuraServer) -> None:
    sts = kura.client("sts", aws_access_key_id=UNKNOWN_KEY)
    assert error_code(sts.get_caller_identity) == ("InvalidClientTokenId", 403)


def test_unknown_access_key_json_service(kura: KuraServer) -> None:
    sm = kura.client("secretsmanager", aws_access_key_id=UNKNOWN_KEY)
    assert error_code(sm.list_secrets) == ("UnrecognizedClientException", 400)


def test_unsigned_request(kura: KuraServer) -> None:
    status, body = http(kura, STS_FORM, {"Content-Type": FORM_TYPE})
    assert (status, xml_code(body)) == (403, "MissingAuthenticationToken")


def test_unsigned_json_request(kura: KuraServer) -> None:
    status, body = http(kura, b"{}", {"Content-Type": "application/x-amz-json-1.1",
                                      "X-Amz-Target": "secretsmanager.ListSecrets"})
    assert status == 400 and '"MissingAuthenticationTokenException"' in body


def test_garbage_authorization(kura: KuraServer) -> None:
    status, body = http(kura, STS_FORM, {"Content-Type": FORM_TYPE, "Authorization": "garbage"})
    assert (status, xml_code(body)) == (400, "IncompleteSignature")


def _signed_at(kura: KuraServer, epoch: float) -> tuple[bytes, dict[str, str]]:
    """An STS request signed by botocore's signer as if the client's clock read `epoch`."""
    creds = kura.credentials()
    auth = SigV4Auth(BotoCredentials(creds["aws_access_key_id"], creds["aws_secret_access_key"]),
                     "sts", kura.region)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))
    req = AWSRequest(method="POST", url=kura.endpoint + "/", data=STS_FORM,
                     headers={"Content-Type": FORM_TYPE, "X-Amz-Date": stamp})
    req.context["timestamp"] = stamp
    signature = auth.signature(auth.string_to_sign(req, auth.canonical_request(req)), req)
    auth._inject_signature_to_request(req, signature)
    return STS_FORM, {k: v for k, v in req.headers.items()}


def test_clock_skew_beyond_15_minutes(kura: KuraServer) -> None:
    status, body = http(kura, *_signed_at(kura, time.time() - 16 * 60))
    assert (status, xml_code(body)) == (403, "SignatureDoesNotMatch")
    assert "Signature expired" in body
    status, body = http(kura, *_signed_at(kura, time.time() + 16 * 60))
    assert (status, xml_code(body)) == (403, "SignatureDoesNotMatch")
    status, _ = http(kura, *_signed_at(kura, time.time() - 5 * 60))
    assert status == 200
