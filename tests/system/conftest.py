"""The exporter against the simulated cloud, both on 127.0.0.1, in one event loop
(the fixtures live in tests/support/fixtures.py)."""

from tests.support.fixtures import control, log_buffer, make_exporter, sim

__all__ = ["control", "log_buffer", "make_exporter", "sim"]
