"""Benchmark: what ``import pms_connect.sikka`` costs against ``import httpx, pydantic``, in fresh interpreters.

    python benchmarks/bench_import.py [--repeat 15]

Each import runs in a new ``python`` process (nothing cached in ``sys.modules``), timed inside the process
around the import statement alone, alternating the two so that a busy machine slows both alike; the median
of ``--repeat`` runs is reported, with the modules an import loads that the baseline does not (the optional
ones: cryptography, sqlite3, redis must not be among them). Goal (issue 11): at most 1.5x.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

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


def probe(modules: str) -> tuple[float, list[str]]:
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed probe
        [sys.executable, "-c", _PROBE.format(modules=modules)], capture_output=True, text=True, check=True
    ).stdout
    data = json.loads(out)
    return float(data["seconds"]), list(data["modules"])


def main(repeat: int) -> None:
    sdk: list[float] = []
    base: list[float] = []
    loaded: list[str] = []
    baseline_loaded: list[str] = []
    for _ in range(repeat):
        seconds, loaded = probe(SDK)
        sdk.append(seconds)
        seconds, baseline_loaded = probe(BASELINE)
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
