"""Raw Helion / tritonbench benchmark logs turned into kcheck records (docs/ingest-log.md)."""
