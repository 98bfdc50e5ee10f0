"""Plain Triton kernels wrapped as kernel libraries wrap them (tests/test_triton_spec.py).

One kernel per wrapper kind of issue 26, each y = x * ALPHA + b row-wise on (M, N) inputs:
``@triton.heuristics`` over ``@triton.jit``; ``@triton.autotune`` over heuristics; heuristics
over autotune; a subclass of Triton's ``Autotuner`` whose class name is not "Autotuner" (as
libraries' own autotune decorators are); a FlagGems-style ``libentry`` wrapper (a
``KernelInterface`` holding the kernel in ``.fn``) over heuristics over autotune; and the
inner ``@triton.jit`` function of a heuristics wrapper named by the spec itself, which must
run as given (not the wrapper its module holds under the same name). Every heuristic is one a
wrong emulation would break: the kernels read what the heuristics compute, and a value that
is wrong or missing makes the launch fail or the output wrong. Written for kcheck (no
third-party code).
"""

import torch
import triton
import triton.language as tl
from triton.runtime.autotuner import Autotuner

from checker.spec import DEFAULT
from checker.triton_spec import TritonKernel, TritonSpec

ALPHA = 1.5


def _even(args):
    return args["n_cols"] % args["BLOCK_N"] == 0


@triton.heuristics({"BLOCK_N": lambda args: triton.next_power_of_2(args["n_cols"]), "EVEN_N": _even})
@triton.jit
def heur_kernel(x_ptr, b_ptr, y_ptr, n_cols, stride, alpha, BLOCK_N: tl.constexpr, EVEN_N: tl.constexpr):
    """One row per program; BLOCK_N (the whole row) and EVEN_N come from the heuristics."""
    row = tl.program_id(0).to(tl.int64)
    cols = tl.arange(0, BLOCK_N)
    if EVEN_N:
        x = tl.load(x_ptr + row * stride + cols)
        b = tl.load(b_ptr + cols)
    else:
        x = tl.load(x_ptr + row * stride + cols, mask=cols < n_cols, other=0.0)
        b = tl.load(b_ptr + cols, mask=cols < n_cols, other=0.0)
    y = x.to(tl.float32) * alpha + b.to(tl.float32)
    tl.store(y_ptr + row * stride + cols, y.to(y_ptr.dtype.element_ty), mask=cols < n_cols)


def launch_heur(kernel, x, b):
    """The heuristics compute every constexpr: the launcher passes none."""
    m, n = x.shape
    y = torch.empty_like(x)
    kernel[(m,)](x, b, y, n, x.stride(0), ALPHA)
    return y


def launch_inner(kernel, x, b, *, BLOCK_N):
    """For the inner @triton.jit function: the launcher passes what the heuristics would."""
    m, n = x.shape
    y = torch.empty_like(x)
    kernel[(m,)](x, b, y, n, x.stride(0), ALPHA, BLOCK_N=BLOCK_N, EVEN_N=n % BLOCK_N == 0)
    return y


def _row_block(x, b):
    return [triton.next_power_of_2(x.shape[1])]


