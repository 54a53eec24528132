/* Issue 24, one test per numbered item, on the host under ASan+UBSan and valgrind (`bash ffi/run`):
 *   1. any byte of request storage changed after begin, or mid-body, gives a documented code
 *      (or, past the bytes the library writes, changes nothing), never a crash; shared storage
 *      likewise gives a valid state or a code;
 *   2. a `has_deadline` (or any flag or enum) out of range is BACKOFF_ERR_INVALID_ARGUMENT, and
 *      the request already in the storage stays as it was;
 *   3. a transport failure releases only the failed request's own send, in its own context;
 *   4. storage below BACKOFF_REQUEST_SIZE / BACKOFF_SHARED_SIZE is refused.
 * Each of them failed on the library before this change (1: 60 of 7 680 changed bytes crashed;
 * 2: BACKOFF_OK; 3: the fourth request went at once; 4: BACKOFF_OK).
 * And item 1 against forgery: bytes changed on purpose, with the check word rewritten to match
 * them, are still decoded with every check: a valid state or BACKOFF_ERR_CORRUPT, never a crash
 * (before layout 3 the library read such bytes as Rust enums: undefined behaviour). Plain C99. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "backoff_core.h"

static int failures;

static void check(int ok, const char *what, long detail) {
    if (!ok) {
        failures++;
        if (failures < 20) printf("WRONG: %s (%ld)\n", what, detail);
    }
}

#define HEADER(n, v) {n, sizeof(n) - 1, v, sizeof(v) - 1}

static int fixed(void *context, uint32_t *out) {
    (void)context;
    *out = 0x9E3779B9u;
    return 0;
}

static const backoff_rng rng = {fixed, NULL};

static int refused(backoff_status status) {
    return status == BACKOFF_ERR_CORRUPT || status == BACKOFF_ERR_NOT_INITIALISED || status == BACKOFF_ERR_OTHER_LAYOUT;
}

enum { CALLS = 6 };

/* Every call a request may meet next, each on its own copy of `storage`. */
static void every_call(const uint8_t *storage, backoff_status statuses[CALLS]) {
    static uint8_t copy[BACKOFF_REQUEST_SIZE];
    static backoff_shared_storage shared;
    char message[BACKOFF_MESSAGE_CAPACITY + 1];
    backoff_action action;
    backoff_header headers[] = {HEADER("Retry-After", "1")};
    for (int call = 0; call < CALLS; call++) {
        memcpy(copy, storage, sizeof copy);
        backoff_shared_init(shared.bytes, sizeof shared, BACKOFF_PACING_BURST, BACKOFF_SHARED_BUDGET | BACKOFF_SHARED_BREAKER);
        switch (call) {
        case 0: statuses[call] = backoff_request_response(copy, 503, headers, 1, 10, &rng, shared.bytes); break;
        case 1: statuses[call] = backoff_request_feed(copy, "}", 1, NULL); break;
        case 2:
            statuses[call] = backoff_request_finish(copy, 10, &rng, shared.bytes, &action, message, sizeof message);
            break;
        case 3:
            statuses[call] = backoff_request_body_failed(copy, 10, &rng, shared.bytes, &action, message, sizeof message);
            break;
        case 4:
            statuses[call] = backoff_request_transport_failure(copy, 10, BACKOFF_FAILURE_AFTER_SEND, &rng, shared.bytes,
                                                               &action, message, sizeof message);
            break;
        default: statuses[call] = backoff_shared_acquire(shared.bytes, copy, 10, "events", 6, &rng, &action); break;
        }
    }
}

/* Item 1: every offset, every value at a few offsets (the header, the check word, the policy,
 * the context, the core state) and a sample of values elsewhere. */
