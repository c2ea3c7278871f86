"""Where per-user state lives: AIGUARD_HOME, else the platform's data directory.

Kept stdlib-only and tiny: the commit hook imports it, and reads its files through the
plain-string `*_file()` functions (pathlib, with the urllib.parse it imports, costs a commit
~3 ms); the `*_path()` ones are the same files as Paths. Every install of aiguard
on a machine (a pipx install, the venv the pre-commit framework builds) derives
the same paths from the same environment, so they share one ledger and one key.
"""

from __future__ import annotations

import os
import sys

from aiguard.store.home import APP, home_dir

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from types import TracebackType

LEDGER, KEYSET, KEYSTORE = "ledger.sqlite3", "keys.json", "keystore"


def home() -> Path:
    """The folder holding the ledger, the key fallback file, logs and config."""
    from pathlib import Path

    return Path(home_dir())


def ensure_home() -> Path:
    """The state folder, created with mode 0700 when aiguard makes it.

    One that exists is left as it is: AIGUARD_HOME may name a folder the user shares
    on purpose, and chmod-ing it would lock the others out (`aiguard doctor` says
    when it is open to others; the files aiguard writes in it are 0600 anyway).
    """
    path = home()
    if path.is_dir():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return path  # made by another aiguard process just now
    if sys.platform != "win32":
        os.chmod(path, 0o700)  # mkdir's mode goes through the umask
    try:
        # A relative AIGUARD_HOME is a folder in whatever folder aiguard runs in (the commit hook
        # runs at the top of the work tree): git must never offer the key file to `git add -A`.
        write_private(path / ".gitignore", GITIGNORE)
    except OSError:
        pass  # the folder is made and private; this is a safeguard on top
    return path


GITIGNORE = b"# aiguard's per-user state (its keys, its ledger): never to be committed, wherever this folder is\n*\n"


def ledger_path() -> Path:
    return home() / LEDGER


def ledger_file() -> str:
    return os.path.join(home_dir(), LEDGER)


def keyset_path() -> Path:
    return home() / KEYSET


def keyset_file() -> str:
    return os.path.join(home_dir(), KEYSET)


def keystore_marker_path() -> Path:
    """Non-secret note of where the keys live ("keyring" or "file")."""
    return home() / KEYSTORE


def keystore_marker_file() -> str:
    return os.path.join(home_dir(), KEYSTORE)


def config_path() -> Path:
    """The user config: AIGUARD_HOME/config.toml, else the platform's config folder."""
    if os.environ.get("AIGUARD_HOME") or sys.platform in ("win32", "darwin"):
        return home() / "config.toml"
    from pathlib import Path

    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP / "config.toml"


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def locked(name: str) -> _Locked:
    """`with locked(name):` an exclusive lock between aiguard processes (a lock file under
    AIGUARD_HOME), taken on entering the block."""
    return _Locked(name)


class _Locked:
    """locked()'s context manager (a class, not contextlib's: the hook does not import contextlib)."""

    def __init__(self, name: str):
        self.name = name
        self.fd = -1

    def __enter__(self) -> None:
        ensure_home()
        fd = os.open(os.path.join(home_dir(), self.name), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if sys.platform == "win32":  # pragma: no cover - not testable here
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        os.close(self.fd)  # closing releases the lock


def full_site() -> None:
    """Make site-packages importable when the hook started Python with -S.

    The hook scripts start Python without the site module (it costs 10-20 ms,
    more with .pth files), with aiguard's own folder on sys.path; the few
    third-party imports off the common path (keyring, tomli) call this first.
    """
    if sys.flags.no_site and "site" not in sys.modules:
        import site

        site.main()

