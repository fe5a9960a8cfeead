"""The broad-prior benchmark scripts: corpus building, fine-tuning, ``--prior``."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from crucible.generator import BROAD_PRIOR_PATH, DEFAULT_PRIOR_PATH
from crucible.generator.model import GenerativeModel
from crucible.generator.model_io import load_model, save_model
from crucible.generator.tokenizer import Vocabulary

BENCHMARKS = Path(__file__).resolve().parents[3] / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def broad() -> ModuleType:
    return _load("broad_prior")


@pytest.fixture(scope="module")
def generator_bench() -> ModuleType:
    return _load("generator")


VOCABULARY = Vocabulary.from_smiles(["CC(=O)Nc1ccc(O)cc1", "C1CCNCC1", "OCl"])


def test_clean_standardises_and_filters(broad: ModuleType) -> None:
    smiles = [
        "C[C@H](N)C(=O)O.Cl",  # salt and stereo: kept as the neutral, flat parent
        "CC(=O)Nc1ccc(O)cc1",  # kept as is
        "CC(=O)Nc1ccc(Br)cc1",  # Br is not in the vocabulary
        "not a smiles",
        "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC",  # MW 815
    ]
    kept, dropped = broad.clean(smiles, VOCABULARY, max_mw=600, min_mw=50)
    assert kept == ["CC(N)C(=O)O", "CC(=O)Nc1ccc(O)cc1"]
    assert dropped == {
        "standardisation": 1, "vocabulary": 1, "molecular_weight": 1, "near_target": 0
    }  # fmt: skip


def test_clean_drops_molecules_near_an_oracle_target(broad: ModuleType) -> None:
    ranolazine = "COc1ccccc1OCC(O)CN1CCN(CC(=O)Nc2c(C)cccc2C)CC1"
    assert ranolazine in {broad.standardise_one(s) for s in broad.oracle_targets()}
    targets = broad.TargetFilter(broad.oracle_targets(), 0.323)
    vocabulary = Vocabulary.from_smiles([ranolazine, "CC(=O)Nc1ccc(O)cc1"])
    smiles = [ranolazine, ranolazine.replace("OC", "OCC", 1), "CC(=O)Nc1ccc(O)cc1"]
    kept, dropped = broad.clean(smiles, vocabulary, 600, 50, targets)
    assert kept == ["CC(=O)Nc1ccc(O)cc1"] and dropped["near_target"] == 2
    keep_all = broad.TargetFilter(broad.oracle_targets(), 1.0)
    assert len(broad.clean(smiles, vocabulary, 600, 50, keep_all)[0]) == 3


def test_build_corpus_deduplicates_across_sources(broad: ModuleType) -> None:
    sources = {"a": ["CC(=O)Nc1ccc(O)cc1", "C1CCNCC1"], "b": ["OC(C)=O", "C1CCNCC1"]}
    rows, report = broad.build_corpus(sources, VOCABULARY, min_mw=50)
    assert rows == [("CC(=O)Nc1ccc(O)cc1", "a"), ("C1CCNCC1", "a"), ("CC(=O)O", "b")]
    assert report["b"]["kept"] == 1 and report["b"]["input"] == 2


def test_mw_profile_counts_invalid_and_bins(broad: ModuleType) -> None:
    profile = broad.mw_profile(["CCO", "CC(=O)Nc1ccc(O)cc1", "C1CC", "c1ccccc1" + "C" * 30])
    assert profile["n"] == 4
    assert profile["validity"] == 0.75
    assert profile["mw_share"]["0-250"] == pytest.approx(0.667, abs=1e-3)
    assert profile["mw_share"]["450-550"] == pytest.approx(0.333, abs=1e-3)
    assert profile["mw_350_550"] == pytest.approx(0.333, abs=1e-3)


def test_corpus_file_round_trip(broad: ModuleType, tmp_path: Path) -> None:
    path = tmp_path / "corpus.csv"
    broad.write_corpus([("CCO", "moses"), ("CCN", "egfr_chembl27")], path)
    assert broad.read_column(path) == ["CCO", "CCN"]
    assert broad.read_column(path, "source") == ["moses", "egfr_chembl27"]


def test_train_fine_tunes_the_given_prior(
    broad: ModuleType, tiny_model: GenerativeModel, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    prior = save_model(tiny_model, tmp_path / "tiny.prior")
    corpus = tmp_path / "corpus.csv"
    broad.write_corpus([(s, "x") for s in ["CCO", "CCN", "CCC", "c1ccccc1", "CC(=O)O"]], corpus)
    out = tmp_path / "out"
    broad.main(["train", str(corpus), str(out), "--prior", str(prior), "--epochs", "1",
                "--sample-size", "10", "--validation-fraction", "0.2"])  # fmt: skip
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["best_epoch"] == 1 and summary["train"] == 4 and summary["valid"] == 1
    tuned = load_model(summary["model"])
    assert tuned.config == tiny_model.config
    recipe = json.loads((out / "recipe.json").read_text())
    assert recipe["randomize_smiles"] is False and recipe["epochs"] == 1


def test_generator_prior_option(
    generator_bench: ModuleType, tiny_model: GenerativeModel, tmp_path: Path
) -> None:
    parser = generator_bench.build_parser()
    assert parser.parse_args([]).prior is None
    assert generator_bench.default_prior(None) == DEFAULT_PRIOR_PATH
    assert generator_bench.default_prior("oracle") == BROAD_PRIOR_PATH
    path = save_model(tiny_model, tmp_path / "tiny.prior")
    assert parser.parse_args(["--prior", str(path)]).prior == path
    saved = dict(generator_bench.PMO_RUN)
    try:
        generator_bench.PMO_RUN["prior"] = path
        assert generator_bench.run_prior().config == tiny_model.config
    finally:
        generator_bench.PMO_RUN.update(saved)


def test_generator_rejects_a_missing_prior(
    generator_bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit):
        generator_bench.main(["--sections", "table", "--prior", str(tmp_path / "none.prior")])
    assert "--prior" in capsys.readouterr().err


def _pmo_table(
    bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture, rows: list[dict], name: str
) -> tuple[str, str]:
    """The printed table of ``rows`` (as a records file) and its line for ``name``."""
    path = tmp_path / "runs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    bench.pmo_table(str(path), [name])
    out = capsys.readouterr().out
    return out, next(x for x in out.splitlines() if x.startswith(f"| {name}"))


def test_pmo_table_ignores_screening_records(
    generator_bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rows = [
        {"oracle": "deco_hop", "seed": 0, "budget": 10000, "calls": 8000,
         "auc_top10": {"10000": 0.65}, "cpu_s_per_1000_calls": 36},
        {"section": "screen", "oracle": "deco_hop", "seed": 0, "budget": 10000,
         "calls": 10000, "auc_top10": {"10000": 0.6}},
    ]  # fmt: skip
    _, line = _pmo_table(generator_bench, tmp_path, capsys, rows, "deco_hop")
    assert "| 0 | 0.650 | 0.650 | 0.666 | 0.600 |" in line and "(capped)" in line


def test_pmo_table_keeps_the_longest_run_of_each_seed(
    generator_bench: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    rows = [
        {"oracle": "median1", "seed": 0, "budget": 10000, "calls": 8000,
         "auc_top10": {"10000": 0.30}, "cpu_s_per_1000_calls": 30},
        {"oracle": "median1", "seed": 0, "budget": 10000, "calls": 10010,
         "auc_top10": {"10000": 0.32}, "cpu_s_per_1000_calls": 40},
        {"oracle": "median1", "seed": 1, "budget": 10000, "calls": 10001,
         "auc_top10": {"10000": 0.34}, "cpu_s_per_1000_calls": 40},
    ]  # fmt: skip
    out, line = _pmo_table(generator_bench, tmp_path, capsys, rows, "median1")
    assert "| 0,1 | 0.320 / 0.340 | 0.330 |" in line and "(capped)" not in line
    assert "10010 / 10001" in line and "1 oracles run: mean 0.330" in out
