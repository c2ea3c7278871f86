"""What `aiguard doctor` checks: one line per part (the hooks, the line records' sync, the
policy, the ledger and its index, the config, the daemon, the keys, each assistant's logs and
hooks, the clipboard), saying what works and what does not. It reads the state of every
layer, so it sits above them; cli/doctor.py prints its lines."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import NamedTuple

from aiguard import __version__
from aiguard.git import runner
from aiguard.hook import install
from aiguard.store import config, keys, paths


class Line(NamedTuple):
    ok: bool
    part: str
    text: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.part}: {self.text}"


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def check_hooks(repo: str | None) -> list[Line]:
    if not runner.in_repo(repo):
        return [Line(True, "hooks", "not in a git repository (run doctor inside one to check its hooks)")]
    try:
        hooks = install.status(repo)
        where = install.hooks_dir(repo)
    except Exception as exc:
        return [Line(False, "hooks", str(exc))]
    lines = []
    framework = _precommit_framework(repo)
    for name, state in hooks.items():
        if state.startswith("aiguard"):
            chained = " (chains the hook that was there before)" if state.endswith("+chained") else ""
            lines.append(Line(True, f"hook {name}", f"installed in {where}{chained}"))
        elif state == "other" and framework:
            lines.append(Line(True, f"hook {name}", f"run by the pre-commit framework ({framework})"))
        elif name == "pre-push" and state == "missing" and framework:
            lines.append(Line(True, f"hook {name}", "not installed: line records are shared with "
                                                    "`aiguard notes push` (`aiguard install` adds the hook)"))
        elif state == "not-executable":
            lines.append(Line(False, f"hook {name}", f"{where / name} is not executable; run `aiguard install`"))
        else:
            lines.append(Line(False, f"hook {name}", f"not installed in {where}; run `aiguard install`"))
    return lines


def check_notes_sync(repo: str | None) -> list[Line]:
    """Do the line records travel with push and fetch (see commands/install.sync_notes)."""
    if not runner.in_repo(repo):
        return []
    part = "line records"
    if not install.sync_enabled(repo):
        return [Line(True, part, f"not synced ({install.SYNC_KEY}=false): share them with `aiguard notes push`/"
                                 "`aiguard notes fetch`")]
    lines = []
    missing = [r for r in install.remotes(repo)
               if install.fetch_refspec(r) not in install._config_all(f"remote.{r}.fetch", repo)]
    hook = install.status(repo).get("pre-push")
    strategy = install._config_all(install.MERGE_KEY, repo)
    rewrite = install._config_all("notes.rewriteRef", repo)
    if missing:
        lines.append(Line(False, part, f"not fetched from {', '.join(missing)}; run `aiguard install`"))
    if hook is not None and not hook.startswith("aiguard") and not _precommit_framework(repo):
        lines.append(Line(False, part, "not pushed: the pre-push hook is not aiguard's; run `aiguard install`"))
    if strategy and strategy[-1] != install.MERGE_STRATEGY:
        lines.append(Line(False, part, f"{install.MERGE_KEY} is {strategy[-1]!r}: concurrent records of a commit "
                                       f"lose one; `git config {install.MERGE_KEY} {install.MERGE_STRATEGY}`"))
    if any(install.NOTES_REF == value or value.endswith("*") and install.NOTES_REF.startswith(value[:-1])
           for value in rewrite):
        lines.append(Line(False, part, "notes.rewriteRef names refs/notes/aiguard: git would copy old records "
                                       "with their old line numbers over rewritten commits; remove it "
                                       "(aiguard's hooks carry the records)"))
    if not lines:
        remotes = install.remotes(repo)
        where = f"with {', '.join(remotes)}" if remotes else "(no remotes yet)"
        lines.append(Line(True, part, f"pushed and fetched {where}"))
    return lines


def _precommit_framework(repo: str | None) -> str | None:
    """The pre-commit config naming aiguard's hook ids, if this repository has one."""
    try:
        top = Path(runner.toplevel(repo))
    except runner.GitError:
        return None
    conf = top / ".pre-commit-config.yaml"
    try:
        text = conf.read_text(errors="replace")
    except OSError:
        return None
    return str(conf) if "id: aiguard" in text else None


