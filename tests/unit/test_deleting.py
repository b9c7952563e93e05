"""PENDING_DELETE load balancers are read again at gaps doubling from 2 rounds up to 16."""

from __future__ import annotations

from exporter.poll.deleting import DeletionWatch


def test_reads_back_off_to_every_sixteenth_round() -> None:
    watch = DeletionWatch()
    asked = [n for n in range(1, 80) if watch.due(["lb"])]
    assert asked == [1, 3, 7, 15, 31, 47, 63, 79]


def test_one_that_leaves_pending_delete_is_forgotten_and_starts_over() -> None:
    watch = DeletionWatch()
    assert sorted(watch.due(["a", "b"])) == ["a", "b"]  # round 1: both new, both read
    assert watch.due(["a"]) == []  # round 2: b gone, a not due before round 3
    assert sorted(watch.due(["a", "b"])) == ["a", "b"]  # round 3: a due, b new again
