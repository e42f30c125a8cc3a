#!/usr/bin/env python3
"""House rules that a compiler does not check, checked against the code itself:

1. The crate layers of docs/ARCHITECTURE.md (the block between `<!-- layers -->` markers) are the
   workspace's crates, each named `revenue-<folder>` after its folder under services/ (the CLI's
   binary keeps the name `revenue-engine`), and no crate depends (normal or build dependency) on
   a crate of its own or a higher layer. Dev-dependencies may reach higher (tests use tools).
2. No source file under services/*/src is over 600 lines, except test modules (`tests.rs`,
   files under a `tests/` folder) and generated files (marked `@generated` in their first lines).
3. The README's architecture section names every crate folder.

Exit 0 when all hold; otherwise each violation is printed and the exit code is 1.
"""
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
LIMIT = 600


def layers():
    text = (ROOT / "docs/ARCHITECTURE.md").read_text()
    block = re.search(r"<!-- layers -->(.*?)<!-- /layers -->", text, re.S)
    if not block:
        sys.exit("docs/ARCHITECTURE.md has no <!-- layers --> block")
    result = {}
    for line in block.group(1).splitlines():
        m = re.match(r"\|\s*(\d+)\s*\|\s*`([a-z-]+)`\s*\|\s*`services/([a-z]+)`", line)
        if m:
            result[m.group(2)] = (int(m.group(1)), m.group(3))
    return result


def main():
    problems = []
    declared = layers()
    meta = json.loads(
        subprocess.run(
            ["cargo", "metadata", "--no-deps", "--format-version", "1"],
            cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout
    )
    workspace = {p["name"]: p for p in meta["packages"]}
    for name in sorted(set(workspace) ^ set(declared)):
        where = "in Cargo.toml only" if name in workspace else "in docs/ARCHITECTURE.md only"
        problems.append(f"crate {name} is {where}")
    for name, package in sorted(workspace.items()):
        folder = pathlib.Path(package["manifest_path"]).parent.name
        if name != f"revenue-{folder}":
            problems.append(f"crate {name} lives in services/{folder}: name it revenue-{folder}")
        if name not in declared:
            continue
        layer, doc_folder = declared[name]
        if doc_folder != folder:
            problems.append(f"docs/ARCHITECTURE.md puts {name} in services/{doc_folder}, Cargo.toml in services/{folder}")
        for dep in package["dependencies"]:
            if dep["name"] not in declared or dep.get("kind") == "dev":
                continue
            dep_layer = declared[dep["name"]][0]
            if dep_layer >= layer:
                problems.append(
                    f"{name} (layer {layer}) depends on {dep['name']} (layer {dep_layer}): only lower layers may be used"
                )

    for path in sorted(ROOT.glob("services/*/src/**/*.rs")):
        rel = path.relative_to(ROOT)
        if path.name == "tests.rs" or "tests" in path.relative_to(ROOT / rel.parts[0] / rel.parts[1] / "src").parts[:-1]:
            continue
        text = path.read_text()
        if "@generated" in "\n".join(text.splitlines()[:5]):
            continue
        lines = text.count("\n")
        if lines > LIMIT:
            problems.append(f"{rel} has {lines} lines (limit {LIMIT}: split it by concern)")

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Architecture", 1)[-1].split("\n## ", 1)[0]
    for name, (_, folder) in declared.items():
        if f"{folder}/" not in section or name not in section:
            problems.append(f"README's architecture section does not name services/{folder} ({name})")

    for p in problems:
        print(f"architecture: {p}")
    if problems:
        return 1
    print(f"architecture: {len(workspace)} crates in {len(set(l for l, _ in declared.values()))} layers, "
          f"no upward dependency, no source file over {LIMIT} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
