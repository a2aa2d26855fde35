"""Flight SQL interop: drives the coordinator's analysts' port with clients nobody here wrote.

    flightsql_interop.py adbc|pyarrow URI TOKEN BIG_K [CA_PEM]

URI is grpc://host:port, or grpc+tls://host:port with CA_PEM the CA bundle to trust.

`adbc` uses the ADBC Flight SQL driver (adbc-driver-flightsql, DB-API); `pyarrow` uses
pyarrow.flight with the Flight SQL messages encoded here by hand (pyarrow ships no Flight SQL
client). Both do the same things and print one JSON object of what they saw; the Rust test
(tests/tests/e2e/flightsql.rs) asserts the values.
"""
import json
import sys

import pyarrow as pa

PARAM_SQL = (
    "SELECT indicator, count(*) AS n FROM observations "
    "WHERE agency = $1 GROUP BY indicator ORDER BY indicator"
)
BIG_SQL = (
    "SELECT o.obs_value, g.value AS k "
    "FROM store.observations o CROSS JOIN generate_series(1, {k}) AS g"
)
# The same statement with a `?` placeholder: the qmark style ADBC's DB-API declares.
QMARK_SQL = PARAM_SQL.replace("$1", "?")
BAD_SQL = "SELECT no_such_column FROM observations"
# Columns whose xdbc_* descriptions are checked: text, double, integer, bigint.
XDBC_COLUMNS = ("indicator", "obs_value", "unit_mult", "store_version")
XDBC_FIELDS = (
    "xdbc_data_type", "xdbc_type_name", "xdbc_sql_data_type", "xdbc_column_size",
    "xdbc_decimal_digits", "xdbc_num_prec_radix", "xdbc_nullable", "xdbc_is_nullable",
    "xdbc_scope_catalog", "xdbc_scope_schema", "xdbc_scope_table", "xdbc_is_autoincrement",
)
COUNT_SQL = "SELECT count(*) AS n FROM observations"


def summarise_big(table: pa.Table) -> dict:
    import pyarrow.compute as pc

    return {
        "rows": table.num_rows,
        "sum_k": pc.sum(table.column("k")).as_py(),
        "sum_value": pc.sum(table.column("obs_value")).as_py(),
    }


def run_adbc(uri: str, token: str, k: int, ca: str | None) -> dict:
    import adbc_driver_flightsql.dbapi as flightsql
    import adbc_driver_manager
    from adbc_driver_flightsql import DatabaseOptions

    out = {}
    tls = {DatabaseOptions.TLS_ROOT_CERTS.value: ca} if ca else {}
    # A wrong token is refused at connect time or on first use.
    try:
        bad = flightsql.connect(uri, db_kwargs={"username": "analyst", "password": "sdgx_wrong", **tls})
        with bad.cursor() as cur:
            cur.execute(COUNT_SQL)
            cur.fetchall()
        out["bad_token"] = "accepted"
    except adbc_driver_manager.Error as e:
        out["bad_token"] = str(e)

    conn = flightsql.connect(uri, db_kwargs={"username": "analyst", "password": token, **tls})
    objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
    tables = []
    for catalog in objects:
        for schema in catalog["catalog_db_schemas"] or []:
            for t in schema["db_schema_tables"] or []:
                tables.append(f'{catalog["catalog_name"]}.{schema["db_schema_name"]}.{t["table_name"]}')
    out["tables"] = sorted(tables)
    out["observations_columns"] = [f.name for f in conn.adbc_get_table_schema("observations", catalog_filter="sdgx", db_schema_filter="public")]
    # GetObjects to the columns: the xdbc_* columns the driver fills from the schema's metadata.
    columns = conn.adbc_get_objects(depth="columns", catalog_filter="sdgx", db_schema_filter="public", table_name_filter="observations").read_all().to_pylist()
    out["xdbc"] = {
        c["column_name"]: {k: c[k] for k in XDBC_FIELDS}
        for catalog in columns
        for schema in catalog["catalog_db_schemas"] or []
        for t in schema["db_schema_tables"] or []
        for c in t["table_columns"] or []
        if c["column_name"] in XDBC_COLUMNS
    }
    out["paramstyle"] = flightsql.paramstyle

    with conn.cursor() as cur:
        # A parameterised prepared statement, bound twice.
        cur.adbc_prepare(PARAM_SQL)
        cur.execute(PARAM_SQL, ("cba",))
        out["param_cba"] = [list(r) for r in cur.fetchall()]
        cur.execute(PARAM_SQL, ("moh",))
        out["param_moh"] = [list(r) for r in cur.fetchall()]
        # The same with `?`, as DB-API code writes it.
        cur.execute(QMARK_SQL, ("cba",))
        out["qmark_cba"] = [list(r) for r in cur.fetchall()]
        # The result's schema without running the statement (GetSchema).
        out["schema_only"] = cur.adbc_execute_schema(QMARK_SQL).names

        cur.execute(BIG_SQL.format(k=k))
        out["big"] = summarise_big(cur.fetch_arrow_table())

        try:
            cur.execute(BAD_SQL)
            cur.fetchall()
            out["bad_sql"] = "accepted"
        except adbc_driver_manager.Error as e:
            out["bad_sql"] = str(e)
            out["bad_sql_status"] = getattr(e, "status_code", None) and e.status_code.name

    conn.close()
    # Time travel: the x-sdgx-as-of call header, set as an ADBC RPC header option. At version 1
    # nothing was approved yet: the provisional view (x-sdgx-view) holds the first publication.
    old = flightsql.connect(
        uri,
        db_kwargs={
            "username": "analyst",
            "password": token,
            "adbc.flight.sql.rpc.call_header.x-sdgx-as-of": "1",
            "adbc.flight.sql.rpc.call_header.x-sdgx-view": "provisional",
            **tls,
        },
    )
    with old.cursor() as cur:
        cur.execute(COUNT_SQL)
        out["count_as_of_1"] = cur.fetchone()[0]
    old.close()
    return out


