//! The part of Structured Field Values (RFC 8941) that HTTP Message Signatures use:
//! Dictionaries whose members are Items or Inner Lists, with Parameters, parsed exactly
//! as section 4.2 says and serialized as section 4.1 says (the `@signature-params` line
//! of a signature base is the serialization of what was parsed, RFC 9421 section 2.3).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use std::fmt::Write as _;

/// A bare item (RFC 8941 section 3.3). Decimals are kept as their text: nothing here
/// computes with them, and their serialization is their canonical text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BareItem {
    Integer(i64),
    Decimal(String),
    String(String),
    Token(String),
    Bytes(Vec<u8>),
    Boolean(bool),
}

pub type Parameters = Vec<(String, BareItem)>;

/// An item with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub value: BareItem,
    pub params: Parameters,
}

/// A dictionary member's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member {
    Item(Item),
    InnerList(Vec<Item>, Parameters),
}

/// A parsed dictionary, in field order, each key once (a later duplicate replaces the
/// earlier value in place, as section 4.2.2 says).
pub type Dictionary = Vec<(String, Member)>;

/// Why a field did not parse. The message is safe to show to a caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub &'static str);

/// Parses a Dictionary field value (section 4.2, with `Dictionary` as the top type).
pub fn parse_dictionary(input: &str) -> Result<Dictionary, ParseError> {
    let mut parser = Parser {
        bytes: input.as_bytes(),
        at: 0,
    };
    parser.skip(b' ');
    let mut members: Dictionary = Vec::new();
    while !parser.done() {
        let key = parser.key()?;
        let member = if parser.eat(b'=') {
            parser.item_or_inner_list()?
        } else {
            Member::Item(Item {
                value: BareItem::Boolean(true),
                params: parser.parameters()?,
            })
        };
        match members.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = member,
            None => members.push((key, member)),
        }
        parser.skip_ows();
        if parser.done() {
            break;
        }
        if !parser.eat(b',') {
            return Err(ParseError("expected a comma between dictionary members"));
        }
        parser.skip_ows();
        if parser.done() {
            return Err(ParseError("trailing comma in a dictionary"));
        }
    }
    Ok(members)
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn done(&mut self) -> bool {
        // Trailing spaces of the field are discarded (section 4.2, step 3).
        self.bytes[self.at..].iter().all(|&b| b == b' ')
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let hit = self.peek() == Some(byte);
        self.at += usize::from(hit);
        hit
    }

    fn skip(&mut self, byte: u8) {
        while self.eat(byte) {}
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.at += 1;
        }
    }

    fn key(&mut self) -> Result<String, ParseError> {
        let start = self.at;
        match self.peek() {
            Some(b'a'..=b'z' | b'*') => self.at += 1,
            _ => return Err(ParseError("a key must start with a lowercase letter or *")),
        }
        while matches!(
            self.peek(),
            Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')
        ) {
            self.at += 1;
        }
        Ok(String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned())
    }

    fn item_or_inner_list(&mut self) -> Result<Member, ParseError> {
        if self.eat(b'(') {
            let mut items = Vec::new();
            loop {
                self.skip(b' ');
                if self.eat(b')') {
                    return Ok(Member::InnerList(items, self.parameters()?));
                }
                items.push(self.item()?);
                match self.peek() {
                    Some(b' ' | b')') => {}
                    _ => return Err(ParseError("inner list items must be separated by spaces")),
                }
            }
        }
        Ok(Member::Item(self.item()?))
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        Ok(Item {
            value: self.bare_item()?,
            params: self.parameters()?,
        })
    }

    fn parameters(&mut self) -> Result<Parameters, ParseError> {
        let mut params: Parameters = Vec::new();
        while self.eat(b';') {
            self.skip(b' ');
            let key = self.key()?;
            let value = if self.eat(b'=') {
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            match params.iter_mut().find(|(k, _)| *k == key) {
                Some(slot) => slot.1 = value,
                None => params.push((key, value)),
            }
        }
        Ok(params)
    }

    fn bare_item(&mut self) -> Result<BareItem, ParseError> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b'"') => self.string(),
            Some(b':') => self.bytes(),
            Some(b'?') => self.boolean(),
            Some(b'*' | b'A'..=b'Z' | b'a'..=b'z') => Ok(self.token()),
            _ => Err(ParseError("not a structured field item")),
        }
    }

    fn number(&mut self) -> Result<BareItem, ParseError> {
        let start = self.at;
        self.eat(b'-');
        let digits_start = self.at;
        let mut dot = None;
        while let Some(byte) = self.peek() {
            match byte {
                b'0'..=b'9' => self.at += 1,
                b'.' if dot.is_none() => {
                    dot = Some(self.at);
                    self.at += 1;
                }
                _ => break,
            }
        }
        let text = std::str::from_utf8(&self.bytes[start..self.at]).unwrap_or_default();
        let digits = self.at - digits_start;
        if digits == 0 || (dot.is_none() && digits > 15) {
            return Err(ParseError("number out of range"));
        }
        match dot {
            None => text
                .parse()
                .map(BareItem::Integer)
                .map_err(|_| ParseError("invalid integer")),
            Some(dot) => {
                let (whole, fraction) = (dot - digits_start, self.at - dot - 1);
                if whole == 0 || whole > 12 || fraction == 0 || fraction > 3 {
                    return Err(ParseError("invalid decimal"));
                }
                Ok(BareItem::Decimal(text.to_owned()))
            }
        }
    }

    fn string(&mut self) -> Result<BareItem, ParseError> {
        self.at += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(ParseError("unterminated string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(BareItem::String(out));
                }
                Some(b'\\') => {
                    self.at += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => out.push(char::from(c)),
                        _ => return Err(ParseError("invalid escape in a string")),
                    }
                    self.at += 1;
                }
                Some(c @ 0x20..=0x7e) => {
                    out.push(char::from(c));
                    self.at += 1;
                }
                Some(_) => return Err(ParseError("strings hold printable ASCII only")),
            }
        }
    }

    fn token(&mut self) -> BareItem {
        let start = self.at;
        self.at += 1;
        while let Some(c) = self.peek() {
            let tchar = c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&c);
            if !tchar {
                break;
            }
            self.at += 1;
        }
        BareItem::Token(String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned())
    }

    fn bytes(&mut self) -> Result<BareItem, ParseError> {
        self.at += 1;
        let start = self.at;
        while let Some(c) = self.peek() {
            if c == b':' {
                let text = &self.bytes[start..self.at];
                self.at += 1;
                return STANDARD
                    .decode(text)
                    .map(BareItem::Bytes)
                    .map_err(|_| ParseError("invalid base64 in a byte sequence"));
            }
            if !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'/' | b'=')) {
                return Err(ParseError("invalid character in a byte sequence"));
            }
            self.at += 1;
        }
        Err(ParseError("unterminated byte sequence"))
    }

    fn boolean(&mut self) -> Result<BareItem, ParseError> {
        self.at += 1;
        let value = match self.peek() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err(ParseError("invalid boolean")),
        };
        self.at += 1;
        Ok(BareItem::Boolean(value))
    }
}

