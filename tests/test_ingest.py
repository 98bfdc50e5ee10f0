"""``kcheck ingest-log``: the real seed logs, every recognized block, hostile text, the CLI."""

# The synthetic log below keeps the long lines real logs have.
# ruff: noqa: E501

from __future__ import annotations

import json
import os
import tracemalloc
from pathlib import Path

import pytest

from checker.categories import Category
from checker.cli import main
from checker.ingest import tables
from checker.ingest.configs import find_config_call, parse_config
from checker.ingest.events import INGESTED_MODE
from checker.ingest.ingest import FileSummary, ingest_bytes, ingest_stream
from checker.ingest.reader import MAX_LINE_BYTES
from checker.model import Record
from checker.results.validate import parse_record

SEED_LOGS = Path(os.environ.get("KCHECK_SEED_LOGS", Path(__file__).parent / "data" / "seed-logs"))
GEMM = SEED_LOGS / "gemm-benchmark-run.log"
SOFTMAX = SEED_LOGS / "softmax-benchmark-run.log"
needs_seed_logs = pytest.mark.skipif(not GEMM.exists() or not SOFTMAX.exists(), reason="no seed logs")

# A run.py log with every block the seed logs lack, in the formats Helion 1.4 and tritonbench
# print them: compile timeouts (precompile_future.py), a "Triton compile failed" block
# (autotuner/logger.py), a chained numel overflow, a Helion error with "While processing", and a
# result table (tabulate "simple", stralign right) with error cells.
SYNTHETIC = """\
Running 2 kernels: rms_norm, softmax...


============================================================
Kernel: rms_norm
============================================================

Running rms_norm benchmark with Helion implementation...

Running input shard 3/4: inputs 16 to 22 (of 31 total)
  0%|          | 0/7 [00:00<?, ?it/s]INFO:tritonbench.utils.triton_op:Took 0.01ms to get benchmark function for llama_rms
INFO:tritonbench.utils.triton_op:Took 0.05ms to get benchmark function for helion_rms_norm_tritonbench
[0s] Starting PatternSearch with initial_population=100, copies=5, max_generations=20
[61s] Timeout after 60s compiling Config(block_sizes=[64, 128], num_warps=16, num_stages=3, indexing='tensor_descriptor', pid_type='flat')
[75s] Timeout after 61s compiling Config(block_sizes=[128, 128], num_warps=32, num_stages=1) (SIGKILL required)
[80s] Triton compile failed. This likely indicates a bug in Triton. Skipping failing config.
Config: @helion.kernel(config=helion.Config(block_sizes=[16, 16], num_warps=4), static_shapes=True)
Error: PTXASError: PTXAS error: Internal Triton PTX codegen error
`ptxas` stderr:
ptxas fatal   : (C7600) Register allocation failed with register count of '64'.
Set HELION_AUTOTUNE_LOG_LEVEL=DEBUG to log the generated Triton code, or HELION_AUTOTUNER_TRITON_FAILURE_DUMP_DIR=<dir> to write per-failure dumps (source code + traceback) to <dir>.
 14%|█▍        | 1/7 [01:40<10:00, 100.0s/it]INFO:tritonbench.utils.triton_op:Took 0.01ms to get benchmark function for llama_rms
INFO:tritonbench.utils.triton_op:Took 0.05ms to get benchmark function for helion_rms_norm_tritonbench
Traceback (most recent call last):
  File "/opt/conda/lib/python3.11/site-packages/triton/language/core.py", line 42, in wrapper
    return fn(*args, **kwargs)
  File "/opt/conda/lib/python3.11/site-packages/triton/_utils.py", line 58, in validate_block_shape
    raise ValueError(f"numel ({numel}) exceeds triton maximum tensor numel ({TRITON_MAX_TENSOR_NUMEL})")
ValueError: numel (2097152) exceeds triton maximum tensor numel (1048576)

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/opt/conda/lib/python3.11/site-packages/helion/runtime/kernel.py", line 272, in __call__
    return self.bind(args)(*args)
  File "/opt/conda/lib/python3.11/site-packages/triton/compiler/compiler.py", line 300, in compile
    module = src.make_ir(target, options, codegen_fns, module_map, context)
triton.compiler.errors.CompilationError: at 12:4:
def _helion_rms_norm(x, out, _BLOCK_SIZE_0: tl.constexpr):
    # src[rms_norm.py:40]: blk = x[tile_m, :].to(torch.float32)
    load = tl.load(x + indices_0[:, None] * 4096, mask_0[:, None])
    ^
ValueError('numel (2097152) exceeds triton maximum tensor numel (1048576)')

 29%|██▊       | 2/7 [01:41<05:00, 60.0s/it]INFO:tritonbench.utils.triton_op:Took 0.05ms to get benchmark function for helion_rms_norm_tritonbench
Traceback (most recent call last):
  File "/opt/conda/lib/python3.11/site-packages/helion/runtime/kernel.py", line 158, in bind
    bound_kernel = BoundKernel(self, args)
helion.exc.TensorOperationInWrapper: A tensor operation outside of the `hl.tile` or `hl.grid` loop is not supported.
While processing:
  File "/home/me/kernels/rms_norm.py", line 33, in rms_norm
    y = x * 2
        ^^^^^

100%|██████████| 7/7 [02:00<00:00, 10.0s/it]
          (M, H)    llama_rms-latency    helion_rms_norm_tritonbench-speedup    helion_rms_norm_tritonbench-accuracy
----------------  -------------------  -------------------------------------  --------------------------------------
    (2048, 1024)      0.0123 (±1.2%)                                    1.31                                    True
    (2048, 2048)            CUDA OOM                                    1.10                                   False
    (2048, 4096)      0.0400 (±0.5%)                                CUDA OOM
         average               0.0261                                   1.2

ptxas info    : compiling for sm_90a
"""


