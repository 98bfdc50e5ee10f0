"""The pytest plugin, run in-process with pytester on tiny real Helion kernels."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from conftest import kernel_source

from checker.categories import Category
from checker.results.jsonl import read_records

#: For tests whose point is not the supervised workers: the cases run in the pytest process, and
#: no case or compile worker is started (each start imports torch, triton and Helion anew).
#: The isolated path keeps its own tests here (ids_outcomes_and_reports, the segfault, run-timeout
#: and pytest-timeout tests), in test_faults.py and in test_stage_cache.py.
IN_PROCESS = ("--isolate", "off", "--compile", "off")


def _records(p: pytest.Pytester) -> list:
    return list(read_records(p.path / "reports" / "results.jsonl"))


def test_ids_outcomes_and_reports(kernel_dir: pytest.Pytester) -> None:
    result = kernel_dir.runpytest("--configs", "2", "-p", "no:xdist")
    # 2 shapes x 2 dtypes x (2 named + 2 sampled); the full shape is codegen-only on CPU
    result.assert_outcomes(passed=8, skipped=8)
    result.stdout.fnmatch_lines(["*kcheck summary*", "*add*16*8*8*"])
    items = kernel_dir.runpytest("--configs", "2", "--collect-only", "-q").stdout.lines
    assert "kernels/add.py::add[8x16-fp32-default]" in items
    assert "kernels/add.py::add[64x96-fp16-cfg1]" in items
    records = _records(kernel_dir)
    assert len(records) == 16
    assert {r.case.name for r in records} == {i.split("::")[1] for i in items if "::" in i}
    small = [r for r in records if r.case.shape == (8, 16)]
    assert all(r.category is Category.PASSED and r.mode == "interpreter" for r in small)
    assert all(r.comparison is not None and r.comparison.mismatches == 0 for r in small)
    full = [r for r in records if r.case.shape == (64, 96)]
    assert all(r.category is Category.NOT_RUN and "codegen" in r.stages for r in full)
    junit = ET.parse(kernel_dir.path / "reports" / "junit.xml").getroot()
    suite = junit if junit.tag == "testsuite" else junit.find("testsuite")
    assert suite is not None and suite.get("tests") == "16" and suite.get("skipped") == "8"
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert {"kernel", "shape", "dtype", "config", "category", "target"} <= set(props)


def test_k_selects_and_marker_separates(kernel_dir: pytest.Pytester) -> None:
    kernel_dir.makepyfile(test_own="def test_own():\n    pass\n")
    result = kernel_dir.runpytest("--configs", "0", "-k", "fp16 and wide", "-p", "no:xdist", *IN_PROCESS)
    result.assert_outcomes(passed=1, skipped=1)
    result = kernel_dir.runpytest("--configs", "0", "-m", "not kcheck", "-p", "no:xdist", *IN_PROCESS)
    result.assert_outcomes(passed=1)


def test_broken_kernel_module_is_a_collection_error_and_others_run(kernel_dir: pytest.Pytester) -> None:
    (kernel_dir.path / "kernels" / "broken.py").write_text(
        "import helion\nraise RuntimeError('boom in module')\n"
    )
    (kernel_dir.path / "kernels" / "nospec.py").write_text("X = 1\n")
    result = kernel_dir.runpytest("--configs", "0", "--shapes", "small", "-p", "no:xdist", *IN_PROCESS)
    result.assert_outcomes(passed=4, failed=2)
    result.stdout.fnmatch_lines(["*collection-error*broken.py*failed to import*", "*boom in module*"])
    result.stdout.fnmatch_lines(["*nospec.py*defines neither SPEC nor SPECS*"])
    cats = [r.category for r in _records(kernel_dir)]
    assert cats.count(Category.COLLECTION_ERROR) == 2


def test_reference_error_is_recorded(kernel_dir: pytest.Pytester) -> None:
    (kernel_dir.path / "kernels" / "add.py").write_text(
        kernel_source("bad_reference", "def bad_reference(x, y):\n    raise ValueError('ref broke')\n")
    )
    result = kernel_dir.runpytest("--configs", "0", "--shapes", "small", "-p", "no:xdist", *IN_PROCESS)
    result.assert_outcomes(failed=4)
    records = _records(kernel_dir)
    assert {r.category for r in records} == {Category.REFERENCE_ERROR}
    assert "ref broke" in records[0].message


def test_numerical_mismatch_for_a_wrong_kernel(kernel_dir: pytest.Pytester) -> None:
    (kernel_dir.path / "kernels" / "add.py").write_text(
        kernel_source("off_reference", "def off_reference(x, y):\n    return x + y + 1e-2\n")
    )
    # In the pytest process, where torch's trace loggers would reach pytest's capture.
    result = kernel_dir.runpytest("--configs", "0", "--shapes", "small", "-p", "no:xdist", *IN_PROCESS)
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(["*numerical-mismatch*add[8x16-fp32-default]*", "*repro: *-m pytest*"])
    # The report shows what helps: no pages of torch's structured-trace DEBUG lines (pytest 9
    # captures non-propagating loggers too).
    assert "torch.__trace" not in result.stdout.str()
    rec = _records(kernel_dir)[0]
    assert rec.category is Category.NUMERICAL_MISMATCH and rec.signature
    assert rec.comparison is not None and rec.comparison.mismatches == 128


def test_invalid_named_config_is_recorded(kernel_dir: pytest.Pytester) -> None:
    src = kernel_source().replace("block_sizes=[8, 16], num_warps=2", "block_sizes=[8, 16, 4], num_warps=2")
    (kernel_dir.path / "kernels" / "add.py").write_text(src)
    result = kernel_dir.runpytest(
        "--configs", "0", "--shapes", "small", "-k", "wide", "-p", "no:xdist", *IN_PROCESS
    )
    result.assert_outcomes(failed=2)
    assert {r.category for r in _records(kernel_dir)} == {Category.INVALID_CONFIG}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--shapes", "huge"], "invalid choice: 'huge'"),
        (["--configs", "-1"], "--configs must be >= 0"),
        (["--target", "sm_75"], "invalid choice: 'sm_75'"),
    ],
)
def test_bad_option_values_are_usage_errors(
    kernel_dir: pytest.Pytester, args: list[str], message: str
) -> None:
    result = kernel_dir.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{message}*"])


def test_sampled_configs_are_deterministic_per_seed(kernel_dir: pytest.Pytester) -> None:
    def configs(seed: str) -> dict[str, dict]:
        # Sampling happens at collection; the cases run only to write the records that name
        # their configs: one dtype, in the pytest process (no worker to start in each of 3 runs).
        kernel_dir.runpytest(
            *("--configs", "3", "--shapes", "small", "--sweep-seed", seed, "-k", "fp32 and cfg"),
            *(*IN_PROCESS, "-p", "no:xdist"),
        )
        return {r.case.name: r.config for r in _records(kernel_dir) if r.case.config.startswith("cfg")}

    first, again, other = configs("1"), configs("1"), configs("2")
    assert first == again
    assert first != other
    assert all(first.values())


def test_xdist_workers_stream_one_record_per_case(kernel_dir: pytest.Pytester) -> None:
    # The records' way from two xdist workers is the point, not the case workers under them.
    result = kernel_dir.runpytest(*("--configs", "1", "-n", "2", "--dist", "worksteal", *IN_PROCESS))
    result.assert_outcomes(passed=6, skipped=6)
    lines = (kernel_dir.path / "reports" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 12
    workers = {json.loads(line)["worker"] for line in lines}
    assert workers <= {"gw0", "gw1"} and workers


def _with_hostile_inputs(p: pytest.Pytester, body: str) -> None:
    """Make add's input factory misbehave (``body`` runs first) for fp16 cases only."""
    extra = (
        "import os, signal, time\n"
        "_inputs = make_inputs\n"
        "def hostile_inputs(shape, dtype, gen):\n"
        "    if dtype == torch.float16:\n"
        f"        {body}\n"
        "    return _inputs(shape, dtype, gen)\n"
    )
    src = kernel_source(extra=extra).replace("make_inputs=make_inputs", "make_inputs=hostile_inputs")
    (p.path / "kernels" / "add.py").write_text(src)


