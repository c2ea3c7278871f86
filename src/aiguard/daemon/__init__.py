"""The daemon: follows assistants' logs and the clipboard, records into the ledger, and starts
the hook server; its service files (systemd, launchd)."""
