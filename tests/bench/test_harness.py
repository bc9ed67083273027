"""The benchmark harness's own arithmetic: the figures in docs/performance.md come from it."""

import json
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import chat_load  # noqa: E402
import run_all  # noqa: E402


def test_a_service_process_that_exits_in_the_window_costs_only_its_last_moments():
    before = (100.0, {11: ("postgresql", 500.0), 12: ("postgresql", 2.0), 21: ("redis", 7.0)})
    # Backend 11 (500 s of CPU over its life) exited; 13 started; Redis's 21 ran on.
    after = (101.5, {12: ("postgresql", 2.5), 13: ("postgresql", 0.25), 21: ("redis", 7.125)})
    assert chat_load.MachineProbe.between(before, after) == {"machine": 1.5, "postgresql": 0.75, "redis": 0.125}


def test_a_reused_process_id_counts_from_zero():
    before = (0.0, {11: ("redis", 40.0)})
    after = (1.0, {11: ("postgresql", 0.5)})
    assert chat_load.MachineProbe.between(before, after)["postgresql"] == 0.5


def test_slow_messages_are_counted_by_the_second_they_were_sent_in():
    start = 5_000_000_000
    fast = [[10.0, start + second * 1_000_000_000 + n * 1_000_000] for second in range(4) for n in range(200)]
    # Second 2 holds a stall: three of its messages waited 150 ms.
    stalled = [[150.0, start + 2_500_000_000 + n] for n in range(3)]
    tail = chat_load.tail_by_second(fast + stalled, start)
    assert tail["p99_by_second_ms"] == [10.0, 10.0, 150.0, 10.0]
    assert (tail["worst_second"], tail["worst_second_p99_ms"], tail["seconds_over_tail"]) == (2, 150.0, 1)


def test_a_window_with_nothing_delivered_has_no_worst_second():
    tail = chat_load.tail_by_second([], 0)
    assert (tail["p99_by_second_ms"], tail["worst_second"], tail["seconds_over_tail"]) == ([], None, 0)


def test_deliveries_are_written_on_the_wall_clock(tmp_path):
    path = tmp_path / "deliveries.json"
    sent_ns = time.monotonic_ns() - 2_000_000_000  # sent two seconds ago
    chat_load.write_deliveries(str(path), [[12.345, sent_ns]])
    [[sent_at, latency]] = json.loads(path.read_text())
    assert latency == 12.35
    assert abs(sent_at - (time.time() - 2)) < 0.1


def test_the_machine_sample_counts_busy_time_once():
    machine, _services = chat_load.MachineProbe.sample()
    assert 0 < machine < sum(__import__("psutil").cpu_times())


@pytest.fixture
def readings(capsys):
    def settle(values, limit):
        values = iter(values)
        quiet = run_all.Settle(read=lambda: next(values))
        return quiet(limit), quiet

    return settle


def test_a_machine_with_a_steady_load_of_its_own_is_quiet_once_back_to_it(readings):
    # A busy neighbour keeps 0.8 cores: an absolute 0.3 would never be reached; a load still
    # falling (1.9, 1.4, 0.9) is not quiet yet.
    settled, quiet = readings([1.9, 1.4, 0.9, 0.82, 0.85, 0.8], limit=300)
    assert settled
    assert quiet.floor == 0.82
    assert quiet.read() == 0.8  # the last second was not needed


def test_a_machine_busier_than_the_least_it_was_seen_is_not_quiet(readings):
    settled, quiet = readings([0.1, 0.15, 0.1], limit=300)
    assert settled
    quiet.read = lambda: 0.9
    assert not quiet(5)  # PostgreSQL still cleaning up: measured anyway after the limit
    # The machine took on more meanwhile: the next part waits for that level, not the old one.
    assert quiet.floor == 0.9
    assert quiet(5)
