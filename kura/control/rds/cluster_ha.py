"""An Aurora cluster's HA decisions, pure: one snapshot of the writer and its readers in, one decision out.

Aurora loses no acknowledged commit when its writer dies (the storage is shared). Kura's readers are
streaming standbys, so the writer runs with `synchronous_standby_names = 'ANY 1 (<readers>)'`: a commit
is acknowledged once any one of the named readers has flushed it. Then the reader with the most WAL has
every acknowledged commit, and a failover to it loses none (`rank`).

In order, `decide` says:
- the writer died (cluster_monitor.py's look, the Multi-AZ monitor's): fail over when the named readers
  had every acknowledged commit (`in_sync`) and one of them still runs; else the writer is restarted in
  place by its own reconciler, as a cluster without readers has it;
- the writer did not answer once: wait (a second such look declares it dead);
- the readers commits wait for changed: readers that answer and are caught up join; a named reader that
  is gone (its postmaster) or has not answered for LOST_AFTER seconds (not streaming, or WAL waiting for
  it unacknowledged: frozen, cut off) leaves, and with none left the writer stops waiting (asynchronous
  until a reader streams again) — a gone reader never hangs commits for much longer than that;
- the names are right but not confirmed yet (a reader of them has everything flushed so far).

No clock, no store, no process: the monitor measures how long a reader has not answered and passes it in.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

from kura.control.rds.ha import CAUGHT_UP_BYTES, DEAD_AFTER, PACE
from kura.engines.postgres.ha import Standby

LOST_AFTER = DEAD_AFTER  # a named reader not answering for this long no longer holds commits
QUIET = PACE  # a reader that WAL waits for and that reported nothing for this long is not answering


@dataclass(frozen=True, slots=True)
class Reader:
    id: str
    tier: int  # PromotionTier
    running: bool  # its postmaster lives and it serves as a reader
    stream: Standby | None  # as the writer's pg_stat_replication shows it (None: not connected)
    missing_for: float = 0.0  # seconds it has not been answering (`answering`), by the monitor's looks


@dataclass(frozen=True, slots=True)
class Snapshot:
    cluster: str
    writer: str
    writer_dead: bool
    why: str  # what the look found wrong with the writer ("" when it answers)
    readers: tuple[Reader, ...]
    names: tuple[str, ...]  # the readers commits wait for (any one of them), as Kura last set them
    in_sync: bool  # every acknowledged commit is on a reader of `names`


class Action(enum.StrEnum):
    WATCH = "watch"  # nothing to do
    FAILOVER = "failover"  # fence the writer, elect the most advanced reader, promote it
    RESTART = "restart"  # the writer's own reconciler restarts it in place
    SYNC = "sync"  # commits wait for any one of `names` (none: for nobody)


@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    reason: str  # one sentence: the log line and the reconcile's outcome
    names: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Candidate:
    id: str
    received: int  # WAL received (flushed) or replayed, as an integer LSN
    tier: int


def rank(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Best first: the most WAL, then the lowest PromotionTier, then the name."""
    return sorted(candidates, key=lambda c: (-c.received, c.tier, c.id))


def answering(stream: Standby | None) -> bool:
    """Streams and acknowledges what it is sent: no WAL waits for it, or it reported within QUIET seconds
    (a frozen or cut-off reader stays connected until a timeout, but stops answering)."""
    return stream is not None and stream.state == "streaming" \
        and (stream.behind_bytes <= 0 or 0 <= stream.reply_age < QUIET)


def _caught_up(stream: Standby | None) -> bool:
    return answering(stream) and stream is not None and 0 <= stream.behind_bytes <= CAUGHT_UP_BYTES


def wanted(seen: Snapshot) -> tuple[str, ...]:
    """The readers commits should wait for: the named ones not lost, and those caught up."""
    keep = {r.id for r in seen.readers if r.id in seen.names and r.running and r.missing_for < LOST_AFTER}
    join = {r.id for r in seen.readers if r.running and _caught_up(r.stream)}
    return tuple(sorted(keep | join))


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join(names)


def decide(seen: Snapshot) -> Decision:
    where = f"DB cluster {seen.cluster}"
    if seen.writer_dead:
        named = [r.id for r in seen.readers if r.running and r.id in seen.names]
        if seen.in_sync and named:
            return Decision(Action.FAILOVER, f"{where}: writer {seen.writer} failed ({seen.why}); failing "
                            "over to the reader with the most WAL")
        return Decision(Action.RESTART, f"{where}: writer {seen.writer} failed ({seen.why}) and no "
                        "synchronous reader can take over: it is restarted in place")
    if seen.why:
        return Decision(Action.WATCH, f"{where}: writer {seen.writer} is suspect ({seen.why})")
    names = wanted(seen)
    if names != seen.names:
        if not names:
            why = f"no reader of {_listed(seen.names)} streams; commits no longer wait for a reader"
        else:
            why = f"commits wait for any one of {_listed(names)}"
        return Decision(Action.SYNC, f"{where}: {why}", names)
    if names and not seen.in_sync:
        return Decision(Action.SYNC, f"{where}: commits wait for any one of {_listed(names)}", names)
    return Decision(Action.WATCH, f"{where}: writer {seen.writer} answers; commits wait for "
                    + (f"any one of {_listed(names)}" if names else "no reader"))
