"""A small HTTP/S subscriber for tests: records what SNS posts, answers with the codes it is told to,
and checks signatures as a subscriber would (the standard algorithm, with `cryptography`)."""

from __future__ import annotations

import base64
import json
import queue
import ssl
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

NOTIFICATION = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def doc(self) -> dict[str, Any]:
        return dict(json.loads(self.body))


@dataclass
class Subscriber:
    port: int
    scheme: str = "http"
    received: queue.Queue[Received] = field(default_factory=queue.Queue)
    answers: list[int] = field(default_factory=list)  # status codes to answer with first; then 200

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}/sns"

    def next(self, timeout: float = 15.0) -> Received:
        return self.received.get(timeout=timeout)

    def next_of(self, kind: str, timeout: float = 15.0) -> Received:
        """The next message of type `kind`, skipping others."""
        while True:
            got = self.next(timeout)
            if got.headers.get("x-amz-sns-message-type") == kind:
                return got


@contextmanager
def subscriber(tls: tuple[Path, Path] | None = None) -> Iterator[Subscriber]:
    """A subscriber on a loopback port of its own; with `tls` (certificate, key) it serves HTTPS."""
    sub: Subscriber | None = None

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            assert sub is not None
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            code = sub.answers.pop(0) if sub.answers else 200
            sub.received.put(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    sub = Subscriber(server.server_address[1], "https" if tls else "http")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield sub
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def fetch(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return bytes(answer.read())


def verify(doc: dict[str, Any], ca_pem: bytes | None = None) -> x509.Certificate:
    """Check an SNS message's signature against the certificate at its SigningCertURL (and that
    certificate against `ca_pem`); returns the certificate. Raises InvalidSignature when it fails."""
    cert = x509.load_pem_x509_certificate(fetch(doc["SigningCertURL"]))
    fields = NOTIFICATION if doc["Type"] == "Notification" else CONFIRMATION
    text = "".join(f"{name}\n{doc[name]}\n" for name in fields if name in doc)
    digest = hashes.SHA256() if doc["SignatureVersion"] == "2" else hashes.SHA1()
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(base64.b64decode(doc["Signature"]), text.encode(), padding.PKCS1v15(), digest)
    if ca_pem is not None:
        cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca_pem))
    return cert


def subscribed_topic(sns: Any, sub: Subscriber, name: str) -> str:
    """A new topic with `sub` subscribed over HTTP, the subscription confirmed; its ARN."""
    topic = str(sns.create_topic(Name=name)["TopicArn"])
    sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=sub.url)
    fetch(sub.next_of("SubscriptionConfirmation").doc["SubscribeURL"])
    return topic
