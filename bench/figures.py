#!/usr/bin/env python3
"""Benchmark of the national figures (issue 16; first written for issue 5). Not a test.

For each size (1,000,000 and 10,000,000 observations by default, `--sizes`), one run:

1. generates, with a fixed seed, contract observations for 20 synthetic agencies, one dataset
   each, covering every indicator of the global framework (schemas/data/*.csv), as Parquet
   files in the contract's column order and types, with a manifest and an agent.toml per
   agency (cached under the work directory: regenerated only when the parameters or this
   generator change);
2. starts the release coordinator without TLS (plaintext publish, an inline reader token) on a
   fresh store, publishes the 20 datasets with the release agent, one after the other, and
   reads the coordinator's peak RSS (VmHWM) after the ingest;
3. reads the headline over Flight SQL (ADBC; the views `migration_disaggregation_share` and
   `..._by_goal`);
4. fetches every figure listed by GET /api/v1/figures over HTTP with 1 and with 16 concurrent
   clients (p50, p99);
5. times `sdgx-coordinator figures --json` as a process;
6. computes the headline with DuckDB from its definition (aggregate per indicator first, then
   join the indicator list) over the Parquet files the Delta log lists as current, checks that
   sdgx, DuckDB and the generator's planted truth agree, and keeps the fastest of several
   equivalent DuckDB formulations;
7. measures the Flight SQL round trip of a small query with 16 concurrent clients, and the
   commit latency of small publications of new datasets (do_put to acknowledgement);
then prints a table with the ratios (largest size / smallest, DuckDB / sdgx) and writes it as
the subsection `### <label>` of "## Figures from facts (issue 16)" in BENCHMARKS.md.

Run it with bench/figures.sh (which builds the release binaries, honouring CARGO_TARGET_DIR,
and uses the project's virtualenv); `--help` lists the options.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import platform
import random
import secrets
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import warnings

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "schemas" / "data"
SECTION = "## Figures from facts (issue 16)"
GENERATOR_VERSION = "3"

# The contract, in wire order (schemas/src/observation.rs): name, Arrow type, required.
S, F, I = pa.string(), pa.float64(), pa.int32()
COLUMNS = [
    ("indicator", S, True), ("series", S, False), ("ref_area", S, True), ("time_period", S, True),
    ("freq", S, True), ("reporting_type", S, True), ("sex", S, True), ("age", S, True),
    ("urbanisation", S, True), ("income_wealth_quantile", S, True), ("education_lev", S, True),
    ("occupation", S, True), ("cust_breakdown", S, True), ("composite_breakdown", S, True),
    ("disability_status", S, True), ("activity", S, True), ("product", S, True),
    ("migratory_status", S, True), ("obs_value", F, False), ("unit_measure", S, True),
    ("unit_mult", I, True), ("obs_status", S, True), ("conf_status", S, True), ("nature", S, False),
    ("lower_bound", F, False), ("upper_bound", F, False), ("comment_obs", S, False),
]
SCHEMA = pa.schema([pa.field(n, t, nullable=not req) for n, t, req in COLUMNS])
BREAKDOWN_CODELIST = {
    "sex": "CL_SEX", "age": "CL_AGE", "urbanisation": "CL_URBANISATION",
    "income_wealth_quantile": "CL_QUANTILE", "education_lev": "CL_EDUCATION_LEV",
    "occupation": "CL_OCCUPATION", "cust_breakdown": "CL_CUST_BREAKDOWN",
    "composite_breakdown": "CL_COMP_BREAKDOWN", "disability_status": "CL_DISABILITY",
    "activity": "CL_ACTIVITY", "product": "CL_PRODUCT", "migratory_status": "CL_MIGRATORY_STATUS",
}
# Dimensions added, in this order, when an indicator's expected breakdowns give too few cells.
FILLERS = ["cust_breakdown", "age", "activity", "product", "occupation", "education_lev", "composite_breakdown"]
MIGRATORY_SETS = {
    "ms": [["_T", "MS_MIGRANT", "MS_NOMIGRANT"], ["_T", "MS_MIGRANT", "MS_NOMIGRANT", "MS_EUMIGRANT", "MS_NONEUMIGRANT"]],
    "nms": [["_T", "NMS_FOREIGN_BORN", "NMS_NATIVE_BORN"], ["_T", "NMS_REFUGEE", "NMS_ASYLUM_SEEKER", "NMS_IDP"],
            ["_T", "NMS_CITIZEN", "NMS_NONCITIZEN", "NMS_STATELESS"], ["_T", "NMS_RETURNED", "NMS_INTERNAL"]],
}


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# 1. The synthetic federation
# ---------------------------------------------------------------------------------------------

def load_catalogue():
    codelists: dict[str, list[str]] = {}
    with open(DATA / "codelists.csv", newline="") as f:
        for r in csv.DictReader(f):
            codelists.setdefault(r["codelist"], []).append(r["code"])
    series = {}
    with open(DATA / "series.csv", newline="") as f:
        for r in csv.DictReader(f):
            try:
                mult = int(r["unit_mult"]) if r["unit_mult"] else 0
            except ValueError:
                mult = 0
            series[r["series"]] = (r["unit_measure"] or None, mult if -15 <= mult <= 15 else 0)
    indicators = []
    with open(DATA / "indicators.csv", newline="") as f:
        for r in csv.DictReader(f):
            indicators.append({
                "code": r["indicator"], "goal": int(r["goal"]),
                "series": [s for s in r["series"].split(";") if s],
                "relevant": r["migration_relevant"] == "true",
                "expected": [d for d in r["expected_disaggregations"].split(";") if d],
            })
    return codelists, series, indicators


def plan_federation(seed: int, rows: int, n_agencies: int):
    """Decides, deterministically, which agency publishes which indicator, how many rows each
    indicator gets and how it is disaggregated by migratory status."""
    codelists, series, indicators = load_catalogue()
    rng = random.Random(seed)
    relevant = [i["code"] for i in indicators if i["relevant"]]
    other = [i["code"] for i in indicators if not i["relevant"]]
    rng.shuffle(relevant)
    rng.shuffle(other)
    kind = {}
    # Migration-relevant indicators: most disaggregated with the global MS_* codes, some with
    # the national NMS_* codes, some only with migrant cells that are missing (obs_status M:
    # produced, but not migration-disaggregated), some not produced at all, the rest totals.
    for n, k in [(50, "ms"), (8, "nms"), (3, "ms_missing"), (3, "not_produced")]:
        for c in relevant[:n]:
            kind[c] = k
        relevant = relevant[n:]
    for c in relevant:
        kind[c] = "total"
    for n, k in [(4, "ms"), (6, "not_produced"), (12, "na")]:
        for c in other[:n]:
            kind[c] = k
        other = other[n:]
    for c in other:
        kind[c] = "total"
    weights = [rng.uniform(0.3, 1.7) for _ in indicators]
    total_w = sum(weights)
    counts = [max(40, int(rows * w / total_w)) for w in weights]
    counts[-1] += rows - sum(counts)
    plan = []
    per = len(indicators) / n_agencies
    for a in range(n_agencies):
        chunk = indicators[round(a * per): round((a + 1) * per)]
        start = round(a * per)
        quarterly = a % 7 == 3  # three agencies report quarterly, the rest annually
        goals = sorted({i["goal"] for i in chunk})
        plan.append({
            "agency": f"agency-{a + 1:02d}",
            "dataset": f"sdg-goals-{goals[0]}-{goals[-1]}" if len(goals) > 1 else f"sdg-goal-{goals[0]}",
            "goals": goals,
            "periodicity": "Q" if quarterly else "A",
            "indicators": [dict(i, kind=kind[i["code"]], rows=counts[start + j]) for j, i in enumerate(chunk)],
        })
    return codelists, series, plan


def periods_for(periodicity: str) -> list[str]:
    if periodicity == "Q":
        return [f"{y}-Q{q}" for y in range(2019, 2025) for q in range(1, 5)]
    return [str(y) for y in range(2015, 2025)]


def real_codes(codelists, dim: str) -> list[str]:
    codes = [c for c in codelists[BREAKDOWN_CODELIST[dim]] if not c.startswith("_")]
    if dim == "composite_breakdown":
        codes = [c for c in codes if not c.startswith("MS_")]
    return codes


def indicator_table(ind, agency, codelists, series_units, rng: random.Random):
    """The rows of one indicator: a random subset of a dense cross-tabulation, so keys are
    unique by construction."""
    n = ind["rows"]
    kind = ind["kind"]
    periods = periods_for(agency["periodicity"])
    ser = ind["series"] or [None]
    if kind in ("ms", "ms_missing") or (kind == "not_produced" and ind["relevant"]):
        ms = rng.choice(MIGRATORY_SETS["ms"])
    elif kind == "nms":
        ms = rng.choice(MIGRATORY_SETS["nms"])
    elif kind == "na":
        ms = ["_Z"]
    else:
        ms = ["_T"]
    dims: list[tuple[str, list]] = [("series", ser), ("time_period", periods), ("migratory_status", ms)]
    size = len(ser) * len(periods) * len(ms)
    target = math.ceil(n * 1.25)  # about 80 % of the cells of the cross-tabulation are filled
    expected = [d for d in ind["expected"] if d != "migratory_status" and d in BREAKDOWN_CODELIST]
    rng.shuffle(expected)
    for d in expected:
        if size >= target:
            break
        avail = real_codes(codelists, d)
        k = min(len(avail), rng.randint(2, 6), max(1, math.ceil(target / size) - 1))
        codes = ["_T"] + rng.sample(avail, k)
        dims.append((d, codes))
        size *= len(codes)
    used = {d for d, _ in dims}
    for d in FILLERS:
        if size >= target:
            break
        if d in used:
            continue
        avail = real_codes(codelists, d)
        k = min(len(avail), max(1, math.ceil(target / size) - 1))
        codes = ["_T"] + rng.sample(avail, k)
        dims.append((d, codes))
        size *= len(codes)
    if size < n:
        raise SystemExit(f"indicator {ind['code']}: only {size} cells for {n} rows")
    picked = sorted(rng.sample(range(size), n))
    idx = pa.array(picked, pa.int64())
    digits = {}
    for d, codes in reversed(dims):
        r = len(codes)
        q = pc.divide(idx, r)
        digits[d] = pc.subtract(idx, pc.multiply(q, r))
        idx = q
    cols = {}
    for d, codes in dims:
        cols[d] = pc.take(pa.array(codes, pa.string()), digits[d])
    units = [series_units.get(s, (None, 0)) if s else (None, 0) for s in ser]
    unit_col = pc.take(pa.array([u[0] or "NUMBER" for u in units], pa.string()), digits["series"])
    mult_col = pc.take(pa.array([u[1] for u in units], pa.int32()), digits["series"])
    ms_digit = digits["migratory_status"].to_pylist()
    unit_list = unit_col.to_pylist()
    values, lower, upper, obs_status, conf, nature, comment = [], [], [], [], [], [], []
    r_random, r_uniform, r_lognorm = rng.random, rng.uniform, rng.lognormvariate
    all_missing = kind == "not_produced"
    for j in range(n):
        u = r_random()
        if all_missing or (kind == "ms_missing" and ms_digit[j] != 0) or u < 0.01:
            values.append(None); lower.append(None); upper.append(None)
            obs_status.append("M"); conf.append("F"); nature.append(None); comment.append(None)
            continue
        if u < 0.014:  # withheld cells: primary (C) and secondary (D) suppression
            values.append(None); lower.append(None); upper.append(None)
            obs_status.append("A"); conf.append("C" if u < 0.013 else "D"); nature.append("C")
            comment.append("Fewer than 10 respondents" if u < 0.013 else "Secondary suppression")
            continue
        v = round(r_uniform(0.0, 100.0), 1) if unit_list[j] == "PT" else round(r_lognorm(3.0, 1.5), 2)
        values.append(v)
        if u > 0.9:
            lower.append(round(v * 0.9, 2)); upper.append(min(100.0, round(v * 1.1, 2)) if unit_list[j] == "PT" else round(v * 1.1, 2))
        else:
            lower.append(None); upper.append(None)
        est = u < 0.06
        obs_status.append("E" if est else "A"); conf.append("F"); nature.append("E" if est else "C"); comment.append(None)
    const = lambda v: pa.repeat(pa.scalar(v, pa.string()), n)  # noqa: E731
    arrays = []
    for name, typ, _ in COLUMNS:
        if name in cols:
            arrays.append(cols[name])
        elif name == "indicator":
            arrays.append(const(ind["code"]))
        elif name == "ref_area":
            arrays.append(const("AM"))
        elif name == "freq":
            arrays.append(const(agency["periodicity"]))
        elif name == "reporting_type":
            arrays.append(const("N"))
        elif name in BREAKDOWN_CODELIST:
            arrays.append(const("_T"))
        elif name == "obs_value":
            arrays.append(pa.array(values, F))
        elif name == "unit_measure":
            arrays.append(unit_col)
        elif name == "unit_mult":
            arrays.append(mult_col)
        elif name == "obs_status":
            arrays.append(pa.array(obs_status, S))
        elif name == "conf_status":
            arrays.append(pa.array(conf, S))
        elif name == "nature":
            arrays.append(pa.array(nature, S))
        elif name == "lower_bound":
            arrays.append(pa.array(lower, F))
        elif name == "upper_bound":
            arrays.append(pa.array(upper, F))
        elif name == "comment_obs":
            arrays.append(pa.array(comment, S))
    t = pa.Table.from_arrays(arrays, schema=SCHEMA)
    counted = pc.not_equal(t["obs_status"], "M")
    produced = pc.any(counted).as_py()
    md = pc.any(pc.and_(counted, pc.invert(pc.is_in(t["migratory_status"], pa.array(["_T", "_Z"]))))).as_py()
    return t, bool(produced), bool(md)


def toml_str(s: str) -> str:
    return json.dumps(s)  # a JSON string is a valid TOML basic string for these values


def generator_digest() -> str:
    """A digest of the generator's code (not of the whole script), so that editing the
    measurements does not regenerate the data."""
    import inspect
    parts = [inspect.getsource(f) for f in (load_catalogue, plan_federation, periods_for, real_codes,
                                            indicator_table, generate)]
    parts.append(repr((COLUMNS, BREAKDOWN_CODELIST, FILLERS, MIGRATORY_SETS)))
    parts += [(DATA / n).read_text() for n in ("codelists.csv", "series.csv", "indicators.csv")]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def generate(fed: Path, seed: int, rows: int, n_agencies: int) -> dict:
    """Writes the federation under `fed` and returns its plan with the truth the generator
    planted (indicators produced and migration-disaggregated)."""
    params = {"seed": seed, "rows": rows, "agencies": n_agencies, "version": GENERATOR_VERSION,
              "generator": generator_digest()}
    stamp = fed / "plan.json"
    if stamp.is_file():
        old = json.loads(stamp.read_text())
        if old.get("params") == params:
            log(f"reusing the generated federation in {fed}")
            return old
    if fed.exists():
        shutil.rmtree(fed)
    fed.mkdir(parents=True)
    codelists, series_units, plan = plan_federation(seed, rows, n_agencies)
    rng = random.Random(seed + 1)
    t0 = time.perf_counter()
    truth = {}
    for ag in plan:
        d = fed / ag["agency"]
        d.mkdir()
        path = d / f"{ag['dataset']}.parquet"
        with pq.ParquetWriter(path, SCHEMA, compression="snappy") as w:
            for ind in ag["indicators"]:
                t, produced, md = indicator_table(ind, ag, codelists, series_units, rng)
                w.write_table(t, row_group_size=1 << 17)
                truth[ind["code"]] = {"goal": ind["goal"], "relevant": ind["relevant"], "produced": produced,
                                      "migration_disaggregated": md, "agency": ag["agency"], "kind": ind["kind"]}
        periods = periods_for(ag["periodicity"])
        codes = [i["code"] for i in ag["indicators"]]
        manifest = "\n".join([
            "# SYNTHETIC benchmark data (bench/figures.py): invented numbers, not official statistics.",
            f"agency = {toml_str(ag['agency'])}",
            f"dataset = {toml_str(ag['dataset'])}",
            f"title = {toml_str(('Synthetic SDG indicators, goals ' if len(ag['goals']) > 1 else 'Synthetic SDG indicators, goal ') + ', '.join(map(str, ag['goals'])))}",
            "indicators = [" + ", ".join(toml_str(c) for c in codes) + "]",
            f"periodicity = {toml_str(ag['periodicity'])}",
            "",
            "[reference_period]",
            f"start = {toml_str(periods[0])}",
            f"end = {toml_str(periods[-1])}",
            "",
            "[metadata]",
            f"data_sources = {toml_str('Synthetic administrative register and survey')}",
            f"periodicity = {toml_str('Quarterly' if ag['periodicity'] == 'Q' else 'Annual')}",
            f"lead_actor = {toml_str(ag['agency'])}",
            f"comments = {toml_str('Generated with seed %d by bench/figures.py' % seed)}",
            "",
        ])
        (d / f"{ag['dataset']}.manifest.toml").write_text(manifest)
        agent = "\n".join([
            f"# sdgx agent for the synthetic benchmark agency {ag['agency']} (bench/figures.py).",
            f"agency = {toml_str(ag['agency'])}",
            "# Plaintext: the benchmark coordinator runs with insecure_plaintext_publish; the port is",
            "# chosen at start-up and given as SDGX_COORDINATOR=http://127.0.0.1:<port>.",
            'coordinator = "http://127.0.0.1:50051"',
            "batch_size = 65536",
            "max_problems = 100",
            "",
            "[[dataset]]",
            f"manifest = {toml_str(ag['dataset'] + '.manifest.toml')}",
            f"source = {toml_str(ag['dataset'] + '.parquet')}",
            'format = "parquet"',
            "",
        ])
        (d / "agent.toml").write_text(agent)
        n = sum(i["rows"] for i in ag["indicators"])
        log(f"  {ag['agency']} {ag['dataset']}: {len(codes)} indicators, {n} rows, "
            f"{path.stat().st_size / 1e6:.1f} MB ({time.perf_counter() - t0:.0f} s)")
    out = {"params": params, "plan": [{k: v for k, v in ag.items() if k != "indicators"} | {
        "indicators": [i["code"] for i in ag["indicators"]], "rows": sum(i["rows"] for i in ag["indicators"])}
        for ag in plan], "truth": truth, "generate_secs": time.perf_counter() - t0}
    stamp.write_text(json.dumps(out, indent=1))
    return out


def expected_figure(truth: dict) -> dict:
    """The headline and its variants as planted by the generator (global framework: every
    indicator is in scope)."""
    n = sum(1 for t in truth.values() if t["migration_disaggregated"])
    d = sum(1 for t in truth.values() if t["produced"])
    rn = sum(1 for t in truth.values() if t["relevant"] and t["migration_disaggregated"])
    rd = sum(1 for t in truth.values() if t["relevant"])
    return {"numerator": n, "denominator": d, "relevant_numerator": rn, "relevant_denominator": rd,
            "all_numerator": n, "all_denominator": len(truth)}


# ---------------------------------------------------------------------------------------------
# 2. Coordinator and publication
# ---------------------------------------------------------------------------------------------

class Coordinator:
    def __init__(self, binary: Path, config: Path, logdir: Path):
        self.stdout_log = open(logdir / "coordinator.stdout", "w")
        self.stderr_log = open(logdir / "coordinator.stderr", "w")
        cmd = [str(binary), "serve", "--config", str(config), "--flight-addr", "127.0.0.1:0",
               "--analyst-flight-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr_log, text=True)
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            raise SystemExit(f"the coordinator exited ({self.proc.returncode}) before printing its addresses; "
                             f"see {logdir / 'coordinator.stderr'}")
        self.addrs = json.loads(line)
        self.stdout_log.write(line)
        self._drain = threading.Thread(target=self._copy, daemon=True)
        self._drain.start()

    def _copy(self):
        for line in self.proc.stdout:
            self.stdout_log.write(line)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def status(self) -> dict[str, int]:
        out = {}
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0]) * 1024
        return out

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._drain.join(timeout=5)
        self.stdout_log.close()
        self.stderr_log.close()


def write_coordinator_config(path: Path, plan: dict, token_sha: str, timeout: int, small: int = 0) -> None:
    lines = [
        "# Coordinator of the synthetic benchmark federation (bench/figures.py); global framework only.",
        'data_dir = "coordinator"',
        "# The synthetic agencies report national figures for Armenia (ref_area AM).",
        'national_area = "AM"',
        "max_problems = 100",
        "query_memory_limit = 4294967296",
        f"query_timeout_secs = {timeout}",
        "query_max_rows = 1000000",
        "",
        "[security]",
        "# Development only: plaintext publications, the manifest's agency trusted.",
        "insecure_plaintext_publish = true",
        "auth_max_failures = 10",
        "auth_window_secs = 300",
        "",
        "[[security.token]]",
        'name = "bench-reader"',
        'role = "reader"',
        f'sha256 = "{token_sha}"',
        "",
    ]
    for ag in plan["plan"]:
        lines += ["[[security.agency]]", f"id = {toml_str(ag['agency'])}",
                  f"name = {toml_str('Synthetic agency ' + ag['agency'])}",
                  f"datasets = [{toml_str(ag['dataset'])}]", ""]
    if small:  # the agency of the small publications timed at the end (bench/figures.py small_commits)
        lines += ["[[security.agency]]", f"id = {toml_str(SMALL_AGENCY)}", 'name = "Small publications (benchmark)"',
                  "datasets = [" + ", ".join(toml_str(small_dataset(i)) for i in range(small)) + "]", ""]
    lines += ["[transport]", "max_message_size = 67108864", "stream_window = 16777216",
              "connection_window = 33554432", "tcp_nodelay = true", ""]
    path.write_text("\n".join(lines))


def run_agent(binary: Path, agent_toml: Path, sub: str, env_extra: dict | None = None) -> tuple[float, str]:
    env = dict(os.environ, **(env_extra or {}))
    t0 = time.perf_counter()
    p = subprocess.run([str(binary), sub, "--config", str(agent_toml)], capture_output=True, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        raise SystemExit(f"sdgx-agent {sub} --config {agent_toml} failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return dt, p.stdout


# ---------------------------------------------------------------------------------------------
# 3. Querying sdgx
# ---------------------------------------------------------------------------------------------

class FlightSql:
    """ADBC Flight SQL connections to the analysts' port."""

    def __init__(self, addr: str, token: str):
        self.uri = f"grpc://{addr}"
        self.token = token
        self.mode = None

    def connect(self):
        import adbc_driver_flightsql.dbapi as fsql
        if self.mode in (None, "basic"):
            try:
                conn = fsql.connect(self.uri, db_kwargs={"username": "reader", "password": self.token})
                if self.mode is None:
                    cur = conn.cursor()
                    cur.execute("SELECT 1")
                    cur.fetch_arrow_table()
                    cur.close()
                    self.mode = "basic"
                return conn
            except Exception as e:  # noqa: BLE001 - fall back to the bearer header
                if self.mode == "basic":
                    raise
                log(f"Flight SQL with Basic auth failed ({str(e).splitlines()[0]}); trying the bearer header")
        conn = fsql.connect(self.uri, db_kwargs={"adbc.flight.sql.authorization_header": f"Bearer {self.token}"})
        self.mode = "bearer"
        return conn


