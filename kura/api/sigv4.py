"""AWS Signature Version 4 verification: the Authorization header form and the presigned-query form.

Error codes differ by protocol, as on AWS; the caller names the `style` of the service it routed to
("query": STS, RDS, ElastiCache, SNS, IAM and the awsQueryCompatible CloudWatch; "json": Secrets
Manager, KMS, Logs, PI — json 1.1 or CBOR; "ec2"):

    (no auth / malformed / unknown key / bad signature / clock skew or expired presign)
    query  MissingAuthenticationToken 403 / IncompleteSignature 400 / InvalidClientTokenId 403 /
           SignatureDoesNotMatch 403 / SignatureDoesNotMatch 403 "Signature expired: …"
    json   MissingAuthenticationTokenException 400 / IncompleteSignatureException 400 /
           UnrecognizedClientException 400 / InvalidSignatureException 400 / the same, "Signature expired"
    ec2    MissingAuthenticationToken 401 / IncompleteSignature 400 / AuthFailure 401 / AuthFailure 401 /
           RequestExpired 400

These are the codes AWS answers (and boto3 users see): json-protocol services reply with Coral's
`…Exception` names and 400, query services with the names of the common-errors page, EC2 hides every
credential problem behind AuthFailure. awsQueryCompatible services (CloudWatch) answer query codes,
which botocore surfaces whatever the wire protocol.
"""

from __future__ import annotations

import calendar
import enum
import hashlib
import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_tz
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import quote, unquote_plus

from kura.api.errors import AwsError
from kura.api.types import HttpRequest

Style = Literal["query", "json", "ec2"]

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
MAX_SKEW = 15 * 60  # seconds a request's timestamp may differ from the server's clock
MAX_EXPIRES = 7 * 24 * 3600  # longest X-Amz-Expires AWS accepts
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_TIMESTAMP = re.compile(r"\d{8}T\d{6}Z")
_DATE = re.compile(r"\d{8}")


class Failure(enum.Enum):
    MISSING = "missing"  # no Authorization header, no presigned query
    INCOMPLETE = "incomplete"  # present but malformed
    UNKNOWN_KEY = "unknown_key"
    MISMATCH = "mismatch"
    EXPIRED = "expired"  # clock skew beyond 15 minutes, or a presigned URL past X-Amz-Expires


_MISMATCH_MSG = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)
_TOKEN_MSG = "The security token included in the request is invalid."
_EC2_AUTH_MSG = "AWS was not able to validate the provided access credentials"

# (code, HTTP status, fixed message or None to keep the specific one).
_CODES: dict[str, dict[Failure, tuple[str, int, str | None]]] = {
    "query": {
        Failure.MISSING: ("MissingAuthenticationToken", 403, "Request is missing Authentication Token"),
        Failure.INCOMPLETE: ("IncompleteSignature", 400, None),
        Failure.UNKNOWN_KEY: ("InvalidClientTokenId", 403, _TOKEN_MSG),
        Failure.MISMATCH: ("SignatureDoesNotMatch", 403, None),
        Failure.EXPIRED: ("SignatureDoesNotMatch", 403, None),
    },
    "json": {
        Failure.MISSING: ("MissingAuthenticationTokenException", 400, "Missing Authentication Token"),
        Failure.INCOMPLETE: ("IncompleteSignatureException", 400, None),
        Failure.UNKNOWN_KEY: ("UnrecognizedClientException", 400, _TOKEN_MSG),
        Failure.MISMATCH: ("InvalidSignatureException", 400, None),
        Failure.EXPIRED: ("InvalidSignatureException", 400, None),
    },
    "ec2": {
        Failure.MISSING: ("MissingAuthenticationToken", 401, "Request is missing Authentication Token"),
        Failure.INCOMPLETE: ("IncompleteSignature", 400, None),
        Failure.UNKNOWN_KEY: ("AuthFailure", 401, _EC2_AUTH_MSG),
        Failure.MISMATCH: ("AuthFailure", 401, _EC2_AUTH_MSG),
        Failure.EXPIRED: ("RequestExpired", 400, "Request has expired."),
    },
}


