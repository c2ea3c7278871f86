"""The ledger against real SQLite: recording, privacy, concurrency, crashes, schema, retention."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import aiguard.store.ledger as ledger_module
from aiguard.store import keys
from aiguard.store.ledger import SCHEMA_VERSION, Ledger
from conftest import aiguard

DAY = 86400


def home() -> Path:
    return Path(os.environ["AIGUARD_HOME"])


def ledger_file() -> Path:
    return home() / "ledger.sqlite3"


def snippet(tag: str, n: int = 0) -> str:
    """A distinct, recognisable piece of model output (well above the matcher's minimum size)."""
    return (
        f"def compute_{tag}_{n}(records_{n}, threshold={n + 7}):\n"
        f"    selected_{tag} = [row for row in records_{n} if row.score > threshold * {n + 2}]\n"
        f"    selected_{tag}.sort(key=lambda row: (row.group, -row.score))\n"
        f"    return {{row.name: row.score for row in selected_{tag}[:{n + 5}]}}\n"
    )


def line(text: str, tool: str = "codex", model: str = "gpt-5", **extra) -> str:
    return json.dumps({"tool": tool, "model": model, "text": text, **extra})


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(item + "\n" for item in lines))
    return path


def stats() -> dict:
    return json.loads(aiguard("ledger", "stats", "--json").stdout)


def records() -> int:
    return stats()["records"]


def stderr_lines(done: subprocess.CompletedProcess) -> list[str]:
    return done.stderr.decode().splitlines()


# --- recording through the command line ------------------------------------------------------


def test_record_from_stdin_and_duplicates():
    text = snippet("stdin")
    done = aiguard("record", "--tool", "claude-code", "--model", "m1", input=text.encode())
    assert done.stdout.decode().strip() == "recorded 1"
    assert done.stderr == b""
    again = aiguard("record", "--tool", "claude-code", "--model", "m1", input=text.encode())
    assert again.returncode == 0
    assert "recorded 0" in again.stdout.decode() and "1 already known" in again.stdout.decode()
    # Whitespace-only differences are the same output, not a second record.
    aiguard("record", "--tool", "claude-code", "--model", "m1", input=text.replace("\n", "\r\n").encode())
    s = stats()
    assert s["records"] == 1
    assert s["schema"] == SCHEMA_VERSION
    assert s["by_tool"] == [{"tool": "claude-code", "model": "m1", "source": "manual", "records": 1}]
    # The same text from another model is another record.
    aiguard("record", "--tool", "claude-code", "--model", "m2", input=text.encode())
    assert records() == 2


def test_record_jsonl_good_and_bad_lines(tmp_path):
    jsonl = write_jsonl(tmp_path / "outputs.jsonl", [
        line(snippet("good", 1)),                                           # 1: good
        '{"tool": "codex", "model": "gpt-5", "text": "def broken(',          # 2: malformed JSON
        json.dumps({"tool": "codex", "model": "gpt-5"}),                   # 3: no text
        line(snippet("badsource"), source="telepathy"),                     # 4: bad source
        line("def has_nul(a):\x00\x01 return a * 2 + 3 - 4 / 5 ** 6 if a else None and 7 or 8\n"),  # 5: NUL
        "",                                                                 # 6: blank, ignored
        line(snippet("good", 2), source="clipboard", file="src/x.py"),     # 7: good
    ])
    done = aiguard("record", "--jsonl", str(jsonl), check=False)
    assert done.returncode == 2, done
    assert "recorded 2" in done.stdout.decode()
    errors = stderr_lines(done)
    assert len(errors) == 4, errors  # one line per bad line
    assert all(e.startswith("aiguard: ") for e in errors), errors
    for number in (2, 3, 4):
        assert sum(f"outputs.jsonl:{number}:" in e for e in errors) == 1, errors
    assert any("text" in e and "outputs.jsonl:3:" in e for e in errors)
    assert any("telepathy" in e and "outputs.jsonl:4:" in e for e in errors)
    nul = [e for e in errors if "binary" in e]
    assert len(nul) == 1, errors
    assert records() == 2
    by_source = {row["source"]: row["records"] for row in stats()["by_tool"]}
    assert by_source == {"manual": 1, "clipboard": 1}

    # Again: the good lines are duplicates, not new records.
    again = aiguard("record", "--jsonl", str(jsonl), check=False)
    assert again.returncode == 2
    assert "recorded 0" in again.stdout.decode() and "2 already known" in again.stdout.decode()
    assert records() == 2


