#!/usr/bin/env python3
"""Builds the Markdown result tables of docs/results.md from the run folders under docs/results/ (one folder per
run, written by scripts/run_studies.sh: metrics.json, history.csv, options.json, run.json).

Usage: python3 scripts/results_table.py docs/results > docs/results/tables.md"""
import csv
import json
import os
import sys


def load(folder):
    def read(name):
        with open(os.path.join(folder, name)) as f:
            return json.load(f)
    run = read("run.json")
    metrics = read("metrics.json")
    options = read("options.json")
    with open(os.path.join(folder, "history.csv"), newline="") as f:
        history = list(csv.DictReader(f))
    return run, metrics, options, history


def interval(block):
    return f"{block['value']:.3f} [{block['low']:.3f}, {block['high']:.3f}]"


def weights_name(options):
    return "ImageNet" if options.get("weights") else "scratch"


def row(run, metrics, options, history):
    boot = metrics.get("bootstrap") or {}
    recalls = ", ".join(f"{r['name']} {r['value']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"
                        for r in boot.get("recall", []))
    auc = boot.get("macro_roc_auc")
    minutes = sum(float(epoch["seconds"]) for epoch in history) / 60  # training epochs only (with validation)
    return [f"`{run['name']}`", options["arch"], weights_name(options), f"{options['resolution']}",
            f"{len(history)}", f"{metrics['num_samples']}", interval(boot["accuracy"]),
            interval(boot["macro_f1"]), interval(auc) if auc else "-", recalls, f"{minutes:.1f}",
            str(options.get("threads", 0) or "all")]


HEADER = ["run", "model", "weights", "px", "epochs", "test n", "accuracy [95% CI]", "macro F1 [95% CI]",
          "macro ROC AUC [95% CI]", "recall per class [95% CI]", "train min", "threads"]

STUDIES = [("s2_", "Study 2: MobileNetV2, 3 classes (normal / bacterial / viral), kermany_cxr224 official test split"),
           ("s4_", "Study 4: binary pneumonia, kermany_cxr224 official test split, focal loss"),
           ("s3_sarscov2_", "Study 3: lung CT COVID vs healthy, ct_sarscov2_256 split by near_dup_group, 64x64"),
           ("s3_ucsd_", "Study 3: lung CT COVID vs healthy, ct_ucsd_covidct official patient split, 64x64"),
           ("s1_", "Study 1: normal / pneumonia / COVID from kermany_cxr224 + covid_cxr224, and the same-source control")]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "docs/results"
    runs = sorted(d for d in os.listdir(root) if os.path.isfile(os.path.join(root, d, "run.json")))
    machines = set()
    for prefix, title in STUDIES:
        chosen = [d for d in runs if d.startswith(prefix)]
        if not chosen:
            continue
        print(f"### {title}\n")
        print("| " + " | ".join(HEADER) + " |")
        print("|" + "---|" * len(HEADER))
        for name in chosen:
            run, metrics, options, history = load(os.path.join(root, name))
            machines.add(run["machine"])
            print("| " + " | ".join(row(run, metrics, options, history)) + " |")
        print()
    print("Intervals: stratified bootstrap (percentile, 1000 resamples) over the test images. train min: the sum of "
          "the epochs' times (training + validation; setup, image cache and test evaluation excluded). Machine: "
          + "; ".join(sorted(machines)) + ".")


if __name__ == "__main__":
    main()
