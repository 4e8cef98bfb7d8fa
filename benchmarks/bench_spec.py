"""Benchmark of the spec toolchain (a script, not a test): prints the figures and writes
`benchmarks/results/spec.json`.

- compile: `load_spec` + `compile_plan` of the sales spec in a warm process, median of 50 runs
  (target <= 50 ms);
- validate: wall time of `factory validate specs/sales_discovery.yaml` as a fresh process, median of
  10 runs (target <= 1.0 s).

Run: `.venv/bin/python benchmarks/bench_spec.py [--runs-compile N] [--runs-validate N]`.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "sales_discovery.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "spec.json"
COMPILE_TARGET_MS = 50.0
VALIDATE_TARGET_S = 1.0


def bench_compile(runs: int) -> list[float]:
    sys.path.insert(0, str(ROOT))
    from factory.compiler import compile_plan
    from factory.language.loader import load_spec

    compile_plan(load_spec(SPEC))  # warm the imports and caches a long-running process would have
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        compile_plan(load_spec(SPEC))
        times.append((time.perf_counter() - started) * 1000)
    return times


def _factory_command() -> list[str]:
    exe = Path(sys.executable).parent / "factory"
    return [str(exe)] if exe.exists() else [shutil.which("factory") or "factory"]


def bench_validate(runs: int) -> list[float]:
    command = [*_factory_command(), "validate", str(SPEC.relative_to(ROOT))]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - started)
        if result.returncode != 0:
            raise SystemExit(f"factory validate failed ({result.returncode}):\n{result.stderr}")
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs-compile", type=int, default=50)
    parser.add_argument("--runs-validate", type=int, default=10)
    args = parser.parse_args()

    compile_ms = bench_compile(args.runs_compile)
    validate_s = bench_validate(args.runs_validate)
    result = {
        "spec": str(SPEC.relative_to(ROOT)),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "compile_ms": {"median": round(statistics.median(compile_ms), 2), "min": round(min(compile_ms), 2),
                       "max": round(max(compile_ms), 2), "runs": len(compile_ms), "target": COMPILE_TARGET_MS},
        "validate_cold_s": {"median": round(statistics.median(validate_s), 3), "min": round(min(validate_s), 3),
                            "max": round(max(validate_s), 3), "runs": len(validate_s), "target": VALIDATE_TARGET_S},
    }
    result["ok"] = (result["compile_ms"]["median"] <= COMPILE_TARGET_MS
                    and result["validate_cold_s"]["median"] <= VALIDATE_TARGET_S)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    c, v = result["compile_ms"], result["validate_cold_s"]
    print(f"compile (load_spec + compile_plan), median of {c['runs']}: {c['median']:.1f} ms "
          f"(min {c['min']:.1f}, max {c['max']:.1f}; target <= {COMPILE_TARGET_MS:.0f} ms)")
    print(f"factory validate, cold process, median of {v['runs']}: {v['median']:.3f} s "
          f"(min {v['min']:.3f}, max {v['max']:.3f}; target <= {VALIDATE_TARGET_S:.1f} s)")
    print(f"written to {RESULTS.relative_to(ROOT)}")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
