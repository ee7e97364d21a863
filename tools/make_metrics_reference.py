#!/usr/bin/python3
"""Writes tests/fixtures/metrics/sklearn_reference.json: classification metrics computed by scikit-learn (and
numpy) on small, fixed, tie-heavy prediction sets, for tests/metrics/test_sklearn_parity.cpp.

Each case holds the inputs (probabilities [N, K] or positive-class probabilities [N], labels, the dtype the C++ test
must use) and sklearn's results: accuracy, per-class precision / recall / specificity / F1 / support (zero_division=0,
labels=range(K)), macro and weighted averages, confusion matrix, one-vs-rest ROC AUC and average precision per class
(null where undefined) and their ROC / PR curve points. Also numpy percentiles and Wilson intervals computed from the
closed form. Needs numpy and scikit-learn: run with Debian's /usr/bin/python3 and python3-sklearn (1.2); CI only
reads the committed JSON.

usage: python3 tools/make_metrics_reference.py [output.json]
"""
import json
import math
import os
import sys

import numpy as np
import sklearn
from sklearn.metrics import (accuracy_score, average_precision_score, confusion_matrix, f1_score,
                             multilabel_confusion_matrix, precision_recall_curve, precision_recall_fscore_support,
                             roc_auc_score, roc_curve)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUTPUT = os.path.join(ROOT, "tests", "fixtures", "metrics", "sklearn_reference.json")


def floats(values):
    return [None if not math.isfinite(v) else float(v) for v in np.asarray(values, dtype=np.float64).ravel()]


def sklearn_results(columns, labels):
    """columns: float64 [N, K] scores as the C++ side sees them (after the binary expansion)."""
    n, k = columns.shape
    classes = list(range(k))
    predicted = np.argmax(columns, axis=1)  # first maximum, like the C++ side
    precision, recall, f1, support = precision_recall_fscore_support(
        labels, predicted, labels=classes, zero_division=0)
    mcm = multilabel_confusion_matrix(labels, predicted, labels=classes)
    tn, fp = mcm[:, 0, 0], mcm[:, 0, 1]
    specificity = np.where(tn + fp > 0, tn / np.maximum(tn + fp, 1), 0.0)
    per_class = []
    aucs, aps = [], []
    for c in classes:
        positive = (labels == c).astype(int)
        scores = columns[:, c]
        entry = {"precision": float(precision[c]), "recall": float(recall[c]), "f1": float(f1[c]),
                 "support": int(support[c]), "specificity": float(specificity[c]),
                 "roc_auc": None, "average_precision": None, "roc": None, "pr": None}
        if 0 < positive.sum() < n:
            entry["roc_auc"] = float(roc_auc_score(positive, scores))
            entry["average_precision"] = float(average_precision_score(positive, scores))
            fpr, tpr, thresholds = roc_curve(positive, scores)
            # sklearn 1.2 puts max+1 (1.3+: inf) as the first threshold; the C++ side uses +inf: not compared.
            entry["roc"] = {"fpr": floats(fpr), "tpr": floats(tpr), "thresholds_after_first": floats(thresholds[1:])}
            p, r, t = precision_recall_curve(positive, scores)
            entry["pr"] = {"precision": floats(p), "recall": floats(r), "thresholds": floats(t)}
            aucs.append(entry["roc_auc"])
            aps.append(entry["average_precision"])
        per_class.append(entry)
    return {
        "accuracy": float(accuracy_score(labels, predicted)),
        "confusion_matrix": confusion_matrix(labels, predicted, labels=classes).tolist(),
        "per_class": per_class,
        "macro": {"precision": float(np.mean(precision)), "recall": float(np.mean(recall)),
                  "f1": float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)),
                  "specificity": float(np.mean(specificity)),
                  "roc_auc": float(np.mean(aucs)) if aucs else None,
                  "average_precision": float(np.mean(aps)) if aps else None},
        "weighted": {"precision": float(np.average(precision, weights=support)),
                     "recall": float(np.average(recall, weights=support)),
                     "f1": float(f1_score(labels, predicted, labels=classes, average="weighted", zero_division=0)),
                     "specificity": float(np.average(specificity, weights=support))},
    }


def softmax_rounded(rng, n, k, decimals, bias=None):
    logits = rng.normal(size=(n, k)) * 1.5
    if bias is not None:
        logits += bias
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    return np.round(p, decimals)  # rounding creates many ties within each column


