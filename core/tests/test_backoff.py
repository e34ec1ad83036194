"""Reconnect backoff: exponential growth, a cap, jitter in [delay/2, delay], reset."""

from __future__ import annotations

import random
import statistics

import pytest

from wsnet.config import ReconnectConfig, parse
from wsnet.dialer import Backoff


class FixedRandom(random.Random):
    """A Random whose every draw is the same fraction: pins uniform() to a known point."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def random(self) -> float:
        return self.fraction


def nominal(cfg: ReconnectConfig, n: int) -> list[float]:
    """The un-jittered delays: initial * factor**i, capped at maximum."""
    return [min(cfg.initial * cfg.factor**i, cfg.maximum) for i in range(n)]


CFG = ReconnectConfig(initial=0.5, maximum=10.0, factor=2.0)


def test_upper_edge_of_jitter_is_the_nominal_exponential_sequence() -> None:
    b = Backoff(CFG, FixedRandom(1.0))
    waits = [b.next() for _ in range(8)]
    assert waits == pytest.approx([0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0])


def test_lower_edge_of_jitter_is_half_the_delay() -> None:
    b = Backoff(CFG, FixedRandom(0.0))
    waits = [b.next() for _ in range(7)]
    assert waits == pytest.approx([0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0])


def test_first_wait_is_drawn_from_initial_not_zero() -> None:
    # Also when the very first dial fails, the wait is jittered but never 0.
    b = Backoff(CFG, random.Random(1))
    assert 0.25 <= b.next() <= 0.5


@pytest.mark.parametrize("seed", range(20))
def test_seeded_waits_stay_within_documented_bounds(seed: int) -> None:
    cfg = ReconnectConfig(initial=0.3, maximum=7.0, factor=1.7)
    b = Backoff(cfg, random.Random(seed))
    for wait, delay in zip([b.next() for _ in range(30)], nominal(cfg, 30), strict=True):
        assert delay / 2 <= wait <= delay


def test_same_seed_same_sequence() -> None:
    one = Backoff(CFG, random.Random(42))
    two = Backoff(CFG, random.Random(42))
    assert [one.next() for _ in range(10)] == [two.next() for _ in range(10)]


def test_delay_caps_at_maximum_and_stays_there() -> None:
    b = Backoff(CFG, random.Random(3))
    for _ in range(100):
        b.next()
    assert b.delay == CFG.maximum
    assert all(5.0 <= b.next() <= 10.0 for _ in range(100))


def test_cap_not_a_power_of_the_factor() -> None:
    cfg = ReconnectConfig(initial=1.0, maximum=3.0, factor=2.0)
    b = Backoff(cfg, FixedRandom(1.0))
    assert [b.next() for _ in range(4)] == pytest.approx([1.0, 2.0, 3.0, 3.0])


def test_reset_starts_over() -> None:
    b = Backoff(CFG, FixedRandom(1.0))
    for _ in range(6):
        b.next()
    assert b.delay == CFG.maximum
    b.reset()
    assert b.delay == CFG.initial
    assert b.next() == pytest.approx(0.5)
    assert b.next() == pytest.approx(1.0)


def test_jitter_spreads_clients_statistically() -> None:
    """Many clients at the cap spread over [max/2, max] rather than retrying together."""
    waits = []
    for seed in range(2000):
        b = Backoff(CFG, random.Random(seed))
        b.delay = CFG.maximum  # as after many failures
        waits.append(b.next())
    assert min(waits) >= 5.0 and max(waits) <= 10.0
    assert statistics.mean(waits) == pytest.approx(7.5, abs=0.2)  # uniform: mean at 3/4
    assert min(waits) < 5.1 and max(waits) > 9.9  # the whole range is used
    assert len({round(w, 3) for w in waits}) > 1000


def test_default_rng_also_within_bounds() -> None:
    b = Backoff(CFG)
    for delay in nominal(CFG, 20):
        assert delay / 2 <= b.next() <= delay


def test_factor_one_is_constant_delay() -> None:
    cfg = ReconnectConfig(initial=2.0, maximum=2.0, factor=1.0)
    b = Backoff(cfg, FixedRandom(1.0))
    assert [b.next() for _ in range(5)] == [2.0] * 5


def test_config_reconnect_section_feeds_the_backoff() -> None:
    cfg = parse({"reconnect": {"initial": 1, "max": 4, "factor": 3}}, "cfg.toml").reconnect
    assert cfg == ReconnectConfig(initial=1.0, maximum=4.0, factor=3.0)
    b = Backoff(cfg, FixedRandom(1.0))
    assert [b.next() for _ in range(4)] == pytest.approx([1.0, 3.0, 4.0, 4.0])
