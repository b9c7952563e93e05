"""``python -m exporter.simulator``."""

from exporter.simulator.cli import main

raise SystemExit(main())
