"""Build the ChEMBL-shaped JSON fixtures in ``tests/data/chembl/`` from real EGFR records.

Run once by a developer (it reads ``../shared/data``, which tests must never read):

    .venv/bin/python tests/data/make_chembl_fixtures.py /work/shared/data

Sources (see ``tests/data/chembl/README.md``): TeachOpenCADD T001's ChEMBL 27 EGFR activity
records (REST field names) and compound table (canonical SMILES). The fixture keeps a seeded
sample of molecules with all their activity records, in the shape of the ChEMBL REST API
(decimal fields as strings, missing values as null).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

OUT = Path(__file__).parent / "chembl"
SEED = 7
N_MULTI = 25  # molecules with several records (exercise the per-molecule median)
N_SINGLE = 45  # molecules with one record
N_OTHER_UNITS = 3  # molecules measured only in other units (the server filters them out)
NO_STRUCTURE = 1  # molecules whose structure is withheld (exercises the "no structure" drop)


def _decimal(value: float) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return repr(float(value))


def _activity(row: pd.Series) -> dict[str, object]:
    standard_value = float(row["standard_value"])
    units = row["standard_units"] if isinstance(row["standard_units"], str) else None
    pchembl = None
    if units == "nM" and row["relation"] == "=" and standard_value > 0:
        pchembl = f"{9 - math.log10(standard_value):.2f}"
    return {
        "activity_id": int(row["activity_id"]),
        "assay_chembl_id": row["assay_chembl_id"],
        "assay_description": row["assay_description"],
        "assay_type": row["assay_type"],
        "molecule_chembl_id": row["molecule_chembl_id"],
        "standard_type": row["type"],
        "standard_relation": row["relation"],
        "standard_value": _decimal(standard_value),
        "standard_units": units,
        "pchembl_value": pchembl,
        "target_chembl_id": row["target_chembl_id"],
        "target_organism": row["target_organism"],
        "type": row["type"],
        "relation": row["relation"],
        "units": row["units"] if isinstance(row["units"], str) else None,
        "value": _decimal(float(row["value"])),
        "document_year": None,
        "data_validity_comment": None,
        "potential_duplicate": 0,
    }


def _targets() -> list[dict[str, object]]:
    def component(accession: str, description: str, synonyms: list[str]) -> dict[str, object]:
        return {
            "accession": accession,
            "component_description": description,
            "component_type": "PROTEIN",
            "relationship": "SINGLE PROTEIN",
            "target_component_synonyms": [
                {"component_synonym": s, "syn_type": "GENE_SYMBOL" if i == 0 else "UNIPROT"}
                for i, s in enumerate(synonyms)
            ],
        }

    egfr = ["EGFR", "ERBB", "ERBB1", "HER1"]
    return [
        {
            "target_chembl_id": "CHEMBL203",
            "pref_name": "Epidermal growth factor receptor erbB1",
            "organism": "Homo sapiens",
            "target_type": "SINGLE PROTEIN",
            "species_group_flag": False,
            "target_components": [component("P00533", "Epidermal growth factor receptor", egfr)],
        },
        {
            "target_chembl_id": "CHEMBL3608",
            "pref_name": "Epidermal growth factor receptor",
            "organism": "Mus musculus",
            "target_type": "SINGLE PROTEIN",
            "species_group_flag": False,
            "target_components": [
                component("Q01279", "Epidermal growth factor receptor", ["Egfr"])
            ],
        },
        {
            "target_chembl_id": "CHEMBL1824",
            "pref_name": "Receptor protein-tyrosine kinase erbB-2",
            "organism": "Homo sapiens",
            "target_type": "SINGLE PROTEIN",
            "species_group_flag": False,
            "target_components": [
                component("P04626", "Receptor tyrosine-protein kinase erbB-2", ["ERBB2", "HER2"])
            ],
        },
        {
            "target_chembl_id": "CHEMBL4523747",
            "pref_name": "EGFR/PPP1CA",
            "organism": "Homo sapiens",
            "target_type": "PROTEIN-PROTEIN INTERACTION",
            "species_group_flag": False,
            "target_components": [
                component("P00533", "Epidermal growth factor receptor", egfr),
                component("P62136", "Serine/threonine-protein phosphatase PP1-alpha", ["PPP1CA"]),
            ],
        },
    ]


def main(shared: Path) -> None:
    raw = pd.read_csv(shared / "egfr_chembl27_activities_raw_teachopencadd.csv", index_col=0)
    raw = raw.drop_duplicates("activity_id")
    compounds = pd.read_csv(shared / "egfr_chembl27_teachopencadd.csv", index_col=0)
    smiles = dict(zip(compounds["molecule_chembl_id"], compounds["smiles"], strict=True))
    counts = raw.groupby("molecule_chembl_id").size()
    nm_only = raw.groupby("molecule_chembl_id")["standard_units"].agg(
        lambda s: set(s.dropna()) == {"nM"}
    )
    with_smiles = counts.index.isin(list(smiles))
    rng = np.random.default_rng(SEED)
    multi = counts[(counts >= 2) & with_smiles & nm_only.reindex(counts.index).to_numpy()].index
    single = counts[(counts == 1) & with_smiles & nm_only.reindex(counts.index).to_numpy()].index
    other = nm_only[~nm_only].index
    chosen = (
        list(rng.choice(multi, N_MULTI, replace=False))
        + list(rng.choice(single, N_SINGLE, replace=False))
        + list(rng.choice(other, N_OTHER_UNITS, replace=False))
    )
    records = raw[raw["molecule_chembl_id"].isin(chosen)].sort_values("activity_id")
    activities = [_activity(row) for _, row in records.iterrows()]
    withheld = set(sorted(single[single.isin(chosen)])[:NO_STRUCTURE])
    molecules = [
        {
            "molecule_chembl_id": mid,
            "molecule_type": "Small molecule",
            "pref_name": None,
            "molecule_structures": None
            if mid in withheld or mid not in smiles
            else {"canonical_smiles": smiles[mid]},
        }
        for mid in sorted(chosen)
    ]
    status = {"chembl_db_version": "ChEMBL_27", "status": "UP"}
    OUT.mkdir(exist_ok=True)
    for name, payload in {
        "activities.json": activities,
        "molecules.json": molecules,
        "targets.json": _targets(),
        "status.json": status,
        "meta.json": {"withheld_structures": sorted(withheld), "seed": SEED},
    }.items():
        (OUT / name).write_text(json.dumps(payload, indent=1) + "\n")
    print(f"{len(activities)} activities, {len(molecules)} molecules -> {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data"))
