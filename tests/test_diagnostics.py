"""Classification against real error texts and Helion's own error types."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import helion.exc
import pytest

from checker.categories import Category
from checker.diagnostics import GONE_NOTE, classify, normalize, sanitize, signature, with_compiler_log
from checker.interpreter import InterpreterGap

# Verbatim from the seed logs and the GPU runs (docs/gpu-runs.md).
NUMEL = "numel (2097152) exceeds triton maximum tensor numel (1048576)"
SMEM = (
    "out of resource: shared memory, Required: 1048584, Hardware limit: 232448. "
    "Reducing block sizes or `num_stages` may help."
)


class CompilationError(Exception):
    """Stands in for triton.compiler.errors.CompilationError (matched by type name)."""


class OutOfResources(Exception):
    pass


class PTXASError(Exception):
    pass


def test_numel_overflow_fields() -> None:
    d = classify(CompilationError(f"at 12:4:\n{NUMEL}"))
    assert d.category is Category.NUMEL_OVERFLOW
    assert d.fields["numel"] == 2097152 and d.fields["limit"] == 1048576


def test_out_of_resources_fields() -> None:
    d = classify(OutOfResources(SMEM))
    assert d.category is Category.OUT_OF_RESOURCES
    assert d.fields == {
        "resource": "shared memory",
        "required": 1048584,
        "limit": 232448,
        "exception": "OutOfResources",
    }


class InterpreterError(Exception):
    """Stands in for triton.runtime.errors.InterpreterError (matched by message)."""


def test_operation_missing_from_the_interpreter_is_unsupported_not_a_kernel_bug() -> None:
    """Verbatim from matmul_split_k[8x24x100-fp32-cfg0] on CPU (atomic_indexing=tensor_descriptor)."""
    missing = "'InterpreterBuilder' object has no attribute 'create_descriptor_reduce'"
    d = classify(InterpreterError(f"AttributeError({missing!r})"))
    assert d.category is Category.INTERPRETER_UNSUPPORTED
    assert d.fields["operation"] == "create_descriptor_reduce"
    unrelated = classify(AttributeError("'Tensor' object has no attribute 'foo'"))
    assert unrelated.category is Category.RUNTIME_ERROR


def test_ptxas_is_a_compiler_crash() -> None:
    d = classify(PTXASError("PTXAS error: Internal Triton PTX codegen error\nptxas fatal"))
    assert d.category is Category.COMPILER_CRASH and d.fields["stage"] == "ptxas"
    assert d.fields["exit_status"] == 255


def test_ptxas_fatal_line_names_the_failure_and_splits_signatures() -> None:
    """Verbatim (paths shortened) from an H100 run of causal_attention[4x48x1024x64-fp16-cfg1]."""
    text = (
        "PTXAS error: Internal Triton PTX codegen error\n`ptxas` stderr:\n"
        "ptxas info    : (C7511) Potential Performance Loss: wgmma.mma_async instructions are "
        "serialized due to insufficient register resources for the wgmma pipeline in the function "
        "'_helion_causal_attention'\n"
        "ptxas fatal   : (C7600) Register allocation failed with register count of '64'. Compile "
        "the program with a higher register target\n"
        "ptxas fatal   : Ptx assembly aborted due to errors\n\n"
        "Repro command: /opt/x/ptxas -lineinfo -v --gpu-name=sm_90a /tmp/tmp5ulo1xs0.ptx "
        "-o /tmp/tmp5ulo1xs0.ptx.o\n"
    )
    d = classify(PTXASError(text))
    assert d.fields["ptxas_code"] == "C7600" and d.fields["exit_status"] == 255
    assert d.fields["ptxas_error"].startswith("Register allocation failed with register count")
    same = classify(PTXASError(text.replace("'64'", "'128'").replace("tmp5ulo1xs0", "tmpa8d0qq1z")))
    other = classify(PTXASError(text.replace("(C7600) Register allocation failed", "(C7907) Out of memory")))
    assert same.signature == d.signature != other.signature


def test_ptxas_exit_status_comes_from_the_failed_process() -> None:
    """As Triton's make_cubin raises it: inside ``except CalledProcessError``."""
    import subprocess

    try:
        try:
            raise subprocess.CalledProcessError(7, ["ptxas", "-v"])
        except subprocess.CalledProcessError:
            raise PTXASError("`ptxas` failed with error code 7\n`ptxas` stderr:\nptxas fatal") from None
    except PTXASError as exc:
        # "from None" hides the context from tracebacks but keeps __context__: both paths count.
        assert classify(exc).fields["exit_status"] == 7
    d = classify(PTXASError("`ptxas` failed with error code 9\n`ptxas` stderr:\n"))
    assert d.fields["exit_status"] == 9
    assert classify(PTXASError("`ptxas` raised SIGSEGV\n")).fields["exit_status"] == 139


