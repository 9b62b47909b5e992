#!/usr/bin/env python3
"""Assertions of scripts/e2e-real.sh over JSON the API server and rampart return.

Each subcommand prints what it compared and exits 0 when the assertion holds, 1 when it does not.

  same-ids LIVE SCAN                 chain and cut ids of /findings equal those of `rampart scan`
  events EVENTS FINDINGS             one AttackChainProven Event per chain, named for it, with a UID
  rbac RENDERED PERMISSIONS NAME     the rules of the chart's (Cluster)Roles NAME, NAME-leader equal
                                     `rampart permissions` (nothing missing, nothing extra)
  ledger MITIGATIONS POLICIES        no orphan (every rampart NetworkPolicy owned by a Mitigation
                                     that exists) and no duplicate (one live Mitigation per object)
  audit LOG USER...                  requests of USERs in the API server's audit log: none refused
                                     for want of a permission; prints what each asked for. The
                                     windows in LOG's folder's `not-ready` (an API server restart
                                     until /readyz, written by scripts/control-plane.sh) are apart
"""
import json
import os
import sys
from collections import Counter, defaultdict


def load(path):
    with open(path) as f:
        return json.load(f)


def items(doc):
    """Objects of a `kubectl … -o json` answer: a List, or one object."""
    if doc.get("kind", "").endswith("List") or "items" in doc:
        return doc.get("items", [])
    return [doc]


def same_ids(live_path, scan_path):
    live, scan = load(live_path), load(scan_path)
    ids = lambda d, k: sorted(x["id"] for x in d.get(k, []))
    print(f"e2e:      live {len(ids(live, 'chains'))} chains / {len(ids(live, 'cuts'))} cuts, "
          f"scan {len(ids(scan, 'chains'))} / {len(ids(scan, 'cuts'))}")
    ok = ids(live, "chains") == ids(scan, "chains") and ids(live, "cuts") == ids(scan, "cuts")
    if not ok:
        for k in ("chains", "cuts"):
            a, b = set(ids(live, k)), set(ids(scan, k))
            if a != b:
                print(f"e2e:      {k} only live: {sorted(a - b)[:5]} only scan: {sorted(b - a)[:5]}")
    return ok and bool(ids(live, "chains"))


def events(events_path, findings_path):
    evs = [e for e in items(load(events_path)) if e.get("reason") == "AttackChainProven"]
    chains = {c["id"] for c in load(findings_path)["chains"]}
    named = {e["metadata"]["name"].removeprefix("rampart.") for e in evs}
    uids = all(e.get("regarding", {}).get("uid") for e in evs)
    print(f"e2e:      {len(evs)} AttackChainProven events for {len(chains)} chains, "
          f"every one with a UID: {uids}")
    return named == chains and len(evs) == len(chains) and uids


def rules_of(rendered, name):
    """(group, resource, verb, namespace) the chart grants the component NAME."""
    out = set()
    for o in items(rendered):
        if o.get("kind") not in ("ClusterRole", "Role"):
            continue
        if o["metadata"]["name"] not in (name, name + "-leader"):
            continue
        ns = o["metadata"].get("namespace") if o["kind"] == "Role" else None
        for r in o.get("rules", []):
            for g in r.get("apiGroups", []):
                for res in r.get("resources", []):
                    for v in r.get("verbs", []):
                        out.add((g, res, v, ns))
    return out


def rbac(rendered_path, permissions_path, name):
    granted = rules_of(load(rendered_path), name)
    asked = set()
    for a in load(permissions_path):
        res = a["resource"] + ("/" + a["subresource"] if a.get("subresource") else "")
        asked.add((a["group"], res, a["verb"], a.get("namespace")))
    missing, extra = asked - granted, granted - asked
    print(f"e2e:      {name}: {len(granted)} granted, {len(asked)} asked for"
          + (f"; missing {sorted(missing, key=str)}" if missing else "")
          + (f"; extra {sorted(extra, key=str)}" if extra else ""))
    return not missing and not extra


