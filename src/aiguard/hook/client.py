"""The commit hook's side of the hook server (aiguard.hook.server): hand the run over.

Every commit starts here, so this module imports almost nothing: os, sys and the C
modules _socket, array and marshal (no socket.py, json, pathlib or typing, which
together cost a commit more than 10 ms). The request is marshal data: the server
is the same aiguard on the same Python (it checks the version), and only this user
can reach its socket.
"""

from __future__ import annotations

import os

from aiguard import __version__
from aiguard.store.home import socket_path

PROTOCOL = 2
# Commands that may run in the server: the hooks. (Nothing interactive.)
SERVED = (("stamp",), ("notes", "post-commit"), ("notes", "post-rewrite"))
OK, REFUSED = 0, 1
_MAX_PATH = 100  # sun_path is 104-108 bytes


def served(argv) -> bool:
    """Whether these arguments are a hook command (the server runs those, and only those)."""
    if {"-h", "--help"} & set(argv) or not any(tuple(argv[:len(prefix)]) == prefix for prefix in SERVED):
        return False
    return argv[0] == "stamp" or len(argv) <= 3


# The wire format, both sides of it (no struct module: it would cost the hook 0.5 ms).
# A request is its length (4 bytes, big-endian) and the marshal data, with the caller's
# stdin, stdout and stderr attached (SCM_RIGHTS), then the early git calls' pipes; the reply is a status byte and the
# exit code (4 bytes, big-endian, signed).
HEADER_SIZE, REPLY_SIZE = 4, 5


def pack_length(length: int) -> bytes:
    return length.to_bytes(HEADER_SIZE, "big")


def unpack_length(header: bytes) -> int:
    return int.from_bytes(header[:HEADER_SIZE], "big")


def pack_reply(status: int, code: int) -> bytes:
    return bytes([status]) + code.to_bytes(REPLY_SIZE - 1, "big", signed=True)


def unpack_reply(reply: bytes) -> tuple[int, int]:
    return reply[0], int.from_bytes(reply[1:REPLY_SIZE], "big", signed=True)


def early_fds() -> list[int]:
    """The pipes other than stdin that the hook script's early git calls write to (AIGUARD_EARLY,
    see aiguard.git.runner.take_early): handed over with stdio, in the order the variable names them."""
    spec = os.environ.get("AIGUARD_EARLY", "").split()
    return [int(fd) for fd in spec[1:] if fd.isdigit() and int(fd) > 2]


def call(argv, timeout: float = 120.0) -> int | None:
    """Run argv in the server; its exit code, or None when the caller should run it itself."""
    if os.environ.get("AIGUARD_NO_HOOK_SERVER") or not served(argv):
        return None
    path = socket_path()
    if len(os.fsencode(path)) >= _MAX_PATH or not os.path.exists(path):
        return None
    try:
        import _socket
        from array import array
    except ImportError:
        return None
    if not hasattr(_socket, "AF_UNIX") or not hasattr(_socket, "SCM_RIGHTS"):
        return None
    import marshal

    mask = os.umask(0)
    os.umask(mask)
    request = marshal.dumps({"protocol": PROTOCOL, "version": __version__, "argv": list(argv), "cwd": os.getcwd(),
                             "env": dict(os.environ), "ppid": os.getppid(), "umask": mask}, 4)
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.settimeout(2.0)
        conn.connect(path)
        conn.settimeout(timeout)
        fds = array("i", [0, 1, 2, *early_fds()])
        data = pack_length(len(request)) + request
        sent = conn.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, fds)])
        if sent < len(data):
            conn.sendall(data[sent:])
        reply = b""
        while len(reply) < REPLY_SIZE:
            chunk = conn.recv(REPLY_SIZE - len(reply))
            if not chunk:
                return None  # the server went away before answering: run it here (the hooks are idempotent)
            reply += chunk
    except OSError:
        return None
    finally:
        conn.close()
    status, code = unpack_reply(reply)
    return code if status == OK else None
