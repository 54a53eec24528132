//! The fast path of the body parser (feature `fast-body`, on by default): whole tokens read
//! with control flow that follows the grammar, strings a machine word at a time. It only ever
//! accelerates: it stops at anything unusual — a token cut by the chunk's end, an escape it
//! does not take whole, every error — and leaves it to the byte-by-byte state machine in
//! `body.rs`, which alone is a complete parser. Without this module the answers are the same;
//! Cortex-M firmware is ~5.5 KiB smaller and the bench's bodies take 2.8–11.9× the instructions
//! (`docs/performance.md`).

use super::{
    is_whitespace, simple_escape, target_of, BodyFields, BodyParser, Role, State, Target, KEY_OVERFLOW,
    MAX_DEPTH,
};

/// The bytes of a machine word: 8 on 64-bit targets, 4 on 32-bit ones.
const WORD: usize = core::mem::size_of::<usize>();
/// A machine word with every byte 0x01.
const ONES: usize = usize::MAX / 0xFF;
/// A machine word with every byte's high bit set: where the scanners put their flags.
const HIGH: usize = ONES * 0x80;

impl<const N: usize> BodyParser<N> {
    /// Appends raw bytes to the top-level key being read. Bytes past the longest key looked
    /// for only mark it as too long (`KEY_OVERFLOW` is past the buffer: nothing fits after
    /// it); non-ASCII bytes are kept as they are, which is how an escaped character would be
    /// encoded too.
    fn key_bytes(&mut self, bytes: &[u8]) {
        let at = usize::from(self.key_len);
        match self.key.get_mut(at..at + bytes.len()) {
            Some(slot) => {
                slot.copy_from_slice(bytes);
                self.key_len += bytes.len() as u8;
            }
            _ => self.key_len = KEY_OVERFLOW,
        }
    }

    /// The fast path of the structure: reads whole tokens with control flow that follows the
    /// grammar — a value, then what may follow a value — so each token is a predictable branch
    /// rather than a jump through the state table. Returns where it stopped and the state
    /// there: at the end of the chunk or of the object, or at anything it leaves to the
    /// byte-by-byte path (a message that needs unescaping, a token cut by the chunk's end, and
    /// every error, which that path then reports).
    pub(super) fn skim(&mut self, chunk: &[u8], mut i: usize, mut st: State) -> (usize, State) {
        loop {
            let (next_i, next_st, handed_over) =
                if self.depth >= 2 { self.nested(chunk, i, st) } else { self.top(chunk, i, st) };
            i = next_i;
            st = next_st;
            if !handed_over {
                return (i, st);
            }
        }
    }

    /// The members of the top-level object (depth 1): keys are compared, the message is kept.
    /// Hands over (`true`) when a value opens a container.
    fn top(&mut self, chunk: &[u8], mut i: usize, entry: State) -> (usize, State, bool) {
        let mut at_value = match entry {
            State::Value => true,
            State::CommaOrClose => false,
            State::KeyOrClose | State::Key | State::Colon => {
                let b = next_token(chunk, &mut i);
                match (entry, b) {
                    (State::KeyOrClose, Some(b'}')) => false,
                    (State::Colon, Some(b':')) => {
                        i += 1;
                        true
                    }
                    (State::KeyOrClose | State::Key, Some(b'"')) => match top_key(chunk, i, self.fields) {
                        Some((next, target)) => {
                            self.target = target;
                            i = next;
                            true
                        }
                        None => return (i, entry, false),
                    },
                    _ => return (i, entry, false),
                }
            }
            _ => return (i, entry, false),
        };
        loop {
            if at_value {
                let Some(b) = next_token(chunk, &mut i) else { return (i, State::Value, false) };
                let rest = chunk.get(i..).unwrap_or_default();
                let body = rest.get(1..).unwrap_or_default();
                let len = if matches!(self.target, Target::RetryAfter | Target::Global | Target::Message) {
                    // A pushback field's value: read byte by byte, which reads it.
                    return (i, State::Value, false);
                } else if self.target != Target::Other {
                    // A value that may be the message. A string with no escapes that is valid
                    // UTF-8 is taken here; anything else is left to the byte-by-byte path,
                    // which unescapes and repairs.
                    if b != b'"' {
                        return (i, State::Value, false);
                    }
                    // ASCII text (the usual message) is found and known valid in one scan;
                    // other text must be valid UTF-8 to be taken here.
                    let ascii = ascii_run(body);
                    let (len, ascii) = match body.get(ascii) {
                        Some(b'"') => (ascii, true),
                        Some(&c) if c >= 0x80 => {
                            match closed_plain_string(body.get(ascii..).unwrap_or_default()) {
                                Some(more) => (ascii + more, false),
                                None => return (i, State::Value, false),
                            }
                        }
                        _ => return (i, State::Value, false),
                    };
                    let text = body.get(..len).unwrap_or_default();
                    if ascii {
                        if self.begin_top_value(b'"') == Role::Capture {
                            self.capture_ascii(text);
                        }
                    } else {
                        let Ok(utf8) = core::str::from_utf8(text) else { return (i, State::Value, false) };
                        if self.begin_top_value(b'"') == Role::Capture {
                            self.capture_str(utf8);
                        }
                    }
                    Some(len + 2)
                } else {
                    match b {
                        b'"' => closed_plain_string(body).map(|len| len + 2),
                        b'-' | b'0'..=b'9' => complete_number(rest),
                        b't' | b'f' | b'n' => literal(rest),
                        b'{' | b'[' => return (i + 1, self.open(b == b'{'), true),
                        _ => None,
                    }
                };
                match len {
                    Some(len) => i += len,
                    None => return (i, State::Value, false),
                }
            }
            // After a member: a comma and the next key, or the end of the object.
            match next_token(chunk, &mut i) {
                Some(b',') => {
                    i += 1;
                    if next_token(chunk, &mut i) != Some(b'"') {
                        return (i, State::Key, false);
                    }
                    let Some((next, target)) = top_key(chunk, i, self.fields) else {
                        return (i, State::Key, false);
                    };
                    self.target = target;
                    i = next;
                    at_value = true;
                }
                Some(b'}') => return (i + 1, self.close(true), false),
                _ => return (i, State::CommaOrClose, false),
            }
        }
    }

