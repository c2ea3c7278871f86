"""Audit: what the history says (history, foreign marks of other tools), the views and exports
(views, report), and CI enforcement of the repository's policy (policy, verify)."""