def check_ledger() -> list[Line]:
    from aiguard.store.ledger import Ledger, LedgerError

    path = paths.ledger_path()
    home = paths.home()
    lines = []
    if home.exists() and not home.is_dir():
        lines.append(Line(False, "state folder", f"{home} is a file, not a folder: nothing can be recorded or "
                                                 "stamped (move it away, or set AIGUARD_HOME to a folder)"))
        return lines
    if home.exists() and sys.platform != "win32" and _mode(home) & 0o077:
        lines.append(Line(False, "state folder", f"{home} is mode {_mode(home):o}; expected 700 (chmod 700 it)"))
    if not path.exists():
        lines.append(Line(True, "ledger", f"{path} does not exist yet (nothing recorded)"))
        return lines
    if sys.platform != "win32" and _mode(path) & 0o077:
        lines.append(Line(False, "ledger", f"{path} is mode {_mode(path):o}; expected 600 (chmod 600 it)"))
    try:
        ledger = Ledger.open_readonly(path)
        if ledger is None:
            lines.append(Line(True, "ledger", f"{path} is empty"))
            return lines
        with ledger:
            s = ledger.stats()
        lines.append(Line(True, "ledger", f"{path}: {s['records']} records, {s['fingerprints']} fingerprints "
                                          f"({s['waiting']} not yet in the index file), "
                                          f"schema {s['schema']}, {s['bytes'] // 1024} KiB"))
    except (LedgerError, Exception) as exc:
        lines.append(Line(False, "ledger", f"{path} cannot be read: {exc}"))
    return lines


def check_index() -> list[Line]:
    """The whole fingerprint index file against its checksum (the hook checks only its header)."""
    from aiguard.store.ledger import Ledger, LedgerError

    try:
        ledger = Ledger.open_readonly()
    except LedgerError:
        return []  # the ledger line says so
    if ledger is None or not ledger.index_path.exists():
        return []
    with ledger:
        try:
            return [Line(True, "fingerprint index", ledger.verify_index())]
        except LedgerError as exc:
            return [Line(False, "fingerprint index", str(exc))]


def check_config() -> list[Line]:
    try:
        retention = config.load().retention_days
    except config.ConfigError as exc:
        return [Line(False, "config", str(exc))]
    return [Line(True, "config", f"{paths.config_path()}: records are kept {retention:g} days")]


def check_keys() -> list[Line]:
    where = keys.location()
    env = " (AIGUARD_KEY is set and signs stamps)" if os.environ.get("AIGUARD_KEY") else ""
    if where == "none":
        return [Line(True, "key store", "no keys yet; `aiguard install` or the first record makes them"
                                        + " (OS keyring if one works, else a 0600 file)")]
    try:
        keyset = keys.load()
    except keys.KeyUnavailable as exc:
        return [Line(False, "key store", str(exc))]
    if where == "file":
        path = paths.keyset_path()
        if sys.platform != "win32" and _mode(path) & 0o077:
            return [Line(False, "key store", f"{path} is mode {_mode(path):o}; expected 600 (chmod 600 it)")]
        text = f"no usable OS keyring; keys in the fallback file {path} (mode 600)"
    else:
        text = "keys in the OS keyring"
    return [Line(True, "key store", f"{text}; stamp key {keyset.signing_key()[0]}{env}")]


def check_policy(repo: str | None) -> list[Line]:
    """Whether the repository's policy (what `aiguard verify` enforces) parses and validates."""
    from aiguard.audit import policy

    if not runner.in_repo(repo):
        return []
    try:
        top = Path(runner.toplevel(repo))
        policy.load(top)
    except (policy.PolicyError, runner.GitError) as exc:
        return [Line(False, "policy", f"{exc} (`aiguard verify` fails on it too; fix it)")]
    dedicated, pyproject = top / ".aiguard.toml", top / "pyproject.toml"
    if dedicated.exists():
        return [Line(True, "policy", f"{dedicated} is valid")]
    if pyproject.exists() and "aiguard" in _toml(pyproject).get("tool", {}):
        return [Line(True, "policy", f"{pyproject} [tool.aiguard] is valid")]
    return [Line(True, "policy", f"no .aiguard.toml or [tool.aiguard] in {top}: `aiguard verify` applies the "
                                 "defaults (every commit stamped, external models disclosed)")]


