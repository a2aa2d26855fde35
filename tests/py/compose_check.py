"""Checks for the compose fault-injection test (scripts/compose-test.sh), from the host, with
clients nobody here wrote: the ADBC Flight SQL driver on the coordinator's analysts' port, and
plain HTTP for the publications log.

    compose_check.py figures   FLIGHT CA TOKEN_FILE              -> the figure views, as JSON
    compose_check.py store     FLIGHT CA TOKEN_FILE              -> version, publications, checks
    compose_check.py acks      FLIGHT CA TOKEN_FILE ACKS_JSON    -> every acknowledgement checked
    compose_check.py history   HTTP TOKEN_FILE                   -> content hash -> commits
    compose_check.py outboxes  STATUS_JSON...                    -> the agents' outboxes summed up
    compose_check.py change    EXAMPLES AGENCY MARKER            -> changes the agency's datasets

and for the three-level test (scripts/compose-system-test.sh), over the HTTP API:
    compose_check.py log       HTTP TOKEN_FILE                   -> the publications log
    compose_check.py approve   HTTP TOKEN_FILE                   -> approves every submitted one
    compose_check.py relayed   NATION NATION_LOG REGION_LOG INDICATORS_CSV
                                          -> each official national publication upstream once
    compose_check.py figures-http HTTP TOKEN_FILE                -> every figure, official view
    compose_check.py areas     REGION_FIGURES NATION:AREA:FIGURES_JSON...
                                          -> the region's figures by area against each nation's

FLIGHT is grpc+tls://127.0.0.1:PORT (the analysts' Flight SQL port, TLS with the national CA,
CA the CA bundle's path); HTTP is http://127.0.0.1:PORT; TOKEN_FILE holds a reader token (read
from the file so it never appears in a command line or a log). Each prints one JSON document;
`store` and `acks` exit 1 when a property fails, naming it.
"""
import json
import sys
import urllib.request

# Every figure view of docs/analysts.md: what an analyst reads.
FIGURE_VIEWS = [
    "indicator_production",
    "migration_disaggregation_share",
    "migration_disaggregation_by_goal",
    "migration_disaggregation_by_agency",
    "migration_disaggregation_by_year",
    "reporting_status",
    "reporting_status_by_goal",
    "reporting_status_by_indicator",
    "observed_breakdowns",
    "disaggregation_status_by_indicator",
    "disaggregation_status_by_goal",
    "disaggregation_status_by_agency",
    "coverage_matrix",
    "migrant_gap",
    "reporting_calendar_status",
    "agency_completeness",
    "reporting_completeness",
]


def connect(uri: str, ca: str, token_file: str, as_of: int | None = None):
    import adbc_driver_flightsql.dbapi as flightsql
    from adbc_driver_flightsql import DatabaseOptions

    token = open(token_file).read().strip()
    kwargs = {
        "username": "compose-test",
        "password": token,
        DatabaseOptions.TLS_ROOT_CERTS.value: open(ca).read(),
    }
    # These checks are about what was accepted (acknowledged), approved or not: the
    # provisional view, chosen with sdgx's call header.
    kwargs["adbc.flight.sql.rpc.call_header.x-sdgx-view"] = "provisional"
    if as_of is not None:
        kwargs["adbc.flight.sql.rpc.call_header.x-sdgx-as-of"] = str(as_of)
    return flightsql.connect(uri, db_kwargs=kwargs)


def rows(conn, sql: str, params=None) -> list[dict]:
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetch_arrow_table().to_pylist()


def canonical(value):
    """Rows as sorted JSON-able lists, so two reads compare equal when their contents do."""
    return sorted(json.dumps(r, sort_keys=True, default=str) for r in value)


def figures(uri: str, ca: str, token_file: str) -> dict:
    conn = connect(uri, ca, token_file)
    out = {view: canonical(rows(conn, f"SELECT * FROM {view}")) for view in FIGURE_VIEWS}
    headline = rows(conn, "SELECT numerator, denominator, share FROM migration_disaggregation_share")[0]
    conn.close()
    return {"headline": headline, "views": out}


