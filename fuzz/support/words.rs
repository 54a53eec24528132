//! An RNG that replays the fuzzer's words, then fails: an entropy source that runs dry, which
//! the crate must answer with its clock fallback. Shared by the fuzz targets.

/// The words, and how many were drawn.
pub struct Words(pub Vec<u32>, pub usize);

/// The words ran out.
#[derive(Debug)]
pub struct Dry;

impl core::fmt::Display for Dry {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("dry")
    }
}

impl core::error::Error for Dry {}

impl rand_core::TryRng for Words {
    type Error = Dry;
    fn try_next_u32(&mut self) -> Result<u32, Dry> {
        let w = self.0.get(self.1).copied().ok_or(Dry)?;
        self.1 += 1;
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
