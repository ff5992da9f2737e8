"""Model work runs for one photo at a time, in the order the photos came (alpr.models.FairGate):
the rest wait their turn, and nothing else (bad input) waits behind them."""
from __future__ import annotations

import threading
import time

from alpr.config import Settings
from alpr.models import MODEL_CALLS, FairGate, ModelHolder


def _wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.001)


def _queue_up(slots: int, n: int) -> tuple[list[int], int]:
    """n threads queue at a gate one after another, then are let go: the order they got in,
    and the most inside at once."""
    gate = FairGate(slots)
    inside, most, order = [0], [0], []
    lock = threading.Lock()
    release = threading.Event()

    def work(k: int) -> None:
        with gate:
            with lock:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
                order.append(k)
            release.wait(10)
            with lock:
                inside[0] -= 1

    threads = []
    for k in range(n):  # each one queued before the next comes
        threads.append(threading.Thread(target=work, args=(k,)))
        threads[-1].start()
        _wait_for(lambda: gate._issued == k + 1)
    _wait_for(lambda: len(order) == min(slots, n))
    assert sorted(order) == list(range(min(slots, n)))  # the first come are inside, the others wait
    release.set()
    for t in threads:
        t.join(10)
    return order, most[0]


def test_the_gate_lets_in_in_the_order_they_came():
    assert _queue_up(1, 6) == ([0, 1, 2, 3, 4, 5], 1)


def test_the_gate_lets_in_its_slots_at_once():
    order, most = _queue_up(2, 6)
    assert sorted(order) == list(range(6)) and most == 2


def test_a_holder_runs_one_photo_at_a_time():
    assert ModelHolder(Settings()).calls.slots == MODEL_CALLS == 1
