"""CloudWatch Logs filter patterns (FilterLogEvents, and what `aws logs tail --filter-pattern` sends).

Four forms, as CloudWatch documents them:
- terms: `ERROR Exception` (all), `?ERROR ?WARN` (any), `-DEBUG` (none), `"exact phrase"`; a term
  matches as a whole word (case-sensitive), so `ERR` does not match `ERROR`;
- regular expressions between percent signs: `%time(out|d out)%`;
- JSON: `{ $.level = "ERROR" && ($.latency > 1000 || $.user.name = ad*) }`, with `=`/`!=` on strings
  (`*` a wildcard), numeric comparisons, `IS TRUE|FALSE|NULL`, `NOT EXISTS`, array indexes;
- space-delimited: `[ip, user, ..., status=4*, size > 1000]`, one name per space-separated field
  (quoted and bracketed fields count as one), `...` standing for any number of fields.
An empty or blank pattern matches every event. A malformed one is an InvalidParameterException.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

Matcher = Callable[[str], bool]


class PatternError(ValueError):
    pass


def compile_pattern(pattern: str | None) -> Matcher:
    text = (pattern or "").strip()
    if not text or text == '""':
        return lambda message: True
    if text.startswith("{"):
        if not text.endswith("}"):
            raise PatternError("Invalid JSON filter pattern: missing '}'")
        return _json_matcher(text[1:-1])
    if text.startswith("["):
        if not text.endswith("]"):
            raise PatternError("Invalid space-delimited filter pattern: missing ']'")
        return _delimited_matcher(text[1:-1])
    return _terms_matcher(text)


# -- terms -----------------------------------------------------------------------------------------
_TERM = re.compile(r'([?-]?)(?:"((?:[^"\\]|\\.)*)"|(%[^%]+%)|(\S+))')


def _regex(body: str) -> re.Pattern[str]:
    try:
        return re.compile(body)
    except re.error as exc:
        raise PatternError(f"Invalid regular expression %{body}%: {exc}") from exc


def _word(term: str) -> Matcher:
    """A whole-word, case-sensitive match: no letter, digit or underscore right before or after."""
    left = r"(?<![A-Za-z0-9_])" if re.match(r"\w", term[:1]) else ""
    right = r"(?![A-Za-z0-9_])" if re.match(r"\w", term[-1:]) else ""
    rx = re.compile(left + re.escape(term) + right)
    return lambda message: rx.search(message) is not None


def _term(match: re.Match[str]) -> Matcher:
    quoted, regex, bare = match.group(2), match.group(3), match.group(4)
    if regex is not None:
        rx = _regex(regex[1:-1])
        return lambda message: rx.search(message) is not None
    text = bytes(quoted, "utf-8").decode("unicode_escape") if quoted is not None else bare
    if not text.strip():
        return lambda message: True
    return _word(text)


def _terms_matcher(text: str) -> Matcher:
    required: list[Matcher] = []
    optional: list[Matcher] = []
    excluded: list[Matcher] = []
    pos = 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        match = _TERM.match(text, pos)
        if match is None:
            raise PatternError(f"Invalid filter pattern near: {text[pos:pos + 20]}")
        {"": required, "?": optional, "-": excluded}[match.group(1)].append(_term(match))
        pos = match.end()

    def matches(message: str) -> bool:
        return (all(m(message) for m in required) and (not optional or any(m(message) for m in optional))
                and not any(m(message) for m in excluded))

    return matches


# -- values shared by JSON and space-delimited patterns ------------------------------------------
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")
_MISSING = object()


def _wildcard(value: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in value.split("*")) + "$", re.DOTALL)


def _comparison(op: str, raw: str) -> Callable[[Any], bool]:
    """A test of one value against `op raw` (raw: a number, a "string", a bare word or %regex%)."""
    if raw.startswith("%") and raw.endswith("%") and len(raw) > 2:
        rx = _regex(raw[1:-1])
        if op not in ("=", "!="):
            raise PatternError(f"Invalid operator {op} for a regular expression")
        return lambda v: isinstance(v, str) and (rx.search(v) is not None) == (op == "=")
    quoted = raw.startswith('"') and raw.endswith('"') and len(raw) >= 2
    if not quoted and _NUMBER.match(raw):
        number = float(raw)
        ops: dict[str, Callable[[float], bool]] = {
            "=": lambda v: v == number, "!=": lambda v: v != number, "<": lambda v: v < number,
            "<=": lambda v: v <= number, ">": lambda v: v > number, ">=": lambda v: v >= number}
        test = ops[op]
        return lambda v: _as_number(v) is not None and test(_as_number(v) or 0.0)
    if op not in ("=", "!="):
        raise PatternError(f"Invalid operator {op} for a string value")
    rx = _wildcard(raw[1:-1] if quoted else raw)
    return lambda v: isinstance(v, str) and (rx.match(v) is not None) == (op == "=")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value):  # delimited fields are text
        return float(value)
    return None


# -- JSON --------------------------------------------------------------------------------------------
_TOKEN = re.compile(r"""\s*(?:(&&|\|\||\(|\)|!=|<=|>=|=|<|>)|("(?:[^"\\]|\\.)*")|(%[^%]+%)
                      |([^\s()&|=!<>]+))""", re.VERBOSE)


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens: list[str] = []
        pos = 0
        while pos < len(text):
            if text[pos:].strip() == "":
                break
            match = _TOKEN.match(text, pos)
            if match is None or match.end() == pos:
                raise PatternError(f"Invalid JSON filter pattern near: {text[pos:pos + 20]}")
            self.tokens.append(next(g for g in match.groups() if g is not None))
            pos = match.end()
        self.i = 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise PatternError("Invalid JSON filter pattern: unexpected end")
        self.i += 1
        return token

    def expr(self) -> Callable[[Any], bool]:
        parts = [self.conj()]
        while self.peek() == "||":
            self.take()
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else (lambda doc: any(p(doc) for p in parts))

    def conj(self) -> Callable[[Any], bool]:
        parts = [self.primary()]
        while self.peek() == "&&":
            self.take()
            parts.append(self.primary())
        return parts[0] if len(parts) == 1 else (lambda doc: all(p(doc) for p in parts))

    def primary(self) -> Callable[[Any], bool]:
        if self.peek() == "(":
            self.take()
            inner = self.expr()
            if self.take() != ")":
                raise PatternError("Invalid JSON filter pattern: missing ')'")
            return inner
        path = _selector(self.take())
        op = self.take()
        if op.upper() == "IS":
            what = self.take().upper()
            expected: dict[str, Any] = {"TRUE": True, "FALSE": False, "NULL": None}
            if what not in expected:
                raise PatternError(f"Invalid JSON filter pattern: IS {what}")
            return lambda doc: any(v is expected[what] for v in _resolve(doc, path))
        if op.upper() == "NOT":
            if self.take().upper() != "EXISTS":
                raise PatternError("Invalid JSON filter pattern: expected NOT EXISTS")
            return lambda doc: not _resolve(doc, path)
        if op not in ("=", "!=", "<", "<=", ">", ">="):
            raise PatternError(f"Invalid JSON filter pattern: unknown operator {op}")
        test = _comparison(op, self.take())
        return lambda doc: any(test(v) for v in _resolve(doc, path))


_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+|\*)\]")


def _selector(token: str) -> list[str | int]:
    if not token.startswith("$"):
        raise PatternError(f"Invalid JSON selector {token}: selectors start with $")
    steps: list[str | int] = []
    pos = 1
    while pos < len(token):
        match = _STEP.match(token, pos)
        if match is None:
            raise PatternError(f"Invalid JSON selector {token}")
        name, index = match.groups()
        steps.append(name if name is not None else (-1 if index == "*" else int(index)))
        pos = match.end()
    return steps


def _resolve(doc: Any, path: list[str | int]) -> list[Any]:
    """Every value the selector reaches ([*] or .* fan out); empty when it reaches none."""
    current = [doc]
    for step in path:
        following: list[Any] = []
        for value in current:
            if step == "*" and isinstance(value, dict):
                following += list(value.values())
            elif isinstance(step, str) and isinstance(value, dict) and step in value:
                following.append(value[step])
            elif step == -1 and isinstance(value, list):
                following += value
            elif isinstance(step, int) and step >= 0 and isinstance(value, list) and step < len(value):
                following.append(value[step])
        current = following
    return current


def _json_matcher(body: str) -> Matcher:
    parser = _Parser(body)
    test = parser.expr()
    if parser.peek() is not None:
        raise PatternError(f"Invalid JSON filter pattern near: {parser.peek()}")

    def matches(message: str) -> bool:
        try:
            doc = json.loads(message)
        except ValueError:
            return False
        return isinstance(doc, dict | list) and test(doc)

    return matches


# -- space-delimited ---------------------------------------------------------------------------
_FIELD = re.compile(r'"[^"]*"|\[[^\]]*\]|\S+')
_CONDITION = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(!=|<=|>=|=|<|>)\s*(.+?)\s*$")


def _field_test(spec: str) -> tuple[bool, Callable[[str], bool]]:
    """(is_ellipsis, test) for one comma-separated field of a `[...]` pattern."""
    spec = spec.strip()
    if spec == "...":
        return True, lambda v: True
    alternatives = []
    for alt in spec.split("||"):
        parts = []
        for cond in alt.split("&&"):
            match = _CONDITION.match(cond)
            if match is None:
                if not re.match(r"^\s*[A-Za-z_][\w-]*\s*$", cond):
                    raise PatternError(f"Invalid space-delimited field: {cond.strip()}")
                continue
            parts.append(_comparison(match.group(2), match.group(3)))
        alternatives.append(parts)
    return False, lambda v: any(all(p(v) for p in alt) for alt in alternatives)


def _delimited_matcher(body: str) -> Matcher:
    fields = [_field_test(spec) for spec in body.split(",")] if body.strip() else []

    def fit(values: list[str], i: int, j: int) -> bool:
        if i == len(fields):
            return j == len(values)
        ellipsis, test = fields[i]
        if ellipsis:
            return any(fit(values, i + 1, k) for k in range(j, len(values) + 1))
        return j < len(values) and test(values[j]) and fit(values, i + 1, j + 1)

    def matches(message: str) -> bool:
        values = [v[1:-1] if v[:1] in '"[' and len(v) > 1 else v for v in _FIELD.findall(message)]
        return fit(values, 0, 0)

    return matches
