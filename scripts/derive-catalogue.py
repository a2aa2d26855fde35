#!/usr/bin/env python3
"""Derive sdgx's own catalogue files (schemas/data/*.csv) from the UN SDG reference material.

Maintainer's tool, run by hand when the global framework changes:

    python3 scripts/derive-catalogue.py <reference-dir> schemas/data

It is never run at build or test time: the derived files are committed and compiled into
`sdgx-schemas`. What it derives, and how, is documented in schemas/README.md.
"""
import csv
import os
import sys
from collections import defaultdict

BREAKDOWN_LISTS = {
    "CL_SEX", "CL_AGE", "CL_URBANISATION", "CL_QUANTILE", "CL_EDUCATION_LEV", "CL_OCCUPATION",
    "CL_CUST_BREAKDOWN", "CL_COMP_BREAKDOWN", "CL_DISABILITY", "CL_ACTIVITY", "CL_PRODUCT",
}
# DSD dimension (allowed-codes column) -> sdgx column name.
DIMENSIONS = [
    ("SEX", "sex"), ("AGE", "age"), ("URBANISATION", "urbanisation"),
    ("INCOME_WEALTH_QUANTILE", "income_wealth_quantile"), ("EDUCATION_LEV", "education_lev"),
    ("OCCUPATION", "occupation"), ("DISABILITY_STATUS", "disability_status"),
    ("ACTIVITY", "activity"), ("PRODUCT", "product"),
]
MS_CODES = {"MS_MIGRANT", "MS_NOMIGRANT", "MS_EUMIGRANT", "MS_NONEUMIGRANT"}

# sdgx's own codelists (not in the global DSD).
MIGRATORY_STATUS = [
    ("_T", "Total (no breakdown by migratory status)"),
    ("_Z", "Not applicable"),
    ("MS_MIGRANT", "Migrant"),
    ("MS_NOMIGRANT", "Non-migrant"),
    ("MS_EUMIGRANT", "EU migrant"),
    ("MS_NONEUMIGRANT", "Non-EU migrant"),
    ("NMS_FOREIGN_BORN", "Foreign-born"),
    ("NMS_NATIVE_BORN", "Native-born"),
    ("NMS_NONCITIZEN", "Non-citizen (foreign citizen or stateless)"),
    ("NMS_CITIZEN", "Citizen"),
    ("NMS_RETURNED", "Returned migrant"),
    ("NMS_INTERNAL", "Internal migrant"),
    ("NMS_IDP", "Internally displaced person"),
    ("NMS_REFUGEE", "Refugee"),
    ("NMS_ASYLUM_SEEKER", "Asylum seeker"),
    ("NMS_STATELESS", "Stateless person"),
]
CONF_STATUS = [
    ("F", "Free (may be published)"),
    ("C", "Confidential (primary suppression)"),
    ("D", "Secondary confidentiality (suppressed to protect another cell)"),
    ("N", "Not for publication, restricted for internal use only"),
]


def read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def main(ref, out):
    lists = defaultdict(dict)
    for r in read(os.path.join(ref, "codelists.csv")):
        lists[r["codelist"]][r["code"]] = r["name_en"]
    with open(os.path.join(out, "codelists.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["codelist", "code", "name"])
        for cl in sorted(lists):
            if cl == "CL_GEO_INFO_TYPE":
                continue
            codes = dict(lists[cl])
            if cl in BREAKDOWN_LISTS and "_Z" not in codes:
                codes["_Z"] = "Not applicable"
            for code, name in codes.items():
                w.writerow([cl, code, name])
        for code, name in MIGRATORY_STATUS:
            w.writerow(["CL_MIGRATORY_STATUS", code, name])
        for code, name in CONF_STATUS:
            w.writerow(["CL_CONF_STATUS", code, name])

    allowed = {r["SERIES"]: r for r in read(os.path.join(ref, "sdg_series_allowed_codes.csv"))}
    series_rows = read(os.path.join(ref, "sdg_series.csv"))
    by_indicator = defaultdict(list)
    with open(os.path.join(out, "series.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["series", "indicators", "unit_measure", "unit_mult", "name"])
        for r in series_rows:
            a = allowed.get(r["series"], {})
            unit = a.get("UNIT_MEASURE", "")
            mult = a.get("UNIT_MULT", "")
            unit = "" if unit in ("ALL", "_T") or ";" in unit else unit
            mult = "" if mult in ("ALL",) or ";" in mult else mult
            w.writerow([r["series"], r["indicators"], unit, mult, r["name"]])
            for ind in filter(None, r["indicators"].split(";")):
                by_indicator[ind].append(r["series"])

    migration = {r["indicator"] for r in read(os.path.join(ref, "migration_ms_indicators.csv"))}
    with open(os.path.join(out, "indicators.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["indicator", "goal", "target", "title", "series", "migration_relevant",
                    "expected_disaggregations"])
        for r in read(os.path.join(ref, "sdg_indicators.csv")):
            code = r["indicator"]
            series = by_indicator.get(code, [])
            expected = []
            for dim, col in DIMENSIONS:
                vals = [allowed[s][dim] for s in series if s in allowed]
                if any(v == "ALL" or any(c not in ("_T", "_Z") for c in v.split(";")) for v in vals):
                    expected.append(col)
            comp = [c for s in series if s in allowed
                    for c in allowed[s]["COMPOSITE_BREAKDOWN"].split(";")]
            if code in migration or any(c in MS_CODES for c in comp):
                expected.append("migratory_status")
            if any(c not in ("_T", "_Z", "ALL") and c not in MS_CODES for c in comp):
                expected.append("composite_breakdown")
            w.writerow([code, r["goal"], r["target"], r["title"], ";".join(series),
                        "true" if code in migration else "false", ";".join(expected)])


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
