"""Metric math's grammar: the tokens and the parser that turns an expression into a syntax tree of
tuples (("num", 1.0), ("ref", "m1"), ("bin", "+", a, b), ("call", "SUM", [args]), ("list", [items]),
("not", a), ("str", "text"), ("kw", "REPEAT")). Precedence, lowest first: OR (||), AND (&&), NOT (!),
comparisons, + -, * /, unary minus, ^."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"""\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<str>"[^"]*"|'[^']*')"""
                    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>>=|<=|==|!=|&&|\|\||[-+*/^(),\[\]<>!]))""")
_COMPARE = (">", "<", ">=", "<=", "==", "!=")
_WORDS = {"AND": "&&", "OR": "||", "NOT": "!"}
_KEYWORDS = ("REPEAT", "LINEAR")


class MathError(Exception):
    """An expression that cannot be parsed or evaluated; the message says where."""


Node = tuple[Any, ...]


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise MathError(f"Unexpected character at position {pos + 1}: {text[pos:pos + 10]!r}")
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "name" and value.upper() in _WORDS:
            kind, value = "op", _WORDS[value.upper()]
        out.append((kind, value))
        pos = m.end()
    return out


@dataclass
class _Parser:
    tokens: list[tuple[str, str]]
    pos: int = 0
    ids: set[str] = field(default_factory=set)

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, op: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (op is not None and tok != ("op", op)):
            if tok is None:
                raise MathError(f"Expected {op!r} at the end" if op else "The expression ends too early")
            raise MathError(f"Expected {op!r} but found {tok[1]!r}")
        self.pos += 1
        return tok

    def accept(self, *ops: str) -> str | None:
        tok = self.peek()
        if tok is not None and tok[0] == "op" and tok[1] in ops:
            self.pos += 1
            return tok[1]
        return None

    def binary(self, ops: tuple[str, ...], nxt: Callable[[], Node]) -> Node:
        node = nxt()
        while (op := self.accept(*ops)) is not None:
            node = ("bin", op, node, nxt())
        return node

    def expr(self) -> Node:
        return self.binary(("||",), self.conj)

    def conj(self) -> Node:
        return self.binary(("&&",), self.neg)

    def neg(self) -> Node:
        return ("not", self.neg()) if self.accept("!") else self.compare()

    def compare(self) -> Node:
        node = self.add()
        op = self.accept(*_COMPARE)
        return ("bin", op, node, self.add()) if op else node

    def add(self) -> Node:
        return self.binary(("+", "-"), self.mul)

    def mul(self) -> Node:
        return self.binary(("*", "/"), self.unary)

    def unary(self) -> Node:
        if self.accept("-"):
            return ("bin", "*", ("num", -1.0), self.unary())
        if self.accept("+"):
            return self.unary()
        node = self.atom()
        return ("bin", "^", node, self.unary()) if self.accept("^") else node

    def atom(self) -> Node:
        kind, value = self.take()
        if kind == "num":
            return ("num", float(value))
        if kind == "str":
            return ("str", value[1:-1])
        if kind == "op" and value == "(":
            node = self.expr()
            self.take(")")
            return node
        if kind == "op" and value == "[":
            items = [self.expr()]
            while self.accept(","):
                items.append(self.expr())
            self.take("]")
            return ("list", items)
        if kind == "name":
            if self.accept("("):
                args: list[Node] = []
                if not self.accept(")"):
                    args.append(self.expr())
                    while self.accept(","):
                        args.append(self.expr())
                    self.take(")")
                return ("call", value.upper(), args)
            if value.upper() in _KEYWORDS:
                return ("kw", value.upper())
            self.ids.add(value)
            return ("ref", value)
        raise MathError(f"Unexpected {value!r}")


def parse(text: str) -> tuple[Node, set[str]]:
    """The syntax tree of an expression and the ids it refers to."""
    parser = _Parser(_tokens(text))
    if not parser.tokens:
        raise MathError("The expression is empty")
    node = parser.expr()
    if parser.peek() is not None:
        raise MathError(f"Unexpected {parser.peek()[1]!r} after the expression")  # type: ignore[index]
    return node, parser.ids
