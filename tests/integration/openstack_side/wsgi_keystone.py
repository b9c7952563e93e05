"""gunicorn entry point for Keystone: hide gunicorn's arguments from oslo.config.

Keystone reads its configuration from $OS_KEYSTONE_CONFIG_DIR/keystone.conf.
"""

import sys

sys.argv = sys.argv[:1]

from keystone.wsgi.api import application  # noqa: E402

__all__ = ["application"]
