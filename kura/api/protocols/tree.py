"""Shape-driven walkers over decoded JSON/CBOR trees, shared by the json and cbor codecs.

A walker compiles each shape once into a closure. Structures resolve their members on first use,
so recursive shapes terminate and later requests pay only for the walk itself. Values of the wrong
type pass through untouched: telling the client about them is the validator's job.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from kura.api.protocols.common import Conv, member_wire_name

ScalarFactory = Callable[[Shape], Conv | None]
"""Given a scalar shape (with its member traits), the conversion for its values, or None."""


class TreeWalker:
    """Decodes a wire tree into params (`decode=True`) or encodes an output dict into a wire tree."""

    def __init__(self, scalars: ScalarFactory, *, decode: bool, location_names: bool) -> None:
        self._scalars = scalars
        self._decode = decode
        self._location_names = location_names
        self._top: dict[Shape, Conv] = {}

    def top(self, shape: StructureShape) -> Conv:
        conv = self._top.get(shape)
        if conv is None:
            conv = self._top[shape] = self._struct(shape)
        return conv

    def compile(self, shape: Shape) -> Conv | None:
        if isinstance(shape, StructureShape):
            return None if shape.is_document_type else self._struct(shape)
        if isinstance(shape, ListShape):
            return self._list(shape)
        if isinstance(shape, MapShape):
            return self._map(shape)
        return self._scalars(shape)

    def _fields(self, shape: StructureShape) -> dict[str, tuple[str, Conv | None]]:
        fields: dict[str, tuple[str, Conv | None]] = {}
        for name, member in shape.members.items():
            wire = member_wire_name(member, name) if self._location_names else name
            conv = self.compile(member)
            if self._decode:
                fields[wire] = (name, conv)
                fields.setdefault(name, (name, conv))
            else:
                fields[name] = (wire, conv)
        return fields

    def _struct(self, shape: StructureShape) -> Conv:
        fields: dict[str, tuple[str, Conv | None]] | None = None

        def run(value: Any) -> Any:
            nonlocal fields
            if not isinstance(value, dict):
                return value
            if fields is None:
                fields = self._fields(shape)
            out: dict[str, Any] = {}
            for key, item in value.items():
                field = fields.get(key)
                if field is None or item is None:
                    continue  # unknown members are ignored, as AWS does; None means absent
                out[field[0]] = item if field[1] is None else field[1](item)
            return out

        return run

    def _list(self, shape: ListShape) -> Conv | None:
        conv = self.compile(shape.member)
        if conv is None:
            return None

        def run(value: Any) -> Any:
            if not isinstance(value, list | tuple):
                return value
            return [None if item is None else conv(item) for item in value]

        return run

    def _map(self, shape: MapShape) -> Conv | None:
        conv = self.compile(shape.value)
        if conv is None:
            return None

        def run(value: Any) -> Any:
            if not isinstance(value, dict):
                return value
            return {key: None if item is None else conv(item) for key, item in value.items()}

        return run
