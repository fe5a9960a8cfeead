"""Reinforcement flow: REINVENT-style staged RL of an agent against a prior.

Each stage has its own objective (a ``crucible.chem.scoring.ScoringConfig``: QED, activity
models, similarity, alerts, ...; or a PMO oracle by name), step limits and a target mean
score. The DAP loss, the diversity filter and the inception memory follow REINVENT 4; their
settings come from a recipe of ``crucible.generator.recipes`` chosen by the objective
(``rl_recipe="auto"``): one objective per stage (a PMO oracle, one scoring component) →
``oracle`` (σ 60, Adam 5e-4, inception replay, no filter, the broad prior); several
components → ``design`` (σ 60, Adam 5e-4, scaffold filter, replay, the MOSES prior). What
``rl`` changes applies on top. Outputs in ``<artifacts_dir>/generator/reinforcement/<name>/``:
``summary_<stage>.csv`` (REINVENT's columns), ``stage_<n>.chkpt``, ``agent.prior``,
``scores.png`` and ``top_scored.csv``.

Run locally (QED from the oracle recipe's broad prior)::

    python -m flows.reinforcement_flow
"""

from pathlib import Path
from typing import Literal

from prefect import flow
from pydantic import BaseModel, Field

from blocks.environment import uses_environment_block
from crucible.chem.scoring import ComponentConfig, ScoringConfig
from crucible.generator.jobs import (
    ReinforcementSummary,
    ReinventReinforcement,
    StageSpec,
    use_reinvent,
)
from crucible.generator.recipes import (
    ReinforcementRecipe,
    recipe_for_objectives,
    recipe_prior,
    reinforcement_recipe,
)
from crucible.generator.reinforcement import ReinforcementConfig, StageConfig
from crucible.naming import InputPath, OutputPath, Slug, check_slug, inside
from crucible.presets import Presets, merge_into, overrides_of
from crucible.settings import get_settings
from crucible.validation import DeviceName, strict_config
from tasks.generator import reinforce, reinforce_reinvent


def _default_stages() -> list[StageSpec]:
    return [
        StageSpec(
            stage=StageConfig(max_steps=100, min_steps=25, max_score=0.9),
            scoring=ScoringConfig(components=[ComponentConfig(type="qed")]),
        )
    ]


class ReinforcementFlowConfig(BaseModel):
    """Parameters of the reinforcement flow.

    Attributes:
        name: Output folder name.
        prior_path: The prior; when empty, the recipe's shipped prior (``oracle``: the broad
            prior ``broad_lstm.prior``; ``design``/``reinvent4``: ``moses_lstm.prior``).
        agent_path: Starting agent (e.g. a transfer-learned model); the prior when empty.
        stages: Stages in order, each with its scoring configuration.
        rl: Batch size, DAP σ and learning rate, diversity filter, inception, oracle budget:
            the settings changed here (those differing from ``ReinforcementConfig()``) apply
            on top of the recipe.
        rl_recipe: The RL recipe: ``auto`` picks ``oracle`` when every stage has one
            objective and ``design`` otherwise; ``reinvent4`` is REINVENT 4's defaults.
        device: ``auto``, ``cpu`` or ``cuda``.
        output_dir: Root folder; ``<artifacts_dir>/generator/reinforcement`` when empty.
        track: Record the run in MLflow.
        engine: ``crucible`` (built-in), ``reinvent`` (external REINVENT 4 with a generated
            TOML) or ``auto`` (REINVENT when a ``reinvent`` executable is on the PATH).
    """

    model_config = strict_config()

    name: Slug = "qed"
    prior_path: InputPath = ""
    agent_path: InputPath = ""
    stages: list[StageSpec] = Field(default_factory=_default_stages, min_length=1)
    rl: ReinforcementConfig = Field(default_factory=ReinforcementConfig)
    rl_recipe: Literal["auto", "oracle", "design", "reinvent4"] = "auto"
    device: DeviceName = "auto"
    output_dir: OutputPath = ""
    track: bool = True
    engine: Literal["crucible", "reinvent", "auto"] = "crucible"

    def folder(self) -> Path:
        """Where this run's files go."""
        default = get_settings().artifact_folder("generator")
        root = Path(self.output_dir) if self.output_dir else default
        return inside(root, "reinforcement", check_slug(self.name, "name"), field="name")

    def recipe(self) -> ReinforcementRecipe:
        """The RL recipe: ``rl_recipe``, or the one the stages' objectives call for."""
        if self.rl_recipe != "auto":
            return self.rl_recipe
        return recipe_for_objectives([spec.objective_count for spec in self.stages])

    def prior_file(self) -> str:
        """The prior: ``prior_path``, or the shipped prior of the recipe."""
        return self.prior_path or str(recipe_prior(self.recipe()))

    def rl_settings(self) -> ReinforcementConfig:
        """The recipe's RL settings with the changes made in ``rl`` applied on top."""
        changes = overrides_of(self.rl, ReinforcementConfig())
        base = reinforcement_recipe(self.recipe()).model_dump()
        return ReinforcementConfig.model_validate(merge_into(ReinforcementConfig, base, changes))


ReinforcementPreset = Literal["default", "cpu"]


def cpu_config() -> ReinforcementFlowConfig:
    """The CPU pool's preset: the default stages on the CPU."""
    return ReinforcementFlowConfig(device="cpu")


#: Named presets of ``config`` (``crucible run reinforcement --preset NAME``).
PRESETS = Presets(ReinforcementFlowConfig, {"default": ReinforcementFlowConfig, "cpu": cpu_config})


@flow(name="reinforcement", log_prints=True)
@uses_environment_block
def reinforcement(
    config: ReinforcementFlowConfig = ReinforcementFlowConfig(),  # noqa: B008
    preset: ReinforcementPreset = "default",
) -> ReinforcementSummary | ReinventReinforcement:
    """Run staged RL and return the agent file, CSVs, plot and per-step history.

    Args:
        config: Settings to change; every setting left out keeps the preset's value.
        preset: Named starting point (``default``, ``cpu``).
    """
    config = PRESETS.resolve(preset, config)
    prior, agent = config.prior_file(), config.agent_path or None
    out = str(config.folder())
    rl = config.rl_settings()
    print(f"RL recipe {config.recipe()}: {rl.model_dump(exclude={'summary_csv_prefix'})}")
    print(f"RL prior: {prior}")
    if use_reinvent(config.engine):
        external = reinforce_reinvent(prior, agent, config.stages, rl, out, config.device)
        print(f"RL by external REINVENT 4: agent {external.agent_path}")
        return external
    result = reinforce(prior, agent, config.stages, rl, out, config.device, config.track)
    print(
        f"RL: {result.steps} steps, {result.oracle_calls} molecules scored, final mean "
        f"score {result.final_mean_score:.3f}, top-10 {result.top10_mean_score:.3f}"
    )
    return result


if __name__ == "__main__":
    import sys

    from crucible.cli import main

    raise SystemExit(main(["run", "reinforcement", *sys.argv[1:]]))
