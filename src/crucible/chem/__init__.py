"""Chemistry: activity models, scoring components, transforms, aggregation and filters.

Kept light on purpose: RDKit is imported inside the submodules that need it, so
``import crucible.chem`` costs nothing. Import the submodules directly, e.g.
``from crucible.chem.scoring import build_scoring_function``.
"""
