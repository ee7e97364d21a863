#!/usr/bin/env python3
"""Writes recipes/study1_normal_pneumonia_covid.csv, the image list of study 1's three classes (its tuberculosis
class has no data here): normal = Kermany's pediatric normals and the COVID-19 Radiography Database's adult normals,
pneumonia = Kermany's bacterial and viral pneumonias (binary_label), covid = the database's COVID-19 images.
Paths are relative to ../shared/data (the recipe's image-root); Kermany's patient ids are kept so splits group by
patient. Normals come from both sources on purpose: with adult normals only in one class the network could tell the
classes apart by the source (pediatric vs adult) instead of by the disease.

Usage, from the repository root: python3 recipes/make_study1_csv.py [--shared ../shared]"""
import argparse
import csv
import os

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--shared", default="../shared", help="the shared folder holding data/")
parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "study1_normal_pneumonia_covid.csv"))
args = parser.parse_args()
data = os.path.join(args.shared, "data")

rows = []
with open(os.path.join(data, "kermany_cxr224", "labels.csv"), newline="") as f:
    for row in csv.DictReader(f):
        rows.append(("kermany_cxr224/" + row["file"], row["binary_label"], row["patient_id"], "kermany_cxr224"))
with open(os.path.join(data, "covid_cxr224", "labels.csv"), newline="") as f:
    for row in csv.DictReader(f):
        rows.append(("covid_cxr224/" + row["file"], row["label"], "", "covid_cxr224"))
for file, label, _, _ in rows:
    assert label in ("normal", "pneumonia", "covid"), (file, label)
with open(args.out, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["file", "label", "patient_id", "source"])
    writer.writerows(rows)
print(f"{args.out}: {len(rows)} images")
