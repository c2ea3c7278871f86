"""The user configuration file (config.toml); see README "Configuration"."""

from __future__ import annotations

import sys
from typing import NamedTuple

from aiguard import paths

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    paths.full_site()
    import tomli as tomllib


class ConfigError(Exception):
    pass


class UserConfig(NamedTuple):
    retention_days: float = 180.0


_KNOWN = {"retention-days"}


def load() -> UserConfig:
    path = paths.config_path()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return UserConfig()
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
    retention = data.get("retention-days", 180)
    if isinstance(retention, bool) or not isinstance(retention, (int, float)) or retention <= 0:
        raise ConfigError(f"{path}: retention-days must be a positive number of days, not {retention!r}")
    return UserConfig(retention_days=float(retention))
