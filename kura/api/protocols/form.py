"""Decoding flat query parameters (`Tags.member.1.Key=v`) into a dict shaped like the input shape.

The keys are first folded into a tree on their dots, then the shape walks the tree. Two naming
dialects exist, mirroring botocore's serializers: `query` (lists as `Name.member.N` or the list
member's locationName, maps as `Name.entry.N.key`) and `ec2` (lists as `Name.N`; member names
from queryName, else the capitalised locationName).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from kura.api.protocols.common import Conv, b64decode, parse_timestamp


def build_tree(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """{'A.member.1.B': 'x'} -> {'A': {'member': {'1': {'B': 'x'}}}}; children win over leaves."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        node = root
        *parents, last = key.split(".")
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(last), dict):
            node[last] = value
    return root


def _indexed(node: dict[str, Any]) -> list[Any]:
    """The values of `N` keys, in numeric order (gaps close, stray keys are ignored)."""
    items = [(int(k), v) for k, v in node.items() if k.isdigit()]
    items.sort(key=lambda kv: kv[0])
    return [v for _, v in items]


def _to_int(text: Any) -> Any:
    try:
        return int(text) if isinstance(text, str) else text
    except ValueError:
        return text


def _to_float(text: Any) -> Any:
    try:
        return float(text) if isinstance(text, str) else text
    except ValueError:
        return text


def _to_bool(text: Any) -> Any:
    if isinstance(text, str):
        lowered = text.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return text


def _to_timestamp(text: Any) -> Any:
    parsed = parse_timestamp(text) if isinstance(text, str) else None
    return text if parsed is None else parsed


def _to_blob(text: Any) -> Any:
    decoded = b64decode(text) if isinstance(text, str) else None
    return text if decoded is None else decoded


_SCALARS: dict[str, Conv] = {
    "integer": _to_int,
    "long": _to_int,
    "float": _to_float,
    "double": _to_float,
    "boolean": _to_bool,
    "timestamp": _to_timestamp,
    "blob": _to_blob,
}


def query_key(member: Shape, name: str) -> str:
    if isinstance(member, ListShape) and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if isinstance(item_name, str):
            return item_name  # botocore replaces the member's own name with the item's
    wire = member.serialization.get("name")
    return wire if isinstance(wire, str) else name


def ec2_key(member: Shape, name: str) -> str:
    query_name = member.serialization.get("queryName")
    if isinstance(query_name, str):
        return query_name
    wire = member.serialization.get("name")
    if isinstance(wire, str) and wire:
        return wire[0].upper() + wire[1:]
    return name


class FormDecoder:
    def __init__(self, *, ec2: bool) -> None:
        self._ec2 = ec2
        self._key = ec2_key if ec2 else query_key
        self._top: dict[Shape, Conv] = {}

    def top(self, shape: StructureShape) -> Conv:
        conv = self._top.get(shape)
        if conv is None:
            conv = self._top[shape] = self._struct(shape)
        return conv

    def compile(self, shape: Shape) -> Conv | None:
        if isinstance(shape, StructureShape):
            return self._struct(shape)
        if isinstance(shape, ListShape):
            return self._list(shape)
        if isinstance(shape, MapShape):
            return self._map(shape)
        return _SCALARS.get(shape.type_name)

    def _fields(self, shape: StructureShape) -> dict[str, tuple[str, Conv | None]]:
        fields: dict[str, tuple[str, Conv | None]] = {}
        for name, member in shape.members.items():
            conv = self.compile(member)
            fields[self._key(member, name)] = (name, conv)
            # botocore writes an empty flattened list under the member's own name.
            fields.setdefault(member.serialization.get("name") or name, (name, conv))
        return fields

    def _struct(self, shape: StructureShape) -> Conv:
        fields: dict[str, tuple[str, Conv | None]] | None = None

        def run(node: Any) -> Any:
            nonlocal fields
            if not isinstance(node, dict):
                return node
            if fields is None:
                fields = self._fields(shape)
            out: dict[str, Any] = {}
            for key, item in node.items():
                field = fields.get(key)
                if field is not None:
                    out[field[0]] = item if field[1] is None else field[1](item)
            return out

        return run

    def _list(self, shape: ListShape) -> Conv:
        conv = self.compile(shape.member)
        item_key = None if self._ec2 or shape.serialization.get("flattened") else (
            shape.member.serialization.get("name") or "member"
        )

        def run(node: Any) -> Any:
            if node == "":
                return []  # the query protocol sends an empty list as `Name=`
            if not isinstance(node, dict):
                return node
            items = node if item_key is None else node.get(item_key)
            if not isinstance(items, dict):
                return node
            values = _indexed(items)
            return values if conv is None else [conv(v) for v in values]

        return run

    def _map(self, shape: MapShape) -> Conv:
        value_conv = self.compile(shape.value)
        key_tag = shape.key.serialization.get("name") or "key"
        value_tag = shape.value.serialization.get("name") or "value"
        flattened = bool(shape.serialization.get("flattened"))

        def run(node: Any) -> Any:
            if node == "":
                return {}
            if not isinstance(node, dict):
                return node
            entries = node if flattened else node.get("entry")
            if not isinstance(entries, dict):
                return node
            out: dict[Any, Any] = {}
            for entry in _indexed(entries):
                if not isinstance(entry, dict) or value_tag not in entry:
                    continue
                key = entry.get(key_tag)
                if isinstance(key, str):
                    value = entry[value_tag]
                    out[key] = value if value_conv is None else value_conv(value)
            return out

        return run
