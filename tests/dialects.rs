//! Other APIs' dialects of "slow down": headers as each API's documentation shows them, every
//! unit, garbage, the IETF draft's own examples, and the simulation per dialect.

mod common;

#[path = "common/sim.rs"]
mod sim;

use backoff_core::{dialect, Dialect, Pacing, Permit, RateLimitHeaders, RateLimits};
use proptest::prelude::*;

/// GitHub, "Rate limits for the REST API"
/// (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api): the
/// headers of its "checking the status" example, with a `Date` an hour before the reset.
#[test]
fn github_reset_is_unix_seconds_read_against_date() {
    let headers = [
        ("Date", "Wed, 09 Aug 2023 13:29:23 GMT"),
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "4999"),
        ("x-ratelimit-used", "1"),
        ("x-ratelimit-reset", "1691591363"),
        ("x-ratelimit-resource", "core"),
    ];
    let seen = Dialect::GITHUB.read(&headers);
    assert_eq!((seen.limit, seen.remaining, seen.window_ms), (Some(5000), Some(4999), None));
    assert_eq!(seen.reset_ms, Some(3_600_000));
    assert_eq!(seen.context.map(|c| c.as_str().to_owned()).as_deref(), Some("core"));
    // Without `Date` a Unix reset cannot be measured: absent, not guessed.
    assert_eq!(Dialect::GITHUB.read(&headers[1..]).reset_ms, None);
    // Out of quota: the context is held until the reset, exactly.
    let mut out = headers;
    out[2] = ("x-ratelimit-remaining", "0");
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(1_000, 403, &out, &Dialect::GITHUB);
    assert_eq!(limits.acquire(1_001, Some(b"core")), Permit::Wait { until_ms: 3_601_000 });
    assert_eq!(limits.acquire(3_601_000, Some(b"core")), Permit::Go);
}

/// Discord, "Rate Limits" (https://discord.com/developers/docs/topics/rate-limits): its header
/// example, with the fractional `Reset-After`.
#[test]
fn discord_reset_after_is_fractional_seconds_from_now() {
    let headers = [
        ("X-RateLimit-Limit", "5"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", "1470173023.123"),
        ("X-RateLimit-Reset-After", "1.234"),
        ("X-RateLimit-Bucket", "abcd1234"),
    ];
    let seen = Dialect::DISCORD.read(&headers);
    assert_eq!((seen.limit, seen.remaining, seen.reset_ms), (Some(5), Some(0), Some(1_234)));
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(10, 200, &headers, &Dialect::DISCORD);
    assert_eq!(limits.acquire(11, Some(b"abcd1234")), Permit::Wait { until_ms: 1_244 });
    // Rounded up: never earlier than told.
    assert_eq!(Dialect::DISCORD.read(&[("X-RateLimit-Reset-After", "0.0001")]).reset_ms, Some(1));
}

/// draft-ietf-httpapi-ratelimit-headers-11
/// (https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/11/): its examples.
#[test]
fn the_ietf_fields_as_in_the_drafts_examples() {
    let headers = [("RateLimit-Policy", "\"default\";q=100;w=10"), ("RateLimit", "\"default\";r=50;t=30")];
    let seen = Dialect::IETF_DRAFT_11.read(&headers);
    assert_eq!(
        (seen.limit, seen.window_ms, seen.remaining, seen.reset_ms),
        (Some(100), Some(10_000), Some(50), Some(30_000))
    );
    assert_eq!(seen.context.map(|c| c.as_str().to_owned()).as_deref(), Some("default"));
    // Several policies: the most restrictive is what counts.
    let two = [
        ("RateLimit-Policy", "\"permin\";q=50;w=60, \"perhr\";q=1000;w=3600"),
        ("RateLimit", "\"permin\";r=0;t=10, \"perhr\";r=100;t=2000"),
    ];
    let seen = Dialect::IETF_DRAFT_11.read(&two);
    assert_eq!((seen.remaining, seen.reset_ms), (Some(0), Some(10_000)), "the one with none left");
    assert_eq!(seen.context.map(|c| c.as_str().to_owned()).as_deref(), Some("permin"));
    assert_eq!((seen.limit, seen.window_ms), (Some(50), Some(60_000)), "the policy that item names");
    // Without a `RateLimit` field, the policy allowing the fewest requests per second.
    let seen = Dialect::IETF_DRAFT_11.read(&two[..1]);
    assert_eq!(
        (seen.limit, seen.window_ms),
        (Some(1000), Some(3_600_000)),
        "1000 per hour is fewer per second"
    );
    // Tokens as names, unknown parameters of any type ignored.
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "default;r=5;t=1;pk=:cHJpdmF0ZQ==:")]);
    assert_eq!(seen.remaining, Some(5), "a byte sequence is a parameter like any other");
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "default;r=5;t=1;x=?1;y=1.5;z=tok")]);
    assert_eq!((seen.remaining, seen.reset_ms), (Some(5), Some(1_000)));
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "default;r=5;t=1;y=123456789012.123")]);
    assert_eq!(seen.remaining, Some(5), "the longest decimal there is");
    // Keys of several characters, of every character a key may hold.
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "default;policy-name=tok;x.y_z*9=3;r=5;t=1")]);
    assert_eq!((seen.remaining, seen.reset_ms), (Some(5), Some(1_000)));
    // Integers have up to 15 digits (16 are malformed, below); values past 32 bits saturate.
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "default;r=999999999999999;t=1")]);
    assert_eq!(seen.remaining, Some(u32::MAX));
    // The pacing learns the quota from the policy field.
    let mut limits = RateLimits::<4>::new(Pacing::Smooth);
    limits.observe_dialect(0, 200, &headers, &Dialect::IETF_DRAFT_11);
    assert_eq!(limits.acquire(0, Some(b"default")), Permit::Go);
    assert_eq!(
        limits.acquire(1, Some(b"default")),
        Permit::Wait { until_ms: 102 },
        "10 s / (100 - 1), rounded up"
    );
}

#[test]
fn malformed_structured_fields_are_absent() {
    for value in [
        "\"default\";r=5,",                  // trailing comma
        "\"default;r=5",                     // unterminated string
        "\"default\";R=5",                   // keys are lower case
        "\"default\";r=1234567890123456",    // 16 digits
        "\"default\";r=",                    // no value
        ",\"default\";r=5",                  // leading comma
        "\"def\u{1}ault\";r=5",              // a control character
        "\"default\" ;r=5",                  // space before a parameter
        "\"default\";r=5 \"other\"",         // no comma between items
        "\"a\\qb\";r=5",                     // a bad escape
        "@;r=5",                             // not an item
        "\"default\";r=5;y=1.2345",          // a decimal with 4 fraction digits
        "\"default\";r=5;y=1.",              // a decimal with none
        "\"default\";r=5;y=1234567890123.5", // a decimal with 13 integer digits
    ] {
        let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", value)]);
        assert_eq!((seen.remaining, seen.reset_ms), (None, None), "{value:?}");
    }
    // Valid syntax, but not a draft value: that parameter alone is absent.
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "\"default\";r=-1;t=4")]);
    assert_eq!((seen.remaining, seen.reset_ms), (None, Some(4_000)));
}

#[test]
fn a_reset_however_far_is_read_as_told() {
    let seen = Dialect::DISCORD.read(&[("X-RateLimit-Reset-After", "3601")]);
    assert_eq!(seen.reset_ms, Some(3_601_000));
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "x;r=0;t=86400")]);
    assert_eq!(seen.reset_ms, Some(86_400_000));
}

#[test]
fn garbage_in_a_dialects_headers_is_absent() {
    for value in ["", "-1", "soon", "1e3", "0x10", "1,5"] {
        let seen =
            Dialect::DISCORD.read(&[("X-RateLimit-Reset-After", value), ("X-RateLimit-Remaining", value)]);
        assert_eq!((seen.reset_ms, seen.remaining), (None, None), "{value:?}");
        let seen =
            Dialect::GITHUB.read(&[("Date", "Wed, 09 Aug 2023 13:29:23 GMT"), ("x-ratelimit-reset", value)]);
        assert_eq!(seen.reset_ms, None, "{value:?}");
    }
    // A reset before `Date` is in the past: absent, not a negative wait.
    let seen =
        Dialect::GITHUB.read(&[("Date", "Wed, 09 Aug 2023 13:29:23 GMT"), ("x-ratelimit-reset", "1000")]);
    assert_eq!(seen.reset_ms, None);
}

#[test]
fn each_dialects_simulated_server_meets_no_429_once_the_headers_are_seen() {
    for (speaks, dialect) in [
        (sim::Speaks::GitHub, Dialect::GITHUB),
        (sim::Speaks::Discord, Dialect::DISCORD),
        (sim::Speaks::Ietf, Dialect::IETF_DRAFT_11),
    ] {
        let report = sim::run_dialect(speaks, &dialect, 120, 20, 10_000);
        assert_eq!(report.succeeded, 120, "{speaks:?}: {report:?}");
        assert_eq!(report.rate_limited_after_headers, 0, "{speaks:?}: {report:?}");
    }
    // The control: the same client reading the wrong dialect meets them.
    let blind = sim::run_dialect(sim::Speaks::Discord, &Dialect::FOLLOW_UP_BOSS, 120, 20, 10_000);
    assert!(blind.rate_limited > 0, "{blind:?}");
}

