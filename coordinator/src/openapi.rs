//! The HTTP API's OpenAPI 3.1 description, served at `/api/v1/openapi.json`, derived with
//! `utoipa` from the handlers' request, parameter and response types (see [`crate::http`]):
//! each handler's `#[utoipa::path]` names its route, parameters, role (`x-sdgx-role`) and the
//! answers it really gives; this module lists the handlers and adds what every authenticated
//! route shares (the bearer scheme and its 401, 403 and 429 answers).

use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};
use utoipa::OpenApi;

use crate::http;

/// The document's source: every handler of the API and the shared additions.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "sdgx coordinator HTTP API",
        description = "National SDG figures disaggregated by migratory status: figures, publications, read-only SQL, exports. \
Roles: reader (figures, data, SQL), approver (a reader who also reviews and decides), admin (a reader who also audits); \
agency tokens read only their own calendar and publications' status; metrics tokens read only /metrics. Each operation's x-sdgx-role names the least role that may call it."
    ),
    paths(
        http::health,
        http::openapi_json,
        http::figure_list,
        http::figure,
        http::publications,
        http::run_query,
        http::export_list,
        http::export,
        http::calendar,
        http::publication_status,
        http::review_queue,
        http::review_detail,
        http::decide,
        http::audit,
        http::upstream,
        http::metrics,
    ),
    components(schemas(crate::error::HttpError)),
    modifiers(&Authenticated)
)]
struct Api;

/// The bearer scheme, required by every operation but those of role `anyone`, which also get
/// the answers of the authorization layer ([`crate::http`]'s `authorize`): 401 without a valid
/// token, 403 for a role that may not call the route, 429 for an address locked out after too
/// many invalid tokens.
struct Authenticated;

impl utoipa::Modify for Authenticated {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()));
        for item in doc.paths.paths.values_mut() {
            for op in [&mut item.get, &mut item.post].into_iter().flatten() {
                if role(op) == Some("anyone") {
                    op.security = Some(vec![]);
                    continue;
                }
                op.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
                for (status, what) in [
                    ("401", "No bearer token, or one that is not valid"),
                    ("403", "The token's role may not call this"),
                    ("429", "Too many invalid tokens from this address: try again after Retry-After seconds"),
                ] {
                    op.responses.responses.entry(status.into()).or_insert_with(|| error_response(what));
                }
            }
        }
    }
}

/// The `x-sdgx-role` of an operation.
fn role(op: &Operation) -> Option<&str> {
    op.extensions.as_ref()?.get("x-sdgx-role")?.as_str()
}

/// A response with the JSON error body ([`crate::error::HttpError`]).
fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("HttpError"))).build();
    ResponseBuilder::new().description(description).content("application/json", content).build().into()
}

/// The document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Api::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn doc() -> Value {
        serde_json::to_value(super::document()).expect("serializes")
    }

    #[test]
    fn parameters_are_declared_as_they_are_parsed() {
        let d = doc();
        let params = d["paths"]["/api/v1/figures/{name}"]["get"]["parameters"].as_array().expect("parameters").clone();
        let find = |n: &str| params.iter().find(|p| p["name"] == n).unwrap_or_else(|| panic!("{n} in {params:?}")).clone();
        // Years are i32: declared int32 with its bounds.
        for year in ["from", "to"] {
            let s = &find(year)["schema"];
            assert_eq!(s["format"], "int32", "{year}: {s}");
            assert_eq!(s["minimum"], i32::MIN, "{year}: {s}");
            assert_eq!(s["maximum"], i32::MAX, "{year}: {s}");
        }
        // Figure names and export formats are enums of the names served.
        let names: Vec<String> = serde_json::from_value(d["components"]["schemas"]["FigureKind"]["enum"].clone()).expect("figure enum");
        assert_eq!(names, crate::figures::FigureKind::ALL.map(|k| k.name().to_owned()));
        let formats: Vec<String> = serde_json::from_value(d["components"]["schemas"]["Format"]["enum"].clone()).expect("format enum");
        assert_eq!(formats, crate::export::FORMATS.map(|(n, _)| n.to_owned()));
        // as_of: a version number or an RFC 3339 time, never an empty string.
        let as_of = &d["components"]["schemas"]["AsOf"];
        assert!(as_of.to_string().contains("date-time"), "{as_of}");
        assert!(as_of.to_string().contains("^[0-9]+$"), "{as_of}");
    }

    #[test]
    fn authenticated_routes_answer_with_the_error_body() {
        let d = doc();
        let mut authenticated = 0;
        for (path, item) in d["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("operations") {
                let role = op["x-sdgx-role"].as_str().unwrap_or_else(|| panic!("{method} {path} names its role"));
                assert!(op["responses"]["200"].is_object(), "{method} {path}");
                if role == "anyone" {
                    assert_eq!(op["security"], serde_json::json!([]), "{method} {path}");
                    continue;
                }
                authenticated += 1;
                for status in ["401", "403", "429"] {
                    let schema = &op["responses"][status]["content"]["application/json"]["schema"]["$ref"];
                    assert_eq!(schema, "#/components/schemas/HttpError", "{method} {path} {status}");
                }
            }
        }
        assert!(authenticated >= 12, "{authenticated}");
        let error = &d["components"]["schemas"]["HttpError"];
        assert_eq!(error["required"], serde_json::json!(["error", "message"]), "{error}");
    }
}
