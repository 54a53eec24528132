//! Waits an error body carries, in the top-level fields a [`Dialect`](crate::Dialect) names:
//! Discord's `retry_after` (seconds, a JSON number with a fraction) and `global`, GitHub's
//! secondary-limit `message`. Read by the same one pass as the message, into a few bytes of
//! state; counted only from a body that is valid JSON in full.

use crate::encoding::{Error as EncodingError, Reader, Writer};

/// Which top-level fields of a JSON error body carry pushback in an API's dialect
/// ([`Dialect::body`](crate::Dialect::body)). They are read only on the statuses that carry
/// pushback in that dialect, and they tell the request's wait only where the headers tell none
/// (a `Retry-After`, or the reset of a spent quota: the headers outrank the body).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BodyFields {
    /// `retry_after`: the seconds to wait, a JSON number (`64.57`; a fraction or an exponent
    /// is rounded up to the millisecond, so never earlier than told — of more than 16
    /// significant digits, at the 16th; a value past 64 bits of milliseconds saturates, past
    /// every ceiling). A negative number, or any other type, is no wait. Discord's 429 body.
    pub retry_after: bool,
    /// `global`: `true` says the limit met holds every request of the client
    /// ([`Scope::Global`](crate::dialect::Scope::Global)). Discord's 429 body.
    pub global: bool,
    /// `message`, a string that says `secondary rate limit` (in any case): wait at least
    /// [`SECONDARY_LIMIT_WAIT_MS`](Self::SECONDARY_LIMIT_WAIT_MS). GitHub's 403 and 429 bodies.
    pub secondary_limit: bool,
}

impl BodyFields {
    /// No field: the body carries no wait (Follow Up Boss's dialect, the IETF draft's).
    pub const NONE: Self = Self { retry_after: false, global: false, secondary_limit: false };

    /// The least wait after a secondary rate limit that carries no wait in its headers:
    /// GitHub, "Rate limits for the REST API": "Otherwise, wait for at least one minute before
    /// retrying."
    pub const SECONDARY_LIMIT_WAIT_MS: u64 = 60_000;
}

/// What a JSON error body said about waiting, in the fields it was read for
/// ([`BodyParser::pushback`](crate::BodyParser::pushback)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BodyWait {
    /// The wait the body told, in milliseconds: the longest of `retry_after` and a secondary
    /// limit's minute.
    pub wait_ms: Option<u64>,
    /// Whether the body said the limit is global (`"global": true`).
    pub global: bool,
}

impl BodyWait {
    /// Nothing told.
    pub const NONE: Self = Self { wait_ms: None, global: false };
}

/// A JSON number of seconds, fed byte by byte as the grammar checks it elsewhere, read into
/// whole milliseconds rounded up: the first 16 significant digits exactly, any digit after
/// them that is not 0 rounding up at the 16th. No floats, no overflow, and no division (the
/// digits are kept four bits each, and only multiplied into the result): on a Cortex-M0 a
/// 64-bit division alone would cost about a kilobyte of flash.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Seconds {
    /// The significant digits kept, one per four bits, the last in the lowest.
    digits: u64,
    /// How many are kept.
    kept: u8,
    /// The power of ten the kept digits are multiplied by (integer digits dropped count up,
    /// fraction digits kept count down).
    shift: i32,
    /// A digit that is not 0 was dropped.
    sticky: bool,
    negative: bool,
    /// The exponent's magnitude, saturating far past any power that matters.
    exponent: u32,
    exponent_negative: bool,
    part: Part,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
enum Part {
    #[default]
    Integer,
    Fraction,
    Exponent,
}

/// How many significant digits are kept: four bits each in 64.
const KEPT: u8 = 16;

/// The exponent's magnitude saturates here.
const EXPONENT_MAX: u32 = 1_000_000;

impl Seconds {
    pub(crate) const fn new() -> Self {
        Self {
            digits: 0,
            kept: 0,
            shift: 0,
            sticky: false,
            negative: false,
            exponent: 0,
            exponent_negative: false,
            part: Part::Integer,
        }
    }

