#!/usr/bin/env python3
"""Turns the first N entries of a HAR file into load-generator inputs for scripts/bench-guard.sh:
a wrk Lua script that cycles through them, and a vegeta targets file (http format).

    scripts/guard-load.py HAR N OUTDIR
"""
import json
import os
import sys


def lua(s):
    """A Lua 5.1 string literal (no \\u escapes there: UTF-8 bytes as they are)."""
    return json.dumps(s, ensure_ascii=False)


def main():
    har, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    entries = json.load(open(har))["log"]["entries"][:n]
    os.makedirs(os.path.join(out, "bodies"), exist_ok=True)
    lua_lines = ["requests = {}"]
    targets = []
    for i, e in enumerate(entries):
        r = e["request"]
        path = r["url"].split("://", 1)[-1]
        path = path[path.index("/"):] if "/" in path else "/"
        headers = {h["name"]: h["value"] for h in r["headers"]}
        body = (r.get("postData") or {}).get("text", "")
        hl = ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in headers.items())
        lua_lines.append(f"requests[{i + 1}] = wrk.format({lua(r['method'])}, {lua(path)}, {{{hl}}}, {lua(body) if body else 'nil'})")
        t = [f"{r['method']} http://HOSTPORT{path}"] + [f"{k}: {v}" for k, v in headers.items()]
        if body:
            bp = os.path.join(out, "bodies", f"{i}.body")
            open(bp, "w").write(body)
            t.append(f"@{os.path.abspath(bp)}")
        targets.append("\n".join(t))
    lua_lines.append("local i = 0")
    lua_lines.append("request = function() i = i % #requests + 1; return requests[i] end")
    open(os.path.join(out, "typical.lua"), "w").write("\n".join(lua_lines) + "\n")
    open(os.path.join(out, "targets.txt"), "w").write("\n\n".join(targets) + "\n")


if __name__ == "__main__":
    main()
