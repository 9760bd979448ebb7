"""Request ids: unique, and ordered by the time they were made (so the tables keyed by them are appended to)."""

from __future__ import annotations

import re
import time

from gateway.api.request_id import RequestIds


def test_request_ids_are_unique_and_well_formed():
    ids = RequestIds()
    made = [ids.new() for _ in range(20_000)]
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"req_[0-9a-f]{32}", request_id) for request_id in made)


def test_later_ids_sort_after_earlier_ones_across_generators():
    first, second = RequestIds(), RequestIds()
    made = []
    for _ in range(5):
        made += [first.new(), second.new()]
        time.sleep(0.002)
    milliseconds = [request_id[4:16] for request_id in made]
    assert milliseconds == sorted(milliseconds)
    assert made[0::2] == sorted(made[0::2]) and made[1::2] == sorted(made[1::2])
    assert abs(int(made[-1][4:16], 16) - time.time_ns() // 1_000_000) < 5_000