def test_record_jsonl_names_the_line_of_a_skipped_entry(tmp_path):
    """A skipped entry is reported by its line in the file, like a malformed one: the user has
    to find it. (aiguard says "entry 2", counting only the lines that parsed.)"""
    jsonl = write_jsonl(tmp_path / "outputs.jsonl", [
        line(snippet("first")),
        '{"oops"',
        line("def has_nul(a):\x00 return a * 2 + 3 - 4 / 5 ** 6 if a else None and 7 or 8\n"),
    ])
    done = aiguard("record", "--jsonl", str(jsonl), check=False)
    nul = [e for e in stderr_lines(done) if "binary" in e]
    assert len(nul) == 1
    assert "outputs.jsonl:3" in nul[0], nul[0]


def test_record_jsonl_times_that_are_not_dates(tmp_path):
    """JSON's 1e400 is infinity and Python reads NaN: such a time was stored (Inf) or crashed
    the whole run (NaN: NOT NULL constraint, a traceback), and `ledger stats` then crashed
    printing the oldest record. Each is one line's error; the good line is recorded."""
    jsonl = tmp_path / "outputs.jsonl"
    jsonl.write_text(
        line(snippet("inf"), time=1).replace('"time": 1', '"time": 1e400') + "\n"
        + line(snippet("nan"), time=1).replace('"time": 1', '"time": NaN') + "\n"
        + line(snippet("huge"), time=1).replace('"time": 1', '"time": 1' + "0" * 400) + "\n"
        + line(snippet("year10000"), time="9999-12-31T23:59:59-05:00") + "\n"
        + line(snippet("good")) + "\n")
    done = aiguard("record", "--jsonl", str(jsonl), check=False)
    errors = stderr_lines(done)
    assert done.returncode == 2 and "Traceback" not in done.stderr.decode(), errors
    assert "recorded 1" in done.stdout.decode()
    assert len(errors) == 4 and all("is not a date" in e for e in errors), errors
    for number in (1, 2, 3, 4):
        assert sum(f"outputs.jsonl:{number}:" in e for e in errors) == 1, errors
    assert "oldest:" in aiguard("ledger", "stats").stdout.decode()


@pytest.mark.parametrize("when", [float("inf"), float("nan"), 1e300, time.time() + 1000 * DAY])
def test_a_time_no_date_shows_is_stored_as_now(when):
    """What a hostile log or payload says (a source passes its number on) is stored as the
    time of recording: not Inf (never pruned, `ledger stats` crashed), not NaN (SQLite's NOT
    NULL), not the future (it would outlive the retention period)."""
    from aiguard.capture.record import record
    from aiguard.store.ledger import Entry

    before = time.time()
    result = record([Entry("codex", "gpt-5", snippet("odd"), "assistant-log", time=when)])
    assert result.added == 1, result
    assert before - 1 <= stats()["oldest"] <= time.time() + 1
    assert "oldest:" in aiguard("ledger", "stats").stdout.decode()