    /// Values nested in the top-level object (depth 2 and more): validated, nothing kept. The
    /// nesting state lives in locals while it runs (stored back once at the end), so the loop
    /// keeps it in registers. Hands over (`true`) when the value at depth 2 closes.
    #[inline(never)]
    fn nested(&mut self, chunk: &[u8], mut i: usize, entry: State) -> (usize, State, bool) {
        let mut depth = self.depth;
        let mut stack = self.stack;
        let mut in_object = self.in_object;
        // Where the loop begins: at a value, or after one.
        let mut at_value = match entry {
            State::Value => true,
            State::CommaOrClose => false,
            State::ValueOrClose | State::KeyOrClose | State::Key | State::Colon => {
                let b = next_token(chunk, &mut i);
                match (entry, b) {
                    (State::ValueOrClose, Some(b']')) | (State::KeyOrClose, Some(b'}')) => false,
                    (State::ValueOrClose, Some(_)) => true,
                    (State::Colon, Some(b':')) => {
                        i += 1;
                        true
                    }
                    (State::KeyOrClose | State::Key, Some(b'"')) => match key(chunk, i) {
                        Some((next, _)) => {
                            i = next;
                            true
                        }
                        None => return (i, entry, false),
                    },
                    _ => return (i, entry, false),
                }
            }
            _ => return (i, entry, false),
        };
        let exit = loop {
            if at_value {
                let Some(b) = next_token(chunk, &mut i) else { break State::Value };
                let rest = chunk.get(i..).unwrap_or_default();
                let len = match b {
                    b'"' => closed_plain_string(rest.get(1..).unwrap_or_default()).map(|len| len + 2),
                    b'-' | b'0'..=b'9' => complete_number(rest),
                    b't' | b'f' | b'n' => literal(rest),
                    b'{' | b'[' => {
                        if depth >= MAX_DEPTH {
                            break State::Value;
                        }
                        let object = b == b'{';
                        if let Some(word) = stack.get_mut(usize::from(depth / 32)) {
                            let bit = 1u32 << (depth % 32);
                            *word = if object { *word | bit } else { *word & !bit };
                        }
                        depth += 1;
                        in_object = object;
                        i += 1;
                        match next_token(chunk, &mut i) {
                            // Empty: what follows a value closes it. A closer of the other
                            // kind is left to that step, which hands it to the byte-by-byte
                            // path to be rejected.
                            Some(b'}' | b']') => Some(0),
                            Some(b'"') if object => match key(chunk, i) {
                                Some((next, _)) => {
                                    i = next;
                                    continue;
                                }
                                None => break State::KeyOrClose,
                            },
                            Some(_) if !object => continue,
                            _ => break if object { State::KeyOrClose } else { State::ValueOrClose },
                        }
                    }
                    _ => None,
                };
                match len {
                    Some(len) => i += len,
                    None => break State::Value,
                }
            }
            // After a value: a comma, or the end of its container.
            match next_token(chunk, &mut i) {
                Some(b',') => {
                    i += 1;
                    at_value = true;
                    if in_object {
                        if next_token(chunk, &mut i) != Some(b'"') {
                            break State::Key;
                        }
                        match key(chunk, i) {
                            Some((next, _)) => i = next,
                            None => break State::Key,
                        }
                    }
                }
                Some(b @ (b'}' | b']')) if in_object == (b == b'}') => {
                    i += 1;
                    at_value = false;
                    depth -= 1;
                    let top = depth - 1;
                    in_object = stack.get(usize::from(top / 32)).is_some_and(|w| w & (1 << (top % 32)) != 0);
                    if depth == 1 {
                        break State::CommaOrClose;
                    }
                }
                _ => break State::CommaOrClose,
            }
        };
        let handed_over = depth == 1;
        self.depth = depth;
        self.stack = stack;
        self.in_object = in_object;
        (i, exit, handed_over)
    }

