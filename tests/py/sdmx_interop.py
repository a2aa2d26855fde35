"""Validates sdgx's SDMX-CSV exports against the structure message sdgx ships with them, with
clients nobody here wrote: pysdmx (structural validation, as its "Validate your data" guide does
it, plus the dataflow's content constraint) and sdmx1 (reads the SDMX-CSV 2.0 files with the
dataflows of the structure message and converts them to pandas, empty values included).

Usage: sdmx_interop.py <structure.xml> <expect.json> <flow>=<v1.csv>,<v2.csv> ...
  flow: a dataflow short reference as the files' DATAFLOW / STRUCTURE_ID column holds it.
Prints one JSON line with what it read; exits 1 listing every error on any mismatch."""
import csv
import json
import logging
import math
import sys

import sdmx
from pysdmx.io import get_datasets, read_sdmx
from pysdmx.model import DataConstraint, DataType

structure_path, expect_path = sys.argv[1:3]
files = {}
for arg in sys.argv[3:]:
    flow, paths = arg.split("=", 1)
    files[flow] = paths.split(",")
expect = json.load(open(expect_path))
errors = []
SPECIAL = {"DATAFLOW", "STRUCTURE", "STRUCTURE_ID", "ACTION"}
NUMERIC = {DataType.DOUBLE, DataType.FLOAT}

# pysdmx: the structure message (schema-validated on read), its constraints by dataflow.
structures = read_sdmx(structure_path, validate=True)
constraints = {}
for s in structures.structures:
    if isinstance(s, DataConstraint) and s.constraint_attachment and s.constraint_attachment.dataflows:
        for urn in s.constraint_attachment.dataflows:
            constraints.setdefault(urn.split("=", 1)[1], []).append(s)


def allowed_by(constraint, row):
    """Whether `row` lies in one of the constraint's included cube regions."""
    included = [r for r in constraint.cube_regions if r.is_included]
    if not included:
        return True
    return any(all(row.get(kv.id) in {v.value for v in kv.values} for kv in region.key_values) for region in included)


def validate(flow, path, schema):
    """pysdmx's structural checks on every row: columns, data types, codes, mandatory values."""
    comps = {c.id: c for c in schema.components}
    coded = {c.id: {code.id for code in c.enumeration} for c in schema.components if c.enumeration}
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    for col in rows[0].keys() if rows else []:
        if col not in SPECIAL and col not in comps:
            errors.append(f"{path}: unexpected column {col}")
    for i, row in enumerate(rows, start=2):
        for col, value in row.items():
            comp = comps.get(col)
            if comp is None:
                continue
            if value == "":
                if comp.required:
                    errors.append(f"{path} line {i}: mandatory {col} is empty")
                continue
            if comp.dtype in NUMERIC:
                try:
                    float(value)
                except ValueError:
                    errors.append(f"{path} line {i}: {col} {value!r} is not a {comp.dtype}")
            if col in coded and value not in coded[col]:
                errors.append(f"{path} line {i}: {col} {value!r} is not one of the codes of {comp.enumeration.short_urn}")
        for c in constraints.get(flow, []):
            if not allowed_by(c, row):
                key = {k: row[k] for k in ("SERIES", "SEX", "AGE", "COMPOSITE_BREAKDOWN") if k in row}
                errors.append(f"{path} line {i}: key {key} is outside the content constraint {c.short_urn}")
    return rows


out = {}
for flow, paths in files.items():
    exp = expect["flows"][flow]
    if len(constraints.get(flow, [])) != exp["constraints"]:
        errors.append(f"{flow}: {len(constraints.get(flow, []))} content constraints attached, expected {exp['constraints']}")
    for path in paths:
        datasets = get_datasets(path, structure_path)
        if len(datasets) != 1:
            errors.append(f"{path}: {len(datasets)} datasets, expected 1")
            continue
        ds = datasets[0]
        if flow not in ds.short_urn:
            errors.append(f"{path}: structure {ds.short_urn}, expected {flow}")
        schema = ds.structure
        rows = validate(flow, path, schema)
        if len(ds.data) != exp["count"] or len(rows) != exp["count"]:
            errors.append(f"{path}: {len(ds.data)} observations, expected {exp['count']}")
        for sample in exp["samples"]:
            sel = [r for r in rows if all(r.get(d) == c for d, c in sample["key"].items())]
            if len(sel) != 1:
                errors.append(f"{path}: {len(sel)} observations with key {sample['key']}, expected 1")
                continue
            got = sel[0]["OBS_VALUE"]
            if sample["value"] is None:
                if got != "NaN":
                    errors.append(f"{path}: {sample['key']} has value {got!r}, expected NaN (intentionally missing)")
                if sample.get("status") and sel[0]["OBS_STATUS"] != sample["status"]:
                    errors.append(f"{path}: {sample['key']} has OBS_STATUS {sel[0]['OBS_STATUS']!r}, expected {sample['status']}")
            elif abs(float(got) - sample["value"]) > 1e-9:
                errors.append(f"{path}: {sample['key']} has value {got!r}, expected {sample['value']}")
        out.setdefault(flow, {})[path.rsplit("/", 1)[-1]] = {"observations": len(rows), "components": len(schema.components)}

# sdmx1: the same structure message; each SDMX-CSV 2.0 file read with its dataflow. (Its reader
# logs a warning for each optional attribute without a column; the files need not carry them.)
logging.getLogger("sdmx").setLevel(logging.ERROR)
sm = sdmx.read_sdmx(structure_path)
for flow, paths in files.items():
    dataflow_id = flow.split(":", 1)[1].split("(", 1)[0]
    dfd = sm.dataflow[dataflow_id]
    try:
        msg = sdmx.read_sdmx(paths[1], structure=dfd)
        values = sdmx.to_pandas(msg.data[0])
    except (ValueError, KeyError) as e:
        errors.append(f"sdmx1 {paths[1]}: {type(e).__name__}: {e}")
        continue
    exp = expect["flows"][flow]
    if len(values) != exp["count"]:
        errors.append(f"sdmx1 {paths[1]}: {len(values)} observations, expected {exp['count']}")
    missing = int(sum(1 for v in values if isinstance(v, float) and math.isnan(v)))
    if missing != exp["missing"]:
        errors.append(f"sdmx1 {paths[1]}: {missing} missing values, expected {exp['missing']}")
    out.setdefault(flow, {})["sdmx1"] = {"observations": len(values), "missing": missing}

if errors:
    print(f"{len(errors)} errors", file=sys.stderr)
    for e in errors[:200]:
        print(e, file=sys.stderr)
    sys.exit(1)
print(json.dumps({"errors": 0, "flows": out}))
