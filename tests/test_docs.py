"""Every Python block in the README and the docs runs as written (blocks of a page share one namespace).

Blocks that need a real Sikka account (placeholders such as ``app_id="..."``) and fragments that use ``await``
at the top level (they continue an example above them) are only compiled.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest

from pms_connect.vault import CredentialVault

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
BLOCK = re.compile(r"```python\n(.*?)```", flags=re.DOTALL)
NEEDS_AN_ACCOUNT = re.compile(r'=\s*"\.\.\."')


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(
        "PMS_CONNECT_VAULT_KEYS", f"k2:{CredentialVault.generate_key()},k1:{CredentialVault.generate_key()}"
    )
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for source in blocks(page):
        code = compile(source, str(page), "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        if NEEDS_AN_ACCOUNT.search(source) or code.co_flags & inspect.CO_COROUTINE:
            continue  # compiled: it needs real credentials, or it is a fragment of an async example
        exec(code, namespace)  # noqa: S102 - our own docs


def test_every_page_with_code_is_covered() -> None:
    assert any(p.name == "README.md" for p in PAGES)
    assert sum(len(blocks(p)) for p in PAGES) >= 10
