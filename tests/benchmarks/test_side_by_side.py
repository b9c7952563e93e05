"""benchmarks/side_by_side.py: each candidate window against the baseline cycles inside it, and
against those beside its busy part."""

from __future__ import annotations

from benchmarks.side_by_side import CpuTrace, pairs


def trace(rates: dict[str, list[tuple[float, float]]]) -> CpuTrace:
    """A trace sampled every second from 0 to 400 s; `rates`: per process, (from, CPU/s)."""
    out = CpuTrace({})
    for name, steps in rates.items():
        used, samples = 0.0, []
        for second in range(401):
            samples.append((float(second), used))
            used += next(rate for start, rate in reversed(steps) if second >= start)
        out.samples[name] = samples
    return out


def test_a_window_is_set_against_the_whole_cycles_inside_it_and_those_beside_its_busy_part() -> None:
    # Baseline cycles of 20 s: 0.5 CPU/s while the candidate idles, 0.75 beside its busy part
    # (100-140 s, its tier 1 starting at 100 s), where each of its cycles costs 15 s, not 10.
    cpu = trace({"baseline": [(0, 0.5), (100, 0.75), (140, 0.5)],
                 "candidate": [(0, 0.0), (100, 0.3), (140, 0.0)]})
    found = pairs(cpu, [float(t) for t in range(0, 201, 20)], [0.0, 140.0], [100.0])
    assert len(found) == 1
    pair = found[0]
    assert pair.candidate_seconds == 140.0 and pair.candidate_cpu == 12.0
    assert pair.baseline_cycles == 7
    assert pair.ratio == round(12.0 / pair.baseline_cpu_mean, 3)
    # Beside the busy part: the cycles 100-120 and 120-140 only (midpoints 110 and 130).
    assert pair.busy_seconds == 40.0
    assert pair.busy_baseline_cycles == 2
    assert pair.busy_baseline_cpu_mean == 15.0
    assert pair.busy_ratio == 0.8


def test_without_a_tier1_start_in_the_window_there_is_no_busy_figure() -> None:
    cpu = trace({"baseline": [(0, 0.5)], "candidate": [(0, 0.1)]})
    found = pairs(cpu, [float(t) for t in range(0, 201, 20)], [0.0, 140.0], [150.0])
    assert found[0].busy_ratio is None and found[0].busy_baseline_cycles == 0
