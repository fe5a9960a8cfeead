"""Molecular-design flow: the REINVENT workflow end to end, Crucible's main job.

Stages (each a Prefect task or subflow, every file under
``<artifacts_dir>/molecular-design/<name>/``):

1. ligand data: bundled ChEMBL 27 EGFR set, a ChEMBL target or a file → standardise → split
   (subflow ``ligand-data``: data card artifacts);
2. activity model: random forest (or Chemprop) of pChEMBL on the training split;
3. transfer learning of the SMILES prior on the training split's actives (pChEMBL >=
   ``tl_active_min``; validation NLL on the validation split's actives and sample validity
   each epoch; the best epoch among those valid enough is kept);
4. reinforcement learning of the fine-tuned agent against predicted activity, QED and SA
   (structural alerts as a penalty; DAP loss, scaffold diversity filter, a replay memory
   seeded with the training actives, invalid SMILES penalised in the loss);
5. sampling from the final agent, scoring, filtering (validity, novelty, Lipinski/Veber,
   PAINS/Brenk, QED and activity thresholds);
6. a chemical-space map (training set, generated, filtered) and a top-molecule grid;
7. the measured figures (``summary.json`` in the design folder, see
   :mod:`crucible.generator.design_metrics`): 500 fresh samples of the final agent judged on
   validity, predicted activity (the RL model and an independent descriptor forest),
   similarity to the training actives, scaffold diversity and the score gain over the TL
   model.

Run locally (offline; a few minutes on a CPU)::

    python -m flows.molecular_design_flow
"""

import math
from pathlib import Path
from typing import Any, Literal

from prefect import flow
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from blocks.environment import uses_environment_block
from crucible.chem.activity import get_activity_model
from crucible.chem.alerts import CatalogName
from crucible.chem.filters import FilterConfig
from crucible.chem.scoring import ComponentConfig, ScoringConfig
from crucible.generator import DEFAULT_PRIOR_PATH
from crucible.generator.design_metrics import (
    INDEPENDENT_CSV,
    TARGETS,
    DesignMetrics,
    cpu_seconds,
    missed_targets,
)
from crucible.generator.design_report import closing_text
from crucible.generator.jobs import StageSpec
from crucible.generator.recipes import (
    design_reinforcement,
    focused_transfer_learning,
    with_replayed_actives,
)
from crucible.generator.reinforcement import ReinforcementConfig, StageConfig
from crucible.generator.transfer_learning import TransferLearningConfig
from crucible.naming import InputPath, Slug
from crucible.presets import Presets
from crucible.settings import get_settings
from crucible.validation import MAX_SAMPLES, DeviceName, PChembl, strict_config
from flows.ligand_data_flow import LigandDataConfig, SplitConfig, ligand_data
from tasks.activity_model import train_activity_model
from tasks.chemical_space import embed_and_plot, top_molecules_grid
from tasks.design import ActiveSets, design_metrics, write_actives
from tasks.filtering import filter_smiles
from tasks.generator import reinforce, sample, transfer_learn
from tasks.report import (
    close_failed_design_run,
    design_parent_run,
    design_report,
    report_config,
)
from tasks.scoring import score_molecules


