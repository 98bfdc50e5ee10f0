"""Golden expect files for the generated Triton code (docs/goldens.md).

One module per concern: ``normalize`` (what may differ between machines but not between code
versions), ``paths`` (case id -> confined, collision-free file path), ``store`` (file format,
atomic writes), ``summary`` (structural counts and the capped unified diff), ``expect``
(FileCheck expectations), ``cases`` (which cases a spec tracks, and generating their code) and
``check`` (one golden item's outcome as a Record). ``checker.golden_plugin`` wires them into
pytest.
"""
