"""The Grafana dashboards of dashboards/*.json, one module per dashboard over the shared
helpers of `panels`. dashboards/build_dashboards.py writes them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from . import amphorae, availability, capacity, dataplane, exporter, fleet, loadbalancer

# File name → builder, in the order the files are written.
BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {
    module.FILE: module.build
    for module in (fleet, loadbalancer, amphorae, exporter, capacity, availability, dataplane)
}


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, ensure_ascii=False) + "\n"


def generate() -> dict[str, str]:
    """Every dashboard's file name and JSON text."""
    return {name: render(build()) for name, build in BUILDERS.items()}
