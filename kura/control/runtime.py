"""The reconciler runtime: runs each kind's reconciler whenever one of its resources may need work.

A resource (kind, region, id) is reconciled
- when it changes in the store (a subscription), except for writes made by its own reconcile, which
  would otherwise loop (checkpoints, error records): a reconcile that wants another pass says so
  with `Outcome.requeue_after`;
- at start and every `settings.resync_seconds` (all resources): that is how a restarted Kura
  finishes what a killed one left;
- when a timer is due: `Outcome.requeue_after`, or the backoff after an error. The latest outcome
  of a resource decides its only timer.

Never two reconciles of one resource at once: a trigger during a reconcile queues exactly one more
afterwards. Failures are recorded in `status["error"]` and as an event; a PermanentError stops the
retries until the spec changes (its hash is kept in `status["error_spec"]`).

Decisions read `env.clock`. `run_due()` processes synchronously whatever is due now, so tests
drive the runtime with a FakeClock and no threads.
"""

from __future__ import annotations

import enum
import hashlib
import heapq
import itertools
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from kura.control.steps import patch_status
from kura.control.types import (
    STATUS_ERROR,
    STATUS_ERROR_SPEC,
    PermanentError,
    Reconciler,
    TemporaryError,
)
from kura.env import Env
from kura.store.types import Event, Resource

log = logging.getLogger("kura.control")

Key = tuple[str, str, str]  # (kind, region, id)

MAX_BACKOFF = 60.0  # seconds; a TemporaryError asking for longer still gets its own delay
UNEXPECTED_DELAY = 5.0  # first retry after an exception that is not a TemporaryError
MAX_WAIT = 1.0  # the scheduler re-reads the clock at least this often (clocks may jump)


class Verdict(enum.Enum):
    SUCCEEDED = "succeeded"
    RETRYING = "retrying"  # TemporaryError or unexpected exception: back off and try again
    FAILED = "failed"  # PermanentError: nothing more until the spec changes
    BLOCKED = "blocked"  # not run: a permanent error stands for this very spec
    GONE = "gone"  # the resource no longer exists


@dataclass(frozen=True, slots=True)
class Handled:
    """What one pass over one resource came to; `outcome` is also its log line."""

    kind: str
    region: str
    id: str
    verdict: Verdict
    outcome: str
    next_in: float | None  # seconds until the runtime looks again by itself


def spec_hash(spec: dict[str, Any]) -> str:
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


_LEVELS = {Verdict.SUCCEEDED: logging.INFO, Verdict.RETRYING: logging.WARNING,
           Verdict.FAILED: logging.ERROR, Verdict.BLOCKED: logging.DEBUG, Verdict.GONE: logging.DEBUG}


