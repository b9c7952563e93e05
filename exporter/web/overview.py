"""The overview page `/`: what an operator needs to see at a glance, as plain HTML.

`build` gathers the facts into a small view model (one row per cloud, the settings, links);
`render` turns it into a page that needs no JavaScript and reads on a phone. Keeping the two
apart lets new facts (such as per-object freshness) be added to the model without touching the
markup, and lets tests check the model without parsing HTML.
"""

from __future__ import annotations

import dataclasses
import html
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata

from exporter import __version__
from exporter.config import Settings
from exporter.logs import redact_url
from exporter.model.snapshot import CloudView
from exporter.telemetry import LastError

KINDS = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "amphora",
         "floating_ip")
KIND_TITLES = {"loadbalancer": "load balancers", "listener": "listeners", "pool": "pools",
               "member": "members", "healthmonitor": "health monitors",
               "amphora": "amphorae", "floating_ip": "floating IPs"}
DOC_FILES = ("README.md", "docs/operations.md", "docs/metrics.md", "docs/runbooks.md")


@dataclass(frozen=True, slots=True)
class CloudRow:
    cloud: str
    state: str  # up | down | waiting | withdrawn
    state_text: str
    last_error: LastError | None
    errors: tuple[LastError, ...]
    last_success: float
    last_cycle_end: float
    last_cycle_duration: float
    cycles_completed: int
    interval: float
    counts: dict[str, int]
    # (what, value) pairs about how fresh the exported data is; more can be appended.
    freshness: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Overview:
    version: str
    telemetry_path: str
    now: float
    clouds: tuple[CloudRow, ...]
    settings: tuple[tuple[str, str], ...] = ()
    docs_url: str = ""
    doc_files: tuple[str, ...] = field(default=DOC_FILES)


def docs_url() -> str:
    """The Documentation URL the installed package declares, if it declares one."""
    try:
        urls = metadata.metadata("octavia-exporter").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        return ""
    for entry in urls:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in ("documentation", "docs", "homepage", "source"):
            return str(url).strip()
    return ""


def ago(now: float, then: float) -> str:
    if then <= 0:
        return "never"
    seconds = max(0.0, now - then)
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def _state(view: CloudView) -> tuple[str, str]:
    health = view.health
    if health.cycles_completed == 0:
        return "waiting", "waiting for the first poll cycle"
    if health.up:
        return "up", "up: the last poll cycle succeeded"
    if health.stale_withdrawn:
        return "withdrawn", "down: fleet data older than --max-staleness, withdrawn"
    if view.snapshot is not None:
        return "down", "down: serving the last good data"
    return "down", "down: no data yet"


def masked_settings(settings: Settings) -> tuple[tuple[str, str], ...]:
    """Every effective setting; URLs with a password show it masked."""
    rows: list[tuple[str, str]] = []
    for item in dataclasses.fields(settings):
        if item.name == "deprecations":
            continue
        value = getattr(settings, item.name)
        if item.name == "notifications_url" and value:
            value = redact_url(str(value), mask_password=True)
        elif item.name == "shard":
            value = f"{value[0]}/{value[1]}"
        elif item.name == "clouds":
            value = ", ".join(value) or "(from OS_* variables)"
        elif item.name == "listen_host" and value == "":
            value = "(every interface, IPv4 and IPv6)"
        rows.append((item.name, "" if value is None else str(value)))
    return tuple(rows)


