//! Inbound authentication: bearer tokens compared in constant time.
//!
//! Tokens come from the config file, the environment or files (a Kubernetes Secret volume);
//! they are never logged and never printed by `Debug`.

use subtle::ConstantTimeEq;

/// A secret string whose `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The bearer tokens a tenant accepts.
#[derive(Debug, Clone, Default)]
pub struct TokenSet {
    tokens: Vec<Secret>,
}

impl TokenSet {
    /// A set of accepted tokens (empty tokens are dropped).
    pub fn new(tokens: Vec<Secret>) -> TokenSet {
        TokenSet {
            tokens: tokens
                .into_iter()
                .filter(|t| !t.0.trim().is_empty())
                .collect(),
        }
    }

    /// Whether no token is configured (the gateway then refuses to start).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Checks an `Authorization` header value. Every configured token is compared, in
    /// constant time, so timing tells nothing about which one (or how much of one) matched.
    pub fn accepts(&self, authorization: Option<&str>) -> bool {
        let Some(presented) = authorization.and_then(bearer_token) else {
            return false;
        };
        let mut ok = subtle::Choice::from(0);
        for token in &self.tokens {
            // `ct_eq` on slices leaks only whether the lengths differ, not the content.
            ok |= token.0.as_bytes().ct_eq(presented.as_bytes());
        }
        ok.into()
    }
}

/// The token of a `Bearer` authorization (scheme matched case-insensitively).
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_configured_bearer_tokens() {
        let set = TokenSet::new(vec![Secret::new("s3cret"), Secret::new("other")]);
        assert!(set.accepts(Some("Bearer s3cret")));
        assert!(set.accepts(Some("bearer other")));
        assert!(!set.accepts(Some("Bearer s3cre")));
        assert!(!set.accepts(Some("Basic s3cret")));
        assert!(!set.accepts(Some("s3cret")));
        assert!(!set.accepts(None));
    }

    #[test]
    fn debug_never_shows_secrets() {
        let set = TokenSet::new(vec![Secret::new("s3cret")]);
        assert!(!format!("{set:?}").contains("s3cret"));
    }

    #[test]
    fn empty_tokens_are_ignored() {
        let set = TokenSet::new(vec![Secret::new("  ")]);
        assert!(set.is_empty());
        assert!(!set.accepts(Some("Bearer   ")));
    }
}
