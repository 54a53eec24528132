#!/usr/bin/env bash
# Instructions counted by valgrind's callgrind in the bench binary's own code (the C library it
# calls picks its memcpy by CPU, so it is left out: benches/own_instructions.py), repeatable
# where wall time is noisy and the same on any x86-64 machine: per backoff
# schedule (ours, the inline bound, backon), per decision of the state machine, and per parse
# of each body of `cargo bench --bench body` by each parser. Each runs a bench binary with 0
# and with N repetitions; the difference over N is the cost of one.
#
#   bash benches/instructions.sh                # print the tables
#   TABLES=write bash benches/instructions.sh   # and rewrite them in docs/performance.md
#   TABLES=check bash benches/instructions.sh   # or fail if those differ (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
. .ci/lib.sh
need_apt valgrind valgrind
need_apt python3 python3
bin=$(cargo bench --bench peers --no-run --message-format=json 2>/dev/null |
  python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("target",{}).get("name")=="peers" and m.get("executable"): print(m["executable"])')
count() { # status n -> instructions
  local out=/tmp/callgrind.backoff-core.$$
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --decisions "$1" "$2" >/dev/null 2>&1
  python3 benches/own_instructions.py "$out" "$(basename "$bin")"
  rm -f "$out"
}
tables=target/tables
mkdir -p "$tables"
count_schedule() { # who n -> instructions
  local out=/tmp/callgrind.backoff-core-schedule.$$
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --schedules "$1" "$2" >/dev/null 2>&1
  python3 benches/own_instructions.py "$out" "$(basename "$bin")"
  rm -f "$out"
}
ratio() { python3 -c "print(f'{$1/$2:.2f}×')"; }
# Thousands separated by a space, as the rest of the docs write them.
num() { python3 -c "print(f'{$1:,}'.replace(',', ' '))"; }

declare -A schedule
for who in ours lower-bound backon; do
  base=$(count_schedule "$who" 0)
  many=$(count_schedule "$who" 1000)
  schedule[$who]=$(( (many - base) / 1000 ))
done
ours=${schedule[ours]}
row() { # name n
  echo "| $1 | $(num "$2") | $(python3 -c "print(f'{$2/10:.1f}')") | $(ratio "$2" "$ours") |"
}
{
  echo "| a 10-delay schedule (base 1 s, ×2, cap 32 s, jitter) | instructions per schedule | per delay | vs backoff-core |"
  echo "|---|---|---|---|"
  row "**backoff-core** (\`Policy::backoff\`)" "$ours"
  row "inline \"lower bound\" \`min((1000 << n) + rng % 1001, 32000)\`" "${schedule[lower-bound]}"
} >"$tables/schedule.md"
{
  echo "| a 10-delay schedule, a peer | instructions per schedule | per delay | vs backoff-core |"
  echo "|---|---|---|---|"
  row "backon 1 (\`ExponentialBuilder\` + jitter, seeded)" "${schedule[backon]}"
} >"$tables/schedule-peers.md"

{
  echo "| one whole decision of the state machine | instructions |"
  echo "|---|---|"
  for status in 503 400 201; do
    base=$(count "$status" 0)
    many=$(count "$status" 1000)
    case $status in
      503) name="503 with a 49-byte HTML body → retry" ;;
      400) name="400 with a 62-byte \`errorMessage\` body → fail" ;;
      201) name="201 → succeed" ;;
    esac
    echo "| $name | $(num $(( (many - base) / 1000 ))) |"
  done
} >"$tables/decisions.md"

# Instructions per parse of each body of `cargo bench --bench body`, for each contender: the
# bench binary parses one case N times with one contender (`--count`); 100 parses minus none.
# `ours` is the default (fast) parser; `compact` is ours from the same bench built without the
# `fast-body` feature.
body_bench() { # cargo flags -> the bench binary
  cargo bench --bench body --no-run --message-format=json "$@" 2>/dev/null |
    python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("target",{}).get("name")=="body" and m.get("executable"): print(m["executable"])'
}
body=$(body_bench)
body_compact=$(body_bench --no-default-features)
count_body() { # contender case n -> instructions
  local out=/tmp/callgrind.backoff-core-body.$$ bin=$body who=$1
  if [ "$who" = compact ]; then bin=$body_compact who=ours; fi
  valgrind --tool=callgrind --callgrind-out-file="$out" "$bin" --count "$who" "$2" "$3" >/dev/null 2>&1
  python3 benches/own_instructions.py "$out" "$(basename "$bin")"
  rm -f "$out"
}
names=("\`{\"errorMessage\":\"Invalid fields in the request body: emails.\"}\`" "1 KiB, other fields first, escapes and a surrogate pair" "16 KiB, big \`data\` array before the key" "600-byte HTML 502 page" "truncated JSON")
sizes=(62 958 16371 619 40)
declare -A parse
for case in 0 1 2 3 4; do
  for who in ours compact serde_json serde-json-core; do
    base=$(count_body "$who" "$case" 0)
    many=$(count_body "$who" "$case" 100)
    parse[$who $case]=$(( (many - base) / 100 ))
  done
done
{
  echo "| body | bytes | backoff-core | compact parser (no \`fast-body\`) | compact / fast |"
  echo "|---|---|---|---|---|"
  for case in 0 1 2 3 4; do
    o=${parse[ours $case]} c=${parse[compact $case]}
    echo "| ${names[$case]} | $(num "${sizes[$case]}") | $(num "$o") | $(num "$c") | $(ratio "$c" "$o") |"
  done
} >"$tables/parsers.md"
{
  echo "| body | serde_json | serde-json-core | serde_json / ours | serde-json-core / ours |"
  echo "|---|---|---|---|---|"
  for case in 0 1 2 3 4; do
    o=${parse[ours $case]} j=${parse[serde_json $case]} c=${parse[serde-json-core $case]}
    echo "| ${names[$case]} | $(num "$j") | $(num "$c") | $(ratio "$j" "$o") | $(ratio "$c" "$o") |"
  done
} >"$tables/parsers-peers.md"

# The crate's own counts are exact (no allocation, no randomness it does not get from the
# caller): CI checks them. The peers' are not — serde_json's error path allocates, and where
# malloc lands moves its count by one or two between machines — so their tables are written
# with the rest but never checked.
for table in schedule schedule-peers decisions parsers parsers-peers; do
  cat "$tables/$table.md"
  echo
  case ${TABLES:-}:$table in
    :*) ;;
    check:*-peers) echo "docs/performance.md: table 'instructions-$table' is a peer's, not checked" ;;
    *) bash .ci/table "$TABLES" docs/performance.md "instructions-$table" <"$tables/$table.md" ;;
  esac
done
