"""The core's modules form a tower: no module imports one that imports it back, directly or
through others. Reads every `use crate::…` (and `crate::x::` paths) in src/, outside `#[cfg(test)]`
modules, comments and `#[cfg(doc)]` imports (links in the docs are not dependencies), prints the modules
from the bottom up, and exits 1 naming a cycle if there is one.

Run by .ci/run (with Python 3 from the command line: `.ci/tower.py` as its argument).
"""
import pathlib
import re
import sys

src = pathlib.Path(__file__).resolve().parent.parent / "src"
modules = {}
for path in sorted(src.rglob("*.rs")):
    rel = path.relative_to(src).with_suffix("")
    parts = rel.parts
    name = parts[0] if parts[0] != "lib" else "lib"
    text = path.read_text()
    # Unit tests may reach anywhere; cut them off.
    text = re.split(r"\n#\[cfg\(test\)\]\s*\nmod tests", text)[0]
    text = re.sub(r"#\[cfg\(doc\)\]\s*\nuse [^;]*;", "", text)
    # Comments (doc links among them) are not dependencies.
    text = re.sub(r"//[^\n]*", "", text)
    deps = modules.setdefault(name, set())
    for m in re.finditer(r"\bcrate::(\{[^}]*\}|[a-z_0-9]+)", text):
        group = m.group(1)
        names = re.findall(r"(?:^|[{,]\s*)([a-z_0-9]+)", group) if group.startswith("{") else [group]
        deps.update(n for n in names if n != name)

# lib.rs re-exports everything: it is the roof, not a floor.
modules.pop("lib", None)
for deps in modules.values():
    deps.intersection_update(modules)

order, state = [], {}
def visit(node, stack):
    if state.get(node) == "done":
        return
    if state.get(node) == "open":
        cycle = stack[stack.index(node):] + [node]
        sys.exit("module cycle: " + " -> ".join(cycle))
    state[node] = "open"
    for dep in sorted(modules[node]):
        visit(dep, stack + [node])
    state[node] = "done"
    order.append(node)

for node in sorted(modules):
    visit(node, [])
level = {}
for node in order:  # dependencies come first in `order`
    level[node] = 1 + max((level[d] for d in modules[node]), default=-1)
print("the core's modules, floor by floor (each imports only floors below it):")
for floor in range(max(level.values()) + 1):
    print(f"  {floor}: " + ", ".join(sorted(n for n in level if level[n] == floor)))