def build(views: Sequence[CloudView], last_errors: Callable[[str], list[LastError]],
          settings: Settings | None = None, telemetry_path: str = "/metrics",
          now: float | None = None) -> Overview:
    now = time.time() if now is None else now
    rows = []
    for view in views:
        health = view.health
        state, text = _state(view)
        errors = tuple(last_errors(health.cloud))
        snapshot = view.snapshot
        counts = snapshot.counts() if snapshot is not None else {}
        freshness: list[tuple[str, str]] = [
            ("statuses (bulk lists) read", ago(now, snapshot.taken_at) if snapshot else "never"),
            ("poll interval", f"{health.interval:g} s"),
        ]
        if snapshot is not None and snapshot.loadbalancers:
            # Tier 2: members and counters are as old as their load balancer's detail.
            read = [t for k, t in snapshot.detail_read_at.items() if k in snapshot.loadbalancers]
            freshness += [
                ("load balancers with member and traffic data",
                 f"{len(read)} of {len(snapshot.loadbalancers)}"),
                ("oldest member and traffic data", ago(now, min(read)) if read else "never"),
            ]
        rows.append(CloudRow(
            cloud=health.cloud, state=state, state_text=text,
            last_error=errors[0] if errors else None, errors=errors,
            last_success=health.last_success, last_cycle_end=health.last_cycle_end,
            last_cycle_duration=health.last_cycle_duration,
            cycles_completed=health.cycles_completed, interval=health.interval,
            counts={kind: counts.get(kind, 0) for kind in KINDS},
            freshness=tuple(freshness),
        ))
    return Overview(
        version=__version__, telemetry_path=telemetry_path, now=now, clouds=tuple(rows),
        settings=masked_settings(settings) if settings is not None else (),
        docs_url=docs_url(),
    )


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:60rem;
padding:0 1rem 2rem;line-height:1.4;color:#1d1d1f;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin:0 0 .5rem}
section.cloud{border:1px solid #ccc;border-radius:.4rem;padding:.8rem;margin:1rem 0}
.state{display:inline-block;padding:.1rem .5rem;border-radius:.3rem;font-weight:600}
.state-up{background:#d6f5d6;color:#0a5c0a}.state-down,.state-withdrawn{background:#fbd5d5;
color:#8a1010}.state-waiting{background:#eee;color:#444}
.error{background:#fff4e5;border-left:.3rem solid #e08a00;padding:.4rem .6rem;margin:.5rem 0;
overflow-wrap:anywhere}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.4rem 0}
th,td{text-align:left;padding:.2rem .6rem .2rem 0;border-bottom:1px solid #eee;
vertical-align:top}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{overflow-wrap:anywhere}
"""


def _e(value: object) -> str:
    return html.escape(str(value))


def _cloud(row: CloudRow, now: float) -> str:
    parts = [f'<section class="cloud" id="cloud-{_e(row.cloud)}" data-cloud="{_e(row.cloud)}">',
             f'<h2>{_e(row.cloud)} <span class="state state-{row.state}" '
             f'data-state="{row.state}">{_e(row.state_text)}</span></h2>']
    if row.last_error is not None:
        error = row.last_error
        parts.append(
            f'<p class="error" data-reason="{_e(error.reason)}" '
            f'data-endpoint="{_e(error.endpoint)}">Last error: <strong>{_e(error.reason)}'
            f'</strong> on <code>{_e(error.endpoint)}</code>, {_e(ago(now, error.timestamp))}'
            + (f'<br>URL: <code>{_e(error.url)}</code>' if error.url else "")
            + (f'<br>{_e(error.detail)}' if error.detail else "") + "</p>")
    parts.append('<div class="scroll"><table class="health"><tbody>')
    facts = [("last success", ago(now, row.last_success)),
             ("last cycle", ago(now, row.last_cycle_end)),
             ("last cycle took", f"{row.last_cycle_duration:.2f} s"),
             ("cycles", str(row.cycles_completed)), *row.freshness]
    parts += [f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in facts]
    parts.append('</tbody></table></div><div class="scroll"><table class="counts"><tbody>')
    parts += [f'<tr data-kind="{kind}"><th>{_e(KIND_TITLES[kind])}</th>'
              f'<td class="n">{row.counts.get(kind, 0)}</td></tr>' for kind in KINDS]
    parts.append("</tbody></table></div>")
    if len(row.errors) > 1:
        parts.append('<details><summary>latest error per endpoint</summary>'
                     '<div class="scroll"><table class="errors"><tbody>')
        parts += [f"<tr><th><code>{_e(e.endpoint)}</code></th><td>{_e(e.reason)}</td>"
                  f"<td>{_e(ago(now, e.timestamp))}</td></tr>" for e in row.errors]
        parts.append("</tbody></table></div></details>")
    parts.append("</section>")
    return "".join(parts)


def render(overview: Overview) -> str:
    path = _e(overview.telemetry_path)
    if overview.docs_url:
        docs = (f'<a href="{_e(overview.docs_url)}">documentation</a> (runbooks, metrics, '
                "operations)")
    else:
        docs = "documentation in the source tree: " + ", ".join(
            f"<code>{_e(f)}</code>" for f in overview.doc_files)
    settings = "".join(f"<tr><th>{_e(k)}</th><td><code>{_e(v)}</code></td></tr>"
                       for k, v in overview.settings)
    clouds = "".join(_cloud(row, overview.now) for row in overview.clouds)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>octavia-exporter</title><style>{STYLE}</style></head>
<body><h1>octavia-exporter <span id="version">{_e(overview.version)}</span></h1>
<p>Metrics: <a id="metrics-link" href="{path}">{path}</a> &middot; health:
<a href="/healthz">/healthz</a>, <a href="/readyz">/readyz</a> &middot; {docs}</p>
{clouds or '<p>No cloud configured.</p>'}
<details id="settings"><summary>Effective settings</summary><div class="scroll"><table>
<tbody>{settings}</tbody></table></div></details>
</body></html>
"""
