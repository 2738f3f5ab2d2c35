//! The client's files: their content-hashed names and how long browsers
//! may keep them.
//!
//! cargo-leptos names the script, the WASM and the style sheet after a
//! hash of their content (`hash-files` in the workspace metadata) and
//! writes the hashes to `hash.txt` beside the server binary; Leptos reads
//! that file to link them. A file whose name pins its content never
//! changes, so browsers keep it a year without asking again (with the
//! client in parts, only the style sheet and the loader: see
//! [`named_paths`]); every other file under `/pkg/` is fetched again on
//! each use (`no-cache`). Release builds with
//! `--precompress` add brotli and gzip copies, which Leptos' file handler
//! serves to browsers that accept them (so caches key on the encoding).

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::Arc,
};

use axum::{
    extract::{Request, State},
    http::{header, HeaderValue, Method, StatusCode},
    middleware::Next,
    response::Response,
};

/// The name cargo-leptos gives the hash file unless told otherwise.
const DEFAULT_HASH_FILE: &str = "hash.txt";

const FOREVER: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const ASK_FIRST: HeaderValue = HeaderValue::from_static("no-cache");

/// Where the hashes are, and whether to use them: as cargo-leptos says
/// when it runs the server, otherwise whether the file is there (a binary
/// run by hand, or by the browser tests, from a hashed build).
pub struct Hashing {
    pub enabled: bool,
    pub file_name: String,
}

impl Hashing {
    pub fn from_env() -> Self {
        let file_name = std::env::var("LEPTOS_HASH_FILE_NAME")
            .ok()
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| DEFAULT_HASH_FILE.to_string());
        let enabled = match std::env::var("LEPTOS_HASH_FILES").ok().as_deref() {
            Some("true") => true,
            Some("false") => false,
            _ => beside_binary(&file_name).is_some_and(|path| path.is_file()),
        };
        Self { enabled, file_name }
    }

    /// The site's files as this build names them (the hash file read
    /// once; none named by content when hashing is off or it is unreadable).
    pub fn site_files(&self, site_root: &str, pkg_dir: &str, output_name: &str) -> SiteFiles {
        let hashes = self
            .enabled
            .then(|| beside_binary(&self.file_name))
            .flatten()
            .and_then(|path| std::fs::read_to_string(path).ok())
            .unwrap_or_default();
        if self.enabled && hashes.is_empty() {
            tracing::warn!(file = %self.file_name, "file hashing is on but the hash file cannot be read beside the binary: the client's files will not be found");
        }
        let content_named = named_paths(&hashes, pkg_dir, output_name);
        // A debug and a release build share the site folder: the other
        // build's files replace this binary's.
        for path in &content_named {
            let on_disk = Path::new(site_root).join(path.trim_start_matches('/'));
            if !on_disk.is_file() {
                tracing::warn!(path = %on_disk.display(), "a file this build names is not in the site folder (another build replaced it?): rebuild the site");
            }
        }
        SiteFiles {
            pkg_prefix: format!("/{pkg_dir}/").into(),
            content_named: Arc::new(content_named),
        }
    }
}

fn beside_binary(file_name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    Some(exe.parent()?.join(file_name))
}

/// `js: <hash>` lines to `/pkg/<output>.<hash>.js` paths: the files whose
/// name still says their content.
///
/// A split client (`cargo leptos build --split`, a `split: <hash>` line)
/// has a loader, `__wasm_split.<hash>.js`, named after its final content.
/// cargo-leptos writes the loader's name into the script and the WASM
/// files after naming them, so their names no longer pin their content
/// (the same name can come back with another loader in it): only the
/// style sheet and the loader are kept.
fn named_paths(hashes: &str, pkg_dir: &str, output_name: &str) -> HashSet<String> {
    let lines: Vec<(&str, &str)> = hashes
        .lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(kind, hash)| (kind.trim(), hash.trim()))
        .filter(|(_, hash)| !hash.is_empty())
        .collect();
    let split = lines.iter().any(|(kind, _)| *kind == "split");
    lines
        .into_iter()
        .filter_map(|(kind, hash)| match kind {
            "split" => Some(format!("/{pkg_dir}/__wasm_split.{hash}.js")),
            "css" => Some(format!("/{pkg_dir}/{output_name}.{hash}.css")),
            "js" | "wasm" if !split => Some(format!("/{pkg_dir}/{output_name}.{hash}.{kind}")),
            _ => None,
        })
        .collect()
}