def store(uri: str, ca: str, token_file: str) -> dict:
    """The current publications, and whether each is whole: every visible publication's
    observations number its rows, and no observation belongs to a publication not visible."""
    conn = connect(uri, ca, token_file)
    pubs = rows(conn, "SELECT publication_id, agency, dataset, content_hash, rows, store_version FROM publications")
    counts = {
        r["publication_id"]: r["n"]
        for r in rows(conn, "SELECT publication_id, count(*) AS n FROM observations GROUP BY publication_id")
    }
    history = rows(conn, "SELECT DISTINCT publication_id FROM publication_periods")
    conn.close()
    problems = []
    visible = {p["publication_id"] for p in pubs}
    for p in pubs:
        if counts.get(p["publication_id"], 0) != p["rows"]:
            problems.append(f'{p["agency"]}/{p["dataset"]} {p["publication_id"]}: {counts.get(p["publication_id"], 0)} observations, {p["rows"]} rows declared')
    for pid in counts.keys() - visible:
        problems.append(f"{counts[pid]} observations of publication {pid}, which is not visible")
    return {
        "publications": sorted(pubs, key=lambda p: (p["agency"], p["dataset"])),
        "observations": sum(counts.values()),
        "committed_ever": len(history),
        "problems": problems,
    }


def acks(uri: str, ca: str, token_file: str, acks_file: str) -> dict:
    """Every acknowledged publication is in the store: at the store version its acknowledgement
    names, the publication is visible with the acknowledged content hash and all its rows; and
    it is in the history of the current version."""
    acked = json.load(open(acks_file))
    problems = []
    by_version: dict[int, list[dict]] = {}
    for a in acked:
        by_version.setdefault(a["store_version"], []).append(a)
    for version, group in sorted(by_version.items()):
        conn = connect(uri, ca, token_file, as_of=version)
        for a in group:
            pid = a["publication_id"]
            found = rows(conn, "SELECT content_hash, rows FROM publications WHERE publication_id = $1", (pid,))
            n = rows(conn, "SELECT count(*) AS n FROM observations WHERE publication_id = $1", (pid,))[0]["n"]
            label = f'{a["agency"]}/{a["dataset"]} {pid} (acknowledged at version {version})'
            if not found:
                problems.append(f"{label}: not in the store at that version")
            elif found[0]["content_hash"] != a["content_hash"] or found[0]["rows"] != a["rows"]:
                problems.append(f"{label}: stored as {found[0]}, acknowledged as {a['content_hash']} with {a['rows']} rows")
            elif n != a["rows"]:
                problems.append(f"{label}: {n} observations, {a['rows']} rows acknowledged (partial)")
        conn.close()
    conn = connect(uri, ca, token_file)
    history = {r["publication_id"] for r in rows(conn, "SELECT DISTINCT publication_id FROM publication_periods")}
    conn.close()
    for a in acked:
        if a["publication_id"] not in history:
            problems.append(f'{a["agency"]}/{a["dataset"]} {a["publication_id"]}: missing from the current history')
    return {"checked": len(acked), "versions": len(by_version), "problems": problems}


def call(http: str, token_file: str, path: str, body=None):
    """GET (or POST `body` as JSON to) `path` of the coordinator's HTTP API at `http`, with the
    bearer token in `token_file`; the JSON answer."""
    token = open(token_file).read().strip()
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{http}{path}", data=data, headers={"Authorization": f"Bearer {token}"})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)


def history(http: str, token_file: str) -> dict:
    log = call(http, token_file, "/api/v1/publications")
    commits: dict[str, list[str]] = {}
    for p in log["publications"]:
        commits.setdefault(p["content_hash"], []).append(p["publication_id"])
    return {"store_version": log["store_version"], "entries": len(log["publications"]), "commits": commits}


def outboxes(*files: str) -> dict:
    """The agents' outboxes (`sdgx-agent status --json` of each): what is pending or failed,
    every acknowledgement, the states of each content hash, and each dataset's newest
    delivered content."""
    out = {"pending": 0, "failed": [], "acks": [], "by_hash": {}, "newest_sent": {}, "attempts": {}}
    seen = set()
    for f in files:
        status = json.load(open(f))
        entries = status["outbox"]
        if isinstance(entries, dict):
            if "Err" in entries:
                raise SystemExit(f"{f}: {entries['Err']}")
            entries = entries["Ok"]
        for e in sorted(entries, key=lambda e: e["id"]):
            m = e["manifest"]
            label = f'{m["agency"]}/{m["dataset"]}'
            h = m.get("content_hash") or ""
            out["by_hash"].setdefault(h, []).append(e["state"])
            out["attempts"][h] = max(out["attempts"].get(h, 0), e["attempts"])
            if e["state"] == "pending":
                out["pending"] += 1
            elif e["state"] == "failed":
                out["failed"].append(f'{label}: {e.get("last_reply")}')
            elif e["state"] == "sent" and e.get("ack"):
                a = e["ack"]
                out["newest_sent"][label] = a["content_hash"]
                if a["publication_id"] not in seen:
                    seen.add(a["publication_id"])
                    out["acks"].append({"agency": m["agency"], "dataset": m["dataset"], **{k: a[k] for k in ("publication_id", "store_version", "rows", "content_hash", "duplicate")}})
    return out