class Runtime:
    def __init__(self, env: Env, reconcilers: Iterable[Reconciler], *, workers: int = 4) -> None:
        self.env = env
        self._by_kind: dict[str, Reconciler] = {}
        for rec in reconcilers:
            if rec.kind in self._by_kind:
                raise ValueError(f"two reconcilers for kind {rec.kind}")
            self._by_kind[rec.kind] = rec
        self._workers = max(1, workers)
        self._cv = threading.Condition()
        self._wake = threading.Event()  # wakes the scheduler early (new timer, stop)
        self._ready: deque[Key] = deque()
        self._queued: set[Key] = set()
        self._running: set[Key] = set()
        self._dirty: set[Key] = set()  # triggered while running: one more pass afterwards
        self._due: dict[Key, float] = {}  # the one live timer per resource (monotonic time)
        self._heap: list[tuple[float, int, Key]] = []  # may hold superseded entries; _due decides
        self._seq = itertools.count()
        self._failures: dict[Key, int] = {}
        self._last: dict[Key, str] = {}  # last outcome logged per resource: repeats go to DEBUG
        self._next_resync = 0.0
        self._attached = False
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._local = threading.local()  # the key this thread is reconciling, if any

    # -- public ------------------------------------------------------------------------------
    def start(self) -> None:
        """Subscribe, queue every resource, and run a scheduler and `workers` worker threads."""
        if self._threads:
            raise RuntimeError("the runtime is already started")
        self._attach()
        self._pump()  # the start scan, before returning: what exists now is queued when start() ends
        timers = threading.Thread(target=self._schedule_loop, name="kura-control-timers", daemon=True)
        self._threads = [timers] + [
            threading.Thread(target=self._work_loop, name=f"kura-control-{n}", daemon=True)
            for n in range(self._workers)
        ]
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop taking work and wait up to `timeout` s for running reconciles; True if all ended."""
        with self._cv:
            self._stopping = True
            self._cv.notify_all()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [t.name for t in self._threads if t.is_alive()]
        if alive:
            log.warning('component=runtime outcome="stop timed out; still busy: %s"', ", ".join(alive))
        return not alive

    def kick(self, kind: str, region: str, id: str) -> None:
        """Reconcile this resource soon (as if it had changed)."""
        if kind in self._by_kind:
            with self._cv:
                self._trigger_locked((kind, region, id))

    def run_due(self, limit: int = 1000) -> list[Handled]:
        """Synchronously process everything due now (tests, with a FakeClock); threads must not run."""
        if self._threads:
            raise RuntimeError("run_due is for a runtime without threads")
        self._attach()
        handled: list[Handled] = []
        while len(handled) < limit:
            self._pump()
            with self._cv:
                if not self._ready:
                    break
                key = self._take_locked()
            handled.append(self._run(key))
        return handled

    def idle(self) -> bool:
        """Nothing queued and nothing running (timers may still be pending)."""
        with self._cv:
            return not self._ready and not self._running and not self._dirty

    # -- triggers ----------------------------------------------------------------------------
    def _attach(self) -> None:
        if self._attached:
            return
        self._attached = True
        self.env.store.subscribe(self._on_change)
        self._next_resync = self.env.clock.monotonic()  # the start scan is a resync due now

    def _on_change(self, kind: str, region: str, id: str) -> None:
        if kind not in self._by_kind or self._stopping:
            return
        key = (kind, region, id)
        if getattr(self._local, "key", None) == key:
            return  # written by this resource's own reconcile (see the module docstring)
        with self._cv:
            self._trigger_locked(key)

    def _trigger_locked(self, key: Key) -> None:
        if key in self._running:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._ready.append(key)
            self._cv.notify()

    def _take_locked(self) -> Key:
        key = self._ready.popleft()
        self._queued.discard(key)
        self._running.add(key)
        return key

    def _schedule_locked(self, key: Key, delay: float | None) -> None:
        if delay is None:
            self._due.pop(key, None)
            return
        due = self.env.clock.monotonic() + max(0.0, delay)
        self._due[key] = due
        heapq.heappush(self._heap, (due, next(self._seq), key))

    def _pump(self) -> None:
        """Fire due timers; list every resource when a resync is due."""
        now = self.env.clock.monotonic()
        with self._cv:
            while self._heap and self._heap[0][0] <= now:
                due, _, key = heapq.heappop(self._heap)
                if self._due.get(key) == due:
                    del self._due[key]
                    self._trigger_locked(key)
            resync = now >= self._next_resync
            if resync:
                self._next_resync = now + self.env.settings.resync_seconds
        if resync:
            keys = [(r.kind, r.region, r.id) for kind in self._by_kind for r in self.env.store.list(kind)]
            with self._cv:
                for key in keys:
                    self._trigger_locked(key)

    # -- threads -----------------------------------------------------------------------------
    def _schedule_loop(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                self._pump()
            except Exception:  # the store is unavailable for a moment: try again on the next tick
                log.exception('component=runtime outcome="timer/resync pass failed"')
            self._wake.wait(self._wait_time())

    def _wait_time(self) -> float:
        now = self.env.clock.monotonic()
        with self._cv:
            nearest = min([self._next_resync] + ([self._heap[0][0]] if self._heap else []))
        return max(0.0, min(MAX_WAIT, nearest - now))

    def _work_loop(self) -> None:
        while True:
            with self._cv:
                while not self._ready and not self._stopping:
                    self._cv.wait()
                if self._stopping:
                    return
                key = self._take_locked()
            self._run(key)

    # -- one pass ----------------------------------------------------------------------------
    def _run(self, key: Key) -> Handled:
        self._local.key = key
        try:
            handled = self._handle(key)
        except Exception:  # the runtime's own bookkeeping failed (store busy, …): never kill the worker
            log.exception('kind=%s region=%s id=%s outcome="runtime error"', *key)
            handled = Handled(*key, Verdict.RETRYING, "runtime error", UNEXPECTED_DELAY)
        finally:
            self._local.key = None
        self._log(key, handled)
        with self._cv:
            self._running.discard(key)
            self._schedule_locked(key, handled.next_in)
            if handled.verdict in (Verdict.SUCCEEDED, Verdict.FAILED, Verdict.GONE):
                self._failures.pop(key, None)
            if key in self._dirty:
                self._dirty.discard(key)
                self._trigger_locked(key)
        self._wake.set()  # the new timer may be nearer than what the scheduler waits for
        return handled

    def _log(self, key: Key, handled: Handled) -> None:
        """One line per outcome; an unchanged success (every resync of a settled resource) at DEBUG."""
        outcome = handled.outcome.replace('"', "'").replace("\n", " ")
        level = _LEVELS[handled.verdict]
        with self._cv:
            if handled.verdict is Verdict.GONE:
                self._last.pop(key, None)
            elif level == logging.INFO and self._last.get(key) == outcome:
                level = logging.DEBUG
            else:
                self._last[key] = outcome
        log.log(level, 'kind=%s region=%s id=%s verdict=%s outcome="%s"', *key, handled.verdict.value,
                outcome)

    def _handle(self, key: Key) -> Handled:
        rec = self._by_kind[key[0]]
        res = self.env.store.get(*key)
        if res is None:
            return Handled(*key, Verdict.GONE, "gone", None)
        digest = spec_hash(res.spec)
        if res.status.get(STATUS_ERROR_SPEC) == digest:
            waiting = f"waiting for a spec change: {res.status.get(STATUS_ERROR)}"
            return Handled(*key, Verdict.BLOCKED, waiting, None)
        try:
            outcome = rec.reconcile(self.env, res)
        except TemporaryError as exc:
            return self._failed(rec, res, str(exc), exc.delay, None)
        except PermanentError as exc:
            return self._failed(rec, res, str(exc), None, digest)
        except Exception as exc:
            log.exception('kind=%s region=%s id=%s outcome="unexpected error in reconcile"', *key)
            return self._failed(rec, res, f"{type(exc).__name__}: {exc}", UNEXPECTED_DELAY, None)
        self._clear_error(res)
        return Handled(*key, Verdict.SUCCEEDED, outcome.message, outcome.requeue_after)

    def _failed(self, rec: Reconciler, res: Resource, message: str, delay: float | None,
                digest: str | None) -> Handled:
        key = (res.kind, res.region, res.id)
        self._record_error(rec, res, message, digest)
        if delay is None:
            return Handled(*key, Verdict.FAILED, f"failed until the spec changes: {message}", None)
        with self._cv:
            attempt = self._failures[key] = self._failures.get(key, 0) + 1
        backoff = min(delay * 2 ** min(attempt - 1, 16), max(delay, MAX_BACKOFF))
        return Handled(*key, Verdict.RETRYING, f"retry in {backoff:g}s: {message}", backoff)

    def _record_error(self, rec: Reconciler, res: Resource, message: str, digest: str | None) -> None:
        """Write the error into the newest status (an event too when it is news), sparing other writes."""
        written = False

        def change(status: dict[str, Any]) -> dict[str, Any] | None:
            nonlocal written
            written = False
            if status.get(STATUS_ERROR) == message and status.get(STATUS_ERROR_SPEC) == digest:
                return None
            status[STATUS_ERROR] = message
            if digest is None:
                status.pop(STATUS_ERROR_SPEC, None)
            else:
                status[STATUS_ERROR_SPEC] = digest
            written = True
            return status

        if patch_status(self.env.store, res, change) is not None and written:
            source_type = str(getattr(rec, "source_type", rec.kind))
            self.env.store.add_event(Event(res.region, source_type, res.id, message, ("failure",)))

    def _clear_error(self, res: Resource) -> None:
        def change(status: dict[str, Any]) -> dict[str, Any] | None:
            if STATUS_ERROR not in status and STATUS_ERROR_SPEC not in status:
                return None
            status.pop(STATUS_ERROR, None)
            status.pop(STATUS_ERROR_SPEC, None)
            return status

        patch_status(self.env.store, res, change)
