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
    assert_eq!(
        (seen.limit, seen.window_ms),
        (Some(1000), Some(3_600_000)),
        "1000 per hour is fewer per second"
    );
    assert_eq!((seen.remaining, seen.reset_ms), (Some(0), Some(10_000)), "the one with none left");
    assert_eq!(seen.context.map(|c| c.as_str().to_owned()).as_deref(), Some("permin"));
    // Tokens as names, unknown parameters ignored, other item types accepted.
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "default;r=5;t=1;pk=:cHJpdmF0ZQ==:")]);
    assert_eq!(seen.remaining, None, "a byte sequence is not in the subset: the field is absent");
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
fn a_reset_further_than_the_dialects_maximum_is_discarded() {
    let seen = Dialect::DISCORD.read(&[("X-RateLimit-Reset-After", "3601")]);
    assert_eq!(seen.reset_ms, None);
    let seen = Dialect::DISCORD.read(&[("X-RateLimit-Reset-After", "3600")]);
    assert_eq!(seen.reset_ms, Some(3_600_000));
    let seen = Dialect::IETF_DRAFT_11.read(&[("RateLimit", "x;r=0;t=86400")]);
    assert_eq!(seen.reset_ms, None);
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
    /// it (or before the max hold has passed, for a reset further away), and none is held
    /// longer than told.
    #[test]
    fn never_early_never_longer_than_told_in_every_dialect(
        which in 0usize..3, reset_s in 0u64..3000, now in 0u64..1_000_000_000, ask in 0u64..4_000_000,
    ) {
        let date = "Wed, 09 Aug 2023 13:29:23 GMT";
        let unix = 1_691_587_763u64; // that `Date`
        let (dialect, headers, context): (Dialect, Vec<(&str, String)>, &[u8]) = match which {
            0 => (Dialect::GITHUB, vec![("Date", date.into()), ("x-ratelimit-remaining", "0".into()),
                  ("x-ratelimit-reset", (unix + reset_s).to_string()), ("x-ratelimit-resource", "core".into())], b"core"),
            1 => (Dialect::DISCORD, vec![("X-RateLimit-Remaining", "0".into()),
                  ("X-RateLimit-Reset-After", reset_s.to_string()), ("X-RateLimit-Bucket", "b".into())], b"b"),
            _ => (Dialect::IETF_DRAFT_11, vec![("RateLimit", format!("\"p\";r=0;t={reset_s}"))], b"p"),
        };
        let mut limits = RateLimits::<4>::new(Pacing::Burst);
        limits.observe_dialect(now, 200, headers.as_slice(), &dialect);
        let told = now + reset_s * 1000;
        // A hold is believed for at most the limits' max hold (the policy's ceiling): after it,
        // the client tries again.
        let believed = told.min(now + u64::from(limits.max_hold_ms()));
        match limits.acquire(now + ask, Some(context)) {
            Permit::Go => prop_assert!(now + ask >= believed, "early: {} < {}", now + ask, believed),
            Permit::Wait { until_ms } => prop_assert!(until_ms <= told && until_ms > now + ask),
        }
    }

    /// The structured-field parser answers every input without panicking, and an item it
    /// accepts gives back the integer it was given.
    #[test]
    fn the_structured_field_parser_takes_any_input(bytes in prop::collection::vec(any::<u8>(), 0..64), r in 0u64..1_000_000) {
        let _ = dialect::parse_list(&bytes, &mut |_| {});
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
