"""Reads sdgx's Open SDG bundle the way sdg-build (open-sdg/sdg-build, the Open SDG data builder)
reads a data repository with its default inputs, and checks what a site would get.

sdg-build is not on PyPI, so this follows its readers' rules (no code of it is used):
- InputCsvData: files matching `data/*-*.csv`; the indicator id is the file name without its
  extension and without `indicator_`; each is read with `pandas.read_csv` (default options).
- InputYamlMdMeta: files matching `meta/*-*.md`; the id is the file name without its extension;
  the front matter is the first YAML document read by ruamel.yaml's round-trip loader (as yamlmd
  does), the page content is the text after the second line starting with `---`, and the string
  values "true" / "false" become booleans.
- An indicator is the union of both by id: a data file with no metadata file is a page with a
  placeholder title, a metadata file with no data file a page without a chart.
- Indicator.set_headline / data.filter_headline: the columns other than Open SDG's default
  non-disaggregation columns are the disaggregations; the headline is the rows whose
  disaggregation cells are all missing.
- Open SDG's data format: `Year` first, `Value` last, `GeoCode` second from last when present;
  no trailing white space in categorical cells.

Then the expectations the Rust test hand-read from the example data: the in-scope indicators
(one page each, no other), and for some indicators the exact columns, footer fields and sources.
Every disaggregation cell must be a label of the codelists (global and national), not a code.

Usage: opensdg_layout.py <bundle dir> <expect.json> <codelists.csv>...
Prints one JSON line with what it read; exits 1 with the reason on any mismatch."""
import csv
import glob
import json
import os
import sys

import pandas as pd
from ruamel.yaml import YAML

# sdg-build's open_sdg_indicator_options_defaults()['non_disaggregation_columns'].
NON_DISAGGREGATION = [
    "Year", "Units", "Series", "Value", "GeoCode", "Observation status", "Unit multiplier",
    "Unit measure", "UNIT_MEASURE", "SERIES", "COMMENT_TS", "DATA_LAST_UPDATE",
]
REPORTING_STATUSES = {"complete", "inprogress", "notstarted", "notapplicable"}

bundle, expect_path, *codelist_paths = sys.argv[1:]
expect = json.load(open(expect_path))
labels = set()
for p in codelist_paths:
    with open(p, newline="", encoding="utf-8") as f:
        labels.update(r["name"] for r in csv.DictReader(f))


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def indicator_map(pattern, strip):
    out = {}
    for path in glob.glob(os.path.join(bundle, pattern)):
        inid = os.path.splitext(os.path.basename(path))[0]
        out[inid.replace(strip, "") if strip else inid] = path
    return out


def read_meta(path):
    with open(path, encoding="UTF-8") as f:
        meta = dict(next(YAML(typ="rt").load_all(f)))
    with open(path, encoding="UTF-8") as f:
        lines = f.readlines()
    delims = [i for i, x in enumerate(lines) if x.startswith("---")]
    if len(delims) < 2:
        fail(f"{path}: the front matter is not closed by a line starting with ---")
    meta["page_content"] = "".join(lines[delims[1] + 1:])
    for k, v in list(meta.items()):
        if isinstance(v, str) and v.lower() in ("true", "false"):
            meta[k] = v.lower() == "true"
    return meta


data_files = indicator_map(os.path.join("data", "*-*.csv"), "indicator_")
meta_files = indicator_map(os.path.join("meta", "*-*.md"), None)
every_csv = glob.glob(os.path.join(bundle, "data", "*.csv"))
every_md = glob.glob(os.path.join(bundle, "meta", "*.md"))
if len(every_csv) != len(data_files) or len(every_md) != len(meta_files):
    fail(f"files sdg-build's patterns miss: {sorted(set(every_csv) - set(data_files.values()))} {sorted(set(every_md) - set(meta_files.values()))}")
orphans = sorted(set(data_files) - set(meta_files))
if orphans:
    fail(f"data files whose indicator has no metadata file (placeholder pages): {orphans}")
pages = set(data_files) | set(meta_files)
if sorted(pages) != sorted(expect["in_scope"]):
    fail(f"the site would get {len(pages)} indicators, not the {len(expect['in_scope'])} in scope: "
         f"extra {sorted(pages - set(expect['in_scope']))}, missing {sorted(set(expect['in_scope']) - pages)}")

