//! The error body: a push parser that finds the top-level `errorMessage` of a JSON object.

use heapless::Vec;

use crate::utf8::{Step, Utf8};

mod encoding;
#[cfg(feature = "fast-body")]
mod fast;
mod wait;

pub use wait::{BodyFields, BodyWait};
use wait::{Secondary, Seconds};

/// [`BodyParser::MAX_DEPTH`], for the parser's own modules.
pub(crate) const MAX_DEPTH: u8 = 127;

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
    /// It began as a JSON object but ended early, or the caller could not read the body to its
    /// end ([`Reply::body_failed`](crate::Reply::body_failed)).
    Truncated,
    /// It began as a JSON object but is not valid JSON (or is nested deeper than
    /// [`BodyParser::MAX_DEPTH`]).
    Invalid,
    /// No body was read: a success, or a transport failure.
    NotRead,
}

/// What the parser found in an error body, with the text it kept.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Body<const N: usize> {
    kind: BodyKind,
    text: Text<N>,
    truncated: bool,
}

/// Up to `N` bytes of UTF-8 text: a `heapless::String<N>` that takes runs already known to be
/// ASCII without validating them again (the parser's scanners know; `from_utf8` on every run
/// cost a failing decision about a tenth of its instructions). Only [`Text::push`],
/// [`Text::push_str`] and [`Text::push_ascii`] write it, so it is always valid UTF-8.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Text<const N: usize>(Vec<u8, N>);

impl<const N: usize> Text<N> {
    const fn new() -> Self {
        Self(Vec::new())
    }

    /// The text. Always whole: every write keeps the bytes valid UTF-8.
    pub(crate) fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0).unwrap_or_default()
    }

    #[cfg(feature = "fast-body")]
    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn clear(&mut self) {
        self.0.clear();
    }

    /// Appends a character, or nothing if it does not fit whole.
    pub(crate) fn push(&mut self, c: char) -> Result<(), ()> {
        self.push_str(c.encode_utf8(&mut [0; 4]))
    }

    /// Appends text, or nothing if it does not fit whole.
    pub(crate) fn push_str(&mut self, s: &str) -> Result<(), ()> {
        self.0.extend_from_slice(s.as_bytes()).map_err(|_| ())
    }

    /// Appends bytes that are all ASCII (every caller has scanned them: a printable run, or a
    /// plain string checked with `is_ascii`), or nothing if they do not fit whole.
    #[cfg(feature = "fast-body")]
    pub(crate) fn push_ascii(&mut self, bytes: &[u8]) -> Result<(), ()> {
        debug_assert!(bytes.is_ascii(), "only ASCII keeps the text valid UTF-8 unchecked");
        self.0.extend_from_slice(bytes).map_err(|_| ())
    }
}

impl<const N: usize> core::fmt::Debug for Text<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(feature = "defmt")]
impl<const N: usize> defmt::Format for Text<N> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str());
    }
}

impl<const N: usize> Body<N> {
    /// A body that was not read.
    #[must_use]
    pub const fn not_read() -> Self {
        Self { kind: BodyKind::NotRead, text: Text::new(), truncated: false }
    }

    /// A body whose reading failed part way: never a guess at what the rest would have said.
    pub(crate) const fn cut() -> Self {
        Self { kind: BodyKind::Truncated, text: Text::new(), truncated: false }
    }

    /// Parses a whole body at once.
    #[must_use]
    #[inline]
    pub fn parse(body: &[u8]) -> Self {
        let mut parser = BodyParser::new();
        parser.feed(body);
        parser.conclude();
        parser.out
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Role {
    /// A value that is not the message: validated, not kept.
    Skip,
    /// A key of a nested object: validated, not kept.
    NestedKey,
    /// A key of the top-level object: kept (up to 12 bytes) to compare.
    TopKey,
    /// The message: unescaped into the caller's buffer.
    Capture,
    /// A top-level `message` read for a secondary limit: matched, not kept.
    Scan,
    /// A top-level `retry_after` number, read into milliseconds.
    Seconds,
}

/// Which key of the top-level object was just read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Target {
    Other,
    ErrorMessage,
    Error,
    /// The pushback fields, where the parser reads them ([`BodyFields`]).
    RetryAfter,
    Global,
    Message,
}

/// What the top-level object said so far for one of the two keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Slot {
    Absent,
    Text,
    NotText,
}

