"""Publishes the installed Redis engines and their parameters (kv `catalog:redis`, see
kura/services/elasticache/records.py): the API plane never imports engines, so
DescribeCacheEngineVersions, the parameter-group calls and CreateCacheCluster's version check read
what is published here. Call `start(env)` when the control plane starts, before the API serves.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from kura.control.elasticache import nodes
from kura.engines.redis import catalog
from kura.env import Env
from kura.net import tls
from kura.services.elasticache.records import CATALOG_KEY
from kura.store.types import Store

log = logging.getLogger("kura.control.elasticache")


def family(major: int) -> str:
    return f"redis{major}" if major >= 7 else f"redis{major}.x" if major == 6 else f"redis{major}.0"


def publish(store: Store) -> list[str]:
    """Discover redis-server again and publish every installed version; the versions published."""
    entries: list[dict[str, Any]] = []
    for engine in nodes.engines(refresh=True):
        try:
            params = [dict(p) for p in catalog.describe_config(engine)]
        except Exception:  # one broken build must not hide the others
            log.exception("cannot describe Redis %s at %s; it is not offered", engine.version, engine.server)
            continue
        entries.append({"version": engine.version, "major": engine.major, "family": family(engine.major),
                        "parameters": params})
    store.set_value(CATALOG_KEY, entries)
    versions = [str(e["version"]) for e in entries]
    log.info("published Redis engines: %s", ", ".join(versions) or "none")
    return versions


def _warm(env: Env) -> None:
    try:
        tls.ensure_ca(env.settings.paths)
        nodes.run_as()
    except Exception:  # a nicety: creates do this themselves
        log.warning("could not prepare the CA in advance", exc_info=True)


def start(env: Env) -> threading.Thread:
    """At control-plane start: publish the catalogue now; prepare the CA in the background."""
    publish(env.store)
    thread = threading.Thread(target=_warm, args=(env,), name="kura-elasticache-warm", daemon=True)
    thread.start()
    return thread