def test_mlir_pass_failure_is_a_compiler_crash() -> None:
    # Verbatim from an H100 run of causal_attention[4x48x512x64-fp16-cfg1].
    d = classify(RuntimeError("PassManager::run failed"))
    assert d.category is Category.COMPILER_CRASH and d.fields["stage"] == "mlir-pass"


def test_helion_error_types() -> None:
    assert classify(helion.exc.InvalidConfig("block size 3")).category is Category.INVALID_CONFIG
    err = helion.exc.ShapeMismatch("[4]", "[8]")
    d = classify(err)
    assert d.category is Category.HELION_INTERNAL_ERROR


def test_cause_chain_is_searched() -> None:
    try:
        try:
            raise CompilationError(NUMEL)
        except CompilationError as inner:
            raise RuntimeError("Helion compiler triton codegen error") from inner
    except RuntimeError as outer:
        assert classify(outer).category is Category.NUMEL_OVERFLOW


@pytest.mark.parametrize(
    ("exc", "category"),
    [
        (
            RuntimeError("CUDA error: an illegal memory access was encountered"),
            Category.ILLEGAL_MEMORY_ACCESS,
        ),
        (RuntimeError("CUDA error: misaligned address"), Category.ILLEGAL_MEMORY_ACCESS),
        (RuntimeError("CUDA error: device-side assert triggered"), Category.DEVICE_ASSERT),
        (RuntimeError("CUDA error: unspecified launch failure"), Category.LAUNCH_FAILURE),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), Category.CUDA_OOM),
        (InterpreterGap("libdevice.tanh has no interpreter equivalent"), Category.INTERPRETER_UNSUPPORTED),
        (KeyError("something new"), Category.RUNTIME_ERROR),
    ],
)
def test_table(exc: BaseException, category: Category) -> None:
    d = classify(exc)
    assert d.category is category
    assert d.fields["exception"] == type(exc).__name__


def test_signature_ignores_numbers_paths_and_addresses() -> None:
    a = "numel (2097152) exceeds triton maximum tensor numel (1048576) in /tmp/tmpab12/k.py at 0x7f00"
    b = "numel (4194304) exceeds triton maximum tensor numel (1048576) in /home/u/x/k.py at 0x55aa"
    assert normalize(a) == normalize(b)
    assert signature(Category.NUMEL_OVERFLOW, a) == signature(Category.NUMEL_OVERFLOW, b)
    assert signature(Category.NUMEL_OVERFLOW, a) != signature(Category.RUNTIME_ERROR, a)
    assert classify(CompilationError(a)).signature == classify(CompilationError(b)).signature


def _compilation_error(position: str, cause: BaseException) -> CompilationError:
    """A Triton-style CompilationError: a source position, source lines, a caret; the cause chained."""
    try:
        raise cause
    except BaseException as inner:
        try:
            raise CompilationError(f"{position}\n    x = tl.load(p)\n        ^\n{cause!r}") from inner
        except CompilationError as outer:
            return outer