def _ingest(data: bytes | str) -> tuple[list[Record], FileSummary]:
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    records, summary = ingest_bytes(raw, "test.log")
    for record in records:
        # Every record is what `kcheck report` and `kcheck post` would accept.
        parse_record(record.to_json())
    return records, summary


def _only(records: list[Record], category: Category, kernel: str | None = None) -> Record:
    found = [r for r in records if r.category is category and (kernel is None or r.case.kernel == kernel)]
    assert len(found) == 1, [(r.category.value, r.case.name) for r in records]
    return found[0]


# -- the seed logs -------------------------------------------------------------------------------


@needs_seed_logs
def test_gemm_log_blames_the_cutlass_baseline_and_lists_what_never_ran() -> None:
    records, summary = _ingest(GEMM.read_bytes())
    assert sorted(r.category.value for r in records) == ["not-run"] * 4 + ["runtime-error"]
    failure = _only(records, Category.RUNTIME_ERROR)
    assert failure.case.kernel == "pt2_cutlass_matmul"
    assert failure.fields["role"] == "baseline"
    assert failure.fields["operator"] == "gemm"
    assert failure.fields["shard"] == "1/4" and failure.fields["shard_inputs"] == [0, 7]
    assert failure.fields["input_index"] == 1  # tqdm showed 1/8 done when it failed
    assert failure.fields["exception"] == "torch._inductor.exc.InductorError"
    assert failure.fields["innermost_frame"] == "cutlass_utils.py:140 in link_and_append"
    assert "FileNotFoundError" in failure.message and "cutlass_library" in failure.message
    assert failure.mode.value == INGESTED_MODE and failure.target == "unknown"
    # The same exception printed a second time (uncaught, from run.py) is not a second record.
    assert summary.duplicates == 1

    cut = _only(records, Category.NOT_RUN, "gemm")
    assert cut.fields["reason"] == "aborted"
    assert cut.fields["inputs_not_completed"] == [1, 7]
    assert cut.fields["cause_signature"] == failure.signature
    assert "helion_matmul_tritonbench" in cut.fields["implementations"]

    never = [r for r in records if r.fields.get("reason") == "never-started"]
    assert [r.case.kernel for r in never] == [f"unnamed-kernel-{i}-of-4" for i in (2, 3, 4)]
    assert all(r.fields["kernels_started"] == ["gemm"] for r in never)

    # Nothing in this log is a Helion kernel's failure.
    assert not [r for r in records if r.failed and r.fields.get("role") == "helion"]
    assert summary.skipped == 0 and summary.lines == 944 == summary.understood
    assert summary.toolchain["torch_path"] == "/home/willfeng/local/pytorch-nightly/torch"