def fetch(conn, sql: str) -> pa.Table:
    cur = conn.cursor()
    try:
        cur.execute(sql)
        return cur.fetch_arrow_table()
    finally:
        cur.close()


def http_json(addr: str, token: str, path: str, body: dict | None = None, timeout: float = 600):
    req = urllib.request.Request(f"http://{addr}{path}", method="POST" if body is not None else "GET",
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


def timed(fn, reps: int) -> tuple[list[float], object]:
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return times, out


def cpu_busy(interval: float = 2.0) -> float:
    """The fraction of the machine's CPU time spent busy over `interval` seconds."""
    def sample():
        f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return sum(f), f[3] + (f[4] if len(f) > 4 else 0)
    t0, i0 = sample()
    time.sleep(interval)
    t1, i1 = sample()
    return 1 - (i1 - i0) / max(1, t1 - t0)


def wait_idle(max_secs: float, threshold: float = 0.2) -> float:
    """Waits (at most `max_secs`) until the machine is nearly idle, so that other work (a
    compiler, say) does not distort the timings; returns the last busy fraction seen."""
    deadline = time.monotonic() + max_secs
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        log(f"the machine is {busy:.0%} busy with other work: waiting for it to settle")
        busy = cpu_busy(5.0)
    return busy


# ---------------------------------------------------------------------------------------------
# 4. DuckDB baseline
# ---------------------------------------------------------------------------------------------

def delta_files(store: Path) -> list[str]:
    """The data files current in the Delta table, from its log's add and remove actions."""
    current: dict[str, bool] = {}
    logdir = store / "_delta_log"
    if list(logdir.glob("*.checkpoint*.parquet")):
        log("note: the Delta log has a checkpoint; reading only the JSON commits after it is not implemented, "
            "reading every JSON commit")
    for f in sorted(logdir.glob("*.json")):
        for line in f.read_text().splitlines():
            a = json.loads(line)
            if "add" in a:
                current[a["add"]["path"]] = True
            elif "remove" in a:
                current.pop(a["remove"]["path"], None)
    from urllib.parse import unquote
    return sorted(str(store / unquote(p)) for p in current)


def duckdb_setup(indicators: pa.Table, threads: int):
    """A DuckDB connection holding the framework's indicator list (exported from sdgx: a few
    hundred rows) as a table; the observations are read from the Parquet files by each query."""
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    for setting in ("enable_object_cache", "parquet_metadata_cache"):  # keep Parquet footers between queries
        try:
            con.execute(f"SET {setting} = true")
        except Exception:  # noqa: BLE001 - an older or newer DuckDB without it
            pass
    con.register("indicators_arrow", indicators)
    con.execute("CREATE TABLE indicators AS SELECT indicator, goal, in_scope, migration_relevant FROM indicators_arrow")
    con.unregister("indicators_arrow")
    return con


def duckdb_headline_sqls(files: list[str]) -> dict[str, str]:
    """The headline computed from its definition (coordinator/src/figures/mod.rs
    HEADLINE_DEFINITION, docs/figures.md), written for DuckDB: the observations that count
    (obs_status <> 'M'; no window) are aggregated to one row per indicator first, then joined
    with the in-scope indicator list. Several equivalent formulations; the benchmark times each
    and keeps the fastest."""
    src = "read_parquet([" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "])"
    md = "migratory_status NOT IN ('_T', '_Z')"
    per_indicator = {
        "bool_or": f"SELECT indicator, BOOL_OR({md}) AS md FROM {src} WHERE obs_status <> 'M' GROUP BY indicator",
        "max_int": f"SELECT indicator, MAX(CASE WHEN {md} THEN 1 ELSE 0 END) = 1 AS md FROM {src} "
                   "WHERE obs_status <> 'M' GROUP BY indicator",
        "distinct": f"SELECT indicator, BOOL_OR(md) AS md FROM (SELECT DISTINCT indicator, {md} AS md FROM {src} "
                    "WHERE obs_status <> 'M') GROUP BY indicator",
    }
    out = {}
    for name, p in per_indicator.items():
        for group, key in ((None, "'national'"), ("goal", "CAST(i.goal AS VARCHAR)")):
            out[f"{name}{'' if group is None else '_by_goal'}"] = f"""
                WITH p AS ({p})
                SELECT key, n AS numerator, d AS denominator, CAST(n AS DOUBLE) / NULLIF(d, 0) AS share,
                       rn AS relevant_numerator, rd AS relevant_denominator, CAST(rn AS DOUBLE) / NULLIF(rd, 0) AS relevant_share,
                       n AS all_numerator, s AS all_denominator, CAST(n AS DOUBLE) / NULLIF(s, 0) AS all_share
                FROM (SELECT {key} AS key,
                             COUNT(*) FILTER (WHERE p.md) AS n,
                             COUNT(p.indicator) AS d,
                             COUNT(*) FILTER (WHERE p.md AND i.migration_relevant) AS rn,
                             COUNT(*) FILTER (WHERE i.migration_relevant) AS rd,
                             COUNT(*) AS s
                      FROM indicators i LEFT JOIN p ON p.indicator = i.indicator
                      WHERE i.in_scope {'' if group is None else 'GROUP BY i.goal'}) t"""
    return out


FIGURE_COLS = ["key", "numerator", "denominator", "relevant_numerator", "relevant_denominator",
               "all_numerator", "all_denominator"]


def figure_rows(t: pa.Table) -> list[tuple]:
    d = t.to_pydict()
    rows = [tuple(str(d[c][i]) if c == "key" else int(d[c][i]) for c in FIGURE_COLS) for i in range(t.num_rows)]
    return sorted(rows, key=lambda r: (len(r[0]), r[0]))


# ---------------------------------------------------------------------------------------------
# 5. Latency under concurrency
# ---------------------------------------------------------------------------------------------

def percentile(sorted_lat: list[float], p: float) -> float:
    """The nearest-rank percentile (p99 of fewer than 100 calls is the slowest call)."""
    if not sorted_lat:
        return float("nan")
    return sorted_lat[min(len(sorted_lat) - 1, max(0, math.ceil(p / 100 * len(sorted_lat)) - 1))]


def concurrent(make, call, clients: int, calls_per_client: int, budget: float, close=None) -> dict:
    """`clients` threads, each with its own client from `make()`, each making up to
    `calls_per_client` calls of `call(client)` back to back, all starting together; a client
    starts no new call once `budget` seconds have passed (it makes at least one). Returns the
    latency percentiles over every call."""
    conns = [make() for _ in range(clients)]
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = [0.0]
    barrier = threading.Barrier(clients, action=lambda: start.__setitem__(0, time.perf_counter()))

    def worker(conn):
        mine = []
        barrier.wait()
        for k in range(calls_per_client):
            if k and time.perf_counter() - start[0] > budget:
                break
            t0 = time.perf_counter()
            try:
                call(conn)
            except Exception as e:  # noqa: BLE001 - reported
                with lock:
                    errors.append(str(e).splitlines()[0] if str(e) else repr(e))
                continue
            mine.append(time.perf_counter() - t0)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start[0]
    for c in conns:
        (close or (lambda c: c.close()))(c)
    lat.sort()
    return {"clients": clients, "calls": len(lat), "errors": len(errors), "first_error": errors[0] if errors else None,
            "p50": percentile(lat, 50), "p99": percentile(lat, 99), "max": lat[-1] if lat else float("nan"),
            "throughput": len(lat) / wall if wall else float("nan"), "wall": wall}


class HttpClient:
    """One kept-alive HTTP/1.1 connection with the reader's token (reconnects once if the
    server closed it)."""

    def __init__(self, addr: str, token: str):
        import http.client
        host, port = addr.rsplit(":", 1)
        self._mk = lambda: http.client.HTTPConnection(host, int(port), timeout=900)  # noqa: E731
        self.conn = self._mk()
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> bytes:
        import http.client
        for attempt in (0, 1):
            try:
                self.conn.request("GET", path, headers=self.headers)
                r = self.conn.getresponse()
                body = r.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.conn.close()
                self.conn = self._mk()
                if attempt:
                    raise
        if r.status != 200:
            raise RuntimeError(f"GET {path}: HTTP {r.status}: {body[:200]!r}")
        return body

    def close(self):
        self.conn.close()


# ---------------------------------------------------------------------------------------------
# 6. Small publications
# ---------------------------------------------------------------------------------------------

SMALL_AGENCY = "bench-small"


def small_dataset(i: int) -> str:
    return f"small-{i + 1:03d}"


def small_commits(addr: str, fed: Path, plan: dict, n: int, rows: int) -> dict:
    """Publishes `n` small publications (`rows` rows each, taken from the first agency's file)
    of `n` distinct new datasets, one after the other over one plaintext Flight connection, and
    times each do_put from its first message to the acknowledgement."""
    import pyarrow.flight as fl
    ag = plan["plan"][0]
    f = pq.ParquetFile(fed / ag["agency"] / f"{ag['dataset']}.parquet")
    rows_t = pa.Table.from_batches([next(f.iter_batches(batch_size=rows))], schema=f.schema_arrow)
    periods = periods_for(ag["periodicity"])
    client = fl.FlightClient(f"grpc+tcp://{addr}")
    lat, acks = [], []
    for i in range(n):
        manifest = {"agency": SMALL_AGENCY, "dataset": small_dataset(i),
                    "title": f"Small benchmark publication {i + 1} (synthetic)",
                    "indicators": sorted(set(rows_t["indicator"].to_pylist())),
                    "reference_period": {"start": periods[0], "end": periods[-1]},
                    "periodicity": ag["periodicity"], "metadata": {}}
        cmd = json.dumps({"sdgx": "publish", "contract_version": "1", "manifest": manifest}).encode()
        t0 = time.perf_counter()
        writer, reader = client.do_put(fl.FlightDescriptor.for_command(cmd), rows_t.schema)
        writer.write_table(rows_t)
        writer.done_writing()
        buf = reader.read()
        dt = time.perf_counter() - t0
        writer.close()
        ack = json.loads(buf.to_pybytes())
        if ack.get("duplicate") or ack.get("rows") != rows_t.num_rows:
            raise SystemExit(f"small publication {i}: unexpected acknowledgement {ack}")
        lat.append(dt)
        acks.append(ack)
    client.close()
    s = sorted(lat)
    return {"calls": n, "rows": rows_t.num_rows, "p50": percentile(s, 50), "p99": percentile(s, 99), "max": s[-1],
            "first": lat[0], "each": lat}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def fmt_s(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if x < 0.01:
        return f"{x * 1000:.2f} ms"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def fmt_rows(n: int) -> str:
    return f"{n / 1e6:g} M" if n >= 1_000_000 else f"{n:,}"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        mem = int(Path("/proc/meminfo").read_text().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem / 2**30:.0f} GiB RAM, {platform.system()} {platform.release()}"


def git_commit() -> str:
    try:
        # The last commit that changed the code measured (a commit of bench/ alone changes nothing).
        c = subprocess.run(["git", "log", "-1", "--format=%h", "--", "coordinator", "schemas", "agent", "tests",
                            "Cargo.toml", "Cargo.lock"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "coordinator", "schemas", "agent"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return c + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def update_benchmarks(intro: str, label: str, text: str) -> None:
    """Writes `text` as the subsection `### label` of SECTION in BENCHMARKS.md (replacing a
    subsection of the same label, keeping the others) and `intro` under the section's title."""
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text() if path.is_file() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == SECTION), None)
    if start is None:
        before, subs, after = old.rstrip("\n") + "\n\n", [], ""
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        before, after = "".join(lines[:start]), "".join(lines[end:])
        subs, cur = [], None
        for l in lines[start + 1:end]:
            if l.startswith("### "):
                cur = [l.rstrip("\n")[4:], [l]]
                subs.append(cur)
            elif cur is not None:
                cur[1].append(l)
        subs = [(lab, "".join(body).rstrip("\n") + "\n") for lab, body in subs]
    head = f"### {label}"
    new_sub = head + "\n\n" + text.rstrip("\n") + "\n"
    if any(lab == label for lab, _ in subs):
        subs = [(lab, new_sub if lab == label else body) for lab, body in subs]
    else:
        subs.append((label, new_sub))
    section = SECTION + "\n\n" + intro.rstrip("\n") + "\n\n" + "\n".join(body for _, body in subs)
    path.write_text(before + section + ("\n" + after if after else ""))


# ---------------------------------------------------------------------------------------------
# One size
# ---------------------------------------------------------------------------------------------

def run_size(args, rows: int, agent_bin: Path, coord_bin: Path) -> dict:
    t_run = time.perf_counter()
    work = args.work.resolve() / f"figures-{rows}"
    fed = work / "federation"
    work.mkdir(parents=True, exist_ok=True)
    log(f"== {rows:,} observations: generating for {args.agencies} agencies (seed {args.seed}) in {fed}")
    plan = generate(fed, args.seed, rows, args.agencies)
    expected = expected_figure(plan["truth"])
    log(f"planted: {expected}")
    agents = [fed / ag["agency"] / "agent.toml" for ag in plan["plan"]]
    results: dict = {"rows": sum(ag["rows"] for ag in plan["plan"]), "agencies": len(agents),
                     "generate_secs": plan.get("generate_secs")}
    if args.check:
        t = 0.0
        for a in agents:
            dt, _ = run_agent(agent_bin, a, "check")
            t += dt
        results["check_secs"] = t
        log(f"sdgx-agent check: every dataset valid ({t:.1f} s in total)")

    run_dir = work / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir()
    token = "sdgx-bench-" + secrets.token_hex(24)
    config = run_dir / "coordinator.toml"
    write_coordinator_config(config, plan, "sha256:" + hashlib.sha256(token.encode()).hexdigest(), timeout=900,
                             small=args.small_commits)
    coord = Coordinator(coord_bin, config, run_dir)
    log(f"coordinator pid {coord.pid}: {coord.addrs}")
    http_addr = coord.addrs["http"]
    try:
        # --- publish ---
        results["busy_before_publish"] = wait_idle(args.wait_idle)
        pub = []
        t0 = time.perf_counter()
        for a, ag in zip(agents, plan["plan"]):
            dt, out = run_agent(agent_bin, a, "publish", {"SDGX_COORDINATOR": f"http://{coord.addrs['flight']}"})
            if "published: publication" not in out:
                raise SystemExit(f"{a}: unexpected output\n{out}")
            pub.append(dt)
            log(f"  published {ag['agency']} ({ag['rows']} rows) in {dt:.2f} s")
        results["publish_secs"] = time.perf_counter() - t0
        results["publish_each"] = pub
        results["rss_after_publish"] = coord.status()  # VmHWM now: the peak of the ingest
        log(f"published in {results['publish_secs']:.1f} s; coordinator peak RSS "
            f"{results['rss_after_publish']['VmHWM'] / 2**20:.0f} MiB")
        store = run_dir / "coordinator" / "store"

        # --- the store's data files, from the Delta log ---
        t0 = time.perf_counter()
        files = delta_files(store)
        results["delta_replay_secs"] = time.perf_counter() - t0
        globbed = sorted(str(p) for p in store.glob("agency=*/dataset=*/*.parquet"))
        if files != globbed:
            raise SystemExit(f"the Delta log lists {len(files)} files, the store holds {len(globbed)}")
        results["files"] = len(files)
        results["store_bytes"] = sum(Path(f).stat().st_size for f in files)

        results["busy_before_queries"] = wait_idle(args.wait_idle)

        # --- sdgx: Flight SQL views ---
        queries = {"share": "SELECT * FROM migration_disaggregation_share",
                   "by_goal": "SELECT * FROM migration_disaggregation_by_goal"}
        sdgx_tables = {}
        fs = FlightSql(coord.addrs["analyst_flight"], token)
        conn = fs.connect()
        results["flightsql_auth"] = fs.mode
        indicators = fetch(conn, "SELECT * FROM indicators")
        counts = fetch(conn, "SELECT count(*) AS n FROM observations").column(0)[0].as_py()
        if counts != results["rows"]:
            raise SystemExit(f"observations holds {counts} rows, expected {results['rows']}")
        for name, sql in queries.items():
            times, tbl = timed(lambda: fetch(conn, sql), args.reps + 1)
            results[f"fs_{name}_first"] = times[0]
            results[f"fs_{name}"] = statistics.median(times[1:])
            sdgx_tables[name] = tbl
            log(f"Flight SQL {name}: median {fmt_s(results[f'fs_{name}'])} (first {fmt_s(times[0])})")
        conn.close()

        # --- sdgx: every figure over HTTP, 1 and N concurrent clients ---
        names = http_json(http_addr, token, "/api/v1/figures")["figures"]
        results["figure_names"] = names
        results["figures"] = {}
        figs = {}
        for name in names:
            path = f"/api/v1/figures/{name}"
            c = HttpClient(http_addr, token)
            t0 = time.perf_counter()
            body = c.get(path)
            first = time.perf_counter() - t0
            c.close()
            figs[name] = json.loads(body)
            cell = {"first": first, "bytes": len(body)}
            for k in args.clients:
                total = args.http_calls if k == 1 else max(k, args.http_calls_concurrent)
                cell[str(k)] = concurrent(lambda: HttpClient(http_addr, token), lambda cl: cl.get(path), k,
                                          max(1, total // k), args.budget)
                m = cell[str(k)]
                log(f"  GET {path}: {k} client{'s' if k > 1 else ''}, {m['calls']} calls: p50 {fmt_s(m['p50'])}, "
                    f"p99 {fmt_s(m['p99'])}, max {fmt_s(m['max'])}" + (f", {m['errors']} errors ({m['first_error']})" if m["errors"] else ""))
            results["figures"][name] = cell
        results["rss_after_http"] = coord.status()

        # --- sdgx-coordinator figures (CLI, reads the store itself) ---
        def cli():
            p = subprocess.run([str(coord_bin), "figures", "--config", str(config), "--json"], capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"sdgx-coordinator figures failed:\n{p.stderr}")
            return p.stdout
        times, cli_out = timed(cli, args.cli_reps)
        results["cli_figures"] = statistics.median(times)
        results["cli_figures_each"] = times
        log(f"sdgx-coordinator figures --json: median {fmt_s(results['cli_figures'])} of {times}")

        # --- DuckDB on the same files, from the definition ---
        import duckdb
        con = duckdb_setup(indicators, threads=os.cpu_count() or 2)
        duck = {}
        for name, sql in duckdb_headline_sqls(files).items():
            times, tbl = timed(lambda: con.sql(sql).to_arrow_table(), args.reps + 1)
            duck[name] = {"first": times[0], "median": statistics.median(times[1:]), "rows": figure_rows(tbl)}
            log(f"DuckDB {name}: median {fmt_s(duck[name]['median'])} (first {fmt_s(times[0])})")
        con.close()
        results["duckdb_version"] = duckdb.__version__
        results["duck"] = {k: {kk: vv for kk, vv in v.items() if kk != "rows"} for k, v in duck.items()}
        for group, suffix in (("share", ""), ("by_goal", "_by_goal")):
            cands = {k[: len(k) - len(suffix)] if suffix else k: v for k, v in duck.items()
                     if (k.endswith("_by_goal") if suffix else not k.endswith("_by_goal"))}
            best = min(cands, key=lambda k: cands[k]["median"])
            results[f"duck_{group}"] = cands[best]["median"]
            results[f"duck_{group}_first"] = cands[best]["first"]
            results[f"duck_{group}_query"] = best
            want = figure_rows(sdgx_tables[group])
            for k, v in cands.items():
                if v["rows"] != want:
                    raise SystemExit(f"MISMATCH in {group} (DuckDB {k}):\n sdgx   {want}\n duckdb {v['rows']}")
        results["duck_share_sql"] = " ".join(duckdb_headline_sqls(["<files>"])[results["duck_share_query"]].split())

        # --- agreement ---
        national = dict(zip(FIGURE_COLS, figure_rows(sdgx_tables["share"])[0]))
        for k, v in expected.items():
            if national[k] != v:
                raise SystemExit(f"MISMATCH with the planted data: {k} = {national[k]}, planted {v}")
        cli_fig, _ = json.JSONDecoder().raw_decode(cli_out.lstrip())  # the first of the figures printed
        for who, f in [("GET /api/v1/figures", figs["migration-disaggregation-share"]), ("sdgx-coordinator figures", cli_fig)]:
            if (f.get("numerator"), f.get("denominator")) != (national["numerator"], national["denominator"]):
                raise SystemExit(f"MISMATCH: {who} says {f.get('numerator')}/{f.get('denominator')}")
        rep = figs["reporting-status"]
        if (rep.get("numerator"), rep.get("denominator")) != (expected["denominator"], expected["all_denominator"]):
            raise SystemExit(f"MISMATCH: reporting-status says {rep.get('numerator')}/{rep.get('denominator')}")
        results["figure"] = national
        log(f"agreement: sdgx (Flight SQL, HTTP, CLI), DuckDB and the planted data all give "
            f"{national['numerator']}/{national['denominator']}")

        # --- Flight SQL round trip of a small query ---
        if args.calls:
            per = max(1, args.calls // max(args.clients))
            results["latency"] = concurrent(fs.connect, lambda c: fetch(c, args.latency_sql), max(args.clients), per, args.budget)
            m = results["latency"]
            log(f"Flight SQL {args.latency_sql!r}, {max(args.clients)} clients, {m['calls']} calls: "
                f"p50 {fmt_s(m['p50'])}, p99 {fmt_s(m['p99'])}")

        # --- small publications: commit latency on this store ---
        if args.small_commits:
            results["small"] = small_commits(coord.addrs["flight"], fed, plan, args.small_commits, args.small_rows)
            m = results["small"]
            log(f"{m['calls']} small publications ({m['rows']} rows, distinct datasets): p50 {fmt_s(m['p50'])}, "
                f"p99 {fmt_s(m['p99'])}, max {fmt_s(m['max'])}")
        results["rss_end"] = coord.status()
    finally:
        coord.stop()
    results["run_secs"] = time.perf_counter() - t_run
    (work / "results.json").write_text(json.dumps(results, indent=1, default=str))
    return results


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or ROOT / "target")
    default_bin = Path(os.environ["BENCH_BIN"]) if os.environ.get("BENCH_BIN") else target / "release"
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work", help="scratch directory (default bench/work)")
    ap.add_argument("--sizes", default="1000000,10000000",
                    help="observations in total, one run per size, comma-separated (default 1000000,10000000)")
    ap.add_argument("--rows", type=int, help="a single size (the same as --sizes N)")
    ap.add_argument("--agencies", type=int, default=20, help="agencies, one dataset each (default 20)")
    ap.add_argument("--seed", type=int, default=20240517)
    ap.add_argument("--reps", type=int, default=7, help="repetitions of each Flight SQL and DuckDB query (median reported)")
    ap.add_argument("--clients", default="1,16", help="concurrent HTTP clients per figure, comma-separated (default 1,16)")
    ap.add_argument("--http-calls", type=int, default=200, help="calls of each figure by one client (default 200)")
    ap.add_argument("--http-calls-concurrent", type=int, default=400,
                    help="calls of each figure by the concurrent clients together (default 400)")
    ap.add_argument("--budget", type=float, default=30,
                    help="seconds after which a client starts no new call of a figure (default 30; every client makes one)")
    ap.add_argument("--cli-reps", type=int, default=3, help="runs of `sdgx-coordinator figures --json` (median)")
    ap.add_argument("--calls", type=int, default=400, help="Flight SQL calls of --latency-sql by the concurrent clients (0: skip)")
    ap.add_argument("--latency-sql", default="SELECT count(*) FROM publications")
    ap.add_argument("--small-commits", type=int, default=50, help="small publications of distinct datasets timed (0: skip)")
    ap.add_argument("--small-rows", type=int, default=100, help="rows of each small publication (default 100)")
    ap.add_argument("--bin", type=Path, default=default_bin,
                    help="directory of the sdgx binaries (default $BENCH_BIN, set by figures.sh, or "
                         "$CARGO_TARGET_DIR/release, or target/release)")
    ap.add_argument("--label", help="subsection of BENCHMARKS.md written (default: 'commit <last commit of the Rust code>')")
    ap.add_argument("--generate-only", action="store_true", help="generate the federations and stop")
    ap.add_argument("--check", action="store_true", help="also run `sdgx-agent check` on every dataset first")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    ap.add_argument("--wait-idle", type=float, default=600,
                    help="wait at most this many seconds for the machine to be idle before timing (default 600)")
    args = ap.parse_args()
    args.sizes = [args.rows] if args.rows else [int(s) for s in args.sizes.split(",") if s]
    args.clients = [int(c) for c in args.clients.split(",") if c]
    warnings.filterwarnings("ignore", message="Cannot disable autocommit")
    if args.generate_only:
        for rows in args.sizes:
            generate(args.work.resolve() / f"figures-{rows}" / "federation", args.seed, rows, args.agencies)
        return 0
    agent_bin, coord_bin = args.bin / "sdgx-agent", args.bin / "sdgx-coordinator"
    for b in (agent_bin, coord_bin):
        if not b.is_file():
            raise SystemExit(f"{b} is missing: run cargo build --release --workspace --bins")
    commit = git_commit()
    runs = {}
    for rows in args.sizes:
        runs[rows] = run_size(args, rows, agent_bin, coord_bin)
        log(f"== {rows:,} observations: done in {runs[rows]['run_secs']:.0f} s")
    report(args, runs, commit)
    return 0


def report(args, runs: dict, commit: str) -> None:
    sizes = sorted(runs)
    lo, hi = sizes[0], sizes[-1]
    names = runs[hi]["figure_names"]
    out: list[str] = []
    table = ["| figure | observations | clients | calls | p50 | p99 | max |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name in names:
        for k in args.clients:
            for rows in sizes:
                m = runs[rows]["figures"][name][str(k)]
                err = f" ({m['errors']} errors)" if m["errors"] else ""
                table.append(f"| `{name}` | {fmt_rows(rows)} | {k} | {m['calls']}{err} | {fmt_s(m['p50'])} | "
                             f"**{fmt_s(m['p99'])}** | {fmt_s(m['max'])} |")
    out += table + [""]
    kmax = max(args.clients)
    lines = []
    worst = {rows: max(runs[rows]["figures"][n][str(kmax)]["p99"] for n in names) for rows in sizes}
    lines.append(f"- **Worst figure p99 with {kmax} clients**: " + ", ".join(
        f"{fmt_s(worst[r])} at {fmt_rows(r)}" for r in sizes) + " (goal ≤ 20 ms at 10 M: "
        + ("met" if worst[hi] <= 0.020 else "**not met**") + ")")
    if lo != hi:
        ratios = []
        for name in names:
            a, b = runs[lo]["figures"][name], runs[hi]["figures"][name]
            ratios.append((name, b["1"]["p50"] / a["1"]["p50"] if "1" in a else float("nan"),
                           b[str(kmax)]["p99"] / a[str(kmax)]["p99"]))
        worst_ratio = max(max(r[1], r[2]) for r in ratios)
        lines.append(f"- **{fmt_rows(hi)} / {fmt_rows(lo)}** (goal ≤ 2×; worst {worst_ratio:.1f}×, "
                     + ("met" if worst_ratio <= 2 else "**not met**") + "): " + "; ".join(
                         f"`{n}` p50 (1 client) {p50:.1f}×, p99 ({kmax} clients) {p99:.1f}×" for n, p50, p99 in ratios))
    for rows in sizes:
        r = runs[rows]
        h1 = r["figures"]["migration-disaggregation-share"]["1"]["p50"]
        lines.append(f"- **Headline at {fmt_rows(rows)}, sdgx vs DuckDB** (goal sdgx ≥ 10× faster): Flight SQL "
                     f"`SELECT * FROM migration_disaggregation_share` {fmt_s(r['fs_share'])} (median of {args.reps}; first "
                     f"{fmt_s(r['fs_share_first'])}), HTTP `GET /api/v1/figures/migration-disaggregation-share` "
                     f"{fmt_s(h1)} (p50, 1 client; the whole figure: by goal, agency, year, lists), DuckDB "
                     f"{fmt_s(r['duck_share'])} (median of {args.reps}; first {fmt_s(r['duck_share_first'])}; fastest "
                     f"formulation: `{r['duck_share_query']}`). **DuckDB / sdgx = {r['duck_share'] / r['fs_share']:.2f}× "
                     f"(Flight SQL), {r['duck_share'] / h1:.2f}× (HTTP)**. By goal: Flight SQL {fmt_s(r['fs_by_goal'])}, "
                     f"DuckDB {fmt_s(r['duck_by_goal'])} ({r['duck_by_goal'] / r['fs_by_goal']:.2f}×).")
    lines.append("- **`sdgx-coordinator figures --json`** (the process, end to end: every figure; goal ≤ 1 s at 10 M): "
                 + ", ".join(f"{fmt_s(runs[r]['cli_figures'])} at {fmt_rows(r)}" for r in sizes)
                 + f" (median of {args.cli_reps}).")
    if all("small" in runs[r] for r in sizes):
        s0 = runs[sizes[0]]["small"]
        lines.append(f"- **Small-publication commit** ({s0['calls']} publications of {s0['rows']} rows, each a new "
                     "dataset, one after the other over one plaintext Flight connection, do_put to acknowledgement; "
                     "goal p99 ≤ 20 ms): " + ", ".join(
                         f"p50 {fmt_s(runs[r]['small']['p50'])}, p99 **{fmt_s(runs[r]['small']['p99'])}**, max "
                         f"{fmt_s(runs[r]['small']['max'])} on the {fmt_rows(r)} store" for r in sizes) + ".")
    if all("latency" in runs[r] for r in sizes):
        lines.append(f"- Flight SQL `{args.latency_sql}`, {kmax} clients: " + ", ".join(
            f"p50 {fmt_s(runs[r]['latency']['p50'])}, p99 {fmt_s(runs[r]['latency']['p99'])} at {fmt_rows(r)}" for r in sizes) + ".")
    lines.append("- Publish (20 sequential `sdgx-agent publish`) and coordinator peak RSS (VmHWM) after it, i.e. the "
                 "ingest's peak: " + ", ".join(
                     f"{runs[r]['publish_secs']:.1f} s, {runs[r]['rss_after_publish']['VmHWM'] / 2**20:.0f} MiB at {fmt_rows(r)}"
                     for r in sizes) + "; peak at the end of the run: " + ", ".join(
                     f"{runs[r]['rss_end']['VmHWM'] / 2**20:.0f} MiB" for r in sizes) + ".")
    lines.append("- Store: " + ", ".join(f"{fmt_rows(r)}: {runs[r]['files']} files, {runs[r]['store_bytes'] / 1e6:.0f} MB "
                                          f"Parquet, headline {runs[r]['figure']['numerator']}/{runs[r]['figure']['denominator']}"
                                          for r in sizes)
                 + ". CPU busy with other work just before publishing / querying: " + ", ".join(
                     f"{runs[r]['busy_before_publish']:.0%} / {runs[r]['busy_before_queries']:.0%} at {fmt_rows(r)}" for r in sizes)
                 + ". Run time (without generation): " + ", ".join(f"{runs[r]['run_secs'] / 60:.1f} min at {fmt_rows(r)}" for r in sizes) + ".")
    out += lines
    print("\n".join(out))
    if args.no_write:
        return
    env = "".join(f"{k}={shlex.quote(os.environ[k])} " for k in ("CARGO_TARGET_DIR", "BENCH_NO_BUILD") if os.environ.get(k))
    cmd = env + "bench/figures.sh" + "".join(f" {shlex.quote(x)}" for x in sys.argv[1:])
    label = args.label or f"commit {commit}"
    text = [f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; code at commit {commit}; release build; DuckDB "
            f"{runs[hi]['duckdb_version']}, pyarrow {pa.__version__}. Command:", "", "```sh", cmd, "```", ""] + out
    intro = (
        "Measured by `bench/figures.sh` (`bench/figures.py`), which supersedes the method of the section "
        "\"Figures and Flight SQL (issue 5)\" (kept above as history): there DuckDB ran a translation of sdgx's older join-first views; here it runs the "
        "best query we could write from the definition. For each size, a synthetic federation (seed 20240517; 20 "
        "agencies, one Parquet dataset each, every indicator of the global framework) is published with "
        "`sdgx-agent publish` over plaintext Flight to a fresh release coordinator. Then: every figure listed by "
        "`GET /api/v1/figures` is fetched over HTTP (kept-alive connections, reader token) by 1 client and by 16 "
        "concurrent clients, after one warm-up call; a client starts no new call after the time budget "
        f"({args.budget:g} s), so slow figures have fewer calls (p99 of fewer than 100 calls is the slowest). The "
        "headline is also read as the Flight SQL view `migration_disaggregation_share` (ADBC) and computed by DuckDB "
        "in the same run from the Parquet files the Delta log lists as current (add/remove replayed in Python), "
        "with the in-scope indicator list exported from sdgx as a table: the observations that count "
        "(`obs_status <> 'M'`) aggregated per indicator first (`BOOL_OR(migratory_status NOT IN ('_T', '_Z'))`), "
        "then joined with the indicator list; three equivalent formulations are timed and the fastest kept; all "
        "agree with sdgx and with what the generator planted. `sdgx-coordinator figures --json` is timed as a "
        "process. Last, small publications of new datasets are timed to their acknowledgement.")
    update_benchmarks(intro, label, "\n".join(text))
    log(f"BENCHMARKS.md updated ({SECTION}, ### {label})")


if __name__ == "__main__":
    sys.exit(main())
