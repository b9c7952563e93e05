"""Checks every shipped PromQL expression (rules and dashboards) must pass.

Each function returns a list of problems (empty when the expression is fine), so a test can
report every offending expression at once.
"""

from __future__ import annotations

import re

# A status series: octavia_<kind>_provisioning_status, _operating_status, octavia_amphora_status.
# Recording-rule names that contain such a name (cloud_project_status:octavia_..._status:sum) are
# not raw status series and are excluded by the look-around.
# Octavia's own PROMETHEUS listener has octavia_listener_status, octavia_pool_status and
# octavia_member_status too: HAProxy's check state, a gauge (1 UP, 0 DOWN), not a state set.
PROXY_STATUS = ("octavia_listener_status", "octavia_pool_status", "octavia_member_status")
_STATUS_SERIES = re.compile(
    r"(?<![:\w])(?!(?:" + "|".join(PROXY_STATUS) + r")(?![:\w]))"
    r"(octavia_[a-z]+_(?:provisioning_|operating_)?status)(?![:\w])(\{[^}]*\})?"
)
# Counters, and the buckets of histograms, which are counters too — except gauge histograms
# (computed afresh at every scrape, so never rated).
GAUGE_HISTOGRAMS = {"octavia_detail_age_seconds_bucket"}
_COUNTER = re.compile(
    r"(?<![:\w])(?!(?:" + "|".join(GAUGE_HISTOGRAMS) + r")(?![:\w]))(octavia_\w+_(?:total|bucket))(?![:\w])"
)
_COUNTER_IN_RATE = re.compile(
    r"(?:rate|increase)\(\s*(octavia_\w+_(?:total|bucket))(?:\{[^}]*\})?"
    r"\[(?P<window>[^\]]+)\]\s*\)"
)
_COUNT_AGG = re.compile(r"\bcount\s*(?:by|without)?\s*\(")
# Recorded series with one series per object and no state-set zeros: a 0 there is an object
# (an unavailable load balancer), so count() is right, and cheaper than sum(x * 0 + 1).
COUNTABLE = ("cloud_project_loadbalancer:octavia_loadbalancer_available:bool",)
_COUNT_OF_COUNTABLE = re.compile(
    r"\bcount\s*(?:(?:by|without)\s*\([^)]*\)\s*)?\(\s*(?:"
    + "|".join(re.escape(name) for name in COUNTABLE) + r")(?![:\w])"
)


def status_filtered(expr: str) -> list[str]:
    """Every raw status selector is directly filtered with `== 1` (works in both modes)."""
    problems = []
    for match in _STATUS_SERIES.finditer(expr):
        rest = expr[match.end():]
        if not re.match(r"\s*==\s*1\b", rest):
            problems.append(f"{match.group(0)} is not followed by '== 1'")
    return problems


def no_count_aggregation(expr: str) -> list[str]:
    """State sets export 0-valued series: count() would count them, sum() does not."""
    allowed = {m.start() for m in _COUNT_OF_COUNTABLE.finditer(expr)}
    return [f"uses count(): {m.group(0)!r}; use sum()" for m in _COUNT_AGG.finditer(expr)
            if m.start() not in allowed]


def counters_in_rate(expr: str, window: str | None = None) -> list[str]:
    """Every *_total appears only as rate(x[w]) or increase(x[w]) (with w == window if given)."""
    problems = []
    total = len(_COUNTER.findall(expr))
    wrapped = list(_COUNTER_IN_RATE.finditer(expr))
    if total != len(wrapped):
        problems.append(f"{total - len(wrapped)} counter(s) not inside rate()/increase()")
    if window is not None:
        for match in wrapped:
            if match.group("window") != window:
                problems.append(
                    f"{match.group(1)} uses window [{match.group('window')}], not [{window}]"
                )
    return problems


def lint(expr: str, window: str | None = None) -> list[str]:
    return (
        status_filtered(expr)
        + no_count_aggregation(expr)
        + counters_in_rate(expr, window)
    )
