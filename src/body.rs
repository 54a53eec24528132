//! The error body: a push parser that finds the top-level `errorMessage` of a JSON object.

use heapless::String;

use crate::utf8::{Step, Utf8};

/// The deepest nesting of arrays and objects a body may have, counting the top-level object
/// as 1. `serde_json` refuses the 128th level; so does this parser.
pub const MAX_DEPTH: u8 = 127;

/// What the body turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BodyKind {
    /// A JSON object with a top-level `errorMessage` string: the text is that message.
    ErrorMessage,
    /// A JSON object with no `errorMessage` key but a top-level `error` string: the text is it.
    Error,
    /// A valid JSON object without a message (no such key, or its value is not a string).
    NoMessage,
    /// Not a JSON object (HTML, plain text, a JSON array or scalar): the text is a printable
    /// prefix of the body, for the log only.
    NotJson,
    /// Empty, or only whitespace.
    Empty,
    /// It began as a JSON object but ended early.
    Truncated,
    /// It began as a JSON object but is not valid JSON (or is nested deeper than
    /// [`MAX_DEPTH`]).
    Invalid,
    /// No body was read: a success, or a transport failure.
    NotRead,
}

/// What the parser found in an error body, with the text it kept.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Body<const N: usize> {
    kind: BodyKind,
    text: String<N>,
    truncated: bool,
}

impl<const N: usize> Body<N> {
    /// A body that was not read.
    #[must_use]
    pub const fn not_read() -> Self {
        Self { kind: BodyKind::NotRead, text: String::new(), truncated: false }
    }

    /// Parses a whole body at once.
    #[must_use]
    pub fn parse(body: &[u8]) -> Self {
        let mut parser = BodyParser::new();
        parser.feed(body);
        parser.finish()
    }

    /// What the body turned out to be.
    #[must_use]
    pub const fn kind(&self) -> BodyKind {
        self.kind
    }

    /// The error message (`errorMessage`, or the `error` fallback), unescaped.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        match self.kind {
            BodyKind::ErrorMessage | BodyKind::Error => Some(self.text.as_str()),
            _ => None,
        }
    }

    /// The printable prefix of a body that was not JSON. Raw text for a log line, not a
    /// message from the API.
    #[must_use]
    pub fn raw_text(&self) -> Option<&str> {
        match self.kind {
            BodyKind::NotJson => Some(self.text.as_str()),
            _ => None,
        }
    }

    /// Whether the text was cut (at a character boundary) to fit in `N` bytes.
    #[must_use]
    pub const fn is_truncated(&self) -> bool {
        self.truncated
    }
}

/// Whether more of the body can still change the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Progress {
    /// Keep feeding: the answer depends on what comes next.
    Reading,
    /// The answer is fixed (the body is not JSON and its prefix is kept, or it is broken);
    /// the caller may stop reading and call [`BodyParser::finish`].
    Decided,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Number {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    Exp,
    ExpSign,
    ExpInt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Nothing read yet: a BOM may come.
    Start,
    Bom1,
    Bom2,
    /// Only whitespace so far.
    Lead,
    /// Not JSON: keeping a printable prefix.
    Raw,
    /// Not JSON, prefix kept: the rest is ignored.
    RawDone,
    /// A value must come (after `:`, or `,` in an array).
    Value,
    /// After `[`.
    ValueOrClose,
    /// After `{`.
    KeyOrClose,
    /// After `,` in an object.
    Key,
    Colon,
    CommaOrClose,
    Str,
    Escape,
    /// Inside `\uXXXX`, with this many hex digits read.
    Hex(u8),
    Num(Number),
    /// Inside `true`, `false` or `null`: which one, and how many bytes matched.
    Literal(u8, u8),
    /// After the top-level object: only whitespace may follow.
    End,
    Invalid,
}

/// What the string being read is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// A value that is not the message: validated, not kept.
    Skip,
    /// A key of a nested object: validated, not kept.
    NestedKey,
    /// A key of the top-level object: kept (up to 12 bytes) to compare.
    TopKey,
    /// The message: unescaped into the caller's buffer.
    Capture,
}

/// Which key of the top-level object was just read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Other,
    ErrorMessage,
    Error,
}

/// What the top-level object said so far for one of the two keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Absent,
    Text,
    NotText,
}

const LITERALS: [&[u8]; 3] = [b"true", b"false", b"null"];
const KEY_CAP: usize = 12;
/// `key_len` past `KEY_CAP`: the key is longer than any we look for.
const KEY_OVERFLOW: u8 = u8::MAX;

