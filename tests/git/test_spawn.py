"""Running git without subprocess on POSIX (aiguard.git.runner._Spawned): real git, real pipes."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from aiguard.git import objects, runner

posix_only = pytest.mark.skipif(not runner._SPAWN, reason="os.posix_spawnp is POSIX's")


@posix_only
def test_the_hooks_calls_start_without_subprocess(make_repo, monkeypatch):
    repo = make_repo()
    monkeypatch.chdir(repo.path)
    started = runner.Started(["rev-parse", "--absolute-git-dir"])
    assert isinstance(started.proc, runner._Spawned)
    assert started.output().decode().strip() == str(repo.path / ".git")
    reader = objects.BlobReader().start()
    assert isinstance(reader.proc, runner._Spawned)
    reader.close()
    # a call given a folder to run in goes through subprocess (posix_spawn cannot change folder)
    elsewhere = runner.Started(["rev-parse", "--absolute-git-dir"], str(repo.path))
    assert isinstance(elsewhere.proc, subprocess.Popen)
    assert elsewhere.output() == started.output()


@pytest.mark.parametrize("in_folder", [False, True])
def test_large_input_and_output_both_ways(make_repo, monkeypatch, in_folder):
    """Megabytes in on stdin and out on stdout, with stderr piped too: nothing blocks."""
    repo = make_repo()
    monkeypatch.chdir(repo.path)
    cwd = str(repo.path) if in_folder else None
    data = os.urandom(3 << 20)
    oid = runner.git(["hash-object", "-w", "--stdin"], input=data, cwd=cwd).decode().strip()
    assert oid == hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    assert runner.git(["cat-file", "blob", oid], cwd=cwd) == data
    names = "".join(f"{oid}\n" for _ in range(40)).encode()  # 40 x 3 MiB out, 1.6 KB in
    out = runner.git(["cat-file", "--batch"], input=names, cwd=cwd)
    assert out == (f"{oid} blob {len(data)}\n".encode() + data + b"\n") * 40
    assert runner.run(["hash-object", "--stdin"], input=b"", cwd=cwd) == (
        0, hashlib.sha1(b"blob 0\0").hexdigest().encode() + b"\n", b"")


def test_a_failing_command_says_gits_first_complaint(make_repo, monkeypatch):
    repo = make_repo()
    monkeypatch.chdir(repo.path)
    with pytest.raises(runner.GitError, match=r"^git cat-file failed: fatal: Not a valid object name nope"):
        runner.git(["cat-file", "blob", "nope"])
    code, out, err = runner.run(["cat-file", "blob", "nope"])
    assert code == 128 and out == b"" and err.startswith(b"fatal: ")
    assert runner.git(["cat-file", "blob", "nope"], check=False) == b""
    assert runner.rev_parse("HEAD") is None  # unborn
    assert runner.in_repo() and not runner.in_repo(str(repo.path.parent))
    started = runner.Started(["cat-file", "blob", "nope"])
    assert started.result()[0] == 128
    with pytest.raises(runner.GitError, match="fatal: "):
        started.output()


def test_lots_on_stderr_and_stdout_at_once(make_repo, monkeypatch):
    """git complaining a lot while it writes a lot: both pipes read to their ends."""
    repo = make_repo()
    monkeypatch.chdir(repo.path)
    names = "".join(f"{i:040x}\n" for i in range(30_000)).encode()
    out = runner.git(["cat-file", "--batch-check"], input=names)
    assert out.count(b" missing\n") == 30_000
    code, out, err = runner.run(["rev-parse", *[f"bad{i}" for i in range(2_000)]])
    assert code == 128 and err.count(b"\n") >= 1


def test_missing_git(make_repo, monkeypatch, tmp_path):
    """No git on PATH: the errors subprocess gave (GitError from git(), FileNotFoundError naming
    'git' from the calls that let it through)."""
    repo = make_repo()
    monkeypatch.chdir(repo.path)
    empty = tmp_path / "no-git-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(runner.GitError, match="git is not installed or not on PATH"):
        runner.git(["rev-parse", "HEAD"])
    with pytest.raises(FileNotFoundError) as raised:
        runner.rev_parse("HEAD")
    assert raised.value.filename == "git"
    with pytest.raises(runner.GitError, match="not installed"):
        runner.Started(["rev-parse", "HEAD"]).result()
    with pytest.raises(runner.GitError, match="not installed"):
        objects.BlobReader().read("0" * 40)
    with pytest.raises(runner.GitError, match="not installed"):
        list(runner.stream_records(["log"], b"\0"))


def test_a_cancelled_command_is_killed_and_reaped(make_repo, monkeypatch):
    repo = make_repo()
    monkeypatch.chdir(repo.path)
    # cat-file --batch waits on stdin; Started's stdin is /dev/null, so run one on a pipe instead
    session = objects.BlobReader().start()
    proc = session.proc
    assert proc is not None and proc.poll() is None
    proc.kill()
    assert proc.wait() == -9 and proc.poll() == -9
    started = runner.Started(["rev-parse", "HEAD"])
    started.cancel()
    assert started.proc is not None and started.proc.returncode is not None
    with pytest.raises(ChildProcessError):
        os.waitpid(started.proc.pid, os.WNOHANG)  # reaped: no zombie left


@posix_only
@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc")
def test_the_child_gets_default_sigpipe_and_none_of_our_descriptors(tmp_path):
    """As subprocess starts it: SIGPIPE and SIGXFSZ not ignored (Python ignores them), and none
    of this process's close-on-exec descriptors."""
    import fcntl

    opened = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    keep = fcntl.fcntl(opened, fcntl.F_DUPFD_CLOEXEC, 100)
    try:
        proc = runner._Spawned(["sh", "-c", "grep SigIgn /proc/self/status; ls /proc/self/fd"],
                               runner.DEVNULL, runner.PIPE, runner.PIPE)
        out, err = proc.communicate()
    finally:
        os.close(keep)
        os.close(opened)
    assert proc.returncode == 0 and err == b""
    ignored = int(out.split()[1], 16)
    assert not ignored & (1 << (13 - 1)) and not ignored & (1 << (25 - 1))  # SIGPIPE 13, SIGXFSZ 25
    assert keep >= 100 and keep not in {int(word) for word in out.split()[2:]}
