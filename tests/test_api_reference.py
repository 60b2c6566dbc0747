"""The API reference documents the whole public surface, and no docstring shows a raw Sphinx role.

The site is built once (``mkdocs build --strict``, about 15 s) into a temporary directory, by one test (so that
pytest-xdist never builds it twice); every check then reads the built HTML.

A public name is every name in the ``__all__`` of a public module (one whose dotted path has no part starting
with an underscore, and which is not one of a sandbox's own modules: ``pms_connect.sikka.sandbox`` is public,
``pms_connect.sikka.sandbox.seed`` is how it works), and it has an entry when a built API page carries its
anchor, e.g. ``id="pms_connect.models.Writeback"``. A name re-exported from another public module that lists it
too (say ``pms_connect.Writeback``) may have its one entry there (``pms_connect.models.Writeback``), and the
``pms_connect`` page must then link to it. A class's entry must also hold an entry for each public member the
class itself defines: methods, properties, pydantic fields, dataclass fields, enum members. The resources
behind ``SikkaProvider`` (``pms.appointments``, ...) are checked the same way, though their module is private.
"""

from __future__ import annotations

import importlib
import inspect
import os
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import GenericAlias, ModuleType

import pytest

import pms_connect
from pms_connect.protocol import PmsProvider

ROOT = Path(__file__).resolve().parents[1]

# The modules the reference must cover; any other public module found in the package is covered too.
LISTED = [
    "pms_connect",
    "pms_connect.models",
    "pms_connect.protocol",
    "pms_connect.errors",
    "pms_connect.pagination",
    "pms_connect.http",
    "pms_connect.ratelimit",
    "pms_connect.tokens",
    "pms_connect.blocking",
    "pms_connect.writeback",
    "pms_connect.stores",
    "pms_connect.booking",
    "pms_connect.validation",
    "pms_connect.scheduling",
    "pms_connect.matching",
    "pms_connect.vault",
    "pms_connect.testing",
    "pms_connect.sikka",
    "pms_connect.sikka.sandbox",
    "pms_connect.opendental.sandbox",
]
# Documented elsewhere: the command line has its own guide (docs/guides/sandbox.md).
NOT_API = {"pms_connect.cli"}
# Packages whose modules are their implementation: the package's own __all__ is the surface (a sandbox's app,
# endpoints and seed model a server; applications only construct and drive the sandbox).
IMPLEMENTATION_INSIDE = ("pms_connect.sikka.sandbox", "pms_connect.opendental.sandbox")
# Private modules whose public classes are part of the surface all the same: what SikkaProvider's resource
# attributes are.
PRIVATE_BUT_DOCUMENTED = ["pms_connect.sikka._resources"]

SPHINX_ROLE = re.compile(r":(?:class|meth|func|mod|attr|exc|data|obj|const):(?:<code>|`)")
ANCHOR = re.compile(r'\sid="(pms_connect[\w.]*)"')


def public_modules() -> dict[str, ModuleType]:
    names = set(LISTED)
    for info in pkgutil.walk_packages(pms_connect.__path__, "pms_connect."):
        if any(part.startswith("_") for part in info.name.split(".")) or info.name in NOT_API:
            continue
        if not info.name.startswith(tuple(f"{package}." for package in IMPLEMENTATION_INSIDE)):
            names.add(info.name)
    return {name: importlib.import_module(name) for name in sorted(names)}


def exported(module: ModuleType) -> list[str]:
    names = getattr(module, "__all__", None)
    assert names is not None, f"{module.__name__} is public but has no __all__"
    return list(names)


def is_class(value: object) -> bool:
    """A real class: on Python 3.10, ``inspect.isclass(tuple[int, int])`` is true for an alias like ``Block``."""
    return inspect.isclass(value) and not isinstance(value, GenericAlias)


def defined_classes(module: ModuleType) -> list[str]:
    """The public classes a module without ``__all__`` defines itself."""
    return [
        name
        for name, value in vars(module).items()
        if is_class(value) and value.__module__ == module.__name__ and not name.startswith("_")
    ]


