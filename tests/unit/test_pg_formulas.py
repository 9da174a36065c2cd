"""RDS parameter formulas (pure)."""

from __future__ import annotations

import pytest

from kura.engines.postgres.formulas import FormulaError, is_formula, resolve_formula

GIB = 1024**3


@pytest.mark.parametrize(("expr", "memory", "expected"), [
    ("{DBInstanceClassMemory/32768}", 4 * GIB, "131072"),  # 1 GiB of 8 kB pages
    ("{DBInstanceClassMemory/16384}", 4 * GIB, "262144"),
    ("LEAST({DBInstanceClassMemory/9531392},5000)", 4 * GIB, "450"),
    ("LEAST({DBInstanceClassMemory/9531392},5000)", 256 * GIB, "5000"),
    ("GREATEST({DBInstanceClassMemory*1024/63963136},65536)", 1 * GIB, "65536"),
    ("GREATEST({DBInstanceClassMemory*1024/63963136},65536)", 16 * GIB, "275036"),
    ("SUM({DBInstanceClassMemory/12038},-50003)", 1 * GIB, "39193"),
    ("{DBInstanceClassMemory*3/4}", 1000, "750"),
    ("{(DBInstanceClassMemory - 1000) / 3}", 4000, "1000"),
    ("least({dbinstanceclassmemory/2}, 7)", 100, "7"),
])
def test_resolves_rds_formulas(expr: str, memory: int, expected: str) -> None:
    assert resolve_formula(expr, memory) == expected


def test_other_variables_and_dollar_braces() -> None:
    assert resolve_formula("GREATEST(${DBInstanceVCPU*2},8)", GIB, {"DBInstanceVCPU": 16}) == "32"
    assert resolve_formula("GREATEST(${DBInstanceVCPU*2},8)", GIB, {"DBInstanceVCPU": 2}) == "8"


@pytest.mark.parametrize("value", ["pg_stat_statements", "0.05", "128MB", "", "%t:%r:%u@%d:[%p]:"])
def test_plain_values_pass_through(value: str) -> None:
    assert not is_formula(value)
    assert resolve_formula(value, GIB) == value


@pytest.mark.parametrize("expr", ["{DBInstanceClassMemory/0}", "{Nope/2}", "{DBInstanceClassMemory/2",
                                  "LEAST({DBInstanceClassMemory},)", "{DBInstanceClassMemory ^ 2}",
                                  "{DBInstanceClassMemory/2} 7"])
def test_bad_formulas_raise(expr: str) -> None:
    with pytest.raises(FormulaError):
        resolve_formula(expr, GIB)
