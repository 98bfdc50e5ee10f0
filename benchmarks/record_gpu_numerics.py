# mypy: allow-untyped-defs
# (the @triton.jit kernels' parameters are Triton values, not Python types)
"""Record what a GPU computes for small fp16/bf16 reductions, scans and int4 unpacking, so that
tests/test_interpreter.py can check the interpreter against it bit for bit (issue 28 item 2).

On a CUDA GPU, TRITON_INTERPRET unset, from the repository root::

    python benchmarks/record_gpu_numerics.py tests/data/gpu_numerics

writes one ``<case>.pt`` per case (``{"inputs": [...], "output": tensor, "num_warps": int}``, CPU
tensors) and ``index.json`` (case names, torch/triton/helion versions, the GPU's name). Inputs
are made on the CPU from fixed seeds. With ``TRITON_INTERPRET=1`` the same cases run under the
checker's patched interpreter on the CPU instead; ``--inputs DIR`` then takes each case's inputs
from ``DIR/<case>.pt`` (what the tests do, so that both sides see the same bits).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

INTERPRET = os.environ.get("TRITON_INTERPRET") == "1"
ROOT = Path(__file__).resolve().parent.parent
# Run as a script: the checker comes from PYTHONPATH when set (the tests point it at their tree),
# else from the repository this file is in.
sys.path.append(str(ROOT))

import torch  # noqa: E402
import triton  # noqa: E402
import triton.language as tl  # noqa: E402


@triton.jit
def _row_sum(x, out, N: tl.constexpr):
    row = tl.program_id(0)
    tl.store(out + row, tl.sum(tl.load(x + row * N + tl.arange(0, N)), axis=0))


@triton.jit
def _tile_sum(x, out, R: tl.constexpr, C: tl.constexpr, AXIS: tl.constexpr):
    tile = tl.load(x + tl.arange(0, R)[:, None] * C + tl.arange(0, C)[None, :])
    length: tl.constexpr = C if AXIS == 0 else R
    tl.store(out + tl.arange(0, length), tl.sum(tile, axis=AXIS))


@triton.jit
def _row_cumsum(x, out, N: tl.constexpr):
    # bf16 scans run in fp32 (tl.cumsum promotes them); fp16 ones in fp16, stored exactly as fp32.
    cols = tl.program_id(0) * N + tl.arange(0, N)
    tl.store(out + cols, tl.cumsum(tl.load(x + cols), axis=0).to(tl.float32))


@triton.jit
def _unpack_int4(x, out, N: tl.constexpr):
    # int8 nibbles: sign-extended by shifts, by mask and subtract, and the high one by >>.
    cols = tl.arange(0, N)
    v = tl.load(x + cols)
    low_shift = ((v << 4) >> 4).to(tl.int32)
    low_mask = (v & 0xF).to(tl.int32)
    low_mask = tl.where(low_mask >= 8, low_mask - 16, low_mask)
    high = (v >> 4).to(tl.int32)
    tl.store(out + cols, low_shift)
    tl.store(out + N + cols, low_mask)
    tl.store(out + 2 * N + cols, high)
    tl.store(out + 3 * N + cols, (v.to(tl.uint8, bitcast=True) >> 4).to(tl.int32))


@dataclass(frozen=True)
class Case:
    """One recorded computation: ``make`` builds its CPU inputs from a fixed seed, ``run`` computes
    the output on the inputs' device."""

    name: str
    make: Callable[[], list[torch.Tensor]]
    run: Callable[[list[torch.Tensor]], torch.Tensor]
    num_warps: int


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _load_module(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(f"gpu_numerics_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _helion(kernel: Any, config: Any) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    def run(inputs: list[torch.Tensor]) -> torch.Tensor:
        fn = kernel.bind(tuple(inputs)).compile_config(config, allow_print=False)
        return fn(*inputs)  # type: ignore[no-any-return]

    return run


def _row_sum_case(dtype: torch.dtype, num_warps: int) -> Case:
    def run(inputs: list[torch.Tensor]) -> torch.Tensor:
        (x,) = inputs
        out = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
        _row_sum[(x.shape[0],)](x, out, N=x.shape[1], num_warps=num_warps)
        return out

    name = f"tl_sum_{str(dtype).removeprefix('torch.')}_1024_w{num_warps}"
    return Case(name, lambda: [torch.randn((4, 1024), generator=_seeded(1)).to(dtype)], run, num_warps)


def _tile_sum_case(axis: int) -> Case:
    def run(inputs: list[torch.Tensor]) -> torch.Tensor:
        (x,) = inputs
        out = torch.empty(x.shape[1 - axis], dtype=x.dtype, device=x.device)
        _tile_sum[(1,)](x, out, R=x.shape[0], C=x.shape[1], AXIS=axis, num_warps=4)
        return out

    make = lambda: [torch.randn((16, 64), generator=_seeded(2)).to(torch.float16)]  # noqa: E731
    return Case(f"tl_sum_float16_16x64_axis{axis}_w4", make, run, 4)


def _cumsum_case(dtype: torch.dtype, num_warps: int) -> Case:
    def run(inputs: list[torch.Tensor]) -> torch.Tensor:
        (x,) = inputs
        out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
        _row_cumsum[(x.shape[0],)](x, out, N=x.shape[1], num_warps=num_warps)
        return out

    name = f"tl_cumsum_{str(dtype).removeprefix('torch.')}_256_w{num_warps}"
    return Case(name, lambda: [torch.randn((4, 256), generator=_seeded(3)).to(dtype)], run, num_warps)


def _unpack_case() -> Case:
    def run(inputs: list[torch.Tensor]) -> torch.Tensor:
        (x,) = inputs
        out = torch.empty(4 * x.numel(), dtype=torch.int32, device=x.device)
        _unpack_int4[(1,)](x, out, N=x.numel(), num_warps=4)
        return out

    every_byte = lambda: [torch.arange(-128, 128, dtype=torch.int16).to(torch.int8)]  # noqa: E731
    return Case("int4_unpack_all_bytes", every_byte, run, 4)


def cases() -> list[Case]:
    """Every recorded case (names are the .pt files' stems)."""
    import helion

    specs = ROOT / "tests" / "helion_examples" / "specs"
    long_sum, int4 = _load_module(specs / "long_sum.py"), _load_module(specs / "int4_gemm.py")
    by_name = {s.name: s for s in long_sum.SPECS}

    def row_input() -> list[torch.Tensor]:
        return list(long_sum.make_inputs((4, 1000), torch.bfloat16, _seeded(0)))

    out = []
    for name in ("ex_longsum", "ex_longsum_red_loop", "ex_longsum_manual"):
        pinned = by_name[name].configs["pinned"]
        run = _helion(by_name[name].kernel, pinned)
        out.append(Case(f"{name}_pinned_bf16_4x1000", row_input, run, pinned.num_warps))
    four = helion.Config(block_sizes=[1], reduction_loops=[None], num_warps=4)
    run_four = _helion(by_name["ex_longsum"].kernel, four)
    out.append(Case("ex_longsum_4warps_bf16_4x1000", row_input, run_four, 4))
    out += [_row_sum_case(dt, w) for dt in (torch.float16, torch.bfloat16) for w in (1, 4, 8)]
    out += [_tile_sum_case(axis) for axis in (0, 1)]
    out += [_cumsum_case(dt, w) for dt in (torch.float16, torch.bfloat16) for w in (1, 4)]
    out.append(_unpack_case())
    default = int4.matmul_bf16_int4.bind(int4.make_inputs((5, 34, 7), torch.bfloat16, _seeded(0)))
    config = default.config_spec.default_config()
    make_gemm = lambda: list(int4.make_inputs((5, 34, 7), torch.bfloat16, _seeded(0)))  # noqa: E731
    run_gemm = _helion(int4.matmul_bf16_int4, config)
    out.append(Case("ex_int4_gemm_default_5x34x7", make_gemm, run_gemm, config.num_warps))
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--inputs", type=Path, help="take each case's inputs from DIR/<case>.pt")
    args = parser.parse_args(argv)
    if INTERPRET:
        from checker import interpreter

        interpreter.install_shims(object())
        device, gpu = "cpu", "none (checker's patched Triton interpreter)"
    elif torch.cuda.is_available():
        device, gpu = "cuda", torch.cuda.get_device_name()
    else:
        parser.error("no CUDA GPU: run on one with TRITON_INTERPRET unset (set it to run the interpreter)")
    args.outdir.mkdir(parents=True, exist_ok=True)
    names = []
    for case in cases():
        inputs = torch.load(args.inputs / f"{case.name}.pt")["inputs"] if args.inputs else case.make()
        output = case.run([t.to(device) for t in inputs])
        if device == "cuda":
            torch.cuda.synchronize()
        record = {"inputs": inputs, "output": output.cpu(), "num_warps": case.num_warps}
        torch.save(record, args.outdir / f"{case.name}.pt")
        names.append(case.name)
        print(case.name, flush=True)

    index = {
        "cases": names,
        "gpu": gpu,
        "torch": torch.__version__,
        "triton": triton.__version__,
        "helion": importlib.metadata.version("helion"),  # helion 1.4.0 has no __version__
        "cuda": torch.version.cuda,
    }
    (args.outdir / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
