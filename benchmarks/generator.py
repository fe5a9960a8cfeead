"""Generator benchmark: CPU-seconds (single thread) against REINVENT 4.8.24 on this machine.

Prints, for Crucible's engine:

* sampling throughput (SMILES per CPU-second) at batch 64 / 256 / 1000 for REINVENT 4's
  default architecture (3×LSTM 512, untrained, sampling capped at 60 tokens: the protocol of
  the REINVENT micro-benchmark) and valid SMILES per CPU-second for the shipped prior;
* a training step on 128 MOSES SMILES for 3×512 and 2×256;
* an RL step (batch 64, QED, IdenticalMurckoScaffold filter) for a 2×256 prior that this
  script pre-trains briefly on MOSES SMILES;
* TL CPU-seconds per epoch on EGFR (500 actives with pIC50 ≥ 7, 100 for validation,
  batch 50, randomised SMILES, 100 samples per epoch) for both architectures;
* PMO AUC top-10 at 2,000 and 5,000 oracle calls with the shipped prior (σ 128, Adam 1e-4,
  batch 64, scaffold filter), per seed, on any of the 12 PMO oracles of
  ``crucible.generator.oracles`` (``--oracles``; default QED and celecoxib rediscovery);
* the screening baseline (``screen``): the AUC top-10 of simply scoring the prior's first N
  unique valid samples in sampling order (N = ``--pmo-calls``), per seed and oracle (one
  sample per seed, scored by every oracle), with the scoring CPU-s per 1,000 calls.

REINVENT 4 reference figures are from ``shared/notes/reinvent-and-chembl.md`` (measured on
the same kind of machine, one thread). Ratios > 1 mean Crucible is better.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/generator.py [--sections sampling,train,rl,tl,pmo,screen]
        [--seeds 0,1,2] [--pmo-calls 5000] [--oracles qed,zaleplon_mpo,...|all]
        [--preset oracle]  # PMO runs with the oracle recipe, from its broad prior
        [--prior PATH]   # pmo and screen sections from another prior
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import torch

from crucible.chem.scoring import ScoringConfig, build_scoring_function
from crucible.generator import DEFAULT_CORPUS_PATH, DEFAULT_PRIOR_PATH
from crucible.generator.chemistry import canonicalize, sample_quality
from crucible.generator.diversity_filters import DiversityFilterConfig
from crucible.generator.model import GenerativeModel, NetworkConfig, pad_sequences
from crucible.generator.model_io import load_model
from crucible.generator.oracles import ORACLE_NAMES, build_oracle
from crucible.generator.pmo import auc_top_k
from crucible.generator.pretraining import read_smiles_file
from crucible.generator.recipes import oracle_reinforcement, recipe_prior
from crucible.generator.reinforcement import (
    ReinforcementConfig,
    Stage,
    StageConfig,
    StagedLearning,
)
from crucible.generator.replay import InceptionConfig
from crucible.generator.training import LENGTH_BUCKETS
from crucible.generator.transfer_learning import (
    TransferLearningConfig,
    transfer_learn,
)

torch.set_num_threads(1)

REINVENT = {
    "sampling_3x512": {64: 77.0, 256: 98.0, 1000: 127.0},  # SMILES per CPU-s, <= 60 tokens
    "train_step_3x512": 3.2,  # CPU-s per 128 SMILES
    "train_step_2x256": 0.55,
    "rl_step_2x256_qed": 1.16,  # CPU-s per step, batch 64, QED, scaffold DF
    "tl_epoch_2x256": 4.4,  # CPU-s per epoch, 500 EGFR actives, batch 50, 200 samples
    "tl_epoch_3x512": 20.0,  # ≈ CPU-s per epoch (CLI, 500 EGFR, with validation + sampling)
}
# PMO (Gao et al., "Sample efficiency matters", NeurIPS 2022 Datasets & Benchmarks): AUC top-10
# at 10,000 oracle calls of REINVENT (SMILES LSTM prior on ZINC 250k, mol_opt settings), mean
# over PMO's runs; the REINVENT column of PMO's main table as reproduced in Lee et al. 2024
# (f-RAG, NeurIPS), Table 1 ("results for other baselines are taken from Gao et al."). Their
# isomer-based oracles (isomers, sitagliptin, zaleplon) seem to be TDC's pre-fix ones, which
# ``crucible.generator.oracles`` offers as ``*_prev``; compare those against these values too.
PMO_REINVENT_10K = {
    "qed": 0.941,
    "celecoxib_rediscovery": 0.710,
    "thiothixene_rediscovery": 0.534,
    "mestranol_similarity": 0.618,
    "median1": 0.356,
    "isomers_c7h8n2o2": 0.852,
    "fexofenadine_mpo": 0.784,
    "ranolazine_mpo": 0.760,
    "sitagliptin_mpo": 0.021,
    "zaleplon_mpo": 0.358,
    "deco_hop": 0.666,
    "scaffold_hop": 0.560,
}
# The screening baseline (``--sections screen --seeds 0,1,2 --pmo-calls 10000 --oracles all``,
# 2026-12-06, code a513ca2): mean AUC top-10 over seeds 0-2 of the shipped prior's first 10,000
# unique valid samples (docs/generator.md, "PMO oracles: screening baseline").
SCREENING_10K = {
    "qed": 0.942, "celecoxib_rediscovery": 0.361, "thiothixene_rediscovery": 0.313,
    "mestranol_similarity": 0.348, "median1": 0.162, "isomers_c7h8n2o2": 0.355,
    "fexofenadine_mpo": 0.615, "ranolazine_mpo": 0.214, "sitagliptin_mpo": 0.322,
    "zaleplon_mpo": 0.465, "deco_hop": 0.598, "scaffold_hop": 0.474,
    "isomers_c7h8n2o2_prev": 0.087, "sitagliptin_mpo_prev": 0.031, "zaleplon_mpo_prev": 0.062,
}  # fmt: skip
SMALL = NetworkConfig(num_layers=2, layer_size=256, embedding_layer_size=128)


def cpu_seconds(function: Callable[[], Any]) -> tuple[float, Any]:
    """CPU time (user + sys of this process) of one call, and its result."""
    start = time.process_time()
    result = function()
    return time.process_time() - start, result


def show(
    label: str,
    value: float,
    unit: str,
    reference: float | None,
    higher_better: bool,
    source: str = "REINVENT 4",
) -> None:
    """Print one figure with its reference (``source``) and the ratio (> 1 = Crucible better)."""
    line = f"{label:<58} {value:10.3f} {unit}"
    if reference:
        ratio = value / reference if higher_better else reference / value
        line += f"   {source}: {reference:.3f}   ratio {ratio:.2f}x"
    print(line, flush=True)


def corpus(n: int, seed: int = 0) -> list[str]:
    """``n`` random SMILES of the bundled MOSES subset."""
    smiles = read_smiles_file(DEFAULT_CORPUS_PATH, limit=200_000)
    return random.Random(seed).sample(smiles, n)


# ------------------------------------------------------------------------------ sections
def bench_sampling() -> None:
    print("\n== sampling throughput (single thread) ==")
    prior = load_model(DEFAULT_PRIOR_PATH)
    untrained = GenerativeModel.create(prior.vocabulary, NetworkConfig(), max_sequence_length=61)
    for batch in (64, 256, 1000):
        n = max(batch, 1000) if batch < 1000 else 2000
        torch.manual_seed(0)
        seconds, _ = cpu_seconds(lambda m=untrained, b=batch, k=n: m.sample(k, batch_size=b))
        show(f"3x512 untrained, <=60 tokens, batch {batch}: SMILES/CPU-s", n / seconds,
             "", REINVENT["sampling_3x512"][batch], True)  # fmt: skip
    for batch in (64, 256, 1000):
        n = max(batch, 1000) if batch < 1000 else 2000
        torch.manual_seed(0)
        seconds, out = cpu_seconds(lambda b=batch, k=n: prior.sample(k, batch_size=b))
        valid = sample_quality(out.smiles)["validity"] * n
        show(f"shipped prior (3x512), batch {batch}: valid SMILES/CPU-s", valid / seconds, "",
             REINVENT["sampling_3x512"][batch], True)  # fmt: skip


def train_step_seconds(model: GenerativeModel, smiles: list[str], repeats: int = 5) -> float:
    """Mean CPU-s of one Adam step on 128 SMILES (after one warm-up step)."""
    optimizer = torch.optim.Adam(model.network.parameters(), lr=1e-3)
    batches = [smiles[i * 128 : (i + 1) * 128] for i in range(repeats + 1)]

    def step(batch: list[str]) -> None:
        encoded = pad_sequences([model.vocabulary.encode(s) for s in batch], "cpu")
        loss = model.likelihood(encoded, buckets=LENGTH_BUCKETS).mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.network.parameters(), 1.0)
        optimizer.step()

    step(batches[0])
    seconds, _ = cpu_seconds(lambda: [step(b) for b in batches[1:]])
    return seconds / repeats


def bench_training() -> None:
    print("\n== training step, 128 MOSES SMILES ==")
    smiles = corpus(128 * 6)
    vocabulary = load_model(DEFAULT_PRIOR_PATH).vocabulary
    for label, config, reference in (("3x512", NetworkConfig(), "train_step_3x512"),
                                     ("2x256", SMALL, "train_step_2x256")):  # fmt: skip
        model = GenerativeModel.create(vocabulary, config)
        show(f"{label} training step: CPU-s per 128 SMILES", train_step_seconds(model, smiles),
             "s", REINVENT[reference], False)  # fmt: skip


def small_prior(folder: Path, steps: int) -> GenerativeModel:
    """A 2×256 prior pre-trained for ``steps`` steps of 128 MOSES SMILES (lr 3e-3)."""
    from crucible.generator.training import train_one_epoch

    smiles = corpus(steps * 128, seed=1)
    vocabulary = load_model(DEFAULT_PRIOR_PATH).vocabulary
    model = GenerativeModel.create(vocabulary, SMALL, max_sequence_length=256)
    optimizer = torch.optim.Adam(model.network.parameters(), lr=3e-3)
    encoded = [vocabulary.encode(s) for s in smiles]
    seconds, nll = cpu_seconds(
        lambda: train_one_epoch(model, encoded, optimizer, 128, 1.0, random.Random(0))
    )
    torch.manual_seed(0)
    quality = sample_quality(model.sample(500).smiles)
    print(f"   (2x256 prior for RL/TL: {steps} steps in {seconds:.0f} CPU-s, "
          f"train NLL {nll:.1f}, validity {quality['validity']:.2f})", flush=True)  # fmt: skip
    return model


def qed_scorer() -> Any:
    return build_scoring_function(ScoringConfig(components=[{"type": "qed"}]))


def bench_rl(small: GenerativeModel, steps: int = 10) -> None:
    print("\n== RL step: batch 64, QED, IdenticalMurckoScaffold filter ==")
    config = ReinforcementConfig(batch_size=64, diversity_filter=DiversityFilterConfig())
    with tempfile.TemporaryDirectory() as folder:
        learner = StagedLearning(small.clone(), small.clone(), config, folder)
        scorer = qed_scorer()
        learner.run([Stage(StageConfig(max_steps=1, min_steps=1), scorer)])  # warm-up
        timed = [Stage(StageConfig(max_steps=steps, min_steps=steps), scorer)]
        seconds, _ = cpu_seconds(lambda: learner.run(timed))
    validity = np.mean([r.validity for r in learner.history[-steps:]])
    show(f"2x256 RL step (validity {validity:.2f}): CPU-s per step", seconds / steps, "s",
         REINVENT["rl_step_2x256_qed"], False)  # fmt: skip


def egfr_sets() -> tuple[list[str], list[str]]:
    from crucible.data.datasets import load_egfr

    frame = load_egfr()
    actives = [s for s in frame.loc[frame["pchembl_value"] >= 7, "smiles"]]
    random.Random(0).shuffle(actives)
    return actives[:500], actives[500:600]


def bench_tl(small: GenerativeModel, epochs: int = 2) -> None:
    print("\n== TL on EGFR (500 actives, 100 validation, batch 50, randomised SMILES) ==")
    train, valid = egfr_sets()
    config = TransferLearningConfig(epochs=epochs, batch_size=50, sample_size=100,
                                    early_stopping_patience=None, device="cpu")  # fmt: skip
    for label, model, reference in (("2x256", small.clone(), "tl_epoch_2x256"),
                                    ("3x512 shipped prior", load_model(DEFAULT_PRIOR_PATH),
                                     "tl_epoch_3x512")):  # fmt: skip
        with tempfile.TemporaryDirectory() as folder:
            seconds, result = cpu_seconds(
                lambda m=model, f=folder: transfer_learn(m, train, valid, config, f)
            )
        last = result.history[-1]
        skipped = len(result.extra["skipped_input"])
        print(f"   {label}: validation NLL {[round(r.valid_nll, 1) for r in result.history]}, "
              f"validity {last.validity:.2f}, {skipped} input SMILES skipped, "
              f"randomisation skips {result.extra['randomization_skips']}")  # fmt: skip
        show(f"{label} TL: CPU-s per epoch", seconds / epochs, "s", REINVENT[reference], False)


PMO_STRATEGY: dict[str, float] = {}
PMO_FILTER: list[DiversityFilterConfig | None] = [DiversityFilterConfig()]
PMO_INCEPTION: list[InceptionConfig | None] = [None]
PMO_DUPLICATES: list[Literal["score_zero", "drop"]] = ["score_zero"]
PMO_RUN: dict[str, Any] = {
    "preset": "", "max_steps": 10_000, "jsonl": "", "prior": DEFAULT_PRIOR_PATH
}  # fmt: skip


def run_prior() -> GenerativeModel:
    """The prior of the PMO and screening runs (``--prior``; the shipped one by default)."""
    return load_model(PMO_RUN["prior"])


def pmo_config(calls: int, seed: int) -> ReinforcementConfig:
    """The RL settings of a PMO run: a named recipe (``--preset``) or the flags' settings."""
    if PMO_RUN["preset"] == "oracle":
        return oracle_reinforcement(seed).model_copy(update={"max_oracle_calls": calls})
    return ReinforcementConfig(
        batch_size=64,
        max_oracle_calls=calls,
        seed=seed,
        learning_strategy=PMO_STRATEGY,
        diversity_filter=PMO_FILTER[0],
        inception=PMO_INCEPTION[0],
        in_batch_duplicates=PMO_DUPLICATES[0],
    )


