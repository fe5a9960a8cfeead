"""Optional external REINVENT 4: TOML configs from Crucible's pydantic configs, and a runner.

When a ``reinvent`` executable is on the PATH, the TL and RL jobs can hand the work to it.
The TOML is generated from the same :class:`TransferLearningConfig`,
:class:`ReinforcementConfig`/:class:`StageConfig` and ``crucible.chem.scoring`` configs the
built-in engine uses (the keys of REINVENT 4.8's ``configs/`` examples; mapping in
``docs/generator.md``, "External REINVENT 4").
Components without a REINVENT counterpart raise :class:`ConfigurationError`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from crucible.exceptions import ConfigurationError
from crucible.generator.reinforcement import ReinforcementConfig, StageConfig
from crucible.generator.transfer_learning import TransferLearningConfig

#: Crucible scoring component → REINVENT 4 component name.
COMPONENT_NAMES = {
    "qed": "QED", "molecular_weight": "MolecularWeight", "slogp": "SlogP", "tpsa": "TPSA",
    "hbd": "HBondDonors", "hba": "HBondAcceptors", "rotatable_bonds": "NumRotBond",
    "num_heavy_atoms": "NumHeavyAtoms", "num_rings": "NumRings",
    "num_aromatic_rings": "NumAromaticRings", "fraction_csp3": "Csp3", "sa_score": "SAScore",
    "tanimoto_similarity": "TanimotoSimilarity", "substructure_match": "MatchingSubstructure",
    "custom_alerts": "CustomAlerts", "activity_model": "ChemProp2",
}  # fmt: skip
_AGGREGATION = {"arithmetic": "arithmetic_mean", "geometric": "geometric_mean"}


# ---------------------------------------------------------------------------- TOML writer
def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Sequence):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    raise ConfigurationError(f"cannot write {type(value).__name__} {value!r} to TOML")


def _key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def to_toml(data: Mapping[str, Any]) -> str:
    """Serialise nested dicts (tables) and lists of dicts (arrays of tables) as TOML."""
    lines: list[str] = []
    _emit(data, [], lines)
    return "\n".join(lines).strip() + "\n"


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _emit(table: Mapping[str, Any], path: list[str], lines: list[str]) -> None:
    for name, value in table.items():
        if value is None or isinstance(value, Mapping) or _is_table_array(value):
            continue
        lines.append(f"{_key(name)} = {_scalar(value)}")
    for name, value in table.items():
        if isinstance(value, Mapping):
            lines.extend(["", "[" + ".".join(map(_key, [*path, name])) + "]"])
            _emit(value, [*path, name], lines)
        elif _is_table_array(value):
            for item in value:
                lines.extend(["", "[[" + ".".join(map(_key, [*path, name])) + "]]"])
                _emit(item, [*path, name], lines)


# ------------------------------------------------------------------------- config mapping
#: TransferLearningConfig options REINVENT 4's TL run mode lacks.
_CRUCIBLE_ONLY_TL = (
    "freeze_embedding",
    "frozen_rnn_layers",
    "prior_anchor",
    "warmup_steps",
    "prior_sample_fraction",
)


def transfer_learning_config(
    config: TransferLearningConfig,
    input_model_file: str,
    smiles_file: str,
    output_model_file: str,
    validation_smiles_file: str | None = None,
    tb_logdir: str = "tb_tl",
) -> dict[str, Any]:
    """REINVENT 4 ``run_type = "transfer_learning"`` config as a dict.

    Raises:
        ConfigurationError: For a Crucible-only option REINVENT 4's TL lacks (frozen
            layers, prior anchor, warm-up, prior samples).
    """
    defaults = TransferLearningConfig()
    for name in _CRUCIBLE_ONLY_TL:
        if getattr(config, name) != getattr(defaults, name):
            raise ConfigurationError(
                f"{name}: REINVENT 4's transfer learning has no such option; set it to "
                f"{getattr(defaults, name)!r} to run REINVENT, or run Crucible's own engine"
            )
    parameters: dict[str, Any] = {
        "input_model_file": input_model_file,
        "smiles_file": smiles_file,
        "output_model_file": output_model_file,
        "num_epochs": config.epochs,
        "batch_size": config.batch_size,
        "save_every_n_epochs": config.save_every_n_epochs,
        "sample_batch_size": max(config.sample_size, 100),
        "randomize_smiles": config.randomize_smiles,
        "isomeric_smiles": config.isomeric_smiles,
        "clip_gradient_norm": config.clip_gradient_norm,
    }
    if validation_smiles_file:
        parameters["validation_smiles_file"] = validation_smiles_file
    return {
        "run_type": "transfer_learning",
        "device": _device(config.device),
        "tb_logdir": tb_logdir,
        "parameters": parameters,
        "scheduler": {
            "lr": config.learning_rate,
            "min": config.min_learning_rate,
            "gamma": config.lr_gamma,
            "step": config.lr_step,
        },
    }


def _device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda:0" if torch.cuda.is_available() else "cpu"
    return "cuda:0" if device == "cuda" else device


def _transform(transform: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not transform or transform.get("type") in (None, "none"):
        return None
    kind = transform["type"]
    if kind == "step":
        low, high = transform.get("low"), transform.get("high")
        if low is None:
            return {"type": "left_step", "high": high}
        if high is None:
            return {"type": "right_step", "low": low}
        return {"type": "step", "low": low, "high": high}
    if kind == "value_mapping":
        mapping = {str(k): v for k, v in dict(transform["mapping"]).items()}
        return {"type": "value_mapping", "mapping": mapping}
    return {k: v for k, v in transform.items() if v is not None}


def _component_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    if kind == "tanimoto_similarity":
        return {"smiles": list(params["smiles"]), "radius": params.get("radius", 2),
                "use_counts": False, "use_features": False}  # fmt: skip
    if kind in ("substructure_match", "custom_alerts"):
        if params.get("catalogs"):
            raise ConfigurationError(
                "custom_alerts catalogs have no REINVENT equivalent; list SMARTS instead"
            )
        return {"smarts": list(params["smarts"])}
    if kind == "activity_model":
        if not params.get("model_path"):
            raise ConfigurationError("activity_model needs model_path for REINVENT's ChemProp2")
        return {"model_path": params["model_path"], "featurizers": [], "featurizers_options": []}
    return {}


def scoring_config(scoring: Mapping[str, Any]) -> dict[str, Any]:
    """REINVENT ``[stage.scoring]`` from a ``crucible.chem.scoring.ScoringConfig`` dict."""
    from crucible.chem.scoring import ScoringConfig

    config = ScoringConfig.model_validate(dict(scoring))
    components: list[dict[str, Any]] = []
    for component in config.components:
        kind = component.type.lower().replace("-", "_")
        if kind not in COMPONENT_NAMES:
            raise ConfigurationError(
                f"scoring component {component.type!r} has no REINVENT 4 counterpart; run "
                "with engine='crucible' or use one of " + ", ".join(sorted(COMPONENT_NAMES))
            )
        endpoint: dict[str, Any] = {"name": component.label, "weight": component.weight}
        params = _component_params(kind, component.params)
        if params:
            endpoint["params"] = params
        transform = _transform(
            component.transform.model_dump() if component.transform is not None else None
        )
        if transform:
            endpoint["transform"] = transform
        components.append({COMPONENT_NAMES[kind]: {"endpoint": [endpoint]}})
    return {"type": _AGGREGATION[config.aggregation], "component": components}


def _learning_strategy(config: ReinforcementConfig) -> dict[str, Any]:
    if config.in_batch_duplicates != "score_zero":
        raise ConfigurationError(
            "in_batch_duplicates: REINVENT 4 always scores in-batch duplicates 0; set "
            "'score_zero' to run REINVENT, or run Crucible's own engine"
        )
    strategy = config.learning_strategy.model_dump()
    if strategy.pop("likelihood_penalty"):
        raise ConfigurationError(
            "learning_strategy.likelihood_penalty: REINVENT 4 has no likelihood regulariser; "
            "set it to 0 to run REINVENT, or run Crucible's own engine"
        )
    if strategy.pop("invalid_score"):
        raise ConfigurationError(
            "learning_strategy.invalid_score: REINVENT 4 scores invalid SMILES 0 in the loss; "
            "set it to 0 (in the reinforcement flow: rl_recipe 'reinvent4') to run REINVENT, "
            "or run Crucible's own engine"
        )
    return strategy


def staged_learning_config(
    config: ReinforcementConfig,
    stages: Sequence[tuple[StageConfig, Mapping[str, Any]]],
    prior_file: str,
    agent_file: str,
    device: str = "auto",
) -> dict[str, Any]:
    """REINVENT 4 ``run_type = "staged_learning"`` config as a dict.

    Args:
        config: Run-wide RL settings.
        stages: ``(stage, scoring)`` pairs; scoring as a ``ScoringConfig`` dict.
        prior_file: The prior model file.
        agent_file: The starting agent file.
        device: ``auto``, ``cpu`` or ``cuda``.
    """
    out: dict[str, Any] = {
        "run_type": "staged_learning",
        "device": _device(device),
        "parameters": {
            "prior_file": prior_file,
            "agent_file": agent_file,
            "summary_csv_prefix": config.summary_csv_prefix,
            "batch_size": config.batch_size,
            "temperature": config.temperature,
            "randomize_smiles": False,
            "use_checkpoint": False,
        },
        "learning_strategy": _learning_strategy(config),
    }
    if config.diversity_filter is not None:
        out["diversity_filter"] = config.diversity_filter.model_dump()
    if config.inception is not None:
        inception = config.inception.model_dump()
        if inception.pop("smiles"):
            raise ConfigurationError("inception seed SMILES need a smiles_file for REINVENT")
        if not inception["smiles_file"]:
            del inception["smiles_file"]
        out["inception"] = inception
    out["stage"] = [
        {
            "max_steps": stage.max_steps,
            "min_steps": stage.min_steps,
            "max_score": stage.max_score,
            "termination": stage.termination,
            "chkpt_file": stage.chkpt_file or f"stage_{index}.chkpt",
            "scoring": scoring_config(scoring),
        }
        for index, (stage, scoring) in enumerate(stages, start=1)
    ]
    return out


# ------------------------------------------------------------------------------- runner
def reinvent_executable() -> str | None:
    """Path of ``reinvent`` on the PATH, or None."""
    return shutil.which("reinvent")


def run_reinvent(
    config: Mapping[str, Any], work_dir: str | Path, timeout_s: float | None = None
) -> dict[str, Any]:
    """Write ``config.toml`` in ``work_dir`` and run ``reinvent -l reinvent.log config.toml``.

    Returns:
        ``toml``, ``log`` and ``returncode``.

    Raises:
        ConfigurationError: Without ``reinvent`` on the PATH, or when it exits with an
            error (the output tail is included).
    """
    executable = reinvent_executable()
    if executable is None:
        raise ConfigurationError(
            "no 'reinvent' executable on the PATH; install REINVENT 4 separately "
            "(it cannot share Crucible's environment) or use engine='crucible'"
        )
    folder = Path(work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    toml_path = folder / "config.toml"
    toml_path.write_text(to_toml(config))
    log_path = folder / "reinvent.log"
    completed = subprocess.run(
        [executable, "-l", str(log_path), str(toml_path)],
        cwd=folder, capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    if completed.returncode != 0:
        tail = (completed.stderr or completed.stdout)[-2000:]
        raise ConfigurationError(f"reinvent failed ({completed.returncode}): {tail}")
    return {"toml": str(toml_path), "log": str(log_path), "returncode": completed.returncode}
