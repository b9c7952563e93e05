"""The fleet of one region's simulated Octavia: the store with every writer over it."""

from __future__ import annotations

from exporter.simulator.model import FleetSpec, LBShape
from exporter.simulator.trees import Trees

# exporter/runtime/demo.py imports FleetSpec from here.
__all__ = ["Fleet", "FleetSpec", "LBShape"]


class Fleet(Trees):
    """The mutable state of one region's Octavia."""