@pytest.mark.parametrize("isolate", ["on", "off"])
def test_segfaulting_worker_costs_one_record(kernel_dir: pytest.Pytester, isolate: str) -> None:
    """A segfault in a case costs its case worker (isolation, the default) or, without
    isolation, its xdist worker: either way one worker-died record with the signal."""
    _with_hostile_inputs(kernel_dir, "os.kill(os.getpid(), signal.SIGSEGV)")
    result = kernel_dir.runpytest(
        *("--configs", "0", "--shapes", "small", "-n", "2", "-k", "default", "--isolate", isolate)
    )
    result.assert_outcomes(passed=1, failed=1)
    records = {r.case.name: r for r in _records(kernel_dir)}
    assert records["add[8x16-fp32-default]"].category is Category.PASSED
    died = records["add[8x16-fp16-default]"]
    assert died.category is Category.WORKER_DIED and died.repro
    assert died.fields["signal"] == "SIGSEGV", died.fields
    assert ("xdist worker crashed" if isolate == "off" else "worker died (signal SIGSEGV)") in died.message


def test_cpu_case_stuck_in_c_code_is_a_run_timeout(kernel_dir: pytest.Pytester) -> None:
    """An input factory stuck in a C loop: pytest-timeout's signal never runs inside C code, so on CPU
    too each case runs in a supervised worker, killed after --run-timeout (which counts neither
    the worker's start-up nor its compiles); the next case gets a fresh worker and passes."""
    _with_hostile_inputs(kernel_dir, "import itertools; sum(itertools.repeat(1))")
    result = kernel_dir.runpytest(
        *("--configs", "0", "--shapes", "small", "-k", "default", "--run-timeout", "5", "-p", "no:xdist")
    )
    records = {r.case.name: r for r in _records(kernel_dir)}
    assert records["add[8x16-fp16-default]"].category is Category.RUN_TIMEOUT
    assert records["add[8x16-fp16-default]"].fields["timeout_s"] == 5
    # Killed at --run-timeout: the compile's allowance is not added to a case stuck elsewhere
    # (it was: 185 s here, --run-timeout plus three --compile-timeouts).
    assert records["add[8x16-fp16-default]"].fields["seconds"] < 30
    assert records["add[8x16-fp32-default]"].category is Category.PASSED
    result.assert_outcomes(passed=1, failed=1)


