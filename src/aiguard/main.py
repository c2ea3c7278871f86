"""Entry point. `aiguard stamp` (the commit hook) skips click: it must start fast."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing itself is not imported: it would cost every commit ~3 ms
if TYPE_CHECKING:
    from typing import NoReturn


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if argv is None and args[:1] == ["stamp"]:
        # A hook run is short: a young-generation collection every 700 allocations costs its
        # imports and matching 2-3 ms and frees next to nothing. Rarer, not off: a huge
        # commit's cycles are still collected.
        import gc

        gc.set_threshold(50_000, *gc.get_threshold()[1:])
    if args[:1] == ["stamp"] and _stamp_has_nothing_to_do(args[1:]):
        return 0
    if args[:1] == ["hook-server"]:
        from aiguard.hook import server as hookserver

        return hookserver.serve()
    if args[:1] in (["stamp"], ["notes"]):
        from aiguard.hook import client as hookclient

        if hookclient.served(args):  # a hook command: run by the daemon's hook server if one is up
            code = hookclient.call(args)
            if code is None:
                from aiguard.hook import run as hook

                code = hook.run(args)
            if argv is None:
                _exit_now(code)
            return code
    return _run_cli(args)


def _exit_now(code: int) -> NoReturn:
    """End a hook's own process without tearing the interpreter down: unloading the hook's
    modules costs a commit ~5 ms, and everything the hook wrote is closed by now (the message
    file, the pending record, the ledger, its git processes reaped); only stdio may hold bytes."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a reader that went away, a closed stream: nothing to keep
            pass
    os._exit(code)


def _stamp_has_nothing_to_do(args: list[str]) -> bool:
    """The commit-msg run of a commit without an editor (`-m`, `-F`, `--no-edit`): the message is
    as prepare-commit-msg stamped it. Said before importing the stamp (or asking the hook
    server), which costs more than the rest of the run: the pre-commit framework's
    aiguard-commit-msg id runs Python for every commit. The same test as aiguard.hook.stamp.main's."""
    if args[:2] == ["--stage", "commit-msg"]:
        rest = args[2:]
    elif args[:1] == ["--stage=commit-msg"]:
        rest = args[1:]
    else:
        return False
    return 1 <= len(rest) <= 3 and "-h" not in rest and "--help" not in rest and os.environ.get("GIT_EDITOR") == ":"


def _run_cli(args: list[str]) -> int:
    """The click commands, with every error a user can meet as one `aiguard:` line on stderr."""
    import click

    from aiguard.cli.app import cli

    try:
        code = cli.main(args=args, prog_name="aiguard", standalone_mode=False)
        return code if isinstance(code, int) else 0
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:  # a group alone: its help (click 8.2+)
        exc.show()
        return exc.exit_code
    except click.ClickException as exc:
        print(_usage_message(exc), file=sys.stderr)
        return exc.exit_code
    except click.Abort:
        return _say("interrupted", 130)
    except BrokenPipeError:  # `aiguard log | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python flushes stdout again at exit
        return 1
    except OSError as exc:
        return _say(_os_message(exc), 2)
    except Exception as exc:
        # A module that raised one has loaded aiguard.core.errors: starting the CLI imports nothing more.
        errors = sys.modules.get("aiguard.core.errors")
        if errors is None or not isinstance(exc, errors.AiguardError):
            raise  # a bug: the traceback is what a report needs
        return _say(str(exc), 2)


def _say(message: str, code: int) -> int:
    print(f"aiguard: {message}", file=sys.stderr)
    return code


def _usage_message(exc) -> str:
    """click's usage error as one line, saying where to read more."""
    text = "; ".join(line.strip() for line in exc.format_message().splitlines() if line.strip()).rstrip(".")
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "aiguard"
    return f"{where}: {text}; see `{where} --help`"


def _os_message(exc: OSError) -> str:
    """A file the system refused, named, with what to do about it."""
    import errno

    path = exc.filename
    reason = (exc.strerror or str(exc)).lower()
    if exc.errno == errno.ENOSPC:
        return f"{path or 'output'}: the disk is full; free some space or write elsewhere"
    if path is None:
        return f"{reason} ({exc.__class__.__name__})"
    if exc.errno == errno.ENOENT and path == "git":  # subprocess names the program it could not run
        return "git is not installed or not on PATH; install git"
    folder = os.path.dirname(os.path.abspath(path))
    if exc.errno == errno.ENOENT and not os.path.isdir(folder):
        hint = f"the folder {folder} does not exist; create it or give another path"
    elif exc.errno == errno.ENOENT:
        hint = "no such file or folder; check the path"
    elif exc.errno == errno.EISDIR:
        hint = "that is a folder; give a file's path"
    elif exc.errno == errno.EEXIST:
        hint = "a file is where a folder should be; move it away"
    elif exc.errno == errno.ENOTDIR:
        hint = "a part of that path is a file, not a folder; check the path"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        hint = "permission denied; check the file's and its folder's permissions"
    else:
        hint = reason
    return f"{path}: {hint}"


if __name__ == "__main__":
    raise SystemExit(main())