/// Where the client's files are served, and which of them are named by
/// their content. Cheap to clone.
#[derive(Clone)]
pub struct SiteFiles {
    pkg_prefix: Arc<str>,
    content_named: Arc<HashSet<String>>,
}

/// The layer around the site's files: kept a year when named by content,
/// checked on each use otherwise. Pages and server functions say their own.
pub async fn cache_lifetimes(
    State(files): State<SiteFiles>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let is_read = matches!(*request.method(), Method::GET | Method::HEAD);
    let mut response = next.run(request).await;
    let served = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    if is_read && served && path.starts_with(&*files.pkg_prefix) {
        let lifetime = if files.content_named.contains(&path) {
            FOREVER
        } else {
            ASK_FIRST
        };
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, lifetime);
        // Brotli, gzip or neither, by what the browser accepts.
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(list: &[&str]) -> HashSet<String> {
        list.iter().map(|path| path.to_string()).collect()
    }

    #[test]
    fn the_hash_file_names_the_script_the_wasm_and_the_style_sheet() {
        let hashes = "js: Abc123\nwasm: Def456\ncss: Ghi789\n\nmanifest: Jkl0\n";
        let expected = paths(&[
            "/pkg/switchboard.Abc123.js",
            "/pkg/switchboard.Def456.wasm",
            "/pkg/switchboard.Ghi789.css",
        ]);
        assert_eq!(named_paths(hashes, "pkg", "switchboard"), expected);
    }

    #[test]
    fn a_split_client_keeps_only_its_loader_and_the_style_sheet() {
        let hashes = "js: Abc123\nwasm: Def456\ncss: Ghi789\nmanifest: Jkl0\nsplit: Mno1\n";
        let expected = paths(&["/pkg/switchboard.Ghi789.css", "/pkg/__wasm_split.Mno1.js"]);
        assert_eq!(named_paths(hashes, "pkg", "switchboard"), expected);
    }

    /// The layer over a directory of files as cargo-leptos leaves them.
    async fn served(path: &str) -> Response {
        use tower::ServiceExt;
        let site = tempfile::tempdir().unwrap();
        std::fs::create_dir(site.path().join("pkg")).unwrap();
        for name in ["switchboard.Abc123.js", "switchboard.js", "snippet.js"] {
            std::fs::write(site.path().join("pkg").join(name), "export {}").unwrap();
        }
        let files = SiteFiles {
            pkg_prefix: "/pkg/".into(),
            content_named: Arc::new(named_paths("js: Abc123", "pkg", "switchboard")),
        };
        let app = axum::Router::new()
            .fallback_service(tower_http::services::ServeDir::new(site.path()))
            .layer(axum::middleware::from_fn_with_state(files, cache_lifetimes));
        let request = Request::builder()
            .uri(path)
            .body(axum::body::Body::empty())
            .unwrap();
        app.oneshot(request).await.unwrap()
    }

    fn cache_control(response: &Response) -> Option<&str> {
        response
            .headers()
            .get(header::CACHE_CONTROL)
            .map(|v| v.to_str().unwrap())
    }

    #[tokio::test]
    async fn a_file_named_by_its_content_is_kept_a_year_and_others_are_checked() {
        let hashed = served("/pkg/switchboard.Abc123.js").await;
        assert_eq!(hashed.status(), StatusCode::OK);
        assert_eq!(
            cache_control(&hashed),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(hashed.headers()[header::VARY], "accept-encoding");
        for path in ["/pkg/switchboard.js", "/pkg/snippet.js"] {
            let plain = served(path).await;
            assert_eq!(plain.status(), StatusCode::OK, "{path}");
            assert_eq!(cache_control(&plain), Some("no-cache"), "{path}");
        }
        let missing = served("/pkg/switchboard.Zzz999.js").await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(cache_control(&missing), None);
    }

    #[test]
    fn no_hash_file_names_nothing() {
        assert!(named_paths("", "pkg", "switchboard").is_empty());
        assert!(named_paths("js:\n", "pkg", "switchboard").is_empty());
    }
}
