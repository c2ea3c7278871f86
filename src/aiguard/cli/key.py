"""`key init|export|import|rotate`: the team's stamp key."""

from __future__ import annotations

import sys

import click

from aiguard.cli.common import fail


@click.group()
def key() -> None:
    """The team's stamp key: make, move and rotate it.

    \b
    The team makes one key (`aiguard key init` then `aiguard key export`), keeps
    it as the CI secret AIGUARD_KEY, and every developer runs `aiguard key import`
    so their hooks sign with it. Rotation keeps old keys to verify old stamps.
    """


@key.command("init")
def key_init() -> None:
    """Make the keys if there are none; print the stamp key's id."""
    from aiguard.store import keys

    try:
        keyset = keys.load(create=True)
    except keys.KeyUnavailable as exc:
        fail(str(exc))
    click.echo(f"stamp key {keyset.stamp_keys[-1][0]} ({keyset.store})")


@key.command("export")
def key_export() -> None:
    """Print the current stamp key (a secret: store it as AIGUARD_KEY in CI)."""
    from aiguard.store import keys

    try:
        keyset = keys.load(create=False)
    except keys.KeyUnavailable as exc:
        fail(str(exc))
    click.echo(keys.format_key(keyset.stamp_keys[-1][1]))


@key.command("import")
@click.argument("value", required=False)
def key_import(value: str | None) -> None:
    """Make a team key (aiguard-key-v1:...) the signing key; read from stdin without VALUE."""
    from aiguard.store import keys

    text = value if value is not None else sys.stdin.read(1 << 16)  # a key is 79 characters: not /dev/zero whole
    if not text.strip():
        fail("no key given: pass the aiguard-key-v1:... that `aiguard key export` printed, as VALUE or on stdin")
    try:
        keyset = keys.add_stamp_key(keys.parse_key(text))
    except keys.KeyUnavailable as exc:
        fail(str(exc).replace("AIGUARD_KEY", "the key"))
    click.echo(f"stamp key {keyset.stamp_keys[-1][0]} now signs; {len(keyset.stamp_keys)} key(s) kept")


@key.command("rotate")
def key_rotate() -> None:
    """Make a new signing key; older keys are kept so their stamps still verify."""
    from aiguard.store import keys

    try:
        keyset = keys.add_stamp_key(keys.new_stamp_key())
    except keys.KeyUnavailable as exc:
        fail(str(exc))
    click.echo(f"stamp key {keyset.stamp_keys[-1][0]} now signs; export it and update AIGUARD_KEY "
               f"(keep the old ones there too: {', '.join(k for k, _ in keyset.stamp_keys[:-1])})")


COMMANDS = [key]
