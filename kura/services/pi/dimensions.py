"""The dimension groups of DB load for RDS for PostgreSQL and Aurora PostgreSQL, as Performance Insights
names them, over the columns the sampler records (kura.metrics.pi_sampler.Session).

`db.sql` and `db.sql_tokenized` dimensions are statements: their texts are looked up in the PI store,
cut to 500 bytes as the API does (GetDimensionKeyDetails answers the full text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kura.api.errors import AwsError
from kura.metrics.pi_sampler import CPU, Statement
from kura.metrics.pi_store import PiStore, Where

SHOWN_BYTES = 500

Dims = dict[str, str]


@dataclass(frozen=True, slots=True)
class Group:
    name: str
    columns: tuple[str, ...]
    dimensions: tuple[str, ...]


GROUPS = {g.name: g for g in (
    Group("db.wait_event", ("wait_type", "wait_event"), ("db.wait_event.name", "db.wait_event.type")),
    Group("db.wait_event_type", ("wait_type",), ("db.wait_event_type.name",)),
    Group("db.sql_tokenized", ("tokenized_id",),
          ("db.sql_tokenized.id", "db.sql_tokenized.db_id", "db.sql_tokenized.statement")),
    Group("db.sql", ("sql_id",), ("db.sql.id", "db.sql.db_id", "db.sql.statement", "db.sql.tokenized_id")),
    Group("db.user", ("user_id", "user"), ("db.user.id", "db.user.name")),
    Group("db.host", ("host_id", "host"), ("db.host.id", "db.host.name")),
    Group("db", ("db",), ("db.name",)),
    Group("db.application", ("app",), ("db.application.name",)),
)}
ALIASES = {"db.name": "db"}  # the group of db.name is "db"; the dimension's own name is accepted too


def invalid(message: str) -> AwsError:
    return AwsError("InvalidArgumentException", message)


def group(spec: dict[str, object] | None) -> tuple[Group, list[str], int] | None:
    """A DimensionGroup request: the group, the dimensions asked for (all by default) and the limit."""
    if spec is None:
        return None
    name = str(spec.get("Group"))
    found = GROUPS.get(ALIASES.get(name, name))
    if found is None:
        raise invalid(f"This group is not a known group: {name} is not valid for current resource")
    asked = [str(d) for d in spec.get("Dimensions") or []]  # type: ignore[attr-defined]
    bad = [d for d in asked if d not in found.dimensions]
    if bad:
        raise invalid(f"The dimensions {', '.join(bad)} are not dimensions of group {found.name}: it has "
                      f"{', '.join(found.dimensions)}.")
    return found, asked or list(found.dimensions), int(spec.get("Limit") or 10)  # type: ignore[call-overload]


def _wait_event(value: str) -> Where:
    kind, _, event = value.partition(":")
    return [("wait_type", [kind]), ("wait_event", [event or kind])]


_PLAIN: dict[str, str] = {
    "db.wait_event.type": "wait_type", "db.wait_event_type.name": "wait_type",
    "db.sql_tokenized.id": "tokenized_id", "db.sql.tokenized_id": "tokenized_id", "db.sql.id": "sql_id",
    "db.user.id": "user_id", "db.user.name": "user", "db.host.id": "host_id", "db.host.name": "host",
    "db.name": "db", "db.application.name": "app",
}
_BY_STATEMENT: dict[str, tuple[str, str, str]] = {  # dimension → (statement kind, its field, column)
    "db.sql_tokenized.db_id": ("tokenized", "db_id", "tokenized_id"),
    "db.sql_tokenized.statement": ("tokenized", "text", "tokenized_id"),
    "db.sql.db_id": ("sql", "db_id", "sql_id"),
    "db.sql.statement": ("sql", "text", "sql_id"),
}


def where(store: PiStore, name: str, filters: dict[str, str] | None) -> Where:
    """A Filter map as conditions on the samples."""
    out: list[tuple[str, Sequence[str]]] = []
    for dimension, value in (filters or {}).items():
        if dimension == "db.wait_event.name":
            out.extend(_wait_event(value))
        elif dimension in _PLAIN:
            out.append((_PLAIN[dimension], [value]))
        elif dimension in _BY_STATEMENT:
            kind, field, column = _BY_STATEMENT[dimension]
            out.append((column, store.statement_ids(name, kind, field, value)))
        else:
            raise invalid(f"The filter dimension {dimension} is not a known dimension for this resource.")
    return out


def _shown(text: str) -> str:
    return text.encode()[:SHOWN_BYTES].decode(errors="ignore")


def _wait(values: Sequence[str]) -> Dims:
    kind, event = values
    return {"db.wait_event.name": CPU if kind == CPU else f"{kind}:{event}", "db.wait_event.type": kind}


def describer(store: PiStore, name: str, g: Group, keys: Sequence[tuple[str, ...]]
              ) -> Callable[[tuple[str, ...]], Dims]:
    """Turns a key (values of the group's columns) into its dimensions; statements are fetched once."""
    texts: dict[str, Statement] = {}
    if g.name in ("db.sql", "db.sql_tokenized"):
        texts = store.statements(name, "sql" if g.name == "db.sql" else "tokenized", [k[0] for k in keys])

    def describe(key: tuple[str, ...]) -> Dims:
        if g.name == "db.wait_event":
            return _wait(key)
        if g.name in ("db.sql", "db.sql_tokenized"):
            st = texts.get(key[0])
            prefix = g.name
            out = {f"{prefix}.id": key[0]}
            if st is not None:
                out.update({f"{prefix}.db_id": st.db_id, f"{prefix}.statement": _shown(st.text)})
                if g.name == "db.sql":
                    out["db.sql.tokenized_id"] = st.tokenized_id
            return out
        return dict(zip(g.dimensions, key, strict=True))

    return describe


def pick(dims: Dims, asked: Sequence[str]) -> Dims:
    return {k: v for k, v in dims.items() if k in asked}
