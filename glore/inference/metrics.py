"""Classification metrics on per-video scores: multi-view averaging, top-k, confusion matrix.

Pure NumPy on arrays already gathered in video order, so one process and many give the same
numbers by construction (see glore.inference.evaluate for the gathering).
"""

import numpy as np
import torch


def average_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Video scores from the logits of its views (clips x crops): the mean of the per-view
    softmax, N x V x C -> N x C. Averaging probabilities, not logits, keeps one over-confident
    view from outvoting the others."""
    return torch.softmax(logits.float(), dim=-1).mean(dim=1)


def topk_hits(scores: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    """Whether each row's label is among its k highest scores (ties broken by the lower class
    index, so the answer does not depend on the sort implementation)."""
    k = min(k, scores.shape[1])
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return (ranked == labels[:, None]).any(axis=1)


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts C x C: row = true class, column = predicted class."""
    flat = labels.astype(np.int64) * num_classes + predictions.astype(np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    """Top-1 accuracy of each true class, NaN for a class with no video in the list."""
    support = confusion.sum(axis=1)
    correct = np.diag(confusion).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(support > 0, correct / np.maximum(support, 1), np.nan)
