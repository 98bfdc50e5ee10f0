"""Plain Triton kernels (checker/triton_spec.py, triton_launch.py, triton_codegen.py, triton_ttir.py).

Unit tests of configs, the sampled space, spec validation and the host module, then whole runs
(``kcheck run`` in a subprocess, CPU): the fault kernels of tests/triton_faults produce each
category they claim for real, and the Liger-Kernel specs of tests/triton_kernels pass with their
goldens (normalized TTIR).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import triton
import triton.language as tl

from checker.spec import DEFAULT, SpecError
from checker.sweep import sample_configs
from checker.triage.minimize import knob_diff
from checker.triton_codegen import host_module
from checker.triton_launch import TritonConfig
from checker.triton_spec import ConfigSpace, TritonKernel, TritonSpec
from checker.triton_ttir import normalize_ttir

ROOT = Path(__file__).resolve().parents[1]
FAULTS = ROOT / "tests" / "triton_faults"
SUITE = ROOT / "tests" / "triton_kernels" / "specs"
KCHECK = [sys.executable, "-m", "checker.cli", "run"]


@triton.jit
def _copy(x_ptr, y_ptr, n, BLOCK_SIZE: tl.constexpr):
    offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)


@triton.autotune(
    configs=[triton.Config({"BLOCK_SIZE": 32}), triton.Config({"BLOCK_SIZE": 64}, num_warps=2)], key=["n"]
)
@triton.jit
def _copy_tuned(x_ptr, y_ptr, n, BLOCK_SIZE: tl.constexpr):
    offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)


def _launch(kernel, x, *, BLOCK_SIZE):
    y = torch.empty_like(x)
    kernel[(triton.cdiv(x.numel(), BLOCK_SIZE),)](x, y, x.numel(), BLOCK_SIZE=BLOCK_SIZE)
    return y


def _launch_tuned(kernel, x):
    y = torch.empty_like(x)
    kernel[lambda meta: (triton.cdiv(x.numel(), meta["BLOCK_SIZE"]),)](x, y, x.numel())
    return y


def _spec(**kw):
    base = dict(
        name="copy",
        kernel=TritonKernel(_copy, _launch, space={"BLOCK_SIZE": [16, 32, 64], "num_warps": [1, 2, 4]}),
        reference=lambda x: x,
        make_inputs=lambda shape, dtype, gen: (torch.randn(shape, generator=gen).to(dtype),),
        shapes=[(4096,)],
        small_shapes=[(100,)],
        dtypes=[torch.float32],
        configs={"b32": triton.Config({"BLOCK_SIZE": 32}, num_warps=2, num_stages=1)},
    )
    base.update(kw)
    return TritonSpec(**base)


def test_config_is_flat_and_round_trips():
    cfg = TritonConfig.of(triton.Config({"BLOCK_SIZE": 128}, num_warps=8, num_stages=2))
    assert cfg.config == {"BLOCK_SIZE": 128, "num_warps": 8, "num_stages": 2}
    assert repr(cfg) == "triton.Config({'BLOCK_SIZE': 128}, num_warps=8, num_stages=2)"
    assert TritonConfig.of(cfg.config) == cfg  # a record's config rebuilds it
    import helion

    assert TritonConfig.of(helion.Config(**cfg.config)) == cfg  # what triage probes and repro pass
    # Each kwarg and option is its own knob for the minimal-failing-config search.
    assert [k.name for k in knob_diff(cfg.config, {"BLOCK_SIZE": 32, "num_warps": 8, "num_stages": 3})] == [
        "BLOCK_SIZE",
        "num_stages",
    ]


def test_config_with_pre_hook_is_refused():
    with pytest.raises(SpecError, match="pre_hook"):
        TritonConfig.of(triton.Config({"BLOCK_SIZE": 1}, pre_hook=lambda nargs: None))
    with pytest.raises(SpecError, match="config 'bad'"):
        _spec(configs={"bad": triton.Config({"BLOCK_SIZE": 1}, maxnreg=64)}).validate()


def test_sampling_is_seeded_and_count_independent():
    bound = _spec().kernel.bind((torch.empty(100),))
    three = sample_configs(bound.config_spec, 3, seed=7)
    six = sample_configs(bound.config_spec, 6, seed=7)
    assert three == six[:3]  # cfgK is the K-th draw whatever the count
    assert sample_configs(bound.config_spec, 6, seed=8) != six
    for cfg in six:
        assert cfg.kwargs_dict["BLOCK_SIZE"] in (16, 32, 64) and cfg.num_warps in (1, 2, 4)
        assert cfg.num_stages == 3  # left out of the space: triton.Config's default


def test_space_knobs_may_depend_on_the_inputs_and_reject_draws():
    space = ConfigSpace(
        {
            "BLOCK_SIZE": lambda x: [triton.next_power_of_2(x.shape[0]) * k for k in (1, 2)],
            "num_warps": [1, 8],
        },
        where=lambda cfg, x: not (cfg["num_warps"] == 8 and cfg["BLOCK_SIZE"] < 256),
    )
    drawn = space.sample((torch.empty(100),), 20, seed=1)
    assert {c.kwargs_dict["BLOCK_SIZE"] for c in drawn} <= {128, 256}
    assert all(not (c.num_warps == 8 and c.kwargs_dict["BLOCK_SIZE"] < 256) for c in drawn)
    never = ConfigSpace({"num_warps": [1]}, where=lambda cfg, x: False).sample((torch.empty(1),), 1, 0)
    assert isinstance(never[0], SpecError)


def test_autotune_config_list_is_a_config_space():
    spec = _spec(name="copy_tuned", kernel=TritonKernel(_copy_tuned, _launch_tuned), configs={})
    spec.validate()
    assert list(spec.configs) == ["autotune0"]  # by default the first config only is named
    assert spec.named_config("autotune1").config == {"BLOCK_SIZE": 64, "num_warps": 2, "num_stages": 3}
    with pytest.raises(KeyError):
        spec.named_config("autotune2")
    # --configs N draws from the rest of the list, a prefix of one seeded shuffle.
    assert spec.drawn_configs(5, seed=3) == ["autotune1"]
    assert spec.drawn_configs(0, seed=3) == []
    assert spec.parameter_names() == ["x"]
    # DEFAULT of an autotuned kernel without default=: its first config.
    assert spec.kernel.bind((torch.empty(8),)).config_spec.default_config() == spec.configs["autotune0"]
    picked = _spec(kernel=TritonKernel(_copy_tuned, _launch_tuned), configs={}, autotune_named=[1])
    assert list(picked.configs) == ["autotune1"] and picked.drawn_configs(3, seed=0) == ["autotune0"]
    by_predicate = _spec(
        kernel=TritonKernel(_copy_tuned, _launch_tuned),
        configs={},
        autotune_named=lambda cfg: cfg.num_warps == 2,
    )
    assert list(by_predicate.configs) == ["autotune1"]
    with pytest.raises(SpecError, match=r"autotune_named \[5\] out of range"):
        _spec(kernel=TritonKernel(_copy_tuned, _launch_tuned), configs={}, autotune_named=[5]).validate()


def test_autotune_draws_are_seeded_and_count_independent():
    from checker.triton_spec import draw_autotune

    thirty = draw_autotune(30, {0}, 30, seed=11)
    assert sorted(thirty) == list(range(1, 30))  # each config once, never a named one
    assert draw_autotune(30, {0}, 4, seed=11) == thirty[:4]
    assert draw_autotune(30, {0}, 4, seed=12) != thirty[:4]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(kernel=TritonKernel(object(), _launch)), "builtins.object, not a Triton kernel: pass"),
        (
            dict(configs={"b": triton.Config({"BLOCKSIZE": 32})}),
            "'BLOCKSIZE' is not a parameter of the launcher",
        ),
        (dict(configs={"d": DEFAULT}), "DEFAULT config needs TritonKernel"),
        (dict(kernel=_copy), "kernel must be a TritonKernel"),
        (dict(mutates=["y"]), "not a parameter of the kernel"),
    ],
)
def test_validation_names_the_problem(change, message):
    with pytest.raises(SpecError, match=message):
        _spec(**change).validate()


def test_host_module_quotes_the_code_it_depends_on():
    spec = _spec()
    code = host_module(spec.kernel, spec.configs["b32"])
    assert "def _copy(*args, _launcher=None):" in code
    assert "CONFIG = {'BLOCK_SIZE': 32, 'num_warps': 2, 'num_stages': 1}" in code
    # The kernel's and the launcher's source are part of the text the compile cache keys on.
    assert "# | def _copy(x_ptr, y_ptr, n, BLOCK_SIZE: tl.constexpr):" in code
    assert "# | def _launch(kernel, x, *, BLOCK_SIZE):" in code
    assert code != host_module(spec.kernel, TritonConfig.of({"BLOCK_SIZE": 64}))
    compile(code, "<host>", "exec")


def test_normalize_ttir_drops_locations_only():
    raw = (
        '#loc = loc("/home/a/k.py":12:0)\n'
        "module {\n"
        '  tt.func public @k(%arg0: !tt.ptr<f32> {tt.divisibility = 16 : i32} loc("/x/k.py":12:0)) {\n'
        "    %0 = tt.get_program_id x : i32 loc(#loc2)\n"
        "    tt.return loc(callsite(#loc3 at #loc4))   \r\n"
        "  } loc(#loc)\n"
        "} loc(#loc)\n"
        '#loc2 = loc("/home/a/k.py":13:4)\n'
    )
    assert normalize_ttir(raw) == (
        "module {\n"
        "  tt.func public @k(%arg0: !tt.ptr<f32> {tt.divisibility = 16 : i32}) {\n"
        "    %0 = tt.get_program_id x : i32\n"
        "    tt.return\n"
        "  }\n"
        "}\n"
    )


def _run(args: list[str], tmp_path: Path, timeout: float = 600) -> tuple[int, list[dict], str]:
    reports = tmp_path / "reports"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [*KCHECK, *args, "-n", "0", "--no-cache", f"--reports-dir={reports}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    path = reports / "results.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    return proc.returncode, records, proc.stdout + proc.stderr


def test_fault_kernels_fail_with_their_categories(tmp_path):
    rc, records, out = _run([str(FAULTS), "--configs", "0", "-k", "not golden"], tmp_path)
    assert rc == 1, out
    got = {r["case"]["name"]: r for r in records}
    expected = {
        "tri_numel[100-fp32-ok]": "passed",
        "tri_numel[100-fp32-huge]": "numel-overflow",
        "tri_numel[2097152-fp32-huge]": "numel-overflow",
        "tri_numel[2097152-fp32-ok]": "not-run",
        "tri_smem[16x16x16-fp32-small]": "passed",
        "tri_smem[16x16x16-fp32-big]": "out-of-resources",
        "tri_smem[512x512x512-fp32-big]": "out-of-resources",
        "tri_wrong[64-fp32-b32]": "numerical-mismatch",
    }
    for name, category in expected.items():
        assert got[name]["category"] == category, (name, got[name]["message"])
    numel = got["tri_numel[100-fp32-huge]"]
    assert numel["fields"]["numel"] == 1 << 21 and numel["fields"]["block_shape"] == [1 << 21]
    # The kernel's own file and line: a hand-written kernel has no Helion `# src` comments.
    where = {k: numel["fields"].get(k) for k in ("source_file", "source_line")}
    assert where == {"source_file": "faults.py", "source_line": 21}
    assert numel["fields"]["source"] == "offs = tl.program_id(0) * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)"
    assert numel["config"] == {"BLOCK_SIZE": 1 << 21, "num_warps": 4, "num_stages": 3}
    smem = got["tri_smem[16x16x16-fp32-big]"]["fields"]
    assert smem["resource"] == "shared memory" and smem["required"] > smem["limit"] == 232448
    wrong = got["tri_wrong[64-fp32-b32]"]
    assert wrong["mode"] == "interpreter" and wrong["comparison"]["max_abs_err"] == pytest.approx(1.0)
    assert "tri_wrong[64-fp32-b32]" in wrong["repro"]


def test_golden_ttir_blesses_checks_and_carries_compile_failures(tmp_path):
    golden = tmp_path / "golden"
    args = [str(FAULTS), "-k", "golden and tri_numel", f"--golden-dir={golden}", "--configs", "0"]
    _, records, out = _run([*args, "--update-golden"], tmp_path)
    by_config = {r["case"]["config"]: r for r in records}
    assert by_config["ok"]["category"] == "passed", out
    # The TTIR of an overflowing config cannot be made: the golden record says why, as a case would.
    assert by_config["huge"]["category"] == "numel-overflow"
    text = (golden / "cpu-sm_90" / "tri_numel" / "2097152-fp32-ok.triton").read_text()
    assert "tt.func public @copy_kernel" in text and "loc(" not in text and "tt.load" in text
    _, records, out = _run(args, tmp_path)
    assert {r["case"]["config"]: r["category"] for r in records} == {"ok": "passed", "huge": "numel-overflow"}


def test_liger_specs_pass_on_cpu_with_goldens(tmp_path):
    """One kernel x two dtypes of the third-party suite, sampled configs included (the whole
    suite runs in .ci/run)."""
    rc, records, out = _run(
        [str(SUITE), "--shapes", "small", "--configs", "1", "-k", "liger_rms_norm and (fp32 or bf16)"],
        tmp_path,
    )
    assert rc == 0, out
    categories = {r["case"]["name"]: r["category"] for r in records}
    assert set(categories.values()) == {"passed"}, categories
    assert any("cfg0" in n for n in categories) and any(
        "golden" not in n and "liger]" in n for n in categories
    )
    assert sum(r["mode"] == "golden" for r in records) == 2  # fp32 and bf16 goldens of 'liger'


WRAPPED = ROOT / "tests" / "triton_wrapped" / "wrapped.py"


def _wrapped() -> tuple[object, dict[str, TritonSpec]]:
    from checker import loader

    module = loader.load(WRAPPED)
    return module, {s.name: s for s in loader.specs_in([WRAPPED])}


def test_every_wrapper_kind_is_unwrapped_by_isinstance():
    from triton.runtime.autotuner import Autotuner, Heuristics

    from checker.triton_launch import unwrap

    module, specs = _wrapped()
    kinds = {name: [type(layer) for layer in unwrap(s.kernel.kernel).layers] for name, s in specs.items()}
    assert kinds == {
        "wrap_heur": [Heuristics],
        "wrap_inner": [],
        "wrap_tuned_heur": [Autotuner, Heuristics],
        "wrap_heur_tuned": [Heuristics, Autotuner],
        "wrap_subclass": [module.LibTuner],
        "wrap_libentry": [module.LibEntry, Heuristics, Autotuner],
    }
    # The subclass is found by isinstance (its class name is not "Autotuner") and sweeps its list.
    assert unwrap(module.subclass_tuned_kernel).autotuner is module.subclass_tuned_kernel
    assert list(specs["wrap_subclass"].configs) == ["autotune0", "autotune3"]
    assert list(specs["wrap_tuned_heur"].configs) == ["autotune1"]  # chosen by predicate

    class Thin:  # a wrapper that is no KernelInterface but holds one
        fn = module.heur_kernel

    assert unwrap(Thin()).jit is module.heur_kernel.fn


def test_heuristics_see_what_tritons_wrappers_show_them():
    from checker.triton_launch import unwrap

    module, _ = _wrapped()
    x = torch.empty(3, 48)
    args = (x, x[0], x, 48, 48, 1.5)
    # Under the autotuner: the heuristic sees the config's BLOCK_N.
    tuned = unwrap(module.tuned_heur_kernel)
    got = tuned.launch_kwargs(args, {}, TritonConfig.of({"BLOCK_N": 16, "num_warps": 1}))
    assert got == {"BLOCK_N": 16, "EVEN_N": True, "num_warps": 1, "num_stages": 3}
    assert not tuned.launch_kwargs(args, {}, TritonConfig.of({"BLOCK_N": 32}))["EVEN_N"]
    # Over the autotuner: computed from the launch arguments, then the config is added.
    outer = unwrap(module.heur_tuned_kernel)
    got = outer.launch_kwargs((x, x[0], x, 3, 48, 48, 1.5), {}, TritonConfig.of({"ROWS": 2}))
    assert got == {"BLOCK_N": 64, "ROWS": 2, "num_warps": 4, "num_stages": 3}
    assert unwrap(module.heur_kernel).computed() == {"BLOCK_N", "EVEN_N"}


def test_an_unsupported_kernel_object_says_what_to_pass():
    with pytest.raises(SpecError) as info:
        _spec(kernel=TritonKernel(torch.nn.Linear(2, 2), _launch)).validate()
    message = str(info.value)
    assert "torch.nn.modules.linear.Linear, not a Triton kernel: pass the @triton.jit function" in message
    assert " at 0x" not in message and "in_features" not in message  # no repr


def test_a_config_knob_the_heuristics_compute_is_refused():
    module, _ = _wrapped()
    with pytest.raises(SpecError, match=r"'BLOCK_N' is computed by the kernel's @triton\.heuristics"):
        _spec(
            kernel=TritonKernel(module.heur_kernel, module.launch_inner, space={"BLOCK_N": [64]}),
            configs={"w2": triton.Config({}, num_warps=2)},
        ).validate()


def test_the_kernel_the_spec_holds_is_the_kernel_that_runs():
    from checker.triton_launch import _resolve

    module, specs = _wrapped()
    inner = specs["wrap_inner"]
    code = host_module(inner.kernel, TritonConfig.of({"BLOCK_N": 64}))
    kernel_ref = next(line for line in code.splitlines() if line.startswith("KERNEL = "))
    assert "'wrap_inner', 'kernel')" in kernel_ref  # through the spec, not module.heur_kernel
    assert _resolve(eval(kernel_ref.split(" = ", 1)[1])) is module.heur_kernel.fn
    # The heuristics change what is compiled: their source is in the text the cache keys on.
    wrapped = host_module(specs["wrap_heur"].kernel, TritonConfig.of({}))
    assert "# == wrapper triton.runtime.autotuner.Heuristics" in wrapped
    assert "# | EVEN_N: def _even(args):" in wrapped
    # A spec built outside a spec module names module attributes, and only the very objects.
    loose = _spec(kernel=TritonKernel(module.heur_kernel.fn, lambda kernel, x, *, BLOCK_SIZE: None))
    with pytest.raises(SpecError, match="declare the spec as SPEC/SPECS of a kernel module"):
        host_module(loose.kernel, TritonConfig.of({"BLOCK_SIZE": 4}))


def test_compile_config_runs_the_launcher_for_benchmarks():
    """What ``--benchmark`` times (checker/perf/bench.py), under the interpreter here."""
    script = (
        "import torch, helion\n"
        "from checker import loader\n"
        f"specs = {{s.name: s for s in loader.specs_in([{str(WRAPPED)!r}])}}\n"
        "spec = specs['wrap_libentry']\n"
        "x, b = spec.make_inputs((5, 40), torch.float32, torch.Generator().manual_seed(0))\n"
        "config = helion.Config(ROWS=2, num_warps=2)\n"
        "fn = spec.kernel.bind((x, b)).compile_config(config, allow_print=False)\n"
        "torch.testing.assert_close(fn(x, b), spec.reference(x, b))\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRITON_INTERPRET": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]


def test_wrapped_kernels_pass_with_goldens_and_autotune_draws(tmp_path):
    """Every wrapper kind, run by kcheck under the interpreter; --configs 1 draws one more
    config of each autotune list; the golden of a wrapped kernel is its TTIR."""
    from checker.sweep import derived_seed

    golden = tmp_path / "golden"
    args = [str(WRAPPED), "--configs", "1", f"--golden-dir={golden}", "--update-golden"]
    rc, records, out = _run([*args, "-k", "3x33 or (golden and fp32)"], tmp_path)
    assert rc == 0, out
    categories = {r["case"]["name"]: r["category"] for r in records}
    assert set(categories.values()) == {"passed"}, categories
    ran = {r["case"]["name"] for r in records if r["mode"] == "interpreter"}
    assert len(ran) == 24, sorted(ran)
    _, specs = _wrapped()
    drawn = specs["wrap_subclass"].drawn_configs(1, derived_seed(0, "wrap_subclass", (3, 33), "fp32"))
    assert {n for n in ran if n.startswith("wrap_subclass[3x33-fp32")} == {
        f"wrap_subclass[3x33-fp32-{c}]" for c in ["autotune0", "autotune3", *drawn]
    }
    text = (golden / "cpu-sm_90" / "wrap_libentry" / "2048x4096-fp32-autotune0.triton").read_text()
    assert "tt.func public @libentry_kernel" in text and "loc(" not in text