    /// The next byte of the number (the grammar is checked by the parser; a number it refuses
    /// makes the body invalid, and nothing read here counts).
    pub(crate) fn push(&mut self, b: u8) {
        match (self.part, b) {
            (Part::Integer, b'-') => self.negative = true,
            (Part::Exponent, b'-') => self.exponent_negative = true,
            (_, b'.') => self.part = Part::Fraction,
            (_, b'e' | b'E') => self.part = Part::Exponent,
            (Part::Exponent, b'0'..=b'9') => {
                self.exponent = (self.exponent.saturating_mul(10) + u32::from(b - b'0')).min(EXPONENT_MAX);
            }
            (part, b'0'..=b'9') => {
                let d = b - b'0';
                // Leading zeros are not significant: they only move the point.
                if self.kept < KEPT && (self.kept > 0 || d != 0) {
                    self.digits = (self.digits << 4) | u64::from(d);
                    self.kept += 1;
                    if part == Part::Fraction {
                        self.shift = self.shift.saturating_sub(1);
                    }
                } else if self.kept == 0 {
                    // A leading zero.
                    if part == Part::Fraction {
                        self.shift = self.shift.saturating_sub(1);
                    }
                } else {
                    self.sticky |= d != 0;
                    if part == Part::Integer {
                        self.shift = self.shift.saturating_add(1);
                    }
                }
            }
            _ => {}
        }
    }

    /// The number read so far as 21 bytes (`crate::encoding`).
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u64(self.digits);
        w.u8(self.kept);
        w.u32(self.shift as u32);
        w.flag(self.sticky);
        w.flag(self.negative);
        w.u32(self.exponent);
        w.flag(self.exponent_negative);
        w.u8(self.part as u8);
    }

    /// A number [`write`](Self::write) could have written: at most [`KEPT`] digits, each a
    /// decimal digit, the first not 0, nothing above them; an exponent within its saturation
    /// (which [`push`](Self::push) adds to unchecked).
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, EncodingError> {
        let (digits, kept) = (r.u64()?, r.u8()?);
        let shift = r.u32()? as i32;
        let (sticky, negative) = (r.flag()?, r.flag()?);
        let exponent = r.u32()?;
        let exponent_negative = r.flag()?;
        let part = match r.u8()? {
            0 => Part::Integer,
            1 => Part::Fraction,
            2 => Part::Exponent,
            _ => return Err(EncodingError::Invalid),
        };
        let nibbles_are_digits = (0..16).all(|i| (digits >> (4 * i)) & 0xF <= 9);
        let above = digits.checked_shr(4 * u32::from(kept)).unwrap_or(0);
        let first = match kept.checked_sub(1) {
            Some(top) => digits.checked_shr(4 * u32::from(top)).unwrap_or(0) & 0xF,
            None => 1,
        };
        if kept > KEPT || !nibbles_are_digits || above != 0 || first == 0 || exponent > EXPONENT_MAX {
            return Err(EncodingError::Invalid);
        }
        Ok(Self { digits, kept, shift, sticky, negative, exponent, exponent_negative, part })
    }

    /// The whole milliseconds, rounded up; `None` for a negative number (but `-0`).
    pub(crate) fn ms(&self) -> Option<u64> {
        let exponent = i64::from(self.exponent);
        let power = i64::from(self.shift) + if self.exponent_negative { -exponent } else { exponent } + 3;
        // The kept digits above the millisecond are the whole milliseconds; one that is not 0
        // below it (or a dropped one) rounds up.
        let below = u8::try_from(power.saturating_neg().clamp(0, i64::from(KEPT))).unwrap_or(KEPT);
        let mut ms: u64 = 0;
        let mut round_up = self.sticky;
        for i in (0..self.kept).rev() {
            let d = (self.digits >> (4 * u32::from(i))) & 0xF;
            if i < below {
                round_up |= d != 0;
            } else {
                ms = ms * 10 + d;
            }
        }
        // Kept digits all below the millisecond (`power` below `-KEPT` too) have rounded up
        // above: the first one kept is never 0.
        if power >= 0 {
            // A dropped digit rounds up at the last one kept.
            ms = ms.saturating_add(u64::from(round_up));
            round_up = false;
            // 10^20 is past 64 bits: any more saturates as well.
            for _ in 0..power.min(20) {
                ms = ms.saturating_mul(10);
            }
        }
        let ms = ms.saturating_add(u64::from(round_up));
        (!self.negative || ms == 0).then_some(ms)
    }
}

/// What a secondary limit's message says, matched in any case.
const SECONDARY: &[u8] = b"secondary rate limit";

