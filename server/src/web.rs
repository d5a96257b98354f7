//! The web pages at `/`: the softphone, the agent console and the admin view of
//! `web-demo/`, compiled into the binary by `build.rs` (no file beside the binary, no
//! CDN: the pages work where there is no internet). `[server] web_root` serves the same
//! paths from a directory instead, so the pages can be edited without a rebuild.
//!
//! Only `GET` and `HEAD` of known files; `/` is `index.html`. A path with `..`, a
//! backslash or a NUL never reaches the file system.

use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Where the pages come from.
#[derive(Debug, Clone)]
pub(crate) enum Pages {
    /// The copy compiled into the binary.
    Embedded,
    /// `[server] web_root`.
    Dir(PathBuf),
}

/// A router with only a fallback (every path the gateway's other routes do not take)
/// serving `pages`, to merge into the gateway's router.
pub(crate) fn router(pages: Pages) -> axum::Router {
    axum::Router::new()
        .fallback(serve)
        .with_state(Arc::new(pages))
}

/// The fallback handler: a page, or 404.
async fn serve(State(pages): State<Arc<Pages>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "only GET and HEAD\n",
        )
            .into_response();
    }
    let Some(path) = clean(uri.path()) else {
        return not_found();
    };
    let body = match &*pages {
        Pages::Embedded => ASSETS
            .iter()
            .find(|(p, _)| *p == path)
            // Served from the binary as they are: no copy per request.
            .map(|(_, bytes)| Bytes::from_static(bytes)),
        Pages::Dir(root) => {
            let file = root.join(path.trim_start_matches('/'));
            tokio::task::spawn_blocking(move || std::fs::read(file).ok())
                .await
                .ok()
                .flatten()
                .map(Bytes::from)
        }
    };
    match body {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(mime(&path))),
                (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
                (
                    header::X_CONTENT_TYPE_OPTIONS,
                    HeaderValue::from_static("nosniff"),
                ),
            ],
            bytes,
        )
            .into_response(),
        None => not_found(),
    }
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such page\n").into_response()
}

/// The file path a request path names (`/` and directories are their `index.html`),
/// or `None` for anything that could step outside the pages.
fn clean(path: &str) -> Option<String> {
    if path.contains("..") || path.contains('\\') || path.contains('\0') || path.contains("//") {
        return None;
    }
    let mut path = path.to_owned();
    if path.ends_with('/') {
        path.push_str("index.html");
    }
    Some(path)
}

/// The content type of a page's file, by extension.
fn mime(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "wav" => "audio/wav",
        "ico" => "image/x-icon",
        "md" | "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_leave_the_pages_are_refused() {
        assert_eq!(clean("/").as_deref(), Some("/index.html"));
        assert_eq!(clean("/sdk/dcx.js").as_deref(), Some("/sdk/dcx.js"));
        assert_eq!(clean("/sdk/").as_deref(), Some("/sdk/index.html"));
        for bad in [
            "/../etc/passwd",
            "/sdk/../../x",
            "/a\\b",
            "//etc/passwd",
            "/a\0",
        ] {
            assert_eq!(clean(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(mime("/index.html"), "text/html; charset=utf-8");
        assert_eq!(mime("/sdk/dcx.js"), "text/javascript; charset=utf-8");
        assert_eq!(mime("/x"), "application/octet-stream");
    }

    #[tokio::test]
    async fn pages_come_from_web_root_and_unknown_ones_are_404() {
        let dir = std::env::temp_dir().join(format!("dcx-web-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sdk")).unwrap();
        std::fs::write(dir.join("index.html"), "<h1>dcx</h1>").unwrap();
        std::fs::write(dir.join("sdk/dcx.js"), "export {}").unwrap();
        let pages = Arc::new(Pages::Dir(dir.clone()));
        let get = |p: &'static str| {
            let pages = pages.clone();
            async move { serve(State(pages), Method::GET, Uri::from_static(p)).await }
        };
        let r = get("/").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        let r = get("/sdk/dcx.js").await;
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/javascript; charset=utf-8"
        );
        assert_eq!(get("/nope.html").await.status(), StatusCode::NOT_FOUND);
        assert_eq!(get("/../index.html").await.status(), StatusCode::NOT_FOUND);
        let post = serve(State(pages.clone()), Method::POST, Uri::from_static("/")).await;
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
