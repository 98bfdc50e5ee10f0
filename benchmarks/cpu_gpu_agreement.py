"""Case-by-case agreement of a CPU run and a GPU run of the same cases.

    python benchmarks/cpu_gpu_agreement.py CPU_RESULTS GPU_RESULTS [--markdown]

Both arguments are results.jsonl files (optionally .gz) of runs with the same seed, configs and
shapes, e.g. ``kcheck run kernels tests/helion_examples/specs --shapes small --configs 2`` on
CPU and the same on the GPU machine. Prints, per kernel, how many shared cases agree on the
category, and lists every case that does not, with both messages, plus cases whose sampled
config differs between the two runs (the CPU must sample what the GPU samples) and cases only
one run has; and how many of the GPU's compile-stage failures (numel overflow, out of
resources, compiler crash, compile timeout) the CPU run found with the same category. Exits 1
when a case fails on CPU but not on the GPU (a CPU verdict that blames the kernel for something
the GPU does not see). A ``store-race`` on CPU where the GPU passed is counted apart, not as such
a failure: the race is in the kernel's code (lanes of one store writing different values to one
address), and which value survives on a GPU is undefined, so its pass there is luck.
"""

from __future__ import annotations

import argparse
import collections
import gzip
import json
import sys
from pathlib import Path
from typing import Any

from checker.categories import Category, Replay

#: The failures a compile decides (issue 28's compile-stage failures), from the category table.
COMPILE_STAGE = frozenset(c.value for c in Category if c.is_failure and c.traits.replay is Replay.COMPILE)


def _read(path: Path) -> dict[str, dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        records = [json.loads(line) for line in f if line.strip()]
    return {r["case"]["name"]: r for r in records if r.get("mode") != "golden"}


def _first_line(record: dict[str, Any]) -> str:
    return (record.get("message") or "").strip().splitlines()[0][:120] if record.get("message") else ""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cpu", type=Path)
    parser.add_argument("gpu", type=Path)
    opts = parser.parse_args()
    cpu, gpu = _read(opts.cpu), _read(opts.gpu)
    shared = sorted(cpu.keys() & gpu.keys())
    per_kernel: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    disagree: list[str] = []
    config_differs: list[str] = []
    false_cpu_failures = 0
    races_gpu_passed = 0
    gpu_compile_failures = found_on_cpu = 0
    for name in shared:
        c, g = cpu[name], gpu[name]
        kernel = c["case"]["kernel"]
        per_kernel[kernel]["cases"] += 1
        if c.get("config") and g.get("config") and c["config"] != g["config"]:
            config_differs.append(name)
        if g["category"] in COMPILE_STAGE:
            gpu_compile_failures += 1
            found_on_cpu += c["category"] == g["category"]
        if c["category"] == g["category"]:
            per_kernel[kernel]["agree"] += 1
            per_kernel[kernel][f"both {c['category']}"] += 1
            continue
        cpu_fails = c["category"] not in ("passed", "not-run", "interpreter-unsupported")
        gpu_fails = g["category"] not in ("passed", "not-run")
        if c["category"] == Category.STORE_RACE and not gpu_fails:
            races_gpu_passed += 1
        elif cpu_fails and not gpu_fails:
            false_cpu_failures += 1
        if c["category"] == "interpreter-unsupported":
            per_kernel[kernel]["cpu unsupported"] += 1
        disagree.append(
            f"| `{name}` | {c['category']} | {g['category']} | {_first_line(c)} | {_first_line(g)} |"
        )
    print("| kernel | shared cases | same verdict | verdicts (both) |")
    print("| --- | --- | --- | --- |")
    total = collections.Counter[str]()
    for kernel in sorted(per_kernel):
        counts = per_kernel[kernel]
        total.update(counts)
        both = ", ".join(f"{k[5:]} {v}" for k, v in sorted(counts.items()) if k.startswith("both "))
        print(f"| {kernel} | {counts['cases']} | {counts['agree']} | {both} |")
    both = ", ".join(f"{k[5:]} {v}" for k, v in sorted(total.items()) if k.startswith("both "))
    print(f"| **all** | {total['cases']} | {total['agree']} | {both} |")
    print()
    print(f"cases only on CPU: {len(cpu.keys() - gpu.keys())}, only on GPU: {len(gpu.keys() - cpu.keys())}")
    print(f"sampled configs that differ between the runs: {len(config_differs)}")
    for name in config_differs[:20]:
        print(f"  {name}")
    print(f"CPU failures the GPU does not have: {false_cpu_failures}")
    print(f"store races found on CPU where the GPU passed (undefined there): {races_gpu_passed}")
    share = f" ({found_on_cpu / gpu_compile_failures:.0%})" if gpu_compile_failures else ""
    print(
        f"GPU compile-stage failures found on CPU (same category): {found_on_cpu} of "
        f"{gpu_compile_failures}{share}"
    )
    if disagree:
        print()
        print("| case | CPU | GPU | CPU message | GPU message |")
        print("| --- | --- | --- | --- | --- |")
        print("\n".join(disagree))
    return 1 if false_cpu_failures else 0


if __name__ == "__main__":
    sys.exit(main())
