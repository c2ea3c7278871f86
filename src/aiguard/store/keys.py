"""The keys: one per-user ledger key and the team's stamp keys.

* The ledger key makes fingerprints keyed hashes (useless without it). It never
  leaves the machine.
* Stamp keys sign `AIGuard-Stamp` trailers. They are a team secret (export and
  import move them; in CI `AIGUARD_KEY` supplies one). The newest is used to sign;
  older ones stay so that old stamps remain verifiable after a rotation.

Both live in one JSON "keyset" stored in the OS keyring (service "aiguard", one
entry per AIGUARD_HOME), or, when no usable keyring backend exists (headless
Linux, CI, PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring), in
AIGUARD_HOME/keys.json with mode 0600. A small marker file records which, so
that another install on the same machine (the pre-commit framework's venv) looks
in the same place and never shadows the keyring with a fresh file.

`keyring` is imported only when the keyring is actually used: it costs ~100 ms.
"""

from __future__ import annotations

import os

from aiguard.core import hook_json
from aiguard.core.digests import sha256
from aiguard.core.errors import AiguardError
from aiguard.store import paths
from aiguard.core.tuples import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

KEYRING_SERVICE = "aiguard"
KEY_PREFIX = "aiguard-key-v1:"


class KeyUnavailable(AiguardError):
    """The keys exist but cannot be read, or do not exist and were not to be made."""


class Keyset(NamedTuple):
    ledger_key: bytes
    stamp_keys: tuple[tuple[str, bytes], ...]  # (key id, key), oldest first
    store: str  # "keyring" or "file"

    @property
    def ledger_id(self) -> str:
        return key_id(self.ledger_key)

    def signing_key(self) -> tuple[str, bytes]:
        """The stamp key to sign with: AIGUARD_KEY if set, else the newest."""
        env = os.environ.get("AIGUARD_KEY")
        if env:
            key = parse_key(env)
            return key_id(key), key
        return self.stamp_keys[-1]


def key_id(key: bytes) -> str:
    """A short public name for a key (8 hex digits of a hash of it)."""
    return sha256(b"aiguard-key-id\0" + key).hexdigest()[:8]


def format_key(key: bytes) -> str:
    return KEY_PREFIX + key.hex()


def parse_key(text: str) -> bytes:
    """Read a key as `aiguard key export` writes it (or bare hex)."""
    text = text.strip()
    if text.startswith(KEY_PREFIX):
        text = text[len(KEY_PREFIX):]
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise KeyUnavailable("AIGUARD_KEY is not a key: expected aiguard-key-v1:<64 hex digits>") from None
    if len(key) < 16:
        raise KeyUnavailable("AIGUARD_KEY is too short: expected 32 bytes")
    return key


def _keyring_user() -> str:
    return "keyset:" + str(paths.home())


def _encode(keyset: Keyset) -> str:
    import json  # only when a keyset is made or moved (hook_json reads it on every commit)

    return json.dumps(
        {
            "version": 1,
            "ledger": keyset.ledger_key.hex(),
            "stamp": [{"id": kid, "key": key.hex()} for kid, key in keyset.stamp_keys],
        },
        sort_keys=True,
    )


def _decode(text: str, where: str, store: str) -> Keyset:
    try:
        data = hook_json.loads(text)
        ledger = bytes.fromhex(data["ledger"])
        stamp = tuple((key_id(bytes.fromhex(k["key"])), bytes.fromhex(k["key"])) for k in data["stamp"])
    except (ValueError, KeyError, TypeError) as exc:
        raise KeyUnavailable(f"the aiguard keyset in the {where} is damaged ({exc.__class__.__name__})") from None
    if not stamp:
        raise KeyUnavailable(f"the aiguard keyset in the {where} has no stamp key")
    return Keyset(ledger, stamp, store)


def _keyring_backend():
    """The usable keyring backend, or None.

    None for the fail and null backends, for import or configuration errors, and
    for a backend keyring only fell back to (priority below 1, "not recommended",
    e.g. keyrings.alt's plaintext file) unless the user chose it explicitly
    (PYTHON_KEYRING_BACKEND or keyringrc.cfg): a plain file of our own, 0600,
    is no worse and keeps keyring's import off the commit hook.
    """
    try:
        paths.full_site()
        import keyring
        import keyring.core
        from keyring.backends import fail, null

        backend = keyring.get_keyring()
        if isinstance(backend, (fail.Keyring, null.Keyring)):
            return None
        explicit = bool(os.environ.get("PYTHON_KEYRING_BACKEND")) or keyring.core.load_config() is not None
        if not explicit and getattr(backend, "priority", 0) < 1:
            return None
        return backend
    except Exception:  # a keyringrc naming a backend absent from this venv raises ModuleNotFoundError
        return None


def _marker() -> str | None:
    try:
        with open(paths.keystore_marker_file()) as fh:
            return fh.read().strip() or None
    except OSError:
        return None


def location() -> str:
    """Where the keys are (or would be made): "file", "keyring", or "none"."""
    if os.path.exists(paths.keyset_file()):
        return "file"
    return _marker() or "none"