    /// Keeps the raw prefix from `rest` while it is ASCII: runs of printable characters are
    /// copied whole, each run of whitespace becomes one space. Returns how many bytes it took
    /// (it stops at a control byte or non-ASCII, for [`Self::raw_byte`]) and whether the
    /// prefix is now full.
    pub(super) fn raw_run(&mut self, rest: &[u8]) -> (usize, bool) {
        let mut i = 0;
        while let Some(&b) = rest.get(i) {
            if self.out.truncated {
                return (i, true);
            }
            if b.is_ascii_whitespace() {
                self.raw_space = !self.out.text.is_empty();
                i += 1;
                continue;
            }
            // Never look further than what can still be kept.
            let ahead = rest.get(i..).unwrap_or_default();
            let room = N - self.out.text.len();
            let run = printable_run(ahead, room + 1);
            if run == 0 {
                break;
            }
            if self.raw_space {
                self.raw_space = false;
                if self.out.text.push(' ').is_err() {
                    self.out.truncated = true;
                    return (i, true);
                }
            }
            // `printable_run` only counts ASCII.
            self.capture_ascii(ahead.get(..run).unwrap_or_default());
            i += run;
        }
        (i, self.out.truncated)
    }

    /// Appends ASCII bytes to the message, cut if they do not fit.
    fn capture_ascii(&mut self, bytes: &[u8]) {
        if self.out.truncated {
            return;
        }
        let fits = bytes.len().min(N - self.out.text.len());
        let pushed = self.out.text.push_ascii(bytes.get(..fits).unwrap_or_default());
        if fits < bytes.len() || pushed.is_err() {
            self.out.truncated = true;
        }
    }

    /// Appends text to the message, cut at a character boundary if it does not fit.
    fn capture_str(&mut self, s: &str) {
        if self.out.truncated {
            return;
        }
        let mut fits = s.len().min(N - self.out.text.len());
        while !s.is_char_boundary(fits) {
            fits -= 1;
        }
        if fits < s.len() {
            self.out.truncated = true;
        }
        if self.out.text.push_str(s.get(..fits).unwrap_or_default()).is_err() {
            self.out.truncated = true;
        }
    }

    /// Reads the inside of a string from `chunk[i]` while it is plain text or whole escapes,
    /// keeping what its role keeps. Returns where it stopped and the state there: after the
    /// closing quote, or at what it leaves to the byte-by-byte path (the chunk's end, a cut or
    /// lone escape, invalid UTF-8 in the message, a control byte).
    pub(super) fn string_run(&mut self, chunk: &[u8], mut i: usize) -> (usize, State) {
        loop {
            let rest = chunk.get(i..).unwrap_or_default();
            let run = plain_run(rest);
            let plain = rest.get(..run).unwrap_or_default();
            match self.role {
                Role::Skip | Role::NestedKey | Role::Seconds => {}
                Role::Scan => plain.iter().for_each(|&b| self.told.secondary.push(b)),
                Role::TopKey => self.key_bytes(plain),
                Role::Capture if plain.is_ascii() => self.capture_ascii(plain),
                Role::Capture => {
                    let (valid, whole) = match core::str::from_utf8(plain) {
                        Ok(text) => (text, true),
                        Err(e) => (
                            core::str::from_utf8(plain.get(..e.valid_up_to()).unwrap_or_default())
                                .unwrap_or_default(),
                            false,
                        ),
                    };
                    self.capture_str(valid);
                    if !whole {
                        return (i + valid.len(), State::Str);
                    }
                }
            }
            i += run;
            match rest.get(run) {
                Some(b'"') => return (i + 1, self.end_string()),
                Some(b'\\') => match whole_escape(rest.get(run..).unwrap_or_default()) {
                    Some((len, c)) => {
                        self.emit(c);
                        i += len;
                    }
                    None => return (i, State::Str),
                },
                _ => return (i, State::Str),
            }
        }
    }
}

/// The length of the string body at the start of `bytes` (after its opening quote) if it
/// closes with no escape or control byte: the common case, skipped in one scan.
#[inline]
fn closed_plain_string(bytes: &[u8]) -> Option<usize> {
    let run = plain_run(bytes);
    (bytes.get(run) == Some(&b'"')).then_some(run)
}

/// A key of the top-level object at `chunk[i]` (its opening quote), as [`key`] reads it: the
/// index after the colon, and which key it is. `"errorMessage":` itself is matched whole.
#[cfg_attr(target_pointer_width = "64", inline(always))]
fn top_key(chunk: &[u8], i: usize, fields: BodyFields) -> Option<(usize, Target)> {
    if let Some(next) = error_message_key(chunk, i) {
        return Some((next, Target::ErrorMessage));
    }
    let (next, key) = key(chunk, i)?;
    Some((next, target_of(key, fields)))
}

/// `"errorMessage":` whole at `chunk[i]`: the index after it.
#[inline(always)]
fn error_message_key(chunk: &[u8], i: usize) -> Option<usize> {
    const ERROR_MESSAGE: &[u8; 15] = b"\"errorMessage\":";
    (chunk.get(i..i + ERROR_MESSAGE.len()) == Some(&ERROR_MESSAGE[..])).then_some(i + ERROR_MESSAGE.len())
}