def test_record_reads_a_bounded_amount(tmp_path):
    """`record` read stdin whole and `record --jsonl` a line whole: /dev/zero (or a runaway
    producer) took all memory. Stdin past the limit and an over-long line are refused by
    name, a device is refused before reading, and the lines after a long one are read."""
    from aiguard.capture.record import MAX_INPUT

    with open("/dev/zero", "rb") as zero:
        done = subprocess.run([sys.executable, "-m", "aiguard", "record", "--tool", "codex", "--model", "gpt-5"],
                              stdin=zero, capture_output=True, timeout=60)
    assert done.returncode == 2 and stderr_lines(done) == [
        f"aiguard: stdin: more than {MAX_INPUT >> 20} MiB: not read (the ledger keeps model output up to "
        f"{ledger_module.MAX_TEXT_BYTES} characters)"], done.stderr
    for args in (["/dev/zero"], ["-"]):
        with open("/dev/zero", "rb") as zero:
            done = subprocess.run([sys.executable, "-m", "aiguard", "record", "--jsonl", *args], stdin=zero,
                                  capture_output=True, timeout=60)
        assert done.returncode == 2 and len(stderr_lines(done)) == 1 and "a device" in done.stderr.decode(), done
    jsonl = tmp_path / "long.jsonl"
    with open(jsonl, "w") as fh:
        fh.write(line("x" * (MAX_INPUT + 10)) + "\n" + line(snippet("after")) + "\n")
    done = aiguard("record", "--jsonl", str(jsonl), check=False)
    assert "recorded 1" in done.stdout.decode()
    assert stderr_lines(done) == [f"aiguard: {jsonl}:1: line over {MAX_INPUT >> 20} MiB: not read"], done.stderr
    assert aiguard("record", "--jsonl", os.devnull).returncode == 0


def test_record_stdin_with_nul_is_refused():
    text = snippet("binary").replace("threshold", "thresh\x00old")
    done = aiguard("record", "--tool", "codex", "--model", "gpt-5", input=text.encode(), check=False)
    assert done.returncode == 2
    errors = stderr_lines(done)
    assert len(errors) == 1 and "binary" in errors[0], errors
    assert records() == 0


def test_record_jsonl_from_stdin():
    data = "\n".join([line(snippet("piped", 1)), line(snippet("piped", 2))]) + "\n"
    done = aiguard("record", "--jsonl", "-", input=data.encode())
    assert "recorded 2" in done.stdout.decode()
    assert records() == 2


# --- privacy ---------------------------------------------------------------------------------

SECRET = '''\
def reconcile_quarterly_ledger(transactions, fx_table):
    """Match every settlement against its invoice, converting with the day's rate."""
    unmatched = {txn.invoice_id: txn for txn in transactions if txn.kind == "invoice"}
    for settlement in (t for t in transactions if t.kind == "settlement"):
        rate = fx_table.lookup(settlement.currency, settlement.booked_on)
        invoice = unmatched.pop(settlement.invoice_id, None)
        if invoice is None or abs(invoice.amount - settlement.amount * rate) > 0.005:
            yield settlement.invoice_id, "mismatch-zephyr-quokka"
'''


def _all_state_files() -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in sorted(home().rglob("*")) if p.is_file()}


def test_no_plaintext_and_private_modes(make_repo):
    aiguard("install", cwd=make_repo().path)
    aiguard("record", "--tool", "chatgpt", "--model", "unknown", input=snippet("warmup").encode())
    # Hold a reader open so that the next write stays in the WAL file (not checkpointed away).
    reader = sqlite3.connect(ledger_file(), isolation_level=None)
    try:
        reader.execute("SELECT count(*) FROM records").fetchone()
        aiguard("record", "--tool", "chatgpt", "--model", "unknown", input=SECRET.encode())
        aiguard("record", "--jsonl", "-", input=(line(SECRET, tool="claude-code", model="x") + "\n").encode())
        files = _all_state_files()
        names = {p.name for p in files}
        assert {"ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm", "keys.json"} <= names, names
        assert files[ledger_file().with_name("ledger.sqlite3-wal")], "the WAL is empty: the test proves nothing"

        windows = {SECRET[i:i + 8] for i in range(len(SECRET) - 7)}
        # Indentation is nobody's secret (the schema text itself has 8-space runs).
        windows = {w for w in windows if len(w.strip()) >= 4}
        for variant in (lambda s: s.encode("utf-8"), lambda s: s.encode("utf-16-le")):
            needles = {variant(w) for w in windows}
            for path, data in files.items():
                leaked = sorted(n for n in needles if n in data)
                assert not leaked, f"{path} holds plaintext of the snippet: {leaked[:5]}"

        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, f"{path} is {oct(path.stat().st_mode)}"
        for folder in [home(), *(p for p in home().rglob("*") if p.is_dir())]:
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700, f"{folder} is {oct(folder.stat().st_mode)}"
    finally:
        reader.close()


