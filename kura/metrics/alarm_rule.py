"""Composite alarm rules: `ALARM(name)`, `OK(name)`, `INSUFFICIENT_DATA(name)`, `TRUE`, `FALSE`,
combined with AND, OR, NOT and parentheses (NOT binds tightest, then AND, then OR). Names may be
quoted with double quotes and may be alarm ARNs."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_LENGTH = 10240
FUNCTIONS = ("ALARM", "OK", "INSUFFICIENT_DATA")
_TOKEN = re.compile(r'\s*(?:(?P<p>[()])|(?P<word>ALARM|OK|INSUFFICIENT_DATA|AND|OR|NOT|TRUE|FALSE)\b'
                    r'|(?P<junk>\S))')
_ARGUMENT = re.compile(r'\s*(?:"(?P<quoted>[^"]+)"|(?P<bare>[^()"\s][^()"]*?))\s*\)')


class RuleError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Check:
    state: str  # ALARM, OK or INSUFFICIENT_DATA
    alarm: str  # name (an ARN is reduced to its name)


Node = bool | Check | tuple[str, tuple["Node", ...]]  # ("and"|"or"|"not", children)


def alarm_name(ref: str) -> str:
    if ref.startswith("arn:"):
        parts = ref.split(":", 6)
        if len(parts) == 7 and parts[2] == "cloudwatch" and parts[5] == "alarm":
            return parts[6]
    return ref


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        m = _TOKEN.match(self.text, self.pos)
        if m is None:
            return None
        for kind in ("p", "word", "junk"):
            if m.group(kind) is not None:
                return kind, m.group(kind)
        return None

    def _take(self) -> tuple[str, str]:
        m = _TOKEN.match(self.text, self.pos)
        token = self._peek()
        if m is None or token is None:
            raise RuleError("Error in alarm rule: unexpected end of the expression")
        self.pos = m.end()
        return token

    def at_end(self) -> bool:
        return not self.text[self.pos:].strip()

    def expr(self) -> Node:
        parts = [self.term()]
        while self._peek() == ("word", "OR"):
            self._take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else ("or", tuple(parts))

    def term(self) -> Node:
        parts = [self.factor()]
        while self._peek() == ("word", "AND"):
            self._take()
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else ("and", tuple(parts))

    def factor(self) -> Node:
        kind, value = self._take()
        if (kind, value) == ("word", "NOT"):
            return ("not", (self.factor(),))
        if (kind, value) == ("p", "("):
            inner = self.expr()
            if self._take() != ("p", ")"):
                raise RuleError("Error in alarm rule: missing )")
            return inner
        if kind == "word" and value in ("TRUE", "FALSE"):
            return value == "TRUE"
        if kind == "word" and value in FUNCTIONS:
            if self._take() != ("p", "("):
                raise RuleError(f"Error in alarm rule: {value} needs (alarm name)")
            m = _ARGUMENT.match(self.text, self.pos)
            if m is None:
                raise RuleError(f"Error in alarm rule: {value}( takes one alarm name")
            self.pos = m.end()
            return Check(value, alarm_name((m.group("quoted") or m.group("bare")).strip()))
        raise RuleError(f"Error in alarm rule: unexpected {value!r} at position {self.pos}")


def parse(text: str) -> Node:
    if not text.strip() or len(text) > MAX_LENGTH:
        raise RuleError(f"The alarm rule must be 1 to {MAX_LENGTH} characters long")
    parser = _Parser(text)
    node = parser.expr()
    if not parser.at_end():
        raise RuleError(f"Error in alarm rule: unexpected text at position {parser.pos}")
    return node


def alarms(node: Node) -> set[str]:
    """The names of the alarms a rule refers to."""
    if isinstance(node, bool):
        return set()
    if isinstance(node, Check):
        return {node.alarm}
    return set().union(*(alarms(child) for child in node[1]))


def holds(node: Node, states: Mapping[str, str]) -> bool:
    """Whether the rule is true for these alarm states (an alarm that is gone is in no state)."""
    if isinstance(node, bool):
        return node
    if isinstance(node, Check):
        return states.get(node.alarm) == node.state
    op, children = node
    if op == "not":
        return not holds(children[0], states)
    results = (holds(child, states) for child in children)
    return all(results) if op == "and" else any(results)