def ledger(mitigations_path, policies_path):
    ms = items(load(mitigations_path))
    nps = items(load(policies_path))
    uids = {m["metadata"]["uid"] for m in ms}
    orphans = [p["metadata"]["namespace"] + "/" + p["metadata"]["name"] for p in nps
               if not any(r.get("kind") == "Mitigation" and r.get("uid") in uids
                          for r in p["metadata"].get("ownerReferences", []))]
    live = [m for m in ms if m.get("status", {}).get("phase") in ("Applied", "Proposed", None)]
    objects = Counter((m["metadata"]["namespace"], m["spec"]["object"]["metadata"]["name"])
                      for m in live if m["spec"].get("object"))
    dups = [k for k, n in objects.items() if n > 1]
    applied = sum(1 for m in ms if m.get("status", {}).get("phase") == "Applied")
    print(f"e2e:      {len(ms)} Mitigations ({applied} Applied), {len(nps)} rampart NetworkPolicies;"
          f" orphans {orphans}, duplicates {dups}")
    return not orphans and not dups and applied > 0


def not_ready_windows(log_path):
    """(from, to) spans, as RFC 3339 strings, when the API server restarted and was not yet
    ready: `not-ready` beside the audit log, one "FROM TO" line a restart."""
    path = os.path.join(os.path.dirname(log_path), "not-ready")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [tuple(line.split()[:2]) for line in f if len(line.split()) >= 2]


def utc(stamp):
    """An audit or `date` timestamp as comparable text: RFC 3339 UTC, microseconds."""
    head, _, frac = stamp.rstrip("Z").partition(".")
    return f"{head}.{(frac + '000000')[:6]}Z"


def audit(log_path, users):
    """A permission is missing when a request is refused and the same request (user, verb,
    resource) is never allowed. Listed apart: a refusal while the API server was restarting and
    not yet ready (its RBAC authorizer answers from caches still filling), and a 403 that later
    succeeds (the same warming, seen from the client's retry)."""
    windows = [(utc(a), utc(b)) for a, b in not_ready_windows(log_path)]
    asked = defaultdict(Counter)
    refused, allowed, warming = Counter(), set(), Counter()
    with open(log_path) as f:
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            user = e.get("user", {}).get("username")
            if user not in users or e.get("stage") != "ResponseComplete":
                continue
            ref = e.get("objectRef", {})
            res = ref.get("resource", e.get("requestURI", "?"))
            if ref.get("subresource"):
                res += "/" + ref["subresource"]
            key = f"{e.get('verb')} {ref.get('apiGroup', '')}/{res}"
            asked[user][key] += 1
            if e.get("responseStatus", {}).get("code", 0) in (401, 403):
                at = utc(e.get("requestReceivedTimestamp", "0000-00-00T00:00:00Z"))
                if any(a <= at <= b for a, b in windows):
                    warming[(user, key)] += 1
                else:
                    refused[(user, key)] += 1
            else:
                allowed.add((user, key))
    for user in users:
        print(f"e2e:      {user.split(':')[-1]}: {sum(asked[user].values())} requests: "
              + ", ".join(sorted(asked[user])))
    missing = sorted(k for k in refused if k not in allowed)
    transient = sorted(k for k in refused if k in allowed)

    def listed(keys, counts):
        return "; ".join(f"{u.split(':')[-1]}: {k} ×{counts[(u, k)]}" for u, k in keys)

    if warming:
        print("e2e:      refused while the API server restarted, before /readyz: "
              + listed(sorted(warming), warming))
    if transient:
        print("e2e:      refused, then allowed (RBAC caches warming after the API server restart): "
              + listed(transient, refused))
    if missing:
        # On stderr too, so that a CI log cut to its tail still says which.
        text = "refused, never allowed: " + listed(missing, refused)
        print("e2e:      " + text)
        print("e2e: audit: " + text, file=sys.stderr)
    return not missing and all(asked[u] for u in users)


def main(argv):
    cmd, args = argv[1], argv[2:]
    ok = {
        "same-ids": lambda: same_ids(*args),
        "events": lambda: events(*args),
        "rbac": lambda: rbac(*args),
        "ledger": lambda: ledger(*args),
        "audit": lambda: audit(args[0], args[1:]),
    }[cmd]()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
