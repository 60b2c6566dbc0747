"""Every Python block of docs/guides/slots-and-matching.md runs as it is."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "slots-and-matching.md"
BLOCKS = re.findall(r"```python\n(.*?)```", PAGE.read_text(encoding="utf-8"), flags=re.DOTALL)


def test_the_page_has_examples() -> None:
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_block_runs(source: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(source, str(PAGE), "exec"), {"__name__": "__docs__"})  # noqa: S102 - our own docs
    assert capsys.readouterr().out.strip(), "the example prints what it shows"