class DesignScoring(BaseModel):
    """How generated molecules are scored during RL and afterwards.

    Attributes:
        qed_weight: Weight of drug-likeness (QED).
        activity_weight: Weight of the predicted activity (sigmoid over pChEMBL 5 → 8); 3
            against QED 1 and SA 1 keeps RL on the target's chemotypes (see
            :mod:`crucible.generator.recipes`).
        sa_weight: Weight of synthetic accessibility (reverse sigmoid over SA 2 → 6; 0 = off).
        alerts: RDKit alert catalogs applied as a penalty (empty = none).
        alert_penalty: Factor on the total per matched alert (0.5: one alert halves it).
        aggregation: ``geometric`` (every term must be good) or ``arithmetic``.
    """

    model_config = strict_config()

    qed_weight: float = Field(1.0, ge=0)
    activity_weight: float = Field(3.0, ge=0)
    sa_weight: float = Field(1.0, ge=0)
    alerts: list[CatalogName] = Field(default_factory=lambda: ["PAINS"])
    alert_penalty: float = Field(0.5, gt=0, lt=1)
    aggregation: Literal["arithmetic", "geometric"] = "geometric"

    def config(self, activity_model_dir: str) -> ScoringConfig:
        """The scoring function, using the trained activity model."""
        return ScoringConfig(
            aggregation=self.aggregation,
            components=[
                ComponentConfig(type="qed", weight=self.qed_weight),
                ComponentConfig(
                    type="activity_model",
                    name="activity",
                    weight=self.activity_weight,
                    params={"model_path": activity_model_dir},
                ),
                *self._extra_terms(),
            ],
        )

    def _extra_terms(self) -> list[ComponentConfig]:
        terms = []
        if self.sa_weight:
            terms.append(ComponentConfig(type="sa_score", weight=self.sa_weight))
        if self.alerts:
            terms.append(
                ComponentConfig(
                    type="custom_alerts",
                    name="alerts",
                    role="penalty",
                    params={"catalogs": self.alerts},
                    transform={"type": "exponential_decay", "k": -math.log(self.alert_penalty)},
                )
            )
        return terms


