"""The core's modules form a tower: no module imports one that imports it back, directly or
through others. Reads every `crate::…` path in src/ (`crate::Policy`, re-exported by lib.rs, counts as
`policy`; a `crate::{a::X, b}` group as each of its heads), outside `#[cfg(test)]`
modules, comments and `#[cfg(doc)]` imports (links in the docs are not dependencies), prints the modules
from the bottom up, and exits 1 naming a cycle if there is one.

Run by .ci/run (with Python 3 from the command line: `.ci/tower.py` as its argument).
"""
import pathlib
import re
import sys

src = pathlib.Path(__file__).resolve().parent.parent / "src"

def balanced(text, at):
    """The text inside the braces opening at `at`."""
    depth = 0
    for i in range(at, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[at + 1 : i]
    return text[at + 1 :]

def heads(group):
    """The first path segment of each top-level item of a `{…}` group."""
    out, depth, item = [], 0, ""
    for c in group + ",":
        if c == "," and depth == 0:
            m = re.match(r"\s*([A-Za-z_][A-Za-z_0-9]*)", item)
            if m:
                out.append(m.group(1))
            item = ""
            continue
        depth += c == "{"
        depth -= c == "}"
        item += c
    return out

def code(path):
    text = path.read_text()
    # Unit tests may reach anywhere; cut them off.
    text = re.split(r"\n#\[cfg\(test\)\]\s*\nmod tests", text)[0]
    text = re.sub(r"#\[cfg\(doc\)\]\s*\nuse [^;]*;", "", text)
    # Comments (doc links among them) are not dependencies.
    return re.sub(r"//[^\n]*", "", text)

files = {}
for path in sorted(src.rglob("*.rs")):
    rel = path.relative_to(src).with_suffix("")
    files.setdefault(rel.parts[0], []).append(path)
names = set(files) - {"lib"}

# What the crate root re-exports, and from which module: `crate::Policy` is `policy`'s.
exported = {}
lib = code(src / "lib.rs")
for m in re.finditer(r"pub use ([a-z_0-9]+)::(\{|[A-Za-z_0-9]+)", lib):
    module = m.group(1)
    items = heads(balanced(lib, m.end() - 1)) if m.group(2) == "{" else [m.group(2)]
    for item in items:
        exported[item] = module

modules = {}
for name, paths in files.items():
    deps = modules.setdefault(name, set())
    for path in paths:
        text = code(path)
        for m in re.finditer(r"\bcrate::(\{|[A-Za-z_][A-Za-z_0-9]*)", text):
            items = heads(balanced(text, m.end() - 1)) if m.group(1) == "{" else [m.group(1)]
            for item in items:
                module = item if item in names else exported.get(item)
                if module is None:
                    sys.exit(f"{path}: crate::{item} is neither a module nor re-exported by lib.rs")
                if module != name:
                    deps.add(module)

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