def change(examples: str, agency: str, marker: str) -> dict:
    """Gives every dataset of `agency` new content without changing any figure: the first
    row's footnote (`comment_obs`) becomes `marker`. Each file is replaced atomically, so an
    agent never reads half of it."""
    import csv
    import glob
    import io
    import os

    changed = []
    for path in sorted(glob.glob(f"{examples}/*/{agency}/*.csv")):
        with open(path, newline="") as f:
            table = list(csv.reader(f))
        column = table[0].index("comment_obs")
        table[1][column] = marker
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(table)
        tmp = f"{path}.tmp"
        with open(tmp, "w", newline="") as f:
            f.write(buf.getvalue())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        changed.append(os.path.basename(path))
    return {"agency": agency, "changed": changed}


def log(http: str, token_file: str) -> dict:
    return call(http, token_file, "/api/v1/publications")


def approve(http: str, token_file: str) -> dict:
    """Approves (release now) every publication the review queue holds."""
    approved = []
    for p in call(http, token_file, "/api/v1/review")["submitted"]:
        d = call(http, token_file, f"/api/v1/publications/{p['publication_id']}/approve", {})
        approved.append({"publication_id": p["publication_id"], "dataset": f"{p['agency']}/{p['dataset']}", "store_version": d["store_version"]})
    return {"approved": approved}


def relayed(nation: str, nation_log: str, region_log: str, indicators_csv: str) -> dict:
    """Every official national publication is in the regional store exactly once: each
    publication the nation approved that has an indicator of the region's (global) framework
    is the origin of exactly one regional publication of agency `nation`, of the dataset
    `<agency>--<dataset>`, and the region holds no other publication of `nation`."""
    import csv

    with open(indicators_csv, newline="") as f:
        framework = {r["indicator"] for r in csv.DictReader(f)}
    national = json.load(open(nation_log))["publications"]
    regional = [p for p in json.load(open(region_log))["publications"] if p["agency"] == nation]
    expected = {
        p["publication_id"]: p
        for p in national
        if p["sign_off"]["status"] == "approved" and framework & set(p["manifest"]["indicators"])
    }
    found: dict[str, list[str]] = {}
    problems = []
    for r in regional:
        origins = r["manifest"].get("provenance") or []
        if not origins:
            problems.append(f"regional publication {r['publication_id']} of {nation} has no provenance")
        for o in origins[:1]:
            found.setdefault(o["publication_id"], []).append(r["publication_id"])
            if r["dataset"] != f"{o['agency']}--{o['dataset']}":
                problems.append(f"regional {r['dataset']} {r['publication_id']} names origin {o['agency']}/{o['dataset']}")
    for pid, p in sorted(expected.items()):
        n = len(found.get(pid, []))
        if n != 1:
            problems.append(f"{p['agency']}/{p['dataset']} {pid} (official at {nation}): {n} regional publications, expected 1")
    for pid in sorted(found.keys() - expected.keys()):
        problems.append(f"regional publications {found[pid]} come from {pid}, not an official publication of {nation}")
    return {
        "nation": nation,
        "expected": len(expected),
        "regional": len(regional),
        "datasets": sorted({f"{p['agency']}/{p['dataset']}" for p in expected.values()}),
        "problems": problems,
    }


def figures_http(http: str, token_file: str) -> dict:
    """Every figure of the coordinator, official view (GET /api/v1/figures/<name>)."""
    out = {}
    for name in call(http, token_file, "/api/v1/figures")["figures"]:
        out[name] = call(http, token_file, f"/api/v1/figures/{name}")
    return out


def documents(path: str) -> list:
    """The JSON documents of a file of several in a row (`sdgx-coordinator figures --json`)."""
    text, docs, at = open(path).read(), [], 0
    decoder = json.JSONDecoder()
    while True:
        while at < len(text) and text[at].isspace():
            at += 1
        if at >= len(text):
            return docs
        doc, at = decoder.raw_decode(text, at)
        docs.append(doc)