@needs_seed_logs
def test_softmax_log_records_the_interruption_and_the_inputs_it_cut_off() -> None:
    records, summary = _ingest(SOFTMAX.read_bytes())
    assert len(records) == 2
    cut_kernel = _only(records, Category.NOT_RUN, "helion_softmax")
    assert cut_kernel.fields["reason"] == "interrupted"
    assert cut_kernel.fields["role"] == "helion"
    assert cut_kernel.fields["shard"] == "2/4"
    assert cut_kernel.fields["input_index"] == 46  # inputs 25..49, 21 done
    assert cut_kernel.fields["helion_frame"] == "type_propagation.py:501 in propagate_getitem"
    assert cut_kernel.case.name == "helion_softmax[input46]"
    shard = _only(records, Category.NOT_RUN, "softmax")
    assert shard.fields["inputs_not_completed"] == [46, 49]
    assert shard.fields["inputs_not_completed_count"] == 4
    assert shard.fields["implementations"] == ["naive_softmax", "triton_softmax", "helion_softmax"]
    assert summary.skipped == 0 and summary.understood == 2001
    assert summary.toolchain["python"] == "3.12"
    assert summary.toolchain["helion_path"] == "/data/users/willfeng/helion/helion"
    assert summary.target == "unknown"  # the log never names a GPU architecture


# -- blocks the seed logs do not have --------------------------------------------------------------


def test_compile_timeouts_carry_seconds_and_the_parsed_config() -> None:
    records, _ = _ingest(SYNTHETIC)
    timeouts = [r for r in records if r.category is Category.COMPILE_TIMEOUT]
    assert [r.fields["seconds"] for r in timeouts] == [60, 61]
    assert [r.fields["sigkill_required"] for r in timeouts] == [False, True]
    first = timeouts[0]
    assert first.config == {
        "block_sizes": [64, 128],
        "num_warps": 16,
        "num_stages": 3,
        "indexing": "tensor_descriptor",
        "pid_type": "flat",
    }
    assert first.config_repr is not None and first.config_repr.startswith("Config(block_sizes=[64, 128]")
    assert first.case.kernel == "helion_rms_norm_tritonbench"
    assert first.fields["shard"] == "3/4" and first.fields["input_index"] == 16
    # Two configs, two cases, one signature (the same as `kcheck run`'s compile timeouts).
    assert timeouts[0].case.name != timeouts[1].case.name
    assert timeouts[0].signature == timeouts[1].signature


def test_numel_overflow_names_numel_limit_and_kernel_source_line() -> None:
    records, _ = _ingest(SYNTHETIC)
    numel = _only(records, Category.NUMEL_OVERFLOW)
    assert numel.fields["numel"] == 2097152 and numel.fields["limit"] == 1048576
    assert numel.fields["source_file"] == "rms_norm.py" and numel.fields["source_line"] == 40
    assert numel.fields["source"] == "blk = x[tile_m, :].to(torch.float32)"
    assert numel.fields["input_index"] == 17
    assert numel.fields["role"] == "helion"


