//! The browser's session: the token kept in an HttpOnly, SameSite=Strict cookie, and the Origin check that every
//! POST passes. Pure functions of headers, so that they are tested without a server.

use http::HeaderMap;
use http::header::{COOKIE, HOST, ORIGIN};

/// The cookie that holds the caller's API key or OIDC token.
pub const COOKIE_NAME: &str = "gantry_token";

/// The token in the request's cookies, if any.
pub fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The `Set-Cookie` value that keeps `token`: not readable by scripts, never sent by other sites' requests. `secure`
/// when the console is reached over HTTPS.
pub fn set_cookie(token: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{COOKIE_NAME}={token}; Path=/; HttpOnly; SameSite=Strict{secure}")
}

/// The `Set-Cookie` value that forgets the token.
pub fn clear_cookie() -> String {
    format!("{COOKIE_NAME}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

/// Whether a token can go into a cookie as it is (API keys and JWTs can; anything with separators or spaces cannot).
pub fn cookie_safe(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b',' && b != b'"')
}

/// Whether a POST comes from a page of this console: its `Origin` names the host it was sent to. A request without
/// `Origin` is refused too (browsers send it with every POST).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (
        headers.get(ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let without_scheme = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    without_scheme.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(http::header::HeaderName, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn the_token_is_read_from_its_cookie_among_others() {
        let map = headers(&[(COOKIE, "a=1; gantry_token=gantry_abc.def ; b=2")]);
        assert_eq!(token(&map).as_deref(), Some("gantry_abc.def"));
        assert_eq!(token(&headers(&[(COOKIE, "gantry_token=")])), None);
        assert_eq!(token(&headers(&[(COOKIE, "other=x")])), None);
        assert_eq!(token(&HeaderMap::new()), None);
    }

    #[test]
    fn the_cookie_is_http_only_and_strict() {
        let cookie = set_cookie("tok", false);
        assert!(cookie.starts_with("gantry_token=tok;"));
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(!cookie.contains("Secure"));
        assert!(set_cookie("tok", true).ends_with("; Secure"));
        assert!(clear_cookie().contains("Max-Age=0"));
    }

    #[test]
    fn tokens_with_separators_are_not_put_in_cookies() {
        assert!(cookie_safe("gantry_0123.abc-DEF_"));
        assert!(cookie_safe("eyJhbGciOi.eyJzdWIi.sig-_"));
        assert!(!cookie_safe("a b"));
        assert!(!cookie_safe("a;b"));
        assert!(!cookie_safe(""));
    }

    #[test]
    fn posts_must_come_from_the_console_itself() {
        let ok = headers(&[(ORIGIN, "http://127.0.0.1:8080"), (HOST, "127.0.0.1:8080")]);
        assert!(same_origin(&ok));
        let other = headers(&[(ORIGIN, "http://evil.example"), (HOST, "127.0.0.1:8080")]);
        assert!(!same_origin(&other));
        let other_port = headers(&[(ORIGIN, "http://127.0.0.1:9999"), (HOST, "127.0.0.1:8080")]);
        assert!(!same_origin(&other_port));
        assert!(!same_origin(&headers(&[(HOST, "127.0.0.1:8080")])));
        assert!(!same_origin(&headers(&[(ORIGIN, "null"), (HOST, "127.0.0.1:8080")])));
    }
}
