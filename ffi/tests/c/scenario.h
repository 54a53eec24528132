/* The lifecycle every C test runs, on the host and on the Cortex-M3 firmware alike: the same
 * scenario as the Rust tests (503 -> retry, 429 with Retry-After holding its context, 400 in
 * 16-byte chunks -> the message, 201 -> succeed, a cut body, a not-idempotent POST after a 502)
 * and every misuse code. Returns the number of wrong decisions; `say` prints a line. */
#ifndef SCENARIO_H
#define SCENARIO_H

#include <stdint.h>
#include <string.h>

#include "backoff_core.h"

typedef void (*say_fn)(const char *line);

static uint32_t xorshift_state = 0x2545F491u;

/* Returns 0 on success, as HAL drivers do. */
static int next_word(void *context, uint32_t *out) {
    uint32_t *x = (uint32_t *)context;
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *out = *x;
    return 0;
}

static int dry(void *context, uint32_t *out) {
    (void)context;
    (void)out;
    return -1;
}

static int failures;

static void check(say_fn say, bool ok, const char *what) {
    if (!ok) {
        failures++;
        say("WRONG: ");
        say(what);
        say("\n");
    }
}

#define HEADER(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static int run_scenario(say_fn say) {
    /* C99: storage needs no alignment. */
    static uint8_t request[BACKOFF_REQUEST_SIZE];
    static backoff_shared_storage shared_storage;
    uint8_t *shared = shared_storage.bytes;
    char message[BACKOFF_MESSAGE_CAPACITY + 1];
    backoff_policy policy;
    backoff_action action;
    backoff_rng rng = {next_word, &xorshift_state};
    uint64_t now = 1000;
    uint32_t progress = 0;
    failures = 0;

    check(say, backoff_policy_follow_up_boss(&policy) == BACKOFF_OK, "preset");
    check(say, policy.base_ms == 1000 && policy.max_retries == 8 && policy.jitter == BACKOFF_JITTER_ADDITIVE,
          "preset fields");
    check(say, backoff_shared_init(shared, sizeof shared_storage, BACKOFF_PACING_BURST, BACKOFF_SHARED_BUDGET) == BACKOFF_OK, "shared init");

    /* Request 1: 503 with an HTML page -> backoff 1000..=2000 ms. */
    check(say, backoff_request_begin(request, sizeof request, &policy, now, BACKOFF_IDEMPOTENT) == BACKOFF_OK, "begin");
    check(say, backoff_shared_acquire(shared, request, now, "events", 6, &rng, &action) == BACKOFF_OK &&
                   action.kind == BACKOFF_ACTION_SEND,
          "first acquire goes");
    backoff_header html[] = {HEADER("Content-Type", "text/html")};
    check(say, backoff_request_response(request, 503, html, 1, now, &rng, shared) == BACKOFF_OK, "503 response");
    const char *page = "<html><body>503 Service Unavailable</body></html>";
    check(say, backoff_request_feed(request, page, strlen(page), &progress) == BACKOFF_OK, "503 feed");
    check(say, backoff_request_finish(request, now, &rng, shared, &action, message, sizeof message) == BACKOFF_OK,
          "503 finish");
    check(say, action.kind == BACKOFF_ACTION_RETRY && action.wait == BACKOFF_WAIT_BACKOFF, "503 is retried by backoff");
    check(say, action.delay_ms >= 1000 && action.delay_ms <= 2000, "503 delay in 1000..=2000");
    check(say, action.at_ms == now + action.delay_ms, "503 at_ms");
    check(say, action.body_kind == BACKOFF_BODY_NOT_JSON && strncmp(message, "<html>", 6) == 0, "503 raw prefix");
    check(say, action.status == 503 && action.error_kind == BACKOFF_KIND_SERVER_ERROR, "503 kind");
    now = action.at_ms;
    check(say, backoff_shared_acquire(shared, request, now, "events", 6, &rng, &action) == BACKOFF_OK &&
                   action.kind == BACKOFF_ACTION_SEND,
          "second acquire goes");

    /* Attempt 2: 429 with Retry-After: 3 in context `events`: held exactly 3000 ms, retried in 3000..=4000. */
    backoff_header limited[] = {HEADER("Retry-After", "3"), HEADER("X-RateLimit-Context", "events")};
    check(say, backoff_request_response(request, 429, limited, 2, now, &rng, shared) == BACKOFF_OK, "429 response");
    const char *slow = "{\"errorMessage\":\"Too many requests\"}";
    check(say, backoff_request_feed(request, slow, strlen(slow), NULL) == BACKOFF_OK, "429 feed");
    check(say, backoff_request_finish(request, now, &rng, shared, &action, message, sizeof message) == BACKOFF_OK,
          "429 finish");
    check(say, action.kind == BACKOFF_ACTION_RETRY && action.wait == BACKOFF_WAIT_RETRY_AFTER, "429 waits Retry-After");
    check(say, action.delay_ms >= 3000 && action.delay_ms <= 4000, "429 delay in 3000..=4000");
    check(say, strcmp(message, "Too many requests") == 0 && action.message_len == 17, "429 message");
    uint64_t retry_at = action.at_ms;
    check(say, backoff_shared_acquire(shared, request, now + 1, "events", 6, &rng, &action) == BACKOFF_OK &&
                   action.kind == BACKOFF_ACTION_WAIT && action.at_ms == now + 3000 && action.wait == BACKOFF_WAIT_HELD,
          "the context is held exactly until Retry-After");
    check(say, backoff_shared_acquire(shared, NULL, now + 1, "people", 6, &rng, &action) == BACKOFF_OK &&
                   action.kind == BACKOFF_ACTION_SEND,
          "another context is not held");
    now = retry_at;
    check(say, backoff_shared_acquire(shared, request, now, "events", 6, &rng, &action) == BACKOFF_OK &&
                   action.kind == BACKOFF_ACTION_SEND,
          "the hold is over when the retry is due");

    /* Attempt 3: 400 fed in 16-byte chunks -> fail with the message. */
    const char *bad = "{\"errorMessage\":\"Invalid fields in the request body: emails.\",\"code\":400}";
    check(say, backoff_request_response(request, 400, NULL, 0, now, &rng, shared) == BACKOFF_OK, "400 response");
    for (size_t at = 0; at < strlen(bad); at += 16) {
        size_t n = strlen(bad) - at < 16 ? strlen(bad) - at : 16;
        check(say, backoff_request_feed(request, bad + at, n, NULL) == BACKOFF_OK, "400 chunk");
    }
    check(say, backoff_request_finish(request, now, &rng, shared, &action, message, sizeof message) == BACKOFF_OK,
          "400 finish");
    check(say, action.kind == BACKOFF_ACTION_FAIL && action.stop == BACKOFF_STOP_PERMANENT && action.attempts == 3,
          "400 fails at once after 3 attempts");
    check(say, action.error_kind == BACKOFF_KIND_BAD_REQUEST && action.body_kind == BACKOFF_BODY_ERROR_MESSAGE,
          "400 kind");
    check(say, strcmp(message, "Invalid fields in the request body: emails.") == 0, "400 message");
    check(say, backoff_request_feed(request, "x", 1, NULL) == BACKOFF_ERR_ENDED, "ended request");

    /* Request 2: 201 -> succeed. */
    check(say, backoff_request_begin(request, sizeof request, &policy, now, BACKOFF_IDEMPOTENT) == BACKOFF_OK, "begin 2");
    check(say, backoff_request_response(request, 201, NULL, 0, now, &rng, shared) == BACKOFF_OK, "201 response");
    check(say, backoff_request_finish(request, now, &rng, shared, &action, NULL, 0) == BACKOFF_OK, "201 finish");
    check(say, action.kind == BACKOFF_ACTION_SUCCEED && action.attempts == 1, "201 succeeds");

    /* Request 3: a 201 whose body broke off is a transport failure after sending: retried. */
    check(say, backoff_request_begin(request, sizeof request, &policy, now, BACKOFF_IDEMPOTENT) == BACKOFF_OK, "begin 3");
    check(say, backoff_request_response(request, 201, NULL, 0, now, NULL, NULL) == BACKOFF_OK, "cut response");
    check(say, backoff_request_feed(request, "{\"id\":", 6, NULL) == BACKOFF_OK, "cut feed");
    check(say, backoff_request_body_failed(request, now, &rng, NULL, &action, message, sizeof message) == BACKOFF_OK,
          "cut body");
    check(say, action.kind == BACKOFF_ACTION_RETRY && action.error_kind == BACKOFF_KIND_TRANSPORT &&
                   action.status == 201 && action.body_kind == BACKOFF_BODY_TRUNCATED,
          "a cut 201 is retried as a transport failure");

    /* Request 4: a POST that is not idempotent is not sent again after a 502. */
    check(say, backoff_request_begin(request, sizeof request, &policy, now, BACKOFF_NOT_IDEMPOTENT) == BACKOFF_OK, "begin 4");
    check(say, backoff_request_response(request, 502, NULL, 0, now, NULL, NULL) == BACKOFF_OK, "502 response");
    check(say, backoff_request_finish(request, now, &rng, NULL, &action, message, sizeof message) == BACKOFF_OK,
          "502 finish");
    check(say, action.kind == BACKOFF_ACTION_FAIL && action.stop == BACKOFF_STOP_MAY_HAVE_BEEN_PROCESSED,
          "a POST after a 502 may have been processed");

    /* Request 5: before sending, a POST is retried; a dry RNG falls back to the clock. */
    backoff_rng dry_rng = {dry, NULL};
    check(say, backoff_request_begin(request, sizeof request, &policy, now, BACKOFF_NOT_IDEMPOTENT) == BACKOFF_OK, "begin 5");
    check(say, backoff_request_transport_failure(request, now, BACKOFF_FAILURE_BEFORE_SEND, &dry_rng, shared, &action, NULL, 0) == BACKOFF_OK,
          "connect failure");
    check(say, action.kind == BACKOFF_ACTION_RETRY && action.jitter_source == BACKOFF_JITTER_SOURCE_CLOCK_FALLBACK,
          "retried, jitter from the clock");
    check(say, backoff_request_transport_failure(request, now, BACKOFF_FAILURE_AFTER_SEND, NULL, shared, &action, NULL, 0) == BACKOFF_OK,
          "failure after sending");
    check(say, action.kind == BACKOFF_ACTION_FAIL && action.stop == BACKOFF_STOP_MAY_HAVE_BEEN_PROCESSED &&
                   action.attempts == 2,
          "after sending, a POST stops");
    uint32_t tokens = 0;
    check(say, backoff_shared_budget_tokens(shared, &tokens) == BACKOFF_OK && tokens == 500 - 5 - 5 + 1 - 10,
          "the budget paid two retries and one timeout retry, refunded one success");

    /* Misuse: every code. */
    static uint8_t blank[BACKOFF_REQUEST_SIZE + 8];
    memset(blank, 0, sizeof blank);
    check(say, backoff_request_begin(NULL, sizeof request, &policy, now, BACKOFF_IDEMPOTENT) == BACKOFF_ERR_NULL, "NULL storage");
    check(say, backoff_request_begin(request, sizeof request, NULL, now, BACKOFF_IDEMPOTENT) == BACKOFF_ERR_NULL, "NULL policy");
    check(say, backoff_request_begin(request, BACKOFF_REQUEST_SIZE - 1, &policy, now, BACKOFF_IDEMPOTENT) ==
                   BACKOFF_ERR_STORAGE_TOO_SMALL,
          "too small");
    check(say, backoff_request_feed(blank, "x", 1, NULL) == BACKOFF_ERR_NOT_INITIALISED, "never begun");
    check(say, backoff_request_begin(blank + 1, sizeof blank - 1, &policy, now, BACKOFF_IDEMPOTENT) == BACKOFF_OK,
          "any alignment");
    check(say, backoff_request_begin(request, sizeof request, &policy, now, 0) == BACKOFF_ERR_INVALID_ARGUMENT,
          "no idempotency given");
    check(say, backoff_request_begin(request, sizeof request, &policy, now, BACKOFF_IDEMPOTENT) == BACKOFF_OK, "begin 6");
    check(say, backoff_request_feed(request, "x", 1, NULL) == BACKOFF_ERR_WRONG_PHASE, "a body before the response");
    check(say, backoff_request_feed(request, NULL, 3, NULL) == BACKOFF_ERR_NULL, "NULL chunk with a length");
    check(say, backoff_request_response(request, 500, NULL, 0, now, NULL, NULL) == BACKOFF_OK, "500 response");
    check(say, backoff_request_response(request, 500, NULL, 0, now, NULL, NULL) == BACKOFF_ERR_WRONG_PHASE,
          "a response begun twice");
    check(say, backoff_request_transport_failure(request, now, BACKOFF_FAILURE_AFTER_SEND, NULL, NULL, &action, NULL, 0) ==
                   BACKOFF_ERR_WRONG_PHASE,
          "a transport failure while reading a body");
    check(say, backoff_request_finish(request, now, &rng, NULL, &action, message, 10) == BACKOFF_ERR_BUFFER_TOO_SMALL,
          "a message buffer too small");
    check(say, backoff_request_finish(request, now, &rng, NULL, NULL, NULL, 0) == BACKOFF_ERR_NULL, "NULL action");
    check(say, backoff_request_finish(request, now, &rng, blank, &action, NULL, 0) == BACKOFF_ERR_NOT_INITIALISED,
          "shared storage never set up");
    check(say, backoff_request_finish(request, now, &rng, NULL, &action, NULL, 0) == BACKOFF_OK &&
                   action.kind == BACKOFF_ACTION_RETRY,
          "nothing was decided by the refused calls");
    policy.jitter = 99;
    check(say, backoff_request_begin(request, sizeof request, &policy, now, BACKOFF_IDEMPOTENT) == BACKOFF_ERR_INVALID_ARGUMENT,
          "unknown jitter");
    check(say, backoff_shared_init(shared, sizeof shared_storage, 7, 0) == BACKOFF_ERR_INVALID_ARGUMENT, "unknown pacing");
    check(say, strcmp(backoff_status_name(BACKOFF_ERR_ENDED), "BACKOFF_ERR_ENDED") == 0, "status names");
    check(say, strcmp(backoff_status_name(1234), "BACKOFF_UNKNOWN") == 0, "unknown status name");
    return failures;
}

#endif