fn header_value() -> impl Strategy<Value = String> {
    prop_oneof!["[0-9]{1,4}", "[0-9]{1,3}\\.[0-9]{1,3}", ".{0,6}", Just(String::new())]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// Follow Up Boss's dialect read the generic way gives what the dedicated reader gives.
    #[test]
    fn the_follow_up_boss_dialect_reads_as_the_preset_reader(
        limit in header_value(), remaining in header_value(), window in header_value(), context in "[a-z.]{0,8}",
    ) {
        let headers = [
            ("X-RateLimit-Limit", limit), ("X-RateLimit-Remaining", remaining),
            ("X-RateLimit-Window", window), ("X-RateLimit-Context", context),
        ];
        prop_assert_eq!(Dialect::FOLLOW_UP_BOSS.read(headers.as_slice()), RateLimitHeaders::read(headers.as_slice()));
    }

    /// In every dialect: once told the quota is spent until a reset, no request goes before
    /// it (or before the max hold has passed, for a reset further away: up to two days, past
    /// every ceiling), and none is held longer than told — on every status, and for GitHub's
    /// 403 that names no resource too (which holds every context).
    #[test]
    fn never_early_never_longer_than_told_in_every_dialect(
        which in 0usize..4, reset_s in 0u64..200_000, now in 0u64..1_000_000_000, ask in 0u64..4_000_000,
        status in prop::sample::select(vec![200u16, 403, 429, 503]),
    ) {
        let date = "Wed, 09 Aug 2023 13:29:23 GMT";
        let unix = 1_691_587_763u64; // that `Date`
        let (dialect, headers, context): (Dialect, Vec<(&str, String)>, &[u8]) = match which {
            0 => (Dialect::GITHUB, vec![("Date", date.into()), ("x-ratelimit-remaining", "0".into()),
                  ("x-ratelimit-reset", (unix + reset_s).to_string()), ("x-ratelimit-resource", "core".into())], b"core"),
            1 => (Dialect::GITHUB, vec![("Date", date.into()), ("x-ratelimit-remaining", "0".into()),
                  ("x-ratelimit-reset", (unix + reset_s).to_string())], b"search"),
            2 => (Dialect::DISCORD, vec![("X-RateLimit-Remaining", "0".into()),
                  ("X-RateLimit-Reset-After", reset_s.to_string()), ("X-RateLimit-Bucket", "b".into())], b"b"),
            _ => (Dialect::IETF_DRAFT_11, vec![("RateLimit", format!("\"p\";r=0;t={reset_s}"))], b"p"),
        };
        let mut limits = RateLimits::<4>::new(Pacing::Burst);
        limits.observe_dialect(now, status, headers.as_slice(), &dialect);
        let told = now + reset_s * 1000;
        // A hold is believed for at most the limits' max hold (the policy's ceiling): after it,
        // the client tries again.
        let believed = told.min(now + u64::from(limits.max_hold_ms()));
        match limits.acquire(now + ask, Some(context)) {
            Permit::Go => prop_assert!(now + ask >= believed, "early: {} < {}", now + ask, believed),
            Permit::Wait { until_ms } => prop_assert!(until_ms <= told && until_ms > now + ask),
        }
    }

    /// The IETF fields over several lines, with parameters of every type the draft does not
    /// use and resets past every ceiling: no request before the longest reset of the items with
    /// none left (as far as it is believed), none held longer than it; with some left, the
    /// next request goes, and a later one waits no longer than the longest reset told.
    #[test]
    fn never_early_never_longer_over_split_fields_unknown_parameters_and_far_resets(
        items in prop::collection::vec((0u64..3, 0u64..200_000, 0usize..7), 1..5),
        split in 0usize..5, now in 0u64..1_000_000_000, ask in 0u64..4_000_000,
        status in prop::sample::select(vec![200u16, 301, 429]),
    ) {
        const EXTRA: [&str; 7] = [";pk=:AAEC:", ";d=@1", ";s=%\"x%c3%bc\"", ";b=?0", ";x=1.5", ";y=-3", ""];
        let rendered: Vec<String> =
            items.iter().map(|&(r, t, extra)| format!("\"p\";r={r};t={t}{}", EXTRA[extra])).collect();
        let split = split.min(rendered.len());
        let mut headers = Vec::new();
        for part in [&rendered[..split], &rendered[split..]] {
            if !part.is_empty() {
                headers.push(("RateLimit", part.join(", ")));
            }
        }
        let mut limits = RateLimits::<4>::new(Pacing::Burst);
        limits.observe_dialect(now, status, headers.as_slice(), &Dialect::IETF_DRAFT_11);
        let longest = items.iter().map(|&(_, t, _)| t).max().unwrap_or(0);
        let spent = items.iter().filter(|&&(r, _, _)| r == 0).map(|&(_, t, _)| t).max();
        let max_hold = u64::from(limits.max_hold_ms());
        match spent {
            Some(t) => {
                let told = now + t * 1000;
                match limits.acquire(now + ask, Some(b"p")) {
                    Permit::Go => prop_assert!(now + ask >= told.min(now + max_hold), "early"),
                    Permit::Wait { until_ms } => prop_assert!(until_ms <= told && until_ms > now + ask),
                }
            }
            None => {
                prop_assert_eq!(limits.acquire(now, Some(b"p")), Permit::Go);
                if let Permit::Wait { until_ms } = limits.acquire(now + ask, Some(b"p")) {
                    prop_assert!(until_ms <= now + longest * 1000 && until_ms > now + ask);
                }
            }
        }
    }

    /// The structured-field parser answers every input without panicking, and an item it
    /// accepts gives back the integer it was given.
    #[test]
    fn the_structured_field_parser_takes_any_input(bytes in prop::collection::vec(prop_oneof![any::<u8>(), prop::sample::select(b" ,;=\"():?@%*-.0123456789aqrtw".to_vec())], 0..64), r in 0u64..1_000_000) {
        let mut once = Vec::new();
        let ok = dialect::parse_list(&bytes, &mut |item| once.push(item));
        // Two identical lines are one list of twice the items, malformed where the line is,
        // or where it is blank (an empty member between the joining comma and the end).
        let mut twice = Vec::new();
        let ok_twice = dialect::parse_lines(&[&bytes, &bytes], &mut |item| twice.push(item));
        prop_assert_eq!(ok_twice, ok && !bytes.iter().all(|&b| b == b' '));
        if ok_twice {
            prop_assert_eq!(twice, [once.as_slice(), once.as_slice()].concat());
        }
        let field = format!("\"n\";r={r}");
        let mut got = None;
        prop_assert!(dialect::parse_list(field.as_bytes(), &mut |item| got = item.r));
        prop_assert_eq!(got, Some(r));
    }
}

/// What the IETF `RateLimit` field's most restrictive item is, as (context, remaining, reset).
fn limit_item(value: &str) -> (Option<String>, Option<u32>, Option<u64>) {
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", value)]);
    (seen.context.map(|c| c.as_str().to_owned()), seen.remaining, seen.reset_ms)
}

/// What the `RateLimit-Policy` field's most restrictive item is, as (quota, window).
fn policy_item(value: &str) -> (Option<u32>, Option<u32>) {
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit-Policy", value)]);
    (seen.limit, seen.window_ms)
}

#[test]
fn of_several_ratelimit_items_the_one_with_fewest_left_counts_and_among_empty_ones_the_longest() {
    let item = |name: &str, r: u32, t: u64| (Some(name.to_owned()), Some(r), Some(t * 1000));
    assert_eq!(limit_item("a;r=5;t=10, b;r=3;t=20, c;r=4;t=1"), item("b", 3, 20), "fewest left");
    assert_eq!(limit_item("a;r=3;t=1, b;r=3;t=9"), item("a", 3, 1), "a tie keeps the first");
    assert_eq!(
        limit_item("a;r=0;t=10, b;r=0;t=30, c;r=0;t=20"),
        item("b", 0, 30),
        "none left: the longest wait"
    );
    assert_eq!(limit_item("a;r=0;t=10, b;r=0;t=10"), item("a", 0, 10), "the same wait keeps the first");
    assert_eq!(limit_item("a;r=0;t=10, b;r=1;t=99"), item("a", 0, 10));
    // An item that says how many are left beats one that does not, never the other way.
    assert_eq!(limit_item("a;t=10, b;r=7;t=5"), item("b", 7, 5));
    assert_eq!(limit_item("a;r=7;t=5, b;t=10"), item("a", 7, 5));
}

#[test]
fn of_several_policies_the_one_allowing_fewest_requests_per_second_counts() {
    assert_eq!(policy_item("a;q=100;w=10, b;q=50;w=10, c;q=600;w=60"), (Some(50), Some(10_000)));
    // 30 a second is more than 10 a second: compared as rates, not sums or quotients.
    assert_eq!(policy_item("a;q=100;w=10, b;q=30;w=1"), (Some(100), Some(10_000)));
    assert_eq!(policy_item("a;q=30;w=1, b;q=100;w=10"), (Some(100), Some(10_000)));
    // The same rate keeps the first.
    assert_eq!(policy_item("a;q=100;w=10, b;q=10;w=1"), (Some(100), Some(10_000)));
    // A policy with a quota and a window beats one without, never the other way.
    assert_eq!(policy_item("a;q=100, b;q=50;w=10"), (Some(50), Some(10_000)));
    assert_eq!(policy_item("a;q=50;w=10, b;q=1"), (Some(50), Some(10_000)));
}

#[test]
fn a_field_may_start_with_spaces() {
    assert_eq!(limit_item("   a;r=5;t=1"), (Some("a".to_owned()), Some(5), Some(1_000)));
    assert!(dialect::parse_list(b"  ", &mut |_| panic!("no item in an empty list")));
}

#[test]
fn every_dialect_reads_retry_after() {
    for dialect in [Dialect::FOLLOW_UP_BOSS, Dialect::GITHUB, Dialect::DISCORD, Dialect::IETF_DRAFT_11] {
        assert_eq!(dialect.read(&[("Retry-After", "5")]).retry_after_ms, Some(5_000));
    }
}

