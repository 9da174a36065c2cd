"""The ASGI application: Kura's own endpoints under /_kura/, /metrics for Prometheus, everything else to
the AWS gateway."""

from __future__ import annotations

import json
import os
import time
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from kura.api.gateway import Gateway
from kura.api.types import Headers, HttpRequest
from kura.metrics import prometheus
from kura.services.sns import signing


class App:
    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway
        self.started = time.time()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw_path = scope.get("raw_path") or scope["path"].encode()
        path = raw_path.decode("latin-1").split("?", 1)[0]
        if path.startswith("/_kura/"):
            await self._own(path)(scope, receive, send)
            return
        if path == "/metrics" and scope["method"] in ("GET", "HEAD"):  # Prometheus scrapes
            await Response(prometheus.render(), media_type=prometheus.CONTENT_TYPE)(scope, receive, send)
            return
        raw_query = scope.get("query_string", b"").decode("latin-1")
        http = HttpRequest(
            method=scope["method"],
            path=path,
            query=parse_qsl(raw_query, keep_blank_values=True),
            raw_query=raw_query,
            headers=Headers([(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]),
            body=await request.body(),
            client_host=(scope.get("client") or ("", 0))[0],
        )
        answer = self.gateway.handle(http)
        await Response(answer.body, status_code=answer.status, headers=answer.headers)(scope, receive, send)

    def _own(self, path: str) -> Response:
        if path == "/_kura/health":
            body = {"status": "ok", "pid": os.getpid(), "uptime": round(time.time() - self.started, 3)}
            return Response(json.dumps(body), media_type="application/json")
        if path.startswith(signing.URL_PREFIX):  # SNS's SigningCertURL
            pem = signing.certificate(self.gateway.env.settings.paths, path[len(signing.URL_PREFIX):])
            if pem is not None:
                return Response(pem, media_type="application/x-x509-ca-cert")
        return Response(json.dumps({"error": f"no such Kura endpoint {path}"}), status_code=404,
                        media_type="application/json")


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
