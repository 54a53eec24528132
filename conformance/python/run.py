#!/usr/bin/env python3
"""Runs the conformance vectors through this Python implementation and compares every answer.

    python3 conformance/python/run.py vectors/            # every section it implements
    python3 conformance/python/run.py vectors/ -v         # and the first difference of each failure

Exit status: 0 when every case of the implemented sections passes, 1 when any differs (or a
section it implements is missing), 2 on a usage error. Sections it does not implement are
listed as skipped. Standard library only.
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from backoff_policy.body import BodyParser, body_json  # noqa: E402
from backoff_policy.breaker import Breaker, healthy_of_status  # noqa: E402
from backoff_policy.headers import Malformed, parse_http_date, retry_after_ms, year_of  # noqa: E402
from backoff_policy.randomness import Words  # noqa: E402
from backoff_policy.request import Budget, Policy, Request  # noqa: E402

FORMAT_VERSION = 1
IMPLEMENTED = ["request", "retry-after", "body", "budget", "breaker"]
NOT_IMPLEMENTED = ["rate-limits", "dialects"]


class Mismatch(Exception):
    pass


def body_bytes(obj):
    if "body_hex" in obj:
        return bytes.fromhex(obj["body_hex"])
    return obj.get("body", "").encode("utf-8")


def chunks_of(obj, body):
    lengths = obj.get("chunks")
    if lengths is None:
        return [body]
    out, at = [], 0
    for n in lengths:
        out.append(body[at:at + n])
        at += n
    if at != len(body):
        raise Mismatch("chunks do not add up to the body")
    return out


def headers_of(obj):
    return [(n.encode("utf-8"), v.encode("utf-8")) for n, v in obj.get("headers", [])]


def check_words(rng, where):
    if not rng.all_drawn():
        raise Mismatch(f"{where}: drew {rng.used} of the {len(rng.words)} words given")


# -- sections --------------------------------------------------------------------------------


def run_requests(case):
    policy = Policy(case["policy"])
    capacity = case["capacity"]
    budget = Budget(case["budget"]) if case.get("budget") is not None else None
    answers = []
    for request in case["requests"]:
        current = Request(policy, request["start_ms"], request["idempotency"] == "idempotent")
        for i, event in enumerate(request["events"]):
            if current is None:
                raise Mismatch("an event after the request ended")
            rng = Words(event.get("words"))
            now = event["now"]
            if "may_wait_until" in event:
                error = current.may_wait_until(now, event["may_wait_until"])
                answer = {"may_wait": True} if error is None else {"may_wait": False, "error": error}
                goes_on = error is None
            elif "transport" in event:
                answer, goes_on = current.transport_failure(now, event["transport"], rng, budget)
            else:
                answer, goes_on = respond(current, now, event["response"], capacity, rng, budget)
            if budget is not None:
                answer["tokens"] = budget.tokens
            check_words(rng, f"event {i}")
            answers.append(answer)
            if not goes_on:
                current = None
    return answers


def respond(request, now, response, capacity, rng, budget):
    status = response["status"]
    if "seen" in response:
        reply = request.response_parsed(status, response["seen"], capacity)
    else:
        reply = request.response(status, headers_of(response), capacity)
    progress = [reply.feed(chunk) for chunk in chunks_of(response, body_bytes(response))]
    if response.get("cut"):
        answer, goes_on = reply.body_failed(now, rng, budget)
    else:
        answer, goes_on = reply.finish(now, rng, budget)
    if "chunks" in response:
        answer["progress"] = progress
    return answer, goes_on


def expected_requests(case):
    return [event["expect"] for request in case["requests"] for event in request["events"]]


# The presets, written out: the Follow Up Boss API's rules and the AWS SDKs' standard budget.
PRESETS = {
    "FOLLOW_UP_BOSS": {"policy": {
        "base_ms": 1000, "max_backoff_ms": 32000, "jitter": {"kind": "additive", "max_ms": 1000},
        "max_retries": 8, "deadline_ms": None, "retry_after_ceiling_ms": 600000,
        "retry_after_floor_ms": 1000, "retry_after_jitter_ms": 1000,
        "retry_on": ["request_timeout", "rate_limited", "server_error", "transport"],
        "max_error_body_bytes": 65536}},
    "AWS_STANDARD": {"budget": {"capacity": 500, "retry_cost": 5, "timeout_cost": 10, "success_refund": 1}},
}
BREAKER_PRESETS = {
    "API_CLIENT": (5, 50, 10000, 10, 2000, 8000, 1, 20000),
    "POLLY": (0, 10, 30000, 100, 5000, 5000, 1, 0),
    "RESILIENCE4J": (0, 50, 60000, 100, 60000, 60000, 10, 0),
    "ENVOY": (5, 0, 10000, 0, 30000, 300000, 1, 0),
}
BREAKER_FIELDS = ("consecutive_failures", "failure_percent", "window_ms", "min_requests", "break_ms",
                  "max_break_ms", "probes", "release_spread_ms")


def run_request_section(case):
    kind = case.get("type", "request")
    if kind == "request":
        return run_requests(case), expected_requests(case)
    if kind == "preset":
        return PRESETS.get(case["preset"]), case["expect"]
    policy = Policy(case["policy"])
    if kind == "bounds":
        lo, hi = policy.bounds(case["retry"])
        return {"min_ms": lo, "max_ms": hi}, case["expect"]
    if kind == "backoff":
        rng = Words(case.get("words"))
        delay, source = policy.delay(case["retry"], case["previous_ms"], case["now"], rng)
        check_words(rng, "backoff")
        return {"delay_ms": delay, "jitter": source}, case["expect"]
    raise Mismatch(f"unknown case type {kind}")


def run_retry_after(case):
    kind = case["type"]
    if kind == "retry_after":
        return {"ms": retry_after_ms(headers_of(case))}, case["expect"]
    if kind == "http_date":
        try:
            got = {"seconds": parse_http_date(case["value"].encode("utf-8"), case["pivot_year"])}
        except Malformed:
            got = {"error": "malformed"}
        except Exception:  # YearOutOfRange
            got = {"error": "year_out_of_range"}
        return got, case["expect"]
    if kind == "year_of":
        return {"year": year_of(case["epoch_s"])}, case["expect"]
    raise Mismatch(f"unknown case type {kind}")


def run_body(case):
    fields = case.get("fields")
    parser = BodyParser(case["capacity"], fields)
    body = body_bytes(case)
    progress = [parser.feed(chunk) for chunk in chunks_of(case, body)]
    told = parser.pushback()
    answer = body_json(*parser.finish())
    answer["progress"] = progress
    if fields is not None:
        answer["pushback"] = told
    return answer, case["expect"]


def run_breaker(case):
    if case.get("type") == "preset":
        values = BREAKER_PRESETS.get(case["preset"], ())
        return {"policy": dict(zip(BREAKER_FIELDS, values))}, case["expect"]
    breaker = Breaker(case["policy"])
    answers = []
    for i, step in enumerate(case["steps"]):
        rng = Words(step.get("words"))
        if step["op"] == "acquire":
            answer = breaker.acquire(step["now"], rng)
        elif step["op"] == "observe":
            healthy = step["health"] == "healthy" if "health" in step else healthy_of_status(step["status"])
            breaker.observe(step["now"], healthy, rng)
            answer = {}
        else:
            raise Mismatch(f"unknown op {step['op']}")
        answer.update(breaker.state_json())
        check_words(rng, f"step {i}")
        answers.append(answer)
    return answers, [step["expect"] for step in case["steps"]]


RUNNERS = {
    "breaker": run_breaker,
    "request": run_request_section,
    "budget": run_request_section,
    "retry-after": run_retry_after,
    "body": run_body,
}


# -- comparing -------------------------------------------------------------------------------


MISSING = object()


def difference(path, want, got):
    """The first difference, or None. A key that is missing differs from one that is null."""
    if want is MISSING or got is MISSING:
        shown = ["(missing)" if v is MISSING else json.dumps(v) for v in (want, got)]
        return f"{path}: expected {shown[0]}, got {shown[1]}"
    if isinstance(want, dict) and isinstance(got, dict):
        for key in list(want) + [k for k in got if k not in want]:
            d = difference(f"{path}.{key}", want.get(key, MISSING), got.get(key, MISSING))
            if d:
                return d
        return None
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (w, g) in enumerate(zip(want, got)):
            d = difference(f"{path}[{i}]", w, g)
            if d:
                return d
        return None
    if want == got and type(want) is type(got):
        return None
    return f"{path or 'answer'}: expected {json.dumps(want)}, got {json.dumps(got)}"


def main(argv):
    args = [a for a in argv[1:] if not a.startswith("-")]
    verbose = "-v" in argv[1:]
    if len(args) != 1 or not os.path.isdir(args[0]):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    directory = args[0]
    failed = 0
    for section in IMPLEMENTED:
        path = os.path.join(directory, f"{section}.json")
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as e:
            print(f"{section}: cannot read {path}: {e}")
            failed += 1
            continue
        if data.get("version") != FORMAT_VERSION or data.get("section") != section:
            print(f"{section}: format version {data.get('version')} (this runner reads {FORMAT_VERSION})")
            failed += 1
            continue
        passed, failures = 0, []
        for case in data["cases"]:
            try:
                got, want = RUNNERS[section](case)
                d = difference("", want, got)
            except Mismatch as e:
                d = str(e)
            except Exception as e:  # a crash on a case is a failure of that case
                d = f"{type(e).__name__}: {e}"
            if d:
                failures.append(f"  {case['name']}: {d}")
            else:
                passed += 1
        print(f"{section}: {passed} of {len(data['cases'])} cases pass")
        if failures:
            failed += len(failures)
            print("\n".join(failures if verbose else failures[:20]))
            if not verbose and len(failures) > 20:
                print(f"  … and {len(failures) - 20} more (-v for all)")
    for section in NOT_IMPLEMENTED:
        print(f"{section}: skipped (not implemented here)")
    if failed:
        print(f"FAILED: {failed} case(s) differ")
        return 1
    print("every case of the implemented sections passes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
