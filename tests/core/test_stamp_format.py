"""The stamp format and the change digest it binds, on real diffs."""

from __future__ import annotations

import re

import pytest

from aiguard.core import stamp_format
from aiguard.git import patches

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


def test_parse_patch_reads_paths_lines_and_binary(make_repo):
    repo = make_repo()
    repo.write("plain.txt", "one\ntwo\n")
    repo.write("sp ace/tab\there.py", "x = 1\n")
    repo.write("ünï.py", "y = 2\n")
    repo.write('quo"te.py', "z = 3\n")
    repo.write("bin.dat", b"\x00\x01\x02binary")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "base")
    repo.write("plain.txt", "one\n+++ looks like a header\n--- so does this\ntwo\nthree")
    repo.write("sp ace/tab\there.py", "x = 1\nx += 1\n")
    repo.write("bin.dat", b"\x00\x01\x02binary changed")
    repo.write("new.py", "print('new')\n")
    repo.git("add", "-A")
    files = {f.path: f for f in patches.parse_patch(repo.git("diff", "--cached", *patches.DIFF_FLAGS, "HEAD").stdout)}
    assert set(files) == {b"plain.txt", b"sp ace/tab\there.py", b"bin.dat", b"new.py"}
    plain = files[b"plain.txt"]
    assert plain.added == [2, 3, 5]
    assert plain.changes[:2] == [b"++++ looks like a header", b"+--- so does this"]
    assert b"\\ No newline at end of file" in plain.changes
    assert files[b"sp ace/tab\there.py"].added == [2]
    assert files[b"bin.dat"].binary and files[b"bin.dat"].new_oid
    assert files[b"new.py"].added == [1] and re.fullmatch(r"[0-9a-f]{40}", files[b"new.py"].new_oid)


def test_deleted_file_has_no_new_blob(make_repo):
    repo = make_repo()
    repo.write("gone.txt", "a\nb\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "base")
    repo.git("rm", "-q", "gone.txt")
    [gone] = patches.parse_patch(repo.git("diff", "--cached", *patches.DIFF_FLAGS, "HEAD").stdout)
    assert gone.new_oid is None and gone.added == [] and gone.changes == [b"-a", b"-b"]


def test_change_digest_survives_a_rebase_but_not_an_edit(make_repo):
    """Same change on another base: same digest. Any edited line: another digest."""
    repo = make_repo()
    repo.write("f.txt", "".join(f"line {n}\n" for n in range(40)))
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "base")
    repo.git("checkout", "-q", "-b", "topic")
    repo.write("f.txt", "".join(f"line {n}\n" + ("inserted\n" if n == 30 else "") for n in range(40)))
    repo.git("commit", "-q", "-am", "topic")
    topic = patches.commit_diff(repo.out("rev-parse", "HEAD~1").strip(), "HEAD", cwd=str(repo.path))
    repo.git("checkout", "-q", "main")
    repo.write("f.txt", "first\n" + "".join(f"line {n}\n" for n in range(40)))
    repo.git("commit", "-q", "-am", "main moves")
    repo.git("checkout", "-q", "topic")
    repo.git("rebase", "-q", "main")
    rebased = patches.commit_diff(repo.out("rev-parse", "HEAD~1").strip(), "HEAD", cwd=str(repo.path))
    assert stamp_format.change_digest(topic) == stamp_format.change_digest(rebased)
    repo.write("f.txt", repo.path.joinpath("f.txt").read_text().replace("inserted", "inserted!"))
    repo.git("commit", "-q", "-a", "--amend", "--no-edit")
    amended = patches.commit_diff(repo.out("rev-parse", "HEAD~1").strip(), "HEAD", cwd=str(repo.path))
    assert stamp_format.change_digest(amended) != stamp_format.change_digest(rebased)


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_stamp_checks(version):
    change = b"\x01" * 32
    value = stamp_format.make(change, ["claude-code:m1"], "3/10", "abcd1234", KEY, version=version)
    assert re.fullmatch(version + r" abcd1234 1 [0-9a-f]{32} [0-9a-f]{32}", value)
    good = stamp_format.check(value, change, ["claude-code:m1"], "3/10", {"abcd1234": KEY})
    assert (good.bound, good.signature, good.reason, good.version) == (True, "valid", "", version)
    # Without keys the binding is still checked.
    assert stamp_format.check(value, change, ["claude-code:m1"], "3/10").bound
    assert stamp_format.check(value, change, ["claude-code:m1"], "3/10").signature == "unchecked"
    # Another change, an edited claim, a dropped claim: not bound.
    assert not stamp_format.check(value, b"\x02" * 32, ["claude-code:m1"], "3/10").bound
    assert not stamp_format.check(value, change, ["claude-code:m1"], "0/10").bound
    assert not stamp_format.check(value, change, ["claude-code:m2"], "3/10").bound
    assert not stamp_format.check(value, change, [], "3/10").bound
    # A hand-made stamp (right binding, wrong key) is caught with the key.
    forged = stamp_format.make(change, ["claude-code:m1"], "3/10", "abcd1234", OTHER_KEY, version=version)
    assert stamp_format.check(forged, change, ["claude-code:m1"], "3/10", {"abcd1234": KEY}).signature == "invalid"
    assert stamp_format.check(value, change, ["claude-code:m1"], "3/10", {"ffff0000": KEY}).signature == "unknown-key"
    assert not stamp_format.check("v1 garbage", change, [], "0/0").bound


