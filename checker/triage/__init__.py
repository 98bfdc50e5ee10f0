"""From a red run to the cause: failures grouped by signature, minimal failing configs and
standalone reproducers (docs/triage.md)."""
