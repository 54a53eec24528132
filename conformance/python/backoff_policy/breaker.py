"""The circuit breaker: closed, open for a jittered and doubling break, half-open with probes;
failures counted in a row and as a share of a sliding window of eight buckets."""

from .randomness import M64, draw

U8_MAX, U16_MAX, U32_MAX = 255, 65535, (1 << 32) - 1
BUCKETS = 8


class Breaker:
    def __init__(self, p):
        self.consecutive_failures = p["consecutive_failures"]
        self.failure_percent = p["failure_percent"]
        self.window_ms = p["window_ms"]
        self.min_requests = p["min_requests"]
        self.break_ms = p["break_ms"]
        self.max_break_ms = p["max_break_ms"]
        self.probes = p["probes"]
        self.release_spread_ms = p["release_spread_ms"]
        self.state = ("closed",)
        self.trips = 0
        self.consecutive = 0
        self.buckets = [(0, 0)] * BUCKETS
        self.bucket_start = 0
        self.newest = 0
        self.latest = 0
        self.probe_ms = 0

    def clock(self, now):
        self.latest = max(self.latest, now)
        return self.latest

    def state_json(self):
        if self.state[0] == "closed":
            return {"state": "closed"}
        if self.state[0] == "open":
            return {"state": "open", "open_until_ms": self.state[1]}
        return {"state": "half_open", "in_flight": self.state[1], "succeeded": self.state[2]}

    def acquire(self, now, rng):
        """{"permit": "go"} or {"permit": "wait", "until_ms": n}."""
        now = self.clock(now)
        if self.state[0] == "open":
            until = self.state[1]
            if now < until:
                r, _ = draw(rng, self.release_spread_ms, self.trips, now)
                return {"permit": "wait", "until_ms": min(until + r, M64)}
            self.state = ("half_open", 0, 0)
        if self.state[0] == "half_open":
            _, in_flight, succeeded = self.state
            lost = now >= min(self.probe_ms + max(self.max_break_ms, 1), M64)
            if lost:
                in_flight = 0
            if min(in_flight + succeeded, U8_MAX) < max(self.probes, 1):
                self.state = ("half_open", min(in_flight + 1, U8_MAX), succeeded)
                self.probe_ms = now
                return {"permit": "go"}
            wait = max(self.break_ms, 1)
            r, _ = draw(rng, self.release_spread_ms, self.trips, now)
            return {"permit": "wait", "until_ms": min(now + wait + r, M64)}
        return {"permit": "go"}

    def observe(self, now, healthy, rng):
        now = self.clock(now)
        self.count(now, healthy)
        if self.state[0] == "half_open":
            _, in_flight, succeeded = self.state
            if healthy:
                succeeded = min(succeeded + 1, U8_MAX)
                if succeeded >= max(self.probes, 1):
                    self.close()
                else:
                    self.state = ("half_open", max(in_flight - 1, 0), succeeded)
            else:
                self.trip(now, rng)
        elif self.state[0] == "closed" and not healthy and self.should_trip():
            self.trip(now, rng)

    def close(self):
        self.state = ("closed",)
        self.trips = 0
        self.consecutive = 0
        self.buckets = [(0, 0)] * BUCKETS

    def trip(self, now, rng):
        doubled = self.break_ms << min(self.trips, 32)
        length = min(doubled, max(self.max_break_ms, self.break_ms))
        half = min(length // 2, U32_MAX)
        r, _ = draw(rng, half, self.trips, now)
        self.state = ("open", min(now + length + r, M64))
        self.trips = min(self.trips + 1, U8_MAX)
        self.consecutive = 0

    def should_trip(self):
        if self.consecutive_failures > 0 and self.consecutive >= self.consecutive_failures:
            return True
        requests = sum(b[0] for b in self.buckets)
        failures = sum(b[1] for b in self.buckets)
        return (self.failure_percent > 0 and requests >= max(self.min_requests, 1)
                and failures * 100 >= requests * self.failure_percent)

    def count(self, now, healthy):
        width = max(self.window_ms // BUCKETS, 1)
        passed = max(now - self.bucket_start, 0) // width
        for _ in range(min(passed, BUCKETS)):
            self.newest = (self.newest + 1) % BUCKETS
            self.buckets[self.newest] = (0, 0)
        self.bucket_start = min(self.bucket_start + min(passed * width, M64), M64)
        failed = 0 if healthy else 1
        r, f = self.buckets[self.newest]
        self.buckets[self.newest] = (min(r + 1, U16_MAX), min(f + failed, U16_MAX))
        self.consecutive = 0 if healthy else min(self.consecutive + 1, U16_MAX)


def healthy_of_status(status):
    """5xx and statuses that are not HTTP are failures; every other answer is healthy."""
    return not (status >= 500 or status < 100)