def test_v1_stamps_made_before_v2_still_check():
    """Values written by the v1 code (before modes were bound): histories keep verifying."""
    change = b"\x01" * 32
    old = "v1 abcd1234 1 983e143bcef5edd5352ff912d41fdb5e 0e24117b61dd6b78327c4f8cf6727f69"
    result = stamp_format.check(old, change, ["claude-code:m1"], "3/10", {"abcd1234": KEY})
    assert (result.bound, result.signature) == (True, "valid")
    old = "v1 abcd1234 0 f82325511e0c35f77df1bccd998fac2e 2cca9d2e19da0f35cfa0a40e86548a3e"
    result = stamp_format.check(old, change, [], "0/4", {"abcd1234": KEY}, "4 lines in 1 file (binary)")
    assert (result.bound, result.signature) == (True, "valid")
    # The same fields under v2 are another binding: a v1 value cannot be relabelled v2.
    relabelled = stamp_format.check("v2" + old[2:], change, [], "0/4", {"abcd1234": KEY}, "4 lines in 1 file (binary)")
    assert not relabelled.bound


def test_v2_digest_binds_modes_v1_does_not(make_repo):
    repo = make_repo()
    repo.write("run.sh", "echo hi\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "base")
    repo.write("run.sh", "echo hi\necho more\n")
    repo.git("add", "-A")
    plain = patches.parse_patch(repo.git("diff", "--cached", *patches.DIFF_FLAGS, "HEAD").stdout)
    repo.git("update-index", "--chmod=+x", "run.sh")
    executable = patches.parse_patch(repo.git("diff", "--cached", *patches.DIFF_FLAGS, "HEAD").stdout)
    assert (plain[0].old_mode, plain[0].new_mode) == ("100644", "100644")
    assert (executable[0].old_mode, executable[0].new_mode) == ("100644", "100755")
    assert stamp_format.change_digest(plain, "v1") == stamp_format.change_digest(executable, "v1")
    assert stamp_format.change_digest(plain) != stamp_format.change_digest(executable)
    # A new file's mode is bound too (a script added executable, or not).
    repo.write("new.sh", "x\n")
    repo.git("add", "new.sh")
    added = [f for f in patches.parse_patch(repo.git("diff", "--cached", *patches.DIFF_FLAGS, "HEAD").stdout)
             if f.path == b"new.sh"]
    assert (added[0].old_mode, added[0].new_mode) == ("", "100644")


def test_submodule_changes_are_not_text(make_repo):
    sub = make_repo("sub")
    sub.write("a.txt", "a\n")
    sub.git("add", "-A")
    sub.git("commit", "-q", "-m", "sub")
    repo = make_repo()
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "sub")
    files = {f.path: f for f in patches.parse_patch(repo.git("diff", "--cached", *patches.DIFF_FLAGS).stdout)}
    assert files[b"sub"].binary
    assert not files[b".gitmodules"].binary and files[b".gitmodules"].added
