"""Files an agent writes through its shell tool: what text a command puts into which file.

Assistants that can run commands (Claude Code's Bash, Codex's shell/exec_command,
Gemini CLI's run_shell_command, Copilot's bash, Qwen Code, Kimi CLI's Shell) often
write code with the shell instead of their edit tools. What such a command writes is
knowable for a few forms only, and only those are read:

* a here-document into a file: `cat > f <<'EOF'`, `cat <<EOF >> f`, `tee [-a] f <<EOF`
  (the body is the text; with an unquoted tag the shell would expand `$x` first, so
  such lines may not match, which costs nothing);
* `printf 'text' > f` (with `\\n`, `\\t`, `\\\\` and `%%` decoded; a format with
  other directives is not knowable) and `echo [-n|-e] text > f`;
* `sed -i` (only its `a`, `i` and `c` text and the replacement side of an `s` command
  without back-references: the rest of the file is not in the command);
* `apply_patch` with a "*** Begin Patch" patch (a here-document or an argument).

Anything else (an interpreter writing files, a redirect of a program's output) is not
knowable from the command and is not recorded. Standard library only.
"""

from __future__ import annotations

import re
import shlex

from aiguard.capture.sources._patches import patch_texts

HEREDOC = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\2")
REDIRECT = re.compile(r"(>>?)[ \t]*(\"[^\"]+\"|'[^']+'|[^\s;&|<>]+)")
_SEPARATORS = re.compile(r"\s*(?:&&|\|\||;)\s*")


def shell_writes(command: object) -> list[tuple[str | None, str]]:
    """(file, text) pairs a shell command writes, for the forms named above."""
    if not isinstance(command, str) or not command.strip():
        return []
    if "*** Begin Patch" in command and "apply_patch" in command:
        patch = command[command.index("*** Begin Patch"):]
        end = patch.find("*** End Patch")
        return list(patch_texts(patch[:end + len("*** End Patch")] if end >= 0 else patch))
    found: list[tuple[str | None, str]] = []
    lines = command.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        heredoc = HEREDOC.search(line)
        if heredoc:
            strip_tabs, tag = heredoc.group(1) == "-", heredoc.group(3)
            body: list[str] = []
            index += 1
            while index < len(lines) and (lines[index].lstrip("\t") if strip_tabs else lines[index]) != tag:
                body.append(lines[index].lstrip("\t") if strip_tabs else lines[index])
                index += 1
            if index >= len(lines):
                break  # no end tag: the command is cut off, its body not knowable
            index += 1
            head = line[:heredoc.start()] + line[heredoc.end():]
            target = _heredoc_target(head)
            text = "\n".join(body) + "\n"
            if target and text.strip():
                found.append((target, text))
            continue
        for segment in _SEPARATORS.split(line):
            found += _simple_writes(segment)
        index += 1
    return found


def _heredoc_target(head: str) -> str | None:
    """The file a `cat`/`tee` command line with a here-document writes to."""
    head = re.split(r"\|\||&&|;|\|", head)[-1]
    words = _words(head)
    if not words:
        return None
    if words[0] == "cat":
        redirect = REDIRECT.search(head)
        return _unquote(redirect.group(2)) if redirect else None
    if words[0] == "tee":
        files = [w for w in words[1:] if not w.startswith("-") and not w.startswith(">")]
        return files[0] if files else None
    return None


def _simple_writes(segment: str) -> list[tuple[str | None, str]]:
    words = _words(segment)
    if not words:
        return []
    if words[0] in ("printf", "echo"):
        redirect = next((i for i, w in enumerate(words) if w in (">", ">>")), None)
        if redirect is None or redirect + 1 >= len(words):
            return []
        target, arguments = words[redirect + 1], words[1:redirect]
        text = _printf(arguments) if words[0] == "printf" else _echo(arguments)
        return [(target, text)] if text and text.strip() else []
    in_place = any(w.startswith("-i") or w.startswith("--in-place") for w in words[1:])
    if words[0] == "sed" and in_place:
        return _sed(words[1:])
    return []


def _words(text: str) -> list[str]:
    """Shell words, with `>f` split into `>` and `f`; [] when the quoting is broken."""
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars="><")
        lexer.whitespace_split = True
        return list(lexer)
    except ValueError:
        return []


def _unquote(word: str) -> str:
    return word[1:-1] if len(word) > 1 and word[0] == word[-1] and word[0] in "'\"" else word


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


def _decode(text: str) -> str | None:
    """printf-style escapes decoded; None when the text uses an escape or directive not handled."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            if text[i + 1] not in _ESCAPES:
                return None
            out.append(_ESCAPES[text[i + 1]])
            i += 2
        elif char == "%":
            if text[i + 1:i + 2] != "%":
                return None
            out.append("%")
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _printf(arguments: list[str]) -> str | None:
    if len(arguments) != 1:  # a format with arguments (or none): what it prints is not read here
        return None
    return _decode(arguments[0])


def _echo(arguments: list[str]) -> str | None:
    newline, escapes = True, False
    while arguments and arguments[0] in ("-n", "-e", "-ne", "-en", "-E"):
        newline = newline and "n" not in arguments[0]
        escapes = escapes or "e" in arguments[0]
        arguments = arguments[1:]
    text = " ".join(arguments)
    if escapes:
        decoded = _decode(text.replace("%", "%%"))
        if decoded is None:
            return None
        text = decoded
    return text + ("\n" if newline else "")


_SED_TEXT = re.compile(r"^(?:\d+|\$|/[^/]*/)?\s*([aic])(\\?)(.*)$", re.S)


def _sed(arguments: list[str]) -> list[tuple[str | None, str]]:
    """What `sed -i SCRIPT FILE...` writes that the command itself holds."""
    scripts: list[str] = []
    files: list[str] = []
    rest = iter(arguments)
    for word in rest:
        if word in ("-e", "--expression"):
            scripts.append(next(rest, ""))
        elif word.startswith("-"):
            continue
        elif not scripts:
            scripts.append(word)
        else:
            files.append(word)
    if len(files) != 1:
        return []  # one edit over several files (or none): not which file got which line
    texts = []
    for script in scripts:
        for command in script.split("\n") if "\n" in script else [script]:
            texts += _sed_text(command.strip())
    return [(files[0], text) for text in texts if text.strip()]


def _sed_text(command: str) -> list[str]:
    if command.startswith("s") and len(command) > 3:
        delimiter = command[1]
        parts = command[2:].split(delimiter)
        if len(parts) >= 3 and not re.search(r"\\[0-9]|&", parts[1]):
            return [parts[1].replace("\\n", "\n") + "\n"]
        return []
    match = _SED_TEXT.match(command)
    if match:
        text = match.group(3) if match.group(2) else match.group(3).lstrip()  # `a\` keeps indentation
        return [text.replace("\\n", "\n") + "\n"]
    return []
