#!/usr/bin/env bash
# Instructions per decision of the state machine, counted by valgrind's callgrind: repeatable
# where wall time is noisy. Runs the peers bench binary with 0 and with 1000 decisions of each
# kind; the difference over 1000 is the cost of one decision. Then the same for each body of
# `cargo bench --bench body` and each parser there.
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
  sed -n 's/^summary: //p' "$out"
  rm -f "$out"
}
printf '%-36s %12s\n' "decision" "instructions"
for status in 503 400 201; do
  base=$(count "$status" 0)
  many=$(count "$status" 1000)
  case $status in
    503) name="503, 49-byte HTML body -> retry" ;;
    400) name="400, 62-byte errorMessage -> fail" ;;
    201) name="201 -> succeed" ;;
  esac
  printf '%-36s %12s\n' "$name" "$(( (many - base) / 1000 ))"
done

# Instructions per parse of each body of `cargo bench --bench body`, for each contender: the
# bench binary parses one case N times with one contender (`--count`); 100 parses minus none.
body=$(cargo bench --bench body --no-run --message-format=json 2>/dev/null |
  python3 -c 'import sys,json
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("target",{}).get("name")=="body" and m.get("executable"): print(m["executable"])')
count_body() { # contender case n -> instructions
  local out=/tmp/callgrind.backoff-core-body.$$
  valgrind --tool=callgrind --callgrind-out-file="$out" "$body" --count "$1" "$2" "$3" >/dev/null 2>&1
  sed -n 's/^summary: //p' "$out"
  rm -f "$out"
}
echo
printf '%-20s %12s %12s %16s %8s %9s\n' "body" "backoff-core" "serde_json" "serde-json-core" "sj/ours" "sjc/ours"
names=("62 B errorMessage" "1 KiB, escapes" "16 KiB, data first" "600 B HTML 502" "truncated")
for case in 0 1 2 3 4; do
  row=()
  for who in ours serde_json serde-json-core; do
    base=$(count_body "$who" "$case" 0)
    many=$(count_body "$who" "$case" 100)
    row+=($(( (many - base) / 100 )))
  done
  printf '%-20s %12s %12s %16s %8s %9s\n' "${names[$case]}" "${row[0]}" "${row[1]}" "${row[2]}" \
    "$(python3 -c "print(f'{${row[1]}/${row[0]}:.2f}x')")" "$(python3 -c "print(f'{${row[2]}/${row[0]}:.2f}x')")"
done