// Issue 26: each API's pushback, to the letter of its documentation. Every test below failed
// before the change it pins.

/// The preset policy's ceiling (10 minutes) is also the limits' max hold.
const CEILING_MS: u64 = 600_000;

fn context_of(seen: &RateLimitHeaders) -> Option<String> {
    seen.context.map(|c| c.as_str().to_owned())
}

/// GitHub's documented rate-limit error, literally as "Resources in the REST API"
/// (docs.github.com/en/rest/overview/resources-in-the-rest-api#rate-limiting) shows it:
///
/// ```text
/// > HTTP/2 403
/// > Date: Tue, 20 Aug 2013 14:50:41 GMT
/// > x-ratelimit-limit: 60
/// > x-ratelimit-remaining: 0
/// > x-ratelimit-used: 60
/// > x-ratelimit-reset: 1377013266
/// ```
///
/// "You should not retry your request until after the time specified by the
/// `x-ratelimit-reset` header": 3 025 s after its `Date`. It names no resource, so it holds
/// every request, as a 429 that names no context does.
const GITHUB_403: [(&str, &str); 5] = [
    ("Date", "Tue, 20 Aug 2013 14:50:41 GMT"),
    ("x-ratelimit-limit", "60"),
    ("x-ratelimit-remaining", "0"),
    ("x-ratelimit-used", "60"),
    ("x-ratelimit-reset", "1377013266"),
];

#[test]
fn githubs_documented_403_holds_every_request_until_its_reset() {
    let seen = Dialect::GITHUB.read(&GITHUB_403);
    assert_eq!((seen.remaining, seen.reset_ms, seen.context), (Some(0), Some(3_025_000), None));
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(1_000, 403, &GITHUB_403, &Dialect::GITHUB);
    for context in [None, Some(&b"core"[..]), Some(b"search")] {
        assert_eq!(limits.acquire(1_001, context), Permit::Wait { until_ms: 3_026_000 }, "{context:?}");
    }
    // Believed for the max hold (10 minutes), after which the client tries again.
    assert_eq!(limits.acquire(1_000 + CEILING_MS, None), Permit::Go);
    // With an hour's ceiling, exactly until the reset.
    let mut limits = RateLimits::<4>::new(Pacing::Burst).with_max_hold_ms(3_600_000);
    limits.observe_dialect(1_000, 403, &GITHUB_403, &Dialect::GITHUB);
    assert_eq!(limits.acquire(3_025_999, Some(b"core")), Permit::Wait { until_ms: 3_026_000 });
    assert_eq!(limits.acquire(3_026_000, Some(b"core")), Permit::Go);
}

/// Discord's header example ("Rate Limits", Header Format) without its `X-RateLimit-Bucket`:
/// the same rule.
#[test]
fn discords_spent_quota_without_a_bucket_holds_every_request() {
    let headers = [
        ("X-RateLimit-Limit", "5"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", "1470173023"),
        ("X-RateLimit-Reset-After", "1"),
    ];
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(10, 200, &headers, &Dialect::DISCORD);
    assert_eq!(limits.acquire(11, None), Permit::Wait { until_ms: 1_010 });
    assert_eq!(limits.acquire(11, Some(b"abcd1234")), Permit::Wait { until_ms: 1_010 });
    assert_eq!(limits.acquire(1_010, Some(b"abcd1234")), Permit::Go);
    // Remaining left, or no reset: nothing to hold.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(10, 200, &headers[..3], &Dialect::DISCORD);
    limits.observe_dialect(10, 200, &[("X-RateLimit-Remaining", "1"), headers[3]], &Dialect::DISCORD);
    assert_eq!(limits.acquire(11, None), Permit::Go);
}

/// GitHub, "Rate limits for the REST API", Exceeding the rate limit: "If you exceed a secondary
/// rate limit, you will receive a `403` or `429` response [...]. If the `retry-after` response
/// header is present, you should not retry your request until after that many seconds has
/// elapsed."
#[test]
fn githubs_secondary_limit_403_with_retry_after_holds_its_resource() {
    let headers =
        [("retry-after", "60"), ("x-ratelimit-remaining", "4000"), ("x-ratelimit-resource", "core")];
    for status in [403, 429] {
        let mut limits = RateLimits::<4>::new(Pacing::Burst);
        limits.observe_dialect(0, status, &headers, &Dialect::GITHUB);
        assert_eq!(limits.acquire(1, Some(b"core")), Permit::Wait { until_ms: 60_000 }, "{status}");
        assert_eq!(limits.acquire(1, Some(b"search")), Permit::Go, "{status}");
        assert_eq!(limits.acquire(60_000, Some(b"core")), Permit::Go, "{status}");
    }
    // Only where the dialect says so: Follow Up Boss's 403 is "forbidden", not pushback.
    let fub = [("Retry-After", "60"), ("X-RateLimit-Context", "core")];
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(0, 403, &fub, &Dialect::FOLLOW_UP_BOSS);
    assert_eq!(limits.acquire(1, Some(b"core")), Permit::Go);
    assert_eq!(Dialect::GITHUB.pushback, &[403, 429, 503]);
    assert_eq!(Dialect::FOLLOW_UP_BOSS.pushback, &[429, 503]);
}

/// Discord, "Rate Limits", Exceeding A Rate Limit: its three example 429s, literally (the
/// headers; the bodies carry the same wait, rounded down). `X-RateLimit-Scope: user` holds the
/// bucket; `shared` is one resource's limit, which the rest of the bucket does not meet (its
/// `Remaining` is 9); `global` holds every request.
#[test]
fn discords_scope_and_global_headers_say_what_a_429_holds() {
    let user = [
        ("Retry-After", "65"),
        ("X-RateLimit-Limit", "10"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", "1470173023.123"),
        ("X-RateLimit-Reset-After", "64.57"),
        ("X-RateLimit-Bucket", "abcd1234"),
        ("X-RateLimit-Scope", "user"),
    ];
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(0, 429, &user, &Dialect::DISCORD);
    assert_eq!(limits.acquire(1, Some(b"abcd1234")), Permit::Wait { until_ms: 65_000 });
    assert_eq!(limits.acquire(1, Some(b"other")), Permit::Go);

    let shared = [
        ("Retry-After", "1337"),
        ("X-RateLimit-Limit", "10"),
        ("X-RateLimit-Remaining", "9"),
        ("X-RateLimit-Reset", "1470173023.123"),
        ("X-RateLimit-Reset-After", "64.57"),
        ("X-RateLimit-Bucket", "abcd1234"),
        ("X-RateLimit-Scope", "shared"),
    ];
    assert_eq!(Dialect::DISCORD.read(&shared).scope, dialect::Scope::Resource);
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(0, 429, &shared, &Dialect::DISCORD);
    assert_eq!(limits.acquire(1, Some(b"abcd1234")), Permit::Go, "another resource of the bucket");
    assert_eq!(limits.acquire(1, None), Permit::Go);
    // Without a bucket either: not every request.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(0, 429, &[shared[0], shared[6]], &Dialect::DISCORD);
    assert_eq!(limits.acquire(1, None), Permit::Go);

    let global = [("Retry-After", "65"), ("X-RateLimit-Global", "true"), ("X-RateLimit-Scope", "global")];
    assert_eq!(Dialect::DISCORD.read(&global).scope, dialect::Scope::Global);
    // A global limit holds everything even where the response names a bucket.
    for headers in [&global[..], &[global[0], global[1], ("X-RateLimit-Bucket", "abcd1234")]] {
        let mut limits = RateLimits::<4>::new(Pacing::Burst);
        limits.observe_dialect(0, 429, headers, &Dialect::DISCORD);
        assert_eq!(limits.acquire(1, Some(b"other")), Permit::Wait { until_ms: 65_000 }, "{headers:?}");
        assert_eq!(limits.acquire(1, Some(b"abcd1234")), Permit::Wait { until_ms: 65_000 }, "{headers:?}");
    }
}

/// The draft, "RateLimit header fields currently used on the web":
/// `RateLimit-Policy: "sliding";q=12;w=1` and `RateLimit: "sliding";q=12;r=1;t=1` — "at this
/// point you should stop increasing your request rate"; §7: "A client SHOULD NOT exceed the
/// available quota within the time expressed in the effective window parameter." One more may
/// go; the next waits for the reset, paced or not.
#[test]
fn smooth_pacing_sends_no_more_than_remaining_before_the_reset() {
    let headers = [("RateLimit-Policy", "\"sliding\";q=12;w=1"), ("RateLimit", "\"sliding\";q=12;r=1;t=1")];
    for pacing in [Pacing::Smooth, Pacing::Burst] {
        let mut limits = RateLimits::<4>::new(pacing);
        limits.observe_dialect(0, 200, &headers, &Dialect::IETF_DRAFT_11);
        assert_eq!(limits.acquire(0, Some(b"sliding")), Permit::Go, "{pacing:?}");
        assert_eq!(limits.acquire(92, Some(b"sliding")), Permit::Wait { until_ms: 1_000 }, "{pacing:?}");
        assert_eq!(limits.acquire(1_000, Some(b"sliding")), Permit::Go, "{pacing:?}");
    }
    // A sliding window with no reset keeps its pacing alone: it is not held for a window.
    let mut limits = RateLimits::<4>::new(Pacing::Smooth);
    limits.observe_dialect(0, 200, &[headers[0], ("RateLimit", "\"sliding\";r=1")], &Dialect::IETF_DRAFT_11);
    assert_eq!(limits.acquire(0, Some(b"sliding")), Permit::Go);
    assert_eq!(limits.acquire(1, Some(b"sliding")), Permit::Wait { until_ms: 91 }, "1 s / 11");
}

/// RFC 9110 §5.3 and the draft (§3, §4: "Lists of [...] Items can be split over multiple
/// fields"): the lines of one field are one list.
#[test]
fn the_lines_of_a_field_are_one_list() {
    let split = [("RateLimit", "\"a\";r=0;t=10"), ("RateLimit", "\"b\";r=50;t=5")];
    for lines in [split, [split[1], split[0]]] {
        let seen = Dialect::IETF_DRAFT_11.read(&lines);
        assert_eq!(
            (context_of(&seen).as_deref(), seen.remaining, seen.reset_ms),
            (Some("a"), Some(0), Some(10_000))
        );
        let mut limits = RateLimits::<4>::new(Pacing::Burst);
        limits.observe_dialect(0, 200, &lines, &Dialect::IETF_DRAFT_11);
        assert_eq!(limits.acquire(1, Some(b"a")), Permit::Wait { until_ms: 10_000 });
    }
    // The draft's FAQ 8, literally, in both orders: `"sliding"` is the policy being reported.
    let faq = [
        ("RateLimit-Policy", "\"sliding\";q=100;w=60;burst=1000"),
        ("RateLimit-Policy", "\"fixed\";q=5000;w=3600;burst=0"),
        ("RateLimit", "\"sliding\";r=50;t=44"),
    ];
    for lines in [faq, [faq[1], faq[0], faq[2]]] {
        let seen = Dialect::IETF_DRAFT_11.read(&lines);
        assert_eq!((seen.limit, seen.window_ms, seen.remaining), (Some(100), Some(60_000), Some(50)));
    }
    // Without the `RateLimit` field, the more restrictive of the two lines, in either order.
    for lines in [[faq[0], faq[1]], [faq[1], faq[0]]] {
        let seen = Dialect::IETF_DRAFT_11.read(&lines);
        assert_eq!((seen.limit, seen.window_ms), (Some(5000), Some(3_600_000)));
    }
    // One malformed line, or an empty one among several, voids the whole list.
    for bad in ["\"b\";r=", "", "  "] {
        let seen = Dialect::IETF_DRAFT_11.read(&[split[0], ("RateLimit", bad)]);
        assert_eq!((seen.remaining, seen.reset_ms), (None, None), "{bad:?}");
    }
}

/// The draft's examples with a partition key (a byte sequence), literally, and every other
/// RFC 9651 type as an unknown parameter: "Other parameters are allowed and can be regarded as
/// comments."
#[test]
fn parameters_of_any_type_the_draft_does_not_use_are_ignored() {
    let seen =
        Dialect::IETF_DRAFT_11.read(&[("RateLimit-Policy", "\"peruser\";q=100;w=60;pk=:cHsdsRa894==:")]);
    assert_eq!((seen.limit, seen.window_ms), (Some(100), Some(60_000)));
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "\"default\";r=999;pk=:dHJpYWwxMjEzMjM=:")]);
    assert_eq!((seen.remaining, seen.reset_ms), (Some(999), None));
    for value in [
        "\"a\";r=0;t=20;pk=:AAEC:",
        "\"a\";r=0;t=20;d=@1659578233",
        "\"a\";r=0;t=20;s=%\"f%c3%bc%c3%bc\"",
        "\"a\";r=0;t=20;b=?0;x=-1.5;y=tok;z=\"s\"",
        "(x y);z=1, \"a\";r=0;t=20",
        "\"a\";r=0;t=20, (\"inner\" 1);pk=:AAEC:",
        "\"a\";r=-0;t=20",
    ] {
        let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", value)]);
        assert_eq!(
            (context_of(&seen).as_deref(), seen.remaining, seen.reset_ms),
            (Some("a"), Some(0), Some(20_000)),
            "{value}"
        );
        let mut limits = RateLimits::<4>::new(Pacing::Burst);
        limits.observe_dialect(0, 200, &[("RateLimit", value)], &Dialect::IETF_DRAFT_11);
        assert_eq!(limits.acquire(1, Some(b"a")), Permit::Wait { until_ms: 20_000 }, "{value}");
    }
    // A valid name no context can hold still counts: it holds every request.
    for value in ["\"my policy\";r=0;t=10", "\"\";r=0;t=10"] {
        let mut limits = RateLimits::<4>::new(Pacing::Burst);
        limits.observe_dialect(0, 200, &[("RateLimit", value)], &Dialect::IETF_DRAFT_11);
        assert_eq!(limits.acquire(1, Some(b"other")), Permit::Wait { until_ms: 10_000 }, "{value}");
        assert_eq!(limits.acquire(1, None), Permit::Wait { until_ms: 10_000 }, "{value}");
    }
}