/// Serializes a bare item (section 4.1.3).
pub fn write_bare_item(out: &mut String, item: &BareItem) {
    match item {
        BareItem::Integer(value) => {
            let _ = write!(out, "{value}");
        }
        BareItem::Decimal(text) | BareItem::Token(text) => out.push_str(text),
        BareItem::String(text) => {
            out.push('"');
            for c in text.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        BareItem::Bytes(bytes) => {
            out.push(':');
            out.push_str(&STANDARD.encode(bytes));
            out.push(':');
        }
        BareItem::Boolean(value) => out.push_str(if *value { "?1" } else { "?0" }),
    }
}

/// Serializes parameters (section 4.1.1.2): a true boolean is the bare key.
pub fn write_parameters(out: &mut String, params: &Parameters) {
    for (key, value) in params {
        out.push(';');
        out.push_str(key);
        if *value != BareItem::Boolean(true) {
            out.push('=');
            write_bare_item(out, value);
        }
    }
}

/// Serializes an inner list with its parameters (section 4.1.1.1).
pub fn write_inner_list(out: &mut String, items: &[Item], params: &Parameters) {
    out.push('(');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(' ');
        }
        write_bare_item(out, &item.value);
        write_parameters(out, &item.params);
    }
    out.push(')');
    write_parameters(out, params);
}

/// The value of a parameter, if present.
pub fn param<'a>(params: &'a Parameters, key: &str) -> Option<&'a BareItem> {
    params.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_signature_input_and_serializes_it_back() {
        let text = r#"sig1=("@method" "@path" "content-digest";req);created=1618884473;keyid="test-key-ed25519";alg="ed25519""#;
        let dictionary = parse_dictionary(text).unwrap();
        assert_eq!(dictionary.len(), 1);
        let (label, Member::InnerList(items, params)) = &dictionary[0] else {
            panic!("inner list expected")
        };
        assert_eq!(label, "sig1");
        assert_eq!(items.len(), 3);
        assert_eq!(
            items[2].params,
            vec![("req".into(), BareItem::Boolean(true))]
        );
        assert_eq!(
            param(params, "created"),
            Some(&BareItem::Integer(1618884473))
        );
        let mut out = String::new();
        write_inner_list(&mut out, items, params);
        assert_eq!(format!("sig1={out}"), text);
    }

    #[test]
    fn parses_byte_sequences_tokens_and_booleans() {
        let dictionary =
            parse_dictionary("sha-256=:AAEC:, a=?0, b, c=tok/en:x;p=1.5, d=\"q\\\"x\"").unwrap();
        assert_eq!(
            dictionary[0].1,
            Member::Item(Item {
                value: BareItem::Bytes(vec![0, 1, 2]),
                params: vec![]
            })
        );
        assert_eq!(
            dictionary[1].1,
            Member::Item(Item {
                value: BareItem::Boolean(false),
                params: vec![]
            })
        );
        assert_eq!(
            dictionary[2].1,
            Member::Item(Item {
                value: BareItem::Boolean(true),
                params: vec![]
            })
        );
        let Member::Item(item) = &dictionary[3].1 else {
            panic!()
        };
        assert_eq!(item.value, BareItem::Token("tok/en:x".into()));
        assert_eq!(
            item.params,
            vec![("p".into(), BareItem::Decimal("1.5".into()))]
        );
        assert_eq!(
            dictionary[4].1,
            Member::Item(Item {
                value: BareItem::String("q\"x".into()),
                params: vec![]
            })
        );
    }

    #[test]
    fn refuses_malformed_fields() {
        for bad in [
            "Sig=(\"a\")",
            "a=(\"x\"\"y\")",
            "a=:not base64!:",
            "a=\"unterminated",
            "a=1,",
            "a=1 b=2",
            "a=1234567890123456",
            "a=\"\u{e9}\"",
            "a=?2",
            "a=\"bad\\escape\"",
        ] {
            assert!(parse_dictionary(bad).is_err(), "{bad:?} must not parse");
        }
    }

    #[test]
    fn a_later_duplicate_key_replaces_the_earlier_value() {
        let dictionary = parse_dictionary("a=1, b=2, a=3").unwrap();
        assert_eq!(dictionary.len(), 2);
        assert_eq!(
            dictionary[0].1,
            Member::Item(Item {
                value: BareItem::Integer(3),
                params: vec![]
            })
        );
    }
}
