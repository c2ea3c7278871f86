"""The user configuration file (config.toml); see README "Configuration"."""

from __future__ import annotations

import sys
from typing import NamedTuple

from aiguard.core.errors import AiguardError
from aiguard.store import paths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    paths.full_site()
    import tomli as tomllib


class ConfigError(AiguardError):
    pass


class ClipboardConfig(NamedTuple):
    """The [clipboard] table: whether the daemon watches the clipboard, and what counts as AI."""

    enabled: bool = True
    services: tuple[tuple[str, str], ...] = ()  # extra "host[/path]" -> service name (the trailer's TOOL)
    ignore: tuple[str, ...] = ()  # "host[/path]" never recorded, default services included
    window_titles: bool = True  # without a source URL, trust the focused app or window title


class UserConfig(NamedTuple):
    retention_days: float = 180.0
    clipboard: ClipboardConfig = ClipboardConfig()


_KNOWN = {"retention-days", "clipboard"}
_KNOWN_CLIPBOARD = {"enabled", "services", "ignore", "window-titles"}


def load() -> UserConfig:
    path = paths.config_path()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return UserConfig()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be a config file") from None
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
    retention = data.get("retention-days", 180)
    if isinstance(retention, bool) or not isinstance(retention, (int, float)) or not retention > 0:  # nan too
        raise ConfigError(f"{path}: retention-days must be a positive number of days, not {retention!r}")
    return UserConfig(retention_days=float(retention), clipboard=_clipboard(path, data.get("clipboard", {})))


def _clipboard(path: object, table: object) -> ClipboardConfig:
    if table == {}:
        return ClipboardConfig()
    from aiguard.core.provenance import PatternError, check_service_name, parse_pattern

    if not isinstance(table, dict):
        raise ConfigError(f"{path}: clipboard must be a table ([clipboard])")
    unknown = sorted(set(table) - _KNOWN_CLIPBOARD)
    if unknown:
        raise ConfigError(f"{path}: unknown key clipboard.{unknown[0]} (known: {', '.join(sorted(_KNOWN_CLIPBOARD))})")
    for key in ("enabled", "window-titles"):
        if not isinstance(table.get(key, True), bool):
            raise ConfigError(f"{path}: clipboard.{key} must be true or false, not {table[key]!r}")
    services = table.get("services", {})
    ignore = table.get("ignore", [])
    if not isinstance(services, dict):
        raise ConfigError(f"{path}: clipboard.services must be a table of \"host[/path]\" = \"service\"")
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        raise ConfigError(f"{path}: clipboard.ignore must be a list of \"host[/path]\" strings")
    try:
        for pattern, service in services.items():
            parse_pattern(pattern)
            check_service_name(service)
        for pattern in ignore:
            parse_pattern(pattern)
    except PatternError as exc:
        raise ConfigError(f"{path}: clipboard: {exc}") from None
    return ClipboardConfig(enabled=table.get("enabled", True), services=tuple(services.items()),
                           ignore=tuple(ignore), window_titles=table.get("window-titles", True))
