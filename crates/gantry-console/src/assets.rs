//! The console's static files, embedded in the binary and served under a URL holding a hash of their content
//! (`/assets/console.3f2a....js`), so that browsers may keep them for a year and a new build is fetched at once.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use sha2::{Digest, Sha256};

/// One embedded file.
#[derive(Debug)]
struct Asset {
    /// The name pages refer to it by.
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// The name it is served under: the name with a hash of the content before the extension.
    hashed: String,
}

const FILES: [(&str, &str, &[u8]); 3] = [
    (
        "htmx.min.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/htmx.min.js"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/console.js"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/console.css"),
    ),
];

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(name, content_type, bytes)| Asset {
            name,
            content_type,
            bytes,
            hashed: hashed_name(name, bytes),
        })
        .collect()
});

/// `console.js` with the first 16 hex digits of the content's SHA-256: `console.0123456789abcdef.js`.
fn hashed_name(name: &str, bytes: &[u8]) -> String {
    let digest = hex::encode(Sha256::digest(bytes));
    let short = &digest[..16];
    match name.rsplit_once('.') {
        Some((stem, extension)) => format!("{stem}.{short}.{extension}"),
        None => format!("{name}.{short}"),
    }
}

/// The URL of the embedded file `name`.
pub fn url(name: &str) -> String {
    let hashed = ASSETS
        .iter()
        .find(|asset| asset.name == name)
        .map_or(name, |asset| asset.hashed.as_str());
    format!("/assets/{hashed}")
}

/// Serves an embedded file by its hashed name, cached for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    match ASSETS.iter().find(|asset| asset.hashed == file) {
        Some(asset) => (
            [
                (CONTENT_TYPE, asset.content_type),
                (CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            asset.bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_urls_change_with_their_content() {
        let a = hashed_name("console.js", b"one");
        let b = hashed_name("console.js", b"two");
        assert_ne!(a, b);
        assert!(a.starts_with("console.") && a.ends_with(".js") && a.len() == "console..js".len() + 16);
        assert!(url("htmx.min.js").starts_with("/assets/htmx.min."));
        assert_eq!(url("missing.css"), "/assets/missing.css");
    }
}