def test_state_folder_tightened_and_files_private_under_loose_umask():
    old = os.umask(0)
    try:
        aiguard("record", "--tool", "codex", "--model", "gpt-5", input=snippet("umask").encode())
    finally:
        os.umask(old)
    assert stat.S_IMODE(home().stat().st_mode) == 0o700
    for path in home().iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


# --- concurrency -----------------------------------------------------------------------------


def _record_in_parallel(tmp_path: Path, workers: int = 4, each: int = 25) -> list[subprocess.CompletedProcess]:
    files = []
    for w in range(workers):
        files.append(write_jsonl(tmp_path / f"worker{w}.jsonl",
                                 [line(snippet(f"w{w}", i), model=f"model-{w}") for i in range(each)]))
    procs = [subprocess.Popen([sys.executable, "-m", "aiguard", "record", "--jsonl", str(f)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for f in files]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


def test_concurrent_recorders(tmp_path, make_repo):
    # Keys and ledger exist, as after installation and first use (creating them concurrently
    # is the business of the two tests below).
    aiguard("install", cwd=make_repo().path)
    Ledger.open().close()
    for done in _record_in_parallel(tmp_path):
        assert done.returncode == 0, done.stderr
        assert done.stdout.decode().strip() == "recorded 25", done
        assert done.stderr == b""
    s = stats()
    assert s["records"] == 100
    assert sorted(row["records"] for row in s["by_tool"]) == [25, 25, 25, 25]


def test_concurrent_first_use_makes_one_key(tmp_path):
    """Four recorders on a machine with no keys yet must agree on one ledger key: a
    record keyed with a key that was then overwritten can never be matched again."""
    for done in _record_in_parallel(tmp_path):
        assert done.returncode == 0, done.stderr
    assert records() == 100
    ledger_id = keys.load().ledger_id
    with sqlite3.connect(ledger_file()) as conn:
        by_key = dict(conn.execute("SELECT key_id, count(*) FROM records GROUP BY key_id").fetchall())
    assert by_key == {ledger_id: 100}


_OPENER = """
import sys
from pathlib import Path
from aiguard.store.ledger import Ledger
print("ready", flush=True)
sys.stdin.readline()
try:
    with Ledger.open(Path(sys.argv[1])) as ledger:
        print("ok", ledger.conn.execute("PRAGMA user_version").fetchone()[0], flush=True)
except Exception as exc:
    print("error", type(exc).__name__, exc, flush=True)
"""


def test_concurrent_opener_processes(tmp_path):
    """Processes released together on a fresh ledger: all open it, the schema is made once."""
    outcomes = []
    for round_ in range(4):
        path = tmp_path / f"ledger{round_}.sqlite3"
        procs = [subprocess.Popen([sys.executable, "-c", _OPENER, str(path)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True) for _ in range(5)]
        for proc in procs:
            assert proc.stdout.readline().strip() == "ready"
        for proc in procs:  # release them all at once
            proc.stdin.write("go\n")
            proc.stdin.flush()
        outcomes += [proc.communicate(timeout=60)[0].strip() for proc in procs]
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
            tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
            assert tables == ["common_code", "fingerprints", "meta", "record_lines", "records", "sqlite_sequence"]
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    failures = [o for o in outcomes if o != f"ok {SCHEMA_VERSION}"]
    assert not failures, f"{len(failures)} of {len(outcomes)} openers failed: {failures[:3]}"


def _open_in_threads(count: int, path: Path) -> tuple[list[threading.Thread], list[str]]:
    outcomes: list[str] = []

    def opener() -> None:
        try:
            with Ledger.open(path) as ledger:
                outcomes.append(f"ok {ledger.conn.execute('PRAGMA user_version').fetchone()[0]}")
        except Exception as exc:  # noqa: BLE001 - the outcome is what is asserted
            outcomes.append(f"error {exc}")

    threads = [threading.Thread(target=opener) for _ in range(count)]
    for thread in threads:
        thread.start()
    return threads, outcomes


def test_opening_a_fresh_ledger_waits_for_a_writer():
    """Another process holding the write lock of a ledger that is still being created (the
    first `record` of the daemon, say) must make an opener wait, not fail at once."""
    home().mkdir(mode=0o700, parents=True)
    holder = sqlite3.connect(ledger_file(), isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # the fresh, empty file's write lock
        threads, outcomes = _open_in_threads(1, ledger_file())
        threads[0].join(timeout=1.0)  # bounded: the opener waits for the lock (timeout 30 s)
        assert outcomes == [], f"gave up while another connection held the lock: {outcomes}"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    threads[0].join()
    assert outcomes == [f"ok {SCHEMA_VERSION}"]


def test_concurrent_openers_migrate_once():
    """Two openers of an unmigrated ledger, held at the migration's lock and released
    together: both succeed and the schema is created once."""
    home().mkdir(mode=0o700, parents=True)
    holder = sqlite3.connect(ledger_file(), isolation_level=None)
    try:
        assert holder.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
        holder.execute("BEGIN IMMEDIATE")
        threads, outcomes = _open_in_threads(2, ledger_file())
        for thread in threads:
            thread.join(timeout=0.5)
        assert outcomes == [], outcomes
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    for thread in threads:
        thread.join()
    assert outcomes == [f"ok {SCHEMA_VERSION}"] * 2
    with sqlite3.connect(ledger_file()) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0] == 6  # with sqlite_sequence


# --- kill -9 ---------------------------------------------------------------------------------

_WRITER = """
import sys
from aiguard.capture.record import record
from aiguard.store.ledger import Entry

def entries():
    for i in range(100000):
        if i:
            print(i, flush=True)  # entry i-1 is committed: add() asks for the next one after COMMIT
        text = (f"def generated_{i}(items_{i}, scale={i}):\\n"
                f"    kept_{i} = [item * scale for item in items_{i} if item % {i % 7 + 2} == 1]\\n"
                f"    return sum(kept_{i}) / max(len(kept_{i}), {i + 1}) + {i * 3}\\n")
        yield Entry("codex", "gpt-5", text, "assistant-log")

record(entries())
"""


@pytest.mark.parametrize("kill_after", [1, 37, 150])
def test_kill_9_leaves_whole_records(kill_after, make_repo):
    aiguard("install", cwd=make_repo().path)
    if kill_after > 1:  # a ledger that already has data and a WAL in use
        aiguard("record", "--tool", "codex", "--model", "gpt-5", input=snippet("before").encode())
    before = records()
    proc = subprocess.Popen([sys.executable, "-c", _WRITER], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        acknowledged = 0
        while acknowledged < kill_after:
            got = proc.stdout.readline()
            assert got, proc.stderr.read().decode()
            acknowledged = int(got)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    with Ledger.open() as ledger:
        conn = ledger.conn
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        orphans = conn.execute(
            "SELECT count(*) FROM records r WHERE NOT EXISTS (SELECT 1 FROM fingerprints f WHERE f.record = r.id)"
        ).fetchone()[0]
        assert orphans == 0
        stray = conn.execute(
            "SELECT count(*) FROM fingerprints f WHERE NOT EXISTS (SELECT 1 FROM records r WHERE r.id = f.record)"
        ).fetchone()[0]
        assert stray == 0
        total = conn.execute("SELECT count(*) FROM records").fetchone()[0]
    # Every record the writer had committed survived the crash.
    assert total - before >= acknowledged
    # And the ledger is still writable by the command line.
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=snippet("after").encode())
    assert records() == total + 1


# --- schema ----------------------------------------------------------------------------------


def test_schema_version_is_set():
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=snippet("schema").encode())
    with sqlite3.connect(ledger_file()) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == ledger_module.SCHEMA_VERSION
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert stats()["schema"] == SCHEMA_VERSION


def test_newer_schema_is_a_clear_error(make_repo):
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=snippet("future").encode())
    with sqlite3.connect(ledger_file()) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    for args, stdin in ((("ledger", "stats"), None), (("ledger", "stats", "--json"), None),
                        (("ledger", "prune"), None),
                        (("record", "--tool", "codex", "--model", "gpt-5"), snippet("other").encode())):
        done = aiguard(*args, input=stdin, check=False)
        assert done.returncode == 2, (args, done)
        errors = stderr_lines(done)
        assert len(errors) == 1, (args, errors)
        assert "newer aiguard" in errors[0] and str(ledger_file()) in errors[0], errors
    # The ledger was left as it was.
    with sqlite3.connect(ledger_file()) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    # A commit still goes through, unstamped, with one warning line.
    repo = make_repo()
    aiguard("install", cwd=repo.path)
    repo.write("a.py", snippet("future"))
    repo.git("add", "a.py")
    done = repo.git("commit", "-q", "-m", "future")
    assert [e for e in stderr_lines(done) if e.startswith("aiguard:")] and "AI-Lines" not in dict(repo.trailers())


def test_damaged_ledger_is_a_clear_error():
    home().mkdir(mode=0o700, parents=True)
    ledger_file().write_bytes(b"this is not a database" * 100)
    os.chmod(ledger_file(), 0o600)
    done = aiguard("ledger", "stats", check=False)
    assert done.returncode == 2
    errors = stderr_lines(done)
    assert len(errors) == 1 and str(ledger_file()) in errors[0], errors


# --- retention -------------------------------------------------------------------------------


def _config(text: str) -> Path:
    home().mkdir(mode=0o700, parents=True, exist_ok=True)
    path = home() / "config.toml"
    path.write_text(text)
    return path


def _record_aged(tmp_path: Path, ages_days: dict[str, float]) -> None:
    now = time.time()
    lines = [line(snippet(tag), time=now - age * DAY) for tag, age in ages_days.items()]
    aiguard("record", "--jsonl", str(write_jsonl(tmp_path / "aged.jsonl", lines)))


def test_prune_default_retention(tmp_path):
    config = _config("retention-days = 1000\n")  # nothing is pruned while recording
    _record_aged(tmp_path, {"ancient": 200, "recent": 0})
    assert records() == 2
    config.unlink()  # back to the default, 180 days
    done = aiguard("ledger", "prune")
    assert "pruned 1 " in done.stdout.decode()
    assert records() == 1
    assert aiguard("ledger", "prune").stdout.decode().startswith("pruned 0 ")
    # The recent one is the one kept.
    assert stats()["oldest"] > time.time() - DAY


def test_prune_older_than(tmp_path):
    _config("retention-days = 1000\n")
    _record_aged(tmp_path, {"twodays": 2, "now": 0})
    done = aiguard("ledger", "prune", "--older-than", "1")
    assert "pruned 1 " in done.stdout.decode()
    assert records() == 1
    for bad in ("0", "-3"):
        refused = aiguard("ledger", "prune", "--older-than", bad, check=False)
        assert refused.returncode == 2 and len(stderr_lines(refused)) == 1
    assert records() == 1


def test_retention_days_from_config(tmp_path):
    _config("retention-days = 1000\n")
    _record_aged(tmp_path, {"forty": 40, "ten": 10})
    _config("retention-days = 30\n")
    done = aiguard("ledger", "prune")
    assert "pruned 1 records older than 30 days" in done.stdout.decode()
    assert records() == 1
    assert stats()["oldest"] < time.time() - 9 * DAY


def test_recording_prunes_by_config(tmp_path):
    _config("retention-days = 30\n")
    _record_aged(tmp_path, {"forty": 40, "ten": 10})
    assert records() == 1


@pytest.mark.parametrize("text, key", [
    ('retention-days = "soon"\n', "retention-days"),
    ("retention-days = -5\n", "retention-days"),
    ("retention-days = true\n", "retention-days"),
    ("retention-days = nan\n", "retention-days"),  # kept every record forever; prune blamed --older-than
    ("retention = 30\n", "retention"),
])
def test_bad_config_is_a_one_line_error(tmp_path, text, key):
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=snippet("kept").encode())
    path = _config(text)
    done = aiguard("ledger", "prune", check=False)
    assert done.returncode == 2
    errors = stderr_lines(done)
    assert len(errors) == 1, errors
    assert str(path) in errors[0] and key in errors[0], errors
    assert b"Traceback" not in done.stderr
    assert records() == 1