@triton.autotune(
    configs=[
        triton.Config({"BLOCK_N": 16}, num_warps=1, num_stages=1),
        triton.Config({"BLOCK_N": 32}, num_warps=2, num_stages=1),
        triton.Config({"BLOCK_N": 64}, num_warps=2, num_stages=2),
        triton.Config({"BLOCK_N": 128}, num_warps=4, num_stages=2),
    ],
    key=["n_cols"],
)
@triton.heuristics({"EVEN_N": _even})
@triton.jit
def tuned_heur_kernel(
    x_ptr, b_ptr, y_ptr, n_cols, stride, alpha, BLOCK_N: tl.constexpr, EVEN_N: tl.constexpr
):
    """Blocks of BLOCK_N columns (the autotune config); EVEN_N needs the config's BLOCK_N."""
    row = tl.program_id(0).to(tl.int64)
    cols = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    if EVEN_N:
        x = tl.load(x_ptr + row * stride + cols)
        b = tl.load(b_ptr + cols)
        y = x.to(tl.float32) * alpha + b.to(tl.float32)
        tl.store(y_ptr + row * stride + cols, y.to(y_ptr.dtype.element_ty))
    else:
        mask = cols < n_cols
        x = tl.load(x_ptr + row * stride + cols, mask=mask, other=0.0)
        b = tl.load(b_ptr + cols, mask=mask, other=0.0)
        y = x.to(tl.float32) * alpha + b.to(tl.float32)
        tl.store(y_ptr + row * stride + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


def launch_blocks(kernel, x, b):
    """Autotuned: the grid reads BLOCK_N from the launch's meta-parameters."""
    m, n = x.shape
    y = torch.empty_like(x)
    kernel[lambda meta: (m, triton.cdiv(n, meta["BLOCK_N"]))](x, b, y, n, x.stride(0), ALPHA)
    return y


_ROWS_CONFIGS = [
    triton.Config({"ROWS": 1}, num_warps=1, num_stages=1),
    triton.Config({"ROWS": 2}, num_warps=2, num_stages=1),
    triton.Config({"ROWS": 4}, num_warps=4, num_stages=2),
    triton.Config({"ROWS": 3}, num_warps=2, num_stages=2),
]


@triton.jit
def _rows_body(x_ptr, b_ptr, y_ptr, n_rows, n_cols, stride, alpha, ROWS: tl.constexpr, BLOCK_N: tl.constexpr):
    cols = tl.arange(0, BLOCK_N)
    cmask = cols < n_cols
    b = tl.load(b_ptr + cols, mask=cmask, other=0.0).to(tl.float32)
    for r in tl.static_range(ROWS):
        row = (tl.program_id(0) * ROWS + r).to(tl.int64)
        mask = cmask & (row < n_rows)
        x = tl.load(x_ptr + row * stride + cols, mask=mask, other=0.0)
        y = x.to(tl.float32) * alpha + b
        tl.store(y_ptr + row * stride + cols, y.to(y_ptr.dtype.element_ty), mask=mask)


@triton.heuristics({"BLOCK_N": lambda args: triton.next_power_of_2(args["n_cols"])})
@triton.autotune(configs=_ROWS_CONFIGS, key=["n_cols"])
@triton.jit
def heur_tuned_kernel(
    x_ptr, b_ptr, y_ptr, n_rows, n_cols, stride, alpha, ROWS: tl.constexpr, BLOCK_N: tl.constexpr
):
    """ROWS rows per program (the autotune config); BLOCK_N from the outer heuristic."""
    _rows_body(x_ptr, b_ptr, y_ptr, n_rows, n_cols, stride, alpha, ROWS, BLOCK_N)


def launch_rows(kernel, x, b):
    m, n = x.shape
    y = torch.empty_like(x)
    kernel[lambda meta: (triton.cdiv(m, meta["ROWS"]),)](x, b, y, m, n, x.stride(0), ALPHA)
    return y


class LibTuner(Autotuner):
    """A library's own autotuner (class name not "Autotuner"), as its decorator builds it."""


def lib_autotune(configs, key):
    def decorator(fn):
        return LibTuner(fn, fn.arg_names, configs, key, reset_to_zero=None, restore_value=None)

    return decorator


@lib_autotune(configs=_ROWS_CONFIGS, key=["n_cols"])
@triton.jit
def subclass_tuned_kernel(
    x_ptr, b_ptr, y_ptr, n_rows, n_cols, stride, alpha, ROWS: tl.constexpr, BLOCK_N: tl.constexpr
):
    _rows_body(x_ptr, b_ptr, y_ptr, n_rows, n_cols, stride, alpha, ROWS, BLOCK_N)


def launch_rows_block(kernel, x, b):
    """BLOCK_N is no config knob here: the launcher passes it, the autotuner adds ROWS."""
    m, n = x.shape
    y = torch.empty_like(x)
    grid = lambda meta: (triton.cdiv(m, meta["ROWS"]),)  # noqa: E731
    kernel[grid](x, b, y, m, n, x.stride(0), ALPHA, BLOCK_N=triton.next_power_of_2(n))
    return y


class LibEntry(triton.KernelInterface):
    """FlagGems-style ``libentry``: a thin KernelInterface holding the kernel in ``.fn`` whose
    own ``run`` (a kernel cache in FlagGems) kcheck does not run."""

    def __init__(self, fn):
        self.fn = fn
        self.arg_names = fn.arg_names

    def run(self, *args, **kwargs):
        return self.fn.run(*args, **kwargs)


def libentry():
    return LibEntry


@libentry()
@triton.heuristics({"BLOCK_N": lambda args: triton.next_power_of_2(args["n_cols"])})
@triton.autotune(configs=_ROWS_CONFIGS, key=["n_cols"])
@triton.jit
def libentry_kernel(
    x_ptr, b_ptr, y_ptr, n_rows, n_cols, stride, alpha, ROWS: tl.constexpr, BLOCK_N: tl.constexpr
):
    _rows_body(x_ptr, b_ptr, y_ptr, n_rows, n_cols, stride, alpha, ROWS, BLOCK_N)


def make_inputs(shape, dtype, gen):
    m, n = shape
    return torch.randn(m, n, generator=gen).to(dtype), torch.randn(n, generator=gen).to(dtype)


def reference(x, b):
    return x * ALPHA + b


COMMON = dict(
    reference=reference,
    make_inputs=make_inputs,
    shapes=[(2048, 4096), (1000, 1000)],
    small_shapes=[(5, 64), (3, 33)],
    dtypes=[torch.float32, torch.bfloat16],
)

SPECS = [
    TritonSpec(
        name="wrap_heur",
        kernel=TritonKernel(heur_kernel, launch_heur, space={"num_warps": [1, 2, 4]}),
        configs={"w2": triton.Config({}, num_warps=2, num_stages=1)},
        **COMMON,
    ),
    TritonSpec(
        name="wrap_inner",
        kernel=TritonKernel(
            heur_kernel.fn,
            launch_inner,
            default=lambda x, b: triton.Config({"BLOCK_N": triton.next_power_of_2(x.shape[1])}),
        ),
        configs={"default": DEFAULT},
        **COMMON,
    ),
    TritonSpec(
        name="wrap_tuned_heur",
        kernel=TritonKernel(tuned_heur_kernel, launch_blocks),
        autotune_named=lambda cfg: cfg.kwargs_dict["BLOCK_N"] == 32,
        **COMMON,
    ),
    TritonSpec(name="wrap_heur_tuned", kernel=TritonKernel(heur_tuned_kernel, launch_rows), **COMMON),
    TritonSpec(
        name="wrap_subclass",
        kernel=TritonKernel(subclass_tuned_kernel, launch_rows_block),
        autotune_named=[0, 3],
        **COMMON,
    ),
    TritonSpec(name="wrap_libentry", kernel=TritonKernel(libentry_kernel, launch_rows), **COMMON),
]
