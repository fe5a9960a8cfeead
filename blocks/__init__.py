"""Prefect blocks: per-environment configuration and secrets, loaded in flows only."""

from blocks.environment import (
    ENVIRONMENT_BLOCK_VARIABLE,
    CrucibleEnvironment,
    environment_block_applied,
    load_environment,
    uses_environment_block,
)

__all__ = [
    "ENVIRONMENT_BLOCK_VARIABLE",
    "CrucibleEnvironment",
    "environment_block_applied",
    "load_environment",
    "uses_environment_block",
]
