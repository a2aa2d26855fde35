#!/usr/bin/env python3
"""Writes a valid contract CSV of about N GB for bench/agent-memory.sh: indicator 10.7.p2,
years 2021-2023, every key unique (sex x age x education x custom breakdown x year), values
from a seeded generator. Usage: agent_memory_data.py <GB> <out.csv>"""
import csv
import itertools
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
target = float(sys.argv[1]) * 1e9
out = sys.argv[2]
max_rows = int(sys.argv[3]) if len(sys.argv) > 3 else None
codes = {}
with open(ROOT / "schemas" / "data" / "codelists.csv", newline="") as f:
    for r in csv.DictReader(f):
        if not r["code"].startswith("_"):
            codes.setdefault(r["codelist"], []).append(r["code"])
rng = random.Random(6)
header = "indicator,series,ref_area,time_period,sex,age,education_lev,cust_breakdown,composite_breakdown,migratory_status,obs_value,unit_measure,obs_status,conf_status,nature,comment_obs\n"
written = 0
with open(out + ".tmp", "w") as f:
    f.write(header)
    keys = itertools.product(codes["CL_CUST_BREAKDOWN"], codes["CL_AGE"], codes["CL_EDUCATION_LEV"], ["F", "M"], ["2021", "2022", "2023"])
    buf = []
    if max_rows is not None:
        keys = itertools.islice(keys, max_rows)
    for cust, age, edu, sex, year in keys:
        line = f"10.7.p2,AM_ASY_GRANTED,AM,{year},{sex},{age},{edu},{cust},_T,_T,{rng.random() * 100:.1f},PT,,,C,\n"
        buf.append(line)
        written += len(line)
        if len(buf) == 100_000:
            f.write("".join(buf))
            buf.clear()
            if written >= target:
                break
    f.write("".join(buf))
Path(out + ".tmp").rename(out)
