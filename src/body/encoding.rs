//! The body parser's whole state as bytes (the format: `crate::encoding`), for a [`Reply`]
//! kept between two chunks in storage the crate does not own (the C door's).
//!
//! Every field is written as it is, stale bytes included (the key buffer past `key_len`, the
//! stack's bits above the depth, the last `\u` escape's digits): one state, one encoding, and
//! a decoded parser is the very one that was encoded. Reading checks every tag, flag and
//! range, and each relation between fields the parser's code relies on or keeps: a state that
//! only exists inside an object has a depth, the innermost container's kind is the stack's,
//! a `\u` escape has no more digits than it read, the message is valid UTF-8 of at most `N`
//! bytes with zeroes after it.
//!
//! [`Reply`]: crate::Reply

use heapless::Vec;

use super::wait::{Secondary, Seconds};
use super::{
    Body, BodyFields, BodyParser, Number, Role, Slot, State, Target, Text, Told, KEY_CAP, KEY_OVERFLOW,
    LITERALS, MAX_DEPTH,
};
use crate::encoding::{Error as EncodingError, Reader, Writer};
use crate::utf8::Utf8;

const NUMBERS: [Number; 8] = [
    Number::Minus,
    Number::Zero,
    Number::Int,
    Number::Dot,
    Number::Frac,
    Number::Exp,
    Number::ExpSign,
    Number::ExpInt,
];
const ROLES: [Role; 6] =
    [Role::Skip, Role::NestedKey, Role::TopKey, Role::Capture, Role::Scan, Role::Seconds];
const TARGETS: [Target; 6] =
    [Target::Other, Target::ErrorMessage, Target::Error, Target::RetryAfter, Target::Global, Target::Message];
const SLOTS: [Slot; 3] = [Slot::Absent, Slot::Text, Slot::NotText];

/// The index of `value` in `table` (every table lists every variant).
fn index<T: PartialEq>(table: &[T], value: &T) -> u8 {
    table.iter().position(|v| v == value).and_then(|i| u8::try_from(i).ok()).unwrap_or(u8::MAX)
}

/// The variant at `tag`, or the bytes are not a state.
fn variant<T: Copy>(table: &[T], tag: u8) -> Result<T, EncodingError> {
    table.get(usize::from(tag)).copied().ok_or(EncodingError::Invalid)
}

/// A state as three bytes: its tag, then what it carries (zeroes for the states that carry
/// nothing).
fn state_bytes(state: State) -> [u8; 3] {
    match state {
        State::Start => [0, 0, 0],
        State::Bom1 => [1, 0, 0],
        State::Bom2 => [2, 0, 0],
        State::Lead => [3, 0, 0],
        State::Raw => [4, 0, 0],
        State::RawDone => [5, 0, 0],
        State::Value => [6, 0, 0],
        State::ValueOrClose => [7, 0, 0],
        State::KeyOrClose => [8, 0, 0],
        State::Key => [9, 0, 0],
        State::Colon => [10, 0, 0],
        State::CommaOrClose => [11, 0, 0],
        State::Str => [12, 0, 0],
        State::Escape => [13, 0, 0],
        State::Hex(n) => [14, n, 0],
        State::Num(n) => [15, index(&NUMBERS, &n), 0],
        State::Literal(which, at) => [16, which, at],
        State::End => [17, 0, 0],
        State::Invalid => [18, 0, 0],
    }
}

fn state_from(bytes: [u8; 3]) -> Result<State, EncodingError> {
    Ok(match bytes {
        [0, 0, 0] => State::Start,
        [1, 0, 0] => State::Bom1,
        [2, 0, 0] => State::Bom2,
        [3, 0, 0] => State::Lead,
        [4, 0, 0] => State::Raw,
        [5, 0, 0] => State::RawDone,
        [6, 0, 0] => State::Value,
        [7, 0, 0] => State::ValueOrClose,
        [8, 0, 0] => State::KeyOrClose,
        [9, 0, 0] => State::Key,
        [10, 0, 0] => State::Colon,
        [11, 0, 0] => State::CommaOrClose,
        [12, 0, 0] => State::Str,
        [13, 0, 0] => State::Escape,
        // Four hex digits: 0 to 3 read so far.
        [14, n @ 0..=3, 0] => State::Hex(n),
        [15, n, 0] => State::Num(variant(&NUMBERS, n)?),
        // Inside a literal: its first letter read, its last not yet.
        [16, which, at] => {
            let word = LITERALS.get(usize::from(which)).ok_or(EncodingError::Invalid)?;
            if at == 0 || usize::from(at) >= word.len() {
                return Err(EncodingError::Invalid);
            }
            State::Literal(which, at)
        }
        [17, 0, 0] => State::End,
        [18, 0, 0] => State::Invalid,
        _ => return Err(EncodingError::Invalid),
    })
}