def test_record_with_bad_config_does_not_half_succeed():
    """Exit 2 is an error: it must not also have recorded (a script would think it failed)."""
    _config('retention-days = "soon"\n')
    done = aiguard("record", "--tool", "codex", "--model", "gpt-5", input=snippet("half").encode(), check=False)
    errors = stderr_lines(done)
    assert len(errors) == 1 and "retention-days" in errors[0], errors
    if done.returncode == 2:
        assert records() == 0, "exit 2, yet the output was recorded"
    else:
        assert done.returncode == 0 and records() == 1


def test_ledger_compact_command():
    """`aiguard ledger compact` moves what waits into the index file; stats say so."""
    assert aiguard("ledger", "compact").stdout.decode().strip() == "moved 0 fingerprints (no ledger yet)"
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=snippet("compact").encode())
    before = stats()
    assert before["waiting"] == before["fingerprints"] > 0 and before["index_bytes"] == 0
    out = aiguard("ledger", "compact").stdout.decode().strip()
    assert out.startswith(f"moved {before['fingerprints']} fingerprints into ") and "ledger.fpindex" in out
    after = stats()
    assert after["waiting"] == 0 and after["fingerprints"] == before["fingerprints"] and after["index_bytes"] > 0
    assert (home() / "ledger.fpindex").stat().st_mode & 0o777 == 0o600
    assert aiguard("ledger", "compact").stdout.decode().startswith("moved 0 fingerprints")


