"""Input validation from the botocore model: required members, types, enums, ranges, patterns.

Each shape compiles once (per error style) into a checker that records problems; one AwsError is
raised per request, in the style of the service's protocol:

- query / ec2: `MissingParameter` for an absent required member, else `InvalidParameterValue`;
- json / cbor: `ValidationException` listing every constraint failure as AWS words them
  ("1 validation error detected: Value null at 'secretId' failed to satisfy constraint: Member
  must not be null"), and `SerializationException` for a value of the wrong type.

Unknown members are ignored, as AWS does. Values of sensitive members never appear in messages.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from enum import Enum
from typing import Any, NamedTuple

from botocore.model import ListShape, MapShape, ServiceModel, Shape, StructureShape

from kura.api.errors import AwsError
from kura.api.protocols.form import ec2_key, query_key


class Kind(Enum):
    MISSING = "missing"
    TYPE = "type"
    CONSTRAINT = "constraint"


class Problem(NamedTuple):
    kind: Kind
    path: str
    detail: str  # "Member must …" for constraints, the expected type otherwise
    value: Any
    sensitive: bool


Check = Callable[[Any, str, list[Problem]], None]
Rule = Callable[[Any], str | None]


def error_style(service: ServiceModel) -> str:
    """The style a service answers validation errors in (awsQueryCompatible services use query's)."""
    if service.protocol == "ec2":
        return "ec2"
    if service.protocol == "query" or service.is_query_compatible:
        return "query"
    return "json"


def validate(shape: Shape, params: dict[str, Any], error_style: str) -> None:
    """Raise the AwsError `error_style` ("query", "ec2" or "json") gives for invalid `params`."""
    compiler = _COMPILERS.get(error_style) or _COMPILERS["json"]
    problems: list[Problem] = []
    compiler.top(shape)(params, "", problems)
    if problems:
        raise _query_error(problems) if error_style in ("query", "ec2") else _json_error(problems)


# -- messages -----------------------------------------------------------------------------------
def _show(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bytes | bytearray):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)}]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _json_error(problems: list[Problem]) -> AwsError:
    for problem in problems:
        if problem.kind is Kind.TYPE:
            return AwsError("SerializationException",
                            f"Value for '{problem.path}' must be {problem.detail}.", 400)
    parts = []
    for problem in problems:
        if problem.kind is Kind.MISSING:
            parts.append(f"Value null at '{problem.path}' failed to satisfy constraint: {problem.detail}")
        elif problem.sensitive:
            parts.append(f"Value at '{problem.path}' failed to satisfy constraint: {problem.detail}")
        else:
            parts.append(f"Value '{_show(problem.value)}' at '{problem.path}' failed to satisfy "
                         f"constraint: {problem.detail}")
    count = len(parts)
    noun = "error" if count == 1 else "errors"
    return AwsError("ValidationException", f"{count} validation {noun} detected: {'; '.join(parts)}", 400)


def _query_error(problems: list[Problem]) -> AwsError:
    for problem in problems:
        if problem.kind is Kind.MISSING:
            return AwsError("MissingParameter", f"The request must contain the parameter {problem.path}", 400)
    problem = problems[0]
    detail = f"Expected {problem.detail}." if problem.kind is Kind.TYPE else f"{problem.detail}."
    shown = "The value" if problem.sensitive else f"Value ({_show(problem.value)})"
    message = f"{shown} for parameter {problem.path} is invalid. {detail}"
    return AwsError("InvalidParameterValue", message, 400)


# -- scalar rules -------------------------------------------------------------------------------
def _is_int(bits: int) -> Callable[[Any], bool]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and low <= v <= high


_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "string": ("a string", lambda v: isinstance(v, str)),
    "character": ("a string", lambda v: isinstance(v, str)),
    "integer": ("an integer", _is_int(32)),
    "long": ("an integer", _is_int(64)),
    "float": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "double": ("a number", lambda v: isinstance(v, int | float) and not isinstance(v, bool)),
    "boolean": ("a boolean", lambda v: isinstance(v, bool)),
    "timestamp": ("a timestamp", lambda v: isinstance(v, datetime)),
    "blob": ("binary data", lambda v: isinstance(v, bytes | bytearray)),
    "list": ("a list", lambda v: isinstance(v, list)),
    "map": ("a map", lambda v: isinstance(v, dict)),
    "structure": ("a structure", lambda v: isinstance(v, dict)),
}


def _bound(limit: Any) -> str:
    return str(int(limit)) if isinstance(limit, float) and limit.is_integer() else str(limit)


