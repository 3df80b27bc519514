//! Recursive-descent parser for SCIM filters and PATCH paths, bounded in input length and
//! nesting depth so that no input can exhaust the stack.

use serde_json::Number;

use super::{CompValue, CompareOp, Filter, FilterLimits};
use crate::scim::attr::{self, AttrPath, ParseError};

/// Ceiling on nesting whatever the configured limit, so recursion stays far from the stack's end.
const HARD_MAX_DEPTH: usize = 256;

/// The keyword (or bracket) that makes an expression compulsory, and where it stands.
type After = Option<(&'static str, usize)>;

/// Cursor over one filter or path; positions are byte offsets into `src`.
pub(crate) struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    max_depth: usize,
    in_value_filter: bool,
}

impl<'a> Parser<'a> {
    /// A parser for `src`, refusing input longer than `limits.max_length`.
    pub(crate) fn new(src: &'a str, limits: &FilterLimits) -> Result<Parser<'a>, ParseError> {
        if src.len() > limits.max_length {
            return Err(ParseError::new(
                limits.max_length,
                format!(
                    "input is {} bytes long; at most {} bytes are accepted",
                    src.len(),
                    limits.max_length
                ),
            ));
        }
        Ok(Parser {
            src,
            pos: 0,
            depth: 0,
            max_depth: limits.max_depth.min(HARD_MAX_DEPTH),
            in_value_filter: false,
        })
    }

    /// Parses the whole input as a filter.
    pub(crate) fn filter(mut self) -> Result<Filter, ParseError> {
        let filter = self.or_expr(None)?;
        self.skip_ws();
        match self.peek() {
            None => Ok(filter),
            Some(b')') => Err(self.error("unexpected ')' without a matching '('")),
            Some(b']') => Err(self.error("unexpected ']' without a matching '['")),
            Some(_) => Err(self.error(format!(
                "expected 'and', 'or' or the end of the filter, found '{}'",
                self.excerpt()
            ))),
        }
    }

    /// Parses the whole input as a PATCH path: `attrPath` or `attr[valFilter][.sub]`.
    pub(crate) fn patch_path(
        mut self,
    ) -> Result<(AttrPath, Option<Filter>, Option<String>), ParseError> {
        self.skip_ws();
        let attr = self.attr_path()?;
        let mut filter = None;
        let mut sub = None;
        if self.peek() == Some(b'[') {
            let open = self.pos;
            if attr.sub.is_some() {
                return Err(ParseError::new(
                    open,
                    format!("a value filter must follow an attribute name, not the sub-attribute path '{attr}'"),
                ));
            }
            filter = Some(self.bracketed(open)?);
            if self.peek() == Some(b'.') {
                self.pos += 1;
                sub = Some(self.sub_name()?);
            }
        }
        self.skip_ws();
        if self.pos < self.src.len() {
            return Err(self.error(format!("unexpected '{}' after the path", self.excerpt())));
        }
        Ok((attr, filter, sub))
    }

    fn or_expr(&mut self, after: After) -> Result<Filter, ParseError> {
        let mut items = vec![self.and_expr(after)?];
        loop {
            self.skip_ws();
            let at = self.pos;
            if !self.at_keyword("or") {
                break;
            }
            self.pos += 2;
            items.push(self.and_expr(Some(("or", at)))?);
        }
        Ok(combine(items, false))
    }

    fn and_expr(&mut self, after: After) -> Result<Filter, ParseError> {
        let mut items = vec![self.unary(after)?];
        loop {
            self.skip_ws();
            let at = self.pos;
            if !self.at_keyword("and") {
                break;
            }
            self.pos += 3;
            items.push(self.unary(Some(("and", at)))?);
        }
        Ok(combine(items, true))
    }

    fn unary(&mut self, after: After) -> Result<Filter, ParseError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            None | Some(b')') | Some(b']') => Err(self.missing_expression(after)),
            Some(b'(') => self.group(),
            Some(_) if self.at_keyword("not") => {
                self.pos += 3;
                self.skip_ws();
                if self.peek() == Some(b'(') {
                    return Ok(Filter::Not(Box::new(self.group()?)));
                }
                // `not` is also a legal attribute name: `not pr`, `not eq "x"`.
                let next = self.word();
                if next.eq_ignore_ascii_case("pr") || CompareOp::parse(next).is_some() {
                    self.pos = start;
                    return self.attr_expr();
                }
                Err(ParseError::new(start, "expected '(' after 'not'"))
            }
            Some(_) => self.attr_expr(),
        }
    }

    /// `( filter )`, with the cursor on the `(`.
    fn group(&mut self) -> Result<Filter, ParseError> {
        let open = self.pos;
        self.enter(open)?;
        self.pos += 1;
        let inner = self.or_expr(Some(("(", open)))?;
        self.skip_ws();
        match self.peek() {
            Some(b')') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(inner)
            }
            None => Err(ParseError::new(
                open,
                "unclosed '(': missing ')' before the end of the input",
            )),
            Some(_) => Err(self.error(format!(
                "expected ')' to close the '(' at position {open}, found '{}'",
                self.excerpt()
            ))),
        }
    }

    /// `[ filter ]`, with the cursor on the `[`.
    fn bracketed(&mut self, open: usize) -> Result<Filter, ParseError> {
        if self.in_value_filter {
            return Err(ParseError::new(open, "value filters cannot be nested"));
        }
        self.enter(open)?;
        self.pos += 1;
        self.in_value_filter = true;
        let inner = self.or_expr(Some(("[", open)))?;
        self.in_value_filter = false;
        self.skip_ws();
        match self.peek() {
            Some(b']') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(inner)
            }
            None => Err(ParseError::new(
                open,
                "unclosed '[': missing ']' before the end of the input",
            )),
            Some(_) => Err(self.error(format!(
                "expected ']' to close the '[' at position {open}, found '{}'",
                self.excerpt()
            ))),
        }
    }

    /// `attrPath pr`, `attrPath op value`, or a value path `attr[…]` (with Entra's `.sub op value`).
    fn attr_expr(&mut self) -> Result<Filter, ParseError> {
        let path = self.attr_path()?;
        if self.peek() != Some(b'[') {
            return self.operator_and_value(path);
        }
        let open = self.pos;
        if path.sub.is_some() {
            return Err(ParseError::new(
                open,
                format!("a value filter must follow an attribute name, not the sub-attribute path '{path}'"),
            ));
        }
        let inner = self.bracketed(open)?;
        if self.peek() != Some(b'.') {
            return Ok(Filter::ValuePath {
                attr: path,
                filter: Box::new(inner),
            });
        }
        // Entra: `emails[type eq "work"].value eq "x"` means both conditions on one element.
        self.pos += 1;
        let sub = self.sub_name()?;
        let comparison = self.operator_and_value(AttrPath::simple(sub))?;
        Ok(Filter::ValuePath {
            attr: path,
            filter: Box::new(combine(vec![inner, comparison], true)),
        })
    }

    fn operator_and_value(&mut self, path: AttrPath) -> Result<Filter, ParseError> {
        self.skip_ws();
        let op_pos = self.pos;
        let word = self.word();
        if word.is_empty() {
            let found = match self.peek() {
                None => "the end of the input".to_owned(),
                Some(_) => format!("'{}'", self.excerpt()),
            };
            return Err(self.error(format!(
                "expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after '{path}', found {found}"
            )));
        }
        if word.eq_ignore_ascii_case("pr") {
            self.pos += word.len();
            return Ok(Filter::Present(path));
        }
        let Some(op) = CompareOp::parse(word) else {
            return Err(self.error(format!(
                "unknown operator '{word}' (expected eq, ne, co, sw, ew, gt, ge, lt, le or pr)"
            )));
        };
        self.pos += word.len();
        self.skip_ws();
        let value = match self.peek() {
            None | Some(b')') | Some(b']') => {
                return Err(ParseError::new(
                    op_pos,
                    format!("expected a comparison value after '{word}'"),
                ))
            }
            Some(b'"') => CompValue::Str(self.json_string()?),
            Some(_) => self.bare_value(),
        };
        Ok(Filter::Compare { path, op, value })
    }

    /// An attribute path token: runs until a blank, a bracket, a parenthesis or a quote.
    fn attr_path(&mut self) -> Result<AttrPath, ParseError> {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() || b"[]()\"".contains(&b) {
                break;
            }
            self.pos += 1;
        }
        if self.pos == start {
            let found = match self.peek() {
                None => "the end of the input".to_owned(),
                Some(_) => format!("'{}'", self.excerpt()),
            };
            return Err(self.error(format!("expected an attribute name, found {found}")));
        }
        attr::parse_span(self.src, start, self.pos)
    }

    /// The sub-attribute name after `].`, with the cursor just past the dot.
    fn sub_name(&mut self) -> Result<String, ParseError> {
        let start = self.pos;
        let name = self.word();
        self.pos += name.len();
        attr::check_name(name, start, "'.'")?;
        Ok(name.to_owned())
    }

    /// Entra's unquoted value: up to a blank, `)` or `]`; JSON literals and numbers keep their type.
    fn bare_value(&mut self) -> CompValue {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_whitespace() || b == b')' || b == b']' {
                break;
            }
            self.pos += 1;
        }
        let token = self.src.get(start..self.pos).unwrap_or_default();
        if token.eq_ignore_ascii_case("true") {
            CompValue::Bool(true)
        } else if token.eq_ignore_ascii_case("false") {
            CompValue::Bool(false)
        } else if token.eq_ignore_ascii_case("null") {
            CompValue::Null
        } else if let Ok(n) = serde_json::from_str::<Number>(token) {
            CompValue::Number(n)
        } else {
            CompValue::Str(token.to_owned())
        }
    }

    /// A JSON string literal with the cursor on its opening quote.
    fn json_string(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        while let Some(b) = self.peek() {
            match b {
                b'"' => {
                    out.push_str(self.src.get(run..self.pos).unwrap_or_default());
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(self.src.get(run..self.pos).unwrap_or_default());
                    out.push(self.escape(open)?);
                    run = self.pos;
                }
                _ => self.pos += 1,
            }
        }
        Err(ParseError::new(
            open,
            "unterminated string: missing the closing '\"'",
        ))
    }

    /// One escape sequence with the cursor on its backslash.
    fn escape(&mut self, open: usize) -> Result<char, ParseError> {
        let at = self.pos;
        let Some(code) = self.src.as_bytes().get(at + 1).copied() else {
            return Err(ParseError::new(
                open,
                "unterminated string: missing the closing '\"'",
            ));
        };
        let simple = match code {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            _ => None,
        };
        if let Some(c) = simple {
            self.pos += 2;
            return Ok(c);
        }
        if code != b'u' {
            let shown = self
                .src
                .get(at + 1..)
                .and_then(|s| s.chars().next())
                .unwrap_or('?');
            return Err(ParseError::new(
                at,
                format!("invalid escape '\\{shown}' in string"),
            ));
        }
        let bad = || {
            ParseError::new(
                at,
                "invalid \\u escape: expected four hex digits naming a character",
            )
        };
        let high = self.hex4(at + 2).ok_or_else(bad)?;
        self.pos += 6;
        let code_point = match high {
            0xD800..=0xDBFF => {
                let low = match self.src.get(self.pos..self.pos + 2) {
                    Some("\\u") => self.hex4(self.pos + 2),
                    _ => None,
                };
                match low {
                    Some(low @ 0xDC00..=0xDFFF) => {
                        self.pos += 6;
                        0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    }
                    _ => {
                        return Err(ParseError::new(
                            at,
                            "unpaired UTF-16 surrogate in \\u escape",
                        ))
                    }
                }
            }
            0xDC00..=0xDFFF => {
                return Err(ParseError::new(
                    at,
                    "unpaired UTF-16 surrogate in \\u escape",
                ))
            }
            other => other,
        };
        char::from_u32(code_point).ok_or_else(bad)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.src.get(at..at + 4)?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    }

    fn enter(&mut self, at: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.max_depth {
            return Err(ParseError::new(
                at,
                format!("nested more than {} levels deep", self.max_depth),
            ));
        }
        Ok(())
    }

    fn missing_expression(&self, after: After) -> ParseError {
        match after {
            Some((keyword, at)) => ParseError::new(
                at,
                format!("expected a filter expression after '{keyword}'"),
            ),
            None if self.pos >= self.src.len() => {
                self.error("expected a filter expression, found the end of the input")
            }
            None => self.error(format!(
                "expected a filter expression, found '{}'",
                self.excerpt()
            )),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// The run of name characters at the cursor (letters, digits, `-`, `_`, `$`).
    fn word(&self) -> &'a str {
        let rest = self.src.get(self.pos..).unwrap_or_default();
        let len = rest
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || b"-_$".contains(b))
            .count();
        &rest[..len]
    }

    /// Whether the cursor is on `keyword` as a word of its own (not `and.x` or `or[`).
    fn at_keyword(&self, keyword: &str) -> bool {
        let word = self.word();
        let next = self.src.as_bytes().get(self.pos + word.len());
        word.eq_ignore_ascii_case(keyword) && !matches!(next, Some(b'.' | b':' | b'['))
    }

    /// The token at the cursor, shortened, for error messages.
    fn excerpt(&self) -> String {
        let rest = self.src.get(self.pos..).unwrap_or_default();
        let token: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace())
            .take(24)
            .collect();
        if token.is_empty() {
            rest.chars().take(1).collect()
        } else {
            token
        }
    }

    fn error(&self, message: impl Into<String>) -> ParseError {
        ParseError::new(self.pos, message)
    }
}

/// Joins terms into one filter, flattening nested lists of the same connective.
pub(crate) fn combine(items: Vec<Filter>, and: bool) -> Filter {
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match item {
            Filter::And(inner) if and => flat.extend(inner),
            Filter::Or(inner) if !and => flat.extend(inner),
            other => flat.push(other),
        }
    }
    if flat.len() == 1 {
        if let Some(only) = flat.pop() {
            return only;
        }
    }
    if and {
        Filter::And(flat)
    } else {
        Filter::Or(flat)
    }
}