/// The draft §8.5, "Resource exhaustion", literally (draft-11's `t=86400`, and the editor's
/// copy's `t=36400`): a reset past the dialect's old maximum let the second request go at once.
/// Now the quota is spent after one, and a request that meets a hold longer than the ceiling
/// fails at once, unsent — never early, never longer than told.
#[test]
fn a_reset_past_the_ceiling_is_held_as_told_and_fails_the_requests_that_meet_it() {
    use backoff_core::{Idempotency, Policy, Request, Stop};
    for t in ["86400", "36400"] {
        let headers =
            [("Date", "Tue, 15 Nov 1994 18:00:00 GMT"), ("RateLimit", &*format!("\"daily\";r=1;t={t}"))];
        let told: u64 = t.parse::<u64>().unwrap() * 1000;
        let mut limits = RateLimits::<4>::new(Pacing::Burst);
        limits.observe_dialect(0, 200, &headers, &Dialect::IETF_DRAFT_11);
        assert_eq!(limits.acquire(1, Some(b"daily")), Permit::Go, "r=1: one more");
        let Permit::Wait { until_ms } = limits.acquire(2, Some(b"daily")) else {
            panic!("t={t}: went early")
        };
        assert_eq!(until_ms, told);
        let request = Request::new(2, Idempotency::Idempotent);
        let error =
            request.may_wait_until::<16>(&Policy::FOLLOW_UP_BOSS, 2, until_ms).expect_err("past the ceiling");
        assert_eq!(error.stop, Stop::RetryAfterTooLong);
    }
    // The draft's "Use with multiple windows", with none left of the day: held the 10 hours it
    // says, not the day policy's 24-hour window.
    let headers = [
        ("RateLimit-Policy", "\"hour\";q=1000;w=3600, \"day\";q=5000;w=86400"),
        ("RateLimit", "\"day\";r=0;t=36000"),
    ];
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(0, 200, &headers, &Dialect::IETF_DRAFT_11);
    assert_eq!(limits.acquire(1, Some(b"day")), Permit::Wait { until_ms: 36_000_000 });
    // And the example as the draft prints it (`r=100`): 100 left, reset in 10 hours, the day's quota.
    let seen = Dialect::IETF_DRAFT_11.read(&[headers[0], ("RateLimit", "\"day\";r=100;t=36000")]);
    assert_eq!(
        (seen.remaining, seen.reset_ms, seen.limit, seen.window_ms),
        (Some(100), Some(36_000_000), Some(5000), Some(86_400_000))
    );
    // Of several items with none left, the longest reset: every one must have passed.
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "\"hour\";r=0;t=3000, \"day\";r=0;t=36000")]);
    assert_eq!((context_of(&seen).as_deref(), seen.reset_ms), (Some("day"), Some(36_000_000)));
    // GitHub's and Discord's resets past an hour are kept too.
    let seen = Dialect::DISCORD.read(&[("X-RateLimit-Reset-After", "86400")]);
    assert_eq!(seen.reset_ms, Some(86_400_000));
}

/// The draft's quota-unit example, literally: `RateLimit-Policy:
/// "peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:` is 65 535 bytes, not requests;
/// and §7.3: fields on a response from a cache ("a positive current_age") "SHOULD be ignored".
#[test]
fn quotas_in_other_units_are_not_requests_and_cached_fields_are_ignored() {
    let policy = ("RateLimit-Policy", "\"peruser\";q=65535;qu=\"content-bytes\";w=10;pk=:sdfjLJUOUH==:");
    let seen = Dialect::IETF_DRAFT_11.read(&[policy]);
    assert_eq!((seen.limit, seen.window_ms), (None, None));
    let seen = Dialect::IETF_DRAFT_11.read(&[policy, ("RateLimit", "\"peruser\";r=300;t=10")]);
    assert_eq!(
        (seen.limit, seen.remaining, seen.reset_ms),
        (None, None, Some(10_000)),
        "300 bytes are not 300 requests"
    );
    let seen = Dialect::IETF_DRAFT_11.read(&[policy, ("RateLimit", "\"peruser\";r=0;t=10")]);
    assert_eq!(seen.remaining, Some(0), "none left is none of anything");
    for unit in ["\"requests\"", "\"request\""] {
        let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit-Policy", &*format!("\"p\";q=9;qu={unit};w=3"))]);
        assert_eq!(seen.limit, Some(9), "{unit}");
    }
    for unit in ["\"concurrent-requests\"", "requests", "?1"] {
        let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit-Policy", &*format!("\"p\";q=9;qu={unit};w=3"))]);
        assert_eq!(seen.limit, None, "{unit}");
    }
    let spent = ("RateLimit", "\"a\";r=0;t=20");
    assert_eq!(Dialect::IETF_DRAFT_11.read(&[spent, ("Age", "30")]).remaining, None);
    assert_eq!(Dialect::IETF_DRAFT_11.read(&[spent, ("Age", "0")]).remaining, Some(0));
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(0, 200, &[("Age", "30"), spent], &Dialect::IETF_DRAFT_11);
    assert_eq!(limits.acquire(1, Some(b"a")), Permit::Go);
}

