"""A run's results as data: reading and validating results.jsonl lines (``jsonl``, ``validate``),
merging shards and finding lost records (``merge``), comparing with a baseline and the job's
exit status (``baseline``, ``verdict``), and grouping failures by cause (``group``, with not-run
reasons and result tables in ``context``). The writers (report/), the triage views (triage/) and
the performance views (perf/) read results through this floor and never each other."""