# --- pyarrow.flight with hand-encoded Flight SQL protobuf messages -------------------------

def varint(n: int) -> bytes:
    b = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            b.append(byte | 0x80)
        else:
            b.append(byte)
            return bytes(b)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def any_msg(name: str, body: bytes) -> bytes:
    return field(1, f"type.googleapis.com/arrow.flight.protocol.sql.{name}".encode()) + field(2, body)


def read_varint(buf: bytes, i: int) -> tuple[int, int]:
    """The varint at buf[i:], and the index after it."""
    value, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return value, i


def parse(buf: bytes) -> dict:
    """Length-delimited and varint fields of one protobuf message: {number: [values]}."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 2:
            length, i = read_varint(buf, i)
            out.setdefault(number, []).append(buf[i : i + length])
            i += length
        elif wire == 0:
            value, i = read_varint(buf, i)
            out.setdefault(number, []).append(value)
        else:
            raise ValueError(f"unexpected wire type {wire}")
    return out


def run_pyarrow(uri: str, token: str, k: int, ca: str | None) -> dict:
    import pyarrow.flight as fl

    out = {}
    client = fl.FlightClient(uri, tls_root_certs=ca.encode()) if ca else fl.FlightClient(uri)
    try:
        client.authenticate_basic_token("analyst", "sdgx_wrong")
        out["bad_token"] = "accepted"
    except fl.FlightError as e:
        out["bad_token"] = str(e)
    header = client.authenticate_basic_token("analyst", token)
    opts = fl.FlightCallOptions(headers=[header])

    def read(descriptor_cmd: bytes, options=opts) -> pa.Table:
        info = client.get_flight_info(fl.FlightDescriptor.for_command(descriptor_cmd), options)
        return client.do_get(info.endpoints[0].ticket, options).read_all()

    # GetTables with schemas: CommandGetTables{include_schema (5) = true}.
    tables = read(any_msg("CommandGetTables", varint(5 << 3 | 0) + varint(1)))
    out["tables"] = sorted(
        f"{r['catalog_name']}.{r['db_schema_name']}.{r['table_name']}" for r in tables.to_pylist()
    )
    obs = next(r for r in tables.to_pylist() if r["table_name"] == "observations" and r["db_schema_name"] == "public")
    out["observations_columns"] = pa.ipc.read_schema(pa.py_buffer(obs["table_schema"])).names

    # Prepared statement: create (action), bind one row of parameters (do_put), execute.
    create = any_msg("ActionCreatePreparedStatementRequest", field(1, PARAM_SQL.encode()))
    result = next(iter(client.do_action(fl.Action("CreatePreparedStatement", create), opts)))
    any_result = parse(result.body.to_pybytes())
    prepared = parse(any_result[2][0])
    handle = prepared[1][0]
    param_schema = pa.ipc.read_schema(pa.py_buffer(prepared[3][0]))
    out["param_schema"] = [str(f.type) for f in param_schema]

    def bind_and_run(value: str) -> list:
        cmd = any_msg("CommandPreparedStatementQuery", field(1, handle))
        batch = pa.record_batch([pa.array([value], type=param_schema.field(0).type)], schema=param_schema)
        writer, reader = client.do_put(fl.FlightDescriptor.for_command(cmd), param_schema, opts)
        writer.write_batch(batch)
        writer.done_writing()
        reply = reader.read()
        writer.close()
        new_handle = parse(reply.to_pybytes()).get(1, [handle])[0] if reply else handle  # DoPutPreparedStatementResult
        table = read(any_msg("CommandPreparedStatementQuery", field(1, new_handle)))
        return [list(r.values()) for r in table.to_pylist()]

    out["param_cba"] = bind_and_run("cba")
    out["param_moh"] = bind_and_run("moh")
    client.do_action(fl.Action("ClosePreparedStatement", any_msg("ActionClosePreparedStatementRequest", field(1, handle))), opts)

    # The same statement with a `?` placeholder: its parameter schema, and the rows bound.
    create = any_msg("ActionCreatePreparedStatementRequest", field(1, QMARK_SQL.encode()))
    prepared = parse(parse(next(iter(client.do_action(fl.Action("CreatePreparedStatement", create), opts))).body.to_pybytes())[2][0])
    handle, param_schema = prepared[1][0], pa.ipc.read_schema(pa.py_buffer(prepared[3][0]))
    out["qmark_param_schema"] = [[f.name, str(f.type)] for f in param_schema]
    out["qmark_cba"] = bind_and_run("cba")

    # GetSchema: of a statement (planned, not run), of the prepared statement, of a metadata
    # command; and refused without a token.
    statement = fl.FlightDescriptor.for_command(any_msg("CommandStatementQuery", field(1, QMARK_SQL.encode())))
    out["schema_only"] = client.get_schema(statement, opts).schema.names
    out["schema_prepared"] = client.get_schema(fl.FlightDescriptor.for_command(any_msg("CommandPreparedStatementQuery", field(1, handle))), opts).schema.names
    out["schema_xdbc_type_info"] = client.get_schema(fl.FlightDescriptor.for_command(any_msg("CommandGetXdbcTypeInfo", b"")), opts).schema.names[:3]
    try:
        client.get_schema(statement)
        out["schema_unauthenticated"] = "accepted"
    except (fl.FlightError, OSError) as e:  # pyarrow raises this one as OSError
        out["schema_unauthenticated"] = str(e)

    # ListFlights: a flight per table and view, whose descriptor is a statement and whose ticket
    # reads its rows with the schema announced; refused without a token.
    flights = {}
    for info in client.list_flights(options=opts):
        query = parse(parse(info.descriptor.command)[2][0])[1][0].decode()  # Any.value, then CommandStatementQuery.query
        flights[query] = info
    out["flights"] = sorted(flights)
    listed = flights['SELECT * FROM "sdgx"."public"."observations"']
    rows = client.do_get(listed.endpoints[0].ticket, opts).read_all()
    out["flight_observations"] = {"rows": rows.num_rows, "schema_matches": rows.schema.equals(listed.schema), "app_metadata": json.loads(listed.app_metadata)}
    try:
        list(client.list_flights())
        out["flights_unauthenticated"] = "accepted"
    except (fl.FlightError, OSError) as e:
        out["flights_unauthenticated"] = str(e)

    # GetXdbcTypeInfo: the SQL types with their XDBC codes.
    type_info = read(any_msg("CommandGetXdbcTypeInfo", b"")).to_pylist()
    out["xdbc_type_info"] = {
        r["type_name"]: {k: r[k] for k in ("data_type", "sql_data_type", "datetime_subcode", "column_size", "num_prec_radix", "literal_prefix")}
        for r in type_info
    }
    # The column metadata GetTables' schemas carry (Flight SQL's keys).
    fields = pa.ipc.read_schema(pa.py_buffer(obs["table_schema"]))
    out["column_metadata"] = {
        name: {k.decode(): v.decode() for k, v in (fields.field(name).metadata or {}).items() if k.startswith(b"ARROW:FLIGHT:SQL:")}
        for name in XDBC_COLUMNS
    }

    out["big"] = summarise_big(read(any_msg("CommandStatementQuery", field(1, BIG_SQL.format(k=k).encode()))))
    try:
        read(any_msg("CommandStatementQuery", field(1, BAD_SQL.encode())))
        out["bad_sql"] = "accepted"
    except pa.ArrowException as e:  # pyarrow maps INVALID_ARGUMENT to ArrowInvalid
        out["bad_sql"] = str(e)
        out["bad_sql_status"] = type(e).__name__

    old = fl.FlightCallOptions(headers=[header, (b"x-sdgx-as-of", b"1"), (b"x-sdgx-view", b"provisional")])
    out["count_as_of_1"] = read(any_msg("CommandStatementQuery", field(1, COUNT_SQL.encode())), old).column(0)[0].as_py()
    return out


def main() -> None:
    client, uri, token, k = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    ca = open(sys.argv[5]).read() if len(sys.argv) > 5 else None
    out = run_adbc(uri, token, k, ca) if client == "adbc" else run_pyarrow(uri, token, k, ca)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
