"""Which reconciler owns which kind.

Service reconcilers register themselves at import (`@reconciler`); `load_all()` imports every module
of `kura.control` plus the modules named in `KURA_PLUGINS` (comma-separated), which is how tests load
fake kinds into a real `kura up` subprocess.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
from typing import TypeVar

from kura.control.types import Reconciler

R = TypeVar("R", bound=Reconciler)

PLUGINS_ENV = "KURA_PLUGINS"

_BY_KIND: dict[str, Reconciler] = {}


def _origin(rec: Reconciler) -> str:
    cls = type(rec)
    return f"{cls.__module__}.{cls.__qualname__}"


def register(rec: Reconciler) -> Reconciler:
    """Make `rec` the owner of `rec.kind`. The same class registered again (re-import) replaces itself."""
    old = _BY_KIND.get(rec.kind)
    if old is not None and _origin(old) != _origin(rec):
        raise RuntimeError(f"two reconcilers for kind {rec.kind}: {_origin(old)} and {_origin(rec)}")
    _BY_KIND[rec.kind] = rec
    return rec


def reconciler(cls: type[R]) -> type[R]:
    """Class decorator: instantiate the (argument-less) class and register the instance."""
    register(cls())
    return cls


def unregister(kind: str) -> None:
    _BY_KIND.pop(kind, None)


def all_reconcilers() -> list[Reconciler]:
    return [_BY_KIND[kind] for kind in sorted(_BY_KIND)]


def plugin_modules() -> list[str]:
    return [name.strip() for name in os.environ.get(PLUGINS_ENV, "").split(",") if name.strip()]


def load_all() -> None:
    """Import every module of kura.control, then the KURA_PLUGINS modules, so that they register."""
    import kura.control as pkg

    for info in pkgutil.walk_packages(pkg.__path__, prefix="kura.control."):
        importlib.import_module(info.name)
    for name in plugin_modules():
        importlib.import_module(name)
