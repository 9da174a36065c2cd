"""RDS parameter formulas: `{DBInstanceClassMemory/32768}`, `LEAST({DBInstanceClassMemory/9531392},5000)`,
`GREATEST({DBInstanceClassMemory*1024/63963136},65536)`, `SUM(…)`, `GREATEST(${DBInstanceVCPU*2},8)`.

Evaluated exactly (rationals) and rounded down to an integer at the end, as RDS does. A value that is
not a formula (`pg_stat_statements`, `0.05`) comes back unchanged.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from fractions import Fraction

_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d+)?)|([A-Za-z_][A-Za-z0-9_]*)|(\$?\{)|([-+*/(),}]))")
_FUNCTIONS: dict[str, Callable[[list[Fraction]], Fraction]] = {
    "LEAST": min,
    "GREATEST": max,
    "SUM": lambda args: sum(args, Fraction(0)),
}


class FormulaError(ValueError):
    """The value looks like a formula but cannot be evaluated."""


def is_formula(value: str) -> bool:
    text = value.strip()
    return "{" in text or text.upper().startswith(tuple(f"{f}(" for f in _FUNCTIONS))


def resolve_formula(expr: str, memory_bytes: int, variables: Mapping[str, int] | None = None) -> str:
    """Evaluate an RDS formula for an instance with `memory_bytes` of DBInstanceClassMemory.

    `variables` adds the other names RDS formulas use (DBInstanceVCPU, AllocatedStorage, …).
    """
    if not is_formula(expr):
        return expr
    names = {"DBInstanceClassMemory": memory_bytes, **(variables or {})}
    parser = _Parser(_tokenize(expr), {k.lower(): Fraction(v) for k, v in names.items()})
    value = parser.expression()
    if parser.peek() is not None:
        raise FormulaError(f"unexpected {parser.peek()!r} in formula {expr!r}")
    return str(math.floor(value))


def _tokenize(expr: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    text = expr.strip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise FormulaError(f"cannot read formula {expr!r} at {text[pos:]!r}")
        tokens.append(next(g for g in match.groups() if g is not None).lstrip("$"))
        pos = match.end()
    return tokens


class _Parser:
    """expression := term (("+"|"-") term)*; term := unary (("*"|"/") unary)*;
    unary := "-" unary | primary; primary := number | name | FUNC "(" args ")" | "(" e ")" | "{" e "}"."""

    def __init__(self, tokens: list[str], names: dict[str, Fraction]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.names = names

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise FormulaError(f"expected {expected or 'more'} in formula, found {token!r}")
        self.pos += 1
        return token

    def expression(self) -> Fraction:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> Fraction:
        value = self.unary()
        while self.peek() in ("*", "/"):
            op = self.take()
            right = self.unary()
            if op == "/" and right == 0:
                raise FormulaError("division by zero in formula")
            value = value * right if op == "*" else value / right
        return value

    def unary(self) -> Fraction:
        if self.peek() == "-":
            self.take()
            return -self.unary()
        return self.primary()

    def primary(self) -> Fraction:
        token = self.take()
        if token in ("(", "{"):
            value = self.expression()
            self.take(")" if token == "(" else "}")
            return value
        if token[0].isdigit():
            return Fraction(token)
        if token.upper() in _FUNCTIONS and self.peek() == "(":
            self.take("(")
            args = [self.expression()]
            while self.peek() == ",":
                self.take()
                args.append(self.expression())
            self.take(")")
            return _FUNCTIONS[token.upper()](args)
        if token.lower() in self.names:
            return self.names[token.lower()]
        raise FormulaError(f"unknown name {token!r} in formula")
