"""Sample-efficiency metric of the PMO benchmark (Gao et al., NeurIPS 2022).

``AUC top-k``: the area under the curve of the mean of the ``k`` best scores found so far
versus the number of oracle calls, sampled every ``freq_log`` calls (trapezoids), normalised
by the call budget; a run that stops early keeps its last value up to the budget. Same
definition as ``top_auc`` in ``wenhao-gao/mol_opt`` (re-implemented, not copied).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def _top_mean(scores: Sequence[float], k: int) -> float:
    return float(np.mean(sorted(scores, reverse=True)[:k])) if scores else 0.0


def auc_top_k(
    scores_in_call_order: Sequence[float],
    max_oracle_calls: int,
    k: int = 10,
    freq_log: int = 100,
    finish: bool = True,
) -> float:
    """PMO's AUC top-k.

    Args:
        scores_in_call_order: Score of each unique molecule, in the order it was scored.
        max_oracle_calls: The budget (calls beyond it are ignored).
        k: How many best scores to average.
        freq_log: Calls between curve points.
        finish: Extend a run that stopped short of the budget with its last value.

    Returns:
        The normalised area, in [0, 1] for scores in [0, 1].
    """
    scores = list(scores_in_call_order)[:max_oracle_calls]
    total, previous, called = 0.0, 0.0, 0
    for index in range(freq_log, len(scores), freq_log):
        now = _top_mean(scores[:index], k)
        total += freq_log * (now + previous) / 2
        previous, called = now, index
    now = _top_mean(scores, k)
    total += (len(scores) - called) * (now + previous) / 2
    if finish and len(scores) < max_oracle_calls:
        total += (max_oracle_calls - len(scores)) * now
    return total / max_oracle_calls