def load(create: bool = False) -> Keyset:
    """Read the keyset; with create, make one where none exists yet.

    Creation happens under a lock and re-checks inside it, so processes that start
    at once on a fresh machine (the daemon, an assistant hook, `record`) end up
    with one key, not one each.
    """
    try:
        return _load()
    except _NoKeys as missing:
        _refuse_to_rekey()
        if not create:
            raise KeyUnavailable(str(missing)) from None
    with paths.locked("keys.lock"):
        try:
            return _load()
        except _NoKeys:
            _refuse_to_rekey()
            stamp = new_stamp_key()
            save(Keyset(os.urandom(32), ((key_id(stamp), stamp),), "file"))
    return _load()


def ledger_key_ids() -> dict[str, int] | None:
    """{ledger key id: records} of the ledger's records, or None when it cannot be read.

    Plain sqlite3, read-only, so that the check costs nothing when there is no ledger
    and never creates one.
    """
    import sqlite3

    path = paths.ledger_path()
    if not path.exists():
        return {}
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute("SELECT key_id, count(*) FROM records GROUP BY key_id").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        return {} if "no such table" in str(exc) else None
    except sqlite3.Error:
        return None
    return {str(kid): count for kid, count in rows}


def missing_key_message(ids: dict[str, int] | None) -> str:
    ledger = paths.ledger_path()
    keyring = _marker() == "keyring"
    where = "no entry in the OS keyring" if keyring else f"no {paths.keyset_path()}"
    backup = "the keyring entry" if keyring else paths.keyset_path()
    held = ("records that cannot be read" if ids is None else
            f"{sum(ids.values())} records made with ledger key {', '.join(sorted(ids))}")
    return (f"the ledger key is missing ({where}) but {ledger} holds {held}; new keys would never match them: "
            f"restore {backup} from a backup, or start over with `aiguard install --new-keys` "
            f"(moves the ledger aside; then `aiguard key import` the team's stamp key)")


def _refuse_to_rekey() -> None:
    """Never make a new ledger key over a ledger that holds records made with the lost one
    (nor advise `aiguard install`, which would)."""
    ids = ledger_key_ids()
    if ids != {}:
        raise KeyUnavailable(missing_key_message(ids)) from None


def start_over() -> list[Path]:
    """Move the ledger aside (never deleted) so that new keys can be made; returns the moved files.

    Only when the keys are missing or are not the ones that made the ledger's records;
    keys that exist are kept (the stamp keys are the team's).
    """
    from aiguard.store.ledger import move_aside

    with paths.locked("keys.lock"):
        ids = ledger_key_ids()
        try:
            current = _load()
        except _NoKeys:
            return move_aside(paths.ledger_path())
        if ids is None or (ids and current.ledger_id not in ids):
            return move_aside(paths.ledger_path())
    return []


class _NoKeys(Exception):
    """No keys exist yet (as opposed to keys that exist but cannot be read)."""


def _load() -> Keyset:
    file = paths.keyset_file()
    if os.path.exists(file):
        try:
            with open(file) as fh:
                text = fh.read()
            return _decode(text, "key file " + file, "file")
        except OSError as exc:
            raise KeyUnavailable(f"cannot read {file}: {exc.strerror}") from None
    if _marker() != "keyring":
        raise _NoKeys("no aiguard keys yet; run `aiguard install`")
    backend = _keyring_backend()
    if backend is None:
        raise KeyUnavailable("the keys are in the OS keyring, but no keyring backend works here")
    try:
        text = backend.get_password(KEYRING_SERVICE, _keyring_user())
    except Exception as exc:
        raise KeyUnavailable(f"the OS keyring refused to give the aiguard keys ({exc.__class__.__name__})") from None
    if not text:
        raise _NoKeys("the aiguard keys are missing from the OS keyring; run `aiguard install`")
    return _decode(text, "OS keyring", "keyring")


def new_stamp_key() -> bytes:
    return os.urandom(32)


def save(keyset: Keyset) -> str:
    """Store the keyset in the keyring if one works, else in the 0600 file; returns where."""
    paths.ensure_home()
    text = _encode(keyset)
    backend = None if paths.keyset_path().exists() else _keyring_backend()
    if backend is not None:
        try:
            backend.set_password(KEYRING_SERVICE, _keyring_user(), text)
            if backend.get_password(KEYRING_SERVICE, _keyring_user()) == text:
                paths.write_private(paths.keystore_marker_path(), b"keyring\n")
                return "keyring"
        except Exception:
            pass
    paths.write_private(paths.keyset_path(), text.encode())
    paths.write_private(paths.keystore_marker_path(), b"file\n")
    return "file"


def add_stamp_key(key: bytes) -> Keyset:
    """Make `key` the signing key (keeping the others, so old stamps stay verifiable)."""
    with paths.locked("keys.lock"):
        try:
            current = _load()
        except _NoKeys:
            _refuse_to_rekey()
            current = Keyset(os.urandom(32), (), "file")
        kept = tuple((kid, k) for kid, k in current.stamp_keys if k != key)
        save(current._replace(stamp_keys=kept + ((key_id(key), key),)))
    return _load()
