"""How fast `aiguard ingest` reads assistant logs, and what the daemon costs at rest.

Writes Claude Code transcripts shaped like the real fixture
(tests/fixtures/assistant-logs/claude-code/claude-code-with-plan.jsonl: a user line,
then assistant lines with `Write`/`Edit` tool_use blocks, interleaved with the
text-only and tool_result lines a real session holds, about 1 in 4 lines writing
code) whose code comes from the benchmark corpus (corpus.py, the "ai" set), until
--mb megabytes, in --files session files. Then, in a temporary AIGUARD_HOME:

* `aiguard ingest DIR` on an empty ledger (wall time, MB/s, records/s), and a second
  pass over the same files (everything already known: the dedupe path);
* the daemon: `aiguard daemon run` started on the same folder tree, its RSS (and
  the hook server's) after the catch-up and 10 s idle, and its CPU over 30 s idle.

    python benchmarks/ingest_throughput.py [--mb 50] [--files 40] [--out benchmarks/results/ingest_throughput.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import corpus as corpus_mod  # noqa: E402
from verify_throughput import machine, write_results  # noqa: E402

PY = sys.executable


def transcript_lines(snippets, session: str, cwd: str):
    """Claude Code JSONL lines: user prompt, assistant text, Write/Edit tool_use, tool_result."""
    n = 0
    parent = None
    for i, s in enumerate(snippets):
        for kind in ("user", "text", "tool", "result"):
            n += 1
            uid = f"{session}-{n}"
            base = {"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": cwd,
                    "sessionId": session, "version": "2.0.69", "gitBranch": "main", "uuid": uid,
                    "timestamp": f"2026-11-26T10:{(n // 60) % 60:02d}:{n % 60:02d}.000Z"}
            parent = uid
            if kind == "user":
                yield {**base, "type": "user", "message": {"role": "user", "content": f"Please write step {i} of the module."}}
            elif kind == "text":
                yield {**base, "type": "assistant", "requestId": f"req_{n}", "message": {
                    "model": "claude-sonnet-4-5-20250929", "id": f"msg_{n}", "type": "message", "role": "assistant",
                    "content": [{"type": "text", "text": "I'll add that now, keeping the existing interfaces."}],
                    "usage": {"input_tokens": 10, "output_tokens": 20}}}
            elif kind == "tool":
                name = "Write" if i % 3 else "Edit"
                args = ({"file_path": f"{cwd}/pkg/mod_{i}.py", "content": s.text} if name == "Write" else
                        {"file_path": f"{cwd}/pkg/mod_{i}.py", "old_string": "pass\n", "new_string": s.text})
                yield {**base, "type": "assistant", "requestId": f"req_{n}", "message": {
                    "model": "claude-sonnet-4-5-20250929", "id": f"msg_{n}", "type": "message", "role": "assistant",
                    "content": [{"type": "tool_use", "id": f"toolu_{n}", "name": name, "input": args}],
                    "usage": {"input_tokens": 10, "output_tokens": 200}}}
            else:
                yield {**base, "type": "user", "message": {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": f"toolu_{n - 1}", "content": "File written successfully"}]}}


def write_logs(root: Path, snippets, mb: float, files: int) -> dict:
    budget = int(mb * 1e6)
    per_file = budget // files
    written = lines = writes = 0
    index = 0
    for f in range(files):
        project = root / "projects" / f"-work-project-{f % 8}"
        project.mkdir(parents=True, exist_ok=True)
        size = 0
        with open(project / f"session-{f:04d}.jsonl", "w", encoding="utf-8") as fh:
            while size < per_file and index < len(snippets):
                chunk = snippets[index:index + 50]
                index += len(chunk)
                for line in transcript_lines(chunk, f"s{f}-{index}", f"/work/project-{f % 8}"):
                    text = json.dumps(line) + "\n"
                    fh.write(text)
                    size += len(text.encode())
                    lines += 1
                writes += len(chunk)
        written += size
    return {"bytes": written, "lines": lines, "code_writes": writes, "files": files}


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=50)
    parser.add_argument("--files", type=int, default=40)
    parser.add_argument("--out", default=str(HERE / "results" / "ingest_throughput.json"))
    args = parser.parse_args()

    corpus = corpus_mod.build()
    snippets = [s for s in corpus.ai if s.lines >= 4]
    tmp = Path(tempfile.mkdtemp(prefix="aiguard-ingest-bench-"))
    results: dict = {"machine": machine()}
    try:
        claude_home = tmp / "claude"
        results["logs"] = write_logs(claude_home, snippets, args.mb, args.files)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIGUARD_", "CLAUDE_", "DISPLAY", "WAYLAND"))}
        env.update({"AIGUARD_HOME": str(tmp / "home"), "HOME": str(tmp / "userhome"), "CLAUDE_CONFIG_DIR": str(claude_home),
                    "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring", "XDG_CONFIG_HOME": str(tmp / "cfg")})
        (tmp / "userhome").mkdir()
        mb = results["logs"]["bytes"] / 1e6
        for name in ("first pass (empty ledger)", "second pass (all known)"):
            started = time.perf_counter()
            done = subprocess.run([PY, "-m", "aiguard", "ingest", str(claude_home / "projects")], env=env,
                                  capture_output=True, text=True, check=True)
            seconds = time.perf_counter() - started
            results[name] = {"seconds": round(seconds, 2), "mb_per_s": round(mb / seconds, 2),
                             "code_writes_per_s": round(results["logs"]["code_writes"] / seconds),
                             "output": done.stdout.strip().splitlines()[-1:]}
            print(name, results[name], flush=True)
        # The daemon at rest, on the same (already ingested) logs.
        proc = subprocess.Popen([PY, "-m", "aiguard", "daemon", "run"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            sock = tmp / "home" / "hook.sock"
            deadline = time.monotonic() + 60
            while not sock.exists() and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(10)
            ticks0 = {pid: cpu_ticks(pid) for pid in [proc.pid, *children(proc.pid)]}
            time.sleep(30)
            hz = os.sysconf("SC_CLK_TCK")
            results["daemon_idle"] = {
                "daemon_rss_mib": round(rss_kib(proc.pid) / 1024, 1),
                "hook_server_rss_mib": [round(rss_kib(p) / 1024, 1) for p in children(proc.pid)],
                "cpu_percent_of_one_core_30s": {str(pid): round(100 * (cpu_ticks(pid) - t) / hz / 30, 2)
                                                for pid, t in ticks0.items()},
            }
            print("daemon idle", results["daemon_idle"], flush=True)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=30)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_results(results, args.out)


if __name__ == "__main__":
    main()
