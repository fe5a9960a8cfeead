"""Prefect flows: composition of tasks only, one deployable flow per ``*_flow.py`` file."""
