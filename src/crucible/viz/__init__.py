"""Figures: chemical-space maps (PCA, t-SNE, UMAP) and molecule grids.

Kept light: RDKit, scikit-learn, openTSNE, umap-learn and matplotlib are imported inside
the functions that use them.
"""