class MolecularDesignConfig(BaseModel):
    """Parameters of the molecular-design flow (a form in the Prefect UI).

    Attributes:
        name: Output folder name.
        data: Ligand source, standardisation and split.
        activity_model: QSAR model kind scored during RL and filtering.
        activity_params: Its parameters (e.g. ``{"n_estimators": 200}``).
        prior_path: SMILES prior to fine-tune; the shipped MOSES prior when empty.
        tl_active_min: Fine-tune on the training ligands with pChEMBL at least this (the
            target's actives) and validate on the validation split's; None = all ligands.
        tl: Transfer-learning recipe.
        rl_steps: Maximum RL steps; ``rl_target`` ends RL earlier once reached.
        rl_target: Mean batch score that ends RL (after a quarter of the steps).
        rl: RL settings (batch size, σ, learning rate, diversity filter, replay memory).
        rl_replay_actives: Seed RL's replay memory (``rl.inception``) with the TL training
            actives (REINVENT 4's inception ``smiles_file``); no effect without a memory.
        scoring: RL and post-hoc scoring.
        samples: SMILES sampled from the final agent for filtering and the map.
        filters: Filter chain (``activity_min`` in pChEMBL units).
        map_method: ``pca`` (seconds), ``tsne`` or ``umap`` (about a minute each).
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda``.
        track: Record models and runs in MLflow.
    """

    model_config = strict_config()

    name: Slug = "egfr"
    data: LigandDataConfig = Field(
        default_factory=lambda: LigandDataConfig(split=SplitConfig(method="random"))
    )
    activity_model: Literal["random_forest", "chemprop"] = "random_forest"
    activity_params: dict[str, Any] = Field(default_factory=lambda: {"n_estimators": 200})
    prior_path: InputPath = ""
    tl_active_min: PChembl | None = 7.0
    tl: TransferLearningConfig = Field(
        default_factory=lambda: focused_transfer_learning(epochs=8, sample_size=200)
    )
    rl_steps: int = Field(100, ge=1)
    rl_target: float = Field(0.8, gt=0, le=1)
    rl: ReinforcementConfig = Field(default_factory=design_reinforcement)
    rl_replay_actives: bool = True
    scoring: DesignScoring = Field(default_factory=DesignScoring)
    samples: int = Field(1000, ge=10, le=MAX_SAMPLES)
    filters: FilterConfig = Field(
        default_factory=lambda: FilterConfig(qed_min=0.4, sa_max=6.0, activity_min=7.0)
    )
    map_method: Literal["pca", "tsne", "umap"] = "pca"
    device: DeviceName = "auto"
    track: bool = True

    @field_validator("activity_params")
    @classmethod
    def _params_fit_model(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        get_activity_model(info.data.get("activity_model", "random_forest"), value)
        return value

    def folder(self) -> Path:
        """Where this run's files go."""
        return get_settings().artifact_folder("molecular-design", self.name)


class DesignSummary(BaseModel):
    """The headline figures of a molecular-design run."""

    activity_test_r2: float
    tl_best_epoch: int
    tl_best_valid_nll: float
    rl_steps: int
    rl_final_mean_score: float
    sampled_validity: float
    generated_unique: int
    generated_mean_score: float
    filtered_kept: int


class MolecularDesignResult(BaseModel):
    """Every stage's main output of a molecular-design run.

    Attributes:
        summary: The headline figures.
        figures: The measured figures (also in ``summary.json``).
        summary_json: Where they were written.
        split_dir: The ligand split.
        activity_model: The activity-model folder.
        tl_model: The fine-tuned prior.
        agent: The RL agent.
        scored: Scored samples (CSV).
        filtered: Molecules that passed the filters (CSV).
        map: Chemical-space map (PNG).
        map_html: Interactive map.
        grid: Top-molecule grid (PNG).
        report: ``report.html`` (self-contained: summary, data card, every figure).
        results: ``results.csv`` (one row per kept molecule with every score, ranked).
    """

    summary: DesignSummary
    figures: DesignMetrics
    summary_json: str
    split_dir: str
    activity_model: str
    tl_model: str
    agent: str
    scored: str
    filtered: str
    map: str
    map_html: str
    grid: str
    report: str = ""
    results: str = ""


MolecularDesignPreset = Literal["default", "cpu", "demo"]


def cpu_config() -> MolecularDesignConfig:
    """The CPU pool's preset: the focused-TL recipe for 4 epochs (50 samples each) on the CPU."""
    return MolecularDesignConfig(
        name="egfr-cpu",
        tl=focused_transfer_learning(epochs=4, sample_size=50),
        rl_steps=25,
        device="cpu",
    )


@flow(
    name="molecular-design",
    log_prints=True,
    on_failure=[close_failed_design_run],
    on_crashed=[close_failed_design_run],
)
@uses_environment_block
def molecular_design(
    config: MolecularDesignConfig = MolecularDesignConfig(),  # noqa: B008
    preset: MolecularDesignPreset = "default",
) -> MolecularDesignResult:
    """Ligands → activity model → transfer learning → RL → filters → chemical-space map.

    Args:
        config: Settings to change; every setting left out keeps the preset's value.
        preset: Named starting point (``default``, ``cpu``, ``demo``).
    """
    cpu_started = cpu_seconds()
    config = PRESETS.resolve(preset, config)
    out = config.folder()
    parent = design_parent_run(config.name, config.track)
    data = ligand_data(config.data)
    split = Path(data.split_dir)
    model = train_activity_model(
        str(split),
        str(out / "activity-model"),
        kind=config.activity_model,
        params=config.activity_params,
        track=config.track,
        parent_run_id=parent,
    )
    tl_data = (
        write_actives(str(split), str(out / "tl-actives"), config.tl_active_min)
        if config.tl_active_min is not None
        else ActiveSets(train=str(split / "train.csv"), valid=str(split / "valid.csv"))
    )
    tl = transfer_learn(
        config.prior_path or str(DEFAULT_PRIOR_PATH),
        tl_data.train,
        tl_data.valid,
        config.tl.model_copy(update={"device": config.device}),
        str(out / "transfer-learning"),
        config.track,
        parent_run_id=parent,
    )
    scoring = config.scoring.config(model.model_dir)
    stage = StageConfig(
        max_steps=config.rl_steps, min_steps=config.rl_steps // 4, max_score=config.rl_target
    )
    rl_config = (
        with_replayed_actives(config.rl, tl_data.train) if config.rl_replay_actives else config.rl
    )
    rl = reinforce(
        tl.model_path,
        tl.model_path,
        [StageSpec(stage=stage, scoring=scoring)],
        rl_config,
        str(out / "reinforcement"),
        config.device,
        config.track,
        parent_run_id=parent,
    )
    sampled = sample(
        rl.agent_path,
        config.samples,
        str(out / "generated" / "sampled.csv"),
        unique=True,
        device=config.device,
    )
    scored = score_molecules(
        sampled.csv, scoring, str(out / "generated" / "scored.csv"), smiles_column="SMILES"
    )
    kept = filter_smiles(
        scored.path,
        str(out / "filtered"),
        config.filters,
        reference_csv=str(split / "train.csv"),
        activity_model_dir=model.model_dir,
    )
    space = embed_and_plot(
        {
            "training set": str(split / "train.csv"),
            "generated": scored.path,
            "filtered": kept.kept,
        },
        str(out / "chemical-space"),
        method=config.map_method,
        title=f"{config.name}: chemical space",
        mlflow_run_id=rl.mlflow_run_id,
    )
    grid = top_molecules_grid(scored.path, str(out / "top_molecules.png"))
    figures = design_metrics(
        rl.agent_path, tl.model_path, scoring, model.model_dir, str(split),
        str(out / "summary.json"), threshold=config.filters.activity_min or 7.0,
        cpu_started=cpu_started, kept_csv=kept.kept,
    )  # fmt: skip
    print(_figures_table(figures, out / "summary.json"))
    summary = DesignSummary(
        activity_test_r2=model.metrics["test"]["r2"],
        tl_best_epoch=tl.best_epoch,
        tl_best_valid_nll=tl.best.valid_nll,
        rl_steps=rl.steps,
        rl_final_mean_score=rl.final_mean_score,
        sampled_validity=sampled.validity,
        generated_unique=scored.n,
        generated_mean_score=scored.mean_total,
        filtered_kept=kept.n_kept,
    )
    report = design_report(
        report_config(config.name, str(out), str(split), data.card, model, tl, rl, scored.path,
                      kept, space, str(out / "summary.json"),
                      threshold=config.filters.activity_min or 7.0, parent_run_id=parent,
                      independent_csv=str(out / INDEPENDENT_CSV)),
        config.track,
    )  # fmt: skip
    print(closing_text(report, summary.model_dump(), f"molecular design {config.name!r}"))
    return MolecularDesignResult(
        summary=summary,
        figures=figures,
        summary_json=str(out / "summary.json"),
        split_dir=str(split),
        activity_model=model.model_dir,
        tl_model=tl.model_path,
        agent=rl.agent_path,
        scored=scored.path,
        filtered=kept.kept,
        map=space.png,
        map_html=space.html,
        grid=grid,
        report=report.html,
        results=report.results_csv,
    )


def _figures_table(figures: DesignMetrics, path: Path) -> str:
    """The measured figures against their targets, as printed at the end of a run."""
    values = figures.as_dict(digits=3)
    missed = missed_targets(values)
    lines = [f"{'figure':34} {'value':>8}  target"]
    for key, (comparison, goal) in TARGETS.items():
        mark = "MISSED" if key in missed else "ok"
        lines.append(f"{key:34} {values[key]!s:>8}  {comparison} {goal} {mark}")
    lines.append(f"{'flow_cpu_s':34} {values['flow_cpu_s']!s:>8}")
    return "\n".join([*lines, f"written to {path}"])


def demo_config() -> MolecularDesignConfig:
    """The ``make demo`` run: the whole workflow on 1,500 EGFR ligands in minutes on a CPU.

    A seeded sample of the bundled ChEMBL 27 EGFR set (about 500 training actives): 8 TL
    epochs on the actives (:func:`~crucible.generator.recipes.focused_transfer_learning`),
    70 RL steps (:func:`~crucible.generator.recipes.design_reinforcement`: replay of the
    training actives, invalid SMILES at -0.5 in the loss), 500 samples.
    ``benchmarks/design.py`` measures its figures for three seeds (all six targets met on
    seeds 0, 1 and 2; table in ``docs/generator.md``).
    """
    return MolecularDesignConfig(
        name="egfr-demo",
        data=LigandDataConfig(name="egfr-demo", limit=1500, split=SplitConfig(method="random")),
        tl=focused_transfer_learning(epochs=8, sample_size=100),
        rl_steps=70,
        samples=500,
    )


#: Named presets of ``config`` (``crucible run molecular-design --preset NAME``).
PRESETS = Presets(
    MolecularDesignConfig,
    {"default": MolecularDesignConfig, "cpu": cpu_config, "demo": demo_config},
)


if __name__ == "__main__":
    import sys

    from crucible.cli import main

    # ``--demo`` is the old spelling of ``--preset demo`` (make demo used it).
    demo = ["--preset", "demo"]
    argv = [part for arg in sys.argv[1:] for part in (demo if arg == "--demo" else [arg])]
    raise SystemExit(main(["run", "molecular-design", *argv]))