/// Where a state can be: before or after the top-level object (depth 0), inside it (depth 1
/// or more), or anywhere (a body found invalid).
fn depth_fits(state: State, depth: u8) -> bool {
    match state {
        State::Start | State::Bom1 | State::Bom2 | State::Lead | State::Raw | State::RawDone | State::End => {
            depth == 0
        }
        State::Invalid => true,
        _ => depth >= 1,
    }
}

impl<const N: usize> BodyParser<N> {
    /// The bytes [`write`](Self::write) writes.
    pub(crate) const ENCODED_LEN: usize = 90 + N;

    /// Writes the parser's whole state.
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.bytes(&state_bytes(self.state));
        w.u8(index(&ROLES, &self.role));
        w.u8(self.depth);
        for word in self.stack {
            w.u32(word);
        }
        w.flag(self.in_object);
        self.utf8.write(w);
        w.u16(self.high);
        w.u16(self.hex);
        w.bytes(&self.key);
        w.u8(self.key_len);
        w.u8(index(&TARGETS, &self.target));
        w.u8(index(&SLOTS, &self.error_message));
        w.u8(index(&SLOTS, &self.error));
        w.flag(self.raw_space);
        // The answer is only settled by `finish`: its kind is `NotRead` until then, and not
        // written.
        w.flag(self.out.truncated);
        let text = &self.out.text.0;
        w.u32(u32::try_from(text.len()).unwrap_or(u32::MAX));
        w.bytes(text);
        w.zeros(N - text.len());
        w.flag(self.fields.retry_after);
        w.flag(self.fields.global);
        w.flag(self.fields.secondary_limit);
        w.opt_u64(self.told.retry_after_ms);
        w.flag(self.told.global);
        self.told.seconds.write(w);
        self.told.secondary.write(w);
    }

    /// Reads a state [`write`](Self::write) could have written.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, EncodingError> {
        let state = state_from([r.u8()?, r.u8()?, r.u8()?])?;
        let role = variant(&ROLES, r.u8()?)?;
        let depth = r.u8()?;
        let mut stack = [0u32; 4];
        for word in stack.iter_mut() {
            *word = r.u32()?;
        }
        let in_object = r.flag()?;
        let utf8 = Utf8::read(r)?;
        let (high, hex) = (r.u16()?, r.u16()?);
        let mut key = [0u8; KEY_CAP];
        for (d, s) in key.iter_mut().zip(r.bytes(KEY_CAP)?) {
            *d = *s;
        }
        let key_len = r.u8()?;
        let target = variant(&TARGETS, r.u8()?)?;
        let error_message = variant(&SLOTS, r.u8()?)?;
        let error = variant(&SLOTS, r.u8()?)?;
        let raw_space = r.flag()?;
        let truncated = r.flag()?;
        let len = usize::try_from(r.u32()?).map_err(|_| EncodingError::Invalid)?;
        let buffer = r.bytes(N)?;
        let (kept, rest) = (buffer.get(..len), buffer.get(len..));
        let (Some(kept), Some(rest)) = (kept, rest) else { return Err(EncodingError::Invalid) };
        if core::str::from_utf8(kept).is_err() || rest.iter().any(|&b| b != 0) {
            return Err(EncodingError::Invalid);
        }
        let text = Text(Vec::from_slice(kept).map_err(|_| EncodingError::Invalid)?);
        let fields = BodyFields { retry_after: r.flag()?, global: r.flag()?, secondary_limit: r.flag()? };
        let told = Told {
            retry_after_ms: r.opt_u64()?,
            global: r.flag()?,
            seconds: Seconds::read(r)?,
            secondary: Secondary::read(r)?,
        };
        // The relations between fields that the parser keeps, and relies on.
        let innermost_is_object = depth.checked_sub(1).is_some_and(|top| {
            stack.get(usize::from(top / 32)).is_some_and(|word| word & (1 << (top % 32)) != 0)
        });
        let hex_fits = match state {
            State::Hex(n) => hex >> (4 * u32::from(n)) == 0,
            _ => true,
        };
        let valid = depth <= MAX_DEPTH
            && depth_fits(state, depth)
            && in_object == innermost_is_object
            && (high == 0 || (0xD800..=0xDBFF).contains(&high))
            && hex_fits
            && (usize::from(key_len) <= KEY_CAP || key_len == KEY_OVERFLOW);
        if !valid {
            return Err(EncodingError::Invalid);
        }
        let mut out = Body::not_read();
        out.text = text;
        out.truncated = truncated;
        Ok(Self {
            state,
            role,
            depth,
            stack,
            in_object,
            utf8,
            high,
            hex,
            key,
            key_len,
            target,
            error_message,
            error,
            raw_space,
            out,
            fields,
            told,
            #[cfg(test)]
            rounds: 0,
        })
    }
}