static void changed_bytes(const char *phase, const uint8_t *storage) {
    static const size_t every_value[] = {0, 6, 7, 16, 23, 24, 44, 72, 74, 144, 150, 160, 200, 300, 400, 470};
    backoff_status clean[CALLS], got[CALLS];
    static uint8_t bad[BACKOFF_REQUEST_SIZE];
    size_t first_unnoticed = BACKOFF_REQUEST_SIZE;
    long tried = 0;
    every_call(storage, clean);
    for (size_t at = 0; at < BACKOFF_REQUEST_SIZE; at++) {
        int all = 0;
        for (size_t i = 0; i < sizeof every_value / sizeof every_value[0]; i++) all |= every_value[i] == at;
        for (int v = 0; v < 256; v++) {
            if (!all && v != 0 && v != 1 && v != 0x7F && v != 0x80 && v != 0xFF && v != (storage[at] ^ 0x10)) continue;
            if (v == storage[at]) continue;
            memcpy(bad, storage, sizeof bad);
            bad[at] = (uint8_t)v;
            every_call(bad, got);
            tried++;
            if (memcmp(got, clean, sizeof got) == 0) {
                if (at < first_unnoticed) first_unnoticed = at;
                continue;
            }
            for (int call = 0; call < CALLS; call++) check(refused(got[call]), phase, (long)at);
            check(at < first_unnoticed, "a change noticed past an unnoticed one", (long)at);
        }
    }
    /* 536: the header and plain fields (144 bytes), room for the reply's encoding (392). */
    check(first_unnoticed >= 536, "a change in the bytes the library writes went unnoticed", (long)first_unnoticed);
    printf("item 1 (%s): %ld changed bytes, every one a code up to byte %zu; the rest of the %d never read\n", phase,
           tried, first_unnoticed, BACKOFF_REQUEST_SIZE);
}

static void item_1(void) {
    static uint8_t request[BACKOFF_REQUEST_SIZE];
    backoff_policy policy;
    backoff_policy_follow_up_boss(&policy);
    check(backoff_request_begin(request, sizeof request, &policy, 5, BACKOFF_IDEMPOTENT) == BACKOFF_OK, "begin", 0);
    changed_bytes("after begin", request);

    /* The issue's own case: byte 16 set to 0xFF, then a 503 and finish. */
    static uint8_t copy[BACKOFF_REQUEST_SIZE];
    backoff_action action;
    memcpy(copy, request, sizeof copy);
    copy[16] = 0xFF;
    check(backoff_request_response(copy, 503, NULL, 0, 6, NULL, NULL) == BACKOFF_ERR_CORRUPT, "byte 16 = 0xFF", 16);
    check(backoff_request_finish(copy, 6, NULL, NULL, &action, NULL, 0) == BACKOFF_ERR_CORRUPT, "then finish", 16);

    backoff_header headers[] = {HEADER("Retry-After", "3"), HEADER("X-RateLimit-Context", "events")};
    check(backoff_request_response(request, 429, headers, 2, 6, &rng, NULL) == BACKOFF_OK, "response", 0);
    const char *part = "{\"errorMessage\":\"slow down\",\"detail\":[1,2,{\"a\":\"b";
    check(backoff_request_feed(request, part, strlen(part), NULL) == BACKOFF_OK, "feed", 0);
    changed_bytes("mid-body", request);

    /* Shared storage: every byte, a sample of values: a valid state or a code. */
    static backoff_shared_storage shared, bad;
    check(backoff_shared_init(shared.bytes, sizeof shared, BACKOFF_PACING_SMOOTH,
                              BACKOFF_SHARED_BUDGET | BACKOFF_SHARED_BREAKER) == BACKOFF_OK,
          "shared init", 0);
    backoff_header limits[] = {HEADER("X-RateLimit-Context", "people"), HEADER("X-RateLimit-Limit", "10"),
                               HEADER("X-RateLimit-Remaining", "3"), HEADER("X-RateLimit-Window", "10")};
    check(backoff_request_begin(request, sizeof request, &policy, 5, BACKOFF_IDEMPOTENT) == BACKOFF_OK, "begin", 0);
    check(backoff_shared_acquire(shared.bytes, request, 5, "people", 6, &rng, &action) == BACKOFF_OK, "acquire", 0);
    check(backoff_request_response(request, 503, limits, 4, 6, &rng, shared.bytes) == BACKOFF_OK, "observe", 0);
    long valid = 0, codes = 0;
    for (size_t at = 0; at < sizeof shared; at++) {
        static const int values[] = {0x00, 0x01, 0x02, 0x7F, 0x80, 0xFE, 0xFF};
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
            uint32_t tokens = 0, breaker = 0;
            memcpy(&bad, &shared, sizeof bad);
            bad.bytes[at] = (uint8_t)values[i];
            backoff_status got = backoff_shared_acquire(bad.bytes, NULL, 7, "people", 6, &rng, &action);
            if (got == BACKOFF_OK) {
                valid++;
                check(action.kind == BACKOFF_ACTION_SEND || action.kind == BACKOFF_ACTION_WAIT, "a valid state", (long)at);
                check(backoff_shared_budget_tokens(bad.bytes, &tokens) == BACKOFF_OK ||
                          backoff_shared_budget_tokens(bad.bytes, &tokens) == BACKOFF_ERR_INVALID_ARGUMENT,
                      "tokens", (long)at);
                check(backoff_shared_breaker_state(bad.bytes, &breaker) == BACKOFF_OK && breaker <= BACKOFF_BREAKER_HALF_OPEN,
                      "breaker", (long)at);
            } else {
                codes++;
                check(refused(got), "shared: a code", (long)at);
            }
        }
    }
    printf("item 1 (shared): %ld changed bytes: %ld valid states, %ld refused with a code\n", valid + codes, valid, codes);
}