def _toml(path: Path) -> dict:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def check_daemon() -> list[Line]:
    """Whether the daemon runs: it follows the assistants' logs and the clipboard as they change."""
    from aiguard.daemon import service as daemon

    try:
        pid = daemon.running_pid()
    except ImportError:  # its lock is an fcntl lock
        return [Line(True, "daemon", f"cannot tell on {sys.platform} whether it runs")]
    except OSError as exc:
        return [Line(False, "daemon", f"cannot tell whether it runs: {exc}")]
    if pid:
        which = f"pid {pid}" if pid > 0 else "pid unknown"
        return [Line(True, "daemon", f"running ({which}); log: {daemon.log_path()}")]
    return [Line(True, "daemon", "not running: assistants' logs and the clipboard are not followed; "
                                 "`aiguard daemon start` (or `aiguard daemon install-service` for every login)")]


def _retention_cutoff() -> tuple[float, float] | None:
    """(retention days, the unix time before which output is not recorded), or None with a broken config."""
    import time

    try:
        days = config.load().retention_days
    except config.ConfigError:
        return None  # the config line says what is wrong
    return days, time.time() - days * 86400


def check_ledger_key() -> list[Line]:
    """Whether the ledger's records were made with the ledger key at hand (a lost key cannot
    be made again: new keys would never match them)."""
    ids = keys.ledger_key_ids()
    if not ids:
        return []  # no records (or an unreadable ledger: the ledger line says so)
    try:
        keyset = keys.load()
    except keys.KeyUnavailable as exc:  # the key store line says it too, unless there seem to be no keys
        return [Line(False, "ledger key", str(exc))] if keys.location() == "none" else []
    if keyset.ledger_id in ids:
        return []
    return [Line(False, "ledger key", f"the {sum(ids.values())} records in {paths.ledger_path()} were made with "
                                      f"ledger key {', '.join(sorted(ids))}, not this one ({keyset.ledger_id}): "
                                      f"restore the keys that made them, or start over with "
                                      f"`aiguard install --new-keys`")]


def check_assistants() -> list[Line]:
    """One line per assistant aiguard can read: logs found and readable, last record seen, and
    how many logs are past the retention period (their output is not recorded); one without
    native hooks says so here (the others have a hook line of their own)."""
    from aiguard.capture.sources import has_hooks, log_files, log_roots, registry

    last_seen = _last_records()
    retention = _retention_cutoff()
    lines = []
    for name, module in registry().items():
        roots = [root for root in log_roots(module) if root.exists()]
        seen = f"; last record {last_seen[name]}" if name in last_seen else "; nothing recorded yet"
        if has_hooks(module) and not log_roots(module):  # Kiro, Firebender: no log aiguard can read
            lines.append(Line(True, f"assistant {name}", "hooks only (it keeps no log aiguard can read)" + seen))
            continue
        seen += "" if has_hooks(module) else f"; no hooks ({name} has none: its logs are read)"
        if not roots:
            places = [str(root) for root in log_roots(module)]
            where = ", ".join(places[:3]) + (f", and {len(places) - 3} more places" if len(places) > 3 else "")
            lines.append(Line(True, f"assistant {name}", f"no logs found ({where or 'no known location here'})"
                                                         + seen))
            continue
        files = [f for root in roots for f in log_files(module, root)]
        unreadable = [f for f in files if not os.access(f, os.R_OK)]
        if unreadable:
            lines.append(Line(False, f"assistant {name}", f"{len(unreadable)} of {len(files)} logs unreadable, "
                                                          f"e.g. {unreadable[0]}"))
        else:
            old = ""
            if retention is not None:
                stale = sum(1 for f in files if _mtime(f) < retention[1])
                if stale:
                    old = (f"; {stale} of them older than the retention period ({retention[0]:g} days): "
                           "their output is not recorded")
            lines.append(Line(True, f"assistant {name}", f"{len(files)} logs in {', '.join(map(str, roots))}"
                                                         f" (run `aiguard ingest`){seen}{old}"))
    return lines


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")  # gone since it was listed: not "old"