const LITERALS: [&[u8]; 3] = [b"true", b"false", b"null"];
const KEY_CAP: usize = 12;
/// `key_len` past `KEY_CAP`: the key is longer than any we look for. Past the end of the key
/// buffer, so every write at `key_len` finds no slot and leaves it so.
const KEY_OVERFLOW: u8 = u8::MAX;
const _: () = assert!(KEY_OVERFLOW as usize > KEY_CAP);

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
/// - Nesting deeper than [`MAX_DEPTH`](Self::MAX_DEPTH) is refused ([`BodyKind::Invalid`]), the same limit at
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
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BodyParser<const N: usize> {
    state: State,
    role: Role,
    depth: u8,
    /// Bit `i` is set when the container at depth `i + 1` is an object (32-bit words: no
    /// 128-bit shifts, which are library calls on small targets).
    stack: [u32; 4],
    /// Whether the innermost open container is an object: asked at every comma.
    in_object: bool,
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
    /// The answer being built: the text goes straight where the caller will read it.
    out: Body<N>,
    /// The pushback fields read, and what they said so far.
    fields: BodyFields,
    told: Told,
    /// Rounds of `feed`'s reading loop (unit tests only): they show how much of a body the
    /// fast path leaves to the byte-by-byte machine, and that nothing is read once decided.
    #[cfg(test)]
    rounds: usize,
}

impl<const N: usize> Default for BodyParser<N> {
    fn default() -> Self {
        Self::new()
    }
}

/// What the top-level pushback fields said so far (the last of each key counts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Told {
    retry_after_ms: Option<u64>,
    global: bool,
    seconds: Seconds,
    secondary: Secondary,
}

impl<const N: usize> BodyParser<N> {
    /// The deepest nesting of arrays and objects a body may have, counting the top-level
    /// object as 1. `serde_json` refuses the 128th level; so does this parser.
    pub const MAX_DEPTH: u8 = MAX_DEPTH;

    /// A parser at the start of a body.
    #[must_use]
    pub const fn new() -> Self {
        Self::reading(BodyFields::NONE)
    }

    /// A parser at the start of a body that also reads the top-level `fields` that carry
    /// pushback in an API's dialect ([`pushback`](Self::pushback)).
    #[must_use]
    pub const fn reading(fields: BodyFields) -> Self {
        Self {
            state: State::Start,
            role: Role::Skip,
            depth: 0,
            stack: [0; 4],
            in_object: false,
            utf8: Utf8::new(),
            high: 0,
            hex: 0,
            key: [0; KEY_CAP],
            key_len: 0,
            target: Target::Other,
            error_message: Slot::Absent,
            error: Slot::Absent,
            raw_space: false,
            out: Body::not_read(),
            fields,
            told: Told {
                retry_after_ms: None,
                global: false,
                seconds: Seconds::new(),
                secondary: Secondary::new(),
            },
            #[cfg(test)]
            rounds: 0,
        }
    }