def test_helion_error_has_exception_and_kernel_source_location() -> None:
    records, _ = _ingest(SYNTHETIC)
    err = _only(records, Category.HELION_INTERNAL_ERROR)
    assert err.fields["exception"] == "helion.exc.TensorOperationInWrapper"
    assert (err.fields["source_file"], err.fields["source_line"]) == ("rms_norm.py", 33)
    assert err.fields["input_index"] == 18
    assert err.case.kernel == "helion_rms_norm_tritonbench"


def test_triton_compile_failure_block_is_a_compiler_crash_with_its_config() -> None:
    records, _ = _ingest(SYNTHETIC)
    crash = _only(records, Category.COMPILER_CRASH)
    assert crash.fields["stage"] == "ptxas" and crash.fields["ptxas_code"] == "C7600"
    assert crash.config == {"block_sizes": [16, 16], "num_warps": 4}


def test_result_table_becomes_metrics_and_oom_cells() -> None:
    records, summary = _ingest(SYNTHETIC)
    assert summary.tables == 1 and summary.table_rows == 4
    passed = {
        (r.case.kernel, r.case.shape): r.fields["metrics"] for r in records if r.category is Category.PASSED
    }
    assert passed == {
        ("llama_rms", (2048, 1024)): {"latency": 0.0123},
        ("helion_rms_norm_tritonbench", (2048, 1024)): {"speedup": 1.31, "accuracy": True},
        ("llama_rms", (2048, 4096)): {"latency": 0.04},
    }
    ooms = sorted((r.case.kernel, r.case.shape) for r in records if r.category is Category.CUDA_OOM)
    assert ooms == [("helion_rms_norm_tritonbench", (2048, 4096)), ("llama_rms", (2048, 2048))]
    wrong = _only(records, Category.NUMERICAL_MISMATCH)
    assert wrong.case.shape == (2048, 2048) and wrong.fields["metrics"]["accuracy"] is False
    assert _only(records, Category.CUDA_OOM, "llama_rms").fields["role"] == "baseline"


def test_kernel_named_but_never_started_and_target_from_the_log() -> None:
    records, summary = _ingest(SYNTHETIC)
    never = _only(records, Category.NOT_RUN)
    assert never.case.kernel == "softmax" and never.fields["name_known"] is True
    assert summary.target == "sm_90"
    assert {r.target for r in records} == {"sm_90"}  # also records found before the line said so


# -- robustness -------------------------------------------------------------------------------------


def test_unknown_text_is_counted_and_skipped() -> None:
    log = "hello there\nRunning input shard 1/2: inputs 0 to 3 (of 8 total)\nsomething odd 42\n\n"
    records, summary = _ingest(log)
    assert records == []
    assert (summary.lines, summary.understood, summary.skipped) == (4, 2, 2)
    assert [n for n, _ in summary.skipped_examples] == [1, 3]


def test_hostile_text_never_breaks_the_parser() -> None:
    huge = b"x" * (MAX_LINE_BYTES * 3) + b"\n"
    log = b"".join(
        [
            b"\x1b[31mRunning input shard 1/2: inputs 0 to 3 (of 8 total)\x1b[0m\n",
            b"::error::pwned\n",
            b"\xed\xa0\x80 lone surrogate bytes \xff\xfe invalid utf-8 \x00 nul\n",
            huge,
            b"[1s] Timeout after 60s compiling Config(block_sizes=" + b"[" * 5000 + b")\n",
            b"Traceback (most recent call last):\n",
            b'  File "/x/helion/runtime/k.py", line 1, in f\n' * 20000,
            b"RuntimeError: \x1b[1mboom\x1b[0m \xed\xb2\x80\n",
        ]
    )
    records, summary = _ingest(log)
    assert summary.parser_errors == 0
    assert summary.oversized == 1
    timeout = _only(records, Category.COMPILE_TIMEOUT)
    assert timeout.config is None and timeout.config_repr is not None  # kept as text only
    error = _only(records, Category.RUNTIME_ERROR)
    assert "\x1b" not in error.message and "boom" in error.message
    assert error.fields["shard"] == "1/2"  # the colored shard line was understood
    assert len(error.fields["innermost_frame"]) < 100
    skipped = [text for _, text in summary.skipped_examples]
    assert skipped[0] == "::error::pwned"
    assert "\ufffd" in skipped[1] and "\x00" not in skipped[1]


