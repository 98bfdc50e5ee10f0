"""Performance: timing records, GPU timing, regression detection, tables and plots (docs/perf.md).

- ``records.py``   :class:`~checker.perf.records.TimingRecord`, the ``timing`` kind of
                   results.jsonl line (not a case record, not a Category); reading and writing
- ``timing.py``    GPU only: ``triton.testing.do_bench`` with input rotation, the device's measured
                   ceilings (copy bandwidth, matmul throughput), bytes and FLOPs of a case
- ``bench.py``     which passing cases to time (pure), and the benchmark process that times them
                   (``python -m checker.perf.bench``)
- ``compare.py``   the regression rule: minimum relative slowdown + modified z-score
- ``ingested.py``  tritonbench result tables read by ``kcheck ingest-log`` -> timing baselines
- ``table.py``     speedup tables and the PR comment's regression section (markdown)
- ``plot.py``      matplotlib (Agg) PNGs: speedup per shape, percent of roofline

``--benchmark`` for pytest and ``kcheck run`` is checker/perf_plugin.py (pytest wiring), and
``kcheck bench | compare | plot`` is checker/commands/perf.py.
"""