    /// Feeds the next chunk of the body. Chunks may be any size, including empty.
    pub fn feed(&mut self, chunk: &[u8]) -> Progress {
        // The state lives in a local while the chunk is read: every arm that sets a constant
        // next state then jumps straight to that state's code, and nothing is stored per byte.
        let mut st = self.state;
        let mut i = 0;
        // The usual start, `{` first, without a round of the byte-by-byte loop.
        #[cfg(feature = "fast-body")]
        if st == State::Start && chunk.first() == Some(&b'{') {
            st = self.open(true);
            i = 1;
        }
        while let Some(&b) = chunk.get(i) {
            #[cfg(test)]
            {
                self.rounds += 1;
            }
            match st {
                // Inside the object, between tokens: the fast path reads whole tokens.
                #[cfg(feature = "fast-body")]
                State::Value
                | State::ValueOrClose
                | State::KeyOrClose
                | State::Key
                | State::Colon
                | State::CommaOrClose => {
                    let (next_i, next_st) = self.skim(chunk, i, st);
                    if next_i != i || next_st != st {
                        i = next_i;
                        st = next_st;
                        continue;
                    }
                }
                State::Str => {
                    #[cfg(feature = "fast-body")]
                    if self.high == 0 && !self.utf8.is_pending() {
                        let (next_i, next_st) = self.string_run(chunk, i);
                        if next_i != i || next_st != st {
                            i = next_i;
                            st = next_st;
                            continue;
                        }
                    }
                    // The compact parser's one shortcut: the inside of a string it does not
                    // keep, up to the next byte that matters.
                    #[cfg(not(feature = "fast-body"))]
                    if self.high == 0 && matches!(self.role, Role::Skip | Role::NestedKey) {
                        let rest = chunk.get(i..).unwrap_or_default();
                        let run = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
                        let run = run.unwrap_or(rest.len());
                        if run > 0 {
                            i += run;
                            continue;
                        }
                    }
                    let (next, consumed) = self.string_byte(b);
                    st = next;
                    if consumed {
                        i += 1;
                    }
                    continue;
                }
                State::Invalid | State::RawDone => {
                    self.state = st;
                    return Progress::Decided;
                }
                _ => {}
            }
            if is_whitespace(b) && st.skips_whitespace() {
                i += 1;
                continue;
            }
            let consumed = match st {
                State::Str | State::Invalid | State::RawDone => true, // handled above
                State::Start => {
                    if b == 0xEF {
                        st = State::Bom1;
                        true
                    } else {
                        // The fast parser takes a body that is not JSON (an HTML page from a
                        // proxy) to its raw prefix now, not a round later through `Lead`. (Its
                        // `{` never gets here: it is taken before the loop.)
                        let raw = cfg!(feature = "fast-body") && !is_whitespace(b);
                        st = if raw { State::Raw } else { State::Lead };
                        false
                    }
                }
                State::Bom1 | State::Bom2 => {
                    let expected = if st == State::Bom1 { 0xBB } else { 0xBF };
                    if b == expected {
                        st = if st == State::Bom1 { State::Bom2 } else { State::Lead };
                        true
                    } else {
                        // Not a BOM after all: its bytes start the raw prefix.
                        let _ = self.raw_byte(0xEF);
                        if st == State::Bom2 {
                            let _ = self.raw_byte(0xBB);
                        }
                        st = State::Raw;
                        false
                    }
                }
                State::Lead => {
                    if b == b'{' {
                        st = self.open(true);
                        true
                    } else {
                        st = State::Raw;
                        false
                    }
                }
                State::Raw => {
                    #[cfg(feature = "fast-body")]
                    if !self.utf8.is_pending() {
                        let (taken, full) = self.raw_run(chunk.get(i..).unwrap_or_default());
                        if full {
                            st = State::RawDone;
                        }
                        if taken > 0 || full {
                            i += taken;
                            continue;
                        }
                    }
                    let (consumed, full) = self.raw_byte(b);
                    if full {
                        st = State::RawDone;
                    }
                    consumed
                }
                State::Value => {
                    st = self.value(b);
                    true
                }
                State::ValueOrClose => {
                    st = if b == b']' { self.close(false) } else { self.value(b) };
                    true
                }
                State::KeyOrClose => {
                    st = match b {
                        b'"' => self.begin_key(),
                        b'}' => self.close(true),
                        _ => State::Invalid,
                    };
                    true
                }
                State::Key => {
                    st = if b == b'"' { self.begin_key() } else { State::Invalid };
                    true
                }
                State::Colon => {
                    st = if b == b':' { State::Value } else { State::Invalid };
                    true
                }
                State::CommaOrClose => {
                    st = match b {
                        b',' if self.top_is_object() => State::Key,
                        b',' => State::Value,
                        b'}' => self.close(true),
                        b']' => self.close(false),
                        _ => State::Invalid,
                    };
                    true
                }
                State::Escape => {
                    st = self.escape(b);
                    true
                }
                State::Hex(n) => {
                    st = self.hex_digit(n, b);
                    true
                }
                State::Num(n) => match number(n, b) {
                    Some(next) => {
                        st = State::Num(next);
                        let seconds = self.role == Role::Seconds;
                        if seconds {
                            self.told.seconds.push(b);
                        }
                        if matches!(next, Number::Int | Number::Frac | Number::ExpInt) {
                            // The rest of a run of digits needs no decision.
                            let rest = chunk.get(i + 1..).unwrap_or_default();
                            let run = rest.iter().take_while(|d| d.is_ascii_digit()).count();
                            if seconds {
                                rest.iter().take(run).for_each(|&d| self.told.seconds.push(d));
                            }
                            i += run;
                        }
                        true
                    }
                    None if matches!(n, Number::Zero | Number::Int | Number::Frac | Number::ExpInt) => {
                        // The number ended; this byte belongs to what follows it.
                        if self.role == Role::Seconds {
                            self.told.retry_after_ms = self.told.seconds.ms();
                            self.role = Role::Skip;
                        }
                        st = State::CommaOrClose;
                        false
                    }
                    None => {
                        st = State::Invalid;
                        true
                    }
                },
                State::Literal(which, at) => {
                    let word = LITERALS.get(usize::from(which)).copied().unwrap_or_default();
                    st = if word.get(usize::from(at)) != Some(&b) {
                        State::Invalid
                    } else if usize::from(at) + 1 == word.len() {
                        State::CommaOrClose
                    } else {
                        State::Literal(which, at + 1)
                    };
                    true
                }
                State::End => {
                    st = State::Invalid;
                    true
                }
            };
            if consumed {
                i += 1;
            }
        }
        self.state = st;
        match st {
            State::Invalid | State::RawDone => Progress::Decided,
            _ => Progress::Reading,
        }
    }

