"""Logging set-up for `wsnet run`: a default format, --debug, or a config file.

Everything logs under the "wsnet" logger tree.  Per-packet paths never log, so
debug logging costs nothing while it is off.

A ``--log-config`` file is ini (``logging.config.fileConfig``), JSON or TOML (both
``dictConfig``); the format is told from the content (the suffix only breaks ties), and
whatever is wrong with it is one error naming the file, never a traceback.
"""

from __future__ import annotations

import configparser
import json
import logging
import logging.config
import re
import tomllib
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .redact import redact_text

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_INI_SECTION = re.compile(r"^\s*\[(loggers|handlers|formatters)\]\s*$", re.M)
FORMATS = "ini with [loggers], [handlers], [formatters]; or JSON or TOML for dictConfig"


def configure(debug: bool = False, config_file: Path | None = None) -> None:
    install_redaction()
    if config_file is not None:
        _from_file(config_file)
    else:
        logging.basicConfig(level=logging.WARNING, format=FORMAT)
        logging.getLogger("wsnet").setLevel(logging.INFO)
    if debug:
        logging.getLogger("wsnet").setLevel(logging.DEBUG)


def install_redaction() -> None:
    """Mask URL passwords in every log record of the process, whatever its handlers.

    The code that logs redacts what it knows is a URL; this is the net under it, for a
    library's message or a traceback that quotes one.  A record factory (not a handler
    filter) so that handlers from a --log-config file are covered too.
    """
    previous = logging.getLogRecordFactory()
    if getattr(previous, "__name__", "") == _redacting_record.__name__:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _redacting_record(previous(*args, **kwargs))

    factory.__name__ = _redacting_record.__name__
    logging.setLogRecordFactory(factory)


def _redacting_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: the handler reports it, as it would anyway
        return record
    if "://" in message:
        record.msg, record.args = redact_text(message), None
    if record.exc_info and record.exc_info[1] is not None:
        # The formatter uses exc_text as it is once set: the traceback, redacted.
        record.exc_text = redact_text(_TRACEBACKS.formatException(record.exc_info))
    return record


_TRACEBACKS = logging.Formatter()


def _from_file(path: Path) -> None:
    text = _read(path)
    kind, data = detect(path, text)
    try:
        if kind == "ini":
            logging.config.fileConfig(data, disable_existing_loggers=False)
        else:
            logging.config.dictConfig(data)
    except Exception as exc:  # the logging module raises a zoo of types for a bad config
        raise ConfigError(str(path), "-", f"invalid logging config ({kind}): {exc}") from None


def _read(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            str(path), "-", f"cannot read logging config: {exc.strerror or exc}"
        ) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            str(path), "-", f"not UTF-8 text (byte {exc.start + 1}): expected {FORMATS}"
        ) from None


def detect(path: Path, text: str) -> tuple[str, Any]:
    """("ini", a ConfigParser) or ("json"/"toml", a dictConfig dict); ConfigError if neither.

    The content decides: a JSON object, TOML with a ``version`` key, or ini with one of
    the sections fileConfig needs.  Failing that, the suffix says which parser's error
    to report.
    """
    if text.lstrip().startswith("{"):
        return "json", _dict_config(path, "json", text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        data = {}
    if "version" in data:
        return "toml", _dict_config(path, "toml", text)
    if _INI_SECTION.search(text) or path.suffix in (".ini", ".conf", ".cfg"):
        return "ini", _ini(path, text)
    if path.suffix in (".json", ".toml"):
        return path.suffix[1:], _dict_config(path, path.suffix[1:], text)
    raise ConfigError(str(path), "-", f"not a logging config: expected {FORMATS}")


def _dict_config(path: Path, kind: str, text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if kind == "json" else tomllib.loads(text)
    except ValueError as exc:  # JSONDecodeError and TOMLDecodeError are ValueErrors
        raise ConfigError(str(path), "-", f"not valid {kind.upper()}: {exc}") from None
    if not isinstance(data, dict) or data.get("version") != 1:
        raise ConfigError(
            str(path), "-", f"a dictConfig {kind.upper()} needs version = 1 at the top level"
        )
    return data


def _ini(path: Path, text: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(str(path), "-", f"not a valid ini logging config: {first}") from None
    missing = [s for s in ("loggers", "handlers", "formatters") if not parser.has_section(s)]
    if missing:
        raise ConfigError(
            str(path), "-", f"an ini logging config needs [{'], ['.join(missing)}] ({FORMATS})"
        )
    return parser
