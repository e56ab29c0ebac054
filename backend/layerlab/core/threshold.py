"""What a decision threshold does to a binary classifier: its ROC curve and the area under it.

A point is called positive when its score p(class 1) is at least the threshold. The curve
traces every threshold at once: the share of negatives called positive (false positive rate)
against the share of positives found (true positive rate).
"""

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve


def roc_of(labels: Sequence[int], scores: Sequence[float]) -> dict[str, Any]:
    """{'fpr', 'tpr', 'thresholds', 'auc'}: scikit-learn's curve, thresholds clipped to [0, 1]
    (its first threshold, above every score, is infinite). ValueError when the labels are all
    of one class: then there is no curve to draw."""
    y, p = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if len(np.unique(y)) < 2:
        raise ValueError(f"the labels are all {y[0] if len(y) else 'missing'}: no ROC curve")
    fpr, tpr, thresholds = roc_curve(y, p)
    return {
        "fpr": fpr.tolist(),
        "tpr": tpr.tolist(),
        "thresholds": np.clip(thresholds, 0.0, 1.0).tolist(),
        "auc": float(roc_auc_score(y, p)),
    }