metas = {}
for inid, path in meta_files.items():
    meta = read_meta(path)
    metas[inid] = meta
    if meta.get("indicator_number") != inid.replace("-", "."):
        fail(f"{path}: indicator_number {meta.get('indicator_number')!r} is not the file's indicator {inid.replace('-', '.')}")
    if not meta.get("indicator_name"):
        fail(f"{path}: no indicator_name (the page would show the id)")
    if meta.get("reporting_status") not in REPORTING_STATUSES:
        fail(f"{path}: reporting_status {meta.get('reporting_status')!r}")
    if (meta["reporting_status"] == "complete") != (inid in data_files):
        fail(f"{path}: reporting_status {meta['reporting_status']} but data file present: {inid in data_files}")
    for n in range(1, 13):
        if meta.get(f"source_active_{n}") is True and not meta.get(f"source_organisation_{n}"):
            fail(f"{path}: source {n} is active without an organisation")
    for ff in meta.get("footer_fields", []):
        if not ff.get("label") or not ff.get("value"):
            fail(f"{path}: footer field without label or value: {ff}")

read = {}
for inid, path in data_files.items():
    df = pd.read_csv(path)
    cols = list(df.columns)
    if cols[0] != "Year" or cols[-1] != "Value":
        fail(f"{path}: Year first and Value last: {cols}")
    if "GeoCode" in cols and cols[-2] != "GeoCode":
        fail(f"{path}: GeoCode must be second from last: {cols}")
    special = [c for c in NON_DISAGGREGATION if c in cols]
    disaggregations = [c for c in cols if c not in special]
    headline = df.filter(special, axis=1)[df.drop(special, axis=1).isnull().all(axis=1)]
    if headline.empty:
        fail(f"{path}: no headline row (every disaggregation blank)")
    keys = [c for c in ("Year", "Series", "Units") if c in cols]
    repeated = headline[headline.duplicated(subset=keys, keep=False)]
    if not repeated.empty:
        fail(f"{path}: more than one headline row per {keys}:\n{repeated}")
    if not pd.api.types.is_integer_dtype(df["Year"]) or not pd.api.types.is_numeric_dtype(df["Value"]):
        fail(f"{path}: Year must be integers and Value numbers: {df.dtypes.to_dict()}")
    with open(path, newline="", encoding="utf-8") as f:
        raw = list(csv.DictReader(f))
    for i, r in enumerate(raw):
        for c in disaggregations:
            cell = r[c]
            if cell and pd.isnull(df[c].iloc[i]):
                fail(f"{path} row {i + 2}: {c} {cell!r} is read by pandas as missing (it would count as a total)")
            if cell != cell.strip():
                fail(f"{path} row {i + 2}: {c} {cell!r} has white space around it")
            if cell and cell not in labels:
                fail(f"{path} row {i + 2}: {c} {cell!r} is not a codelist label")
        if r.get("Units") and r["Units"] not in labels:
            fail(f"{path} row {i + 2}: Units {r['Units']!r} is not a codelist label")
    read[inid] = {"columns": cols, "rows": len(df), "headline": len(headline), "disaggregations": disaggregations}

for inid, want in expect["indicators"].items():
    meta = metas.get(inid) or fail(f"no metadata file for {inid}")
    if "columns" in want and read.get(inid, {}).get("columns") != want["columns"]:
        fail(f"{inid}: columns {read.get(inid, {}).get('columns')}, expected {want['columns']}")
    if "footer_fields" in want and [dict(f) for f in meta.get("footer_fields", [])] != want["footer_fields"]:
        fail(f"{inid}: footer_fields {meta.get('footer_fields')}, expected {want['footer_fields']}")
    if "sources" in want:
        sources = [meta[f"source_organisation_{n}"] for n in range(1, 13) if meta.get(f"source_active_{n}") is True]
        if sources != want["sources"]:
            fail(f"{inid}: sources {sources}, expected {want['sources']}")
    for k, v in want.get("fields", {}).items():
        if meta.get(k) != v:
            fail(f"{inid}: {k} {meta.get(k)!r}, expected {v!r}")

print(json.dumps({
    "data_files": len(data_files), "meta_files": len(meta_files), "pages": len(pages),
    "headline_rows": sum(r["headline"] for r in read.values()),
    "with_geography": sorted(i for i, r in read.items() if "GeoCode" in r["columns"]),
}))