def test_pytest_timeout_while_a_worker_owns_a_case_kills_it(kernel_dir: pytest.Pytester) -> None:
    """With isolation, pytest-timeout fired while a case waited on its worker; the busy worker
    then answered each later case with the previous case's record (a real mismatch recorded
    `passed` under another case id). Now the worker is killed, and a record for another case
    is refused."""
    _with_hostile_inputs(kernel_dir, "pass")
    source = (kernel_dir.path / "kernels" / "add.py").read_text()
    source = source.replace(
        "if dtype == torch.float16:", "if dtype == torch.float32:\n        time.sleep(60)\n    if False:"
    )
    (kernel_dir.path / "kernels" / "add.py").write_text(
        source.replace("reference=reference", "reference=lambda x, y: x + y + 1")
    )
    kernel_dir.runpytest(
        *("--configs", "0", "--shapes", "small", "-k", "default", "--isolate", "on"),
        # pytest-timeout's clock also counts the replacement worker's start-up (importing torch),
        # which took over 6 s on a loaded 2-core CI machine: leave the second case room for it.
        *("--timeout", "20", "--compile", "off", "-p", "no:xdist"),
    )
    records = {r.case.name: r for r in _records(kernel_dir)}
    assert len(records) == 2
    assert records["add[8x16-fp32-default]"].category is Category.RUN_TIMEOUT
    # The second case ran in a fresh worker and got its own verdict.
    assert records["add[8x16-fp16-default]"].category is Category.NUMERICAL_MISMATCH


def test_pytest_timeout_becomes_run_timeout(kernel_dir: pytest.Pytester) -> None:
    _with_hostile_inputs(kernel_dir, "time.sleep(30)")
    # --compile off: a CPU run now compiles small shapes too, and the first compile in a process
    # starts the compile worker, which alone can take 2 s; this test is about the run's timeout.
    result = kernel_dir.runpytest(
        *("--configs", "0", "--shapes", "small", "-k", "default", "--timeout", "2"),
        *("--compile", "off", "--isolate", "off", "-p", "no:xdist"),
    )
    result.assert_outcomes(passed=1, failed=1)
    records = {r.case.name: r.category for r in _records(kernel_dir)}
    assert records == {
        "add[8x16-fp32-default]": Category.PASSED,
        "add[8x16-fp16-default]": Category.RUN_TIMEOUT,
    }


