"""The exporter's command line, run as an operator runs it: a real process."""

from __future__ import annotations

import asyncio
import os
import sys

EXPORTER = [sys.executable, "-m", "exporter"]


async def run(*args: str, env: dict[str, str] | None = None,
              timeout: float = 60) -> tuple[int, str, str]:
    """Run the exporter with `args` to its end: (exit status, stdout, stderr)."""
    process = await asyncio.create_subprocess_exec(
        *EXPORTER, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})})
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
