from pathlib import Path

from kura import docs

README = Path(__file__).resolve().parents[2] / "README.md"


def test_operations_table_matches_the_code() -> None:
    text = README.read_text()
    assert docs.rewrite(text) == text, "README's operations table is stale: run `python -m kura.docs`"


def test_readme_shows_the_two_commands_and_env() -> None:
    text = README.read_text()
    for needle in ("make up", "make test", 'eval "$(.venv/bin/kura env)"', "aws rds create-db-instance"):
        assert needle in text
