"""Capture: what external models wrote, from assistants' logs and hooks (sources, one module
per assistant; ingest; integrate), from the clipboard (clipboard), or by hand (record)."""
