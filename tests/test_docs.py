"""The documentation site's generated parts: every job has a page whose settings table lists every field
of its config dataclass (compared with ``dataclasses.fields``), every tool command has a page, the model
zoo lists every release, and new pages join the nav. ``mkdocs build --strict`` itself runs in .ci/run."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from colormae.cli import COMMANDS
from colormae.commands.jobs import JOBS
from colormae.convert.releases import RELEASES

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _hooks():
    spec = importlib.util.spec_from_file_location("colormae_docs_hooks", DOCS / "hooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = _hooks()


def _cells(line: str) -> list[str]:
    """A Markdown table row's cells: split at pipes outside code spans, escaped ``\\|`` unescaped."""
    cells, cell, code, i = [], "", False, 0
    while i < len(line):
        ch = line[i]
        if ch == "\\" and line[i + 1:i + 2] == "|" and not code:
            cell, i = cell + "|", i + 2
            continue
        if ch == "`":
            code = not code
        if ch == "|" and not code:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += ch
        i += 1
    return cells[1:]


def _table_rows(markdown: str) -> list[list[str]]:
    """Body rows of the Markdown tables in ``markdown`` (header and rule lines left out)."""
    lines = markdown.splitlines()
    rule = [line.startswith("| ---") for line in lines] + [False]
    return [_cells(line) for i, line in enumerate(lines) if line.startswith("| ") and not rule[i]
            and not rule[i + 1]]


@pytest.mark.parametrize("job", JOBS, ids=lambda j: j.name)
def test_every_job_page_tables_every_field(job):
    page = DOCS / "jobs" / f"{job.name}.md"
    assert page.is_file(), f"{page} missing: every job has a page"
    text = page.read_text()
    assert f"<!-- settings: {job.name} -->" in text
    table = hooks.settings_table(job.config)
    assert table in hooks.expand(text, str(page)) and "<!-- settings" not in hooks.expand(text, str(page))
    rows = _table_rows(table)
    names = [re.match(r"`(\w+)`", row[0]).group(1) for row in rows if row[0].startswith("`")]
    fields = dataclasses.fields(job.config)
    assert names == [f.name for f in fields]
    for row, f in zip(rows, fields, strict=True):
        assert row[1] == f"`{f.type}`"  # as written, ``str | None`` included
        assert row[3] == f.metadata.get("help", "").replace("\n", " ").strip()
        if not f.metadata.get("required") and f.default is not dataclasses.MISSING:
            assert row[2] == f"`{f.default!r}`"


def test_unknown_job_marker_fails():
    with pytest.raises(KeyError, match="no such job"):
        hooks.expand("<!-- settings: nojob -->", "x.md")


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_a_page_with_its_usage(name):
    page = DOCS / "commands" / f"{name}.md"
    assert page.is_file(), f"{page} missing: every tool command has a page"
    expanded = hooks.expand(page.read_text(), str(page))
    assert f"usage: colormae {name}" in expanded and "<!-- help" not in expanded


def test_zoo_lists_every_release():
    text = hooks.expand((DOCS / "zoo.md").read_text())
    rows = _table_rows(text)
    assert len(rows) == len(RELEASES)
    for row, release in zip(rows, RELEASES, strict=True):
        assert release.url in row[0] and release.command in row[-1]


def test_nav_lists_every_page(tmp_path):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["theme"]["font"] is False  # pages render offline: no font CDN
    (tmp_path / "jobs").mkdir()
    (tmp_path / "commands").mkdir()
    for name in ("pretrain", "zzz_new"):
        (tmp_path / "jobs" / f"{name}.md").write_text("# x\n")
    nav = hooks.complete_nav(copy.deepcopy(config["nav"]), tmp_path)
    jobs = next(entry["Jobs"] for entry in nav if isinstance(entry, dict) and "Jobs" in entry)
    paths = [p for page in jobs for p in page.values()]
    assert paths.count("jobs/pretrain.md") == 1 and paths[-1] == "jobs/zzz_new.md"
    listed = {p for entry in hooks.complete_nav(config["nav"], DOCS) for p in _paths(entry)}
    missing = [str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if str(p.relative_to(DOCS)) not in listed]
    assert not missing, f"pages not in mkdocs.yml's nav: {missing}"


def _paths(entry) -> list[str]:
    if isinstance(entry, str):
        return [entry]
    if isinstance(entry, list):
        return [p for e in entry for p in _paths(e)]
    return [p for v in entry.values() for p in _paths(v)]