/// Most keys are short and their colon follows at once: one word after the opening quote at
/// `chunk[i]` holds all of it. The index after the colon, and the key's bytes.
#[inline(always)]
fn short_key(chunk: &[u8], i: usize) -> Option<(usize, &[u8])> {
    let word = chunk.get(i + 1..i + 1 + WORD)?;
    let stops = string_stops(usize::from_le_bytes(word.try_into().unwrap_or([0; WORD])));
    let len = (stops.trailing_zeros() / 8) as usize;
    (word.get(len) == Some(&b'"') && word.get(len + 1) == Some(&b':'))
        .then(|| (i + len + 3, word.get(..len).unwrap_or_default()))
}

/// A key at `chunk[i]` (its opening quote) that is a plain string followed by `:`: the index
/// after the colon, and the key's bytes. `None` leaves it to the byte-by-byte path.
#[cfg_attr(target_pointer_width = "64", inline(always))]
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
fn key(chunk: &[u8], i: usize) -> Option<(usize, &[u8])> {
    if let Some(found) = short_key(chunk, i) {
        return Some(found);
    }
    let body = chunk.get(i + 1..)?;
    let len = closed_plain_string(body)?;
    let mut colon = i + len + 2;
    (next_token(chunk, &mut colon) == Some(b':')).then(|| (colon + 1, body.get(..len).unwrap_or_default()))
}

/// The escape at the start of `bytes` (at its backslash), if it is whole there and stands for
/// a character: its length and the character. A surrogate pair is taken whole; a cut or lone
/// surrogate, and every invalid escape, are left to the byte-by-byte path.
#[inline]
fn whole_escape(bytes: &[u8]) -> Option<(usize, char)> {
    let letter = *bytes.get(1)?;
    if letter != b'u' {
        return Some((2, simple_escape(letter)?));
    }
    let unit = hex4(bytes.get(2..6)?)?;
    if !(0xD800..=0xDBFF).contains(&unit) {
        return Some((6, char::from_u32(unit)?));
    }
    if bytes.get(6..8)? != b"\\u" {
        return None;
    }
    let low = hex4(bytes.get(8..12)?)?;
    if !(0xDC00..=0xDFFF).contains(&low) {
        return None;
    }
    Some((12, char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))?))
}

/// Four hex digits. (`+` of the shifted value and the digit: their bits are disjoint.)
#[inline]
fn hex4(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0, |acc, &d| Some((acc << 4) + char::from(d).to_digit(16)?))
}

/// The length of `true`, `false` or `null` at the start of `bytes`, if it is whole there.
#[inline]
fn literal(bytes: &[u8]) -> Option<usize> {
    let word = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    if word == u32::from_le_bytes(*b"true") || word == u32::from_le_bytes(*b"null") {
        Some(4)
    } else if word == u32::from_le_bytes(*b"fals") && bytes.get(4) == Some(&b'e') {
        Some(5)
    } else {
        None
    }
}

/// The length of the valid JSON number at the start of `bytes`, if it ends inside `bytes`
/// (a number cut by the chunk's end is left to the byte-by-byte path).
#[cfg_attr(target_pointer_width = "64", inline(always))]
fn complete_number(bytes: &[u8]) -> Option<usize> {
    let mut i = usize::from(bytes.first() == Some(&b'-'));
    let int = digit_run(bytes, i);
    // At least one digit, and no leading zero.
    if int == 0 || (int > 1 && bytes.get(i) == Some(&b'0')) {
        return None;
    }
    i += int;
    let mut next = *bytes.get(i)?;
    if next == b'.' {
        let n = digit_run(bytes, i + 1);
        if n == 0 {
            return None;
        }
        i += 1 + n;
        next = *bytes.get(i)?;
    }
    if next | 0x20 == b'e' {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let n = digit_run(bytes, i);
        if n == 0 {
            return None;
        }
        i += n;
        next = *bytes.get(i)?;
    }
    // The byte after the number must not continue it (`1.2.3`, `1e2e`, `1-`); a digit cannot
    // come here. Anything else is the next token's business.
    if matches!(next, b'.' | b'e' | b'E' | b'+' | b'-') {
        return None;
    }
    Some(i)
}

/// How many ASCII digits start at `bytes[from]`.
#[inline]
fn digit_run(bytes: &[u8], from: usize) -> usize {
    let rest = bytes.get(from..).unwrap_or_default();
    rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len())
}

