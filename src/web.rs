//! The bundled web UI, Swagger UI and the spec documents, all served from the binary.
//! Everything is revalidated on every load (`no-cache`) with a strong ETag, so a revalidation
//! costs a 304 and an upgrade never leaves a browser running old scripts beside new pages.
//! Only the large, versioned Swagger UI bundle may be cached for a day.

use poem::http::{StatusCode, header};
use poem::web::{Data, Path};
use poem::{Request, Response, handler};

use crate::error::problem_response;
use crate::state::AppState;

#[derive(rust_embed::RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Paths of the single-page UI; each answers with the UI shell, which routes on the client.
/// `/verify-email` and `/reset-password` are the targets of emailed links.
pub const UI_PAGES: &[&str] = &[
    "/",
    "/sign-up",
    "/sign-in",
    "/verify-email",
    "/forgot-password",
    "/reset-password",
    "/phone",
    "/account",
    "/driver",
    "/driver-reviews",
    "/admin",
    "/admin/start",
    "/admin/users",
    "/admin/audit",
    "/admin/backups",
    "/admin/apps",
    "/admin/webhooks",
    "/bootstrap",
    "/privacy-policy",
    "/consent",
    "/sign-out",
    "/device",
];

fn serve_embedded(path: &str, req: &Request) -> Response {
    let Some(file) = Assets::get(path) else {
        return problem_response(StatusCode::NOT_FOUND, "not_found", "No resource at this path.");
    };
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let cache = if path.starts_with("vendor/") { "public, max-age=86400" } else { "no-cache" };
    let not_modified = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    let builder =
        Response::builder().header(header::ETAG, etag).header(header::CACHE_CONTROL, cache);
    if not_modified {
        return builder.status(StatusCode::NOT_MODIFIED).finish();
    }
    builder.content_type(file.metadata.mimetype()).body(file.data.into_owned())
}

#[handler]
pub fn ui_page(req: &Request) -> Response {
    serve_embedded("index.html", req)
}

#[handler]
pub fn asset(Path(path): Path<String>, req: &Request) -> Response {
    // rust-embed only knows the files it embedded, so `..` cannot escape the folder.
    if path.ends_with(".html") {
        return problem_response(StatusCode::NOT_FOUND, "not_found", "No resource at this path.");
    }
    serve_embedded(&path, req)
}

#[handler]
pub fn swagger_ui(req: &Request) -> Response {
    serve_embedded("docs/index.html", req)
}

#[handler]
pub fn openapi_json(state: Data<&AppState>) -> Response {
    Response::builder().content_type("application/json").body(state.spec.json.clone())
}

#[handler]
pub fn openapi_yaml(state: Data<&AppState>) -> Response {
    Response::builder().content_type("application/yaml").body(state.spec.yaml.clone())
}
