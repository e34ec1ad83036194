"""Start-up time of the `wsnet` command line, as a ratio to `python -c pass`.

Each figure is the wall time of a whole process (interpreter start, imports, the command's
work, exit), the best of several runs; the runs of all commands are interleaved so that a
burst of outside load hits each alike. `python -m wsnet` is timed rather than the console
script, whose wrapper (a pyenv shim, say) would be measured too.
"""

from __future__ import annotations

import subprocess
import sys
import time

from .results import Result, best_of, set_ratio

BASELINE = "cli.python"
COMMANDS: dict[str, list[str]] = {
    BASELINE: ["-c", "pass"],
    "cli.version": ["-m", "wsnet", "version"],
    "cli.help": ["-m", "wsnet", "--help"],
    "cli.ctl_help": ["-m", "wsnet", "ctl", "--help"],
}


def wall_ms(args: list[str]) -> float:
    """Milliseconds from spawning ``python ARGS`` to its exit; a failing command is an error."""
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
        check=True,
    )
    return (time.perf_counter() - t0) * 1000


def run(repeat: int, quick: bool) -> list[Result]:
    """The best of ``runs`` wall times per command; each command's ratio is to the baseline."""
    runs = max(3, repeat) if quick else max(5, 3 * repeat)
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    wall_ms(COMMANDS["cli.version"])  # warm the page cache and .pyc files: not a sample
    for _ in range(runs):
        for name, args in COMMANDS.items():
            samples[name].append(wall_ms(args))
    results = {
        name: best_of(name, "ms", s, higher_is_better=False, extra={"argv": COMMANDS[name]})
        for name, s in samples.items()
    }
    for name, res in results.items():
        if name != BASELINE:
            set_ratio(res, results[BASELINE])
    return list(results.values())
