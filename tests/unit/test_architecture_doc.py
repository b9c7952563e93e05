"""docs/architecture.md names every module of the exporter, and no module that is gone.

The doc's "Modules" section has one table per layer; each row starts with a module's path
relative to exporter/ in backticks (`octavia/client.py`, `cli.py`). `__init__.py` and
`__main__.py` are not listed. The simulator is one row, `simulator/`: it is a separate program
(the simulated cloud, imported by nothing of the exporter), and docs/simulator.md describes its
modules, so its internals can be split or renamed without touching this doc.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "exporter"
DOC = ROOT / "docs" / "architecture.md"
# Packages that the doc covers as one row (`name/`) instead of module by module.
ONE_ROW = frozenset({"simulator"})
NOT_LISTED = frozenset({"__init__.py", "__main__.py"})

ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|")
CODE_SPAN = re.compile(r"`([^`\s]+)`")


def modules() -> set[str]:
    """Every module under exporter/ as the doc names it: a path relative to exporter/, or
    `name/` for a package covered by one row."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if relative.parts[0] in ONE_ROW:
            found.add(relative.parts[0] + "/")
        elif relative.name not in NOT_LISTED:
            found.add(relative.as_posix())
    return found


def layers() -> set[str]:
    return {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()} - ONE_ROW


def module_section(text: str) -> str:
    match = re.search(r"^## Modules\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, "docs/architecture.md has no '## Modules' section (one table per layer)"
    return match.group(1)


def rows(text: str) -> list[str]:
    """The module each table row of the Modules section names (its first column)."""
    return [m.group(1) for line in module_section(text).splitlines() if (m := ROW.match(line))]


def where(module: str) -> str:
    if "/" not in module or module.endswith("/"):
        return "the table of the top level"
    layer = module.split("/")[0]
    return f"the table under the heading that names `{layer}/` (a new layer: add one)"


def test_every_module_is_in_the_doc() -> None:
    named = set(rows(DOC.read_text()))
    missing = sorted(modules() - named)
    advice = [f"exporter/{m} is not in docs/architecture.md: add the row "
              f"| `{m}` | <its one job> | to {where(m)}" for m in missing]
    assert not missing, "\n".join(advice)


def test_the_doc_names_no_module_that_does_not_exist() -> None:
    text = DOC.read_text()
    existing = modules()
    stale = [m for m in rows(text) if m not in existing]
    # Elsewhere in the doc, a code span `layer/name.py` (one slash, a layer of the package)
    # means an exporter module too; other trees' files have longer paths or other prefixes.
    prose = re.compile(rf"^(?:{'|'.join(sorted(layers()))})/\w+\.py$")
    stale += [s for s in CODE_SPAN.findall(text) if prose.match(s) and s not in existing]
    advice = [f"docs/architecture.md names `{m}`, but exporter/{m} does not exist: remove it or "
              "name the module that does its job now" for m in dict.fromkeys(stale)]
    assert not stale, "\n".join(advice)


def test_each_module_has_one_row() -> None:
    named = rows(DOC.read_text())
    twice = sorted({m for m in named if named.count(m) > 1})
    assert not twice, f"docs/architecture.md lists these modules more than once: {twice}"
