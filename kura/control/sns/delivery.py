"""The `sns.delivery` reconciler: one queued message to one endpoint, sent, retried, removed.

Sending happens on a small pool of this module's own threads, never in the runtime's workers (an
endpoint may take its full 15 s to answer) nor in the request handler. While an attempt is in
flight the reconciler only looks again every second; the attempt itself writes its outcome: the
record is deleted once delivered (or failed for good, or its policy exhausted), or its status gets
the time of the next retry from the delivery policy. A Kura killed mid-attempt sends again on
start: delivery is at least once, as on AWS.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from kura.control.registry import reconciler
from kura.control.sns import messages, transport
from kura.control.steps import patch_status
from kura.control.types import Outcome
from kura.env import Env
from kura.services.sns import delivery_policy, signing
from kura.services.sns.records import KIND_DELIVERY, KIND_SUBSCRIPTION
from kura.store.types import Resource, VersionConflict

log = logging.getLogger("kura.control.sns")

POOL_SIZE = 8
BUSY_RECHECK = 1.0


class _Pool:
    """Daemon threads running one attempt per delivery at a time."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._queue: queue.Queue[tuple[tuple[str, str], Callable[[], None]]] = queue.Queue()
        self._busy: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def busy(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return key in self._busy

    def submit(self, key: tuple[str, str], work: Callable[[], None]) -> None:
        with self._lock:
            self._busy.add(key)
            if len(self._threads) < min(self._size, len(self._busy)):
                name = f"kura-sns-{len(self._threads)}"
                thread = threading.Thread(target=self._loop, name=name, daemon=True)
                self._threads.append(thread)
                thread.start()
        self._queue.put((key, work))

    def _loop(self) -> None:
        while True:
            key, work = self._queue.get()
            try:
                work()
            except Exception:
                log.exception('component=sns delivery=%s outcome="attempt crashed"', key[1])
            finally:
                with self._lock:
                    self._busy.discard(key)


_pool = _Pool(POOL_SIZE)


def _wanted(env: Env, res: Resource) -> bool:
    """A notification or confirmation still has someone to go to (unsubscribe notices always do)."""
    if res.spec["Type"] == "UnsubscribeConfirmation":
        return True
    sub = env.store.get(KIND_SUBSCRIPTION, res.region, res.spec["subscription"])
    if sub is None or sub.spec.get("unsubscribed"):
        return False
    return res.spec["Type"] != "Notification" or bool(sub.spec.get("confirmed"))


@reconciler
class DeliveryReconciler:
    kind = KIND_DELIVERY
    source_type = "sns-delivery"

    def reconcile(self, env: Env, res: Resource) -> Outcome:
        key = (res.region, res.id)
        if _pool.busy(key):
            return Outcome("attempt in flight", requeue_after=BUSY_RECHECK)
        attempts = int(res.status.get("attempts", 0))
        wait = float(res.status.get("next_at", 0.0)) - env.clock.now()
        if wait > 0:
            return Outcome(f"retry {attempts} of {res.spec['Type']} to {res.spec['endpoint']} in {wait:.0f}s",
                           requeue_after=wait)
        if not _wanted(env, res):
            _remove(env, res)
            return Outcome(f"dropped {res.spec['Type']} {res.spec['MessageId']}: "
                           "no such subscription any more")
        _pool.submit(key, lambda: attempt(env, res))
        return Outcome(f"attempt {attempts + 1} of {res.spec['Type']} to {res.spec['endpoint']}",
                       requeue_after=BUSY_RECHECK)


def send(env: Env, spec: dict[str, Any]) -> transport.Result:
    paths = env.settings.paths
    signer = signing.signer(paths, env.clock.now())
    url = env.settings.endpoint_url
    if spec["protocol"] in ("http", "https"):
        body, headers = messages.http_request(spec, signer, url)
        return transport.post(spec["endpoint"], body, headers, paths)
    return transport.deliver_mail(paths, spec["endpoint"], messages.mail(spec, signer, url))


def attempt(env: Env, res: Resource) -> None:
    """One attempt, and its consequence written to the store."""
    result = send(env, res.spec)
    attempts = int(res.status.get("attempts", 0)) + 1
    what = f"{res.spec['Type']} {res.spec['MessageId']} to {res.spec['endpoint']}"
    policy = res.spec.get("policy") or delivery_policy.EMAIL_RETRY
    if result.verdict is transport.Verdict.RETRY and attempts <= int(policy["numRetries"]):
        delay = delivery_policy.retry_delay(policy, attempts)
        log.warning('component=sns outcome="%s failed (%s); retry %d in %.0fs"', what, result.detail,
                    attempts, delay)

        def later(status: dict[str, Any]) -> dict[str, Any]:
            return {**status, "attempts": attempts, "next_at": env.clock.now() + delay, "last": result.detail}

        patch_status(env.store, res, later)
        return
    if result.verdict is transport.Verdict.DELIVERED:
        log.info('component=sns outcome="%s delivered (%s, attempt %d)"', what, result.detail, attempts)
    else:
        log.warning('component=sns outcome="%s not delivered after %d attempt(s): %s"', what, attempts,
                    result.detail)
    _remove(env, res)


def _remove(env: Env, res: Resource) -> None:
    current: Resource | None = res
    while current is not None:
        try:
            env.store.delete(current)
            return
        except VersionConflict:
            current = env.store.get(res.kind, res.region, res.id)