def multiclass_case(name, probabilities, labels, dtype="f64"):
    if dtype == "f32":
        probabilities = probabilities.astype(np.float32).astype(np.float64)
    return {"name": name, "kind": "multiclass", "dtype": dtype, "num_classes": int(probabilities.shape[1]),
            "probabilities": floats(probabilities), "labels": [int(v) for v in labels],
            "expected": sklearn_results(probabilities, np.asarray(labels))}


def binary_case(name, positive_probability, labels, dtype="f64"):
    if dtype == "f32":
        positive_probability = positive_probability.astype(np.float32).astype(np.float64)
    p = positive_probability.astype(np.float64)
    columns = np.stack([1.0 - p, p], axis=1)  # the C++ expansion, computed in double
    return {"name": name, "kind": "binary_sigmoid", "dtype": dtype, "num_classes": 2,
            "probabilities": floats(p), "labels": [int(v) for v in labels],
            "expected": sklearn_results(columns, np.asarray(labels))}


def main():
    output = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_OUTPUT
    rng = np.random.default_rng(20240611)
    cases = []

    # Three classes, ties from rounding to 2 decimals, labels correlated with the scores.
    labels = rng.integers(0, 3, size=48)
    probabilities = softmax_rounded(rng, 48, 3, 2, bias=np.eye(3)[labels] * 1.2)
    cases.append(multiclass_case("three_class_ties", probabilities, labels))

    # The same kind of data in f32, 1 decimal: heavy ties.
    labels = rng.integers(0, 3, size=36)
    probabilities = softmax_rounded(rng, 36, 3, 1, bias=np.eye(3)[labels] * 0.8)
    cases.append(multiclass_case("three_class_f32_heavy_ties", probabilities, labels, dtype="f32"))

    # Four classes; class 3 never occurs in the labels (its AUC and AP are undefined) and class 2 is never
    # predicted (precision 0/0 -> 0).
    labels = rng.integers(0, 3, size=40)
    probabilities = softmax_rounded(rng, 40, 4, 2, bias=np.eye(4)[labels] * 1.0 + np.array([0, 0, -4, 0]))
    cases.append(multiclass_case("four_class_absent_and_unpredicted", probabilities, labels))

    # A binary sigmoid model ([N] probabilities), ties at 0.05 steps, including 0.5 exactly.
    labels = rng.integers(0, 2, size=50)
    p = np.clip(np.round((0.5 + 0.25 * (labels - 0.5) + rng.normal(scale=0.22, size=50)) * 20) / 20, 0.0, 1.0)
    p[:3] = 0.5
    cases.append(binary_case("binary_sigmoid_ties", p, labels))

    # Binary sigmoid in f32, no ties.
    labels = rng.integers(0, 2, size=30)
    p = 1.0 / (1.0 + np.exp(-(labels - 0.5) * 2.0 - rng.normal(size=30)))
    cases.append(binary_case("binary_sigmoid_f32", p, labels, dtype="f32"))

    values = rng.normal(size=17)
    percentiles = [{"q": q, "value": float(np.percentile(values, 100 * q))} for q in (0.0, 0.025, 0.3, 0.5, 0.975, 1.0)]

    def wilson(successes, trials, z):
        p = successes / trials
        centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
        half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
        return [max(0.0, centre - half), min(1.0, centre + half)]

    from statistics import NormalDist
    wilson_cases = []
    for successes, trials, confidence in ((523, 624, 0.95), (0, 10, 0.95), (10, 10, 0.95), (37, 50, 0.9),
                                          (1, 3, 0.99)):
        z = NormalDist().inv_cdf(0.5 + confidence / 2)
        wilson_cases.append({"successes": successes, "trials": trials, "confidence": confidence, "z": z,
                             "interval": wilson(successes, trials, z)})

    document = {"generator": "tools/make_metrics_reference.py", "sklearn_version": sklearn.__version__,
                "numpy_version": np.__version__, "cases": cases,
                "percentile": {"values": floats(values), "cases": percentiles}, "wilson": wilson_cases}
    os.makedirs(os.path.dirname(output), exist_ok=True)
    with open(output + ".tmp", "w") as f:
        json.dump(document, f, separators=(",", ":"))
        f.write("\n")
    os.replace(output + ".tmp", output)
    print(f"wrote {output} ({os.path.getsize(output)} bytes, {len(cases)} cases)")


if __name__ == "__main__":
    main()