def check_assistant_hooks() -> list[Line]:
    """One line per assistant with native hooks: is aiguard's hook wired into its settings."""
    from aiguard.capture.integrate import IntegrateError
    from aiguard.capture.sources import by_hand, registry, wiring as wiring_of

    lines = []
    for name, module in registry().items():
        if by_hand(module):
            lines.append(Line(True, f"{name} hook", f"not wired by aiguard (it cannot write {name}'s hook); "
                                                    f"`aiguard integrate {name}` says what to add by hand"))
            continue
        try:
            wiring = wiring_of(module)
            if wiring is None:
                continue  # its "assistant NAME" line says it has none
            wired = wiring.wired()
        except IntegrateError as exc:
            lines.append(Line(False, f"{name} hook", str(exc)))
            continue
        if wired:
            lines.append(Line(True, f"{name} hook", f"wired in {wiring.config}"))
        elif wiring.folder.is_dir():
            lines.append(Line(True, f"{name} hook", f"not wired; run `aiguard integrate {name}`"))
        else:
            lines.append(Line(True, f"{name} hook", f"not wired ({name} not found: no {wiring.folder})"))
    return lines


def check_clipboard() -> list[Line]:
    """Whether the daemon can watch the clipboard here, with which backend, or why not."""
    from aiguard.capture import clipboard

    try:
        settings = config.load().clipboard
    except config.ConfigError:
        return []  # the config line says what is wrong
    if not settings.enabled:
        return [Line(True, "clipboard", "not watched ([clipboard] enabled = false in the config)")]
    backend, what = clipboard.choose()
    if backend is not None:
        return [Line(True, "clipboard", f"{what}; watched while the daemon runs")]
    # No graphical session (a server, CI) is normal; a session aiguard cannot watch is not.
    return [Line(clipboard.headless(), "clipboard", f"not watched: {what}")]


def _last_records() -> dict[str, str]:
    from datetime import datetime, timezone

    from aiguard.store.ledger import Ledger, LedgerError

    try:
        ledger = Ledger.open_readonly()
    except LedgerError:
        return {}
    if ledger is None:
        return {}
    with ledger:
        rows = ledger.conn.execute("SELECT tool, max(recorded_at) FROM records GROUP BY tool").fetchall()
    return {tool: datetime.fromtimestamp(when, timezone.utc).isoformat(timespec="seconds") for tool, when in rows}


def check_matcher() -> Line:
    """Which matcher runs: the compiled accelerator, or the pure-Python reference (and why)."""
    from aiguard.core import fingerprint

    if fingerprint.ACCELERATED:
        return Line(True, "matcher", "compiled accelerator (aiguard.core._speedups)")
    if os.environ.get("AIGUARD_PURE_PYTHON", "") not in ("", "0"):
        return Line(True, "matcher", "pure Python (AIGUARD_PURE_PYTHON is set)")
    return Line(True, "matcher", "pure Python, about 3x slower: the C accelerator is not built (reinstall aiguard "
                                 "where a C compiler and Python's headers exist, e.g. gcc and python3-dev)")


def run(repo: str | None = None) -> list[Line]:
    lines = [Line(True, "aiguard", f"{__version__} ({sys.executable}); state in {paths.home()}"), check_matcher()]
    lines += check_hooks(repo)
    lines += check_notes_sync(repo)
    lines += check_policy(repo)
    lines += check_ledger()
    lines += check_index()
    lines += check_config()
    lines += check_daemon()
    lines += check_keys()
    lines += check_ledger_key()
    lines += check_assistants()
    lines += check_assistant_hooks()
    lines += check_clipboard()
    return lines
