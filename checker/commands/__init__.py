"""The ``kcheck`` subcommands other than ``run`` (checker/cli.py dispatches): ``report`` and
``post`` (report.py), ``triage``, ``minimize``, ``repro``, ``ingest-log``, ``bench``, ``compare``
and ``plot``. Top floor: a command may use every room below it; no room imports a command."""