/// The draft's other examples, literally, and what a client must do with each.
#[test]
fn the_drafts_other_examples_as_printed() {
    let read = |lines: &[(&str, &str)]| {
        let seen = Dialect::IETF_DRAFT_11.read(lines);
        (context_of(&seen), seen.remaining, seen.reset_ms, seen.limit, seen.window_ms)
    };
    let some = |s: &str| Some(s.to_owned());
    // B.1.1: "The client exhausted its quota for the next 50 seconds."
    assert_eq!(
        read(&[("RateLimit", "\"default\";r=0;t=50")]),
        (some("default"), Some(0), Some(50_000), None, None)
    );
    // B.1.3: concurrency.
    let basic = [("RateLimit-Policy", "\"basic\";q=100;w=60"), ("RateLimit", "\"basic\";r=20;t=56")];
    assert_eq!(read(&basic), (some("basic"), Some(20), Some(56_000), Some(100), Some(60_000)));
    // B.2.1, with the fields in the other order.
    let fixed =
        [("RateLimit", "\"fixedwindow\";r=99;t=50"), ("RateLimit-Policy", "\"fixedwindow\";q=100;w=60")];
    assert_eq!(read(&fixed), (some("fixedwindow"), Some(99), Some(50_000), Some(100), Some(60_000)));
    // B.2.3: a 429 with r=0 for the next 20 seconds.
    let dynamic = [("RateLimit-Policy", "\"dynamic\";q=15;w=20"), ("RateLimit", "\"dynamic\";r=0;t=20")];
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(0, 429, &dynamic, &Dialect::IETF_DRAFT_11);
    assert_eq!(limits.acquire(1, Some(b"dynamic")), Permit::Wait { until_ms: 20_000 });
    // B.3: "the client is expected to honor Retry-After": 20 s, over the reset of 40.
    let retry = [
        ("Retry-After", "20"),
        ("RateLimit-Policy", "\"dynamic\";q=100;w=60"),
        ("RateLimit", "\"dynamic\";r=15;t=40"),
    ];
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(0, 429, &retry, &Dialect::IETF_DRAFT_11);
    assert_eq!(limits.acquire(1, Some(b"dynamic")), Permit::Wait { until_ms: 20_000 });
    // B.2.4 ("Missing Remaining information"): tokens as names, no `r`, a policy without `w`.
    assert_eq!(
        read(&[("RateLimit-Policy", "quota;q=100;w=1"), ("RateLimit", "quota;t=1")]),
        (some("quota"), None, Some(1_000), Some(100), Some(1_000))
    );
    assert_eq!(read(&[("RateLimit-Policy", "quota;q=10"), ("RateLimit", "quota;t=1")]).3, Some(10));
    // §6: a 301 with r=0: "a client could decide to wait 10 seconds".
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_dialect(0, 301, &[("RateLimit", "\"problemPolicy\";r=0;t=10")], &Dialect::IETF_DRAFT_11);
    assert_eq!(limits.acquire(1, Some(b"problemPolicy")), Permit::Wait { until_ms: 10_000 });
}

/// The request machine reads the same value: GitHub's 403 that carries pushback is "rate
/// limited, not processed" and waits as told (or fails at once past the ceiling); one that
/// carries none is forbidden, as it is in every dialect that does not list 403.
#[test]
fn a_403_is_retried_as_rate_limited_only_where_the_dialect_says_and_it_carries_a_wait() {
    use backoff_core::{Action, ErrorKind, Idempotency, Policy, Request, Stop, Wait};
    let mut rng = common::SplitMix(7);
    let policy = Policy::FOLLOW_UP_BOSS;
    let finish = |status: u16, seen: &RateLimitHeaders, idempotency, rng: &mut common::SplitMix| {
        let mut reply = Request::new(0, idempotency).response_parsed::<64>(&policy, status, seen);
        let _ = reply.feed(br#"{"message":"You have exceeded a secondary rate limit."}"#);
        reply.finish(&policy, 10, rng)
    };
    let secondary = Dialect::GITHUB.read(&[("retry-after", "60"), ("x-ratelimit-resource", "core")]);
    for idempotency in [Idempotency::Idempotent, Idempotency::NotIdempotent] {
        let Action::Retry(retry) = finish(403, &secondary, idempotency, &mut rng) else {
            panic!("{idempotency:?}: a rate-limited 403 was not processed: retried")
        };
        assert!((60_000..=61_000).contains(&retry.delay_ms), "{}", retry.delay_ms);
        assert!(matches!(retry.wait, Wait::RetryAfter(_)));
        assert_eq!((retry.cause.kind, retry.cause.status), (ErrorKind::RateLimited, Some(403)));
    }
    // The documented primary-limit 403: its reset (3 025 s) is past the 10-minute ceiling.
    let primary = Dialect::GITHUB.read(&GITHUB_403);
    let Action::Fail(error) = finish(403, &primary, Idempotency::Idempotent, &mut rng) else {
        panic!("waited")
    };
    assert_eq!((error.stop, error.cause.kind), (Stop::RetryAfterTooLong, ErrorKind::RateLimited));
    // Under an hour's ceiling it waits the reset out, never less.
    let patient = policy.with_retry_after_ceiling_ms(3_600_000);
    let reply = Request::new(0, Idempotency::Idempotent).response_parsed::<64>(&patient, 403, &primary);
    let Action::Retry(retry) = reply.finish(&patient, 10, &mut rng) else { panic!("not retried") };
    assert!(retry.delay_ms >= 3_025_000);
    // No wait carried in the headers: the body's secondary limit waits a minute (see
    // `githubs_secondary_limit_without_a_wait_in_its_headers_waits_a_minute`); a 403 whose body
    // says something else is forbidden. Nor in Follow Up Boss's dialect, whatever it carries.
    let plain =
        Dialect::GITHUB.read(&[("x-ratelimit-remaining", "4999"), ("x-ratelimit-reset", "1377013266")]);
    let Action::Retry(retry) = finish(403, &plain, Idempotency::NotIdempotent, &mut rng) else {
        panic!("a secondary limit's 403 was not retried")
    };
    assert!((60_000..=61_000).contains(&retry.delay_ms), "{}", retry.delay_ms);
    assert_eq!(retry.cause.kind, ErrorKind::RateLimited);
    let mut reply = Request::new(0, Idempotency::Idempotent).response_parsed::<64>(&policy, 403, &plain);
    let _ = reply.feed(br#"{"message":"Must have admin rights to Repository."}"#);
    let Action::Fail(error) = reply.finish(&policy, 10, &mut rng) else { panic!("retried") };
    assert_eq!((error.stop, error.cause.kind), (Stop::Permanent, ErrorKind::Forbidden));
    let fub = RateLimitHeaders::read(&[("Retry-After", "60")]);
    let Action::Fail(error) = finish(403, &fub, Idempotency::Idempotent, &mut rng) else { panic!("retried") };
    assert_eq!((error.stop, error.cause.kind), (Stop::Permanent, ErrorKind::Forbidden));
    // A 429 without `Retry-After` waits for the reset of its spent quota (the draft's B.2.3).
    let spent = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "\"dynamic\";r=0;t=20")]);
    let Action::Retry(retry) = finish(429, &spent, Idempotency::NotIdempotent, &mut rng) else { panic!() };
    assert!((20_000..=21_000).contains(&retry.delay_ms));
    // A success is a success.
    assert!(matches!(finish(200, &secondary, Idempotency::Idempotent, &mut rng), Action::Succeed { .. }));
}

/// What the crate reads from a list field's lines: each item as `name` (`_` when no context
/// can hold it) and its draft parameters, or `None` if the list is malformed.
fn sf(lines: &[&str]) -> Option<String> {
    let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
    let mut items = Vec::new();
    let ok = dialect::parse_lines(&lines, &mut |item| {
        let mut s = item.name.map_or("_".to_owned(), |n| n.as_str().to_owned());
        for (key, value) in [("r", item.r), ("t", item.t), ("q", item.q), ("w", item.w)] {
            if let Some(v) = value {
                s += &format!(";{key}={v}");
            }
        }
        if item.unit == dialect::QuotaUnit::Other {
            s += ";qu";
        }
        items.push(s);
    });
    ok.then(|| items.join(", "))
}