# What an area's row of `area-figures` says, compared between levels (not the publications
# read, which differ: national agencies' there, the nation's relays here).
AREA_FIELDS = ("label", "headline", "migration_relevant", "all_in_scope", "reporting_status", "disaggregation_status", "produced", "migration_disaggregated")


def ratio(r: dict) -> str:
    share = "n/a" if r["share"] is None else f"{100 * r['share']:.1f}%"
    return f"{r['numerator']}/{r['denominator']} ({share})"


def areas(region_figures: str, *nations: str) -> dict:
    """The region's `area-figures` (official view, over the HTTP API) against the same figure
    computed with the region's configuration over each nation's own store: every field of each
    nation's area row must be equal. Also renders the regional figures as a table."""
    region = json.load(open(region_figures))
    rows = {r["code"]: r for r in region["area-figures"]["by_area"]}
    problems, compared = [], []
    for spec in nations:
        nation, area, path = spec.split(":", 2)
        over = [d for d in documents(path) if d.get("figure") == "area-figures"]
        theirs = {r["code"]: r for r in over[0]["by_area"]} if over else {}
        if area not in rows:
            problems.append(f"the region compares no area {area}")
            continue
        if area not in theirs:
            problems.append(f"{nation}'s store, read with the region's configuration, has no area {area}")
            continue
        for f in AREA_FIELDS:
            a, b = rows[area][f], theirs[area][f]
            if f == "disaggregation_status":
                a, b = {k: v for k, v in a.items() if k != "key"}, {k: v for k, v in b.items() if k != "key"}
            if a != b:
                problems.append(f"{area} {f}: region {a}, {nation}'s store {b}")
        compared.append(area)
    head = region["migration-disaggregation-share"]
    lines = [
        f"headline (region, all areas): {ratio(head)}; over migration-relevant {ratio(head['migration_relevant'])}; over all in scope {ratio(head['all_in_scope'])}",
        f"{'area':<14} {'headline':<14} {'migration-relevant':<18} {'reporting':<15} {'complete/in progress/not started/n.a.':<38} produced; with migration disaggregation",
    ]
    for code, r in sorted(rows.items()):
        d = r["disaggregation_status"]
        status = f"{d['complete']}/{d['in_progress']}/{d['not_started']}/{d['not_applicable']}"
        lines.append(
            f"{code + ' ' + r['label']:<14} {ratio(r['headline']):<14} {ratio(r['migration_relevant']):<18} {ratio(r['reporting_status']):<15} {status:<38} "
            f"{', '.join(r['produced'])}; {', '.join(r['migration_disaggregated']) or '-'}"
        )
    cross = region["cross-area"]
    data = cross["data_on_migration_indicators"]
    lines.append(f"areas with data on the migration-relevant indicators: {ratio(data)} ({', '.join(a['label'] for a in data['with_data']) or '-'})")
    dist = cross["headline_distribution"]
    pct = lambda v: "n/a" if v is None else f"{100 * v:.1f}%"
    lines.append(f"headline across the {dist['areas_with_share']} areas with a share: min {pct(dist['min'])}, median {pct(dist['median'])}, max {pct(dist['max'])}")
    lines.append("share of areas producing each indicator with migration disaggregation (indicators some area produces):")
    for i in cross["by_indicator"]:
        if i["producing"] > 0:
            areas_md = ", ".join(a["label"] for a in i["areas_migration_disaggregated"]) or "-"
            lines.append(f"  {i['indicator']:<8} produced by {i['producing']}; {ratio(i['migration_disaggregated'])} ({areas_md})")
    return {"compared": compared, "problems": problems, "table": "\n".join(lines)}


COMMANDS = {
    "figures": figures,
    "store": store,
    "acks": acks,
    "history": history,
    "outboxes": outboxes,
    "change": change,
    "log": log,
    "approve": approve,
    "relayed": relayed,
    "figures-http": figures_http,
    "areas": areas,
}


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        raise SystemExit(__doc__)
    out = COMMANDS[sys.argv[1]](*sys.argv[2:])
    print(json.dumps(out, sort_keys=True))
    return 1 if out.get("problems") else 0


if __name__ == "__main__":
    sys.exit(main())
