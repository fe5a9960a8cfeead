"""Chemistry benchmark: standardisation, scoring components, filter chain, embeddings.

Prints, from one run:

* molecules/s of standardisation (``crucible.data.standardise.standardise_many``, 1 process);
* molecules/s of each scoring component's ``compute`` on pre-parsed molecules (QED, SA,
  Tanimoto to 10 references, PAINS+Brenk alert count, the RF and Chemprop activity models
  of ``crucible.chem.activity`` trained here on the shipped EGFR extract);
* the filter chain (``crucible.chem.filters.filter_molecules``: 2 worker processes, and 1)
  against the naive per-molecule loop of the same filters
  (``filter_molecules_naive``) on the same 10,000 SMILES, wall and CPU seconds, the
  speed-up, and whether both keep the same molecules;
* wall seconds of PCA, t-SNE (openTSNE on PCA-50, 1 thread) and UMAP (Jaccard; first call
  in the process including numba compilation, then a second call) on 5,000 molecules.

Molecules: ``rdkit/Data/Pains/test_data/wehi_mols.csv`` from the installed RDKit wheel
(10,000 SMILES). The load average is printed before and after: this machine is shared.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/chem.py [--quick]
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np


def wehi_smiles() -> list[str]:
    import rdkit

    path = Path(rdkit.__file__).parent / "Data/Pains/test_data/wehi_mols.csv"
    with path.open() as handle:
        return [row[0] for row in csv.reader(handle)]


def egfr_frame() -> Any:
    import pandas as pd

    from crucible.data import io

    path = Path(io.__file__).parent.parent / "resources/data/egfr_chembl27_teachopencadd.csv"
    return pd.read_csv(path)


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(function: Callable[[], Any]) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = function()
    return result, time.perf_counter() - wall, cpu_seconds() - cpu


def line(label: str, n: int, wall: float, cpu: float) -> None:
    print(f"  {label:<44} {n:>6} mol  {wall:8.2f} s wall  {cpu:8.2f} s CPU  "
          f"{n / wall:9.0f} mol/s")  # fmt: skip


def bench_standardisation(smiles: list[str]) -> None:
    print("standardisation")
    try:
        from crucible.data.standardise import standardise_many
    except ImportError:
        print("  skipped: crucible.data.standardise is not available")
        return
    out, wall, cpu = timed(lambda: standardise_many(smiles))
    line("standardise_many (1 process)", len(smiles), wall, cpu)
    print(f"  {sum(s is not None for s, _ in out)} of {len(out)} standardised")


def train_models(tmp: Path, quick: bool) -> dict[str, Any]:
    from crucible.chem.activity import get_activity_model

    frame = egfr_frame().sample(frac=1.0, random_state=0)
    models: dict[str, Any] = {}
    rf_train = frame.iloc[:2000] if not quick else frame.iloc[:300]
    rf = get_activity_model("random_forest")
    _, wall, _ = timed(lambda: rf.fit(rf_train["smiles"].tolist(), rf_train["pIC50"]))
    print(f"  (RF fit on {len(rf_train)} EGFR molecules, 300 trees: {wall:.1f} s wall)")
    models["RF activity model (predict)"] = rf
    try:
        chemprop = get_activity_model("chemprop", {"epochs": 1, "warmup_epochs": 0})
        cp_train = frame.iloc[:500]
        _, wall, _ = timed(lambda: chemprop.fit(cp_train["smiles"].tolist(), cp_train["pIC50"]))
        print(f"  (Chemprop fit, 1 epoch on {len(cp_train)} molecules: {wall:.1f} s wall)")
        models["Chemprop activity model (predict)"] = chemprop
    except Exception as exc:  # report, do not hide
        print(f"  Chemprop skipped: {type(exc).__name__}: {exc}")
    return models


def bench_components(smiles: list[str], quick: bool) -> None:
    from crucible.chem.components import (
        ActivityModelComponent,
        CustomAlertsComponent,
        TanimotoSimilarityComponent,
    )
    from crucible.chem.scoring import MolBatch, get_component_class

    print("scoring components (compute on pre-parsed molecules, 1 process)")
    batch, wall, cpu = timed(lambda: MolBatch(smiles))
    line("parse (MolFromSmiles, shared by components)", len(smiles), wall, cpu)
    components: dict[str, Any] = {
        "QED": get_component_class("qed")(),
        "SA score": get_component_class("sa_score")(),
        "molecular weight": get_component_class("molecular_weight")(),
        "Tanimoto ECFP4 to 10 references": TanimotoSimilarityComponent({"smiles": smiles[:10]}),
        "alerts PAINS+Brenk (screened count)": CustomAlertsComponent(
            {"catalogs": ["PAINS", "BRENK"]}
        ),
    }
    with TemporaryDirectory() as tmp:
        for label, model in train_models(Path(tmp), quick).items():
            components[label] = ActivityModelComponent.from_predictor(model)
        for label, component in components.items():
            subset = smiles if "Chemprop" not in label else smiles[:2000]
            fresh = MolBatch(subset) if subset is not smiles else _fresh(batch)
            values, wall, cpu = timed(lambda c=component, b=fresh: c.compute(b))
            assert np.asarray(values).shape == (len(fresh),)
            line(label, len(fresh), wall, cpu)


def _fresh(batch: Any) -> Any:
    """The same molecules with an empty fingerprint/canonical cache."""
    batch._cache = {}
    return batch


def bench_filters(smiles: list[str]) -> None:
    from crucible.chem.filters import FilterConfig, filter_molecules, filter_molecules_naive

    config = FilterConfig(qed_min=0.5, sa_max=6.0, alerts=["PAINS", "BRENK"])
    reference = smiles[:500]
    print(
        "filter chain on wehi_mols: validity, dedup, novelty (first 500 as reference), "
        "Lipinski (<=1 violation), Veber, SA <= 6, QED >= 0.5, PAINS + Brenk"
    )
    naive, naive_wall, naive_cpu = timed(
        lambda: filter_molecules_naive(smiles, config, reference_smiles=reference)
    )
    line("naive loop (1 process, listed order)", len(smiles), naive_wall, naive_cpu)
    fast, wall, cpu = timed(lambda: filter_molecules(smiles, config, reference))
    line("filter_molecules, 2 worker processes", len(smiles), wall, cpu)
    single_config = config.model_copy(update={"n_jobs": 1})
    single, wall1, cpu1 = timed(lambda: filter_molecules(smiles, single_config, reference))
    line("filter_molecules, 1 process", len(smiles), wall1, cpu1)
    print(f"  speed-up vs naive (wall): 2 processes {naive_wall / wall:.2f}x, "
          f"1 process {naive_wall / wall1:.2f}x")  # fmt: skip
    same = fast.kept_smiles == naive == single.kept_smiles
    print(f"  kept {len(naive)} molecules; identical kept lists: {same}")
    for stage in fast.summary:
        print(f"    {stage.name:<16} removed {stage.removed:>5}  remaining {stage.remaining:>5}")


def bench_embeddings(smiles: list[str]) -> None:
    from crucible.viz.chemical_space import embed, fingerprint_matrix

    print(f"embeddings of {len(smiles)} molecules x 2048 Morgan bits")
    (fingerprints, _), wall, _ = timed(lambda: fingerprint_matrix(smiles))
    print(f"  fingerprints                {wall:8.2f} s wall")
    for method, label in [
        ("pca", "PCA"),
        ("tsne", "t-SNE (openTSNE, PCA-50)"),
        ("umap", "UMAP Jaccard, 1st call"),
        ("umap", "UMAP Jaccard, 2nd call"),
    ]:
        coords, wall, cpu = timed(lambda m=method: embed(fingerprints, m, seed=0))
        assert coords.shape == (len(smiles), 2)
        print(f"  {label:<27} {wall:8.2f} s wall  {cpu:8.2f} s CPU")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 molecules, no UMAP")
    args = parser.parse_args()
    smiles = wehi_smiles()
    n_filter, n_embed = (1000, 500) if args.quick else (10_000, 5_000)
    print(f"load average at start: {os.getloadavg()}; cores: {os.cpu_count()}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")  # fmt: skip
    bench_standardisation(smiles[:n_filter])
    bench_components(smiles[:n_filter], args.quick)
    bench_filters(smiles[:n_filter])
    if args.quick:
        print("embeddings skipped (--quick)")
    else:
        bench_embeddings(smiles[:n_embed])
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