def test_signature_of_a_positioned_compile_error_comes_from_its_cause() -> None:
    """Triton's CompilationError starts with "at L:C:": the signature must not be made of that
    alone, or every frontend error would share one signature."""
    numel_a = classify(_compilation_error("at 24:28:", ValueError(NUMEL)))
    numel_b = classify(_compilation_error("at 18:19:", ValueError(NUMEL.replace("2097152", "8388608"))))
    assert numel_a.category is Category.NUMEL_OVERFLOW and numel_a.signature == numel_b.signature
    other_a = classify(_compilation_error("at 3:4:", TypeError("unsupported operand type(s) for +")))
    other_b = classify(_compilation_error("at 3:4:", AssertionError("dot requires K >= 16")))
    assert other_a.category is other_b.category is Category.COMPILER_CRASH
    assert other_a.signature != other_b.signature


def test_numel_overflow_names_the_helion_source_line() -> None:
    """The text Triton raises for a Helion kernel: Helion's "# src[...]" comment above the line."""
    message = (
        "at 24:28:\n        indices_2 = tl.arange(0, _RDIM_SIZE_2).to(tl.int32)\n"
        "        # src[block_absmax.py:40]: blk = xv[tm, :, tn, :].to(torch.float32)\n"
        "        blk = tl.load(xv + indices_0[:, None, None, None], None)\n"
        "                            ^\n"
        "        # src[block_absmax.py:44]: later = 1\n"
    )
    d = classify(_compilation_error(message, ValueError(NUMEL)))
    assert (d.fields["source_file"], d.fields["source_line"]) == ("block_absmax.py", 40)
    assert d.fields["source"] == "blk = xv[tm, :, tn, :].to(torch.float32)"


def test_sanitize_strips_escapes_and_caps_length() -> None:
    text = "\x1b[31mred\x1b[0m\x00" + "x" * 10000
    clean = sanitize(text, limit=100)
    assert "\x1b" not in clean and "\x00" not in clean
    assert clean.startswith("red") and "characters cut" in clean and len(clean) < 200


def test_compiler_log_names_the_failing_mlir_pass() -> None:
    """Real stderr of triton 3.6 compiling attention fp16 cfg1 for sm_90 (paths shortened)."""
    log = (
        "/tmp/kcheck-gen-gb6d7soc/kcheck_gen_3f18.py:15:0: error: Failures have been detected while "
        "processing an MLIR pass pipeline\n"
        "/tmp/kcheck-gen-gb6d7soc/kcheck_gen_3f18.py:15:0: note: Pipeline failed while executing "
        "[`TritonGPURemoveLayoutConversions` on 'builtin.module' operation]: reproducer generated at "
        "`std::errs, please share the reproducer above with Triton project.`\n"
    )
    base = classify(RuntimeError("PassManager::run failed"))
    d = with_compiler_log(base, log)
    assert d.category is Category.COMPILER_CRASH and d.fields["pass"] == "TritonGPURemoveLayoutConversions"
    assert d.signature != base.signature and "compiler diagnostics" in d.message
    other = with_compiler_log(base, log.replace("TritonGPURemoveLayoutConversions", "TritonGPUPipeline"))
    assert other.signature != d.signature
    assert with_compiler_log(base, "unrelated noise\n") == base


_HELPER_KERNELS = """import triton
import triton.language as tl


@triton.jit
def _offsets(BLOCK: tl.constexpr):
    return tl.arange(0, BLOCK)


@triton.jit
def kernel(x_ptr, BLOCK: tl.constexpr):
    offs = _offsets(BLOCK)
    tl.store(x_ptr + offs, 1.0)
"""


_COMPILE_AND_CLASSIFY = """
import importlib.util, json, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from checker.diagnostics import classify

spec = importlib.util.spec_from_file_location("helper_kernels", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
try:
    triton.compile(
        ASTSource(module.kernel, {"x_ptr": "*fp32", "BLOCK": "constexpr"}, {(1,): 1 << 21}),
        target=GPUTarget("cuda", 90, 32),
    )
except Exception as exc:
    d = classify(exc)
    print(json.dumps({"category": d.category.value, **d.fields}, default=str))
"""