/// Structured-field cases of our own over the ground of the HTTP WG's suite
/// (httpwg/structured-field-tests: list, param-list, number, string, token, key, and the
/// generated ones; its files carry no license, so they are not vendored): each a field's lines
/// and what the crate reads from them, `None` for a list that must fail.
#[test]
fn structured_field_cases() {
    let mut cases: Vec<(String, Vec<String>, Option<String>)> = Vec::new();
    let mut case = |name: &str, lines: &[&str], expected: Option<&str>| {
        cases.push((
            name.to_owned(),
            lines.iter().map(|s| (*s).to_owned()).collect(),
            expected.map(str::to_owned),
        ));
    };
    // Lists.
    case("basic list", &["1, 42"], Some("_, _"));
    case("empty list", &[""], Some(""));
    case("only spaces", &["   "], Some(""));
    case("leading spaces", &["  a, b"], Some("a, b"));
    case("leading tab", &["\ta"], None);
    case("trailing spaces", &["a, b  "], Some("a, b"));
    case("single item", &["a"], Some("a"));
    case("no whitespace", &["a,b"], Some("a, b"));
    case("extra whitespace", &["a ,\t b"], Some("a, b"));
    case("tab separated", &["a\t,\tb"], Some("a, b"));
    case("two lines", &["a", "b"], Some("a, b"));
    case("three lines", &["a", "b, c", "d"], Some("a, b, c, d"));
    case("second line starts with a tab", &["a", "\tb"], Some("a, b"));
    case("empty second line", &["a", ""], None);
    case("empty first line", &["", "a"], None);
    case("two empty lines", &["", ""], None);
    case("malformed second line", &["a", "b,"], None);
    case("trailing comma", &["a, b,"], None);
    case("leading comma", &[",a"], None);
    case("empty member", &["a,,b"], None);
    case("no comma", &["a b"], None);
    case("bad member", &["a, @"], None);
    // Inner lists: valid members, not the draft's items.
    case("inner list", &["(a b), c"], Some("c"));
    case("inner list with parameters", &["(a b);x=1;y, c;r=1"], Some("c;r=1"));
    case("inner items with parameters", &["(a;x=1 b;y=?0), c"], Some("c"));
    case("empty inner list", &["()"], Some(""));
    case("spaced inner list", &["( a  b )"], Some(""));
    case("unclosed inner list", &["(a b"], None);
    case("comma in inner list", &["(a,b)"], None);
    case("no space between inner items", &["(a\"b\")"], None);
    case("tab in inner list", &["(a\tb)"], None);
    case("nested inner list", &["((a))"], None);
    case("inner list then junk", &["(a)b"], None);
    // Parameters.
    case("boolean parameter", &["a;x"], Some("a"));
    case("draft parameters", &["a;r=1;t=2;q=3;w=4"], Some("a;r=1;t=2;q=3;w=4"));
    case("space after semicolon", &["a; r=1;  t=2"], Some("a;r=1;t=2"));
    case("space before semicolon", &["a ;r=1"], None);
    case("tab after semicolon", &["a;\tr=1"], None);
    case("duplicate key keeps the last", &["a;r=1;r=2"], Some("a;r=2"));
    case("duplicate key, last not an integer", &["a;r=1;r=?1"], Some("a"));
    case("boolean r", &["a;r"], Some("a"));
    case("trailing semicolon", &["a;r=1;"], None);
    case("empty key", &["a;=1"], None);
    case("upper-case key", &["a;R=1"], None);
    case("space around equals", &["a;r =1"], None);
    case("space after equals", &["a;r= 1"], None);
    case("inner list as a value", &["a;r=(1)"], None);
    case("parameters on several items", &["a;r=1, b;t=2"], Some("a;r=1, b;t=2"));
    case("quota unit requests", &["a;q=1;qu=\"requests\""], Some("a;q=1"));
    case("quota unit other", &["a;q=1;qu=\"content-bytes\""], Some("a;q=1;qu"));
    case("quota unit token", &["a;q=1;qu=requests"], Some("a;q=1;qu"));
    // Numbers, as the value of `r`: only a non-negative integer is kept.
    for (value, expected) in [
        ("0", Some("n;r=0")),
        ("00", Some("n;r=0")),
        ("007", Some("n;r=7")),
        ("42", Some("n;r=42")),
        ("-0", Some("n;r=0")),
        ("-42", Some("n")),
        ("999999999999999", Some("n;r=999999999999999")),
        ("1000000000000000", None),
        ("-999999999999999", Some("n")),
        ("-1000000000000000", None),
        ("1.5", Some("n")),
        ("0.000", Some("n")),
        ("-1.5", Some("n")),
        ("123456789012.123", Some("n")),
        ("1234567890123.1", None),
        ("1.1234", None),
        ("1.", None),
        (".5", None),
        ("-.5", None),
        ("-", None),
        ("--1", None),
        ("+1", None),
        ("1e3", None),
        ("1a", None),
        ("1.2.3", None),
        ("0x10", None),
    ] {
        case(&format!("number {value}"), &[&format!("n;r={value}")], expected);
    }
    case("integer item", &["42"], Some("_"));
    case("negative integer item", &["-42"], Some("_"));
    case("decimal item", &["4.2"], Some("_"));
    case("long decimal item", &["4.2345"], None);
    // Strings, as item names.
    case("string", &["\"a\""], Some("a"));
    case("empty string", &["\"\""], Some("_"));
    case("string with a space", &["\"my policy\""], Some("_"));
    case("escaped quote", &["\"a\\\"b\""], Some("a\\\"b"));
    case("escaped backslash", &["\"a\\\\b\""], Some("a\\\\b"));
    case("bad escape", &["\"a\\b\""], None);
    case("escape at the end", &["\"a\\\""], None);
    case("unterminated", &["\"abc"], None);
    case("text after a string", &["\"a\"b"], None);
    case("non-ASCII", &["\"caf\u{e9}\""], None);
    case("string with parameters", &["\"a\";r=1"], Some("a;r=1"));
    // Tokens.
    case("token", &["abc123"], Some("abc123"));
    case("token with colon and slash", &["a:b/c"], Some("a:b/c"));
    case("star token", &["*a"], Some("*a"));
    case("upper-case token", &["ABC"], Some("ABC"));
    case("every tchar", &["a!#$%&'*+-.^_`|~9Z"], Some("a!#$%&'*+-.^_`|~9Z"));
    case("token starting with a digit", &["1a"], None);
    case("token starting with !", &["!a"], None);
    // Other bare items: byte sequences, booleans, dates, display strings.
    case("byte sequence", &[":aGVsbG8=:"], Some("_"));
    case("byte sequence without padding", &[":aGVsbG8:"], Some("_"));
    case("empty byte sequence", &["::"], Some("_"));
    case("unterminated byte sequence", &[":aGVsbG8="], None);
    case("space in a byte sequence", &[":aGV sbG8=:"], None);
    case("base64url in a byte sequence", &[":_-8=:"], None);
    case("boolean true", &["?1"], Some("_"));
    case("boolean false", &["?0"], Some("_"));
    case("boolean 2", &["?2"], None);
    case("boolean without a value", &["?"], None);
    case("date", &["@1659578233"], Some("_"));
    case("negative date", &["@-1659578233"], Some("_"));
    case("decimal date", &["@1659578233.5"], None);
    case("empty date", &["@"], None);
    case("display string", &["%\"f%c3%bc%c3%bc\""], Some("_"));
    case("display string, plain", &["%\"a b\\\""], Some("_"));
    case("display string, upper-case hex", &["%\"f%C3%BC\""], None);
    case("display string, cut UTF-8", &["%\"%c3\""], None);
    case("display string, invalid UTF-8", &["%\"%ff\""], None);
    case("display string, lone continuation", &["%\"%80\""], None);
    case("display string, bad escape", &["%\"%zz\""], None);
    case("display string without quote", &["%a"], None);
    case("unterminated display string", &["%\"abc"], None);
    case(
        "every type as a parameter",
        &["a;b=:AAEC:;c=?0;d=@1;e=%\"x\";f=-1.5;g=tok;h=\"s\";r=1"],
        Some("a;r=1"),
    );
    // Generated: one character after a key's first, as a key's first, after a token's first,
    // inside a string.
    for c in (0x20u8..=0x7E).map(char::from) {
        let key_rest = c.is_ascii_lowercase() || c.is_ascii_digit() || "_-.*".contains(c);
        let expected = key_rest.then_some("n");
        case(&format!("key a{c:?}"), &[&format!("n;a{c}=1")], expected);
        if c != ' ' {
            let key_first = c.is_ascii_lowercase() || c == '*';
            case(&format!("key {c:?}a"), &[&format!("n;{c}a=1")], key_first.then_some("n"));
        }
        let tchar = c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:/".contains(c);
        let token = format!("a{c}");
        let expected = if tchar {
            Some(token.as_str())
        } else if c == ' ' {
            Some("a")
        } else {
            None
        };
        case(&format!("token a{c:?}"), &[&token], expected);
        let string = format!("\"{c}\"");
        let expected = match c {
            '"' | '\\' => None,
            ' ' => Some("_".to_owned()),
            _ => Some(c.to_string()),
        };
        case(&format!("string {c:?}"), &[&string], expected.as_deref());
    }
    for byte in (0u8..0x20).chain(0x7F..=0xFF) {
        let string = [b'"', byte, b'"'];
        let lines = [&string[..]];
        assert!(!dialect::parse_lines(&lines, &mut |_| {}), "string byte {byte:#x}");
    }
    let mut mismatches = Vec::new();
    for (name, lines, expected) in &cases {
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let got = sf(&lines);
        if got != *expected {
            mismatches.push(format!("{name}: {lines:?} read {got:?}, expected {expected:?}"));
        }
    }
    println!(
        "{} structured-field cases (+161 bytes outside a string's range), {} mismatches",
        cases.len(),
        mismatches.len()
    );
    assert!(cases.len() > 500, "{}", cases.len());
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

// ---- waits carried in the body ----

/// A response's decision as the request machine takes it: read in `dialect`, its body fed in
/// pieces of `piece` bytes; and what the rate limits learn from it (`seen` with the body's
/// wait), observed at 0. The request is not idempotent, but after a 503 (which may follow
/// processing): a retry shows the status said "not processed".
fn decide_with_body(
    dialect: &Dialect,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    piece: usize,
    policy: &backoff_core::Policy,
) -> (backoff_core::Action<64>, RateLimits<4>) {
    use backoff_core::{Idempotency, Request};
    let seen = dialect.read(headers);
    let idempotency = if status == 503 { Idempotency::Idempotent } else { Idempotency::NotIdempotent };
    let mut reply = Request::new(0, idempotency).response_parsed::<64>(policy, status, &seen);
    for chunk in body.chunks(piece.max(1)) {
        let _ = reply.feed(chunk);
    }
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_parsed(0, status, &seen.with_body(status, reply.body_wait()));
    (reply.finish(policy, 0, &mut common::SplitMix(3)), limits)
}

/// The retry's delay, or a panic naming what came instead.
fn delay_of(action: &backoff_core::Action<64>) -> u32 {
    match action {
        backoff_core::Action::Retry(retry) => {
            let kind = if retry.cause.status == Some(503) {
                backoff_core::ErrorKind::ServerError
            } else {
                backoff_core::ErrorKind::RateLimited
            };
            assert_eq!(retry.cause.kind, kind);
            assert!(matches!(retry.wait, backoff_core::Wait::RetryAfter(_)), "{:?}", retry.wait);
            retry.delay_ms
        }
        other => panic!("not retried: {other:?}"),
    }
}

/// Discord, "Rate Limits", Exceeding A Rate Limit: "Your application should rely on the
/// `Retry-After` header or `retry_after` field to determine when to retry the request"; the
/// field is "the number of seconds to wait before submitting another request" (a float) and
/// `global` says "if you are being globally rate limited". Each example 429 as printed (its
/// `Retry-After` outranks the body and is never shortened by it), then with the headers that
/// tell a wait taken off, as a proxy may: the body's `retry_after` is the wait, rounded up to
/// the millisecond; its `global: true` holds every request, and `false` the bucket.
#[test]
fn discords_429_body_tells_the_wait_where_its_headers_do_not() {
    const USER_BODY: &[u8] =
        b"{\n  \"message\": \"You are being rate limited.\",\n  \"retry_after\": 64.57,\n  \"global\": false\n}";
    const RESOURCE_BODY: &[u8] =
        b"{\n  \"message\": \"The resource is being rate limited.\",\n  \"retry_after\": 1336.57,\n  \"global\": false\n}";
    const GLOBAL_BODY: &[u8] =
        b"{\n  \"message\": \"You are being rate limited.\",\n  \"retry_after\": 64.57,\n  \"global\": true\n}";
    let user = [
        ("Content-Type", "application/json"),
        ("Retry-After", "65"),
        ("X-RateLimit-Limit", "10"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", "1470173023.123"),
        ("X-RateLimit-Reset-After", "64.57"),
        ("X-RateLimit-Bucket", "abcd1234"),
        ("X-RateLimit-Scope", "user"),
    ];
    let resource = [
        ("Content-Type", "application/json"),
        ("Retry-After", "1337"),
        ("X-RateLimit-Limit", "10"),
        ("X-RateLimit-Remaining", "9"),
        ("X-RateLimit-Reset", "1470173023.123"),
        ("X-RateLimit-Reset-After", "64.57"),
        ("X-RateLimit-Bucket", "abcd1234"),
        ("X-RateLimit-Scope", "shared"),
    ];
    let global = [
        ("Content-Type", "application/json"),
        ("Retry-After", "65"),
        ("X-RateLimit-Global", "true"),
        ("X-RateLimit-Scope", "global"),
    ];
    let policy = backoff_core::Policy::FOLLOW_UP_BOSS;
    let jitter = policy.retry_after_jitter_ms;
    let within = |delay: u32, told: u32| (told..=told + jitter).contains(&delay);
    // As printed: the header's 65 s.
    for (headers, body) in [(&user[..], USER_BODY), (&global, GLOBAL_BODY)] {
        let (action, _) = decide_with_body(&Dialect::DISCORD, 429, headers, body, 7, &policy);
        assert!(within(delay_of(&action), 65_000), "{action:?}");
    }
    // Without the headers that tell a wait: the body's 64.57 s, to the millisecond.
    let user_bare: Vec<_> = user.iter().copied().filter(|(n, _)| !n.contains("After")).collect();
    let global_bare = &global[2..];
    for piece in [1, 5, 64, 500] {
        let (action, limits) =
            decide_with_body(&Dialect::DISCORD, 429, &user_bare, USER_BODY, piece, &policy);
        assert!(within(delay_of(&action), 64_570), "{piece}: {action:?}");
        let mut limits = limits;
        assert_eq!(limits.acquire(1, Some(b"abcd1234")), Permit::Wait { until_ms: 64_570 });
        assert_eq!(limits.acquire(1, Some(b"other")), Permit::Go, "global: false holds the bucket only");
        assert_eq!(limits.acquire(64_570, Some(b"abcd1234")), Permit::Go);

        let (action, mut limits) =
            decide_with_body(&Dialect::DISCORD, 429, global_bare, GLOBAL_BODY, piece, &policy);
        assert!(within(delay_of(&action), 64_570), "{piece}: {action:?}");
        for context in [None, Some(&b"abcd1234"[..]), Some(b"other")] {
            assert_eq!(limits.acquire(1, context), Permit::Wait { until_ms: 64_570 }, "{context:?}");
        }
        // `global: true` with a bucket named, and no header saying so: still every request.
        let named = [("X-RateLimit-Bucket", "abcd1234")];
        let (_, mut limits) = decide_with_body(&Dialect::DISCORD, 429, &named, GLOBAL_BODY, piece, &policy);
        assert_eq!(limits.acquire(1, Some(b"other")), Permit::Wait { until_ms: 64_570 });
    }
    // The resource limit's 1 336.57 s, in the header or the body alone, is past the
    // 10-minute ceiling: the request fails at once rather than wait.
    let resource_bare: Vec<_> = resource.iter().copied().filter(|(n, _)| *n != "Retry-After").collect();
    for headers in [&resource[..], &resource_bare] {
        let (action, _) = decide_with_body(&Dialect::DISCORD, 429, headers, RESOURCE_BODY, 9, &policy);
        let backoff_core::Action::Fail(error) = action else { panic!("{action:?}") };
        assert_eq!(error.stop, backoff_core::Stop::RetryAfterTooLong);
    }
    // Under a half-hour ceiling it waits 1 336.57 s, and holds nothing shared
    // (`X-RateLimit-Scope: shared`).
    let patient = policy.with_retry_after_ceiling_ms(1_800_000);
    let (action, mut limits) =
        decide_with_body(&Dialect::DISCORD, 429, &resource_bare, RESOURCE_BODY, 9, &patient);
    assert!(within(delay_of(&action), 1_336_570), "{action:?}");
    assert_eq!(limits.acquire(1, Some(b"abcd1234")), Permit::Go);
}

/// Only where the dialect reads the body, on a status that carries pushback in it, from a
/// body that is valid JSON in full, at its top level: anything else tells no wait.
#[test]
fn a_body_tells_a_wait_only_where_its_dialect_reads_it() {
    let policy = backoff_core::Policy::FOLLOW_UP_BOSS;
    let told = br#"{"retry_after": 5, "message": "You have exceeded a secondary rate limit."}"#;
    let wait = |dialect: &Dialect, status: u16, body: &[u8]| {
        let (action, _) = decide_with_body(dialect, status, &[], body, 3, &policy);
        match action {
            backoff_core::Action::Retry(retry) => Some(retry.delay_ms),
            _ => None,
        }
    };
    // Discord reads `retry_after` on 429 and 503; GitHub reads the message on 403, 429, 503.
    assert!(wait(&Dialect::DISCORD, 429, told).is_some_and(|d| (5_000..=6_000).contains(&d)));
    assert!(wait(&Dialect::DISCORD, 503, told).is_some_and(|d| (5_000..=6_000).contains(&d)));
    assert_eq!(wait(&Dialect::DISCORD, 403, told), None);
    for status in [403, 429, 503] {
        assert!(
            wait(&Dialect::GITHUB, status, told).is_some_and(|d| (60_000..=61_000).contains(&d)),
            "{status}"
        );
    }
    assert_eq!(wait(&Dialect::GITHUB, 404, told), None);
    // Follow Up Boss's and the draft's bodies carry no wait: a 429 backs off (1–2 s).
    for dialect in [Dialect::FOLLOW_UP_BOSS, Dialect::IETF_DRAFT_11] {
        assert!(wait(&dialect, 429, told).is_some_and(|d| d <= 2_000));
    }
    // A body cut, broken, nested, or whose last `retry_after` is not a number: no wait.
    for body in [
        &br#"{"retry_after": 5"#[..],
        br#"{"retry_after": 5,}"#,
        br#"{"error": {"retry_after": 5}}"#,
        br#"{"retry_after": 5, "retry_after": "5"}"#,
        br#"{"retry_after": -5}"#,
        br#"{"retry_after": [5]}"#,
        b"retry_after: 5",
    ] {
        let d = wait(&Dialect::DISCORD, 429, body);
        assert!(d.is_some_and(|d| d <= 2_000), "{}: {d:?}", String::from_utf8_lossy(body));
    }
    // The last of each key counts; whitespace and exponents are JSON's.
    let d = wait(&Dialect::DISCORD, 429, br#"{"retry_after": "x", "retry_after" : 2.5e1 }"#);
    assert!(d.is_some_and(|d| (25_000..=26_000).contains(&d)), "{d:?}");
    let (_, mut limits) = decide_with_body(
        &Dialect::DISCORD,
        429,
        &[],
        br#"{"global":true,"global":false,"retry_after":1}"#,
        2,
        &policy,
    );
    assert_eq!(limits.acquire(1, Some(b"a")), Permit::Wait { until_ms: 1_000 }, "no context named: all");
    let (_, mut limits) = decide_with_body(
        &Dialect::DISCORD,
        429,
        &[("X-RateLimit-Bucket", "b")],
        br#"{"global":true,"global":false,"retry_after":1}"#,
        2,
        &policy,
    );
    assert_eq!(limits.acquire(1, Some(b"a")), Permit::Go, "the last `global` said false");
}

/// GitHub, "Rate limits for the REST API", Exceeding the rate limit: "If you exceed a
/// secondary rate limit, you will receive a `403` or `429` response and an error message that
/// indicates that you exceeded a secondary rate limit. If the `retry-after` response header is
/// present, you should not retry your request until after that many seconds has elapsed. If
/// the `x-ratelimit-remaining` header is `0`, you should not retry your request until after
/// the time [...] specified by the `x-ratelimit-reset` header. Otherwise, wait for at least one
/// minute before retrying." The page prints no body; this is the one GitHub sends (`message`,
/// `documentation_url`). The primary quota is not spent (`x-ratelimit-remaining: 4999`).
#[test]
fn githubs_secondary_limit_without_a_wait_in_its_headers_waits_a_minute() {
    const BODY: &[u8] = br#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID E198:4063:33BD6:375FF:652AAB04.","documentation_url":"https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits","status":"403"}"#;
    let policy = backoff_core::Policy::FOLLOW_UP_BOSS;
    let date = ("Date", "Tue, 20 Aug 2013 14:50:41 GMT");
    let quota = [
        date,
        ("x-ratelimit-limit", "5000"),
        ("x-ratelimit-remaining", "4999"),
        ("x-ratelimit-reset", "1377013266"),
        ("x-ratelimit-resource", "core"),
    ];
    for status in [403, 429] {
        // No header tells a wait: at least a minute, and the resource is held as long.
        let (action, mut limits) = decide_with_body(&Dialect::GITHUB, status, &quota, BODY, 16, &policy);
        let delay = delay_of(&action);
        assert!((60_000..=60_000 + policy.retry_after_jitter_ms).contains(&delay), "{status}: {delay}");
        assert_eq!(limits.acquire(1, Some(b"core")), Permit::Wait { until_ms: 60_000 });
        assert_eq!(limits.acquire(60_000, Some(b"core")), Permit::Go);
        // Naming no resource, it holds every request.
        let (_, mut limits) = decide_with_body(&Dialect::GITHUB, status, &[date], BODY, 16, &policy);
        assert_eq!(limits.acquire(1, Some(b"search")), Permit::Wait { until_ms: 60_000 });
        // `retry-after` present: its seconds, not the minute.
        let mut told = quota.to_vec();
        told.push(("retry-after", "30"));
        let (action, mut limits) = decide_with_body(&Dialect::GITHUB, status, &told, BODY, 16, &policy);
        assert!((30_000..=31_000).contains(&delay_of(&action)));
        assert_eq!(limits.acquire(1, Some(b"core")), Permit::Wait { until_ms: 30_000 });
        // `x-ratelimit-remaining: 0`: until the reset (3 025 s, past the 10-minute ceiling).
        let mut spent = quota.to_vec();
        spent[2] = ("x-ratelimit-remaining", "0");
        let (action, _) = decide_with_body(&Dialect::GITHUB, status, &spent, BODY, 16, &policy);
        let backoff_core::Action::Fail(error) = action else { panic!("{action:?}") };
        assert_eq!(error.stop, backoff_core::Stop::RetryAfterTooLong);
    }
    // Any case, and escaped; not a message that says something else, nor one cut short.
    for (body, waits) in [
        (&br#"{"message":"SECONDARY RATE LIMIT exceeded"}"#[..], true),
        (br#"{"message":"secondary\u0020rate limit"}"#, true),
        (br#"{"message":"API rate limit exceeded for 203.0.113.7."}"#, false),
        (br#"{"message":"Must have admin rights to Repository."}"#, false),
        (br#"{"errors":[{"message":"secondary rate limit"}]}"#, false),
        (br#"{"message":"You have exceeded a secondary rate limit.""#, false),
    ] {
        let (action, _) = decide_with_body(&Dialect::GITHUB, 403, &quota, body, 4, &policy);
        let retried = matches!(action, backoff_core::Action::Retry(_));
        assert_eq!(retried, waits, "{}: {action:?}", String::from_utf8_lossy(body));
    }
}

/// Milliseconds of `whole.fraction e exponent` seconds, rounded up, saturating: computed
/// from the digits in 128 bits, independently of the crate.
fn seconds_ms_model(whole: &str, fraction: &str, exponent: i32) -> u64 {
    let digits: u128 = format!("{whole}{fraction}").parse().unwrap_or(0);
    let power = exponent + 3 - fraction.len() as i32;
    let ms = if power >= 0 {
        10u128.checked_pow(power as u32).and_then(|p| digits.checked_mul(p)).unwrap_or(u128::MAX)
    } else {
        let scale = 10u128.checked_pow((-power) as u32).unwrap_or(u128::MAX);
        digits / scale + u128::from(!digits.is_multiple_of(scale))
    };
    u64::try_from(ms).unwrap_or(u64::MAX)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// In every dialect that reads a wait from the body — Discord's `retry_after` (any
    /// number: a fraction, an exponent, past the ceiling), GitHub's secondary limit — whose
    /// headers tell none, on every status that carries pushback, the body fed in any pieces:
    /// the request never retries earlier than told (nor the floor) and never later than told
    /// plus the jitter, or fails at once past the ceiling; and the rate limits let no request
    /// go before the told instant (as far as it is believed) and hold none past it, holding
    /// every context when the body says `global: true` or no context is named.
    #[test]
    fn never_early_never_longer_than_a_body_told_in_every_dialect(
        discord in any::<bool>(), whole in "0|[1-9][0-9]{0,3}", fraction in "[0-9]{0,5}", exponent in -4i32..4,
        with_exponent in any::<bool>(), global in any::<bool>(), named in any::<bool>(),
        piece in 1usize..40, ask in 0u64..4_000_000, status_pick in 0usize..3,
        floor in prop::sample::select(vec![0u32, 1_000, 90_000]),
    ) {
        let exponent = if with_exponent { exponent } else { 0 };
        let number = match (fraction.is_empty(), with_exponent) {
            (true, false) => whole.clone(),
            (false, false) => format!("{whole}.{fraction}"),
            (true, true) => format!("{whole}e{exponent}"),
            (false, true) => format!("{whole}.{fraction}E{exponent:+}"),
        };
        let (dialect, body, told, statuses): (Dialect, String, u64, &[u16]) = if discord {
            let body = format!(r#"{{"message": "You are being rate limited.", "retry_after": {number}, "global": {global}}}"#);
            (Dialect::DISCORD, body, seconds_ms_model(&whole, &fraction, exponent), &[429, 503, 429])
        } else {
            let body = r#"{"message":"You have exceeded a secondary rate limit.","documentation_url":"x"}"#.to_owned();
            (Dialect::GITHUB, body, 60_000, &[403, 429, 503])
        };
        let status = statuses[status_pick];
        let headers: &[(&str, &str)] =
            if named { &[("X-RateLimit-Bucket", "b"), ("x-ratelimit-resource", "b")] } else { &[] };
        let policy = backoff_core::Policy::FOLLOW_UP_BOSS.with_retry_after_floor_ms(floor);
        let (action, mut limits) = decide_with_body(&dialect, status, headers, body.as_bytes(), piece, &policy);
        let ceiling = u64::from(policy.retry_after_ceiling_ms);
        if told > ceiling {
            let backoff_core::Action::Fail(error) = action else { panic!("{action:?}") };
            prop_assert_eq!(error.stop, backoff_core::Stop::RetryAfterTooLong);
        } else {
            let at_least = told.max(u64::from(floor));
            let delay = u64::from(delay_of(&action));
            prop_assert!(delay >= at_least && delay <= at_least + u64::from(policy.retry_after_jitter_ms),
                "{} ms for {} ms told: {}", delay, told, body);
        }
        let believed = told.min(u64::from(limits.max_hold_ms()));
        let all = (discord && global) || !named;
        for context in [&b"b"[..], b"other"] {
            match limits.acquire(ask, Some(context)) {
                Permit::Go => prop_assert!(ask >= believed || (context == b"other" && !all),
                    "early: {} < {} for {:?}", ask, believed, context),
                Permit::Wait { until_ms } => prop_assert!(until_ms <= told && until_ms > ask && (context == b"b" || all)),
            }
        }
    }
}

/// Whether the shared state must wait for the body before it learns from a response: only
/// where the dialect reads body fields on that status and the body could still change what is
/// learnt — a wait the headers did not tell, or a global limit they did not say.
#[test]
fn the_shared_state_waits_for_the_body_only_where_the_body_can_still_tell_something() {
    let read = |dialect: &Dialect, headers: &[(&str, &str)]| dialect.read(headers);
    // Follow Up Boss reads no body field: never, with or without a Retry-After.
    assert!(!read(&Dialect::FOLLOW_UP_BOSS, &[]).may_tell_in_body(429));
    assert!(!read(&Dialect::FOLLOW_UP_BOSS, &[("Retry-After", "3")]).may_tell_in_body(429));
    // Discord: the body's `retry_after`, or its `global` beside a header wait.
    assert!(read(&Dialect::DISCORD, &[]).may_tell_in_body(429));
    assert!(read(&Dialect::DISCORD, &[("Retry-After", "3")]).may_tell_in_body(429));
    // ... but not once the headers said global, nor on a status without pushback.
    assert!(!read(&Dialect::DISCORD, &[("Retry-After", "3"), ("X-RateLimit-Global", "true")])
        .may_tell_in_body(429));
    assert!(!read(&Dialect::DISCORD, &[]).may_tell_in_body(400));
    // GitHub: its body says only "secondary rate limit", which a header wait already outranks.
    assert!(read(&Dialect::GITHUB, &[]).may_tell_in_body(403));
    assert!(!read(&Dialect::GITHUB, &[("retry-after", "7")]).may_tell_in_body(403));
}
