"""wsnet-log: events reach the "wsnet.events" logger of real nodes, filtered and formatted."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from wsnet.events import ChannelOpened, LinkDown, LinkUp
from wsnet.testing import NodeFactory, wait_until
from wsnet_log import EventLogger, LogSettings


def _logger(settings: LogSettings, caplog: pytest.LogCaptureFixture) -> EventLogger:
    caplog.set_level(logging.DEBUG, logger="wsnet.events")
    return EventLogger("n1", settings)


def test_text_format_levels_and_quoting(caplog: pytest.LogCaptureFixture) -> None:
    obs = _logger(LogSettings(), caplog)
    obs.notify(LinkUp("b", 3, "in", "127.0.0.1:5555", "anonymous"))
    obs.notify(LinkDown("b", 3, 4004, "peer silent for 2.1s"))
    up, down = caplog.records
    assert up.levelno == logging.INFO
    assert up.getMessage() == (
        "link.up peer=b link_id=3 direction=in remote=127.0.0.1:5555 principal=anonymous"
    )
    assert down.levelno == logging.WARNING
    assert 'reason="peer silent for 2.1s"' in down.getMessage()
    assert down.wsnet_event == "link.down"  # type: ignore[attr-defined]


def test_include_exclude_and_level_overrides(caplog: pytest.LogCaptureFixture) -> None:
    settings = LogSettings(
        include=("link.*", "channel.*"),
        exclude=("link.down",),
        levels=(("channel.*", logging.INFO),),
    )
    obs = _logger(settings, caplog)
    obs.notify(LinkUp("b", 1, "out", "ws://x", "anonymous"))
    obs.notify(LinkDown("b", 1, 1000, ""))
    obs.notify(ChannelOpened("b", 5, "echo", "b"))
    kinds = [(r.wsnet_event, r.levelno) for r in caplog.records]  # type: ignore[attr-defined]
    assert kinds == [("link.up", logging.INFO), ("channel.opened", logging.INFO)]


def test_disabled_level_builds_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wsnet.events")
    obs = EventLogger("n1", LogSettings())

    class Exploding(ChannelOpened):
        """asdict() of this event would fail: proves a disabled record is never built."""

        def __getattribute__(self, name: str) -> object:
            if name in ("peer", "channel", "service", "origin"):
                raise AssertionError("event fields read while debug logging is off")
            return super().__getattribute__(name)

    obs.notify(Exploding("b", 1, "echo", "b"))
    assert caplog.records == []


def test_json_format(caplog: pytest.LogCaptureFixture) -> None:
    obs = _logger(LogSettings(format="json"), caplog)
    obs.notify(LinkDown("b", 2, 4009, 'dup "b"'))
    body = json.loads(caplog.records[0].getMessage())
    assert body == {
        "event": "link.down",
        "node": "n1",
        "peer": "b",
        "link_id": 2,
        "code": 4009,
        "reason": 'dup "b"',
    }


def test_real_nodes_log_link_up_and_down(wsnet_node_factory: NodeFactory) -> None:
    a = wsnet_node_factory("a", plugins=["log"])
    b = wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["log"])
    wait_until(lambda: "link.up peer=b" in a.log(), what="link.up logged on a")
    assert "direction=in" in a.log()
    assert "link.up peer=a" in b.log() and "direction=out" in b.log()
    b.kill()
    wait_until(lambda: "link.down peer=b" in a.log(), timeout=10, what="link.down logged on a")
    line = next(x for x in a.log().splitlines() if "link.down peer=b" in x)
    assert "WARNING" in line and "wsnet.events" in line


def test_debug_flag_logs_channels_as_json(wsnet_node_factory: NodeFactory) -> None:
    cfg = {"log": {"format": "json", "include": ["channel.*"]}}
    a = wsnet_node_factory("a", plugins=["log"], config=cfg, extra_args=["--debug"])
    b = wsnet_node_factory("b", listen=False, dial=[a.url])
    wait_until(lambda: "b" in a.peers(), what="link")
    b.ctl("ping", "a")
    records = wait_until(lambda: _json_lines(a.log(), "channel.closed"), what="channel.closed")
    assert records[0]["service"] == "echo" and records[0]["node"] == "a"
    assert not _json_lines(a.log(), "link.up"), "include = ['channel.*'] must drop link events"


def _json_lines(text: str, kind: str) -> list[dict[str, object]]:
    out = []
    for line in text.splitlines():
        start = line.find("{")
        if start >= 0 and f'"event": "{kind}"' in line:
            out.append(json.loads(line[start:]))
    return out


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ({"format": "xml"}, '[log] format: expected "text" or "json"'),
        ({"levels": {"link.*": "loud"}}, "[log].levels link.*: expected one of"),
        ({"include": "link.*"}, "[log] include: expected a list of strings"),
        ({"colour": True}, "[log] colour: unknown key"),
    ],
)
def test_bad_log_section_names_file_and_key(
    tmp_path: Path, section: dict[str, object], expected: str
) -> None:
    from wsnet.testing import toml_dumps

    cfg = tmp_path / "node.toml"
    cfg.write_text(toml_dumps({"node": {"name": "a", "plugins": ["log"]}, "log": section}))
    res = subprocess.run(
        [sys.executable, "-m", "wsnet", "run", "--config", str(cfg), "--listen", "none"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 2
    assert f"{cfg}: {expected}" in res.stderr


def test_log_config_dictconfig_and_fileconfig(
    wsnet_node_factory: NodeFactory, tmp_path: Path
) -> None:
    """--log-config in JSON (dictConfig) and INI (fileConfig) form routes events to a file."""
    events_json = tmp_path / "events-json.log"
    json_cfg = tmp_path / "logging.json"
    json_cfg.write_text(
        json.dumps(
            {
                "version": 1,
                "disable_existing_loggers": False,
                "formatters": {"bare": {"format": "%(levelname)s|%(message)s"}},
                "handlers": {
                    "f": {"class": "logging.FileHandler", "filename": str(events_json),
                          "formatter": "bare"},
                },
                "loggers": {"wsnet.events": {"level": "INFO", "handlers": ["f"]}},
            }
        )
    )  # fmt: skip
    events_ini = tmp_path / "events-ini.log"
    ini_cfg = tmp_path / "logging.ini"
    ini_cfg.write_text(
        "[loggers]\nkeys=root,events\n[handlers]\nkeys=f\n[formatters]\nkeys=bare\n"
        "[logger_root]\nlevel=WARNING\nhandlers=\n"
        "[logger_events]\nlevel=INFO\nhandlers=f\nqualname=wsnet.events\n"
        f"[handler_f]\nclass=FileHandler\nformatter=bare\nargs=({str(events_ini)!r},)\n"
        "[formatter_bare]\nformat=%(levelname)s|%(message)s\n"
    )
    a = wsnet_node_factory("a", plugins=["log"], extra_args=["--log-config", str(json_cfg)])
    wsnet_node_factory("b", listen=False, dial=[a.url], plugins=["log"],
                       extra_args=["--log-config", str(ini_cfg)])  # fmt: skip
    wait_until(lambda: events_json.exists() and "INFO|link.up peer=b" in events_json.read_text(),
               what="event in the dictConfig file")  # fmt: skip
    wait_until(lambda: events_ini.exists() and "INFO|link.up peer=a" in events_ini.read_text(),
               what="event in the fileConfig file")  # fmt: skip