def test_a_relative_state_folder_inside_a_work_tree_is_never_committed(make_repo, monkeypatch):
    """AIGUARD_HOME=state (relative) and the commit hook runs at the top of the work tree: the folder
    aiguard makes there ignores itself, so `git add -A` never stages the key file or the ledger."""
    repo = make_repo()
    aiguard("install", cwd=repo.path)
    monkeypatch.setenv("AIGUARD_HOME", "state")
    aiguard("record", "--tool", "codex", "--model", "gpt-5", input=snippet("relative").encode(), cwd=repo.path)
    assert (repo.path / "state" / "keys.json").is_file() and (repo.path / "state" / "ledger.sqlite3").is_file()
    repo.write("a.py", snippet("relative"))
    repo.git("add", "-A")
    staged = repo.out("diff", "--cached", "--name-only").split()
    assert staged == ["a.py"], staged
    repo.git("commit", "-q", "-m", "With a relative state folder")
    assert dict(repo.trailers())["Assisted-by"] == "codex:gpt-5"
    assert repo.out("ls-files").split() == ["a.py"]


def test_the_ledger_uses_sqlite3s_c_module_or_else_sqlite3(tmp_path):
    import _sqlite3

    # _sqlite3 without sqlite3's wrapper, which imports datetime for adapters the ledger never uses
    assert ledger_module.sqlite3 is _sqlite3 and ledger_module.sqlite3.OperationalError is sqlite3.OperationalError
    code = ("import sys, sqlite3\n"
            "sys.modules['_sqlite3'] = None  # a Python whose sqlite3 has no C module of that name\n"
            "from pathlib import Path\n"
            "from aiguard.store import ledger\n"
            "assert ledger.sqlite3 is sqlite3\n"
            "opened = ledger.Ledger.open(Path(sys.argv[1]))\n"
            "assert opened.is_empty()\n"
            "opened.close()\n"
            "assert ledger.Ledger.open_readonly(sys.argv[1]).is_empty()\n")
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path / "ledger.sqlite3")], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