def test_two_specs_with_one_name_in_a_module_are_a_collection_error(kernel_dir: pytest.Pytester) -> None:
    """Two specs named `add` in one module gave two items under one node id: pytest said
    "1 failed, 1 passed", results.jsonl kept one `passed` record and the report said no failures."""
    extra = """
    import dataclasses

    def wrong(x, y):
        return x - y
    """
    source = kernel_source(extra=extra) + "\nSPECS = [dataclasses.replace(SPEC, reference=wrong)]\n"
    (kernel_dir.path / "kernels" / "add.py").write_text(source)
    result = kernel_dir.runpytest("--configs", "0", "--shapes", "small", "-p", "no:xdist", *IN_PROCESS)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*kernel name 'add' is already declared earlier in the same module*"])
    records = _records(kernel_dir)
    assert [r.category for r in records if r.case.config == "collection"] == [Category.COLLECTION_ERROR]
    # The first spec's cases still run: one broken declaration hides nothing else.
    assert sum(r.category is Category.PASSED for r in records) == 4


@pytest.mark.parametrize("below", [False, True])
def test_a_reports_dir_that_is_a_file_is_one_usage_error(kernel_dir: pytest.Pytester, below: bool) -> None:
    """It was 54 ``INTERNALERROR>`` lines after collection (issue 23); now one line, exit 4."""
    (kernel_dir.path / "taken").write_text("a file\n")
    target = "taken/reports" if below else "taken"
    result = kernel_dir.runpytest("--configs", "0", "-p", "no:xdist", f"--reports-dir={target}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    err = "\n".join(result.errlines)
    assert "--reports-dir" in err
    assert ("which is a file" if below else "is a file: name a directory") in err
    assert "INTERNALERROR" not in err + "\n".join(result.outlines)


def test_cpu_run_timeout_counts_cpu_seconds_not_waiting(kernel_dir: pytest.Pytester) -> None:
    """Under the interpreter --run-timeout is the case worker's CPU time: a case that spends its
    wall time not computing (as one waiting for a core on a loaded host does; here a sleep)
    passes past --run-timeout, while a case computing past it is killed (the C-loop test)."""
    _with_hostile_inputs(kernel_dir, "time.sleep(4)")
    kernel_dir.runpytest(
        *("--configs", "0", "--shapes", "small", "-k", "default", "--run-timeout", "2", "-p", "no:xdist")
    )
    records = {r.case.name: r for r in _records(kernel_dir)}
    slept = records["add[8x16-fp16-default]"]
    assert slept.category is Category.PASSED, slept.message
    assert records["add[8x16-fp32-default]"].category is Category.PASSED


def test_a_process_that_configured_kcheck_exits_with_its_objects_frozen(tmp_path) -> None:
    """The interpreter's last garbage collection over torch, triton and helion took 1.5 s of every
    xdist worker's and the controller's exit on the 2-core machine (0.2 s frozen): the plugin
    freezes the heap at exit, once per process, whatever the number of configures."""
    import subprocess
    import sys

    script = tmp_path / "probe.py"
    script.write_text(
        "import atexit, gc\n"
        # Registered first, so it runs last: it sees what the plugin's handler did.
        "atexit.register(lambda: print('frozen at exit:', gc.get_freeze_count() > 0, flush=True))\n"
        "import pytest\n"
        "for _ in range(2):\n"
        "    pytest.main(['-q', '-p', 'no:cacheprovider', '-p', 'no:xdist', '--co', '--configs', '0',"
        " '--reports-dir', 'reports', 'nothing_here'])\n"
        "print('frozen before exit:', gc.get_freeze_count() > 0, flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False
    )
    assert "frozen before exit: False" in done.stdout, done.stdout + done.stderr
    assert "frozen at exit: True" in done.stdout, done.stdout + done.stderr
