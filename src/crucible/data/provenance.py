"""Provenance records: where a ligand data set came from, and how it was obtained.

Every data set Crucible writes (a ChEMBL fetch, a file import, the bundled EGFR set) carries a
:class:`Provenance` object, saved next to the data as ``provenance.json``: the source, the
exact query, the ChEMBL release, the retrieval time, counts, file checksums and the
attribution that the data licence requires.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

#: Attribution required for the bundled EGFR extract (and any ChEMBL-derived file).
CHEMBL27_TEACHOPENCADD_ATTRIBUTION = (
    "ChEMBL 27 (EMBL-EBI, CC BY-SA 3.0), via TeachOpenCADD talktorial T001 "
    "(Volkamer lab, CC BY 4.0)"
)
#: Attribution for data fetched live from the ChEMBL web services.
CHEMBL_ATTRIBUTION = "ChEMBL (EMBL-EBI), CC BY-SA 3.0"


def _now() -> datetime:
    return datetime.now(UTC)


class Provenance(BaseModel):
    """Where a data set came from.

    Attributes:
        source: ``"chembl-api"``, ``"file"`` or ``"bundled"``.
        description: One line for humans (e.g. the target and its name).
        query: The exact query or column mapping that produced the data.
        chembl_release: ChEMBL release (``chembl_db_version`` of the status endpoint), if known.
        base_url: Where the data was fetched from (API base URL or file path).
        retrieved_at: UTC time of retrieval.
        n_records: Raw records read (activities, file rows).
        n_molecules: Molecules after aggregation.
        files: Checksums (sha256) of the files written, by file name.
        attribution: The attribution the data licence requires.
        steps: Processing steps applied after retrieval (standardisation, split), in order.
    """

    source: str
    description: str = ""
    query: dict[str, Any] = Field(default_factory=dict)
    chembl_release: str | None = None
    base_url: str = ""
    retrieved_at: datetime = Field(default_factory=_now)
    n_records: int = 0
    n_molecules: int = 0
    files: dict[str, str] = Field(default_factory=dict)
    attribution: str = ""
    steps: list[dict[str, Any]] = Field(default_factory=list)

    def with_step(self, name: str, **details: Any) -> Provenance:
        """Return a copy with one more processing step recorded."""
        step = {"step": name, "at": _now().isoformat(), **details}
        return self.model_copy(update={"steps": [*self.steps, step]})

    def save(self, path: str | Path) -> Path:
        """Write the record as JSON (atomically: a temporary file, then a rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text(self.model_dump_json(indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> Provenance:
        """Read a record written by :meth:`save`."""
        return cls.model_validate(json.loads(Path(path).read_text()))


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