class SigV4Error(AwsError):
    """An authentication failure, coded for one protocol style; `restyled` recodes it for another."""

    def __init__(self, failure: Failure, detail: str, style: str = "query") -> None:
        code, status, fixed = _CODES.get(style, _CODES["query"])[failure]
        super().__init__(code, fixed or detail, status)
        self.failure = failure
        self.detail = detail
        self.style = style

    def restyled(self, style: str) -> SigV4Error:
        return SigV4Error(self.failure, self.detail, style)


def style_for(metadata: Mapping[str, Any]) -> Style:
    """The error style of a service, from its botocore metadata (`ServiceModel.metadata`)."""
    if "awsQueryCompatible" in metadata:
        return "query"
    protocol = metadata.get("protocol")
    if protocol == "ec2":
        return "ec2"
    return "query" if protocol == "query" else "json"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a request claims about itself; nothing here is verified until `verify` returns it."""

    access_key: str
    date: str  # YYYYMMDD of the credential scope
    region: str
    service: str  # the signing name ("monitoring" for CloudWatch)
    credential: str  # "AK/date/region/service/aws4_request" as sent
    signed_headers: tuple[str, ...]
    signature: str
    presigned: bool
    timestamp: str | None = None  # X-Amz-Date of a presigned URL, or the x-amz-date header
    expires: int | None = None  # X-Amz-Expires of a presigned URL

    @property
    def credential_scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


def scope_of(request: HttpRequest, style: str = "query") -> Scope | None:
    """The claimed credential scope, for routing. None when the request carries no SigV4 auth at all;
    SigV4Error(INCOMPLETE) when it does but it cannot be parsed. Cheap: no hashing."""
    auth = request.headers.get("authorization")
    if auth is not None:
        return _parse_header(auth, request, style)
    params = {k: v for k, v in request.query if k.startswith("X-Amz-")}
    if "X-Amz-Credential" in params or "X-Amz-Signature" in params or "X-Amz-Algorithm" in params:
        return _parse_presigned(params, style)
    return None


def _incomplete(detail: str, style: str) -> SigV4Error:
    return SigV4Error(Failure.INCOMPLETE, detail, style)


def _parse_header(auth: str, request: HttpRequest, style: str) -> Scope:
    algorithm, _, rest = auth.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{algorithm[:64]}'", style)
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, eq, value = part.strip().partition("=")
        if eq:
            fields[name] = value.strip()
    missing = [n for n in ("Credential", "SignedHeaders", "Signature") if not fields.get(n)]
    if missing:
        needs = " ".join(f"Authorization header requires '{n}' parameter." for n in missing)
        raise _incomplete(f"{needs} Authorization={auth[:256]}", style)
    access_key, date, region, service = _split_credential(fields["Credential"], style)
    return Scope(
        access_key=access_key, date=date, region=region, service=service,
        credential=fields["Credential"],
        signed_headers=_split_signed_headers(fields["SignedHeaders"], style),
        signature=fields["Signature"], presigned=False,
        timestamp=request.headers.get("x-amz-date"),
    )


def _parse_presigned(params: dict[str, str], style: str) -> Scope:
    missing = [n for n in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-SignedHeaders",
                           "X-Amz-Signature") if not params.get(n)]
    if missing:
        needs = " ".join(f"AWS query-string parameters must include '{n}'." for n in missing)
        raise _incomplete(needs, style)
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise _incomplete(f"Unsupported AWS 'algorithm': '{params['X-Amz-Algorithm'][:64]}'", style)
    expires: int | None = None
    if "X-Amz-Expires" in params:
        raw = params["X-Amz-Expires"]
        if not raw.isdigit() or not 0 < int(raw) <= MAX_EXPIRES:
            raise _incomplete(f"X-Amz-Expires must be between 1 and {MAX_EXPIRES} seconds", style)
        expires = int(raw)
    access_key, date, region, service = _split_credential(params["X-Amz-Credential"], style)
    return Scope(
        access_key=access_key, date=date, region=region, service=service,
        credential=params["X-Amz-Credential"],
        signed_headers=_split_signed_headers(params["X-Amz-SignedHeaders"], style),
        signature=params["X-Amz-Signature"], presigned=True,
        timestamp=params["X-Amz-Date"], expires=expires,
    )


def _split_credential(credential: str, style: str) -> tuple[str, str, str, str]:
    parts = credential.split("/")
    if len(parts) != 5 or not all(parts):
        raise _incomplete(f"Credential must have exactly 5 slash-delimited elements, "
                          f"e.g. keyid/date/region/service/aws4_request, got '{credential[:256]}'", style)
    access_key, date, region, service, terminal = parts
    if terminal != "aws4_request":
        raise _incomplete(f"Credential should be scoped with a valid terminator: 'aws4_request', "
                          f"not '{terminal[:64]}'.", style)
    if not _DATE.fullmatch(date):
        raise _incomplete(f"Credential should be scoped to a valid date, not '{date[:64]}'.", style)
    return access_key, date, region, service


def _split_signed_headers(value: str, style: str) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if not all(names) or any(n != n.lower() for n in names):
        raise _incomplete(f"SignedHeaders must be lower-case names separated by ';', got '{value[:256]}'",
                          style)
    return names


def verify(request: HttpRequest, secret_for: Callable[[str], str | None], now: float,
           style: str = "query") -> Scope:
    """Check the request's SigV4 signature; return its scope, or raise SigV4Error coded for `style`.

    `secret_for` maps an access key id to its secret (None: unknown key); `now` is the server's clock.
    Order of checks as on AWS: well-formed, known key, timestamp window, then the signature.
    """
    scope = scope_of(request, style)
    if scope is None:
        raise SigV4Error(Failure.MISSING, "Request is missing Authentication Token", style)
    timestamp, epoch = _timestamp(request, scope, style)
    secret = secret_for(scope.access_key)
    if secret is None:
        raise SigV4Error(Failure.UNKNOWN_KEY, _TOKEN_MSG, style)
    _check_window(timestamp, epoch, scope.expires if scope.presigned else None, now, style)
    if timestamp[:8] != scope.date:
        raise SigV4Error(Failure.MISMATCH, f"Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                         f"version of date from HTTP: '{scope.date}' != '{timestamp[:8]}', from "
                         f"'{timestamp}'.", style)
    canonical = _canonical_request(request, scope, _payload_hash(request, style))
    string_to_sign = "\n".join((
        ALGORITHM, timestamp, scope.credential_scope, hashlib.sha256(canonical.encode("utf-8")).hexdigest(),
    ))
    key = _signing_key(secret, scope.date, scope.region, scope.service)
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    # bytes, not str: compare_digest refuses non-ASCII str, and a client may send anything.
    if not hmac.compare_digest(expected.encode(), scope.signature.encode("utf-8", "replace")):
        raise SigV4Error(Failure.MISMATCH, _MISMATCH_MSG, style)
    return scope


@lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    # Four HMACs per request saved: the key changes only once a day per region and service.
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _iso(epoch: float) -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


def _timestamp(request: HttpRequest, scope: Scope, style: str) -> tuple[str, float]:
    """The request time as ISO-8601 basic (what the string to sign holds) and as epoch seconds."""
    if scope.timestamp is not None:
        epoch = _parse_iso(scope.timestamp)
        if epoch is None:
            raise _incomplete(f"Date must be in ISO-8601 'basic format'. Got '{scope.timestamp[:64]}'. "
                              "See http://en.wikipedia.org/wiki/ISO_8601", style)
        return scope.timestamp, epoch
    date = request.headers.get("date")
    parsed = parsedate_tz(date) if date else None
    if parsed is None:
        raise _incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' "
                          "header.", style)
    epoch = float(calendar.timegm(parsed[:6]) - (parsed[9] or 0))
    return _iso(epoch), epoch


def _parse_iso(value: str) -> float | None:
    if not _TIMESTAMP.fullmatch(value):
        return None
    fields = (int(value[0:4]), int(value[4:6]), int(value[6:8]),
              int(value[9:11]), int(value[11:13]), int(value[13:15]))
    month, day, hour, minute, second = fields[1:]
    if not (1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
        return None
    return float(calendar.timegm((*fields, 0, 0, 0)))


def _check_window(timestamp: str, epoch: float, expires: int | None, now: float, style: str) -> None:
    if epoch > now + MAX_SKEW:
        raise SigV4Error(Failure.EXPIRED, f"Signature not yet current: {timestamp} is still later than "
                         f"{_iso(now + MAX_SKEW)} ({_iso(now)} + 15 min.)", style)
    if expires is not None:
        # A presigned URL is good for exactly X-Amz-Expires seconds after it was signed.
        if now > epoch + expires:
            raise SigV4Error(Failure.EXPIRED, f"Signature expired: {timestamp} is now earlier than "
                             f"{_iso(now - expires)} ({_iso(now)} - {expires} sec.)", style)
    elif epoch < now - MAX_SKEW:
        raise SigV4Error(Failure.EXPIRED, f"Signature expired: {timestamp} is now earlier than "
                         f"{_iso(now - MAX_SKEW)} ({_iso(now)} - 15 min.)", style)


def _payload_hash(request: HttpRequest, style: str) -> str:
    actual = hashlib.sha256(request.body).hexdigest() if request.body else _EMPTY_SHA256
    declared = request.headers.get("x-amz-content-sha256")
    if declared is None:
        return actual
    if declared == UNSIGNED_PAYLOAD:
        return declared
    # A declared hash is what the signature covers, so it must be the body's or the body is unsigned.
    if declared.lower() != actual:
        raise SigV4Error(Failure.MISMATCH, "The provided 'x-amz-content-sha256' header does not match "
                         "what was computed.", style)
    return declared


def _canonical_request(request: HttpRequest, scope: Scope, payload_hash: str) -> str:
    headers = request.headers
    lines = [request.method.upper(), _canonical_uri(request.path, scope.service),
             _canonical_query(request.raw_query, scope.presigned)]
    for name in scope.signed_headers:
        value = headers.get(name)
        # Trimall: no outer whitespace, inner runs folded to one space.
        lines.append(f"{name}:{' '.join(value.split())}" if value else f"{name}:")
    lines.append("")
    lines.append(";".join(scope.signed_headers))
    lines.append(payload_hash)
    return "\n".join(lines)


def _canonical_uri(raw_path: str, service: str) -> str:
    """Every service but S3 normalises the path and encodes the already-encoded path once more."""
    if service == "s3":
        return raw_path or "/"
    return quote(_remove_dot_segments(raw_path), safe="/~")


def _remove_dot_segments(path: str) -> str:
    # RFC 3986 §5.2.4, plus AWS's collapsing of empty segments ("a//b" signs as "a/b").
    if not path:
        return "/"
    out: list[str] = []
    for seg in path.split("/"):
        if seg == "..":
            if out:
                out.pop()
        elif seg and seg != ".":
            out.append(seg)
    lead = "/" if path.startswith("/") else ""
    trail = "/" if path.endswith("/") and out else ""
    return lead + "/".join(out) + trail


def _canonical_query(raw_query: str, presigned: bool) -> str:
    """Decode each parameter and re-encode it strictly (RFC 3986 unreserved kept), sorted by
    key then value; a presigned URL's own signature is not part of what it signs. '+' decodes to a
    space, as in a form: botocore sends spaces in query strings that way (and a real '+' as %2B)."""
    if not raw_query:
        return ""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        key = quote(unquote_plus(key), safe="-_.~")
        if presigned and key == "X-Amz-Signature":
            continue
        pairs.append((key, quote(unquote_plus(value), safe="-_.~")))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)
