"""CloudWatch Logs filter patterns: the examples of CloudWatch's documentation and the edges around them."""

from __future__ import annotations

import json

import pytest

from kura.services.logs.patterns import PatternError, compile_pattern

EVENTS = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 401] UNAUTHORIZED REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[ERROR 420] INVALID ARGUMENTS",
    "2026-01-02 03:04:05 UTC:127.0.0.1(5432):app@db:[42]:FATAL:  password authentication failed for user "
    "\"app\"",
    "ERRORS are not ERROR-free",
]


def matched(pattern: str, events: list[str] = EVENTS) -> list[int]:
    test = compile_pattern(pattern)
    return [i for i, e in enumerate(events) if test(e)]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("", [0, 1, 2, 3, 4, 5]),
    ('""', [0, 1, 2, 3, 4, 5]),
    ("   ", [0, 1, 2, 3, 4, 5]),
    ("ERROR", [0, 1, 2, 3, 5]),  # "ERROR-free" has ERROR as a word; "ERRORS" alone would not
    ("ERROR ARGUMENTS", [2, 3]),
    ("?ARGUMENTS ?UNAUTHORIZED", [1, 2, 3]),
    ("ERROR -ARGUMENTS", [0, 1, 5]),
    ('"BAD REQUEST"', [0]),
    ('"INVALID ARGUMENTS" -MISSING', [3]),
    ("FATAL", [4]),
    ('"password authentication failed"', [4]),
    ('FATAL ?app ?nobody', [4]),
    ("ERR", []),  # terms are whole words
    ("error", []),  # and case-sensitive
    ("%ERROR 4[01]9%", [2]),
    ("%^\\[ERROR 40%", [0, 1]),
])
def test_terms(pattern: str, expected: list[int]) -> None:
    assert matched(pattern) == expected


def test_whole_words_only() -> None:
    assert matched("ERROR", ["ERRORS", "xERROR", "ERROR_1", "(ERROR)", "ERROR"]) == [3, 4]
    assert matched('"ERROR:"', ["ERROR: x", "ERROR x"]) == [0]  # non-word characters match as they are


DOCS = [
    {"eventType": "UpdateTrail", "sourceIPAddress": "123.123.1.1", "latency": 1500, "error": True,
     "user": {"id": 1, "name": "admin"}, "users": [{"email": "a@example.com"}, {"email": "b@example.com"}],
     "note": None},
    {"eventType": "CreateTrail", "sourceIPAddress": "10.0.0.1", "latency": 20, "error": False,
     "user": {"id": 2, "name": "bob"}, "users": []},
]


@pytest.mark.parametrize(("pattern", "expected"), [
    ('{ $.eventType = "UpdateTrail" }', [0]),
    ("{ $.eventType = UpdateTrail }", [0]),
    ("{ $.eventType = *Trail }", [0, 1]),
    ("{ $.sourceIPAddress != 123.123.* }", [1]),
    ("{ $.latency > 1000 }", [0]),
    ("{ $.latency <= 20 }", [1]),
    ("{ $.latency = 1.5e3 }", [0]),
    ("{ $.error IS TRUE }", [0]),
    ("{ $.error IS FALSE }", [1]),
    ("{ $.note IS NULL }", [0]),
    ("{ $.note NOT EXISTS }", [1]),
    ("{ $.user.id = 1 && $.user.name = admin }", [0]),
    ("{ ($.user.id = 2) || ($.latency > 1000) }", [0, 1]),
    ("{ $.latency > 10 && ($.user.name = bob || $.error IS TRUE) }", [0, 1]),
    ('{ $.users[1].email = "b@example.com" }', [0]),
    ("{ $.users[*].email = a@* }", [0]),
    ("{ $.eventType = %^Upd% }", [0]),
    ("{ $.missing = 1 }", []),
])
def test_json(pattern: str, expected: list[int]) -> None:
    assert matched(pattern, [json.dumps(d) for d in DOCS]) == expected


def test_json_pattern_skips_text_events() -> None:
    assert matched("{ $.level = ERROR }", ["level = ERROR", '{"level": "ERROR"}']) == [1]


LINES = [
    '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 200 1534',
    '127.0.0.1 - frank [10/Oct/2000:13:35:22 -0700] "GET /apache_pb.gif HTTP/1.0" 500 5124',
    '127.0.0.2 - bob [10/Oct/2000:13:50:35 -0700] "GET /index.html HTTP/1.0" 404 128',
]


@pytest.mark.parametrize(("pattern", "expected"), [
    ("[ip, user, username, timestamp, request, status_code, bytes]", [0, 1, 2]),
    ("[ip, user, username, timestamp, request, status_code=5*, bytes]", [1]),
    ("[ip, user, username=frank, ...]", [0, 1]),
    ("[..., status_code=4* || status_code=5*, bytes]", [1, 2]),
    ("[ip=127.0.0.1, ..., bytes > 2000]", [1]),
    ("[ip, user, username, timestamp, request, status_code]", []),  # one field too few
])
def test_space_delimited(pattern: str, expected: list[int]) -> None:
    assert matched(pattern, LINES) == expected


@pytest.mark.parametrize("pattern", [
    "{ $.latency > 1000", "{ latency > 1000 }", "{ $.a = }", "{ $.a IS MAYBE }", "{ $.a = 1 && }",
    "{ $.name > abc }", "[ip, user", "[a, b=, c]", "%(unclosed%",
])
def test_malformed_patterns_are_refused(pattern: str) -> None:
    with pytest.raises(PatternError):
        compile_pattern(pattern)