/* Item 2: flags and enums out of range. */
static void item_2(void) {
    static uint8_t request[BACKOFF_REQUEST_SIZE], before[BACKOFF_REQUEST_SIZE];
    static backoff_shared_storage shared;
    backoff_policy policy, bad;
    backoff_action action;
    backoff_policy_follow_up_boss(&policy);
    check(backoff_request_begin(request, sizeof request, &policy, 0, BACKOFF_IDEMPOTENT) == BACKOFF_OK, "begin", 0);
    memcpy(before, request, sizeof before);
    bad = policy;
    bad.has_deadline = 2;
    bad.deadline_ms = 1500;
    backoff_status got = backoff_request_begin(request, sizeof request, &bad, 0, BACKOFF_IDEMPOTENT);
    check(got == BACKOFF_ERR_INVALID_ARGUMENT, "has_deadline = 2", (long)got);
    check(memcmp(request, before, sizeof before) == 0, "the request in the storage is untouched", 0);
    bad = policy;
    bad.jitter = 5;
    check(backoff_request_begin(request, sizeof request, &bad, 0, BACKOFF_IDEMPOTENT) == BACKOFF_ERR_INVALID_ARGUMENT,
          "jitter = 5", 0);
    check(backoff_request_begin(request, sizeof request, &policy, 0, 3) == BACKOFF_ERR_INVALID_ARGUMENT,
          "idempotency = 3", 0);
    check(backoff_shared_init(shared.bytes, sizeof shared, 2, 0) == BACKOFF_ERR_INVALID_ARGUMENT, "pacing = 2", 0);
    check(backoff_shared_init(shared.bytes, sizeof shared, 0, 4) == BACKOFF_ERR_INVALID_ARGUMENT, "options = 4", 0);
    check(backoff_request_transport_failure(request, 0, 0, NULL, NULL, &action, NULL, 0) == BACKOFF_ERR_INVALID_ARGUMENT,
          "failure = 0", 0);
    check(memcmp(request, before, sizeof before) == 0, "still untouched", 0);
    bad = policy;
    bad.has_deadline = 1;
    bad.deadline_ms = 1500;
    check(backoff_request_begin(request, sizeof request, &bad, 0, BACKOFF_IDEMPOTENT) == BACKOFF_OK, "has_deadline = 1", 0);
    check(backoff_request_response(request, 503, NULL, 0, 0, NULL, NULL) == BACKOFF_OK, "503", 0);
    check(backoff_request_finish(request, 0, &rng, NULL, &action, NULL, 0) == BACKOFF_OK, "finish", 0);
    check(action.kind == BACKOFF_ACTION_FAIL && action.stop == BACKOFF_STOP_DEADLINE, "the deadline applies",
          (long)action.kind);
    printf("item 2: has_deadline = 2 and every other out-of-range code refused, the storage untouched\n");
}

/* Item 3: two "people" requests in flight, one "events" request fails; a "people" response
 * then says one left: the next "people" request must wait (one is still in flight). */
