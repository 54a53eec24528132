//! A byte-at-a-time UTF-8 decoder that turns every invalid sequence into U+FFFD.
//!
//! Replacement follows the "maximal subpart" practice of Unicode §3.9 and the WHATWG
//! decoder: an ill-formed sequence becomes one U+FFFD and the byte that broke it is decoded
//! afresh, so the same bytes give the same text however they were split into chunks.

use crate::encoding::{Error as EncodingError, Reader, Writer};

/// What one byte produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Nothing yet: inside a multi-byte sequence.
    Pending,
    /// A whole character.
    Char(char),
    /// The pending sequence was ill-formed: emit U+FFFD, then feed the same byte again.
    Replace,
}

/// Decoder state: the code point so far, continuation bytes still needed, and the allowed
/// range of the next byte (narrower than `80..=BF` right after E0, ED, F0 and F4, which is what
/// rejects overlong forms, surrogates and values past U+10FFFF).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub(crate) struct Utf8 {
    code: u32,
    need: u8,
    lower: u8,
    upper: u8,
}

impl Utf8 {
    pub(crate) const fn new() -> Self {
        Self { code: 0, need: 0, lower: 0x80, upper: 0xBF }
    }

    /// Whether a sequence is open (its end would be ill-formed).
    pub(crate) const fn is_pending(&self) -> bool {
        self.need != 0
    }

    /// Forgets an open sequence (after its U+FFFD was emitted).
    pub(crate) fn reset(&mut self) {
        *self = Self::new();
    }

    pub(crate) fn push(&mut self, byte: u8) -> Step {
        if self.need == 0 {
            return match byte {
                0x00..=0x7F => Step::Char(char::from(byte)),
                0xC2..=0xDF => self.open(u32::from(byte & 0x1F), 1, 0x80, 0xBF),
                0xE0 => self.open(0, 2, 0xA0, 0xBF),
                0xE1..=0xEC | 0xEE..=0xEF => self.open(u32::from(byte & 0x0F), 2, 0x80, 0xBF),
                0xED => self.open(0x0D, 2, 0x80, 0x9F),
                0xF0 => self.open(0, 3, 0x90, 0xBF),
                0xF1..=0xF3 => self.open(u32::from(byte & 0x07), 3, 0x80, 0xBF),
                0xF4 => self.open(0x04, 3, 0x80, 0x8F),
                // 80..=C1 and F5..=FF never start a character: one U+FFFD for the byte itself.
                _ => Step::Char(char::REPLACEMENT_CHARACTER),
            };
        }
        if byte < self.lower || byte > self.upper {
            self.reset();
            return Step::Replace;
        }
        // The shifted code ends in six zero bits: `+` and `|` agree (and a `^` would too).
        self.code = (self.code << 6) + u32::from(byte & 0x3F);
        self.need -= 1;
        self.lower = 0x80;
        self.upper = 0xBF;
        if self.need > 0 {
            return Step::Pending;
        }
        let c = char::from_u32(self.code).unwrap_or(char::REPLACEMENT_CHARACTER);
        self.reset();
        Step::Char(c)
    }

    fn open(&mut self, code: u32, need: u8, lower: u8, upper: u8) -> Step {
        *self = Self { code, need, lower, upper };
        Step::Pending
    }

    /// The decoder as 7 bytes (`crate::encoding`): the code so far, then `need`, `lower`,
    /// `upper`.
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.u32(self.code);
        w.u8(self.need);
        w.u8(self.lower);
        w.u8(self.upper);
    }

    /// A decoder [`write`](Self::write) could have written: no sequence open and the bounds
    /// at rest, or one to three bytes still needed, bounds that one of the lead bytes sets (or
    /// the plain ones), and no more bits of code than the bytes read so far carry.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, EncodingError> {
        let state = Self { code: r.u32()?, need: r.u8()?, lower: r.u8()?, upper: r.u8()? };
        let valid = match state.need {
            0 => state == Self::new(),
            1..=3 => {
                let bounds = matches!(
                    (state.lower, state.upper),
                    (0x80, 0xBF) | (0xA0, 0xBF) | (0x80, 0x9F) | (0x90, 0xBF) | (0x80, 0x8F)
                );
                // A 4-byte sequence has 21 bits, and each byte still needed brings 6.
                bounds && state.code >> (21 - 6 * u32::from(state.need)) == 0
            }
            _ => false,
        };
        if valid {
            Ok(state)
        } else {
            Err(EncodingError::Invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8], out: &mut [char; 16]) -> usize {
        let mut d = Utf8::new();
        let mut n = 0;
        for &b in bytes {
            loop {
                match d.push(b) {
                    Step::Pending => break,
                    Step::Char(c) => {
                        out[n] = c;
                        n += 1;
                        break;
                    }
                    Step::Replace => {
                        out[n] = char::REPLACEMENT_CHARACTER;
                        n += 1;
                    }
                }
            }
        }
        if d.is_pending() {
            out[n] = char::REPLACEMENT_CHARACTER;
            n += 1;
        }
        n
    }

    #[test]
    fn agrees_with_std_lossy_decoding() {
        let cases: &[&[u8]] = &[
            b"plain",
            "é€😀".as_bytes(),
            b"\xC0\xAF",
            b"\xE0\x80\xAF",
            b"\xED\xA0\x80",
            b"\xF4\x90\x80\x80",
            b"\xF0\x9F\x98",
            b"a\xF0\x9F\x98b",
            b"\xFF\xFEx",
            b"\xE2\x82",
            b"\xC3",
        ];
        for bytes in cases {
            let mut out = ['\0'; 16];
            let n = decode(bytes, &mut out);
            let ours: std::string::String = out[..n].iter().collect();
            assert_eq!(ours, std::string::String::from_utf8_lossy(bytes), "{bytes:x?}");
        }
    }
}
