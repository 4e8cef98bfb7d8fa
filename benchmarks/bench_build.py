"""Benchmark `factory build`: cold build, prompt-only rebuild, image size over the base image.

    DOCKER_HOST=unix:///run/factory-docker.sock .venv/bin/python benchmarks/bench_build.py \
        [--base-image factory-base:bookworm] [--spec specs/sales_discovery.yaml]

Prints the numbers and writes benchmarks/results/build.json. The cold build uses `nocache` (the
wheelhouse on the host is made first and not timed: it is made once per set of requirements);
the rebuild appends a line to a prompt file and builds again with the cache. Every image made
here is removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from factory.build import build_image, connect, prepare_wheelhouse, write_context  # noqa: E402
from factory.compiler import compile_plan  # noqa: E402
from factory.language.loader import load_spec  # noqa: E402


def _context(spec: Path, out: Path, tag: str):  # type: ignore[no-untyped-def]
    loaded = load_spec(spec)
    return write_context(loaded, compile_plan(loaded), out, tag=tag)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=ROOT / "specs" / "sales_discovery.yaml")
    parser.add_argument("--base-image", default=os.environ.get("FACTORY_BASE_IMAGE", "factory-base:bookworm"))
    parser.add_argument("--rebuilds", type=int, default=3, help="prompt-only rebuilds to time (median kept)")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "build.json")
    args = parser.parse_args()

    console = Console(stderr=True)
    client = connect()
    tag = "factory-bench/build:latest"
    made: list[str] = []
    with tempfile.TemporaryDirectory(prefix="factory-bench-") as tmp:
        folder = Path(tmp) / "spec"
        shutil.copytree(args.spec.parent, folder, ignore=shutil.ignore_patterns("__pycache__"))
        spec = folder / args.spec.name
        context = _context(spec, Path(tmp) / "out", tag)
        prepare_wheelhouse(context.path, console=console)
        try:
            cold = build_image(
                context, tag=tag, base_image=args.base_image, console=console, client=client, no_cache=True
            )
            made.append(cold.image_id)
            loaded = load_spec(spec)
            prompt_file = next((folder / "prompts").glob("*.md"), None)
            rebuilds: list[float] = []
            for i in range(args.rebuilds):
                if prompt_file is not None:
                    prompt_file.write_text(prompt_file.read_text() + f"\nBenchmark edit {i}.\n")
                loaded = load_spec(spec)
                write_context(loaded, compile_plan(loaded), Path(tmp) / "out", tag=tag)
                started = time.perf_counter()
                again = build_image(
                    context, tag=tag, base_image=args.base_image, console=console, client=client, wheels=False
                )
                rebuilds.append(time.perf_counter() - started)
                made.append(again.image_id)
        finally:
            for image in [tag, *reversed(made)]:
                with contextlib.suppress(Exception):
                    client.api.remove_image(image)
    rebuilds.sort()
    result = {
        "spec": args.spec.name,
        "base_image": args.base_image,
        "cold_build_s": round(cold.seconds, 2),
        "prompt_only_rebuild_s": round(rebuilds[len(rebuilds) // 2], 2),
        "prompt_only_rebuilds_s": [round(r, 2) for r in rebuilds],
        "image_size_mb": round(cold.size / 1e6, 1),
        "base_size_mb": round((cold.base_size or 0) / 1e6, 1),
        "size_over_base_mb": round((cold.size_over_base or 0) / 1e6, 1),
        "steps": cold.steps,
        "rebuild_cached_steps": again.cached_steps,
        "machine": {
            "python": platform.python_version(),
            "system": platform.platform(),
            "cpus": os.cpu_count(),
        },
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(
        f"cold build: {result['cold_build_s']} s; prompt-only rebuild: {result['prompt_only_rebuild_s']} s "
        f"(median of {len(rebuilds)}); image {result['image_size_mb']} MB = base {result['base_size_mb']} MB "
        f"+ {result['size_over_base_mb']} MB"
    )
    print(f"wrote {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
