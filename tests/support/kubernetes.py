"""What a rendered Kubernetes pod would run: its command and args, expanded as the kubelet
expands them and run through a real /bin/sh."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any


def expand_kubernetes_vars(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in command and args: defined names are replaced, `$$`
    escapes, anything else stays as written (so shell `$((…))` passes through)."""
    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", replace, text)


def pod_argv(container: dict[str, Any], pod_name: str, tmp_path: Path) -> tuple[list[str],
                                                                                dict[str, str]]:
    """The exporter's arguments in this pod: the rendered command run by a real /bin/sh, with
    an `octavia-exporter` on PATH that reports the arguments it was given."""
    env = {e["name"]: e["value"] for e in container.get("env", [])}
    command = [expand_kubernetes_vars(part, env)
               for part in container.get("command", ["octavia-exporter"])
               + container.get("args", [])]
    if command[0] == "octavia-exporter":
        return command[1:], env
    fake = tmp_path / "bin" / "octavia-exporter"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    fake.chmod(0o755)
    result = subprocess.run(
        command, capture_output=True, text=True, check=True,
        env={**env, "HOSTNAME": pod_name, "PATH": f"{fake.parent}:{os.environ['PATH']}"})
    return json.loads(result.stdout), env
