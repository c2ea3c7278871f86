"""The one base class of the errors a user can meet and act on.

Each layer raises its own subclass (GitError, LedgerError, PolicyError, ...), whose message
names the file, key or commit and what to do. aiguard.main turns any of them into one
`aiguard: <message>` line on stderr and exit 2; anything else is a bug and keeps its traceback.
"""


class AiguardError(Exception):
    """An error a user can meet: its message is the whole story, one line."""
