"""Publishes the installed PostgreSQL engines and their parameters into the store (kura/catalog.py).

The API plane never imports engines: DescribeDBEngineVersions, the parameter group calls and
CreateDBInstance's version check read what is published here. Call `publish(env.store)` when the
control plane starts (`start(env)`: before the API serves, so a create right after `kura up` finds
its engine) and after `kura engines install` (`publish(store, home)`). Describing an engine makes its
template cluster on first use; `start` also makes spare copies of it and the installation's default
CA in the background, so that the first CreateDBInstance neither copies 40 MB nor makes an RSA key.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from kura.catalog import publish_postgres
from kura.control.rds import nodes, observe
from kura.engines.postgres import catalog
from kura.engines.postgres.templates import TemplateCache
from kura.engines.postgres.types import PgEngine
from kura.env import Env
from kura.net import tls
from kura.store.types import Store

log = logging.getLogger("kura.control.rds")


def describe(engine: PgEngine) -> dict[str, Any]:
    return {"major": engine.major, "version": engine.version, "source": engine.source,
            "parameters": catalog.describe_config(engine)}


def publish(store: Store, home: Path | None = None) -> list[str]:
    """Discover the engines again (also under `<home>/engines`) and publish them; the versions published."""
    entries = []
    for engine in nodes.engines(refresh=True, home=home):
        try:
            entries.append(describe(engine))
        except Exception:  # one broken build must not hide the others
            log.exception("cannot describe PostgreSQL %s in %s; it is not offered", engine.version,
                          engine.bindir)
    publish_postgres(store, entries)
    observe.forget_catalogue()
    versions = [str(e["version"]) for e in entries]
    log.info("published PostgreSQL engines: %s", ", ".join(versions) or "none")
    return versions


def _warm(env: Env) -> None:
    try:
        nodes.empty_trash(env)
        tls.ensure_ca(env.settings.paths)
        cache = TemplateCache.default()
        for engine in nodes.engines():
            cache.refill(engine)
    except Exception:  # a nicety: creates then just do this work themselves
        log.warning("could not prepare spare clusters or the CA in advance", exc_info=True)


def start(env: Env) -> threading.Thread:
    """At control-plane start: publish the catalogue now, prepare for fast creates in the background."""
    publish(env.store, env.settings.paths.home)
    thread = threading.Thread(target=_warm, args=(env,), name="kura-rds-warm", daemon=True)
    thread.start()
    return thread
