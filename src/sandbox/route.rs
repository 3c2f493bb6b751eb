//! The simulator's two API paths, written out here rather than borrowed
//! from the client (DESIGN §1), so that a client pointed at a wrong path is
//! caught by a 404 instead of agreeing with itself.

/// `/mobileOnline/query`: the number in clear.
pub const QUERY: &str = "/mobileOnline/query";

/// `/mobileOnline/queryEncry`: the number AES-encrypted.
pub const QUERY_ENCRY: &str = "/mobileOnline/queryEncry";

/// Which API path a request was sent to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// [`QUERY`]: answers carry `mobile`, `res`, `idnum`, `name`.
    Query,
    /// [`QUERY_ENCRY`]: answers carry an `orderid` instead.
    QueryEncry,
}

impl Route {
    /// The route of a request path, matched exactly (the API's paths are
    /// case-sensitive).
    pub fn of(path: &str) -> Option<Route> {
        match path {
            QUERY => Some(Route::Query),
            QUERY_ENCRY => Some(Route::QueryEncry),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_documented_paths_exactly() {
        assert_eq!(Route::of("/mobileOnline/query"), Some(Route::Query));
        assert_eq!(
            Route::of("/mobileOnline/queryEncry"),
            Some(Route::QueryEncry)
        );
        for other in ["/", "/mobileonline/query", "/mobileOnline/query/", "/query"] {
            assert_eq!(Route::of(other), None, "{other}");
        }
    }
}
