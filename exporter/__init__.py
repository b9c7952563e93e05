"""octavia-exporter: Prometheus metrics for OpenStack Octavia."""

__version__ = "0.1.0"
