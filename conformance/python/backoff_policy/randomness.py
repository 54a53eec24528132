"""The randomness contract of vectors/README.md: draws in 0..=n from 32-bit words, unbiased
(Lemire's multiply-and-reject), and the clock fallback when the words run out."""

M32 = (1 << 32) - 1
M64 = (1 << 64) - 1
MAX_DRAWS = 16


class Words:
    """The words an event gives, handed out in order; `None` once they run out (the RNG failed)."""

    def __init__(self, words):
        self.words = list(words or [])
        self.used = 0

    def next(self):
        if self.used >= len(self.words):
            return None
        word = self.words[self.used]
        self.used += 1
        return word

    def all_drawn(self):
        return self.used == len(self.words)


def mix(z):
    """SplitMix64's finaliser."""
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def uniform_inclusive(rng, mx):
    """An unbiased draw from 0..=mx (mx >= 1), or None if the words ran out."""
    if mx == M32:
        return rng.next()
    span = mx + 1
    word = rng.next()
    if word is None:
        return None
    product = word * span
    if (product & M32) < span:
        threshold = ((1 << 32) - span) % span
        draws = 1
        while (product & M32) < threshold and draws < MAX_DRAWS:
            word = rng.next()
            if word is None:
                return None
            product = word * span
            draws += 1
    return product >> 32


def draw(rng, mx, n, now):
    """A value in 0..=mx for retry (or trip) number n at `now`, and where it came from."""
    if mx == 0:
        return 0, "not_drawn"
    value = uniform_inclusive(rng, mx)
    if value is not None:
        return value, "rng"
    hashed = mix((now ^ ((n << 32) & M64)) & M64)
    return (hashed * (mx + 1)) >> 64, "clock_fallback"
