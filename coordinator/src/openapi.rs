//! The HTTP API's OpenAPI 3.1 description, served at `/api/v1/openapi.json`. [`ROUTES`] lists
//! every route the router serves; a test requests each and checks the document against it.

use serde_json::{json, Value};

/// Every route of the HTTP API: (method, path, who may call it, summary).
pub const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("get", "/health", "anyone", "Liveness, the current store version, and whether this is the writer or a read-only replica"),
    ("get", "/api/v1/openapi.json", "anyone", "This document"),
    ("get", "/api/v1/figures", "reader", "The names of the figures"),
    ("get", "/api/v1/figures/{name}", "reader", "One figure, with its definition, parts and the store version read"),
    ("get", "/api/v1/publications", "reader", "The publications log"),
    ("post", "/api/v1/query", "reader", "A read-only SQL query over the store"),
    ("get", "/api/v1/exports", "reader", "The export formats"),
    ("get", "/api/v1/exports/{format}", "reader", "One export as a file: SDMX-CSV 1.0/2.0, the SDMX report, the Open SDG bundle (zip), the XLSX annex, the HTML report"),
    ("get", "/api/v1/calendar/{agency}", "agency", "An agency's reporting calendar (an agency token reads only its own)"),
    ("get", "/api/v1/publications/{id}/status", "agency", "One publication's sign-off status: submitted, approved (with its release time), returned or unapproved (with the reason); an agency token reads only its own"),
    ("get", "/api/v1/review", "approver", "The review queue: submitted publications, and approved ones not yet released"),
    ("get", "/api/v1/review/{id}", "approver", "One publication's review: rows added, removed and changed against the dataset's official version, figure impact, quality warnings, decisions"),
    ("post", "/api/v1/publications/{id}/{action}", "approver", "Record a decision (action approve, return or unapprove), with release_at (approve) or reason (required to return or un-approve)"),
    ("get", "/api/v1/admin/audit", "admin", "Verification of the tamper-evident publications log"),
    ("get", "/api/v1/admin/upstream", "admin", "The upstream queue (configured false without [upstream]): outbox entries of what this coordinator publishes to its upstream coordinator, and what each upstream dataset last relayed"),
];

fn parameters(path: &str) -> Vec<Value> {
    let mut p: Vec<Value> = path
        .split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    let as_of = json!({"name": "as_of", "in": "query", "required": false, "description": "Store version or RFC 3339 timestamp (current when absent)", "schema": {"type": "string"}});
    let view = json!({"name": "view", "in": "query", "required": false, "description": "official (default): approved and released publications; provisional: every accepted publication", "schema": {"type": "string", "enum": ["official", "provisional"]}});
    if path == "/api/v1/figures/{name}" {
        p.push(json!({"name": "from", "in": "query", "required": false, "description": "First reference year", "schema": {"type": "integer"}}));
        p.push(json!({"name": "to", "in": "query", "required": false, "description": "Last reference year", "schema": {"type": "integer"}}));
        p.push(as_of);
        p.push(view);
    } else if path == "/api/v1/exports/{format}" {
        p.push(as_of);
        p.push(view);
    }
    p
}

/// The document.
pub fn document() -> Value {
    let mut paths = serde_json::Map::new();
    for (method, path, who, summary) in ROUTES {
        let mut op = json!({
            "summary": summary,
            "parameters": parameters(path),
            "responses": {
                "200": {"description": "OK"},
                "400": {"description": "Bad request: the message says which parameter and why"},
                "401": {"description": "No or invalid bearer token"},
                "403": {"description": "The token's role may not call this"},
                "404": {"description": "No such figure, export or agency"},
                "429": {"description": "Too many failed authentication attempts from this address"}
            },
            "x-sdgx-role": who,
        });
        if *who == "anyone" {
            op["security"] = json!([]);
        }
        if *method == "post" && path.ends_with("/{action}") {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": false,
                "properties": {"release_at": {"type": "string", "format": "date-time"}, "reason": {"type": "string"}}}}}});
        } else if *method == "post" {
            op["requestBody"] = json!({"required": true, "content": {"application/json": {"schema": {
                "type": "object", "required": ["sql"],
                "properties": {"sql": {"type": "string"}, "as_of": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
                               "view": {"type": "string", "enum": ["official", "provisional"]}}}}}});
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "sdgx coordinator HTTP API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "National SDG figures disaggregated by migratory status: figures, publications, read-only SQL, exports. Roles: reader (figures, data, SQL), approver (a reader who also reviews and decides), admin (a reader who also audits); agency tokens read only their own calendar and publications' status."},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": paths,
    })
}
