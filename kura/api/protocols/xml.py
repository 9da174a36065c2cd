"""XML response bodies for the query and ec2 protocols, written straight into a list of strings.

Names follow botocore's XML parser: a member's locationName (else its name); a flattened list
whose member has a locationName repeats under that name; list items are <member> unless the
list member names them (EC2: <item>); maps are <entry><key/><value/></entry>.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape

from kura.api.protocols.common import b64encode, float_text, format_timestamp, xml_escape

Emit = Callable[[list[str], str, Any], None]
"""Appends the element `<tag>value</tag>` to the output."""
EmitMembers = Callable[[list[str], Any], None]


def element_name(member: Shape, name: str) -> str:
    """The tag a structure member is written under (botocore's `_member_key_name`)."""
    if isinstance(member, ListShape) and member.serialization.get("flattened"):
        item_name = member.member.serialization.get("name")
        if isinstance(item_name, str):
            return item_name
    wire = member.serialization.get("name")
    return wire if isinstance(wire, str) else name


def _text(fmt: Callable[[Any], str]) -> Emit:
    def emit(out: list[str], tag: str, value: Any) -> None:
        out.append(f"<{tag}>{fmt(value)}</{tag}>")

    return emit


def _bool_text(value: Any) -> str:
    return "true" if value else "false"


def _int_text(value: Any) -> str:
    return str(int(value))


def _str_text(value: Any) -> str:
    return xml_escape(value if isinstance(value, str) else str(value))


def _emit_str(out: list[str], tag: str, value: Any) -> None:
    # Strings are most of every response: one call, not two.
    out.append(f"<{tag}>{xml_escape(value if type(value) is str else str(value))}</{tag}>")


class XmlEncoder:
    """Compiles output shapes into emitters, once per shape object."""

    def __init__(self) -> None:
        self._members: dict[Shape, EmitMembers] = {}

    def members(self, shape: StructureShape) -> EmitMembers:
        """Emits a structure's members without an enclosing element (result wrappers, EC2 roots)."""
        emit = self._members.get(shape)
        if emit is None:
            emit = self._members[shape] = self._struct_members(shape)
        return emit

    def compile(self, shape: Shape) -> Emit:
        if isinstance(shape, StructureShape):
            return self._struct(shape)
        if isinstance(shape, ListShape):
            return self._list(shape)
        if isinstance(shape, MapShape):
            return self._map(shape)
        return self._scalar(shape)

    def _scalar(self, shape: Shape) -> Emit:
        kind = shape.type_name
        if kind == "boolean":
            return _text(_bool_text)
        if kind in ("integer", "long"):
            return _text(_int_text)
        if kind in ("float", "double"):
            return _text(float_text)
        if kind == "blob":
            return _text(b64encode)
        if kind == "timestamp":
            fmt = shape.serialization.get("timestampFormat", "iso8601")
            return _text(lambda value: _str_text(format_timestamp(value, fmt)))
        return _emit_str

    def _struct_members(self, shape: StructureShape) -> EmitMembers:
        fields: dict[str, tuple[str, Emit]] | None = None

        def emit_members(out: list[str], value: Any) -> None:
            nonlocal fields
            if fields is None:
                fields = {
                    name: (element_name(member, name), self.compile(member))
                    for name, member in shape.members.items()
                }
            for key, item in value.items():
                field = fields.get(key)
                if field is not None and item is not None:
                    field[1](out, field[0], item)

        return emit_members

    def _struct(self, shape: StructureShape) -> Emit:
        inner = self._struct_members(shape)

        def emit(out: list[str], tag: str, value: Any) -> None:
            out.append(f"<{tag}>")
            inner(out, value)
            out.append(f"</{tag}>")

        return emit

    def _list(self, shape: ListShape) -> Emit:
        item = self.compile(shape.member)
        if shape.serialization.get("flattened"):

            def flat(out: list[str], tag: str, value: Any) -> None:
                for element in value:
                    if element is not None:
                        item(out, tag, element)

            return flat
        item_tag = shape.member.serialization.get("name") or "member"

        def wrapped(out: list[str], tag: str, value: Any) -> None:
            if not value:
                out.append(f"<{tag}/>")  # AWS writes empty lists as empty elements
                return
            out.append(f"<{tag}>")
            for element in value:
                if element is not None:
                    item(out, item_tag, element)
            out.append(f"</{tag}>")

        return wrapped

    def _map(self, shape: MapShape) -> Emit:
        key_emit, value_emit = self.compile(shape.key), self.compile(shape.value)
        key_tag = shape.key.serialization.get("name") or "key"
        value_tag = shape.value.serialization.get("name") or "value"
        flattened = bool(shape.serialization.get("flattened"))

        def emit(out: list[str], tag: str, value: Any) -> None:
            if not flattened:
                out.append(f"<{tag}>")
            for key, item in value.items():
                if item is None:
                    continue  # botocore cannot read an entry without its value
                out.append(f"<{tag}>" if flattened else "<entry>")
                key_emit(out, key_tag, key)
                value_emit(out, value_tag, item)
                out.append(f"</{tag}>" if flattened else "</entry>")
            if not flattened:
                out.append(f"</{tag}>")

        return emit
