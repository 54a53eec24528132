"""The policy and the per-request state machine: what happened to an attempt in, the next action
out (succeed, fail with a stop reason, or retry after a delay), with an optional retry budget."""

from .body import BodyParser, body_json
from .headers import retry_after_ms
from .randomness import M64, draw

U32_MAX = (1 << 32) - 1
RETRYABLE = {
    "request_timeout": "request_timeout",
    "rate_limited": "rate_limited",
    "server_error": "server_error",
    "transport": "transport",
}


def sat32(x):
    return min(x, U32_MAX)


def kind_of_status(status):
    """The error kind of a status; None for 2xx (a success)."""
    if 200 <= status <= 299:
        return None
    named = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
             408: "request_timeout", 429: "rate_limited"}
    if status in named:
        return named[status]
    if 402 <= status <= 499:
        return "client_error"
    if 500 <= status <= 599:
        return "server_error"
    if 100 <= status <= 199 or 300 <= status <= 399:
        return "unexpected_status"
    return "invalid_status"


class Policy:
    """Every field of the policy, from a case's JSON."""

    def __init__(self, p):
        self.base_ms = p["base_ms"]
        self.max_backoff_ms = p["max_backoff_ms"]
        self.jitter = p["jitter"]["kind"]
        self.jitter_max_ms = p["jitter"].get("max_ms", 0)
        self.max_retries = p["max_retries"]
        self.deadline_ms = p["deadline_ms"]
        self.ceiling_ms = p["retry_after_ceiling_ms"]
        self.floor_ms = p["retry_after_floor_ms"]
        self.retry_after_jitter_ms = p["retry_after_jitter_ms"]
        self.retry_on = set(p["retry_on"])
        self.max_error_body_bytes = p["max_error_body_bytes"]

    def delay(self, n, previous, now, rng):
        """The backoff before retry n (0 first): (ms, jitter source)."""
        cap = self.max_backoff_ms
        d = self.base_ms << min(n, 32)
        capped = min(d, cap)
        if self.jitter == "none":
            floor, spread = capped, 0
        elif self.jitter == "additive":
            floor, spread = (capped, 0) if d >= cap else (capped, self.jitter_max_ms)
        elif self.jitter == "full":
            floor, spread = 0, capped
        elif self.jitter == "equal":
            floor, spread = capped - capped // 2, capped // 2
        else:  # decorrelated
            low = min(self.base_ms, cap)
            prev = self.base_ms if previous is None else previous
            high = min(prev * 3, cap)
            floor, spread = low, max(high - low, 0)
        if spread == 0:
            return floor, "not_drawn"
        r, source = draw(rng, spread, n, now)
        return min(floor + r, cap), source

    def bounds(self, n):
        cap = self.max_backoff_ms
        capped = min(self.base_ms << min(n, 32), cap)
        if self.jitter == "none":
            lo, hi = capped, capped
        elif self.jitter == "additive":
            lo, hi = capped, capped + self.jitter_max_ms
        elif self.jitter == "full":
            lo, hi = 0, capped
        elif self.jitter == "equal":
            lo, hi = capped - capped // 2, capped
        else:
            hi = min(self.base_ms * 3, M64)
            for _ in range(min(n, 40)):
                hi = min(hi * 3, M64)
            lo = min(self.base_ms, cap)
        return lo, min(hi, cap)


class Budget:
    """A token bucket for retries, starting full."""

    def __init__(self, b):
        self.capacity = b["capacity"]
        self.tokens = b["capacity"]
        self.retry_cost = b["retry_cost"]
        self.timeout_cost = b["timeout_cost"]
        self.success_refund = b["success_refund"]

    def withdraw(self, kind):
        cost = self.timeout_cost if kind in ("transport", "request_timeout") else self.retry_cost
        if self.tokens < cost:
            return False
        self.tokens -= cost
        return True

    def deposit(self):
        self.tokens = min(sat32(self.tokens + self.success_refund), self.capacity)


class Stop(Exception):
    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def cause_json(kind, status, body):
    return {"kind": kind, "status": status, "body": body}


