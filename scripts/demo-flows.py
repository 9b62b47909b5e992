#!/usr/bin/env python3
"""Writes examples/demo-flows/hubble.jsonl: a day of the demo cluster's traffic as Cilium
Hubble would export it (`hubble observe -o json`: GetFlowsResponse lines, current schema with
`is_reply`, `traffic_direction` and `workloads`, requests and their replies, DNS, the odd
dropped packet). Deterministic; rerun after changing the demo cluster's workloads."""
import json, random

rnd = random.Random(7)
T = "2026-12-01T10:00:00Z"

# namespace, workload, kind, labels, pod ip, pod name
PODS = {
    "ingress": ("ingress-nginx", "ingress-nginx-controller", "Deployment",
                {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"},
                "10.244.1.10", "ingress-nginx-controller-7d9c6b5f4-x8k2p"),
    "web": ("shop", "web", "Deployment", {"app": "web", "tier": "frontend"}, "10.244.1.21", "web-6b7f9c8d54-q2w4e"),
    "api": ("shop", "api", "Deployment", {"app": "api", "tier": "backend"}, "10.244.2.31", "api-5f6d7c9b8-r5t6y"),
    "cart": ("shop", "cart", "Deployment", {"app": "cart", "tier": "backend"}, "10.244.2.32", "cart-7c8d9e6f5-u7i8o"),
    "redis": ("shop", "redis", "StatefulSet", {"app": "redis", "tier": "data"}, "10.244.3.41", "redis-0"),
    "gateway": ("payments", "gateway", "Deployment", {"app": "gateway"}, "10.244.3.51", "gateway-84f5d6c7b9-p9a8s"),
    "ledger": ("payments", "ledger-db", "StatefulSet", {"app": "ledger-db", "rampart.dev/crown-jewel": "true"}, "10.244.3.52", "ledger-db-0"),
    "grafana": ("monitoring", "grafana", "Deployment", {"app": "grafana"}, "10.244.2.61", "grafana-6c5b4a3d2-d1f2g"),
    "prometheus": ("monitoring", "prometheus", "Deployment", {"app": "prometheus"}, "10.244.2.62", "prometheus-5d4c3b2a1-h3j4k"),
    "node-exporter": ("monitoring", "node-exporter", "DaemonSet", {"app": "node-exporter"}, "10.244.1.63", "node-exporter-l5z6x"),
    "relay": ("ci", "webhook-relay", "Deployment", {"app": "webhook-relay"}, "10.244.1.71", "webhook-relay-9b8c7d6e5-c7v8b"),
    "deployer": ("ci", "deployer", "Deployment", {"app": "deployer"}, "10.244.1.72", "deployer-8a7b6c5d4-n9m0q"),
    "coredns": ("kube-system", "coredns", "Deployment", {"k8s-app": "kube-dns"}, "10.244.0.5", "coredns-5d78c9869d-w1e2r"),
}


def pod(key):
    ns, wl, kind, labels, ip, name = PODS[key]
    lab = [f"k8s:{k}={v}" for k, v in sorted(labels.items())]
    lab += [f"k8s:io.kubernetes.pod.namespace={ns}", "k8s:io.cilium.k8s.policy.cluster=default"]
    return ip, {"identity": 10000 + sorted(PODS).index(key), "namespace": ns, "labels": lab,
                "pod_name": name, "workloads": [{"name": wl, "kind": kind}]}


def world(ip):
    return ip, {"identity": 2, "labels": ["reserved:world"]}


APISERVER = ("172.18.0.2", {"identity": 7, "labels": ["reserved:kube-apiserver", "reserved:host"]})

lines = []


def flow(src, dst, proto, sport, dport, reply, verdict="FORWARDED", dns=False, direction=True):
    (sip, se), (dip, de) = src, dst
    l4 = {proto: {"source_port": sport, "destination_port": dport}}
    if proto == "TCP":
        l4[proto]["flags"] = {"ACK": True} if reply else {"SYN": True}
    f = {"time": T, "verdict": verdict,
         "IP": {"source": sip, "destination": dip, "ipVersion": "IPv4"},
         "l4": l4, "source": se, "destination": de, "Type": "L3_L4",
         "node_name": "demo-worker", "is_reply": reply}
    if direction:
        f["traffic_direction"] = "INGRESS" if not reply else "EGRESS"
    if verdict == "DROPPED":
        f["drop_reason_desc"] = "POLICY_DENIED"
    if dns:
        f["Type"] = "L7"
        f["l7"] = {"type": "REQUEST" if not reply else "RESPONSE", "dns": {"query": "api.shop.svc.cluster.local."}}
    lines.append({"flow": f, "node_name": "demo-worker", "time": T})


def conn(a, b, proto, port, times=3, dns=False):
    for _ in range(times):
        sport = rnd.randint(32768, 60999)
        flow(a, b, proto, sport, port, False, dns=dns)
        flow(b, a, proto, port, sport, True, dns=dns)


# The internet reaches the ingress controller (many addresses on 443, a few on 80),
# grafana's and the relay's exposed ports.
for i in range(24):
    conn(world(f"203.0.113.{10 + i}"), pod("ingress"), "TCP", 443, times=1)
for i in range(3):
    conn(world(f"198.51.100.{20 + i}"), pod("ingress"), "TCP", 80, times=1)
conn(world("192.0.2.44"), pod("grafana"), "TCP", 3000)
conn(world("140.82.112.3"), pod("relay"), "TCP", 8080)
# The shop.
conn(pod("ingress"), pod("web"), "TCP", 8080, times=5)
conn(pod("web"), pod("api"), "TCP", 9000, times=5)
conn(pod("web"), pod("cart"), "TCP", 7070, times=4)
conn(pod("cart"), pod("redis"), "TCP", 6379, times=4)
conn(pod("api"), pod("gateway"), "TCP", 8443, times=3)
# Payments: the ledger, and the card processor outside.
conn(pod("gateway"), pod("ledger"), "TCP", 5432, times=3)
conn(pod("gateway"), world("198.51.100.10"), "TCP", 443, times=2)
# Monitoring.
conn(pod("grafana"), pod("prometheus"), "TCP", 9090, times=2)
conn(pod("prometheus"), pod("node-exporter"), "TCP", 9100, times=2)
conn(pod("prometheus"), pod("web"), "TCP", 8080, times=1)
# CI: the deployer talks to the API server; the relay forwards to the deployer? no: to GitHub.
conn(pod("deployer"), APISERVER, "TCP", 6443, times=2)
conn(pod("relay"), world("140.82.112.4"), "TCP", 443, times=1)
# DNS from every workload that resolves names.
for k in ["web", "api", "cart", "gateway", "grafana", "prometheus", "relay", "deployer"]:
    conn(pod(k), pod("coredns"), "UDP", 53, times=1, dns=True)
# A capture from before is_reply existed: no direction at all (told from the ports).
sport = 41234
flow(pod("web"), pod("api"), "TCP", sport, 9000, None, direction=False)
lines[-1]["flow"].pop("is_reply")
lines[-1]["flow"]["l4"]["TCP"]["flags"] = {"ACK": True, "PSH": True}
# The kubelet probes web (from the host: every CNI lets it through).
flow(("10.244.1.1", {"identity": 1, "labels": ["reserved:host"]}), pod("web"), "TCP", 50000, 8080, False)
# A dropped attempt: the relay tried the ledger directly.
flow(pod("relay"), pod("ledger"), "TCP", 45678, 5432, False, verdict="DROPPED")
# A finished job's pod the cluster dump no longer has.
ghost = ("10.244.2.99", {"identity": 10099, "namespace": "ci", "labels": ["k8s:job-name=migrate-1234"], "pod_name": "migrate-1234-abcde"})
flow(ghost, pod("coredns"), "UDP", 40000, 53, False)

with open("examples/demo-flows/hubble.jsonl", "w") as out:
    for l in lines:
        out.write(json.dumps(l, separators=(",", ":")) + "\n")
print(len(lines), "flows")