/// A push parser for error bodies.
///
/// It is fed the body in chunks of any size ([`BodyParser::feed`]) and then told that
/// the body ended ([`BodyParser::finish`]). It checks the whole body against RFC 8259's
/// grammar in one pass with constant memory — a bit per nesting level, no recursion — and
/// unescapes the message straight into the caller's [`heapless::String<N>`].
///
/// # What counts as the message
///
/// - The value of the key `errorMessage` in the top-level object, if it is a string. Keys are
///   compared after unescaping, so `"error\u004dessage"` is the same key.
/// - If the key appears more than once, the **last** one wins (as `serde_json::Value` and
///   JavaScript's `JSON.parse` do); if that last value is not a string there is no message.
/// - Only if there is no `errorMessage` key at all, the value of a top-level `error` key,
///   under the same rules.
/// - Nothing nested: an `errorMessage` inside `data: {...}` or an array is not it.
/// - Nothing from a body that is not valid JSON in full: a broken or cut-off body is reported
///   as [`BodyKind::Invalid`] or [`BodyKind::Truncated`] and carries no text.
///
/// # Where RFC 8259 leaves the choice to the parser
///
/// - A leading UTF-8 byte-order mark is skipped.
/// - A lone surrogate escape (`"\ud800"`) becomes U+FFFD.
/// - Invalid UTF-8 inside a string becomes U+FFFD (one per maximal ill-formed subpart).
/// - Nesting deeper than [`MAX_DEPTH`] is refused ([`BodyKind::Invalid`]), the same limit at
///   which `serde_json` refuses it.
///
/// # A body that is not JSON
///
/// If the first byte after whitespace (and a BOM) is not `{`, the body is not a JSON object:
/// an HTML page from a proxy, plain text, or a JSON array or scalar. The parser decides at
/// that byte, keeps a printable prefix of the body in the same buffer (runs of whitespace
/// become one space, control characters and invalid UTF-8 become U+FFFD) and ignores the rest
/// once the buffer is full.
///
/// ```
/// use backoff_core::{BodyKind, BodyParser};
///
/// let mut parser = BodyParser::<64>::new();
/// for chunk in br#"{"errorMessage":"Invalid fields: \"emails\"."}"#.chunks(5) {
///     parser.feed(chunk);
/// }
/// let body = parser.finish();
/// assert_eq!(body.kind(), BodyKind::ErrorMessage);
/// assert_eq!(body.message(), Some("Invalid fields: \"emails\"."));
/// ```
#[derive(Clone, Debug)]
pub struct BodyParser<const N: usize> {
    state: State,
    role: Role,
    depth: u8,
    /// Bit `i` is set when the container at depth `i + 1` is an object.
    stack: u128,
    utf8: Utf8,
    /// A high surrogate escape waiting for its low half; 0 when none.
    high: u16,
    hex: u16,
    key: [u8; KEY_CAP],
    key_len: u8,
    target: Target,
    error_message: Slot,
    error: Slot,
    /// The raw prefix owes a space before its next character.
    raw_space: bool,
    text: String<N>,
    truncated: bool,
}

