#!/usr/bin/env python3
"""Benchmark of the national figures and Flight SQL (issue 5). Not a test.

One run:

1. generates, with a fixed seed, contract observations (10,000,000 by default) for 20
   synthetic agencies, one dataset each, covering every indicator of the global framework
   (schemas/data/*.csv), as Parquet files in the contract's column order and types, with a
   manifest and an agent.toml per agency (cached under the work directory: regenerated only
   when the parameters or this generator change);
2. starts the release coordinator without TLS (plaintext publish, an inline reader token) on a
   fresh store and publishes the 20 datasets with the release agent, one after the other;
3. times the headline figure through sdgx: Flight SQL (ADBC) on the analysts' port, the
   HTTP API, and `sdgx-coordinator figures`;
4. computes the same figure with DuckDB on the Parquet files of the Delta store (the files the
   Delta log lists) and the indicators table exported over Flight SQL, checks that both give
   identical numbers (and that they match what the generator planted), and prints the ratio;
5. measures Flight SQL round-trip latency of a small query with 16 concurrent clients;
6. reads the coordinator's peak RSS (VmHWM);
7. prints a results table and writes the section "## Figures and Flight SQL (issue 5)" of
   BENCHMARKS.md.

Run it with bench/figures.sh (which builds the release binaries when missing and uses the
project's virtualenv); `--help` lists the options.
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
SECTION = "## Figures and Flight SQL (issue 5)"
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


def write_coordinator_config(path: Path, plan: dict, token_sha: str, timeout: int) -> None:
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


def flightsql_ready() -> bool:
    return any("FlightSqlService" in p.read_text() for p in (ROOT / "coordinator" / "src").glob("*.rs"))


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


def share_sql(group: str | None) -> str:
    """coordinator/src/figures/mod.rs share_sql, in DuckDB's dialect (the same text: standard SQL)."""
    key = "'national'" if group is None else f"CAST({group} AS VARCHAR)"
    group_by = "" if group is None else f"GROUP BY {group}"
    return f"""SELECT key, n AS numerator, d AS denominator, CAST(n AS DOUBLE) / NULLIF(d, 0) AS share,
                rn AS relevant_numerator, rd AS relevant_denominator, CAST(rn AS DOUBLE) / NULLIF(rd, 0) AS relevant_share,
                n AS all_numerator, s AS all_denominator, CAST(n AS DOUBLE) / NULLIF(s, 0) AS all_share
         FROM (SELECT {key} AS key,
                 COALESCE(SUM(CASE WHEN migration_disaggregated THEN 1 ELSE 0 END), 0) AS n,
                 COALESCE(SUM(CASE WHEN produced THEN 1 ELSE 0 END), 0) AS d,
                 COALESCE(SUM(CASE WHEN migration_relevant AND migration_disaggregated THEN 1 ELSE 0 END), 0) AS rn,
                 COALESCE(SUM(CASE WHEN migration_relevant THEN 1 ELSE 0 END), 0) AS rd,
                 COUNT(*) AS s
               FROM indicator_production {group_by}) t"""


def duckdb_setup(files: list[str], indicators: pa.Table, threads: int):
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.register("indicators_arrow", indicators)
    con.execute("CREATE TABLE indicators AS SELECT * FROM indicators_arrow")
    con.unregister("indicators_arrow")
    file_list = "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
    con.execute(f"CREATE VIEW observations AS SELECT * FROM read_parquet({file_list}, "
                "hive_partitioning = true, hive_types_autocast = false)")
    # The views of coordinator/src/figures/mod.rs register_views, window = none (predicate TRUE).
    con.execute("""CREATE VIEW figure_observations AS
        SELECT o.* FROM observations o JOIN indicators i ON i.indicator = o.indicator
        WHERE i.in_scope AND o.obs_status <> 'M' AND TRUE""")
    con.execute("""CREATE VIEW indicator_production AS
        SELECT i.indicator, i.goal, i.migration_relevant,
               COUNT(f.indicator) > 0 AS produced,
               COALESCE(BOOL_OR(f.migratory_status NOT IN ('_T', '_Z')), false) AS migration_disaggregated
        FROM indicators i LEFT JOIN figure_observations f ON f.indicator = i.indicator
        WHERE i.in_scope
        GROUP BY i.indicator, i.goal, i.migration_relevant""")
    con.execute(f"CREATE VIEW migration_disaggregation_share AS {share_sql(None)}")
    con.execute(f"CREATE VIEW migration_disaggregation_by_goal AS {share_sql('goal')}")
    return con


