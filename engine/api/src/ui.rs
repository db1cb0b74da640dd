//! The operators' app's browser build, served beside the API when asked (`leadorch daemon
//! --ui DIR`, `leadorch serve --ui DIR`; DIR is `desktop/dist` after `npm run build`).
//!
//! The files are read once, at start, into memory: only the paths found then are served (no
//! path from a request ever reaches the file system, so nothing outside DIR can be asked
//! for), and a rebuilt front end is picked up by a restart. `/` is `index.html`. The app
//! routes with the URL's fragment (`#/rules`), so no other path needs it.
//!
//! The pages are public (a browser must load them before it has a key); everything they show
//! comes from the API, which needs a key as always. Each answer carries a Content Security
//! Policy as strict as the desktop's, allowing requests to this origin only, and
//! `X-Content-Type-Options: nosniff`; the hashed assets are cached for a year, `index.html`
//! never without asking again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The most the browser build may hold, all files together (it is kept in memory).
pub const MAX_UI_BYTES: u64 = 64 * 1024 * 1024;

/// The policy every page is served with: scripts, styles and requests from this origin only.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// Why the browser build cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// The folder or a file in it could not be read.
    #[error("--ui {dir}: {source}")]
    Read {
        /// The path that failed.
        dir: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// No `index.html` at the folder's top.
    #[error("--ui {0}: no index.html in it; give the front end's build folder (desktop/dist, made by `npm run build` in desktop/)")]
    NoIndex(PathBuf),
    /// More than [`MAX_UI_BYTES`].
    #[error(
        "--ui {0}: more than 64 MiB of files; give the front end's build folder, not a larger one"
    )]
    TooLarge(PathBuf),
}

/// One file: its type and bytes.
#[derive(Clone, Debug)]
struct File {
    content_type: &'static str,
    bytes: axum::body::Bytes,
    immutable: bool,
}

/// The browser build, read into memory.
#[derive(Clone, Debug, Default)]
pub struct Ui {
    /// By URL path (`/index.html`, `/assets/index-3f2a.js`).
    files: HashMap<String, File>,
}

impl Ui {
    /// Reads every file under `dir` (following no symbolic link out of it; hidden files are
    /// left out). Fails without `index.html`, or past [`MAX_UI_BYTES`].
    pub fn load(dir: &Path) -> Result<Ui, UiError> {
        let read = |path: &Path, source| UiError::Read {
            dir: path.to_path_buf(),
            source,
        };
        let mut files = HashMap::new();
        let mut total = 0u64;
        let mut pending = vec![dir.to_path_buf()];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder).map_err(|e| read(&folder, e))? {
                let entry = entry.map_err(|e| read(&folder, e))?;
                let path = entry.path();
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.starts_with('.') {
                    continue;
                }
                // `file_type` does not follow links: a link is neither file nor folder here.
                let kind = entry.file_type().map_err(|e| read(&path, e))?;
                if kind.is_dir() {
                    pending.push(path);
                } else if kind.is_file() {
                    let bytes = std::fs::read(&path).map_err(|e| read(&path, e))?;
                    total += bytes.len() as u64;
                    if total > MAX_UI_BYTES {
                        return Err(UiError::TooLarge(dir.to_path_buf()));
                    }
                    let relative = path.strip_prefix(dir).unwrap_or(&path);
                    let Some(url) = url_path(relative) else {
                        continue;
                    };
                    let immutable = url.starts_with("/assets/");
                    files.insert(
                        url,
                        File {
                            content_type: content_type(name),
                            bytes: bytes.into(),
                            immutable,
                        },
                    );
                }
            }
        }
        if !files.contains_key("/index.html") {
            return Err(UiError::NoIndex(dir.to_path_buf()));
        }
        Ok(Ui { files })
    }

    /// How many files are served.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether none is (never, once loaded: `index.html` is required).
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Adds a `GET` route for `/` and for every file to `router`, each answering its own
    /// file. Call it after the API's routes that need a key: these need none.
    pub fn routes<S: Clone + Send + Sync + 'static>(self, mut router: Router<S>) -> Router<S> {
        let index = self.files.get("/index.html").cloned();
        let routes = self
            .files
            .into_iter()
            .chain(index.map(|file| ("/".to_string(), file)));
        for (path, file) in routes {
            router = router.route(&path, get(move || std::future::ready(serve(&file))));
        }
        router
    }
}

fn serve(file: &File) -> Response {
    let cache = if file.immutable {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(file.content_type),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        file.bytes.clone(),
    )
        .into_response()
}

/// `/a/b.js` for `a/b.js`; `None` for a name a URL path cannot carry as is (spaces, `%`,
/// anything but letters, digits and `-._~`).
fn url_path(relative: &Path) -> Option<String> {
    let mut url = String::new();
    for part in relative.components() {
        let std::path::Component::Normal(part) = part else {
            return None;
        };
        let part = part.to_str()?;
        if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
        {
            return None;
        }
        url.push('/');
        url.push_str(part);
    }
    (!url.is_empty()).then_some(url)
}

fn content_type(name: &str) -> &'static str {
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_names_become_paths() {
        assert_eq!(
            url_path(Path::new("assets/index-3f2a.js")).as_deref(),
            Some("/assets/index-3f2a.js")
        );
        assert_eq!(url_path(Path::new("a b.js")), None);
        assert_eq!(url_path(Path::new("../x.js")), None);
        assert_eq!(url_path(Path::new("%2e.js")), None);
    }

    #[test]
    fn types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("A.JS"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.woff2"), "font/woff2");
        assert_eq!(content_type("README"), "application/octet-stream");
    }

    #[test]
    fn a_folder_without_index_html_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("app.js"), "x").unwrap();
        let e = Ui::load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("no index.html"), "{e}");
        let e = Ui::load(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }

    #[cfg(unix)]
    #[test]
    fn links_and_hidden_files_are_not_served() {
        let dir = tempfile::tempdir().unwrap();
        let secret = tempfile::tempdir().unwrap();
        std::fs::write(secret.path().join("key"), "secret").unwrap();
        std::fs::write(dir.path().join("index.html"), "<html>").unwrap();
        std::fs::write(dir.path().join(".env"), "x").unwrap();
        std::os::unix::fs::symlink(secret.path().join("key"), dir.path().join("key")).unwrap();
        std::os::unix::fs::symlink(secret.path(), dir.path().join("outside")).unwrap();
        let ui = Ui::load(dir.path()).unwrap();
        let mut paths: Vec<_> = ui.files.keys().cloned().collect();
        paths.sort();
        assert_eq!(paths, vec!["/index.html"]);
    }
}
