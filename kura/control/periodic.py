"""A pass every so often in a daemon thread of its own: what the log followers, samplers and pollers
beside the reconcilers share. A failing pass is logged and the next one runs; `stop` waits for the
pass in progress."""

from __future__ import annotations

import logging
import threading

from kura.env import Env

log = logging.getLogger("kura.control.periodic")


class Periodic:
    name = "kura-periodic"
    every = 1.0  # seconds between passes
    aligned = False  # True: just after each multiple of `every` on the clock (evenly spaced samples)

    def __init__(self, env: Env) -> None:
        self.env = env
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def once(self) -> int:
        """One pass; returns how much it did (for tests and logs)."""
        raise NotImplementedError

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _delay(self) -> float:
        return self.every - self.env.clock.now() % self.every + 0.002 if self.aligned else self.every

    def _loop(self) -> None:
        while not self._stop.wait(self._delay()):
            try:
                self.once()
            except Exception:
                log.exception('thread=%s outcome="pass failed"', self.name)
