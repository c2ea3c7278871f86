"""Personal signatures through git's SSH signing machinery: the key `user.signingkey` names
(a key file, a public key whose private half is in ssh-agent, or `key::ssh-... literal`),
signed and verified with `ssh-keygen -Y` (or `gpg.ssh.program`), against an allowed-signers
file (the format of ssh-keygen(1) ALLOWED SIGNERS) that the repository commits.

Used for personal stamps (core.stamp_format, key-id `ssh`) and for exemptions by a
verified commit signature (`git verify-commit` semantics, via %G? / %GS).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from typing import Iterable, Mapping, NamedTuple

from aiguard.core.errors import AiguardError

_BEGIN = "-----BEGIN SSH SIGNATURE-----"
_END = "-----END SSH SIGNATURE-----"


class SigningError(AiguardError):
    """The developer's key could not sign (no user.signingkey, ssh-keygen failed)."""


class Verified(NamedTuple):
    ok: bool
    principal: str  # who signed, as the allowed-signers file names them; "" when not ok
    reason: str  # why not, one line; "" when ok


def program(cfg: Mapping[str, bytes]) -> str:
    return (cfg.get("gpg.ssh.program") or b"ssh-keygen").decode()


def sign(message: bytes, namespace: str, cfg: Mapping[str, bytes]) -> str:
    """An SSH signature over message, made as git would with user.signingkey; one base64 line."""
    key = (cfg.get("user.signingkey") or b"").decode().strip()
    if not key:
        raise SigningError("personal stamps need an SSH signing key: "
                           "git config user.signingkey ~/.ssh/id_ed25519.pub (and gpg.format ssh)")
    with tempfile.TemporaryDirectory(prefix="aiguard-sign-") as tmp:
        if key.startswith("key::"):  # a literal public key: the private half is in ssh-agent
            path = os.path.join(tmp, "key.pub")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(key[5:] + "\n")
            key = path
        key = os.path.expanduser(key)
        try:
            done = subprocess.run([program(cfg), "-Y", "sign", "-n", namespace, "-f", key], input=message,
                                  capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise SigningError(f"cannot run {program(cfg)} to sign: {exc}") from None
    if done.returncode != 0 or _BEGIN.encode() not in done.stdout:
        error = " ".join(done.stderr.decode("utf-8", "replace").split()) or f"exit {done.returncode}"
        raise SigningError(f"{program(cfg)} -Y sign -f {key} failed: {error}")
    lines = [line.strip() for line in done.stdout.decode("ascii", "replace").splitlines()]
    return "".join(line for line in lines if line and not line.startswith("-----"))


def _armour(signature: str) -> str:
    body = "\n".join(signature[i:i + 70] for i in range(0, len(signature), 70))
    return f"{_BEGIN}\n{body}\n{_END}\n"


def verify(message: bytes, signature: str, namespace: str, allowed_signers: str,
           revoked: str | None = None, ssh_program: str = "ssh-keygen") -> Verified:
    """Whether `signature` (one base64 line) is a good signature over message by a key the
    allowed-signers file lists (and the revocation file, when given, does not)."""
    if not signature.isascii() or not signature.replace("+", "").replace("/", "").rstrip("=").isalnum():
        return Verified(False, "", "the signature is not base64")
    with tempfile.TemporaryDirectory(prefix="aiguard-verify-") as tmp:
        sig = os.path.join(tmp, "stamp.sig")
        with open(sig, "w", encoding="ascii") as fh:
            fh.write(_armour(signature))
        try:
            found = subprocess.run([ssh_program, "-Y", "find-principals", "-s", sig, "-f", allowed_signers],
                                   capture_output=True, stdin=subprocess.DEVNULL, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return Verified(False, "", f"cannot run {ssh_program}: {exc}")
        principals = found.stdout.decode("utf-8", "replace").split()
        if found.returncode != 0 or not principals:
            return Verified(False, "", "signed with a key the allowed-signers file does not list")
        reason = ""
        for principal in principals:
            args = [ssh_program, "-Y", "verify", "-f", allowed_signers, "-I", principal, "-n", namespace, "-s", sig]
            done = subprocess.run(args + (["-r", revoked] if revoked else []), input=message, capture_output=True,
                                  timeout=60)
            if done.returncode == 0:
                return Verified(True, principal, "")
            if revoked and subprocess.run(args, input=message, capture_output=True, timeout=60).returncode == 0:
                return Verified(False, "", f"signed with a revoked key of {principal} (the revoked-signers file)")
            reason = " ".join(done.stderr.decode("utf-8", "replace").split())
        return Verified(False, "", f"the signature does not verify: {reason or 'bad signature'}")


def commit_signers(shas: Iterable[str], allowed_signers: str, revoked: str | None = None,
                   cwd: str | None = None) -> dict[str, str]:
    """{commit: principal} for the commits whose own signature (git commit -S with
    gpg.format=ssh) is good and by a key the allowed-signers file lists; one git call."""
    from aiguard.git import runner

    wanted = list(shas)
    if not wanted:
        return {}
    config = ["-c", f"gpg.ssh.allowedSignersFile={allowed_signers}"]
    if revoked:
        config += ["-c", f"gpg.ssh.revocationFile={revoked}"]
    out = subprocess.run([*runner.GIT, *config, "log", "--no-walk=unsorted", "--format=%H%x00%G?%x00%GS%x00",
                          *wanted, "--"], capture_output=True, cwd=cwd, stdin=subprocess.DEVNULL)
    signers = {}
    for line in out.stdout.decode("utf-8", "replace").splitlines():
        fields = line.split("\x00")
        if len(fields) >= 3 and fields[1] == "G" and fields[2]:
            signers[fields[0]] = fields[2]
    return signers