static void item_3(void) {
    static backoff_shared_storage shared;
    static uint8_t p1[BACKOFF_REQUEST_SIZE], p2[BACKOFF_REQUEST_SIZE], e[BACKOFF_REQUEST_SIZE], p4[BACKOFF_REQUEST_SIZE];
    backoff_policy policy;
    backoff_action action;
    backoff_policy_follow_up_boss(&policy);
    check(backoff_shared_init(shared.bytes, sizeof shared, BACKOFF_PACING_BURST, 0) == BACKOFF_OK, "init", 0);
    backoff_request_begin(p1, sizeof p1, &policy, 0, BACKOFF_IDEMPOTENT);
    backoff_request_begin(p2, sizeof p2, &policy, 0, BACKOFF_IDEMPOTENT);
    backoff_request_begin(e, sizeof e, &policy, 0, BACKOFF_IDEMPOTENT);
    backoff_request_begin(p4, sizeof p4, &policy, 0, BACKOFF_IDEMPOTENT);
    check(backoff_shared_acquire(shared.bytes, p1, 0, "people", 6, &rng, &action) == BACKOFF_OK &&
              action.kind == BACKOFF_ACTION_SEND,
          "p1 goes", 0);
    check(backoff_shared_acquire(shared.bytes, p2, 0, "people", 6, &rng, &action) == BACKOFF_OK &&
              action.kind == BACKOFF_ACTION_SEND,
          "p2 goes", 0);
    check(backoff_shared_acquire(shared.bytes, e, 1, "events", 6, &rng, &action) == BACKOFF_OK &&
              action.kind == BACKOFF_ACTION_SEND,
          "e goes", 0);
    check(backoff_request_transport_failure(e, 2, BACKOFF_FAILURE_BEFORE_SEND, &rng, shared.bytes, &action, NULL, 0) ==
              BACKOFF_OK,
          "e fails", 0);
    backoff_header h[] = {HEADER("X-RateLimit-Context", "people"), HEADER("X-RateLimit-Limit", "3"),
                          HEADER("X-RateLimit-Remaining", "1"), HEADER("X-RateLimit-Window", "10")};
    check(backoff_request_response(p1, 200, h, 4, 3, &rng, shared.bytes) == BACKOFF_OK, "p1 answered", 0);
    check(backoff_request_finish(p1, 3, &rng, shared.bytes, &action, NULL, 0) == BACKOFF_OK, "p1 finish", 0);
    check(backoff_shared_acquire(shared.bytes, p4, 4, "people", 6, &rng, &action) == BACKOFF_OK, "p4 asks", 0);
    check(action.kind == BACKOFF_ACTION_WAIT, "p4 waits: p2 still holds the one left", (long)action.kind);
    printf("item 3: after an events failure, a people request waits (kind %u, until %llu)\n", action.kind,
           (unsigned long long)action.at_ms);
}

/* Item 4: the documented sizes, not the library's current needs. */
static void item_4(void) {
    static uint8_t request[BACKOFF_REQUEST_SIZE];
    static backoff_shared_storage shared;
    backoff_policy policy;
    backoff_policy_follow_up_boss(&policy);
    check(backoff_request_begin(request, BACKOFF_REQUEST_SIZE - 1, &policy, 0, BACKOFF_IDEMPOTENT) ==
              BACKOFF_ERR_STORAGE_TOO_SMALL,
          "request storage of BACKOFF_REQUEST_SIZE - 1", 0);
    check(backoff_request_begin(request, BACKOFF_REQUEST_SIZE, &policy, 0, BACKOFF_IDEMPOTENT) == BACKOFF_OK,
          "request storage of BACKOFF_REQUEST_SIZE", 0);
    check(backoff_shared_init(shared.bytes, BACKOFF_SHARED_SIZE - 1, 0, 0) == BACKOFF_ERR_STORAGE_TOO_SMALL,
          "shared storage of BACKOFF_SHARED_SIZE - 1", 0);
    check(backoff_shared_init(shared.bytes, BACKOFF_SHARED_SIZE, 0, 0) == BACKOFF_OK,
          "shared storage of BACKOFF_SHARED_SIZE", 0);
    check(sizeof(backoff_request_storage) == BACKOFF_REQUEST_SIZE && sizeof(backoff_shared_storage) == BACKOFF_SHARED_SIZE,
          "the storage types have the documented sizes", 0);
    printf("item 4: storage below BACKOFF_REQUEST_SIZE (%d) and BACKOFF_SHARED_SIZE (%d) refused\n", BACKOFF_REQUEST_SIZE,
           BACKOFF_SHARED_SIZE);
}

/* The library's layout (ffi/src/storage.rs), as a forger would learn it: the check word at
 * bytes 16..24 covers the first 536 bytes, 8 at a time; the reply's encoding starts at 144, its
 * body parser 47 bytes in, the parser's message 55 bytes into that. */
enum { CHECK_AT = 16, USED = 536, CORE_AT = 144, PARSER_AT = CORE_AT + 47, TEXT_AT = PARSER_AT + 55 };

static uint64_t mix(uint64_t state, uint64_t word) {
    uint64_t h = (state ^ word) * UINT64_C(0x9E3779B97F4A7C15);
    h ^= h >> 29;
    h *= UINT64_C(0xBF58476D1CE4E5B9);
    return h ^ (h >> 32);
}

/* Rewrites the check word to match the bytes as they are. */
static void seal(uint8_t *storage) {
    uint64_t h = mix(UINT64_C(0x6261636B6F666632), USED);
    for (size_t at = 0; at < USED; at += 8) {
        uint64_t word = 0;
        if (at == CHECK_AT) continue;
        for (int i = 7; i >= 0; i--) word = word << 8 | storage[at + (size_t)i];
        h = mix(h, word);
    }
    for (int i = 0; i < 8; i++) storage[CHECK_AT + i] = (uint8_t)(h >> (8 * i));
}

