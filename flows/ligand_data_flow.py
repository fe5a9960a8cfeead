"""Ligand-data flow: a target (or a file) in, a standardised, split data set and a data card out.

Stages: fetch from ChEMBL (``source="chembl"``, retried and cached) or load the bundled EGFR
set / a CSV, SMILES or SDF file → RDKit standardisation (rejections with reasons) → split
(random, scaffold, stratified, temporal) → data card (counts, activity histogram, top
scaffolds) published as Prefect artifacts.

Run locally (offline, bundled EGFR data)::

    python -m flows.ligand_data_flow

Everything lands in ``<artifacts_dir>/ligand-data/<name>/``: ``source/``,
``standardised/``, ``split/`` and ``card/``.
"""

import re
from pathlib import Path
from typing import Literal

from prefect import flow
from pydantic import BaseModel, Field, model_validator

from blocks.environment import uses_environment_block
from crucible.data.card import DataCardFiles
from crucible.data.chembl import ChemblQuery
from crucible.data.io import ColumnMapping, LigandSource
from crucible.data.splits import SplitFiles, SplitFractions
from crucible.data.standardise import StandardisedFiles, StandardiseOptions
from crucible.naming import InputPath, OptionalSlug, OutputPath, inside
from crucible.presets import Presets
from crucible.settings import get_settings
from crucible.validation import Seed, strict_config
from tasks.ligand_data import data_card, fetch_chembl, load_ligands, split_ligands
from tasks.ligand_data import standardise_ligands as standardise_task


class SplitConfig(BaseModel):
    """How to split the standardised molecules.

    Attributes:
        method: ``random``, ``scaffold`` (Murcko scaffolds kept together), ``stratified``
            (by activity) or ``temporal`` (by year; needs a year column).
        fractions: Train/validation/test shares.
        seed: Seed of the split.
    """

    model_config = strict_config()

    method: Literal["random", "scaffold", "stratified", "temporal"] = "scaffold"
    fractions: SplitFractions = Field(default_factory=SplitFractions)
    seed: Seed = 0


class LigandDataConfig(BaseModel):
    """Parameters of the ligand-data flow (rendered as a form in the Prefect UI).

    Attributes:
        source: ``"egfr"`` (bundled ChEMBL 27 EGFR set, offline), ``"chembl"`` (web
            services; ``chembl`` says what) or ``"file"`` (``path`` + ``mapping``).
        name: Folder name of the output; derived from the source when empty.
        limit: Keep a seeded random sample of this many molecules of the bundled EGFR set
            (quick demos); None keeps all.
        chembl: The ChEMBL query (target id or gene symbol, activity types, ...).
        path: Ligand file for ``source="file"``.
        mapping: Its column mapping.
        standardise: Standardisation options.
        split: Split method, fractions and seed.
        output_dir: Root folder; ``<artifacts_dir>/ligand-data`` when empty.
    """

    model_config = strict_config()

    source: Literal["egfr", "chembl", "file"] = "egfr"
    name: OptionalSlug = ""
    limit: int | None = Field(default=None, ge=3)
    chembl: ChemblQuery = Field(default_factory=lambda: ChemblQuery(target="CHEMBL203"))
    path: InputPath | None = None
    mapping: ColumnMapping = Field(default_factory=ColumnMapping)
    standardise: StandardiseOptions = Field(default_factory=StandardiseOptions)
    split: SplitConfig = Field(default_factory=SplitConfig)
    output_dir: OutputPath = ""

    @model_validator(mode="after")
    def _file_needs_a_path(self) -> "LigandDataConfig":
        if self.source == "file" and not self.path:
            raise ValueError(
                "source='file' needs path; give the ligand file (CSV, TSV, SMILES or SDF) "
                "or use source='egfr' or 'chembl'"
            )
        return self

    def folder(self) -> Path:
        """Where this run's files go."""
        root = (
            Path(self.output_dir)
            if self.output_dir
            else get_settings().artifact_folder("ligand-data")
        )
        return inside(root, self.name or self.default_name(), field="name")

    def default_name(self) -> str:
        """``egfr``, the ChEMBL target, or the file's stem, made folder-safe."""
        raw = {"egfr": "egfr-chembl27", "chembl": self.chembl.target}.get(
            self.source, Path(self.path or "ligands").stem
        )
        safe = re.sub(r"\.{2,}", ".", re.sub(r"[^A-Za-z0-9_.-]+", "-", raw))
        return safe.strip("-.").lower()[:100] or "ligands"


class LigandDataResult(BaseModel):
    """Everything the ligand-data flow wrote.

    Attributes:
        folder: The run's folder.
        source: The fetched or loaded table and its provenance.
        standardised: Standardised and rejected tables with the summary.
        split_dir: Folder of ``train.csv``, ``valid.csv``, ``test.csv``.
        split: The split's paths and summary.
        card: The data card's files and counts.
    """

    folder: str
    source: LigandSource
    standardised: StandardisedFiles
    split_dir: str
    split: SplitFiles
    card: DataCardFiles


LigandDataPreset = Literal["default"]
#: Named presets of ``config`` (``crucible run ligand-data --preset NAME``).
PRESETS = Presets(LigandDataConfig, {"default": LigandDataConfig})


@flow(name="ligand-data", log_prints=True)
@uses_environment_block
def ligand_data(
    config: LigandDataConfig = LigandDataConfig(),  # noqa: B008
    preset: LigandDataPreset = "default",
) -> LigandDataResult:
    """Fetch or load ligands, standardise, split and publish a data card.

    Args:
        config: Settings to change; every setting left out keeps the preset's value.
        preset: Named starting point (``default``).
    """
    config = PRESETS.resolve(preset, config)
    out = config.folder()
    if config.source == "chembl":
        source = fetch_chembl(config.chembl, str(out / "source"), get_settings().chembl_base_url)
    else:
        source = load_ligands(
            config.source, str(out / "source"), config.path, config.mapping, limit=config.limit
        )
    standardised = standardise_task(
        source.molecules, str(out / "standardised"), config.standardise
    )
    split = split_ligands(
        standardised.standardised,
        str(out / "split"),
        config.split.method,
        config.split.fractions,
        config.split.seed,
        provenance_path=source.provenance,
        standardisation=standardised.summary,
    )
    card = data_card(
        standardised.standardised,
        str(out / "card"),
        title=config.name or config.default_name(),
        standardisation=standardised.summary,
        split=split,
        provenance_path=source.provenance,
    )
    return LigandDataResult(
        folder=str(out),
        source=source,
        standardised=standardised,
        split_dir=str(out / "split"),
        split=split,
        card=card,
    )


if __name__ == "__main__":
    import sys

    from crucible.cli import main

    raise SystemExit(main(["run", "ligand-data", *sys.argv[1:]]))