def pmo_run(scorer: Any, config: ReinforcementConfig) -> tuple[list[float], int]:
    """Scores of unique molecules in call order, and the steps taken, for one RL run."""
    prior = run_prior()
    steps = PMO_RUN["max_steps"]
    with tempfile.TemporaryDirectory() as folder:
        learner = StagedLearning(prior, prior.clone(), config, folder)
        result = learner.run([Stage(StageConfig(max_steps=steps, min_steps=steps), scorer)])
    return list(result.scored.values()), len(result.history)


def reference(name: str) -> float:
    """PMO's REINVENT value for an oracle (a ``*_prev`` variant shares its oracle's)."""
    return PMO_REINVENT_10K[name.removesuffix("_prev")]


def commit() -> str:
    """The checked-out commit (short), or ``unknown``."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True, cwd=Path(__file__).parent)  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return out.stdout.strip()


def record_run(row: dict[str, Any]) -> None:
    """Append one finished run as a JSON line to ``--jsonl`` (when given)."""
    if not PMO_RUN["jsonl"]:
        return
    import json

    with open(PMO_RUN["jsonl"], "a") as handle:
        handle.write(json.dumps(row) + "\n")


def bench_pmo(seeds: list[int], calls: int, names: list[str]) -> None:
    print(f"\n== PMO AUC top-10, prior {Path(PMO_RUN['prior']).name}, seeds {seeds} ==")
    budgets = sorted({min(2000, calls), min(5000, calls), calls})
    for name in names:
        scorer = build_oracle(name)
        values: dict[int, list[float]] = {budget: [] for budget in budgets}
        for seed in seeds:
            config = pmo_config(calls, seed)
            seconds, (scores, steps) = cpu_seconds(lambda o=scorer, c=config: pmo_run(o, c))
            for budget in values:
                values[budget].append(auc_top_k(scores, budget))
            aucs = ", ".join(f"AUC@{b} {v[-1]:.3f}" for b, v in values.items())
            print(f"   {name} seed {seed}: {aucs}, top-1 {max(scores):.3f}, {len(scores)} calls "
                  f"in {steps} steps, {seconds:.0f} CPU-s "
                  f"({1000 * seconds / len(scores):.0f} per 1,000 calls)", flush=True)  # fmt: skip
            record_run({
                "oracle": name, "seed": seed, "budget": calls, "calls": len(scores),
                "steps": steps, "samples": steps * config.batch_size,
                "auc_top10": {str(b): round(v[-1], 4) for b, v in values.items()},
                "top1": round(max(scores), 4),
                "top10_mean": round(float(np.mean(sorted(scores)[-10:])), 4),
                "cpu_s": round(seconds, 1),
                "cpu_s_per_1000_calls": round(1000 * seconds / len(scores), 1),
                "pmo_reinvent": reference(name), "preset": PMO_RUN["preset"] or "flags",
                "max_steps": PMO_RUN["max_steps"], "config": config.model_dump(mode="json"),
                "prior": Path(PMO_RUN["prior"]).name,
                "commit": commit(), "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                              time.gmtime()),
            })  # fmt: skip
        for budget, auc in values.items():
            show(f"{name} AUC top-10 @ {budget} calls (mean of {len(auc)})", float(np.mean(auc)),
                 f"± {np.std(auc):.3f}", reference(name), True, "PMO REINVENT")  # fmt: skip
    print("   (REINVENT reference: PMO at 10,000 calls with a ZINC prior)")


def prior_screen(seed: int, count: int, batch: int = 500) -> tuple[list[str], float, int]:
    """The run prior's first ``count`` unique valid canonical SMILES, in sampling order.

    Returns:
        The SMILES, the sampling + canonicalisation CPU-s, and how many samples were drawn.
    """
    prior = run_prior()
    torch.manual_seed(seed)
    unique: dict[str, None] = {}
    drawn = 0
    start = time.process_time()
    while len(unique) < count:
        for text in prior.sample(batch, batch_size=batch).smiles:
            drawn += 1
            canonical = canonicalize(text)
            if canonical is not None:
                unique.setdefault(canonical)
            if len(unique) == count:
                break
    return list(unique), time.process_time() - start, drawn


def bench_screen(seeds: list[int], calls: int, names: list[str]) -> None:
    print(f"\n== screening baseline: first {calls} unique valid prior samples, seeds {seeds} ==")
    oracles = {name: build_oracle(name) for name in names}
    aucs: dict[str, list[float]] = {name: [] for name in names}
    scoring_seconds = dict.fromkeys(names, 0.0)
    for seed in seeds:
        smiles, seconds, drawn = prior_screen(seed, calls)
        print(f"   seed {seed}: {drawn} samples drawn for {len(smiles)} unique valid, "
              f"{seconds:.0f} CPU-s", flush=True)  # fmt: skip
        for name, oracle in oracles.items():
            cost, scores = cpu_seconds(lambda o=oracle, s=smiles: o(s))
            scoring_seconds[name] += cost
            aucs[name].append(auc_top_k(list(scores), calls))
            record_run({
                "section": "screen", "oracle": name, "seed": seed, "budget": calls,
                "calls": len(smiles), "samples": drawn,
                "auc_top10": {str(calls): round(aucs[name][-1], 4)},
                "top1": round(max(scores), 4), "scoring_cpu_s": round(cost, 1),
                "sampling_cpu_s": round(seconds, 1), "pmo_reinvent": reference(name),
                "prior": Path(PMO_RUN["prior"]).name, "commit": commit(),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            })  # fmt: skip
            print(f"      {name:<24} AUC top-10 {aucs[name][-1]:.3f}, top-1 {max(scores):.3f}, "
                  f"scoring {cost:.1f} CPU-s", flush=True)  # fmt: skip
    print(f"\n| oracle | {' | '.join(f'seed {s}' for s in seeds)} | mean | PMO REINVENT "
          "@10,000 | scoring CPU-s per 1,000 calls |")  # fmt: skip
    print(f"|---|{'---|' * len(seeds)}---|---|---|")
    for name in names:
        per_seed = " | ".join(f"{value:.3f}" for value in aucs[name])
        per_1000 = 1000 * scoring_seconds[name] / (calls * len(seeds))
        print(f"| {name} | {per_seed} | {np.mean(aucs[name]):.3f} | "
              f"{reference(name):.3f} | {per_1000:.2f} |")  # fmt: skip


def longest_runs(rows: list[dict[str, Any]], name: str, budget: int) -> list[dict[str, Any]]:
    """One PMO run per seed of ``name``: the one that reached the most calls.

    A run is deterministic per seed, so a capped run (``--max-steps``) is the start of the
    uncapped one and the longer run supersedes it.
    """
    best: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row.get("section", "pmo") != "pmo" or row["oracle"] != name:
            continue
        if row["budget"] == budget and row["calls"] >= best.get(row["seed"], row)["calls"]:
            best[row["seed"]] = row
    return [best[seed] for seed in sorted(best)]


def screening_mean(rows: list[dict[str, Any]], name: str, budget: int) -> float:
    """The screening baseline in the same file (the same prior), else the shipped prior's."""
    found = [
        r["auc_top10"][str(budget)]
        for r in rows
        if r.get("section") == "screen" and r["oracle"] == name and r["budget"] == budget
    ]
    return float(np.mean(found)) if found else SCREENING_10K[name]


