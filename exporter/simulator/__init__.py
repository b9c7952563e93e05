"""A faithful simulated Keystone v3 + Octavia v2 (read side), for demos, tests and benchmarks."""

from exporter.simulator.app import Simulator
from exporter.simulator.faults import Fault
from exporter.simulator.model import FleetSpec, LBShape

__all__ = ["Fault", "FleetSpec", "LBShape", "Simulator"]
