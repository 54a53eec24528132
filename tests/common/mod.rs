//! Deterministic random sources for the tests.
#![allow(dead_code)]

use core::convert::Infallible;
use core::fmt;

use rand_core::TryRng;

/// SplitMix64: a small, well-spread, seedable generator.
#[derive(Clone, Debug)]
pub struct SplitMix(pub u64);

impl TryRng for SplitMix {
    type Error = Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        for b in dst {
            *b = self.try_next_u32()? as u8;
        }
        Ok(())
    }
}

/// An RNG that replays a script of words, then fails (an entropy source that ran dry).
#[derive(Clone, Debug)]
pub struct Scripted {
    pub words: Vec<u32>,
    pub at: usize,
}

#[derive(Debug)]
pub struct Dry;
impl fmt::Display for Dry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("entropy source ran dry")
    }
}
impl core::error::Error for Dry {}

impl TryRng for Scripted {
    type Error = Dry;
    fn try_next_u32(&mut self) -> Result<u32, Dry> {
        let w = self.words.get(self.at).copied().ok_or(Dry)?;
        self.at += 1;
        Ok(w)
    }
    fn try_next_u64(&mut self) -> Result<u64, Dry> {
        Ok(u64::from(self.try_next_u32()?) << 32 | u64::from(self.try_next_u32()?))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Dry> {
        for b in dst {
            *b = self.try_next_u32()? as u8;
        }
        Ok(())
    }
}

/// An RNG that always fails.
pub fn broken() -> Scripted {
    Scripted { words: Vec::new(), at: 0 }
}
