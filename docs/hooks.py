"""mkdocs hooks: tables generated from the code at build time.

- ``<!-- settings: NAME -->`` (a job's page): the settings table of job NAME's config dataclass
  (:data:`colormae.commands.jobs.JOBS`): setting, type, default, help; one row per dataclass field.
- ``<!-- help: CMD [SUB] -->`` (a command's page): ``colormae CMD [SUB] --help`` as a code block.
- ``<!-- releases -->`` (the model zoo): the published checkpoints of
  :data:`colormae.convert.releases.RELEASES` with the command that converts each.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

SETTINGS = re.compile(r"<!--\s*settings:\s*([\w-]+)\s*-->")
RELEASES = re.compile(r"<!--\s*releases\s*-->")
HELP = re.compile(r"<!--\s*help:\s*([\w -]+?)\s*-->")


def _cell(text: object) -> str:
    """Markdown-table-safe text (pipes escaped; inside a code span the table reads ``|`` as it is)."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _code(text: object) -> str:
    """A code span in a table cell (Python-Markdown does not split cells at a pipe inside backticks)."""
    return f"`{str(text).replace(chr(10), ' ').strip()}`"


def _default(field: dataclasses.Field) -> str:
    if field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    elif field.default is not dataclasses.MISSING:
        value = field.default
    else:
        return "(required)"
    if field.metadata.get("required") and value in (None, ""):
        return "(required)"
    return _code(repr(value))


def settings_table(config: type) -> str:
    """The settings of a config dataclass as a Markdown table, one row per field, in declaration order."""
    rows = ["| setting | type | default | help |", "| --- | --- | --- | --- |"]
    for field in dataclasses.fields(config):
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", field.type)
        flag = f"`{field.name}`" + ("" if field.metadata.get("positional") else
                                     f" (`--{field.name.replace('_', '-')}`)")
        rows.append(f"| {flag} | {_code(kind)} | {_default(field)} | "
                    f"{_cell(field.metadata.get('help', ''))} |")
    return "\n".join(rows)


def job_configs() -> dict[str, type]:
    """Job name -> its config dataclass, from the registry."""
    from colormae.commands.jobs import JOBS

    return {job.name: job.config for job in JOBS}


def releases_table() -> str:
    """The published checkpoints with the command that converts each."""
    from colormae.convert.releases import RELEASES as rows

    out = ["| file | published by | holds | size | checksum | convert or load with |", "| --- " * 6 + "|"]
    for r in rows:
        size = f"{r.size_bytes / 2**20:.0f} MiB" if r.size_bytes else "not published"
        md5 = getattr(r, "md5", None)
        sha = f"SHA-256 `{r.sha256}`" if r.sha256 else f"md5 `{md5}`" if md5 else "not published"
        out.append(f"| [{_cell(r.name)}]({r.url}) | {_cell(r.source)} | {_cell(r.kind)} | {size} | {sha} | "
                   f"{_code(r.command)} |")
    return "\n".join(out)


def help_text(words: list[str]) -> str:
    """``colormae WORDS --help`` (argparse's text at 100 columns), as a fenced code block."""
    import argparse
    import os

    from colormae.cli import build_parser

    os.environ["COLUMNS"] = "100"
    parser = build_parser()
    for word in words:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[word]
    return "```text\n" + parser.format_help().rstrip() + "\n```"


def expand(markdown: str, where: str = "") -> str:
    """``markdown`` with every marker replaced by its table."""
    configs = job_configs() if SETTINGS.search(markdown) else {}

    def settings(match: re.Match) -> str:
        name = match.group(1)
        if name not in configs:
            raise KeyError(f"{where}: <!-- settings: {name} -->: no such job; jobs: {', '.join(configs)}")
        return settings_table(configs[name])

    markdown = SETTINGS.sub(settings, markdown)
    markdown = HELP.sub(lambda m: help_text(m.group(1).split()), markdown)
    return RELEASES.sub(lambda _: releases_table(), markdown)


#: nav section -> the folder of docs whose every page it lists (pages added there join the nav by themselves).
NAV_FOLDERS = {"Jobs": "jobs", "Commands": "commands"}


def complete_nav(nav: list, docs_dir: Path) -> list:
    """``nav`` with every page of :data:`NAV_FOLDERS`' folders listed in its section (sorted, after the
    pages the YAML lists)."""
    for entry in nav:
        if not isinstance(entry, dict):
            continue
        for section, pages in entry.items():
            folder = NAV_FOLDERS.get(section)
            if folder is None or not isinstance(pages, list):
                continue
            listed = {path for page in pages if isinstance(page, dict) for path in page.values()}
            for path in sorted((docs_dir / folder).glob("*.md")):
                rel = f"{folder}/{path.name}"
                if rel not in listed:
                    pages.append({path.stem: rel})
    return nav


def on_config(config):  # noqa: ANN001, ANN201 - mkdocs' hook signature
    if config.get("nav"):
        config["nav"] = complete_nav(config["nav"], Path(config["docs_dir"]))
    return config


def on_page_markdown(markdown: str, page, config, files) -> str:  # noqa: ANN001 - mkdocs' hook signature
    return expand(markdown, page.file.src_path)
