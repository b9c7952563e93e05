"""gunicorn entry point for the Octavia API: oslo.config gets only our configuration file.

The file is named by $OCTAVIA_CONFIG_FILE.
"""

import os
import sys

sys.argv = [sys.argv[0], "--config-file", os.environ["OCTAVIA_CONFIG_FILE"]]

from octavia.wsgi.api import application  # noqa: E402

__all__ = ["application"]