// Its first letter appears nowhere else in it, so after a mismatch the match restarts at 0,
// or at 1 on that letter: exact without a failure table.
const _: () = {
    let mut i = 1;
    while i < SECONDARY.len() {
        assert!(SECONDARY[i] != SECONDARY[0]);
        i += 1;
    }
};

/// Looks for [`SECONDARY`] in the characters of a string, one at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Secondary(u8);

impl Secondary {
    pub(crate) const fn new() -> Self {
        Self(0)
    }

    /// The next byte of the string's text (any byte of a character that is not ASCII is
    /// matched as one that is not a letter of it: the match restarts).
    pub(crate) fn push(&mut self, b: u8) {
        let at = usize::from(self.0);
        let Some(&wanted) = SECONDARY.get(at) else { return };
        let b = b.to_ascii_lowercase();
        self.0 = if b == wanted { self.0 + 1 } else { u8::from(b == SECONDARY[0]) };
    }

    /// The next character of the string's text.
    pub(crate) fn push_char(&mut self, c: char) {
        self.push(if c.is_ascii() { c as u8 } else { 0x80 });
    }

    pub(crate) fn found(self) -> bool {
        usize::from(self.0) == SECONDARY.len()
    }

    /// The letters matched so far, one byte (`crate::encoding`).
    pub(crate) fn write(self, w: &mut Writer<'_>) {
        w.u8(self.0);
    }

    /// A match [`write`](Self::write) could have written: no more letters than it has.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, EncodingError> {
        let matched = r.u8()?;
        if usize::from(matched) > SECONDARY.len() {
            return Err(EncodingError::Invalid);
        }
        Ok(Self(matched))
    }
}

#[cfg(test)]
mod tests {
    use super::{Secondary, Seconds};

    fn ms(number: &str) -> Option<u64> {
        let mut s = Seconds::default();
        for b in number.bytes() {
            s.push(b);
        }
        s.ms()
    }

    #[test]
    fn seconds_are_read_into_milliseconds_rounded_up() {
        for (number, want) in [
            ("64.57", Some(64_570)),
            ("0", Some(0)),
            ("-0", Some(0)),
            ("-0.0", Some(0)),
            ("1", Some(1_000)),
            ("0.0001", Some(1)),
            ("0.001", Some(1)),
            ("0.0010001", Some(2)),
            ("1336.57", Some(1_336_570)),
            ("1e3", Some(1_000_000)),
            ("1.5E+1", Some(15_000)),
            ("25e-3", Some(25)),
            ("25e-4", Some(3)),
            ("1e-999999999", Some(1)),
            ("0e999999", Some(0)),
            ("1e400", Some(u64::MAX)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551.615", Some(u64::MAX)),
            ("18446744073709551", Some(u64::MAX)),
            ("1844674407370955", Some(1_844_674_407_370_955_000)),
            ("18446744073709.551", Some(18_446_744_073_709_560)),
            ("0.00000000000000000000000000000000001", Some(1)),
            // 17 significant digits: the 17th, not 0, rounds up at the 16th.
            ("0.12345678901234561", Some(124)),
            ("1000000000000000.1e-12", Some(1_000_001)),
            ("1000000000000000.0e-12", Some(1_000_000)),
            ("10000000000000001e-13", Some(1_000_001)),
            ("12345678901234567890e-14", Some(123_456_790)),
            ("-1", None),
            ("-0.0001", None),
        ] {
            assert_eq!(ms(number), want, "{number}");
        }
    }

    #[test]
    fn a_secondary_limit_is_found_in_any_case_after_any_false_start() {
        let found = |text: &str| {
            let mut m = Secondary::default();
            text.chars().for_each(|c| m.push_char(c));
            m.found()
        };
        assert!(found("You have exceeded a secondary rate limit."));
        assert!(found("SECONDARY RATE LIMIT"));
        assert!(found("ssecondary ssecondary rate limit"));
        assert!(found("secondary rate secondary rate limit"));
        assert!(!found("secondary rate limi"));
        assert!(!found("secondary rate  limit"));
        assert!(!found("secondäry rate limit"));
        assert!(!found("API rate limit exceeded for 203.0.113.7."));
        // Once found, found.
        assert!(found("secondary rate limit, and more"));
    }
}