def own_members(cls: type) -> list[str]:
    """The public members a class defines itself (not inherited): what its entry must show."""
    names = [*inspect.get_annotations(cls), *vars(cls)]
    pydantic = any(base.__module__.startswith("pydantic") for base in cls.__mro__[1:])
    members: list[str] = []
    for name in names:
        if name.startswith("_") or name in members:
            continue
        if pydantic and name.startswith("model_"):
            continue  # pydantic's own configuration, not a field
        members.append(name)
    return members


def build_site(out: Path) -> None:
    build = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        check=False,
    )
    assert build.returncode == 0, f"mkdocs build --strict failed:\n{build.stdout[-3000:]}\n{build.stderr[-6000:]}"


def api_anchors(site: Path) -> set[str]:
    pages = sorted((site / "api").rglob("*.html"))
    assert pages, "no API pages were built"
    return {anchor for page in pages for anchor in ANCHOR.findall(page.read_text(encoding="utf-8"))}


def missing_entries(anchors: set[str], modules: dict[str, ModuleType]) -> Iterator[str]:
    exports = {name: exported(module) for name, module in modules.items()}
    for module_name, module in modules.items():
        for name in exports[module_name]:
            value = getattr(module, name)
            homes = [
                other
                for other, names in exports.items()
                if name in names and (other == module_name or getattr(modules[other], name) is value)
            ]
            found = [f"{home}.{name}" for home in homes if f"{home}.{name}" in anchors]
            if not found:
                yield f"{module_name}.{name}"
            elif is_class(value):
                yield from missing_members(anchors, found[0], value)
    for module_name in PRIVATE_BUT_DOCUMENTED:
        module = importlib.import_module(module_name)
        for name in defined_classes(module):
            path = f"{module_name}.{name}"
            if path not in anchors:
                yield path
            else:
                yield from missing_members(anchors, path, getattr(module, name))


def missing_members(anchors: set[str], path: str, cls: type) -> Iterator[str]:
    for member in own_members(cls):
        if f"{path}.{member}" not in anchors:
            yield f"{path}.{member}"


def unreferenced(site: Path, modules: dict[str, ModuleType]) -> list[str]:
    anchors = api_anchors(site)
    missing = sorted(set(missing_entries(anchors, modules)))
    # The attributes a provider's users reach first: SikkaProvider.appointments, .patients, ...
    resources = [name for name, value in vars(PmsProvider).items() if isinstance(value, property)]
    assert len(resources) >= 8
    missing += [
        f"pms_connect.sikka.SikkaProvider.{name}"
        for name in resources
        if f"pms_connect.sikka.SikkaProvider.{name}" not in anchors
    ]
    return missing


def unlinked_re_exports(site: Path, modules: dict[str, ModuleType]) -> list[str]:
    page = (site / "api" / "pms_connect" / "index.html").read_text(encoding="utf-8")
    unlinked = []
    for name in exported(pms_connect):
        value = getattr(pms_connect, name)
        homes = [
            f"{other}.{name}"
            for other, module in modules.items()
            if name in exported(module) and getattr(module, name) is value
        ]
        if not any(
            f'id="{home}"' in page or re.search(rf'href="[^"]*#{re.escape(home)}"', page) for home in homes
        ):
            unlinked.append(f"pms_connect.{name}")
    return unlinked


def sphinx_roles(site: Path) -> list[str]:
    found = []
    for page in sorted(site.rglob("*.html")):
        text = page.read_text(encoding="utf-8")
        for match in SPHINX_ROLE.finditer(text):
            context = re.sub(r"<[^>]+>", "", text[max(0, match.start() - 60) : match.end() + 60])
            found.append(f"{page.relative_to(site)}: ...{' '.join(context.split())}...")
    return found


def test_the_api_reference_is_complete(tmp_path: Path) -> None:
    # One test, one build: under pytest-xdist, separate tests could each build the site on another worker.
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra is not installed")
    modules = public_modules()
    assert set(LISTED) <= set(modules)
    build_site(tmp_path)
    problems = {
        "public names without an entry in the API reference": unreferenced(tmp_path, modules),
        "re-exports that docs/api/pms_connect.md neither documents nor links": unlinked_re_exports(
            tmp_path, modules
        ),
        "literal Sphinx roles (write [Name][dotted.path] instead)": sphinx_roles(tmp_path),
    }
    report = [
        f"{title}:\n" + "\n".join(f"  {item}" for item in items) for title, items in problems.items() if items
    ]
    assert not report, "\n".join(report)