class Request:
    def __init__(self, policy, now, idempotent):
        self.policy = policy
        self.started = now
        self.latest = now
        self.retries = 0
        self.last_backoff = 0
        self.idempotent = idempotent

    def attempt(self):
        return sat32(self.retries + 1)

    def may_wait_until(self, now, until):
        """None if the request may wait until `until`, else the error it fails with."""
        now = max(now, self.latest)
        if max(until - now, 0) > self.policy.ceiling_ms:
            stop = "retry_after_too_long"
        elif self.policy.deadline_ms is not None and until > min(self.started + self.policy.deadline_ms, M64):
            stop = "deadline"
        else:
            return None
        return dict(action="fail", stop=stop, attempts=self.retries,
                    **cause_json("rate_limited", None, {"kind": "not_read", "truncated": False}))

    def next_wait(self, now, kind, processed_maybe, told, rng):
        p = self.policy
        if kind not in RETRYABLE or RETRYABLE[kind] not in p.retry_on:
            raise Stop("permanent")
        if not self.idempotent and processed_maybe:
            raise Stop("may_have_been_processed")
        if self.retries >= p.max_retries:
            raise Stop("retries_exhausted")
        left = None
        if p.deadline_ms is not None:
            elapsed = max(now - self.started, 0)
            if elapsed > p.deadline_ms:
                raise Stop("deadline")
            left = p.deadline_ms - elapsed
        if told is None:
            previous = None if self.last_backoff == 0 else self.last_backoff
            delay, source = p.delay(self.retries, previous, now, rng)
            if left is not None and delay > left:
                raise Stop("deadline")
            return delay, "backoff", source
        if told > p.ceiling_ms:
            raise Stop("retry_after_too_long")
        at_least = max(told, p.floor_ms)
        if left is not None and at_least > left:
            raise Stop("deadline")
        r, source = draw(rng, p.retry_after_jitter_ms, self.retries, now)
        delay = min(at_least + r, M64)
        if left is not None:
            delay = min(delay, left)
        return min(delay, U32_MAX), "retry_after", source

    def decide(self, now, cause, processed_maybe, told, rng, budget):
        """(answer, continues): the action, and whether the request goes on (a retry)."""
        now = max(now, self.latest)
        self.latest = now
        try:
            delay, wait, source = self.next_wait(now, cause["kind"], processed_maybe, told, rng)
            if budget is not None and not budget.withdraw(cause["kind"]):
                raise Stop("budget_exhausted")
        except Stop as stop:
            return dict(action="fail", stop=stop.reason, attempts=self.attempt(), **cause), False
        self.retries = sat32(self.retries + 1)
        if wait == "backoff":
            self.last_backoff = delay
        at = min(now + delay, M64)
        return dict(action="retry", delay_ms=delay, at_ms=at, wait=wait, jitter=source, **cause), True

    def transport_failure(self, now, when, rng, budget):
        cause = cause_json("transport", None, {"kind": "not_read", "truncated": False})
        return self.decide(now, cause, when == "after_send", None, rng, budget)

    def response(self, status, headers, capacity):
        kind = kind_of_status(status)
        told = retry_after_ms(headers) if status in (429, 503) else None
        return Reply(self, status, kind, told, capacity)

    def response_parsed(self, status, seen, capacity):
        """A response already read by a dialect: `seen` has retry_after_ms, reset_ms,
        remaining and pushback."""
        kind = kind_of_status(status)
        told = None
        if kind is not None and status in seen.get("pushback", []):
            told = seen.get("retry_after_ms")
            if told is None and seen.get("remaining") == 0:
                told = seen.get("reset_ms")
        if told is not None and kind in ("forbidden", "client_error"):
            kind = "rate_limited"
        fields = seen.get("body") if status in seen.get("pushback", []) else None
        return Reply(self, status, kind, told, capacity, fields)


class Reply:
    def __init__(self, request, status, kind, told, capacity, fields=None):
        self.request = request
        self.status = status
        self.kind = kind
        self.told = told
        self.read = 0
        self.parser = BodyParser(capacity, fields)

    def processed_maybe(self):
        return not (self.status in (408, 429) or self.kind == "rate_limited")

    def feed(self, chunk):
        if self.kind is None:
            return "decided"
        most = self.request.policy.max_error_body_bytes
        left = max(most - self.read, 0)
        if len(chunk) < left:
            self.read = sat32(self.read + len(chunk))
            return self.parser.feed(chunk)
        self.read = most
        self.parser.feed(chunk[:left])
        return "decided"

    def finish(self, now, rng, budget):
        if self.kind is None:
            if budget is not None:
                budget.deposit()
            return {"action": "succeed", "attempts": self.request.attempt()}, False
        # Where the headers told no wait, the body's (in its dialect's fields); a client
        # error that carries one is a rate limit.
        if self.told is None:
            self.told = self.parser.pushback()["wait_ms"]
            if self.told is not None and self.kind in ("forbidden", "client_error"):
                self.kind = "rate_limited"
        body = body_json(*self.parser.finish())
        cause = cause_json(self.kind, self.status, body)
        return self.request.decide(now, cause, self.processed_maybe(), self.told, rng, budget)

    def body_failed(self, now, rng, budget):
        cause = cause_json("transport", self.status, {"kind": "truncated", "truncated": False})
        return self.request.decide(now, cause, self.processed_maybe(), self.told, rng, budget)
