"""The two ways a message leaves Kura: an HTTP/S POST, or a file in a local maildir.

SNS counts a 2xx answer as delivered; 5xx, timeouts and connection failures are retried by the
delivery policy; any other answer fails the delivery for good (retrying a 4xx would not help).
"""

from __future__ import annotations

import enum
import functools
import os
import ssl
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from kura.config import Paths
from kura.net import tls

TIMEOUT = 15.0  # seconds SNS waits for an HTTP/S endpoint to answer


class Verdict(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Result:
    verdict: Verdict
    detail: str


@functools.lru_cache(maxsize=8)
def _context(home: Path) -> ssl.SSLContext:
    """The system's roots plus the Kura CAs (endpoints with a Kura certificate), made once."""
    context = ssl.create_default_context()
    context.load_verify_locations(cadata=tls.bundle_pem(Paths(home)))
    return context


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """SNS does not follow redirects: a 3xx answer is a failed delivery."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def post(url: str, body: bytes, headers: dict[str, str], paths: Paths, timeout: float = TIMEOUT) -> Result:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    handlers: list[urllib.request.BaseHandler] = [urllib.request.ProxyHandler({}), _NoRedirect()]
    if url.lower().startswith("https://"):
        handlers.append(urllib.request.HTTPSHandler(context=_context(paths.home)))
    try:
        with urllib.request.build_opener(*handlers).open(request, timeout=timeout) as answer:
            return Result(Verdict.DELIVERED, f"HTTP {answer.status}")
    except urllib.error.HTTPError as exc:
        verdict = Verdict.RETRY if exc.code >= 500 else Verdict.FAILED
        return Result(verdict, f"HTTP {exc.code}")
    except (OSError, ValueError) as exc:  # refused, reset, timed out, TLS, bad URL
        reason = getattr(exc, "reason", exc)
        return Result(Verdict.FAILED if isinstance(exc, ValueError) else Verdict.RETRY, str(reason))


def mailbox(paths: Paths, address: str) -> Path:
    """`$KURA_HOME/mail/<address>`: a maildir (tmp/, new/, cur/) per e-mail address."""
    return paths.home / "mail" / address.lower()


def deliver_mail(paths: Paths, address: str, message: bytes) -> Result:
    box = mailbox(paths, address)
    try:
        for sub in ("tmp", "new", "cur"):
            (box / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        name = f"{int(time.time())}.{uuid.uuid4().hex}.kura"
        tmp = box / "tmp" / name
        with open(tmp, "wb") as handle:
            handle.write(message)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(box / "new" / name)  # maildir: readers only ever see complete messages in new/
    except OSError as exc:
        return Result(Verdict.RETRY, f"maildir {box}: {exc.strerror}")
    return Result(Verdict.DELIVERED, f"maildir {box}")
