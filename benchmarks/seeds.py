"""Accuracy over several seeds: how much one run's figures can be trusted.

Runs `accuracy.py --other-languages` once per seed (each seed draws another package
split, other ledger windows and other cases), or only reads the JSON files such runs
wrote, and prints per language and paste kind the mean, minimum and maximum of hunk
and AI-line recall, and of the human false-positive rates.

    python benchmarks/seeds.py --seeds 1-10 [--cases 400] [--run]   # --run: run accuracy.py first
    python benchmarks/seeds.py --seeds 1-10 --read                   # only summarise earlier runs

Results: benchmarks/results/accuracy_other_seed<N>.json per seed, and seeds.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
LANGUAGES = ("python", "javascript", "c")


def seed_list(text: str) -> list[int]:
    out: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        out.extend(range(int(low), int(high or low) + 1))
    return out


def result_path(seed: int) -> Path:
    return RESULTS / f"accuracy_other_seed{seed}.json"


def run(seed: int, cases: int) -> None:
    subprocess.run([sys.executable, str(HERE / "accuracy.py"), "--other-languages", "--seed", str(seed),
                    "--cases", str(cases), "--out", str(result_path(seed))], check=True,
                   stdout=subprocess.DEVNULL)


def spread(values: list[float]) -> dict:
    return {"mean": round(statistics.mean(values), 4), "min": min(values), "max": max(values),
            "stdev": round(statistics.stdev(values), 4) if len(values) > 1 else 0.0, "n": len(values)}


def summarise(seeds: list[int]) -> dict:
    runs = [json.loads(result_path(s).read_text()) for s in seeds]
    out: dict = {"seeds": seeds, "cases": runs[0]["args"]["cases"], "commits": sorted({r["aiguard_commit"] for r in runs})}
    for lang in LANGUAGES:
        per_kind: dict[str, dict] = {}
        for kind in runs[0][lang]["recall"]:
            hunk = [r[lang]["recall"][kind]["hunk_recall"] for r in runs]
            line = [r[lang]["recall"][kind]["line_recall"] for r in runs]
            per_kind[kind] = {"hunk_recall": spread(hunk), "line_recall": spread(line)}
        human = {
            "hunk_fpr": spread([r[lang]["human"]["hunk_fpr"] for r in runs]),
            "line_fpr": spread([r[lang]["human"]["line_fpr"] for r in runs]),
            "line_fpr_excluding_derived": spread([r[lang]["human"]["line_fpr_excluding_derived"] for r in runs]),
        }
        out[lang] = {"recall": per_kind, "human": human,
                     "files": [r[lang].get("files") for r in runs]}
    return out


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def table(summary: dict) -> str:
    rows = []
    for lang in LANGUAGES:
        s = summary[lang]
        rows.append(f"\n**{lang}** ({len(summary['seeds'])} seeds, {summary['cases']} cases per kind; "
                    "mean [min–max], in %)\n")
        rows.append("| paste kind | hunk recall | AI-line recall |")
        rows.append("|---|---|---|")
        for kind, r in s["recall"].items():
            h, l = r["hunk_recall"], r["line_recall"]
            rows.append(f"| {kind} | {pct(h['mean'])} [{pct(h['min'])}–{pct(h['max'])}] "
                        f"| {pct(l['mean'])} [{pct(l['min'])}–{pct(l['max'])}] |")
        hh, hl, hd = s["human"]["hunk_fpr"], s["human"]["line_fpr"], s["human"]["line_fpr_excluding_derived"]
        rows.append(f"| human code: hunk FPR / line FPR / line FPR excl. derived | {pct(hh['mean'])} [{pct(hh['min'])}–{pct(hh['max'])}] "
                    f"| {100 * hl['mean']:.2f} [{100 * hl['min']:.2f}–{100 * hl['max']:.2f}] / "
                    f"{100 * hd['mean']:.2f} [{100 * hd['min']:.2f}–{100 * hd['max']:.2f}] |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1-10", help="e.g. 1-10 or 1,3,5")
    parser.add_argument("--cases", type=int, default=400, help="cases per kind (with --run)")
    parser.add_argument("--run", action="store_true", help="run accuracy.py for each seed first")
    parser.add_argument("--read", action="store_true", help="only read earlier results (the default without --run)")
    args = parser.parse_args()
    seeds = seed_list(args.seeds)
    if args.run:
        for seed in seeds:
            print(f"seed {seed} ...", file=sys.stderr, flush=True)
            run(seed, args.cases)
    summary = summarise(seeds)
    (RESULTS / "seeds.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table(summary))


if __name__ == "__main__":
    main()