    /// What the body said about waiting, in the fields it is [`reading`](Self::reading): only
    /// once it has been read whole and is valid JSON (a body cut, broken, or not yet ended
    /// says nothing). Ask before [`finish`](Self::finish).
    #[must_use]
    pub fn pushback(&self) -> BodyWait {
        if self.state != State::End {
            return BodyWait::NONE;
        }
        let told = self.told;
        let secondary = told.secondary.found().then_some(BodyFields::SECONDARY_LIMIT_WAIT_MS);
        let wait_ms = match (told.retry_after_ms, secondary) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        BodyWait { wait_ms, global: told.global }
    }

    /// Ends the body and says what it was.
    #[must_use]
    #[inline]
    pub fn finish(mut self) -> Body<N> {
        self.conclude();
        self.out
    }

    /// Settles `self.out` for the body read so far.
    #[inline]
    fn conclude(&mut self) {
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
            self.out.text.clear();
            self.out.truncated = false;
        }
        self.out.kind = kind;
    }

    /// The first byte of a value (not whitespace); returns the next state.
    fn value(&mut self, b: u8) -> State {
        let at_top = self.depth == 1;
        if b == b'"' {
            self.role = if at_top { self.begin_top_value(b) } else { Role::Skip };
            return State::Str;
        }
        if at_top {
            self.role = self.begin_top_value(b);
            if self.role == Role::Seconds {
                self.told.seconds.push(b);
            }
        }
        match b {
            b'{' => self.open(true),
            b'[' => self.open(false),
            b'-' => State::Num(Number::Minus),
            b'0' => State::Num(Number::Zero),
            b'1'..=b'9' => State::Num(Number::Int),
            b't' => State::Literal(0, 1),
            b'f' => State::Literal(1, 1),
            b'n' => State::Literal(2, 1),
            _ => State::Invalid,
        }
    }

    /// A value of the top-level object begins with `first`: records what it means for the
    /// message and the pushback fields, and returns the role of what is read next.
    fn begin_top_value(&mut self, first: u8) -> Role {
        let is_string = first == b'"';
        let slot = if is_string { Slot::Text } else { Slot::NotText };
        let target = self.target;
        self.target = Target::Other;
        let capture = match target {
            Target::Other => false,
            Target::ErrorMessage => {
                self.error_message = slot;
                is_string
            }
            Target::Error => {
                self.error = slot;
                is_string && self.error_message == Slot::Absent
            }
            // The last of each key counts: a later one that is not what it should be says no.
            Target::RetryAfter => {
                self.told.retry_after_ms = None;
                if matches!(first, b'-' | b'0'..=b'9') {
                    self.told.seconds = Seconds::new();
                    return Role::Seconds;
                }
                return Role::Skip;
            }
            Target::Global => {
                self.told.global = first == b't';
                return Role::Skip;
            }
            Target::Message => {
                self.told.secondary = Secondary::new();
                return if is_string { Role::Scan } else { Role::Skip };
            }
        };
        if capture {
            self.out.text.clear();
            self.out.truncated = false;
            Role::Capture
        } else {
            Role::Skip
        }
    }

    fn begin_key(&mut self) -> State {
        self.role = if self.depth == 1 {
            self.key_len = 0;
            Role::TopKey
        } else {
            Role::NestedKey
        };
        State::Str
    }

    fn open(&mut self, object: bool) -> State {
        if self.depth >= MAX_DEPTH {
            return State::Invalid;
        }
        if let Some(word) = self.stack.get_mut(usize::from(self.depth / 32)) {
            let bit = 1u32 << (self.depth % 32);
            if object {
                *word |= bit;
            } else {
                *word &= !bit;
            }
        }
        self.depth += 1;
        self.in_object = object;
        if object {
            State::KeyOrClose
        } else {
            State::ValueOrClose
        }
    }

    fn top_is_object(&self) -> bool {
        self.in_object
    }

    fn close(&mut self, object: bool) -> State {
        if self.depth == 0 || self.in_object != object {
            return State::Invalid;
        }
        self.depth -= 1;
        self.in_object = match self.depth.checked_sub(1) {
            Some(top) => {
                self.stack.get(usize::from(top / 32)).is_some_and(|word| word & (1 << (top % 32)) != 0)
            }
            None => false,
        };
        if self.depth == 0 {
            State::End
        } else {
            State::CommaOrClose
        }
    }

    /// A byte inside a string that is not part of a plain run: returns the next state, and
    /// whether the byte was consumed.
    fn string_byte(&mut self, b: u8) -> (State, bool) {
        if self.high != 0 && b != b'\\' {
            self.high = 0;
            self.emit(char::REPLACEMENT_CHARACTER);
        }
        if b < 0x80 && self.utf8.is_pending() {
            self.utf8.reset();
            self.emit(char::REPLACEMENT_CHARACTER);
        }
        let next = match b {
            b'"' => self.end_string(),
            b'\\' => State::Escape,
            0x00..=0x1F => State::Invalid,
            0x20..=0x7F => {
                self.emit(char::from(b));
                State::Str
            }
            _ => {
                match self.role {
                    Role::Skip | Role::NestedKey | Role::Seconds => {}
                    Role::Scan => self.told.secondary.push(b),
                    Role::TopKey => self.key_len = KEY_OVERFLOW,
                    Role::Capture => match self.utf8.push(b) {
                        Step::Pending => {}
                        Step::Char(c) => self.emit(c),
                        Step::Replace => {
                            self.emit(char::REPLACEMENT_CHARACTER);
                            return (State::Str, false);
                        }
                    },
                }
                State::Str
            }
        };
        (next, true)
    }

    fn end_string(&mut self) -> State {
        let next = match self.role {
            Role::TopKey => {
                let key = self.key.get(..usize::from(self.key_len)).unwrap_or_default();
                self.target = target_of(key, self.fields);
                State::Colon
            }
            Role::NestedKey => State::Colon,
            Role::Skip | Role::Capture | Role::Scan | Role::Seconds => State::CommaOrClose,
        };
        self.role = Role::Skip;
        next
    }

    fn escape(&mut self, b: u8) -> State {
        if self.high != 0 && b != b'u' {
            self.high = 0;
            self.emit(char::REPLACEMENT_CHARACTER);
        }
        if b == b'u' {
            self.hex = 0;
            return State::Hex(0);
        }
        let Some(c) = simple_escape(b) else { return State::Invalid };
        self.emit(c);
        State::Str
    }

    fn hex_digit(&mut self, n: u8, b: u8) -> State {
        let v = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return State::Invalid,
        };
        // Four digits from 0: never more than 16 bits. (`+`, not `|`: the two agree here, and a
        // `|` turned into `^` would too, unnoticed.)
        self.hex = (self.hex << 4) + u16::from(v);
        if n < 3 {
            return State::Hex(n + 1);
        }
        let unit = self.hex;
        if self.high != 0 {
            let high = self.high;
            self.high = 0;
            if (0xDC00..=0xDFFF).contains(&unit) {
                let code = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(unit) - 0xDC00);
                self.emit(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                return State::Str;
            }
            self.emit(char::REPLACEMENT_CHARACTER);
        }
        match unit {
            0xD800..=0xDBFF => self.high = unit,
            _ => self.emit(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
        State::Str
    }

    fn emit(&mut self, c: char) {
        match self.role {
            Role::Skip | Role::NestedKey | Role::Seconds => {}
            Role::Scan => self.told.secondary.push_char(c),
            Role::TopKey => {
                let mut buf = [0; 4];
                for &b in c.encode_utf8(&mut buf).as_bytes() {
                    match self.key.get_mut(usize::from(self.key_len)) {
                        Some(slot) => {
                            *slot = b;
                            self.key_len += 1;
                        }
                        _ => self.key_len = KEY_OVERFLOW,
                    }
                }
            }
            Role::Capture => {
                if !self.out.truncated && self.out.text.push(c).is_err() {
                    self.out.truncated = true;
                }
            }
        }
    }

    /// Keeps one byte of a body that is not JSON: whether it was consumed (`false` when it
    /// must be handled again), and whether the prefix is now full.
    fn raw_byte(&mut self, b: u8) -> (bool, bool) {
        match self.utf8.push(b) {
            Step::Pending => (true, false),
            Step::Char(c) => (true, self.raw_char(c)),
            Step::Replace => (false, self.raw_char(char::REPLACEMENT_CHARACTER)),
        }
    }

    /// Keeps one character of the raw prefix; `true` when the prefix is full.
    fn raw_char(&mut self, c: char) -> bool {
        if self.out.truncated {
            return true;
        }
        // ASCII whitespace only: Unicode's table would cost flash for a log line.
        if c.is_ascii_whitespace() {
            self.raw_space = !self.out.text.is_empty();
            return false;
        }
        let c = if c.is_control() { char::REPLACEMENT_CHARACTER } else { c };
        let spaced = !self.raw_space || self.out.text.push(' ').is_ok();
        self.raw_space = false;
        if !spaced || self.out.text.push(c).is_err() {
            self.out.truncated = true;
        }
        self.out.truncated
    }
}