impl<const N: usize> Default for BodyParser<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> BodyParser<N> {
    /// A parser at the start of a body.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            state: State::Start,
            role: Role::Skip,
            depth: 0,
            stack: 0,
            utf8: Utf8::new(),
            high: 0,
            hex: 0,
            key: [0; KEY_CAP],
            key_len: 0,
            target: Target::Other,
            error_message: Slot::Absent,
            error: Slot::Absent,
            raw_space: false,
            text: String::new(),
            truncated: false,
        }
    }

    /// Feeds the next chunk of the body. Chunks may be any size, including empty.
    pub fn feed(&mut self, chunk: &[u8]) -> Progress {
        let mut i = 0;
        while let Some(&byte) = chunk.get(i) {
            match self.state {
                State::Invalid | State::RawDone => return Progress::Decided,
                State::Str if self.high == 0 && !self.utf8.is_pending() => {
                    // The hot loop: a run of plain bytes inside a string.
                    let rest = chunk.get(i..).unwrap_or_default();
                    let run = plain_run(rest, self.role == Role::Capture);
                    if run > 0 {
                        let plain = rest.get(..run).unwrap_or_default();
                        match self.role {
                            Role::Capture => self.capture_ascii(plain),
                            Role::TopKey => self.key_bytes(plain),
                            Role::Skip | Role::NestedKey => {}
                        }
                        i += run;
                        continue;
                    }
                }
                _ => {}
            }
            if self.step(byte) {
                i += 1;
            }
        }
        match self.state {
            State::Invalid | State::RawDone => Progress::Decided,
            _ => Progress::Reading,
        }
    }

    /// Ends the body and says what it was.
    #[must_use]
    pub fn finish(mut self) -> Body<N> {
        let kind = match self.state {
            State::Start | State::Lead => BodyKind::Empty,
            State::Bom1 | State::Bom2 | State::Raw | State::RawDone => {
                if self.state != State::RawDone && self.utf8.is_pending() {
                    self.raw_char(char::REPLACEMENT_CHARACTER);
                }
                if self.state == State::Bom1 || self.state == State::Bom2 {
                    // A byte-order mark cut short: its bytes are not UTF-8 on their own.
                    self.raw_char(char::REPLACEMENT_CHARACTER);
                }
                BodyKind::NotJson
            }
            State::End => match (self.error_message, self.error) {
                (Slot::Text, _) => BodyKind::ErrorMessage,
                (Slot::Absent, Slot::Text) => BodyKind::Error,
                _ => BodyKind::NoMessage,
            },
            State::Invalid => BodyKind::Invalid,
            _ => BodyKind::Truncated,
        };
        if !matches!(kind, BodyKind::ErrorMessage | BodyKind::Error | BodyKind::NotJson) {
            self.text.clear();
            self.truncated = false;
        }
        Body { kind, text: self.text, truncated: self.truncated }
    }

    /// Handles one byte; `false` when the byte must be handled again in the new state.
    fn step(&mut self, b: u8) -> bool {
        match self.state {
            State::Start => match b {
                0xEF => self.state = State::Bom1,
                _ => {
                    self.state = State::Lead;
                    return false;
                }
            },
            State::Bom1 => {
                if b == 0xBB {
                    self.state = State::Bom2;
                } else {
                    self.state = State::Raw;
                    self.raw_byte(0xEF);
                    return false;
                }
            }
            State::Bom2 => {
                if b == 0xBF {
                    self.state = State::Lead;
                } else {
                    self.state = State::Raw;
                    self.raw_byte(0xEF);
                    self.raw_byte(0xBB);
                    return false;
                }
            }
            State::Lead => match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'{' => self.open(true),
                _ => {
                    self.state = State::Raw;
                    return false;
                }
            },
            State::Raw => return self.raw_byte(b),
            State::RawDone | State::Invalid => {}
            State::Value => return self.value(b),
            State::ValueOrClose => {
                if b == b']' {
                    self.close(false);
                } else {
                    return self.value(b);
                }
            }
            State::KeyOrClose => match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => self.begin_key(),
                b'}' => self.close(true),
                _ => self.state = State::Invalid,
            },
            State::Key => match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b'"' => self.begin_key(),
                _ => self.state = State::Invalid,
            },
            State::Colon => match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b':' => self.state = State::Value,
                _ => self.state = State::Invalid,
            },
            State::CommaOrClose => match b {
                b' ' | b'\t' | b'\n' | b'\r' => {}
                b',' => self.state = if self.top_is_object() { State::Key } else { State::Value },
                b'}' => self.close(true),
                b']' => self.close(false),
                _ => self.state = State::Invalid,
            },
            State::Str => return self.string_byte(b),
            State::Escape => self.escape(b),
            State::Hex(n) => self.hex_digit(n, b),
            State::Num(n) => return self.number(n, b),
            State::Literal(which, at) => {
                let word = LITERALS.get(usize::from(which)).copied().unwrap_or_default();
                if word.get(usize::from(at)) != Some(&b) {
                    self.state = State::Invalid;
                } else if usize::from(at) + 1 == word.len() {
                    self.state = State::CommaOrClose;
                } else {
                    self.state = State::Literal(which, at + 1);
                }
            }
            State::End => {
                if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                    self.state = State::Invalid;
                }
            }
        }
        true
    }

    /// The first byte of a value.
    fn value(&mut self, b: u8) -> bool {
        let at_top = self.depth == 1;
        match b {
            b' ' | b'\t' | b'\n' | b'\r' => return true,
            b'"' => {
                self.role = if at_top { self.begin_top_value(true) } else { Role::Skip };
                self.state = State::Str;
                return true;
            }
            _ => {}
        }
        if at_top {
            self.begin_top_value(false);
        }
        match b {
            b'{' => self.open(true),
            b'[' => self.open(false),
            b'-' => self.state = State::Num(Number::Minus),
            b'0' => self.state = State::Num(Number::Zero),
            b'1'..=b'9' => self.state = State::Num(Number::Int),
            b't' => self.state = State::Literal(0, 1),
            b'f' => self.state = State::Literal(1, 1),
            b'n' => self.state = State::Literal(2, 1),
            _ => self.state = State::Invalid,
        }
        true
    }

    /// A value of the top-level object begins: records what it means for the message.
    fn begin_top_value(&mut self, is_string: bool) -> Role {
        let slot = if is_string { Slot::Text } else { Slot::NotText };
        let capture = match self.target {
            Target::Other => false,
            Target::ErrorMessage => {
                self.error_message = slot;
                is_string
            }
            Target::Error => {
                self.error = slot;
                is_string && self.error_message == Slot::Absent
            }
        };
        self.target = Target::Other;
        if capture {
            self.text.clear();
            self.truncated = false;
            Role::Capture
        } else {
            Role::Skip
        }
    }

    fn begin_key(&mut self) {
        self.role = if self.depth == 1 {
            self.key_len = 0;
            Role::TopKey
        } else {
            Role::NestedKey
        };
        self.state = State::Str;
    }

    fn open(&mut self, object: bool) {
        if self.depth >= MAX_DEPTH {
            self.state = State::Invalid;
            return;
        }
        if object {
            self.stack |= 1u128 << self.depth;
        } else {
            self.stack &= !(1u128 << self.depth);
        }
        self.depth += 1;
        self.state = if object { State::KeyOrClose } else { State::ValueOrClose };
    }

    fn top_is_object(&self) -> bool {
        match self.depth.checked_sub(1) {
            Some(top) => self.stack & (1u128 << top) != 0,
            None => false,
        }
    }

    fn close(&mut self, object: bool) {
        if self.depth == 0 || self.top_is_object() != object {
            self.state = State::Invalid;
            return;
        }
        self.depth -= 1;
        self.state = if self.depth == 0 { State::End } else { State::CommaOrClose };
    }

    fn string_byte(&mut self, b: u8) -> bool {
        if self.high != 0 && b != b'\\' {
            self.high = 0;
            self.emit(char::REPLACEMENT_CHARACTER);
        }
        if b < 0x80 && self.utf8.is_pending() {
            self.utf8.reset();
            self.emit(char::REPLACEMENT_CHARACTER);
        }
        match b {
            b'"' => self.end_string(),
            b'\\' => self.state = State::Escape,
            0x00..=0x1F => self.state = State::Invalid,
            0x20..=0x7F => self.emit(char::from(b)),
            _ => match self.role {
                Role::Skip | Role::NestedKey => {}
                Role::TopKey => self.key_len = KEY_OVERFLOW,
                Role::Capture => match self.utf8.push(b) {
                    Step::Pending => {}
                    Step::Char(c) => self.emit(c),
                    Step::Replace => {
                        self.emit(char::REPLACEMENT_CHARACTER);
                        return false;
                    }
                },
            },
        }
        true
    }

    fn end_string(&mut self) {
        if self.role == Role::TopKey {
            let key = self.key.get(..usize::from(self.key_len)).unwrap_or_default();
            self.target = match key {
                b"errorMessage" => Target::ErrorMessage,
                b"error" => Target::Error,
                _ => Target::Other,
            };
            self.state = State::Colon;
        } else if self.role == Role::NestedKey {
            self.state = State::Colon;
        } else {
            self.state = State::CommaOrClose;
        }
        self.role = Role::Skip;
    }

    fn escape(&mut self, b: u8) {
        if self.high != 0 && b != b'u' {
            self.high = 0;
            self.emit(char::REPLACEMENT_CHARACTER);
        }
        self.state = State::Str;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                self.hex = 0;
                self.state = State::Hex(0);
                return;
            }
            _ => {
                self.state = State::Invalid;
                return;
            }
        };
        self.emit(c);
    }

    fn hex_digit(&mut self, n: u8, b: u8) {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => {
                self.state = State::Invalid;
                return;
            }
        };
        self.hex = (self.hex << 4) | u16::from(v);
        if n < 3 {
            self.state = State::Hex(n + 1);
            return;
        }
        self.state = State::Str;
        let unit = self.hex;
        if self.high != 0 {
            let high = self.high;
            self.high = 0;
            if (0xDC00..=0xDFFF).contains(&unit) {
                let code = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                self.emit(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                return;
            }
            self.emit(char::REPLACEMENT_CHARACTER);
        }
        match unit {
            0xD800..=0xDBFF => self.high = unit,
            _ => self.emit(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
    }

    fn number(&mut self, n: Number, b: u8) -> bool {
        let next = match (n, b) {
            (Number::Minus, b'0') => Number::Zero,
            (Number::Minus, b'1'..=b'9') => Number::Int,
            (Number::Int, b'0'..=b'9') => Number::Int,
            (Number::Zero | Number::Int, b'.') => Number::Dot,
            (Number::Dot | Number::Frac, b'0'..=b'9') => Number::Frac,
            (Number::Zero | Number::Int | Number::Frac, b'e' | b'E') => Number::Exp,
            (Number::Exp, b'+' | b'-') => Number::ExpSign,
            (Number::Exp | Number::ExpSign | Number::ExpInt, b'0'..=b'9') => Number::ExpInt,
            (Number::Zero | Number::Int | Number::Frac | Number::ExpInt, _) => {
                // The number ended; this byte belongs to what follows it.
                self.state = State::CommaOrClose;
                return false;
            }
            _ => {
                self.state = State::Invalid;
                return true;
            }
        };
        self.state = State::Num(next);
        true
    }

    fn emit(&mut self, c: char) {
        match self.role {
            Role::Skip | Role::NestedKey => {}
            Role::TopKey => {
                let mut buf = [0; 4];
                for &b in c.encode_utf8(&mut buf).as_bytes() {
                    match self.key.get_mut(usize::from(self.key_len)) {
                        Some(slot) if self.key_len != KEY_OVERFLOW => {
                            *slot = b;
                            self.key_len += 1;
                        }
                        _ => self.key_len = KEY_OVERFLOW,
                    }
                }
            }
            Role::Capture => {
                if !self.truncated && self.text.push(c).is_err() {
                    self.truncated = true;
                }
            }
        }
    }

    /// Appends raw bytes to the top-level key being read. Bytes past the longest key looked
    /// for only mark it as too long; non-ASCII bytes are kept as they are, which is how an
    /// escaped character would be encoded too.
    fn key_bytes(&mut self, bytes: &[u8]) {
        let at = usize::from(self.key_len);
        match self.key.get_mut(at..at + bytes.len()) {
            Some(slot) if self.key_len != KEY_OVERFLOW => {
                slot.copy_from_slice(bytes);
                self.key_len += bytes.len() as u8;
            }
            _ => self.key_len = KEY_OVERFLOW,
        }
    }

    fn capture_ascii(&mut self, run: &[u8]) {
        if self.truncated {
            return;
        }
        let room = N - self.text.len();
        let (fits, cut) =
            if run.len() <= room { (run, false) } else { (run.get(..room).unwrap_or_default(), true) };
        // `plain_run` only counts printable ASCII when capturing, so this is valid UTF-8.
        if let Ok(s) = core::str::from_utf8(fits) {
            if self.text.push_str(s).is_err() {
                self.truncated = true;
            }
        }
        if cut {
            self.truncated = true;
        }
    }

    /// Keeps one byte of a body that is not JSON; `false` when it must be handled again.
    fn raw_byte(&mut self, b: u8) -> bool {
        match self.utf8.push(b) {
            Step::Pending => true,
            Step::Char(c) => {
                self.raw_char(c);
                true
            }
            Step::Replace => {
                self.raw_char(char::REPLACEMENT_CHARACTER);
                false
            }
        }
    }

    fn raw_char(&mut self, c: char) {
        if self.state == State::RawDone {
            return;
        }
        if c.is_whitespace() {
            self.raw_space = !self.text.is_empty();
            return;
        }
        let c = if c.is_control() { char::REPLACEMENT_CHARACTER } else { c };
        let spaced = !self.raw_space || self.text.push(' ').is_ok();
        self.raw_space = false;
        if !spaced || self.text.push(c).is_err() {
            self.truncated = true;
            self.state = State::RawDone;
        }
    }
}

/// The length of the run at the start of `bytes` that needs no per-byte work inside a
/// string: not `"`, `\` or a control byte; and, when capturing, ASCII only (other bytes go
/// through the UTF-8 decoder).
fn plain_run(bytes: &[u8], ascii_only: bool) -> usize {
    let table = if ascii_only { &PLAIN_ASCII } else { &PLAIN_ANY };
    bytes.iter().position(|&b| !table[usize::from(b)]).unwrap_or(bytes.len())
}

const fn plain_table(ascii_only: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0x20;
    while b < 256 {
        table[b] = b != b'"' as usize && b != b'\\' as usize && (b < 0x80 || !ascii_only);
        b += 1;
    }
    table
}

static PLAIN_ASCII: [bool; 256] = plain_table(true);
static PLAIN_ANY: [bool; 256] = plain_table(false);
