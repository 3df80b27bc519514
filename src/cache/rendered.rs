//! The cached form of a record: its SCIM resource rendered once, as compact JSON text with
//! the base URL cut out, so a cache hit is answered by splicing the request's base URL
//! back in instead of converting the backend record again on every read.

use std::borrow::Cow;
use std::sync::OnceLock;

use serde_json::Value;

/// A SCIM resource (unprojected, without `members`) as JSON text whose base URL (in
/// `meta.location` and every `$ref`) is left out, with the byte offsets where it goes. One text serves every base URL (`public_url`, or each Host an IdP uses). A
/// resource tree would take several times the text's size (a map node and an allocation
/// per key and value), which 100,000 cached users cannot afford.
#[derive(Debug)]
pub struct Rendered {
    /// The text, then the holes as little-endian `u32`s: one allocation per entry.
    data: Box<[u8]>,
    text_len: u32,
    /// Byte range of `meta.version`'s JSON string literal in the text (for the ETag).
    version: Option<(u32, u32)>,
    /// Whether the default projection (no `attributes`/`excludedAttributes`) returns the
    /// resource unchanged, so the text can be sent as it is.
    plain: bool,
    /// Member ids of a group whose membership is an array in its own record, which the
    /// record gives and the resource text does not hold.
    member_ids: Option<Box<[String]>>,
}

/// The stand-in base URL resources are rendered with. Random per process, so no backend
/// value can contain it by accident or design: every occurrence in a rendered text is one
/// the gateway put there.
pub fn base_marker() -> &'static str {
    static MARKER: OnceLock<String> = OnceLock::new();
    MARKER.get_or_init(|| {
        format!(
            "scimgate-base-url-{:016x}{:016x}",
            fastrand::u64(..),
            fastrand::u64(..)
        )
    })
}

/// A base URL as it appears inside a JSON string literal.
pub fn json_escaped(base_url: &str) -> Cow<'_, str> {
    let plain = base_url
        .bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if plain {
        return Cow::Borrowed(base_url);
    }
    let quoted = serde_json::to_string(base_url).unwrap_or_default();
    Cow::Owned(quoted[1..quoted.len() - 1].to_owned())
}

impl Rendered {
    /// Renders `resource`, built with [`base_marker`] as its base URL. `None` only for a
    /// resource too large to index with 32-bit offsets.
    pub fn new(resource: &Value, plain: bool, member_ids: Option<Vec<String>>) -> Option<Rendered> {
        let full = serde_json::to_string(resource).ok()?;
        u32::try_from(full.len()).ok()?;
        let marker = base_marker();
        let mut data = Vec::with_capacity(full.len());
        let mut holes = Vec::new();
        let mut rest = full.as_str();
        while let Some(at) = rest.find(marker) {
            data.extend_from_slice(&rest.as_bytes()[..at]);
            holes.push(data.len() as u32);
            rest = &rest[at + marker.len()..];
        }
        data.extend_from_slice(rest.as_bytes());
        let text_len = data.len() as u32;
        let version = resource
            .pointer("/meta/version")
            .and_then(Value::as_str)
            .and_then(|v| {
                let literal = serde_json::to_string(v).ok()?;
                // Any occurrence of the literal reads the same, so the first one will do.
                let start = memchr_find(&data, literal.as_bytes())?;
                Some((start as u32, (start + literal.len()) as u32))
            });
        for hole in holes {
            data.extend_from_slice(&hole.to_le_bytes());
        }
        Some(Rendered {
            data: data.into_boxed_slice(),
            text_len,
            version,
            plain,
            member_ids: member_ids.map(Vec::into_boxed_slice),
        })
    }

    fn text(&self) -> &[u8] {
        &self.data[..self.text_len as usize]
    }

    fn holes(&self) -> impl Iterator<Item = usize> + '_ {
        self.data[self.text_len as usize..]
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    /// Whether the text is the answer to a read without `attributes`/`excludedAttributes`.
    pub fn plain(&self) -> bool {
        self.plain
    }

    /// The group's member ids, when its mapping keeps them in the group record.
    pub fn member_ids(&self) -> Option<&[String]> {
        self.member_ids.as_deref()
    }

    /// `meta.version`, unescaped.
    pub fn version(&self) -> Option<String> {
        let (start, end) = self.version?;
        serde_json::from_slice(&self.text()[start as usize..end as usize]).ok()
    }

    /// The resource's JSON text for `base_url` (already [`json_escaped`]).
    pub fn to_json(&self, base_url: &str) -> Vec<u8> {
        let text = self.text();
        let holes = (self.data.len() - text.len()) / 4;
        let mut out = Vec::with_capacity(text.len() + holes * base_url.len());
        let mut from = 0;
        for hole in self.holes() {
            out.extend_from_slice(&text[from..hole]);
            out.extend_from_slice(base_url.as_bytes());
            from = hole;
        }
        out.extend_from_slice(&text[from..]);
        out
    }

    /// The resource as a JSON tree, for reads that project, filter or add members.
    pub fn to_value(&self, base_url: &str) -> serde_json::Result<Value> {
        serde_json::from_slice(&self.to_json(base_url))
    }
}

/// The first position of `needle` in `haystack`.
fn memchr_find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn resource(base: &str) -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "id": "7",
            "userName": "zoë@example.com",
            "manager": {"value": "3", "$ref": format!("{base}/Users/3")},
            "meta": {
                "resourceType": "User",
                "version": "W/\"00ff\"",
                "location": format!("{base}/Users/7"),
            },
        })
    }

    #[test]
    fn splices_any_base_url_back_in() {
        let rendered = Rendered::new(&resource(base_marker()), true, None).unwrap();
        for base in ["http://a.test/scim/v2", "https://b.test:8443/x/scim/v2", ""] {
            let got: Value = serde_json::from_slice(&rendered.to_json(base)).unwrap();
            assert_eq!(got, resource(base));
            assert_eq!(rendered.to_value(base).unwrap(), resource(base));
        }
        assert_eq!(rendered.version().as_deref(), Some("W/\"00ff\""));
    }

    #[test]
    fn a_base_url_with_json_specials_stays_valid_json() {
        let rendered = Rendered::new(&resource(base_marker()), true, None).unwrap();
        let base = "http://we\"ird\\host/scim/v2";
        let got = rendered.to_value(&json_escaped(base)).unwrap();
        assert_eq!(got, resource(base));
        assert_eq!(json_escaped("http://plain/scim"), "http://plain/scim");
    }

    #[test]
    fn a_backend_value_that_looks_like_a_base_url_is_left_alone() {
        let mut r = resource(base_marker());
        r["title"] = json!("scimgate-base-url-0000000000000000");
        let rendered = Rendered::new(&r, true, None).unwrap();
        let got = rendered.to_value("http://x").unwrap();
        assert_eq!(got["title"], "scimgate-base-url-0000000000000000");
        assert_eq!(got["meta"]["location"], "http://x/Users/7");
    }

    #[test]
    fn keeps_what_the_text_cannot() {
        let r = Rendered::new(&json!({"id": "1"}), false, Some(vec!["4".into()])).unwrap();
        assert!(!r.plain());
        assert_eq!(r.member_ids(), Some(&["4".to_owned()][..]));
        assert_eq!(r.version(), None);
    }
}