/// The next number state after `b`, or `None` if `b` cannot continue the number.
fn number(n: Number, b: u8) -> Option<Number> {
    Some(match (n, b) {
        (Number::Minus, b'0') => Number::Zero,
        (Number::Minus, b'1'..=b'9') => Number::Int,
        (Number::Int, b'0'..=b'9') => Number::Int,
        (Number::Zero | Number::Int, b'.') => Number::Dot,
        (Number::Dot | Number::Frac, b'0'..=b'9') => Number::Frac,
        (Number::Zero | Number::Int | Number::Frac, b'e' | b'E') => Number::Exp,
        (Number::Exp, b'+' | b'-') => Number::ExpSign,
        (Number::Exp | Number::ExpSign | Number::ExpInt, b'0'..=b'9') => Number::ExpInt,
        _ => return None,
    })
}

/// The character a one-letter escape (`\\n`, `\\"`, …) stands for, by the letter after the
/// backslash; `None` for `u` and for anything that is not an escape.
fn simple_escape(b: u8) -> Option<char> {
    Some(match b {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        _ => return None,
    })
}

/// Which key of the top-level object `key` (unescaped) is, of those read: the message's, and
/// the pushback `fields`.
fn target_of(key: &[u8], fields: BodyFields) -> Target {
    match key {
        b"errorMessage" => Target::ErrorMessage,
        b"error" => Target::Error,
        b"retry_after" if fields.retry_after => Target::RetryAfter,
        b"global" if fields.global => Target::Global,
        b"message" if fields.secondary_limit => Target::Message,
        _ => Target::Other,
    }
}

const fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl State {
    /// Whether JSON whitespace is skipped in this state.
    const fn skips_whitespace(self) -> bool {
        matches!(
            self,
            Self::Lead
                | Self::Value
                | Self::ValueOrClose
                | Self::KeyOrClose
                | Self::Key
                | Self::Colon
                | Self::CommaOrClose
                | Self::End
        )
    }
}

#[cfg(test)]
mod tests {
    use super::{BodyParser, Progress};

    /// Rounds of the reading loop for `body` fed whole.
    fn rounds(body: &[u8]) -> usize {
        let mut p = BodyParser::<256>::new();
        let _ = p.feed(body);
        p.rounds
    }

    #[test]
    fn nothing_more_is_read_once_the_body_is_decided() {
        // Invalid JSON: decided at the stray `}`.
        let mut p = BodyParser::<64>::new();
        assert_eq!(p.feed(br#"{"errorMessage":}"#), Progress::Decided);
        let before = p.rounds;
        assert_eq!(p.feed(&[b' '; 500]), Progress::Decided);
        assert_eq!(p.rounds, before + 1, "one round to see the decision, none per byte");
        // Not JSON, and the raw prefix is full.
        let mut p = BodyParser::<4>::new();
        assert_eq!(p.feed(b"<html><body>Bad Gateway</body></html>"), Progress::Decided);
        let before = p.rounds;
        assert_eq!(p.feed(&[b'x'; 500]), Progress::Decided);
        assert_eq!(p.rounds, before + 1, "one round to see the decision, none per byte");
    }

    /// The compact parser's one shortcut: a string it does not keep (a key, a value it skips)
    /// takes one round up to its closing quote, whatever it holds, spaces included.
    #[cfg(not(feature = "fast-body"))]
    #[test]
    fn the_compact_parser_skips_the_strings_it_does_not_keep_in_one_round() {
        let plain = br#"{"a":"x"}"#;
        let long = br#"{"a":"a much longer string, with spaces, that nobody reads"}"#;
        assert_eq!(rounds(plain), rounds(long));
        // After a lone high surrogate, the byte that ends it, then skipping again.
        let high = br#"{"a":"\ud800 and then a much longer string nobody reads"}"#;
        let high_short = br#"{"a":"\ud800 x"}"#;
        assert_eq!(rounds(high), rounds(high_short));
    }

    #[cfg(feature = "fast-body")]
    #[test]
    fn the_fast_path_reads_usual_bodies_in_a_few_rounds() {
        for (body, at_most) in [
            (&br#"{"errorMessage": "Invalid email address", "status": 400}"#[..], 1),
            // Text that is not ASCII, if it is valid UTF-8, is taken whole too.
            (r#"{"errorMessage": "Adresse électronique invalide", "status": 400}"#.as_bytes(), 1),
            (br#"{ "errorMessage" : "x" , "meta" : { "a" : [1, 2.5, true, null, "s"] } }"#, 1),
            (br#"{"error": {"code": 7, "errors": [{"field": "email"}]}, "errorMessage": "y"}"#, 3),
            // Start, then the lead byte, then the raw prefix in one run.
            (b"<html><head><title>502 Bad Gateway</title></head></html>", 3),
        ] {
            let n = rounds(body);
            assert!(n <= at_most, "{n} rounds for {} bytes: {:?}", body.len(), core::str::from_utf8(body));
        }
    }

    /// Bodies whose reading takes every branch of the fast path: every kind of value at the top
    /// and nested, empty and nested containers, a message with and without escapes, a nested
    /// key that looks like the message's, text that is not JSON.
    #[cfg(feature = "fast-body")]
    const EVERY_BRANCH: [&[u8]; 5] = [
        br#"{"errorMessage":"Invalid email","note":"plain","status":400,"ok":true,"n":null,"f":false,"x":-1.5e3,"meta":{"a":[1,"s",true,{"b":[]},{}],"c":{"d":-0,"e":"f"}},"arr":[[],[1,[2]],"y"],"error":"fallback"}"#,
        br#"{ "error" : { "errorMessage" : "nested, not the message" } , "errorMessage" : "caf\u00e9 \"ok\"" }"#,
        br#"{"a":[{"b":{"c":[null,{}]}},[]],"errorMessage":"z"}"#,
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n</html>",
        b"{ }",
    ];

    /// Read whole, each takes a handful of rounds: only the escapes of the second are left to
    /// the byte-by-byte machine, and the raw text's first bytes (its start and lead states).
    #[cfg(feature = "fast-body")]
    #[test]
    fn the_fast_path_takes_every_branch_in_a_few_rounds() {
        for (body, at_most) in EVERY_BRANCH.into_iter().zip([1, 6, 1, 3, 1]) {
            let n = rounds(body);
            assert!(n <= at_most, "{n} rounds for {} bytes: {:?}", body.len(), core::str::from_utf8(body));
        }
    }

    /// The fast path picks up again after a chunk's end in every state: the rounds of the byte
    /// machine, summed over every place a body can be cut in two, stay what they are now (a
    /// change that leaves more to the byte-by-byte path raises them).
    #[cfg(feature = "fast-body")]
    #[test]
    fn after_a_cut_the_fast_path_takes_over_again() {
        let mut total = 0;
        for body in EVERY_BRANCH {
            for cut in 0..=body.len() {
                let mut p = BodyParser::<256>::new();
                let _ = p.feed(&body[..cut]);
                let _ = p.feed(&body[cut..]);
                total += p.rounds;
            }
        }
        assert!(total <= 2119, "{total} rounds over every cut");
    }
}