static int documented(backoff_status status) {
    return (unsigned)status <= (unsigned)BACKOFF_ERR_OTHER_LAYOUT;
}

static void forged(void) {
    static uint8_t request[BACKOFF_REQUEST_SIZE], bad[BACKOFF_REQUEST_SIZE];
    backoff_policy policy;
    backoff_action action;
    char message[BACKOFF_MESSAGE_CAPACITY + 1];
    backoff_status clean[CALLS], got[CALLS];
    backoff_policy_follow_up_boss(&policy);
    check(backoff_request_begin(request, sizeof request, &policy, 5, BACKOFF_IDEMPOTENT) == BACKOFF_OK, "begin", 0);
    check(backoff_request_response(request, 400, NULL, 0, 6, &rng, NULL) == BACKOFF_OK, "response", 0);
    const char *part = "{\"errorMessage\":\"slow down\",\"detail\":[1,2,{\"a\":\"b";
    check(backoff_request_feed(request, part, strlen(part), NULL) == BACKOFF_OK, "feed", 0);
    every_call(request, clean);

    /* The forger's check word is the library's: sealing what the library wrote changes nothing. */
    memcpy(bad, request, sizeof bad);
    seal(bad);
    check(memcmp(bad, request, sizeof bad) == 0, "the forged check word is the library's", 0);

    /* A check word that matches, over a state byte out of range: the body parser's state tag. */
    bad[PARSER_AT] = 0xFF;
    seal(bad);
    check(backoff_request_feed(bad, "1", 1, NULL) == BACKOFF_ERR_CORRUPT, "forged state tag: feed", PARSER_AT);
    every_call(bad, got);
    for (int call = 0; call < CALLS; call++) check(got[call] == BACKOFF_ERR_CORRUPT, "forged state tag", call);

    /* The same for a flag of 2, a message length past the capacity, and a byte after it. */
    static const size_t out_of_range[][2] = {{PARSER_AT + 21, 2}, {TEXT_AT - 3, 0x01}, {TEXT_AT + 200, 1}};
    for (size_t i = 0; i < sizeof out_of_range / sizeof out_of_range[0]; i++) {
        memcpy(bad, request, sizeof bad);
        bad[out_of_range[i][0]] = (uint8_t)out_of_range[i][1];
        seal(bad);
        every_call(bad, got);
        for (int call = 0; call < CALLS; call++) check(got[call] == BACKOFF_ERR_CORRUPT, "forged field", (long)i);
    }

    /* A forged but valid state is a state: a letter of the message changed. */
    memcpy(bad, request, sizeof bad);
    check(bad[TEXT_AT] == 's', "the message's first letter is where the layout says", TEXT_AT);
    bad[TEXT_AT] = 'S';
    seal(bad);
    check(backoff_request_feed(bad, "\"}]}", 4, NULL) == BACKOFF_OK, "forged letter: feed", 0);
    check(backoff_request_finish(bad, 7, &rng, NULL, &action, message, sizeof message) == BACKOFF_OK, "finish", 0);
    check(strcmp(message, "Slow down") == 0, "the forged letter is read", 0);

    /* Every byte the library wrote, a sample of values, the check word forged to match. */
    long tried = 0, valid = 0;
    for (size_t at = 0; at < USED; at++) {
        static const int values[] = {0x00, 0x01, 0x02, 0x03, 0x7F, 0x80, 0xFE, 0xFF};
        if (at >= CHECK_AT && at < CHECK_AT + 8) continue;
        for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
            if (values[i] == request[at]) continue;
            memcpy(bad, request, sizeof bad);
            bad[at] = (uint8_t)values[i];
            seal(bad);
            every_call(bad, got);
            tried++;
            int all_ok = 1;
            for (int call = 0; call < CALLS; call++) {
                check(documented(got[call]), "a forged byte gave an undocumented status", (long)at);
                check(got[call] == clean[call] || refused(got[call]), "a forged byte gave another answer", (long)at);
                all_ok &= got[call] == clean[call];
            }
            valid += all_ok;
        }
    }
    printf("forged (check word matching): %ld changed bytes, %ld a valid state, the rest BACKOFF_ERR_CORRUPT\n", tried,
           valid);
}

int main(void) {
    item_1();
    item_2();
    item_3();
    item_4();
    forged();
    if (failures) {
        printf("%d wrong\n", failures);
        return 1;
    }
    puts("storage: all as expected");
    return 0;
}