def _rules(shape: Shape) -> list[Rule]:
    meta, kind, rules = shape.metadata, shape.type_name, []
    low, high = meta.get("min"), meta.get("max")
    measure = "value" if kind in ("integer", "long", "float", "double") else "length"
    size: Callable[[Any], Any] = (lambda v: v) if measure == "value" else len
    if low is not None:
        text = f"Member must have {measure} greater than or equal to {_bound(low)}"
        rules.append(lambda v: text if size(v) < low else None)
    if high is not None:
        text_high = f"Member must have {measure} less than or equal to {_bound(high)}"
        rules.append(lambda v: text_high if size(v) > high else None)
    enum = meta.get("enum")
    if enum and kind == "string":
        allowed, text_enum = frozenset(enum), f"Member must satisfy enum value set: [{', '.join(enum)}]"
        rules.append(lambda v: None if v in allowed else text_enum)
    pattern = meta.get("pattern")
    if pattern and kind == "string":
        try:
            regex = re.compile(pattern)
        except re.error:  # a Java-only construct: AWS would check it, we cannot
            return rules
        text_re = f"Member must satisfy regular expression pattern: {pattern}"
        rules.append(lambda v: None if regex.fullmatch(v) else text_re)
    return rules


def _apply(rules: list[Rule], value: Any, path: str, problems: list[Problem], sensitive: bool) -> None:
    for rule in rules:
        text = rule(value)
        if text is not None:
            problems.append(Problem(Kind.CONSTRAINT, path, text, value, sensitive))


# -- compilers ----------------------------------------------------------------------------------
class _Compiler:
    """Compiles checkers; the naming functions decide how paths read in messages."""

    def __init__(
        self, member: Callable[[Shape, str], str], item: Callable[[ListShape, str, int], str]
    ) -> None:
        self._member = member
        self._item = item
        self._top: dict[Shape, Check] = {}

    def top(self, shape: Shape) -> Check:
        check = self._top.get(shape)
        if check is None:
            check = self._top[shape] = self.compile(shape)
        return check

    def compile(self, shape: Shape) -> Check:
        if isinstance(shape, StructureShape):
            return _noop if shape.is_document_type else self._struct(shape)
        expected, is_type = _TYPES.get(shape.type_name, ("a value", lambda v: True))
        rules, sensitive = _rules(shape), bool(shape.metadata.get("sensitive"))
        inner: Check | None = None
        if isinstance(shape, ListShape):
            inner = self._list_items(shape)
        elif isinstance(shape, MapShape):
            inner = self._map_items(shape)

        def check(value: Any, path: str, problems: list[Problem]) -> None:
            if not is_type(value):
                problems.append(Problem(Kind.TYPE, path, expected, value, sensitive))
                return
            if rules:
                _apply(rules, value, path, problems, sensitive)
            if inner is not None:
                inner(value, path, problems)

        return check

    def _list_items(self, shape: ListShape) -> Check:
        item = self.compile(shape.member)
        naming = self._item

        def check(value: Any, path: str, problems: list[Problem]) -> None:
            for index, element in enumerate(value, 1):
                if element is not None:
                    item(element, naming(shape, path, index), problems)

        return check

    def _map_items(self, shape: MapShape) -> Check:
        key_check, value_check = self.compile(shape.key), self.compile(shape.value)

        def check(value: Any, path: str, problems: list[Problem]) -> None:
            for key, element in value.items():
                key_check(key, path, problems)
                if element is not None:
                    value_check(element, f"{path}.{key}", problems)

        return check

    def _struct(self, shape: StructureShape) -> Check:
        fields: dict[str, tuple[str, Check]] | None = None
        required = list(shape.required_members)
        union = shape.is_tagged_union

        def check(value: Any, path: str, problems: list[Problem]) -> None:
            nonlocal fields
            if not isinstance(value, dict):
                problems.append(Problem(Kind.TYPE, path, "a structure", value, False))
                return
            if fields is None:
                fields = {name: (self._member(member, name), self.compile(member))
                          for name, member in shape.members.items()}
            for name in required:
                if value.get(name) is None:
                    wire = _join(path, fields[name][0] if name in fields else name)
                    problems.append(Problem(Kind.MISSING, wire, "Member must not be null", None, False))
            present = 0
            for key, item in value.items():
                field = fields.get(key)
                if field is not None and item is not None:
                    present += 1
                    field[1](item, _join(path, field[0]), problems)
            if union and present != 1:
                problems.append(Problem(Kind.CONSTRAINT, path or shape.name,
                                        "Member must have exactly one member set", value, True))

        return check


def _noop(value: Any, path: str, problems: list[Problem]) -> None:
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _camel(member: Shape, name: str) -> str:
    return name[:1].lower() + name[1:]


def _json_item(shape: ListShape, path: str, index: int) -> str:
    return f"{path}.{index}.member"


def _query_item(shape: ListShape, path: str, index: int) -> str:
    if shape.serialization.get("flattened"):
        return f"{path}.{index}"
    return f"{path}.{shape.member.serialization.get('name') or 'member'}.{index}"


def _ec2_item(shape: ListShape, path: str, index: int) -> str:
    return f"{path}.{index}"


_COMPILERS: dict[str, _Compiler] = {
    "json": _Compiler(_camel, _json_item),
    "query": _Compiler(query_key, _query_item),
    "ec2": _Compiler(ec2_key, _ec2_item),
}
