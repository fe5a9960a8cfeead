"""``crucible results <design>``: a design run's summary and where its files are.

Reads ``summary.json`` in the design folder (``<artifacts_dir>/molecular-design/<design>``)
when the run wrote one; otherwise lists what the folder holds.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from crucible.exceptions import CrucibleError
from crucible.naming import check_slug
from crucible.settings import get_settings

#: Files worth opening first, in this order, when the design folder has them.
KEY_FILES = (
    "report.html",
    "results.csv",
    "summary.json",
    "top_molecules.png",
    "chemical-space",
    "filtered",
    "generated",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``results`` command."""
    parser = sub.add_parser(
        "results",
        help="print a design run's summary and where its files are",
        description="Summary (summary.json) and files of <artifacts_dir>/molecular-design/NAME.",
    )
    parser.add_argument("design", nargs="?", help="design name (e.g. egfr-demo); omit to list")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(handler=_run)


def designs_root() -> Path:
    """The folder holding one sub-folder per design run."""
    return get_settings().artifact_folder("molecular-design")


def design_names() -> list[str]:
    """Names of the design runs on disk, sorted."""
    root = designs_root()
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def design_report(design: str) -> dict[str, Any]:
    """The design's folder, summary (None without ``summary.json``) and contents.

    Raises:
        InvalidInputError: ``design`` is not a valid name.
        CrucibleError: No such design run (the message lists the ones there are).
    """
    folder = designs_root() / check_slug(design, "design")
    if not folder.is_dir():
        known = ", ".join(design_names()) or "none yet (run: crucible run molecular-design)"
        raise CrucibleError(f"no design run {design!r} in {designs_root()}; runs: {known}")
    summary_file = folder / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else None
    return {
        "folder": str(folder),
        "summary": summary,
        "key_files": [str(folder / name) for name in KEY_FILES if (folder / name).exists()],
        "contents": {entry.name: _describe(entry) for entry in sorted(folder.iterdir())},
    }


def _describe(entry: Path) -> str:
    if entry.is_dir():
        files = [p for p in entry.rglob("*") if p.is_file()]
        return f"folder, {len(files)} files, {_size(sum(p.stat().st_size for p in files))}"
    return _size(entry.stat().st_size)


def _size(n_bytes: int) -> str:
    for unit in ("B", "KB", "MB"):
        if n_bytes < 1024:
            return f"{n_bytes:.0f} {unit}"
        n_bytes //= 1024
    return f"{n_bytes} GB"


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _run(args: argparse.Namespace) -> int:
    if not args.design:
        names = design_names()
        print("\n".join(names) if names else f"no design runs yet in {designs_root()}")
        return 0
    try:
        report = design_report(args.design)
    except CrucibleError as error:
        print(f"crucible results: {error}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"design {args.design}: {report['folder']}")
    summary = report["summary"]
    if summary is None:
        print("no summary.json (the run did not finish, or predates it); the folder holds:")
        rows = report["contents"]
    else:
        rows = {key: _value(value) for key, value in summary.items()}
    width = max((len(key) for key in rows), default=0)
    for key, value in rows.items():
        print(f"  {key:<{width}}  {value}")
    if report["key_files"]:
        print("open:")
        for path in report["key_files"]:
            print(f"  {path}")
    return 0
