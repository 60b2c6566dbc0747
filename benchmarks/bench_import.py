"""Benchmark: what ``import pms_connect.sikka`` costs against ``import httpx, pydantic``, in fresh interpreters.

    python benchmarks/bench_import.py [--repeat 15]

Each import runs in a new ``python`` process (nothing cached in ``sys.modules``), timed inside the process
around the import statement alone, alternating the two so that a busy machine slows both alike; the median
of ``--repeat`` runs is reported, with the modules an import loads that the baseline does not (the optional
ones: cryptography, sqlite3, redis must not be among them). Goal (issue 11): at most 1.5x.

Both sides import compiled bytecode, as an installed package does (pip compiles a wheel's modules when it
installs them): the probes share a private ``PYTHONPYCACHEPREFIX``, filled by one unmeasured import of each
first. Without it, where ``PYTHONDONTWRITEBYTECODE`` is set (as on this machine's shells), the SDK's modules
would be compiled from source at every run while httpx and pydantic load their installed bytecode.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

_PROBE = """
import json, sys, time
before = set(sys.modules)
started = time.perf_counter()
import {modules}
elapsed = time.perf_counter() - started
print(json.dumps({{"seconds": elapsed, "modules": sorted(set(sys.modules) - before)}}))
"""

SDK = "pms_connect.sikka"
BASELINE = "httpx, pydantic"
OPTIONAL = ("cryptography", "sqlite3", "redis", "fastapi", "rich")


def probe(modules: str, env: dict[str, str]) -> tuple[float, list[str]]:
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", _PROBE.format(modules=modules)], capture_output=True, text=True, check=True, env=env
    ).stdout
    data = json.loads(out)
    return float(data["seconds"]), list(data["modules"])


def main(repeat: int) -> None:
    sdk: list[float] = []
    base: list[float] = []
    loaded: list[str] = []
    baseline_loaded: list[str] = []
    with tempfile.TemporaryDirectory() as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        probe(SDK, env)  # compiles both sides' bytecode into the private cache: not measured
        probe(BASELINE, env)
        for _ in range(repeat):
            seconds, loaded = probe(SDK, env)
            sdk.append(seconds)
            seconds, baseline_loaded = probe(BASELINE, env)
            base.append(seconds)
    sdk_ms, base_ms = statistics.median(sdk) * 1000, statistics.median(base) * 1000
    extra = sorted({m.split(".")[0] for m in set(loaded) - set(baseline_loaded)})
    optional = [m for m in extra if m in OPTIONAL]
    print(f"median of {repeat} fresh interpreters; goal: at most 1.5x")
    print(f"import {SDK:<20}{sdk_ms:>8.0f} ms")
    print(f"import {BASELINE:<20}{base_ms:>8.0f} ms")
    print(f"ratio {sdk_ms / base_ms:.2f}x; top-level packages beyond the baseline: {', '.join(extra) or 'none'}")
    print(f"optional packages imported: {', '.join(optional) or 'none'}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=15)
    main(parser.parse_args().repeat)
