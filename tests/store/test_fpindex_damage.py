"""A damaged ledger.fpindex (one flipped bit in a real index file): one line everywhere,
never an IndexError; doctor finds it; nothing deletes it, nor copies the damage onward."""

from __future__ import annotations

import json
import os
import sys
from array import array
from pathlib import Path

from conftest import MERGE_INTERVALS, Repo, aiguard

OTHER = '''\
def chunked(items, size):
    """Split a list into consecutive chunks of at most `size` items."""
    if size <= 0:
        raise ValueError("size must be positive")
    return [items[start:start + size] for start in range(0, len(items), size)]
'''
BUCKETS = 1 << 16
HEADER = 64


def home() -> Path:
    return Path(os.environ["AIGUARD_HOME"])


def index_path() -> Path:
    return home() / "ledger.fpindex"


def recorded(repo: Repo) -> None:
    """MERGE_INTERVALS recorded and compacted into a real index file, and committed."""
    aiguard("record", "--tool", "claude-code", "--model", "m", input=MERGE_INTERVALS.encode())
    aiguard("ledger", "compact")
    assert index_path().stat().st_size > HEADER
    repo.write("merge.py", MERGE_INTERVALS)
    repo.git("add", "merge.py")
    repo.git("commit", "-q", "-m", "Add merge")
    assert dict(repo.trailers())["AI-Lines"].startswith("10/")


def first_used_bucket() -> int:
    data = index_path().read_bytes()
    directory = array("I", data[HEADER:HEADER + 4 * (BUCKETS + 1)])
    return next(b for b in range(BUCKETS) if directory[b + 1] > directory[b])


def flip(offset: int, mask: int = 0x40) -> None:
    with open(index_path(), "r+b") as fh:
        fh.seek(offset)
        byte = fh.read(1)[0]
        fh.seek(offset)
        fh.write(bytes([byte ^ mask]))


def one_line(done) -> str:
    err = done.stderr.decode()
    assert "Traceback" not in err and "IndexError" not in err, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_flipped_directory_bit_is_one_line_everywhere(repo):
    recorded(repo)
    bucket = first_used_bucket()
    high = 3 if sys.byteorder == "little" else 0
    flip(HEADER + 4 * (bucket + 1) + high)  # the bucket's end now points far past the entries
    damaged = index_path().read_bytes()

    done = aiguard("attribute", "HEAD", cwd=repo.path, check=False)
    assert done.returncode == 2
    line = one_line(done)
    assert "ledger.fpindex is damaged" in line and "move it aside" in line, line

    repo.write("again.py", MERGE_INTERVALS)
    repo.git("add", "again.py")
    done = repo.git("commit", "-q", "-m", "Again")
    said = [line for line in done.stderr.decode().splitlines() if "aiguard:" in line]
    assert said and all("damaged" in line for line in said), done.stderr
    assert "IndexError" not in done.stderr.decode()

    done = aiguard("doctor", cwd=repo.path, check=False)
    assert done.returncode == 1
    assert any(line.startswith("FAIL") and "ledger.fpindex is damaged" in line
               for line in done.stdout.decode().splitlines()), done.stdout
    assert index_path().read_bytes() == damaged  # never deleted nor rewritten behind the user's back


def test_flipped_fingerprint_bit_is_found_by_doctor_and_never_compacted_onward(repo):
    recorded(repo)
    flip(HEADER + 4 * (BUCKETS + 1) + 5)  # a key of stream 0: opening does not look at these
    damaged = index_path().read_bytes()

    done = aiguard("attribute", "HEAD", cwd=repo.path, check=False)
    assert "Traceback" not in done.stderr.decode()

    done = aiguard("doctor", cwd=repo.path, check=False)
    assert done.returncode == 1
    fails = [line for line in done.stdout.decode().splitlines() if line.startswith("FAIL")]
    assert any("ledger.fpindex is damaged" in line and "checksum" in line for line in fails), done.stdout

    aiguard("record", "--tool", "codex", "--model", "m", input=OTHER.encode())  # records stay safe in SQLite
    done = aiguard("ledger", "compact", check=False)
    assert done.returncode == 2
    assert "ledger.fpindex is damaged" in one_line(done)
    assert index_path().read_bytes() == damaged


def as_format_1() -> None:
    data = bytearray(index_path().read_bytes())
    data[9] = 1  # format 1: no checksums
    data[40:48] = bytes(8)
    index_path().write_bytes(bytes(data))


def test_format_1_index_with_a_flipped_directory_bit_is_one_line(repo):
    recorded(repo)
    as_format_1()
    bucket = first_used_bucket()
    flip(HEADER + 4 * (bucket + 1) + (3 if sys.byteorder == "little" else 0))  # no checksum to catch it
    done = aiguard("attribute", "HEAD", cwd=repo.path, check=False)
    assert done.returncode == 2
    assert "points past its entries" in one_line(done)
    doctor = aiguard("doctor", cwd=repo.path, check=False)
    assert doctor.returncode == 1 and "directory is out of order" in doctor.stdout.decode(), doctor.stdout


def test_format_1_index_is_still_read_and_upgraded_by_the_next_compaction(repo):
    recorded(repo)
    as_format_1()
    result = json.loads(aiguard("attribute", "HEAD", "--json", cwd=repo.path).stdout)
    assert (result["added"], result["ai"]) == (10, 10), result
    doctor = aiguard("doctor", cwd=repo.path, check=False).stdout.decode()
    assert "format 1, no checksum" in doctor, doctor

    aiguard("record", "--tool", "codex", "--model", "m", input=OTHER.encode())
    aiguard("ledger", "compact")
    assert index_path().read_bytes()[9] == 2
    assert "checksum verified" in aiguard("doctor", cwd=repo.path, check=False).stdout.decode()
