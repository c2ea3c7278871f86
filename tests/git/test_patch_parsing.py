"""parse_patch reads a hunk's added lines in one step where they are all the hunk holds; on real
`git diff` output of random edits it gives what reading every line one by one gives."""

from __future__ import annotations

import random

from conftest import Repo

from aiguard.git import patches

PIECES = ["x = 1", "def f(a):", "    return a", "", "\t# tab", "+plus", "-minus", "\\ backslash", " space",
          "naïve ünïcode", "nul\0byte", "crlf\r", "@@ -1 +1 @@", "diff --git a/x b/x"]


def random_text(rng: random.Random, lines: int) -> str:
    text = "\n".join(rng.choice(PIECES) for _ in range(lines))
    return text + ("\n" if rng.random() < 0.7 else "")  # some files end without a newline


def edit(rng: random.Random, text: str) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 6)):
        at = rng.randint(0, len(lines))
        kind = rng.random()
        if kind < 0.5:  # an insertion (a pure-addition hunk)
            lines[at:at] = [rng.choice(PIECES) for _ in range(rng.randint(1, 8))]
        elif kind < 0.8 and lines:  # a replacement
            lines[at:at + rng.randint(1, 3)] = [rng.choice(PIECES) for _ in range(rng.randint(0, 4))]
        else:  # a deletion
            del lines[at:at + rng.randint(1, 3)]
    return "\n".join(lines)


def test_bulk_reading_equals_line_by_line_on_random_edits(make_repo):
    rng = random.Random(12)
    repo = make_repo()
    names = [f"f{i}.txt" for i in range(30)]
    for name in names:
        repo.write(name, random_text(rng, rng.randint(0, 40)).encode("utf-8", "surrogateescape"))
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "base", env={"GIT_AUTHOR_NAME": "t", "GIT_COMMITTER_NAME": "t"})
    for round_ in range(6):
        for name in rng.sample(names, 12):
            old = (repo.path / name).read_bytes().decode("utf-8", "surrogateescape")
            repo.write(name, edit(rng, old).encode("utf-8", "surrogateescape"))
        for n in range(3):
            repo.write(f"new{round_}_{n}.txt", random_text(rng, rng.randint(0, 60)).encode("utf-8", "surrogateescape"))
        repo.git("add", "-A")
        patch = repo.git("diff", "--cached", *patches.DIFF_FLAGS, "HEAD", "--").stdout
        bulk, one_by_one = patches.parse_patch(patch), patches.parse_patch(patch, bulk=False)
        assert bulk == one_by_one
        assert sum(len(d.added) for d in bulk) > 0
        repo.git("commit", "-q", "-m", f"round {round_}")
    # and on this repository's whole history as one diff: many pure-addition hunks
    first = repo.out("rev-list", "--max-parents=0", "HEAD").strip()
    patch = repo.git("diff", *patches.DIFF_FLAGS, patches.empty_tree(str(repo.path)), "HEAD", "--").stdout
    assert patches.parse_patch(patch) == patches.parse_patch(patch, bulk=False)
    assert first