def test_memory_stays_bounded_on_a_long_log(tmp_path: Path) -> None:
    path = tmp_path / "long.log"
    with path.open("wb") as f:
        for _ in range(300):  # ~1.2 MB
            f.write(SYNTHETIC.encode())
    written: list[int] = []
    tracemalloc.start()
    try:
        with path.open("rb") as stream:
            summary = ingest_stream(stream, "long.log", lambda line: written.append(len(line)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert summary.parser_errors == 0 and summary.tables == 300 and len(written) == summary.records
    # Bounded by the parser's state, not by the log (1.2 MB) or its records (~3 MB of JSON).
    assert peak < 1_000_000, peak


def test_config_parsing_takes_literals_only() -> None:
    assert parse_config("helion.Config(num_warps=4, block_sizes=[1, 2])") == {
        "num_warps": 4,
        "block_sizes": [1, 2],
    }
    assert parse_config("Config(x=__import__('os').getcwd())") is None
    assert parse_config("Config(1, 2)") is None
    assert parse_config("Other(x=1)") is None
    assert find_config_call("@helion.kernel(config=helion.Config(a=[1, (2)], b='x)'), s=1)") == (
        "helion.Config(a=[1, (2)], b='x)')"
    )


def test_table_cells() -> None:
    assert tables.shape_of("(256, 256, 256)") == (256, 256, 256)
    assert tables.shape_of("llama-7b") == ()
    assert tables.cell_value("0.0057 (±1.2%)") == 0.0057
    assert tables.cell_value("CUDA OOM") is None
    assert tables.cell_value("False") is False


# -- the command -----------------------------------------------------------------------------------


@needs_seed_logs
def test_cli_writes_valid_records_and_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "ingested.jsonl"
    assert main(["ingest-log", str(GEMM), str(SOFTMAX), "-o", str(out)]) == 0
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 7
    records = [Record.from_json(line) for line in lines]
    for line in lines:
        parse_record(line)
        json.loads(line)
    assert {r.fields["log_file"] for r in records} == {str(GEMM), str(SOFTMAX)}
    printed = capsys.readouterr().out
    assert "7 records" in printed
    assert "not-run                6" in printed and "runtime-error          1" in printed
    assert "944 lines, 944 understood, 0 skipped" in printed
    assert not list(out.parent.glob(".*.tmp"))  # the temp file became the output


def test_cli_unreadable_file_exits_2_and_keeps_the_old_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.log"
    good.write_text(SYNTHETIC, encoding="utf-8")
    out = tmp_path / "ingested.jsonl"
    out.write_text("previous\n", encoding="utf-8")
    missing = tmp_path / "missing.log"
    assert main(["ingest-log", str(good), str(missing), "-o", str(out)]) == 2
    assert str(missing) in capsys.readouterr().err
    assert out.read_text(encoding="utf-8") == "previous\n"
    assert main(["ingest-log", str(tmp_path), "-o", str(out)]) == 2  # a directory
    assert str(tmp_path) in capsys.readouterr().err
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_log_full_of_failures_still_exits_0(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(SYNTHETIC, encoding="utf-8")
    out = tmp_path / "o.jsonl"
    assert main(["ingest-log", str(log), "-o", str(out)]) == 0
    categories = [Record.from_json(line).category for line in out.read_text().splitlines()]
    assert Category.NUMEL_OVERFLOW in categories and Category.CUDA_OOM in categories


# -- escapes, interleaved processes, an unwritable output (issue 23) --------------------------------

#: One of each kind of ECMA-48 escape sequence, and what is left of the text around it.
ESCAPES = [
    ("\x1b]0;kcheck: gemm\x07Traceback", "Traceback"),  # OSC, BEL-terminated (xterm title)
    ("\x1b]2;title\x1b\\x", "x"),  # OSC, ST-terminated
    ("\x1b]8;;https://example.com\x1b\\link\x1b]8;;\x1b\\", "link"),  # OSC 8 hyperlink
    ("\x1bPq#0;2;0;0;0\x1b\\x", "x"),  # DCS (sixel)
    ("\x1b_Gf=100;AAAA\x1b\\x", "x"),  # APC (kitty graphics)
    ("\x1bXsos\x1b\\x\x1b^pm\x1b\\", "x"),  # SOS, PM
    ("\x1b[1;31mred\x1b[0m", "red"),  # CSI SGR
    ("\x1b[2K\x1b[1A\x1b[?25lx\x1b[?25h", "x"),  # CSI erase, cursor up, private modes
    ("\x1b[38;2;255;0;0mrgb\x1b[m", "rgb"),  # CSI truecolor
    ("\x1b[1 qcursor", "cursor"),  # CSI with an intermediate byte
    ("\x9b31mc1\x9b0m \x9d0;t\x9cok", "c1 ok"),  # 8-bit CSI and OSC/ST
    ("\x1b(B\x1b)0charset", "charset"),  # nF: designate character sets
    ("\x1b7\x1b8\x1bM\x1bc\x1b=\x1b>x", "x"),  # Fp / Fe / Fs two-character escapes
    ("cut \x1b[31", "cut "),  # a control sequence cut off at the line's end
    ("cut \x1b]0;no terminator", "cut "),  # an unterminated control string
    ("tab\tand\x00nul\x07bel\x7fdel\x85nel", "tab\tandnulbeldelnel"),  # controls; tab kept
]


@pytest.mark.parametrize(("raw", "clean_text"), ESCAPES)
def test_every_kind_of_escape_sequence_is_removed(raw: str, clean_text: str) -> None:
    from checker.ingest.reader import clean

    assert clean(raw) == clean_text


def test_titles_colors_and_redraws_do_not_hide_or_change_records() -> None:
    """Every line behind an xterm title (``ESC ] 0;title BEL``, as a shell prompt or a progress
    tool sets it), colored, and the tqdm lines redrawn with erase-line and cursor-up: the same
    records as the plain log (before: none of them)."""
    plain, plain_summary = _ingest(SYNTHETIC * 3)
    dressed = []
    for n, line in enumerate((SYNTHETIC * 3).splitlines()):
        if "%|" in line:
            line = f"\x1b[2K\x1b[1A\x1b[32m{line.replace('|', chr(27) + '[1m|' + chr(27) + '[22m', 1)}\x1b[0m"
        dressed.append(f"\x1b]0;run.py: line {n}\x07\x1b]2;gemm\x1b\\{line}")
    records, summary = _ingest("\n".join(dressed) + "\n")
    assert len(plain) == 36
    key = [(r.category, r.case.name, r.signature, r.fields.get("input_index")) for r in plain]
    assert [(r.category, r.case.name, r.signature, r.fields.get("input_index")) for r in records] == key
    assert (summary.lines, summary.understood, summary.skipped) == (
        plain_summary.lines,
        plain_summary.understood,
        plain_summary.skipped,
    )


def _numel_traceback(numel: int, impl: str) -> list[str]:
    return f"""INFO:tritonbench.utils.triton_op:Took 0.05ms to get benchmark function for {impl}
Traceback (most recent call last):
  File "/opt/conda/lib/python3.11/site-packages/triton/language/core.py", line 42, in wrapper
    return fn(*args, **kwargs)
  File "/opt/conda/lib/python3.11/site-packages/triton/_utils.py", line 58, in validate_block_shape
    raise ValueError(f"numel ({{numel}}) exceeds triton maximum tensor numel ({{TRITON_MAX_TENSOR_NUMEL}})")
ValueError: numel ({numel}) exceeds triton maximum tensor numel (1048576)

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/opt/conda/lib/python3.11/site-packages/helion/runtime/kernel.py", line 272, in __call__
    return self.bind(args)(*args)
  File "/opt/conda/lib/python3.11/site-packages/triton/compiler/compiler.py", line 300, in compile
    module = src.make_ir(target, options, codegen_fns, module_map, context)
triton.compiler.errors.CompilationError: at 12:4:
def _helion_{impl}(x, out, _BLOCK_SIZE_0: tl.constexpr):
    # src[{impl}.py:40]: blk = x[tile_m, :].to(torch.float32)
    load = tl.load(x + indices_0[:, None] * 4096, mask_0[:, None])
    ^
ValueError('numel ({numel}) exceeds triton maximum tensor numel (1048576)')
""".splitlines()


NUMELS = {"rank0": 2097152, "rank1": 4194304, "rank2": 8388608}


@pytest.mark.parametrize("order", ["round-robin", "bursts"])
def test_interleaved_tracebacks_of_three_processes_are_three_records(order: str) -> None:
    """Three ranks print a numel overflow at once, each line behind its ``[rankN]: `` prefix, as
    PyTorch distributed prints them (one rank's traceback lines between another's): three
    records, each with its own numel, implementation and message, none with another's text."""
    blocks = {
        rank: [f"[{rank}]: {line}" for line in _numel_traceback(numel, f"helion_k{rank[-1]}")]
        for rank, numel in NUMELS.items()
    }
    lines: list[str] = ["Running input shard 1/1: inputs 0 to 3 (of 4 total)"]
    step = 1 if order == "round-robin" else 3
    for start in range(0, max(len(b) for b in blocks.values()), step):
        for block in blocks.values():
            lines += block[start : start + step]
    records, summary = _ingest("\n".join(lines) + "\n")
    assert summary.skipped == 0 and summary.processes == ("rank0", "rank1", "rank2")
    assert [r.category for r in records] == [Category.NUMEL_OVERFLOW] * 3, [r.case.name for r in records]
    for rec in records:
        rank = rec.fields["process"]
        assert rec.fields["numel"] == NUMELS[rank]
        assert rec.case.kernel == f"helion_k{rank[-1]}" and rec.case.config.startswith(f"{rank}-")
        others = [str(n) for r, n in NUMELS.items() if r != rank]
        assert not any(n in rec.message for n in others), rec.message
        assert rec.message.count(str(NUMELS[rank])) >= 1 and "[rank" not in rec.message


def test_a_carriage_return_segment_belongs_to_its_lines_process() -> None:
    """torchrun prefixes each line it reads once: a tqdm redraw's later segments carry no prefix
    and are still that rank's."""
    log = (
        "[rank1]: Running input shard 2/2: inputs 4 to 7 (of 8 total)\n"
        "[rank1]:   0%|          | 0/4 [00:00<?, ?it/s]\r 50%|#####     | 2/4 [00:01<00:01, 2it/s]\n"
        "[rank1]: Killed\n"
    )
    records, _ = _ingest(log)
    died = _only(records, Category.WORKER_DIED)
    assert died.fields["process"] == "rank1" and died.fields["input_index"] == 6
    shard = _only(records, Category.NOT_RUN)
    assert shard.fields["inputs_not_completed"] == [6, 7]


def test_cli_unwritable_output_exits_5_and_keeps_the_old_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "a.log"
    log.write_text(SYNTHETIC, encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("previous\n")
    out = blocker / "ingested.jsonl"
    assert main(["ingest-log", str(log), "-o", str(out)]) == 5
    err = capsys.readouterr().err
    [line] = err.strip().splitlines()
    assert line.startswith(f"kcheck ingest-log: cannot write {out}: "), line
    assert blocker.read_text() == "previous\n"
