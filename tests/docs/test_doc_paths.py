"""The docs name only paths that exist, and no path outside the repository."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted(
    [
        ROOT / "README.md",
        ROOT / "CONTRIBUTING.md",
        *(ROOT / "docs").glob("*.md"),
        *(ROOT / "benchmarks").rglob("*.md"),
    ]
)
TOP_LEVEL = (
    "src/",
    "tests/",
    "flows/",
    "tasks/",
    "blocks/",
    "benchmarks/",
    "docs/",
    "deployments/",
    "docker/",
    ".ci/",
)
CODE_SPAN = re.compile(r"`([^`\s]+)`")


def _named_paths(text: str) -> set[str]:
    """Code spans that look like repository paths (no globs, placeholders or options)."""
    paths = set()
    for span in CODE_SPAN.findall(text):
        span = span.split(":")[0].rstrip(".,;")
        if any(c in span for c in "*<>{}$|=") or not span.startswith(TOP_LEVEL):
            continue
        paths.add(span)
    return paths


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_path_a_doc_names_exists(doc: Path) -> None:
    missing = sorted(p for p in _named_paths(doc.read_text()) if not (ROOT / p).exists())
    assert not missing, f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"


def test_docs_and_sources_name_no_paths_outside_the_repository() -> None:
    offenders = []
    for path in [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "src").rglob("*")]:
        if path.is_file() and path.suffix in {".md", ".py", ".json", ".toml", ".yaml", ".txt"}:
            for number, line in enumerate(path.read_text(errors="ignore").splitlines(), 1):
                if "shared/" in line or "/tmp/" in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert not offenders, f"lines naming shared/ or /tmp/: {offenders}"