def test_numel_overflow_in_a_triton_helper_names_the_helpers_line(tmp_path: Path) -> None:
    """A hand-written kernel has no Helion `# src` comments: the record points at the statement
    Triton's CompilationError names, in the file and function where the tile is built (here a
    @triton.jit helper the kernel calls), from a real compile for sm_90. In a fresh interpreter:
    this test session's plugin patched Triton for the interpreter and the CPU target."""
    path = tmp_path / "helper_kernels.py"
    path.write_text(_HELPER_KERNELS)
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    proc = subprocess.run(
        [sys.executable, "-c", _COMPILE_AND_CLASSIFY, str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.stdout.strip(), proc.stderr[-2000:]
    fields = json.loads(proc.stdout.strip().splitlines()[-1])
    assert fields["category"] == "numel-overflow" and fields["block_shape"] == [1 << 21]
    assert (fields["source_file"], fields["source_line"]) == ("helper_kernels.py", 7)
    assert fields["source"] == "return tl.arange(0, BLOCK)"


def test_files_gone_after_the_run_are_not_named() -> None:
    """A ptxas failure as Triton 3.6 raises it on an H100 (docs/runs s10): its repro command names
    the .ptx file Triton deleted; a Python traceback through a generated module names the run's
    scratch directory. Both read ``<scratch>/<name>`` with one note; other paths are kept."""
    ptxas = (
        "PTXAS error: Internal Triton PTX codegen error\nRepro command: /opt/venv/triton/backends/nvidia/"
        "bin/ptxas -lineinfo -v --gpu-name=sm_90a /tmp/tmpi49vpetp.ptx -o /tmp/tmpi49vpetp.ptx.o"
    )
    d = classify(RuntimeError(ptxas))
    assert "/tmp/" not in d.message
    assert "<scratch>/tmpi49vpetp.ptx -o <scratch>/tmpi49vpetp.ptx.o" in d.message
    assert d.message.count(GONE_NOTE) == 1 and "/opt/venv/triton/backends/nvidia/bin/ptxas" in d.message
    assert d.signature == classify(RuntimeError(ptxas.replace("i49vpetp", "zz8xq1ab"))).signature
    log = "/tmp/kcheck-run-g_2ys_d5/gen-11658/kcheck_gen_4e99.py:15:0: error: Failures have been detected\n"
    crash = with_compiler_log(classify(RuntimeError("PassManager::run failed")), log)
    assert "<scratch>/kcheck_gen_4e99.py:15:0: error" in crash.message and crash.message.endswith(GONE_NOTE)
    kept = classify(RuntimeError('File "/work/kernels/sum.py", line 3'))
    assert GONE_NOTE not in kept.message and "/work/kernels/sum.py" in kept.message


def test_an_illegal_instruction_is_a_launch_failure_not_a_device_assert() -> None:
    """torch ends every CUDA error with "Compile with `TORCH_USE_CUDA_DSA` to enable device-side
    assertions."; an illegal instruction (Helion's jagged_dense_add example on the H100) was
    filed as ``device-assert`` by that sentence."""
    tail = (
        "\nCUDA kernel errors might be asynchronously reported at some other API call, so the "
        "stacktrace below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1"
        "\nCompile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.\n"
    )
    accel = type("AcceleratorError", (RuntimeError,), {})
    illegal = accel("CUDA error: an illegal instruction was encountered" + tail)
    assert classify(illegal).category is Category.LAUNCH_FAILURE
    fired = accel("CUDA error: device-side assert triggered" + tail)
    assert classify(fired).category is Category.DEVICE_ASSERT
    # The runtime's own allocation failing (a golden check's bind beside 16 case workers on an
    # H100) is out of memory, not a runtime-error of the kernel.
    oom = accel("CUDA error: out of memory" + tail)
    assert classify(oom).category is Category.CUDA_OOM
