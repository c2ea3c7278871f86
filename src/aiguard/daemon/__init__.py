"""The daemon: follows assistants' logs and the clipboard and records into the ledger (loop),
reading each log from where it left off (tailer); starting, stopping and the service files
(service)."""
