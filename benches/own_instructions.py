"""Instructions executed in one object of a callgrind profile, its own code only.

    python3 benches/own_instructions.py PROFILE OBJECT_PATH

Sums the self cost (Ir) of every function of the object whose path contains OBJECT_PATH,
leaving out the shared libraries it calls: glibc picks its memcpy, memset and malloc by the
CPU it runs on (AVX2, AVX-512, ERMS…), so their counts differ between machines, while the
bench binary's own code — the crate, inlined or not, and the Rust standard library linked
into it — executes the same instructions wherever it runs.
"""

import re
import sys

path, wanted = sys.argv[1], sys.argv[2]
names = {}


def name(value):
    """A compressed name: `(id) name` defines it, `(id)` refers to it."""
    m = re.match(r"\((\d+)\)(?:\s+(.*))?$", value)
    if not m:
        return value
    if m.group(2):
        names[m.group(1)] = m.group(2)
    return names.get(m.group(1), "")


obj = ""
current = ""
total = 0
call_cost_next = False
with open(path) as profile:
    for line in profile:
        line = line.rstrip("\n")
        if line.startswith("ob="):
            obj = name(line[3:])
        elif line.startswith("fn="):
            current = obj
        elif line.startswith("cob="):
            name(line[4:])
        elif line.startswith("calls="):
            # The next cost line is the call's inclusive cost, counted in the callee.
            call_cost_next = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            if call_cost_next:
                call_cost_next = False
            elif wanted in current:
                fields = line.split()
                if len(fields) >= 2:
                    total += int(fields[1])
print(total)