/// The next byte at or after `*i` that is not JSON whitespace, with `*i` moved to it.
#[inline(always)]
fn next_token(chunk: &[u8], i: &mut usize) -> Option<u8> {
    let b = *chunk.get(*i)?;
    if b > b' ' {
        return Some(b);
    }
    *i = skip_whitespace(chunk, *i);
    chunk.get(*i).copied()
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
#[inline]
fn skip_whitespace(chunk: &[u8], mut i: usize) -> usize {
    while chunk.get(i).is_some_and(|&b| is_whitespace(b)) {
        i += 1;
    }
    i
}

/// The bytes of a machine word (SWAR; 8 bytes on 64-bit targets, 4 on 32-bit ones) that end a
/// plain run inside a string — `"`, `\\` or below 0x20 — flagged by their high bit. Borrows
/// only make false flags above a true one, so the lowest flag is exact.
#[inline(always)]
fn string_stops(x: usize) -> usize {
    // XOR 0x02 turns `"` into 0x20 and keeps control bytes below 0x20, so one "below 0x21"
    // test finds both; a backslash XOR 0x5C is zero.
    let quote_or_control = x ^ (ONES * 0x02);
    let backslash = x ^ (ONES * 0x5C);
    ((quote_or_control.wrapping_sub(ONES * 0x21) & !quote_or_control)
        | (backslash.wrapping_sub(ONES) & !backslash))
        & HIGH
}

/// The bytes of a machine word that end an ASCII plain run inside a string — `"`, `\\`, below
/// 0x20, or not ASCII — flagged by their high bit. As in [`string_stops`], only a true flag
/// borrows, so the lowest flag is exact.
#[inline(always)]
fn ascii_stops(x: usize) -> usize {
    // Without `string_stops`'s masks a byte with its high bit set flags itself, which is what
    // is wanted here.
    let quote_or_control = x ^ (ONES * 0x02);
    let backslash = x ^ (ONES * 0x5C);
    (quote_or_control.wrapping_sub(ONES * 0x21) | backslash.wrapping_sub(ONES) | x) & HIGH
}

/// The length of the run at the start of `bytes` that needs no per-byte work inside a
/// string: not `"`, `\\` or a control byte.
// Inlined where it runs hot on 64-bit hosts; one copy on 32-bit microcontrollers, where its
// half-dozen inlined copies would cost ~2 KiB of flash.
#[cfg_attr(target_pointer_width = "64", inline)]
#[cfg_attr(not(target_pointer_width = "64"), inline(never))]
fn plain_run(bytes: &[u8]) -> usize {
    // A machine word at a time.
    let flags = string_stops;
    let mut words = bytes.chunks_exact(WORD);
    let mut i = 0;
    for word in &mut words {
        let found = flags(usize::from_le_bytes(word.try_into().unwrap_or([0; WORD])));
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
        i += WORD;
    }
    // The last few bytes, padded with a byte that is never flagged.
    let tail = words.remainder();
    let mut word = [b'A'; WORD];
    for (slot, &b) in word.iter_mut().zip(tail) {
        *slot = b;
    }
    let found = flags(usize::from_le_bytes(word));
    i + if found != 0 { (found.trailing_zeros() / 8) as usize } else { tail.len() }
}

/// The length of the run at the start of `bytes` that [`plain_run`] takes and that is ASCII
/// too: the usual message, which is then kept with no UTF-8 check.
#[inline]
fn ascii_run(bytes: &[u8]) -> usize {
    if cfg!(target_pointer_width = "64") {
        run_until(bytes, ascii_stops)
    } else {
        // On 32-bit microcontrollers, where flash counts for more: the one copy of
        // `plain_run`, then the ASCII check (a scan of its own costs 0.3–0.4 KiB more).
        ascii_prefix(bytes, plain_run(bytes))
    }
}

/// How many of the first `run` bytes of `bytes` are ASCII.
#[inline]
fn ascii_prefix(bytes: &[u8], run: usize) -> usize {
    let run_bytes = bytes.get(..run).unwrap_or_default();
    run_bytes.iter().position(|b| !b.is_ascii()).unwrap_or(run_bytes.len())
}

/// How many bytes at the start of `bytes` `stops` flags none of, two machine words at a time.
/// `stops` must flag exactly the lowest byte that stops the run (what it flags above that
/// does not matter), and nothing in a word with no such byte.
#[inline(always)]
fn run_until(bytes: &[u8], stops: fn(usize) -> usize) -> usize {
    let word_at = |at: usize| {
        let word = bytes.get(at..at + WORD).unwrap_or_default();
        stops(usize::from_le_bytes(word.try_into().unwrap_or([0; WORD])))
    };
    let mut pairs = bytes.chunks_exact(2 * WORD);
    let mut i = 0;
    for pair in &mut pairs {
        let (low, high) = pair.split_at_checked(WORD).unwrap_or_default();
        let low = stops(usize::from_le_bytes(low.try_into().unwrap_or([0; WORD])));
        let high = stops(usize::from_le_bytes(high.try_into().unwrap_or([0; WORD])));
        if low | high != 0 {
            let (at, found) = if low != 0 { (i, low) } else { (i + WORD, high) };
            return at + (found.trailing_zeros() / 8) as usize;
        }
        i += 2 * WORD;
    }
    if pairs.remainder().len() >= WORD {
        let found = word_at(i);
        if found != 0 {
            return i + (found.trailing_zeros() / 8) as usize;
        }
    }
    // Fewer than a word left. The last word of `bytes` overlaps bytes already read, none of
    // which stops the run, so its lowest flag is still the first stop after them.
    if let Some(last) = bytes.len().checked_sub(WORD) {
        let found = word_at(last);
        return if found != 0 { last + (found.trailing_zeros() / 8) as usize } else { bytes.len() };
    }
    // Bytes shorter than a word: one at a time, each the lowest byte of a word (whatever the
    // zeros above it flag, its own flag is exact).
    bytes.iter().position(|&b| stops(usize::from(b)) & 0x80 != 0).unwrap_or(bytes.len())
}

/// The bytes of `low` (a word whose bytes are all below 0x80) that are a control byte or DEL,
/// flagged by their high bit.
#[inline(always)]
fn control_or_del(low: usize) -> usize {
    // DEL is the only byte that 1 carries into the high bit; control bytes are the only ones
    // that 0x60 does not. The two never flag the same byte.
    (low + ONES) | !(low + ONES * 0x60)
}

/// The bytes of the word `x` that the raw prefix does not keep as they are, flagged by their
/// high bit: not printable ASCII, or a space after a space (`carry` is the space flag of the
/// byte before the word, moved to the first byte's place). Exact up to the lowest flag, all a
/// caller reads. Also the spaces, exact when nothing is flagged.
#[inline(always)]
fn unkept(x: usize, carry: usize) -> (usize, usize) {
    let unprintable = (x | control_or_del(x & !HIGH)) & HIGH;
    // A printable byte is a space exactly when adding 0x5F leaves its high bit clear, and
    // printable bytes carry nothing into the next: up to the first unprintable byte, the
    // flags are exact. (An exact test for 0x20 in any byte takes twice the operations.)
    let space = !x.wrapping_add(ONES * 0x5F) & HIGH;
    (unprintable | (space & ((space << 8) | carry)), space)
}

/// How many bytes at the start of `bytes` (which does not start with a space), up to `limit`,
/// are printable ASCII with no two spaces in a row and no space at the end: a run the raw
/// prefix keeps as it is. A machine word at a time (SWAR).
fn printable_run(bytes: &[u8], limit: usize) -> usize {
    let bytes = bytes.get(..limit).unwrap_or(bytes);
    let word_at = |at: usize| {
        let word = bytes.get(at..at + WORD).and_then(|w| w.try_into().ok()).unwrap_or([0; WORD]);
        usize::from_le_bytes(word)
    };
    let mut i = 0;
    // The space flag of the previous word's last byte, moved to the first byte's place.
    let mut carry = 0;
    let mut run = loop {
        if i + WORD > bytes.len() {
            // The last bytes, short of a word: the word that ends with them, whose earlier
            // bytes were all kept (with no two spaces in a row, the carry is not needed).
            if let Some(last) = bytes.len().checked_sub(WORD) {
                let (flags, _) = unkept(word_at(last), 0);
                break if flags != 0 { last + (flags.trailing_zeros() / 8) as usize } else { bytes.len() };
            }
            let mut previous = false;
            let n = bytes
                .iter()
                .take_while(|&&b| {
                    let keep = (0x21..=0x7E).contains(&b) || (b == b' ' && !previous);
                    previous = b == b' ';
                    keep
                })
                .count();
            break n;
        }
        let (flags, space) = unkept(word_at(i), carry);
        if flags != 0 {
            break i + (flags.trailing_zeros() / 8) as usize;
        }
        carry = space >> (8 * (WORD - 1));
        i += WORD;
    };
    // A space that ends the run is left to the whitespace that follows it.
    if run > 0 && bytes.get(run - 1) == Some(&b' ') {
        run -= 1;
    }
    run
}

/// The word-at-a-time scanners against plain byte-by-byte definitions of what they find, over
/// every input of a few bytes and many pseudo-random longer ones: each answer exact.
#[cfg(test)]
mod tests {
    use super::{
        ascii_prefix, ascii_run, ascii_stops, closed_plain_string, complete_number, digit_run,
        error_message_key, hex4, key, literal, next_token, plain_run, printable_run, run_until, short_key,
        string_stops, whole_escape, ONES, WORD,
    };
    use std::vec::Vec;

    /// A deterministic stream of bytes (a 64-bit LCG's high bits).
    struct Bytes(u64);
    impl Bytes {
        fn next(&mut self, below: usize) -> usize {
            self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            ((self.0 >> 33) % below as u64) as usize
        }
        fn string(&mut self, alphabet: &[u8], max_len: usize) -> Vec<u8> {
            let len = self.next(max_len + 1);
            (0..len).map(|_| alphabet[self.next(alphabet.len())]).collect()
        }
    }

    fn plain_run_by_bytes(bytes: &[u8]) -> usize {
        bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).unwrap_or(bytes.len())
    }

    fn printable_run_by_bytes(bytes: &[u8], limit: usize) -> usize {
        let bytes = &bytes[..limit.min(bytes.len())];
        let mut run = 0;
        let mut previous_space = false;
        for &b in bytes {
            if !((0x21..=0x7E).contains(&b) || (b == b' ' && !previous_space)) {
                break;
            }
            previous_space = b == b' ';
            run += 1;
        }
        if run > 0 && bytes[run - 1] == b' ' {
            run -= 1;
        }
        run
    }

    /// A JSON number at the start of `bytes` by the grammar, if a byte that cannot continue it
    /// follows inside `bytes`.
    fn complete_number_by_grammar(bytes: &[u8]) -> Option<usize> {
        let digits =
            |from: usize| bytes[from.min(bytes.len())..].iter().take_while(|b| b.is_ascii_digit()).count();
        let mut i = usize::from(bytes.first() == Some(&b'-'));
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i += digits(i),
            _ => return None,
        }
        if bytes.get(i) == Some(&b'.') && digits(i + 1) > 0 {
            i += 1 + digits(i + 1);
        }
        if matches!(bytes.get(i), Some(b'e' | b'E')) {
            let sign = usize::from(matches!(bytes.get(i + 1), Some(b'+' | b'-')));
            if digits(i + 1 + sign) > 0 {
                i += 1 + sign + digits(i + 1 + sign);
            }
        }
        match bytes.get(i) {
            Some(b'.' | b'e' | b'E' | b'+' | b'-' | b'0'..=b'9') | None => None,
            Some(_) => Some(i),
        }
    }

    #[test]
    fn string_stops_flags_exactly_the_bytes_that_end_a_plain_run() {
        for at in 0..WORD {
            for b in 0..=255u8 {
                let mut word = [b'A'; WORD];
                word[at] = b;
                let flags = string_stops(usize::from_le_bytes(word));
                let stop = b == b'"' || b == b'\\' || b < 0x20;
                assert_eq!(flags, if stop { 0x80 << (8 * at) } else { 0 }, "byte {b:#04x} at {at}");
                // Under a stop at byte 0, whatever follows, the lowest flag is still exact.
                word[0] = b'"';
                let flags = string_stops(usize::from_le_bytes(word));
                assert_eq!(flags.trailing_zeros(), 7, "byte {b:#04x} at {at} after a quote");
            }
        }
        assert_eq!(string_stops(ONES * usize::from(b'A')), 0);
    }

    #[test]
    fn ascii_stops_flags_exactly_the_bytes_that_end_an_ascii_plain_run() {
        for at in 0..WORD {
            for b in 0..=255u8 {
                let mut word = [b'A'; WORD];
                word[at] = b;
                let flags = ascii_stops(usize::from_le_bytes(word));
                let stop = b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b);
                assert_eq!(flags, if stop { 0x80 << (8 * at) } else { 0 }, "byte {b:#04x} at {at}");
                // Under a stop at byte 0, whatever follows, the lowest flag is still exact.
                word[0] = 0x1F;
                let flags = ascii_stops(usize::from_le_bytes(word));
                assert_eq!(flags.trailing_zeros(), 7, "byte {b:#04x} at {at} after a control byte");
            }
        }
        assert_eq!(ascii_stops(ONES * usize::from(b'~')), 0);
    }

    #[test]
    fn plain_run_ascii_run_and_closed_plain_string_agree_with_a_byte_by_byte_scan() {
        let alphabet = [b'a', b'"', b'\\', 0x1F, 0x20, 0x7F, 0x80, 0xFF, b'~'];
        let mut rng = Bytes(1);
        for _ in 0..20_000 {
            let s = rng.string(&alphabet, 3 * WORD + 3);
            let run = plain_run_by_bytes(&s);
            assert_eq!(plain_run(&s), run, "{s:?}");
            let closed = (s.get(run) == Some(&b'"')).then_some(run);
            assert_eq!(closed_plain_string(&s), closed, "{s:?}");
            let ascii = s.iter().position(|&b| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b));
            let ascii = ascii.unwrap_or(s.len());
            assert_eq!(ascii_run(&s), ascii, "{s:?}");
            assert_eq!(run_until(&s, ascii_stops), ascii, "{s:?}");
            assert_eq!(ascii_prefix(&s, plain_run(&s)), ascii, "{s:?}");
        }
    }

    #[test]
    fn printable_run_agrees_with_a_byte_by_byte_scan() {
        let alphabet = [b'a', b' ', b' ', b'!', b'~', 0x7F, 0x80, 0x1F, 0xA0, b'\t', 0xFF, 0xFE];
        let mut rng = Bytes(2);
        for _ in 0..40_000 {
            let s = rng.string(&alphabet, 3 * WORD + 3);
            let limit = rng.next(s.len() + 3);
            assert_eq!(printable_run(&s, limit), printable_run_by_bytes(&s, limit), "{s:?} limit {limit}");
            assert_eq!(printable_run(&s, usize::MAX), printable_run_by_bytes(&s, usize::MAX), "{s:?}");
        }
    }

    #[test]
    fn complete_number_agrees_with_the_grammar_on_every_short_input() {
        let alphabet = [b'-', b'0', b'1', b'9', b'.', b'e', b'E', b'+', b',', b'x'];
        let mut s = Vec::new();
        // Every string of up to 5 bytes over the alphabet.
        let mut count = 0;
        for len in 0..=5u32 {
            for mut n in 0..alphabet.len().pow(len) {
                s.clear();
                for _ in 0..len {
                    s.push(alphabet[n % alphabet.len()]);
                    n /= alphabet.len();
                }
                assert_eq!(
                    complete_number(&s),
                    complete_number_by_grammar(&s),
                    "{:?}",
                    std::str::from_utf8(&s)
                );
                count += 1;
            }
        }
        assert_eq!(count, 111_111);
        assert_eq!(complete_number(b"-12.50e+3,"), Some(9));
        assert_eq!(digit_run(b"x123y", 1), 3);
        assert_eq!(digit_run(b"12", 5), 0);
    }

    #[test]
    fn literals_escapes_and_hex_digits_are_read_exactly() {
        assert_eq!(literal(b"true,"), Some(4));
        assert_eq!(literal(b"null}"), Some(4));
        assert_eq!(literal(b"false]"), Some(5));
        for no in [&b"fals"[..], b"falsy", b"tru", b"nul", b"truE", b"nulL", b"False"] {
            assert_eq!(literal(no), None, "{:?}", std::str::from_utf8(no));
        }
        for d in 0..=0xFFFFu32 {
            for text in [std::format!("{d:04x}"), std::format!("{d:04X}")] {
                assert_eq!(hex4(text.as_bytes()), Some(d));
            }
        }
        for no in [&b"12g4"[..], b"-123", b" 123", b"12 3"] {
            assert_eq!(hex4(no), None);
        }
        for (escape, len, c) in [
            (&br#"\n"#[..], 2, '\n'),
            (br#"\"x"#, 2, '"'),
            (br#"\u0041"#, 6, 'A'),
            (br#"\u20ACx"#, 6, '€'),
            (br#"\uDC00"#, 6, '\u{FFFD}'),
            (br#"\ud83d\ude00"#, 12, '😀'),
            (br#"\uD800\uDC00"#, 12, '\u{10000}'),
            (br#"\uDBFF\uDFFF"#, 12, '\u{10FFFF}'),
        ] {
            let want = if c == '\u{FFFD}' { None } else { Some((len, c)) };
            assert_eq!(whole_escape(escape), want, "{:?}", std::str::from_utf8(escape));
        }
        for no in [
            &br#"\x"#[..],
            br#"\"#,
            br#"\u004"#,
            br#"\ud83d"#,
            br#"\ud83d\u0041"#,
            br#"\ud83d\n"#,
            br#"\ud83d\ue000"#,
        ] {
            assert_eq!(whole_escape(no), None, "{:?}", std::str::from_utf8(no));
        }
    }

    #[test]
    fn short_keys_and_the_message_key_are_taken_in_one_step() {
        // Keys up to a word less its quote and colon are read from one word.
        for len in 0..=WORD - 2 {
            let name: Vec<u8> = (0..len).map(|k| b'a' + k as u8).collect();
            let mut chunk = std::vec![b'{', b' ', b'"'];
            chunk.extend_from_slice(&name);
            chunk.extend_from_slice(b"\":1, \"padding\":2}");
            assert_eq!(
                short_key(&chunk, 2),
                Some((2 + len + 3, &name[..])),
                "{:?}",
                std::str::from_utf8(&chunk)
            );
        }
        // Longer, or the colon not right after: left to the scan that follows.
        assert_eq!(short_key(b"{\"abcdefghij\":1}", 1), None);
        assert_eq!(short_key(b"{\"a\" :1, \"b\":2}", 1), None);
        assert_eq!(short_key(b"{\"a\"", 1), None);
        for at in 0..3 {
            let mut chunk = std::vec![b' '; at];
            chunk.extend_from_slice(b"\"errorMessage\":\"x\"}");
            assert_eq!(error_message_key(&chunk, at), Some(at + 15));
            assert_eq!(error_message_key(&chunk[..at + 14], at), None);
        }
        assert_eq!(error_message_key(b"\"errorMessages\":1", 0), None);
    }

    #[test]
    fn keys_and_tokens_are_found_exactly() {
        // Keys of every length around a word, with the colon at once, after spaces, or missing.
        for len in 0..=2 * WORD {
            let name: Vec<u8> = (0..len).map(|k| b'a' + (k % 26) as u8).collect();
            for (gap, colon) in [("", true), ("  ", true), ("\n", true), ("", false)] {
                let mut chunk = std::vec![b' '];
                chunk.push(b'"');
                chunk.extend_from_slice(&name);
                chunk.push(b'"');
                chunk.extend_from_slice(gap.as_bytes());
                chunk.extend_from_slice(if colon { b":1" } else { b",1" });
                let want = colon.then_some((1 + len + 2 + gap.len() + 1, &name[..]));
                assert_eq!(key(&chunk, 1), want, "{:?}", std::str::from_utf8(&chunk));
            }
        }
        // A key with an escape or cut by the chunk's end is left to the byte-by-byte path.
        assert_eq!(key(br#""a\"b":1"#, 0), None);
        assert_eq!(key(br#""abc"#, 0), None);
        assert_eq!(key(br#""abc" "#, 0), None);
        let mut i = 0;
        assert_eq!(next_token(b" \t\r\n x", &mut i), Some(b'x'));
        assert_eq!(i, 5);
        let mut i = 1;
        assert_eq!(next_token(b"a!", &mut i), Some(b'!'));
        assert_eq!(i, 1);
        let mut i = 0;
        assert_eq!(next_token(b"  ", &mut i), None);
        assert_eq!(i, 2);
        let mut i = 0;
        assert_eq!(next_token(b"\x01", &mut i), Some(1), "a control byte is a token, not whitespace");
    }
}
