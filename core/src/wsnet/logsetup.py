"""Logging set-up for `wsnet run`: a default format, --debug, or a config file.

Everything logs under the "wsnet" logger tree.  Per-packet paths never log, so
debug logging costs nothing while it is off.
"""

from __future__ import annotations

import json
import logging
import logging.config
import tomllib
from pathlib import Path

from .errors import ConfigError

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure(debug: bool = False, config_file: Path | None = None) -> None:
    if config_file is not None:
        _from_file(config_file)
    else:
        logging.basicConfig(level=logging.WARNING, format=FORMAT)
        logging.getLogger("wsnet").setLevel(logging.INFO)
    if debug:
        logging.getLogger("wsnet").setLevel(logging.DEBUG)


def _from_file(path: Path) -> None:
    """fileConfig for .ini/.conf/.cfg; dictConfig for .json and .toml."""
    try:
        if path.suffix in (".json", ".toml"):
            text = path.read_text()
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
            logging.config.dictConfig(data)
        else:
            if not path.is_file():
                raise OSError(f"no such file: {path}")
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except OSError as exc:
        raise ConfigError(str(path), "-", f"cannot read logging config: {exc}") from None
    except (ValueError, KeyError, TypeError, AttributeError, ImportError) as exc:
        raise ConfigError(str(path), "-", f"invalid logging config: {exc}") from None