def pmo_table(path: str, names: list[str], budget: int = 10_000) -> None:
    """Markdown table of the PMO runs recorded in ``path`` (``--jsonl``) at ``budget`` calls.

    Per seed the longest run counts (:func:`longest_runs`); a row marked ``capped`` has a
    run that stopped short of the budget at its step cap, so its AUC is a lower bound.
    Screening is the file's own screening records when it has them (:func:`screening_mean`).
    """
    import json

    rows = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    print("| oracle | seeds | AUC top-10 per seed | mean | PMO REINVENT | screening | "
          "calls reached | CPU-s per 1,000 calls |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    means: dict[str, float] = {}
    screens = {name: screening_mean(rows, name, budget) for name in names}
    for name in names:
        runs = longest_runs(rows, name, budget)
        if not runs:
            print(f"| {name} | – | not run | | {reference(name):.3f} | "
                  f"{screens[name]:.3f} | | |")  # fmt: skip
            continue
        aucs = [r["auc_top10"][str(budget)] for r in runs]
        means[name] = float(np.mean(aucs))
        capped = " (capped)" if any(r["calls"] < budget for r in runs) else ""
        print(f"| {name}{capped} | {','.join(str(r['seed']) for r in runs)} | "
              f"{' / '.join(f'{a:.3f}' for a in aucs)} | {means[name]:.3f} | "
              f"{reference(name):.3f} | {screens[name]:.3f} | "
              f"{' / '.join(str(r['calls']) for r in runs)} | "
              f"{np.mean([r['cpu_s_per_1000_calls'] for r in runs]):.0f} |")  # fmt: skip
    done = list(means)
    if done:
        above = sum(means[n] >= reference(n) for n in done)
        beat = sum(means[n] > screens[n] for n in done)
        print(f"\n{len(done)} oracles run: mean {np.mean(list(means.values())):.3f} (PMO REINVENT "
              f"{np.mean([reference(n) for n in done]):.3f}); ≥ REINVENT on {above}, above "
              f"screening on {beat}")  # fmt: skip


def configure_pmo_flags(args: argparse.Namespace) -> None:
    """The RL settings of PMO runs from the command-line flags (without ``--preset``)."""
    PMO_STRATEGY.update(
        sigma=args.sigma, rate=args.rate, likelihood_penalty=args.likelihood_penalty
    )
    print(f"   (DAP sigma {args.sigma}, Adam lr {args.rate}, "
          f"likelihood penalty {args.likelihood_penalty})")  # fmt: skip
    if args.no_diversity_filter:
        PMO_FILTER[0] = None
        print("   (no diversity filter)")
    if args.drop_duplicates:
        PMO_DUPLICATES[0] = "drop"
        print("   (in-batch duplicates left out of the loss)")
    if args.diversity_filter:
        PMO_FILTER[0] = DiversityFilterConfig(type=args.diversity_filter)
        print(f"   (diversity filter {args.diversity_filter})")
    if args.inception:
        PMO_INCEPTION[0] = InceptionConfig()
        print("   (inception replay: memory 50, 10 per step)")


def build_parser() -> argparse.ArgumentParser:
    """The command line of this benchmark."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sections", default="sampling,train,rl,tl,pmo")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--pmo-calls", type=int, default=5000)
    parser.add_argument(
        "--oracles",
        default="qed,celecoxib_rediscovery",
        help=f"comma-separated PMO oracles, or 'all': {', '.join(ORACLE_NAMES)}",
    )
    parser.add_argument("--sigma", type=float, default=128.0, help="DAP sigma for PMO runs")
    parser.add_argument("--rate", type=float, default=1e-4, help="Adam lr for PMO runs")
    parser.add_argument(
        "--no-diversity-filter",
        action="store_true",
        help="PMO runs without the scaffold filter (as mol_opt's REINVENT)",
    )
    parser.add_argument(
        "--inception", action="store_true", help="PMO runs with inception replay (50 / 10)"
    )
    parser.add_argument(
        "--likelihood-penalty",
        type=float,
        default=0.0,
        help="weight of the original REINVENT's 1/NLL regulariser (PMO's REINVENT: 5000)",
    )
    parser.add_argument(
        "--drop-duplicates",
        action="store_true",
        help="leave in-batch duplicates out of the loss (PMO's REINVENT) instead of scoring 0",
    )
    parser.add_argument(
        "--diversity-filter",
        default="",
        help="PMO runs with this REINVENT 4 filter type (e.g. PenalizeSameSmiles)",
    )
    parser.add_argument(
        "--preset",
        choices=["oracle"],
        default=None,
        help="PMO runs with a named recipe (oracle: recipes.oracle_reinforcement); "
        "the RL flags above are then ignored",
    )
    parser.add_argument(
        "--max-steps", type=int, default=10_000, help="step cap of a PMO run (CPU bound)"
    )
    parser.add_argument(
        "--jsonl", default="", help="append each finished PMO run (and screening result) here"
    )
    parser.add_argument(
        "--prior",
        type=Path,
        default=None,
        help="prior of the pmo and screen sections (default: the shipped prior of --preset's "
        "recipe, broad_lstm.prior for oracle; without --preset the MOSES prior)",
    )
    parser.add_argument("--small-steps", type=int, default=400)
    return parser


def default_prior(preset: str | None) -> Path:
    """The prior a run gets without ``--prior``: the preset recipe's shipped prior."""
    return recipe_prior(preset) if preset else DEFAULT_PRIOR_PATH


def main(argv: list[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.prior = args.prior or default_prior(args.preset)
    if not args.prior.is_file():
        parser.error(f"--prior: no file at {str(args.prior)!r}; give a .prior file")
    PMO_RUN.update(prior=args.prior, jsonl=args.jsonl)
    sections = set(args.sections.split(","))
    oracles = list(ORACLE_NAMES) if args.oracles == "all" else args.oracles.split(",")
    unknown = sorted(set(oracles) - set(ORACLE_NAMES))
    if unknown:
        parser.error(f"--oracles: unknown {unknown}; use 'all' or some of {list(ORACLE_NAMES)}")
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"prior {args.prior.name}")  # fmt: skip
    if "sampling" in sections:
        bench_sampling()
    if "train" in sections:
        bench_training()
    if sections & {"rl", "tl"}:
        with tempfile.TemporaryDirectory() as folder:
            small = small_prior(Path(folder), args.small_steps)
        if "rl" in sections:
            bench_rl(small)
        if "tl" in sections:
            bench_tl(small)
    if "table" in sections:
        pmo_table(args.jsonl, oracles, args.pmo_calls)
    if "screen" in sections:
        bench_screen(seeds, args.pmo_calls, oracles)
    if "pmo" in sections:
        PMO_RUN.update(preset=args.preset or "", max_steps=args.max_steps)
        if args.preset:
            print(f"   (preset {args.preset}: {pmo_config(args.pmo_calls, 0).model_dump()})")
        else:
            configure_pmo_flags(args)
        print(f"   (at most {args.max_steps} steps per run)")
        bench_pmo(seeds, args.pmo_calls, oracles)


if __name__ == "__main__":
    main()
