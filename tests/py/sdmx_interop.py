"""Reads sdgx's SDMX-CSV 1.0 and 2.0 exports with pysdmx (a client nobody here wrote) and checks
them against expectations computed by the Rust test from the store: the observation count, the
keys and values of sample observations, and every code against the global codelists.

Usage: sdmx_interop.py <v1.csv> <v2.csv> <codelists.csv> <expect.json>
Prints one JSON line with what it read; exits 1 with the reason on any mismatch."""
import csv
import json
import sys

from pysdmx.io import read_sdmx

v1, v2, codelists_path, expect_path = sys.argv[1:5]
expect = json.load(open(expect_path))
codes = {}
with open(codelists_path, newline="") as f:
    for r in csv.DictReader(f):
        codes.setdefault(r["codelist"], set()).add(r["code"])
CODED = {
    "FREQ": "CL_FREQ", "REPORTING_TYPE": "CL_REPORTING_TYPE", "SERIES": "CL_SERIES", "REF_AREA": "CL_AREA",
    "SEX": "CL_SEX", "AGE": "CL_AGE", "URBANISATION": "CL_URBANISATION", "INCOME_WEALTH_QUANTILE": "CL_QUANTILE",
    "EDUCATION_LEV": "CL_EDUCATION_LEV", "OCCUPATION": "CL_OCCUPATION", "CUST_BREAKDOWN": "CL_CUST_BREAKDOWN",
    "COMPOSITE_BREAKDOWN": "CL_COMP_BREAKDOWN", "DISABILITY_STATUS": "CL_DISABILITY", "ACTIVITY": "CL_ACTIVITY",
    "PRODUCT": "CL_PRODUCT", "OBS_STATUS": "CL_OBS_STATUS", "UNIT_MULT": "CL_UNIT_MULT", "UNIT_MEASURE": "CL_UNIT_MEASURE",
    "NATURE": "CL_NATURE",
}


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


out = {}
for name, path in (("1.0", v1), ("2.0", v2)):
    msg = read_sdmx(path)
    if len(msg.data) != 1:
        fail(f"SDMX-CSV {name}: {len(msg.data)} datasets, expected 1")
    ds = msg.data[0]
    if expect["dataflow"] not in ds.short_urn:
        fail(f"SDMX-CSV {name}: structure {ds.short_urn}, expected {expect['dataflow']}")
    df = ds.data
    if len(df) != expect["count"]:
        fail(f"SDMX-CSV {name}: {len(df)} observations, expected {expect['count']}")
    missing = [d for d in expect["dimensions"] if d not in df.columns]
    if missing:
        fail(f"SDMX-CSV {name}: no column {missing}")
    for sample in expect["samples"]:
        sel = df
        for dim, code in sample["key"].items():
            sel = sel[sel[dim] == code]
        if len(sel) != 1:
            fail(f"SDMX-CSV {name}: {len(sel)} observations with key {sample['key']}, expected 1")
        row = sel.iloc[0]
        got = row["OBS_VALUE"]
        if sample["value"] is None:
            if got not in ("", None) and not (isinstance(got, float) and got != got) and str(got) != "<NA>":
                fail(f"SDMX-CSV {name}: {sample['key']} has value {got!r}, expected none (suppressed)")
            if row["OBS_STATUS"] != "Q":
                fail(f"SDMX-CSV {name}: suppressed {sample['key']} has OBS_STATUS {row['OBS_STATUS']!r}, expected Q")
        elif abs(float(got) - sample["value"]) > 1e-9:
            fail(f"SDMX-CSV {name}: {sample['key']} has value {got!r}, expected {sample['value']}")
    bad = []
    for col, cl in CODED.items():
        if col not in df.columns:
            continue
        for v in set(df[col].dropna().astype(str)):
            if v and v not in codes.get(cl, set()):
                bad.append(f"{col}={v}")
    if bad:
        fail(f"SDMX-CSV {name}: codes not in the global codelists: {sorted(bad)[:20]}")
    out[name] = {"observations": len(df), "columns": list(df.columns)}
print(json.dumps(out))
