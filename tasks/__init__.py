"""Prefect tasks: each a thin wrapper around one ``crucible`` call (see README stage map)."""
