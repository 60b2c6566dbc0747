"""The example notebook runs, offline against the embedded sandbox, and its saved outputs are a real run's.

The notebook is executed in a fresh ipykernel of this interpreter (``sys.executable``, never a kernel spec
found on the machine, which may name another Python) with every ``PMS_CONNECT_SIKKA_*`` variable removed,
so it takes the sandbox branch. Without nbclient or ipykernel (the ``dev`` extra) the test fails: it never
skips.

After a change that alters what the notebook prints, refresh its saved outputs (the docs show them) with::

    .venv/bin/python tests/test_notebooks.py
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from traitlets import default

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "notebooks" / "connection_test.ipynb"
ENV_PREFIX = "PMS_CONNECT_SIKKA_"
# What differs from run to run: the time a check took.
VOLATILE = re.compile(r"\d+(?:\.\d+)? ms\b")


def _environment(scratch: Path) -> dict[str, str]:
    """This process's environment without Sikka credentials, with IPython's and Jupyter's files in ``scratch``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX)}
    env.update(
        IPYTHONDIR=str(scratch / "ipython"),
        JUPYTER_RUNTIME_DIR=str(scratch / "runtime"),
        JUPYTER_PLATFORM_DIRS="1",
        PYDEVD_DISABLE_FILE_VALIDATION="1",
    )
    return env


class _ThisInterpreter(AsyncKernelManager):
    """A kernel manager that finds no kernel directories: the one kernel it knows is ipykernel's own
    ("python3"), run by ``sys.executable``. Without ipykernel it knows none, and starting one fails."""

    @default("kernel_spec_manager")
    def _native_kernel_only(self) -> KernelSpecManager:
        return KernelSpecManager(kernel_dirs=[])


def execute(scratch: Path) -> Any:
    """The notebook executed in a new kernel of this interpreter, cwd ``scratch``; raises on a failed cell.
    nbclient owns the kernel: it shuts it down (and removes its connection file) before returning."""
    scratch.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        kernel_manager_class=_ThisInterpreter,
        timeout=60,
        startup_timeout=60,
        record_timing=False,
        resources={"metadata": {"path": str(scratch)}},
    )
    client.execute(env=_environment(scratch))
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = _coalesced(cell.outputs)
    return notebook


def _coalesced(outputs: list[Any]) -> list[Any]:
    """Consecutive writes to one stream as one output: how a run's prints are chunked varies with timing."""
    merged: list[Any] = []
    for output in outputs:
        last = merged[-1] if merged else None
        if (
            last is not None
            and output["output_type"] == last["output_type"] == "stream"
            and output["name"] == last["name"]
        ):
            last["text"] += output["text"]
        else:
            merged.append(output)
    return merged


def text_of(cell: Any) -> str:
    """Everything a code cell showed: its streams, results and errors."""
    parts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            parts.append(output["text"])
        elif output["output_type"] in ("execute_result", "display_data"):
            parts.append(output["data"].get("text/plain", ""))
        elif output["output_type"] == "error":
            parts.append(f"{output['ename']}: {output['evalue']}")
    return "".join(parts)


def _comparable(notebook: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = copy.deepcopy(cell.get("outputs", []))
        for output in outputs:
            if "text" in output:
                output["text"] = VOLATILE.sub("N ms", output["text"])
        cells.append((cell.source, outputs))
    return cells


def test_the_notebook_runs_offline_against_the_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Were the variables passed on, the notebook would try Sikka with this half-set configuration and fail.
    monkeypatch.setenv(ENV_PREFIX + "APP_ID", "not-a-real-app")
    notebook = execute(tmp_path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for cell in code:
        assert not [o for o in cell.outputs if o["output_type"] == "error"], cell.source
        assert not [o for o in cell.outputs if o.get("name") == "stderr"], (cell.source, text_of(cell))
    shown = [text_of(cell) for cell in code]
    everything = "".join(shown)

    def output_of(snippet: str) -> str:
        return next(text for cell, text in zip(code, shown, strict=True) if snippet in cell.source)

    assert "target: the embedded sandbox" in output_of("USE_SANDBOX = ")
    assert re.search(r"^ok=True in \d", output_of("await pms.test_connection()"), flags=re.M)
    assert "practice: Maplewood Family Dental (Dentrix)" in output_of("await pms.test_connection()")
    assert "read_appointments" in output_of("await pms.get_features()")
    assert "dentist" in output_of("pms.providers.list(")
    count = re.search(r"^(\d+) appointments from ", output_of("pms.appointments.list("), flags=re.M)
    assert count is not None
    assert int(count.group(1)) > 0
    slots = re.findall(r"\w{3} \w{3} \d\d \d\d:\d\d-\d\d:\d\d", output_of("pms.appointments.find_slots("))
    assert slots
    assert "RuntimeError: asyncio.run() cannot be called from a running event loop" in output_of("asyncio.run(")
    blocking = output_of("connect(make_provider())")
    assert "ok=True: Maplewood Family Dental" in blocking
    assert re.search(r"^[1-9]\d* appointments this week", blocking, flags=re.M)
    assert re.search(
        r"^first open 30-minute slot with a dentist: \w{3} \w{3} \d\d \d\d:\d\d$", blocking, flags=re.M
    )
    assert "Traceback" not in everything

    # The saved outputs (what the docs show) are this run's, but for the time the check took.
    saved = nbformat.read(NOTEBOOK, as_version=4)
    assert _comparable(saved) == _comparable(notebook), (
        "the notebook's saved outputs are stale: run `.venv/bin/python tests/test_notebooks.py`"
    )


def test_the_saved_notebook_is_clean() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert [cell.execution_count for cell in code] == list(range(1, len(code) + 1))  # one run, top to bottom
    silent = [cell.source for cell in code if not cell.outputs]
    assert silent == ["await pms.aclose()"], "every cell that prints has its saved output"
    for cell in code:
        assert "execution" not in cell.metadata  # no timestamps in the repository


if __name__ == "__main__":  # refresh the saved outputs from a real run
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        nbformat.write(execute(Path(scratch)), NOTEBOOK)
    print(f"wrote {NOTEBOOK.relative_to(ROOT)}")
