"""Molecular-design flow: the REINVENT workflow end to end, Crucible's main job.

Stages (each a Prefect task or subflow, every file under
``<artifacts_dir>/molecular-design/<name>/``):

1. ligand data: bundled ChEMBL 27 EGFR set, a ChEMBL target or a file → standardise → split
   (subflow ``ligand-data``: data card artifacts);
2. activity model: random forest (or Chemprop) of pChEMBL on the training split;
3. transfer learning of the SMILES prior on the training split (validation NLL on the test
   split each epoch, best epoch kept);
4. reinforcement learning of the fine-tuned agent against QED × predicted activity (DAP loss,
   diversity filter);
5. sampling from the final agent, scoring, filtering (validity, novelty, Lipinski/Veber,
   PAINS/Brenk, QED and activity thresholds);
6. a chemical-space map (training set, generated, filtered) and a top-molecule grid.

Run locally (offline; a few minutes on a CPU)::

    python -m flows.molecular_design_flow
"""

from pathlib import Path
from typing import Any, Literal

from prefect import flow
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from blocks.environment import uses_environment_block
from crucible.chem.activity import get_activity_model
from crucible.chem.filters import FilterConfig
from crucible.chem.scoring import ComponentConfig, ScoringConfig
from crucible.generator import DEFAULT_PRIOR_PATH
from crucible.generator.jobs import StageSpec
from crucible.generator.reinforcement import ReinforcementConfig, StageConfig
from crucible.generator.transfer_learning import TransferLearningConfig
from crucible.naming import InputPath, Slug
from crucible.settings import get_settings
from crucible.validation import MAX_SAMPLES, DeviceName, strict_config
from flows.ligand_data_flow import LigandDataConfig, SplitConfig, ligand_data
from tasks._artifacts import publish_markdown
from tasks.activity_model import train_activity_model
from tasks.chemical_space import embed_and_plot, top_molecules_grid
from tasks.filtering import filter_smiles
from tasks.generator import reinforce, sample, transfer_learn
from tasks.scoring import score_molecules


class DesignScoring(BaseModel):
    """How generated molecules are scored during RL and afterwards.

    Attributes:
        qed_weight: Weight of drug-likeness (QED).
        activity_weight: Weight of the predicted activity (sigmoid over pChEMBL 5 → 8).
        aggregation: ``geometric`` (every term must be good) or ``arithmetic``.
    """

    model_config = strict_config()

    qed_weight: float = Field(1.0, ge=0)
    activity_weight: float = Field(1.0, ge=0)
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
            ],
        )


class MolecularDesignConfig(BaseModel):
    """Parameters of the molecular-design flow (a form in the Prefect UI).

    Attributes:
        name: Output folder name.
        data: Ligand source, standardisation and split.
        activity_model: QSAR model kind scored during RL and filtering.
        activity_params: Its parameters (e.g. ``{"n_estimators": 200}``).
        prior_path: SMILES prior to fine-tune; the shipped MOSES prior when empty.
        tl: Transfer-learning recipe.
        rl_steps: Maximum RL steps; ``rl_target`` ends RL earlier once reached.
        rl_target: Mean batch score that ends RL (after a quarter of the steps).
        rl: RL settings (batch size, σ, learning rate, diversity filter).
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
    tl: TransferLearningConfig = Field(
        default_factory=lambda: TransferLearningConfig(
            epochs=2, batch_size=128, learning_rate=1e-4, sample_size=100
        )
    )
    rl_steps: int = Field(25, ge=1)
    rl_target: float = Field(0.8, gt=0, le=1)
    rl: ReinforcementConfig = Field(default_factory=ReinforcementConfig)
    scoring: DesignScoring = Field(default_factory=DesignScoring)
    samples: int = Field(1000, ge=10, le=MAX_SAMPLES)
    filters: FilterConfig = Field(default_factory=lambda: FilterConfig(qed_min=0.4))
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
        split_dir: The ligand split.
        activity_model: The activity-model folder.
        tl_model: The fine-tuned prior.
        agent: The RL agent.
        scored: Scored samples (CSV).
        filtered: Molecules that passed the filters (CSV).
        map: Chemical-space map (PNG).
        map_html: Interactive map.
        grid: Top-molecule grid (PNG).
    """

    summary: DesignSummary
    split_dir: str
    activity_model: str
    tl_model: str
    agent: str
    scored: str
    filtered: str
    map: str
    map_html: str
    grid: str


@flow(name="molecular-design", log_prints=True)
@uses_environment_block
def molecular_design(
    config: MolecularDesignConfig = MolecularDesignConfig(),  # noqa: B008
) -> MolecularDesignResult:
    """Ligands → activity model → transfer learning → RL → filters → chemical-space map."""
    out = config.folder()
    split = Path(ligand_data(config.data).split_dir)
    model = train_activity_model(
        str(split),
        str(out / "activity-model"),
        kind=config.activity_model,
        params=config.activity_params,
        track=config.track,
    )
    tl = transfer_learn(
        config.prior_path or str(DEFAULT_PRIOR_PATH),
        str(split / "train.csv"),
        str(split / "test.csv"),
        config.tl.model_copy(update={"device": config.device}),
        str(out / "transfer-learning"),
        config.track,
    )
    scoring = config.scoring.config(model.model_dir)
    stage = StageConfig(
        max_steps=config.rl_steps, min_steps=config.rl_steps // 4, max_score=config.rl_target
    )
    rl = reinforce(
        tl.model_path,
        tl.model_path,
        [StageSpec(stage=stage, scoring=scoring)],
        config.rl,
        str(out / "reinforcement"),
        config.device,
        config.track,
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
    publish_markdown(_report(config.name, summary, space.png, grid), "molecular-design-report")
    print(f"molecular design '{config.name}': {summary}")
    return MolecularDesignResult(
        summary=summary,
        split_dir=str(split),
        activity_model=model.model_dir,
        tl_model=tl.model_path,
        agent=rl.agent_path,
        scored=scored.path,
        filtered=kept.kept,
        map=space.png,
        map_html=space.html,
        grid=grid,
    )


def _report(name: str, summary: DesignSummary, map_png: str, grid_png: str) -> str:
    rows = "\n".join(f"| {key} | {value} |" for key, value in summary.model_dump().items())
    return (
        f"# Molecular design: {name}\n\n| figure | value |\n|---|---|\n{rows}\n\n"
        f"Chemical-space map: `{map_png}`\n\nTop molecules: `{grid_png}`\n"
    )


def demo_config() -> MolecularDesignConfig:
    """The ``make demo`` run: the whole workflow on 1,500 EGFR ligands in minutes on a CPU.

    A seeded sample of the bundled ChEMBL 27 EGFR set keeps transfer learning of the shipped
    3×512 LSTM prior to one short epoch on a CPU; on a GPU pool use the flow's defaults.
    """
    return MolecularDesignConfig(
        name="egfr-demo",
        data=LigandDataConfig(name="egfr-demo", limit=1500, split=SplitConfig(method="random")),
        tl=TransferLearningConfig(epochs=1, batch_size=128, sample_size=50),
        rl_steps=12,
        samples=500,
    )


if __name__ == "__main__":
    import sys

    print(molecular_design(demo_config() if "--demo" in sys.argv else MolecularDesignConfig()))
