"""Prefect blocks: per-environment configuration and secrets, loaded in flows only."""

from blocks.environment import CrucibleEnvironment

__all__ = ["CrucibleEnvironment"]