FIGURE_COLS = ["key", "numerator", "denominator", "relevant_numerator", "relevant_denominator",
               "all_numerator", "all_denominator"]


def figure_rows(t: pa.Table) -> list[tuple]:
    d = t.to_pydict()
    rows = [tuple(str(d[c][i]) if c == "key" else int(d[c][i]) for c in FIGURE_COLS) for i in range(t.num_rows)]
    return sorted(rows, key=lambda r: (len(r[0]), r[0]))


# ---------------------------------------------------------------------------------------------
# 5. Latency under concurrency
# ---------------------------------------------------------------------------------------------

def concurrent_latency(fs: FlightSql, sql: str, clients: int, calls_per_client: int) -> dict:
    conns = [fs.connect() for _ in range(clients)]
    for c in conns:  # warm each connection (handshake done, first query planned)
        fetch(c, sql)
    lat: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def worker(conn):
        mine = []
        barrier.wait()
        for _ in range(calls_per_client):
            t0 = time.perf_counter()
            try:
                fetch(conn, sql)
            except Exception as e:  # noqa: BLE001 - reported
                with lock:
                    errors.append(str(e).splitlines()[0])
                continue
            mine.append(time.perf_counter() - t0)
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker, args=(c,)) for c in conns]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    for c in conns:
        c.close()
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, max(0, math.ceil(p / 100 * len(lat)) - 1))] if lat else float("nan")

    return {"calls": len(lat), "errors": len(errors), "first_error": errors[0] if errors else None,
            "p50": pct(50), "p99": pct(99), "max": lat[-1] if lat else float("nan"),
            "throughput": len(lat) / wall if wall else float("nan"), "wall": wall}


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

