"""The layering, read from the source: shared mechanisms below, providers above them, the CLI, the testing
helpers and the examples on top; no private module imported from another package."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src"
PACKAGE = SRC / "pms_connect"
PROVIDERS = ("pms_connect.sikka", "pms_connect.opendental")
# What may import a provider: the command line, the testing helpers (they re-export each provider's
# sandbox) and the providers themselves.
ABOVE_PROVIDERS = ("pms_connect.testing", *PROVIDERS)


def _above_providers(module: str) -> bool:
    cli = module.rpartition(".")[2].lstrip("_").startswith("cli") and module.count(".") == 1
    return cli or _within(module, ABOVE_PROVIDERS)


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def _sources(root: Path, under: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(under.rglob("*.py")):
        yield _module_name(path, root), path


def _exists(module: str) -> bool:
    base = SRC.joinpath(*module.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every pms_connect module ``path`` imports (at any depth: in functions and TYPE_CHECKING blocks too)."""
    package = name if _is_package(path) else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                origin = ".".join([*base, node.module] if node.module else base)
            else:
                origin = node.module or ""
            yield origin, node.lineno
            for alias in node.names:  # ``from pms_connect.sikka import _wire``: a module, not a name
                if _exists(f"{origin}.{alias.name}"):
                    yield f"{origin}.{alias.name}", node.lineno


def _within(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def _private_owner(module: str) -> str | None:
    """The package whose private module ``module`` is (``a.b._c`` or ``a.b._c.d`` -> ``a.b``), if any."""
    parts = module.split(".")
    for index, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:index])
    return None


def _graph(under: Path, root: Path) -> list[tuple[str, str, int]]:
    edges = []
    for name, path in _sources(root, under):
        for target, line in _imports(name, path):
            if target == "pms_connect" or target.startswith("pms_connect."):
                edges.append((name, target, line))
    return edges


def _package_of(module: str, path_is_package: bool) -> str:
    return module if path_is_package else module.rpartition(".")[0]


def test_shared_code_imports_no_provider() -> None:
    wrong = [
        f"{source}:{line} imports {target}"
        for source, target, line in _graph(PACKAGE, SRC)
        if _within(target, PROVIDERS) and not _above_providers(source)
    ]
    assert not wrong, "shared modules must not import a provider:\n" + "\n".join(wrong)


def test_no_provider_imports_another_provider() -> None:
    wrong = [
        f"{source}:{line} imports {target}"
        for source, target, line in _graph(PACKAGE, SRC)
        for provider in PROVIDERS
        if _within(source, (provider,)) and _within(target, PROVIDERS) and not _within(target, (provider,))
    ]
    assert not wrong, "\n".join(wrong)


def _private_crossings(under: Path, root: Path) -> list[str]:
    crossings = []
    for name, path in _sources(root, under):
        here = _package_of(name, _is_package(path))
        for target, line in _imports(name, path):
            if not target.startswith("pms_connect"):
                continue
            owner = _private_owner(target)
            # A private module is its own package's: imported from that package itself, or from inside it.
            if owner is not None and here != owner and not _within(here, (target,)):
                crossings.append(f"{name}:{line} imports {target}")
    return crossings


def test_no_private_module_is_imported_from_another_package() -> None:
    crossings = _private_crossings(PACKAGE, SRC)
    assert not crossings, "private modules imported across packages:\n" + "\n".join(crossings)


def test_the_examples_use_public_modules_only() -> None:
    crossings = []
    for path in sorted((ROOT / "examples").rglob("*.py")):
        for target, line in _imports(_module_name(path, ROOT), path):
            if target.startswith("pms_connect") and _private_owner(target) is not None:
                crossings.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not crossings, "\n".join(crossings)


@pytest.mark.parametrize(
    ("importer", "target", "crosses"),
    [
        ("pms_connect.sikka.provider", "pms_connect.sikka._wire", False),
        ("pms_connect.sikka.sandbox.server", "pms_connect.sikka._wire", True),
        ("pms_connect.booking", "pms_connect.stores._memory", True),
        ("pms_connect.stores", "pms_connect.stores._memory", False),
        ("pms_connect.stores._redis", "pms_connect.stores._budget", False),
    ],
)
def test_the_private_rule_itself(importer: str, target: str, crosses: bool) -> None:
    here = importer.rpartition(".")[0] if importer != "pms_connect.stores" else importer
    owner = _private_owner(target)
    assert owner is not None
    assert (here != owner and not _within(here, (target,))) is crosses
