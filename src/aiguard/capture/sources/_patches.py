"""apply_patch patches ("*** Begin Patch" V4A, as Codex, Copilot and others write them): the
text each file gets. Standard library only."""

from __future__ import annotations


def patch_texts(patch: str) -> list[tuple[str, str]]:
    """(path, added text) per file of an apply_patch ("*** Begin Patch" V4A) patch."""
    found: list[tuple[str, list[str]]] = []
    current: list[str] | None = None
    for line in patch.splitlines():
        if line.startswith(("*** Add File: ", "*** Update File: ")):
            current = []
            found.append((line.split(": ", 1)[1].strip(), current))
        elif line.startswith(("*** Delete File: ", "*** End Patch", "*** Begin Patch")):
            current = None
        elif line.startswith("*** Move to: ") and found and current is not None:
            found[-1] = (line.split(": ", 1)[1].strip(), current)
        elif current is not None and line.startswith("+"):
            current.append(line[1:])
    return [(path, "\n".join(lines) + "\n") for path, lines in found if any(l.strip() for l in lines)]
