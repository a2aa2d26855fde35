"""Reads a store the coordinator wrote with engines nobody here wrote: the `deltalake` package
(delta-rs's Python binding), polars and DuckDB.

    delta_read.py STORE_PATH

Prints one JSON object of what each saw; the Rust test (tests/tests/e2e/other_engines.rs) asserts
the values against what was published:

- "deltalake": the table's version, rows and sum of obs_value per agency/dataset, the
  publication ids, the rows at version 1 (time travel), and from the commits' metadata
  (`DeltaTable.history()`) the publications-log entries and the sign-off decisions;
- "polars": rows and sum of obs_value per agency/dataset, read with `polars.read_delta`;
- "duckdb": the same read by DuckDB's `read_parquet` from the Delta log's file list
  (`DeltaTable.file_uris()`, partition values from the hive-style paths): correct; and the rows
  of every Parquet file under the table's partition directories (a glob, as a reader that
  ignores the log sees them): superseded publications' files counted too.
"""
import json
import sys

import duckdb
import polars as pl
from deltalake import DeltaTable


def by_dataset(frame: pl.DataFrame) -> dict:
    grouped = frame.group_by("agency", "dataset").agg(pl.len().alias("rows"), pl.col("obs_value").sum().alias("sum"))
    return {f"{r['agency']}/{r['dataset']}": {"rows": r["rows"], "sum": r["sum"]} for r in grouped.iter_rows(named=True)}


def duckdb_reads(path: str, files: list[str]) -> dict:
    con = duckdb.connect()
    grouped = con.execute(
        "SELECT agency || '/' || dataset, count(*), sum(obs_value) "
        "FROM read_parquet(?, hive_partitioning = true) GROUP BY ALL",
        [files],
    ).fetchall()
    glob = f"{path}/agency=*/dataset=*/*.parquet"
    raw_rows, raw_files = con.execute(
        "SELECT count(*), count(DISTINCT filename) FROM read_parquet(?, hive_partitioning = true, filename = true)", [glob]
    ).fetchone()
    return {
        "by_dataset": {d: {"rows": n, "sum": v} for d, n, v in grouped},
        "files": len(files),
        "raw_parquet_rows": raw_rows,
        "raw_parquet_files": raw_files,
    }


def main() -> None:
    path = sys.argv[1]
    dt = DeltaTable(path)
    current = pl.from_arrow(dt.to_pyarrow_table())
    first = DeltaTable(path, version=1).to_pyarrow_table()
    history = dt.history()
    entries = [h["sdgx.publication"] for h in history if "sdgx.publication" in h]
    decisions = [h["sdgx.decision"] for h in history if "sdgx.decision" in h]
    out = {
        "deltalake": {
            "version": dt.version(),
            "partition_columns": dt.metadata().partition_columns,
            "by_dataset": by_dataset(current),
            "publication_ids": sorted(set(current["publication_id"].to_list())),
            "rows_at_version_1": first.num_rows,
            "log_entries": sorted(e["publication_id"] for e in entries),
            "decisions": sorted([d["publication_id"], d["action"]] for d in decisions),
        },
        "polars": {"by_dataset": by_dataset(pl.read_delta(path))},
        "duckdb": duckdb_reads(path, dt.file_uris()),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
