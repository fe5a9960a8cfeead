"""Training and hyperparameter optimisation: PyTorch engine, Optuna studies, MLflow tracking.

Kept light on purpose (no torch, Optuna or MLflow at import). Import what you use::

    from crucible.training.config import TrainConfig
    from crucible.training.engine import fit
    from crucible.training.hpo import StudySpec, create_study, optimize
"""
