"""Where the Open Dental sandbox lives and what it may import.

It is the provider's own (``pms_connect.opendental.sandbox``), importable from ``pms_connect.testing``, loaded only
when asked for, built without the provider's private modules, and none of its classes or constants takes a
name the SDK already gives to something else.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pms_connect
import pms_connect.opendental.sandbox
import pms_connect.testing

SRC = Path(pms_connect.__file__).resolve().parent
SANDBOX = SRC / "opendental" / "sandbox"


def modules() -> list[Path]:
    found = sorted(SANDBOX.glob("*.py"))
    assert len(found) >= 10
    return found


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_testing_package_hands_out_the_sandbox() -> None:
    from pms_connect.testing import OpenDentalSandbox

    assert OpenDentalSandbox is pms_connect.opendental.sandbox.OpenDentalSandbox
    assert "OpenDentalSandbox" in pms_connect.testing.__all__


def test_importing_the_provider_does_not_import_its_sandbox() -> None:
    probe = (
        "import sys, pms_connect.opendental, pms_connect.testing; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn') "
        "or m.startswith('pms_connect.opendental.sandbox')))"
    )
    loaded = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_without_the_extra_the_import_says_how_to_get_it() -> None:
    probe = (
        "import sys; sys.modules['starlette'] = None\n"
        "try:\n    from pms_connect.testing import OpenDentalSandbox\n"
        "except ImportError as exc:\n    print(exc)\n"
    )
    said = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert said.startswith("OpenDentalSandbox needs the sandbox extra (starlette")
    assert "pip install 'pms-connect[sandbox]'" in said


def test_the_sandbox_imports_no_private_module_of_the_sdk() -> None:
    private = {
        f"{path.name}: {name}"
        for path in modules()
        for name in imported(path)
        if name.startswith("pms_connect.")
        and not name.startswith("pms_connect.opendental.sandbox.")
        and any(part.startswith("_") for part in name.split("."))
    }
    assert not private


def defined(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return names


def public_names() -> set[str]:
    """Every name in every ``__all__`` of the SDK outside this sandbox, and the public classes of its models."""
    names: set[str] = set()
    for path in SRC.rglob("*.py"):
        if SANDBOX in path.parents:
            continue
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and any(
                isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
            ):
                names.update(ast.literal_eval(node.value))
            elif path.name == "models.py" and isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                names.add(node.name)
    return names


def test_no_sandbox_class_takes_a_public_name_of_the_sdk() -> None:
    public = public_names()
    assert {"Patient", "Provider", "Appointment"} <= public
    own = set(pms_connect.opendental.sandbox.__all__)
    clashes = [
        f"{path.name}: {name}"
        for path in modules()
        for name in defined(path)
        if name in public and name not in own
    ]
    assert not clashes
