#!/usr/bin/env python3
"""Checks that src/ modules include only modules of their own layer or
below, and that the include graph has no cycle. Layers, top down:
main → server → conn → handlers → cache/pool/infrastructure → pure.
Exit 1 (with the offending includes) on a violation or an unknown module."""
import os
import re
import sys

LAYERS = {
    5: ["main"],
    4: ["server"],
    3: ["conn"],
    2: ["static_file", "upload", "uploads_read"],
    1: ["fcache", "iopool", "ev", "docroot", "log", "http_resp", "response", "sdnotify",
        "privdrop", "compress", "tls", "ratelimit", "metrics", "cors", "sf_compress"],
    0: ["config", "http_parse", "json_check", "cond", "mime", "path", "range", "proxy_proto",
        "netaddr", "hostmatch", "chars"],
}
LEVEL = {m: lv for lv, ms in LAYERS.items() for m in ms}
INC = re.compile(r'^\s*#\s*include\s+"([^"]+)\.h"', re.M)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    deps, bad = {}, []
    for f in sorted(os.listdir(src)):
        m, ext = os.path.splitext(f)
        if ext not in (".c", ".h"):
            continue
        if m not in LEVEL:
            bad.append("%s: module %r has no layer (add it to tools/layers.py)" % (f, m))
            continue
        with open(os.path.join(src, f), encoding="utf-8") as fh:
            for dep in INC.findall(fh.read()):
                if dep == m:
                    continue
                deps.setdefault(m, set()).add(dep)
                if dep not in LEVEL:
                    bad.append("%s includes %s.h: unknown module" % (f, dep))
                elif LEVEL[dep] > LEVEL[m]:
                    bad.append("%s (layer %d) includes %s.h (layer %d): upwards" %
                               (f, LEVEL[m], dep, LEVEL[dep]))
    # No cycle, within a layer either.
    state = {}

    def visit(m, stack):
        state[m] = 1
        for d in sorted(deps.get(m, ())):
            if state.get(d) == 1:
                bad.append("include cycle: %s" % " → ".join(stack + [m, d]))
            elif state.get(d) is None:
                visit(d, stack + [m])
        state[m] = 2

    for m in sorted(deps):
        if state.get(m) is None:
            visit(m, [])
    for b in bad:
        print(b)
    print("layers: %d modules, %d violations" % (len({m for m in deps} | set(LEVEL) & set(deps)), len(bad)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