def fmt_s(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


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


def update_benchmarks(text: str) -> None:
    path = ROOT / "BENCHMARKS.md"
    old = path.read_text() if path.is_file() else "# Benchmarks\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip("\n") == SECTION), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text.rstrip("\n") + "\n"
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        new = "".join(lines[:start]) + text.rstrip("\n") + "\n" + ("\n" + "".join(lines[end:]) if end < len(lines) else "")
    path.write_text(new)


# ---------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=ROOT / "bench" / "work", help="scratch directory (default bench/work)")
    ap.add_argument("--rows", type=int, default=10_000_000, help="observations in total (default 10,000,000)")
    ap.add_argument("--agencies", type=int, default=20, help="agencies, one dataset each (default 20)")
    ap.add_argument("--seed", type=int, default=20240517)
    ap.add_argument("--reps", type=int, default=7, help="repetitions of each timed query (median reported)")
    ap.add_argument("--clients", type=int, default=16, help="concurrent Flight SQL clients")
    ap.add_argument("--calls", type=int, default=400, help="Flight SQL calls in the latency test (in total)")
    ap.add_argument("--latency-sql", default="SELECT count(*) FROM publications")
    ap.add_argument("--figure-calls", type=int, default=32,
                    help="calls of the headline query by the concurrent clients (0: skip)")
    ap.add_argument("--bin", type=Path, default=ROOT / "target" / "release", help="directory of the sdgx binaries")
    ap.add_argument("--generate-only", action="store_true", help="generate the federation and stop")
    ap.add_argument("--check", action="store_true", help="also run `sdgx-agent check` on every dataset first")
    ap.add_argument("--no-flightsql", action="store_true", help="skip Flight SQL (export the indicators over HTTP)")
    ap.add_argument("--no-write", action="store_true", help="do not update BENCHMARKS.md")
    ap.add_argument("--wait-idle", type=float, default=600,
                    help="wait at most this many seconds for the machine to be idle before timing (default 600)")
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="Cannot disable autocommit")

    work = args.work.resolve()
    fed = work / "federation"
    work.mkdir(parents=True, exist_ok=True)
    log(f"generating {args.rows} observations for {args.agencies} agencies (seed {args.seed}) in {fed}")
    plan = generate(fed, args.seed, args.rows, args.agencies)
    expected = expected_figure(plan["truth"])
    log(f"planted: {expected}")
    if args.generate_only:
        return 0
    agent_bin, coord_bin = args.bin / "sdgx-agent", args.bin / "sdgx-coordinator"
    for b in (agent_bin, coord_bin):
        if not b.is_file():
            raise SystemExit(f"{b} is missing: run cargo build --release --bins")
    agents = [fed / ag["agency"] / "agent.toml" for ag in plan["plan"]]
    results: dict = {"rows": sum(ag["rows"] for ag in plan["plan"]), "agencies": len(agents)}

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
    write_coordinator_config(config, plan, "sha256:" + hashlib.sha256(token.encode()).hexdigest(), timeout=600)
    coord = Coordinator(coord_bin, config, run_dir)
    log(f"coordinator pid {coord.pid}: {coord.addrs}")
    fs = None
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
        results["rss_after_publish"] = coord.status()
        store = run_dir / "coordinator" / "store"

        # --- the store's data files, from the Delta log ---
        files = delta_files(store)
        globbed = sorted(str(p) for p in store.glob("agency=*/dataset=*/*.parquet"))
        if files != globbed:
            raise SystemExit(f"the Delta log lists {len(files)} files, the store holds {len(globbed)}")
        results["files"] = len(files)
        results["store_bytes"] = sum(Path(f).stat().st_size for f in files)

        results["busy_before_queries"] = wait_idle(args.wait_idle)

        # --- sdgx: Flight SQL ---
        queries = {"share": "SELECT * FROM migration_disaggregation_share",
                   "by_goal": "SELECT * FROM migration_disaggregation_by_goal"}
        sdgx_tables = {}
        use_fs = not args.no_flightsql
        if use_fs and not flightsql_ready():
            log("coordinator/src has no FlightSqlService yet: trying the analysts' port anyway")
        if use_fs:
            fs = FlightSql(coord.addrs["analyst_flight"], token)
            try:
                conn = fs.connect()
                indicators = fetch(conn, "SELECT * FROM indicators")
            except Exception as e:  # noqa: BLE001 - reported, then HTTP is used
                log(f"Flight SQL is not available on the analysts' port: {str(e).splitlines()[0]}")
                results["flightsql_error"] = str(e).splitlines()[0]
                use_fs = False
        if use_fs:
            results["flightsql_auth"] = fs.mode
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
            results["rss_after_flightsql"] = coord.status()
        else:
            rows = http_json(coord.addrs["http"], token, "/api/v1/query", {"sql": "SELECT * FROM indicators"})
            indicators = http_rows_to_table(rows)

        # --- sdgx: HTTP ---
        for name, sql in queries.items():
            times, out = timed(lambda: http_json(coord.addrs["http"], token, "/api/v1/query", {"sql": sql}), args.reps)
            results[f"http_{name}"] = statistics.median(times)
            if name not in sdgx_tables:
                sdgx_tables[name] = http_rows_to_table(out)
        times, fig = timed(lambda: http_json(coord.addrs["http"], token, "/api/v1/figures/migration-disaggregation-share"),
                           max(3, args.reps // 2))
        results["http_figure"] = statistics.median(times)
        log(f"HTTP query share {fmt_s(results['http_share'])}, by goal {fmt_s(results['http_by_goal'])}, "
            f"GET figure {fmt_s(results['http_figure'])}")

        # --- sdgx-coordinator figures (CLI, reads the store itself) ---
        def cli():
            p = subprocess.run([str(coord_bin), "figures", "--config", str(config), "--json"], capture_output=True, text=True)
            if p.returncode != 0:
                raise SystemExit(f"sdgx-coordinator figures failed:\n{p.stderr}")
            return p.stdout
        times, cli_out = timed(cli, 3)
        results["cli_figures"] = statistics.median(times)
        log(f"sdgx-coordinator figures --json: {fmt_s(results['cli_figures'])}")

        # --- DuckDB on the same files ---
        import duckdb
        con = duckdb_setup(files, indicators, threads=os.cpu_count() or 2)
        duck_tables = {}
        for name, sql in queries.items():
            times, tbl = timed(lambda: con.sql(sql).to_arrow_table(), args.reps + 1)
            results[f"duck_{name}_first"] = times[0]
            results[f"duck_{name}"] = statistics.median(times[1:])
            duck_tables[name] = tbl
            log(f"DuckDB {name}: median {fmt_s(results[f'duck_{name}'])} (first {fmt_s(times[0])})")
        con.close()
        results["duckdb_version"] = duckdb.__version__

        # --- agreement ---
        for name in queries:
            a, b = figure_rows(sdgx_tables[name]), figure_rows(duck_tables[name])
            if a != b:
                raise SystemExit(f"MISMATCH in {name}:\n sdgx   {a}\n duckdb {b}")
        national = dict(zip(FIGURE_COLS, figure_rows(sdgx_tables["share"])[0]))
        for k, v in expected.items():
            if national[k] != v:
                raise SystemExit(f"MISMATCH with the planted data: {k} = {national[k]}, planted {v}")
        cli_fig, _ = json.JSONDecoder().raw_decode(cli_out.lstrip())  # the first of the figures printed
        for who, f in [("GET /api/v1/figures", fig), ("sdgx-coordinator figures", cli_fig)]:
            if (f.get("numerator"), f.get("denominator")) != (national["numerator"], national["denominator"]):
                raise SystemExit(f"MISMATCH: {who} says {f.get('numerator')}/{f.get('denominator')}")
        results["figure"] = national
        log(f"agreement: sdgx (Flight SQL{'' if use_fs else ' skipped: HTTP'}), DuckDB, the planted "
            f"data, the HTTP figure and the CLI all give {national['numerator']}/{national['denominator']}")

        # --- latency with concurrent clients ---
        if use_fs:
            results["latency_single"] = concurrent_latency(fs, args.latency_sql, 1, 50)
            log(f"latency (1 client, 50 calls of {args.latency_sql!r}): p50 {fmt_s(results['latency_single']['p50'])}")
            per = max(1, args.calls // args.clients)
            results["latency"] = concurrent_latency(fs, args.latency_sql, args.clients, per)
            log(f"latency ({args.clients} clients, {results['latency']['calls']} calls of {args.latency_sql!r}): "
                f"p50 {fmt_s(results['latency']['p50'])}, p99 {fmt_s(results['latency']['p99'])}")
            if args.figure_calls:
                per = max(1, args.figure_calls // args.clients)
                results["latency_figure"] = concurrent_latency(fs, queries["share"], args.clients, per)
                log(f"latency ({args.clients} clients, {results['latency_figure']['calls']} calls of the headline): "
                    f"p50 {fmt_s(results['latency_figure']['p50'])}, p99 {fmt_s(results['latency_figure']['p99'])}")
        results["rss_end"] = coord.status()
    finally:
        coord.stop()

    (work / "results.json").write_text(json.dumps(results, indent=1, default=str))
    report(args, results, use_fs, expected)
    return 0


def http_rows_to_table(out: dict) -> pa.Table:
    """The JSON of POST /api/v1/query (`columns`, and `rows` as objects without their null
    cells) as an Arrow table."""
    return pa.table({c: [r.get(c) for r in out["rows"]] for c in out["columns"]})


def report(args, r: dict, use_fs: bool, expected: dict) -> None:
    fig = r["figure"]
    share = fig["numerator"] / fig["denominator"] if fig["denominator"] else float("nan")
    ratio = lambda a, b: f"{r[a] / r[b]:.2f}×" if a in r and b in r and r[b] else "–"  # noqa: E731
    pubrows = r["rows"] / r["publish_secs"]
    lat = r.get("latency")
    rows = [
        ("observations / agencies / store files", f"{r['rows']:,} / {r['agencies']} / {r['files']} "
                                                   f"({r['store_bytes'] / 1e6:.0f} MB Parquet)"),
        ("headline (sdgx = DuckDB = planted)", f"{fig['numerator']} / {fig['denominator']} = {share:.1%}; "
                                               f"relevant {fig['relevant_numerator']}/{fig['relevant_denominator']}, "
                                               f"all {fig['all_numerator']}/{fig['all_denominator']}"),
        ("publish 20 datasets (sequential agents)", f"{r['publish_secs']:.1f} s ({pubrows / 1e6:.2f} M rows/s)"),
    ]
    if use_fs:
        rows += [
            ("Flight SQL `migration_disaggregation_share`", f"{fmt_s(r['fs_share'])} (first {fmt_s(r['fs_share_first'])})"),
            ("DuckDB same query, same files", f"{fmt_s(r['duck_share'])} (first {fmt_s(r['duck_share_first'])})"),
            ("ratio sdgx / DuckDB (share)", ratio("fs_share", "duck_share")),
            ("Flight SQL `migration_disaggregation_by_goal`", f"{fmt_s(r['fs_by_goal'])} (first {fmt_s(r['fs_by_goal_first'])})"),
            ("DuckDB same query, same files", f"{fmt_s(r['duck_by_goal'])} (first {fmt_s(r['duck_by_goal_first'])})"),
            ("ratio sdgx / DuckDB (by goal)", ratio("fs_by_goal", "duck_by_goal")),
        ]
    else:
        rows += [
            ("DuckDB `migration_disaggregation_share`", f"{fmt_s(r['duck_share'])}"),
            ("ratio sdgx (HTTP query) / DuckDB (share)", ratio("http_share", "duck_share")),
        ]
    rows += [
        ("HTTP `POST /api/v1/query` share / by goal", f"{fmt_s(r['http_share'])} / {fmt_s(r['http_by_goal'])}"),
        ("HTTP `GET /api/v1/figures/migration-disaggregation-share`", fmt_s(r["http_figure"])),
        ("`sdgx-coordinator figures --json` (process end to end: every figure)", fmt_s(r["cli_figures"])),
    ]
    if lat:
        rows.append((f"Flight SQL latency, {args.clients} clients, {lat['calls']} calls of `{args.latency_sql}`",
                     f"p50 {fmt_s(lat['p50'])}, p99 {fmt_s(lat['p99'])}, max {fmt_s(lat['max'])}, "
                     f"{lat['throughput']:.0f} calls/s" + (f", {lat['errors']} errors" if lat["errors"] else "")))
    one = r.get("latency_single")
    if one:
        rows.append((f"same query, 1 client, {one['calls']} calls", f"p50 {fmt_s(one['p50'])}, p99 {fmt_s(one['p99'])}"))
    lat = r.get("latency_figure")
    if lat:
        rows.append((f"Flight SQL headline query, {args.clients} concurrent clients, {lat['calls']} calls",
                     f"p50 {fmt_s(lat['p50'])}, p99 {fmt_s(lat['p99'])}, {lat['throughput']:.2f} calls/s"
                     + (f", {lat['errors']} errors" if lat["errors"] else "")))
    rows.append(("coordinator peak RSS (VmHWM) after publish / at end",
                 f"{r['rss_after_publish']['VmHWM'] / 2**20:.0f} MiB / {r['rss_end']['VmHWM'] / 2**20:.0f} MiB"))
    rows.append(("CPU busy with other work just before publishing / querying",
                 f"{r['busy_before_publish']:.0%} / {r['busy_before_queries']:.0%}"))
    w = max(len(a) for a, _ in rows)
    print()
    for a, b in rows:
        print(f"{a:<{w}}  {b}")
    if args.no_write:
        return
    cmd = "bench/figures.sh" + "".join(f" {shlex.quote(x)}" for x in sys.argv[1:])
    md = [SECTION, "",
          f"Measured {time.strftime('%Y-%m-%d')} on {machine()}; release build; DuckDB {r['duckdb_version']}, "
          f"pyarrow {pa.__version__}. Command:", "", "```sh", cmd, "```", "",
          f"{r['rows']:,} synthetic observations (seed {args.seed}) from {r['agencies']} agencies, one Parquet dataset "
          "each, covering all 252 indicators of the global framework; published with `sdgx-agent publish` over "
          "plaintext Flight to a fresh local Delta store. sdgx is queried over Flight SQL (ADBC) on the analysts' "
          "port" + ("" if use_fs else " (not available in this run: HTTP was used)") + "; DuckDB runs the same "
          "views (translated from `coordinator/src/figures/mod.rs`) over the Parquet files the Delta log lists, in the "
          f"same run, on the same machine, with {os.cpu_count()} threads. Times are medians of {args.reps} runs "
          "after a first one (shown apart); both sides read the files from the OS page cache.", "",
          "| measure | value |", "| --- | --- |"]
    md += [f"| {a} | {b} |" for a, b in rows]
    md.append("")
    update_benchmarks("\n".join(md))
    log("BENCHMARKS.md updated")


if __name__ == "__main__":
    sys.exit(main())
