#!/usr/bin/env python3
"""The hostile-input tour of a rampart release build (run by scripts/adversarial.sh).

Each case attacks one entry point the way an attacker who can reach it would, observes what
rampart does, and compares it with what a hardened tool must do. Everything runs on loopback,
every loop is bounded in count and time. Standard library only.

Usage: adversarial.py RAMPART_BINARY [CASE_SUBSTRING ...]
"""

import base64
import json
import os
import re
import resource
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time

BIN = os.path.abspath(sys.argv[1])
ONLY = sys.argv[2:]
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
WORK = tempfile.mkdtemp(prefix="rampart-adversarial-")
ROWS = []

# The tour opens more sockets than a default soft limit allows.
_soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(_hard, 65536), _hard))


def row(case, expected, observed, ok):
    ROWS.append((case, expected, observed, "ok" if ok else "FAIL"))
    print(f"  {case}: {observed} -> {'ok' if ok else 'FAIL'}", flush=True)


def wanted(case):
    return not ONLY or any(o in case for o in ONLY)


def status(pid, key):
    """VmRSS / VmHWM of a process in MB; a value that cannot be read fails the tour."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) // 1024
    raise RuntimeError(f"no {key} for {pid}")


def reset_peak(pid):
    """Resets VmHWM, so a peak measured next belongs to the case that follows."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


class Server:
    """A rampart server process; waits until its listening line appears on stderr."""

    def __init__(self, args, ready, env=None, prefix=()):
        """`ready`: the lines that must appear; `//127.0.0.1:PORT` after each is its port."""
        self.log = open(os.path.join(WORK, f"server-{len(ROWS)}-{time.time_ns()}.log"), "w+")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(list(prefix) + [BIN] + args, stdout=self.log, stderr=self.log, env=e)
        deadline = time.time() + 20
        while time.time() < deadline:
            self.log.flush()
            with open(self.log.name) as f:
                text = f.read()
            if all(r in text for r in ready):
                self.ports = [int(re.search(re.escape(r) + r" https?://127\.0\.0\.1:(\d+)", text).group(1))
                              for r in ready]
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {text}")
            time.sleep(0.05)
        raise RuntimeError("server did not start: " + open(self.log.name).read())

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def tls_ctx(alpn=("http/1.1",)):
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    c.set_alpn_protocols(list(alpn))
    return c


def tls_connect(port, alpn=("http/1.1",), timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return tls_ctx(alpn).wrap_socket(s, server_hostname="localhost")


def read_all(s, limit=10.0):
    """Reads until the peer closes or `limit` seconds pass; returns (bytes, seconds, closed)."""
    start = time.time()
    out = b""
    s.settimeout(0.5)
    while time.time() - start < limit:
        try:
            b = s.recv(65536)
        except (socket.timeout, TimeoutError):
            continue
        except (ssl.SSLError, OSError):
            return out, time.time() - start, True
        if not b:
            return out, time.time() - start, True
        out += b
    return out, time.time() - start, False


def http(port, method, path, body=b"", headers=None, tls=False, timeout=5.0):
    """One HTTP/1.1 request on a fresh connection: (status or None, body, seconds)."""
    start = time.time()
    try:
        s = tls_connect(port, timeout=timeout) if tls else socket.create_connection(("127.0.0.1", port), timeout=timeout)
        h = {"Host": "localhost", "Connection": "close", "Content-Length": str(len(body))}
        h.update(headers or {})
        req = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
        s.sendall(req.encode() + body)
        out, _, _ = read_all(s, timeout)
        s.close()
    except OSError as e:
        return None, str(e).encode(), time.time() - start
    head, _, rest = out.partition(b"\r\n\r\n")
    try:
        code = int(head.split(b" ")[1])
    except (IndexError, ValueError):
        code = None
    return code, rest, time.time() - start


# ---- HTTP/2 frames, by hand (no client library would send these) -------------------------

def h2_frame(kind, flags, stream, payload):
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def hpack_int(value, prefix_bits, first=0):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append((value % 128) + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_literal(name, value):
    """Literal header field without indexing, new name, no Huffman."""
    return b"\x00" + hpack_int(len(name), 7) + name + hpack_int(len(value), 7) + value


def h2_get_block(path=b"/healthz"):
    # :method GET (2), :scheme https (7) indexed; :path and :authority literal with indexed name.
    return b"\x82\x87" + b"\x04" + hpack_int(len(path), 7) + path + b"\x01" + hpack_int(9, 7) + b"localhost"


def h2_open(port):
    s = tls_connect(port, alpn=("h2",))
    assert s.selected_alpn_protocol() == "h2", s.selected_alpn_protocol()
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + h2_frame(4, 0, 0, b""))
    return s


def drain(s, stop):
    s.settimeout(0.2)
    while not stop.is_set():
        try:
            if not s.recv(65536):
                return
        except (socket.timeout, TimeoutError):
            continue
        except OSError:
            return


# ---- the cases -------------------------------------------------------------------------------

def webhook_cases():
    cert, key = os.path.join(WORK, "c.pem"), os.path.join(WORK, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    # Shorter timeouts than the defaults (5 s, 10 s) keep the tour short; the bounds below
    # leave each case several seconds of slack on a loaded machine.
    srv = Server(["webhook", "--tls-cert", cert, "--tls-key", key, "--addr", "127.0.0.1:0",
                  "--header-timeout", "2s", "--request-timeout", "5s",
                  "--policies", os.path.join(ROOT, "examples/policies"),
                  "--namespaces", os.path.join(ROOT, "examples/policies/namespaces.yaml")], ["listening on"])
    port = srv.ports[0]

    def healthy():
        code, _, secs = http(port, "GET", "/healthz", tls=True)
        return code == 200, f"healthz {code} in {secs:.2f} s"

    try:
        if wanted("webhook: idle TLS flood"):
            held = []
            for _ in range(1100):
                try:
                    held.append(tls_connect(port))
                except OSError:
                    break
            ok, obs = healthy()
            row("webhook: idle TLS flood (1100 handshakes that send nothing)", "a fresh request answered within 5 s",
                f"{len(held)} held; {obs}", ok)
            for h in held:
                h.close()

        if wanted("webhook: silent TCP"):
            s = socket.create_connection(("127.0.0.1", port))
            _, secs, closed = read_all(s, 15)
            row("webhook: silent TCP (no handshake; handshake timeout 5 s)", "closed within 9 s",
                f"closed={closed} after {secs:.1f} s", closed and secs < 9)
            s = tls_connect(port)
            _, secs, closed = read_all(s, 15)
            row("webhook: handshake, then silence (header timeout 2 s)", "closed within 6 s",
                f"closed={closed} after {secs:.1f} s", closed and secs < 6)

        if wanted("webhook: slow body"):
            s = tls_connect(port)
            s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                      b"Content-Length: 3000000\r\n\r\n" + b"{" * 1024)
            out, secs, closed = read_all(s, 30)
            code = out.split(b" ")[1].decode() if out.count(b" ") else "-"
            row("webhook: slow body (3 MB announced, 1 KB sent; request timeout 5 s)", "408 and closed within 9 s",
                f"{code} after {secs:.1f} s", closed and code == "408" and secs < 9)

        if wanted("webhook: trickled chunked body"):
            s = tls_connect(port)
            s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            start, closed = time.time(), False
            s.settimeout(1.0)
            while time.time() - start < 30:
                try:
                    s.sendall(b"1\r\n{\r\n")
                    if s.recv(65536) == b"":
                        closed = True
                        break
                    closed = True
                    break
                except (socket.timeout, TimeoutError):
                    continue
                except OSError:
                    closed = True
                    break
            secs = time.time() - start
            row("webhook: trickled chunked body (1 byte/s; request timeout 5 s)", "answered or closed within 9 s",
                f"closed={closed} after {secs:.1f} s", closed and secs < 9)

        if wanted("webhook: header flood"):
            s = tls_connect(port)
            hdrs = b"".join(b"X-H%d: %s\r\n" % (i, b"a" * 50) for i in range(10000))
            try:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + hdrs + b"\r\n")
            except OSError:
                pass
            out, secs, closed = read_all(s, 10)
            code = out.split(b" ")[1].decode() if out.count(b" ") else "none"
            ok, obs = healthy()
            row("webhook: header flood (10,000 headers)", "refused and closed, then healthy",
                f"{code}, closed={closed}; {obs}", code != "200" and closed and ok)

        if wanted("webhook: HTTP/2 rapid reset"):
            rss0 = status(srv.pid, "VmRSS")
            s = h2_open(port)
            sent, goaway = 0, False
            try:
                for batch in range(200):
                    frames = b""
                    for i in range(100):
                        sid = 2 * (batch * 100 + i) + 1
                        frames += h2_frame(1, 0x5, sid, h2_get_block()) + h2_frame(3, 0, sid, struct.pack(">I", 8))
                    s.sendall(frames)
                    sent += 100
                    # Read what came back without waiting (one thread per SSL socket).
                    s.settimeout(0.001)
                    try:
                        while True:
                            b = s.recv(65536)
                            if not b:
                                raise OSError("closed")
                            goaway = goaway or b"\x07\x00\x00\x00\x00\x00" in b
                    except (socket.timeout, TimeoutError, ssl.SSLWantReadError):
                        pass
            except OSError:
                pass
            ok, obs = healthy()
            rss = status(srv.pid, "VmRSS")
            row("webhook: HTTP/2 rapid reset (20,000 HEADERS+RST_STREAM)", "healthy, memory < +100 MB",
                f"{sent} sent before close; {obs}; RSS {rss0}->{rss} MB", ok and rss - rss0 < 100)

        if wanted("webhook: HTTP/2 CONTINUATION flood"):
            rss0 = status(srv.pid, "VmRSS")
            s = h2_open(port)
            sent = 0
            try:
                s.sendall(h2_frame(1, 0x1, 1, h2_get_block()))  # no END_HEADERS
                block = hpack_literal(b"x-flood", b"a" * 1000)
                for _ in range(20000):
                    s.sendall(h2_frame(9, 0, 1, block))
                    sent += 1
            except OSError:
                pass
            _, _, closed = read_all(s, 5)
            ok, obs = healthy()
            rss = status(srv.pid, "VmRSS")
            row("webhook: HTTP/2 CONTINUATION flood (20 MB of headers)", "connection refused early, healthy",
                f"{sent} frames accepted, closed={closed}; {obs}; RSS {rss0}->{rss} MB",
                ok and closed and sent < 20000 and rss - rss0 < 100)

        if wanted("webhook: malformed reviews"):
            codes = []
            for body in [b"[" * 200000, b"{\"request\": " * 50000, b"\xff\xfe\x00", b"{}", b"null",
                         json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                                     "request": {"uid": 1}}).encode()]:
                code, _, _ = http(port, "POST", "/validate", body, {"Content-Type": "application/json"}, tls=True)
                codes.append(code)
            ok, obs = healthy()
            row("webhook: malformed reviews (deep nesting, bad UTF-8, wrong shapes)", "400 each, healthy",
                f"{codes}; {obs}", all(c == 400 for c in codes) and ok and srv.alive())

        if wanted("webhook: huge review"):
            containers = [{"name": f"c{i}", "image": "docker.io/library/nginx:1.27",
                           "securityContext": {"privileged": True},
                           "env": [{"name": "PADDING", "value": "x" * 120}]} for i in range(10000)]
            review = json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                "uid": "u", "kind": {"group": "", "version": "v1", "kind": "Pod"},
                "resource": {"group": "", "version": "v1", "resource": "pods"}, "namespace": "shop", "name": "p",
                "operation": "CREATE", "userInfo": {"username": "bob"},
                "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "shop"},
                           "spec": {"containers": containers}}}}).encode()
            rss0 = status(srv.pid, "VmRSS")
            reset_peak(srv.pid)
            code, body, secs = http(port, "POST", "/validate", review, {"Content-Type": "application/json"},
                                    tls=True, timeout=15)
            rss1 = status(srv.pid, "VmHWM")
            try:
                message = json.loads(body)["response"]["status"]["message"]
            except (ValueError, KeyError, TypeError):
                message = ""
            row(f"webhook: huge review ({len(review) // 1024} KiB, 10,000 privileged containers)",
                "denied, response < 64 KiB, peak memory < 150 MB",
                f"{code}, {len(body)} bytes, 'more' counted={'more' in message}, RSS {rss0} MB, peak {rss1} MB",
                code == 200 and len(body) < 65536 and "more" in message and rss1 < 150)

            results = []

            def one():
                results.append(http(port, "POST", "/validate", review, {"Content-Type": "application/json"},
                                    tls=True, timeout=30)[0])

            reset_peak(srv.pid)
            threads = [threading.Thread(target=one) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            hwm = status(srv.pid, "VmHWM")
            time.sleep(1)
            rss2 = status(srv.pid, "VmRSS")
            row("webhook: 16 huge reviews at once", "all answered, peak < 300 MB, < 100 MB after",
                f"{results.count(200)}/16 answered, peak {hwm} MB, RSS after {rss2} MB",
                results.count(200) == 16 and hwm < 300 and rss2 < 100)
        row("webhook: still serving after the tour", "process alive", f"alive={srv.alive()}", srv.alive())
    finally:
        srv.stop()


def engine_cases():
    kubeconfig = os.path.join(WORK, "kubeconfig")
    with open(kubeconfig, "w") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: \"http://127.0.0.1:1\"}}]\n"
                "users: [{name: u, user: {token: x}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n"
                "current-context: c\n")
    token = os.path.join(WORK, "ingest-token")
    with open(token, "w") as f:
        f.write("s3cret-ingest\n")
    dtoken = os.path.join(WORK, "dashboard-token")
    with open(dtoken, "w") as f:
        f.write("s3cret-dashboard\n")

    if wanted("engine: dashboard default"):
        out = subprocess.run([BIN, "engine", "--help"], capture_output=True, text=True).stdout
        ok = "127.0.0.1:8080" in out and "0.0.0.0:8080" not in out
        row("engine: dashboard bind default", "loopback", "127.0.0.1:8080" if ok else "not loopback", ok)

    srv = Server(["engine", "--ingest-addr", "127.0.0.1:0", "--dashboard-addr", "127.0.0.1:0",
                  "--ingest-token-file", token], ["ingest on", "dashboard on"],
                 env={"KUBECONFIG": kubeconfig}, prefix=["prlimit", "--nofile=1024:1024"])
    ingest, dash = srv.ports
    try:
        if wanted("engine: plain ingest flood"):
            held = []
            for _ in range(1100):
                try:
                    c = socket.create_connection(("127.0.0.1", ingest), timeout=2)
                    c.send(b"G")
                    held.append(c)
                except OSError:
                    break
            code, _, secs = http(dash, "GET", "/status")
            _, metrics, _ = http(dash, "GET", "/metrics")
            evicted = re.search(rb'rampart_http_connections_closed_total\{reason="evicted"\} (\d+)', metrics)
            evicted = int(evicted.group(1)) if evicted else 0
            row("engine: 1100 one-byte ingest connections, fd limit 1024", "dashboard answers within 5 s",
                f"{len(held)} sent; {evicted} evicted; status {code} in {secs:.2f} s", code == 200 and evicted > 0)
            for h in held:
                h.close()

        if wanted("engine: dashboard headers"):
            s = socket.create_connection(("127.0.0.1", dash))
            s.sendall(b"GET /findings HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = read_all(s, 5)[0].partition(b"\r\n\r\n")[0].decode().lower()
            s = socket.create_connection(("127.0.0.1", dash))
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            page = read_all(s, 5)[0].partition(b"\r\n\r\n")[0].decode().lower()
            ok = ("x-content-type-options: nosniff" in head and "cache-control: no-store" in head
                  and "content-security-policy:" in page and "script-src 'self'" in page)
            row("engine: dashboard headers", "nosniff, no-store on findings, strict CSP on the page",
                "present" if ok else "missing", ok)

        if wanted("engine: ingest token probing"):
            good, _, _ = http(ingest, "POST", "/falco", b"[]", {"Authorization": "Bearer s3cret-ingest",
                                                              "Content-Type": "application/json"})
            codes = set()
            for i in range(300):
                code, _, _ = http(ingest, "POST", "/falco", b"{}", {"Authorization": f"Bearer guess-{i}"})
                codes.add(code)
            row("engine: ingest token probing (300 wrong tokens)", "only 401/429, the right token works",
                f"{sorted(c for c in codes if c)}; right token {good}", codes <= {401, 429} and good == 200)
    finally:
        srv.stop()

    if wanted("engine: dashboard token"):
        srv = Server(["engine", "--dashboard-addr", "127.0.0.1:0", "--dashboard-token-file", dtoken],
                     ["dashboard on"], env={"KUBECONFIG": kubeconfig})
        dash = srv.ports[0]
        try:
            none, _, _ = http(dash, "GET", "/status")
            basic = base64.b64encode(b"admin:s3cret-dashboard").decode()
            good, _, _ = http(dash, "GET", "/status", headers={"Authorization": f"Basic {basic}"})
            bearer, _, _ = http(dash, "GET", "/status", headers={"Authorization": "Bearer s3cret-dashboard"})
            probe, _, _ = http(dash, "GET", "/healthz")
            row("engine: dashboard token", "401 without, 200 with (Basic or Bearer), /healthz open",
                f"{none}/{good}/{bearer}/{probe}", (none, good, bearer, probe) == (401, 200, 200, 200))
        finally:
            srv.stop()


def scan(args, timeout=30):
    start = time.time()
    try:
        p = subprocess.run([BIN, "scan"] + args, capture_output=True, timeout=timeout)
        return p.returncode, p.stdout + p.stderr, time.time() - start
    except subprocess.TimeoutExpired:
        return "timeout", b"", time.time() - start


def loader_cases():
    def fresh(name):
        d = os.path.join(WORK, name)
        os.makedirs(d)
        return d

    pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: a}\nspec: {containers: [{name: c, image: x}]}\n"
    if wanted("loader: FIFO"):
        d = fresh("fifo")
        os.mkfifo(os.path.join(d, "x.yaml"))
        code, out, secs = scan([d], 15)
        row("loader: FIFO named x.yaml", "error, no hang", f"exit {code} in {secs:.1f} s",
            code == 2 and b"not a regular file" in out)

    if wanted("loader: symlink loops"):
        d = fresh("loops")
        with open(os.path.join(d, "p.yaml"), "w") as f:
            f.write(pod)
        os.symlink(".", os.path.join(d, "a"))
        os.symlink(".", os.path.join(d, "b"))
        code, out, secs = scan([d, "--format", "json"], 15)
        row("loader: two symlinks to '.'", "each file read once, in seconds", f"exit {code} in {secs:.1f} s",
            code in (0, 1) and secs < 15)

    if wanted("loader: /dev/zero"):
        code, out, secs = scan(["--max-file-size", "1000", "/dev/zero"], 15)
        row("loader: /dev/zero with --max-file-size 1000", "error, no unbounded read", f"exit {code} in {secs:.1f} s",
            code == 2)

    if wanted("loader: symlink out of the tree"):
        d = fresh("escape")
        outside = fresh("outside")
        with open(os.path.join(outside, "secret.yaml"), "w") as f:
            f.write(pod)
        os.symlink(outside, os.path.join(d, "link"))
        code, out, _ = scan([d])
        row("loader: symlink leading out of the input tree", "not followed, said", f"exit {code}",
            b"outside the input directory" in out)

    if wanted("loader: token in a malformed file"):
        d = fresh("token-echo")
        secret = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
        with open(os.path.join(d, "bad.yaml"), "w") as f:
            f.write(f"apiVersion: v1\nkind: Secret\nmetadata: {secret}\n")
        with open(os.path.join(d, "bad.json"), "w") as f:
            f.write('{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ["%s"]}}' % secret)
        code, out, _ = scan([d])
        row("loader: token inside a malformed file", "error without the token", f"exit {code}",
            secret.encode() not in out and secret[20:40].encode() not in out)

    if wanted("loader: List items"):
        d = fresh("list")
        with open(os.path.join(d, "l.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: List\nitems: {a: 1}\n")
        code, out, _ = scan([d])
        row("loader: YAML List whose items is not a list", "clear error", f"exit {code}",
            code == 2 and b"must be a list" in out)

    if wanted("loader: UTF-16"):
        d = fresh("utf16")
        with open(os.path.join(d, "p.yaml"), "wb") as f:
            f.write(pod.encode("utf-16"))
        code, out, _ = scan([d])
        row("loader: UTF-16 manifest", "says UTF-16", f"exit {code}", b"UTF-16" in out)

    if wanted("loader: terminal escapes"):
        d = fresh("escapes")
        with open(os.path.join(d, "svc.json"), "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Service",
                       "metadata": {"name": "web\x1b[2J\x1b]0;pwned\x07", "namespace": "a\u202e"},
                       "spec": {"type": "LoadBalancer", "selector": {"app": "w"}, "ports": [{"port": 80}]}}, f)
        with open(os.path.join(d, "pod.json"), "w") as f:
            json.dump({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": "w\x1b[31m", "namespace": "a\u202e", "labels": {"app": "w"}},
                       "spec": {"containers": [{"name": "c", "image": "x", "ports": [{"containerPort": 80}],
                                                "securityContext": {"privileged": True}}]}}, f)
        code, out, _ = scan([d])
        row("loader: terminal escapes and bidi in names", "chains shown, names escaped", f"exit {code}",
            code == 1 and b"\x1b" not in out and "\u202e".encode() not in out and b"web\\x1b[2J" in out)

    if wanted("loader: billion laughs"):
        d = fresh("laughs")
        lines = ["a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
        for i in range(1, 10):
            prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
            lines.append(f"{cur}: &{cur} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]")
        with open(os.path.join(d, "laughs.yaml"), "w") as f:
            f.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata:\n  " + "\n  ".join(lines) + "\n")
        code, out, secs = scan([d], 30)
        row("loader: billion laughs", "bounded error, seconds", f"exit {code} in {secs:.1f} s",
            code in (0, 1, 2) and secs < 30)

    if wanted("loader: deep nesting"):
        d = fresh("deep")
        with open(os.path.join(d, "deep.json"), "w") as f:
            f.write("[" * 200000)
        with open(os.path.join(d, "deep.yaml"), "w") as f:
            f.write("a: " + "[" * 200000)
        code, out, secs = scan([d], 30)
        row("loader: deep nesting (200,000 levels)", "error, no crash", f"exit {code} in {secs:.1f} s", code == 2)

    if wanted("loader: 300 MB dump"):
        d = fresh("huge")
        with open(os.path.join(d, "dump.json"), "wb") as f:
            f.truncate(300 * 1024 * 1024)
        code, out, secs = scan([d], 90)
        row("loader: 300 MB dump of zeros", "error in bounded time", f"exit {code} in {secs:.1f} s", code == 2)


def flows_cases():
    """`rampart netpol suggest` on hostile captures, each with its own peak RSS."""
    peaks = []
    good = (b'{"flow":{"verdict":"FORWARDED","IP":{"source":"10.244.1.21","destination":"10.244.2.31"},'
            b'"l4":{"TCP":{"source_port":40000,"destination_port":9000}},"source":{"namespace":"shop",'
            b'"pod_name":"web-6b7f9c8d54-q2w4e","labels":["k8s:app=web"]},"destination":{"namespace":"shop",'
            b'"pod_name":"api-5f6d7c9b8-r5t6y","labels":["k8s:app=api"]},"is_reply":false}}\n')
    bad = b'{"flow":{"verdict":"FORW\n{"flow":{"IP":{"source":"999.1.1.1"}}}\n\x00\xff garbage\n'
    ghost = good.replace(b"web-6b7f9c8d54-q2w4e", b"ghost-1").replace(b"10.244.1.21", b"10.99.99.99")
    cluster = "examples/demo-cluster"

    def suggest(flows_arg, stdin_bytes=None, stream=None, timeout=120):
        start = time.time()
        p = subprocess.Popen([BIN, "netpol", "suggest", "--flows", flows_arg, cluster, "-f", "text", "--no-chains"],
                             stdin=subprocess.PIPE if (stdin_bytes is not None or stream) else subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # A hung command is killed: the reads below then end.
        watchdog = threading.Timer(timeout, p.kill)
        watchdog.start()
        try:
            if stream:
                for chunk in stream:
                    p.stdin.write(chunk)
                p.stdin.close()
                out = p.stdout.read()
            elif stdin_bytes is not None:
                p.stdin.write(stdin_bytes)
                p.stdin.close()
                out = p.stdout.read()
            else:
                out = p.stdout.read()
            # This child's own peak RSS (not the tour's other children's).
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            peaks.append(usage.ru_maxrss // 1024)
            if not watchdog.is_alive():
                return "timeout", out, time.time() - start
            return p.returncode, out, time.time() - start
        except BrokenPipeError:
            p.kill()
            return "timeout", b"", time.time() - start
        finally:
            watchdog.cancel()

    if wanted("flows: 1 GB capture"):
        block = (good * 900 + bad * 20 + ghost * 80)
        n = (1 << 30) // len(block) + 1

        def chunks():
            for _ in range(n):
                yield block
        code, out, secs = suggest("-", stream=chunks(), timeout=300)
        peak = peaks[-1] if peaks else -1
        row("flows: 1 GB capture on stdin (good, malformed, unknown pods)", "streamed, bounded memory, counted",
            f"exit {code} in {secs:.1f} s, peak {peak} MB", code == 0 and 0 < peak < 300
            and b"malformed" in out and b"naming pods not in the cluster model" in out)

    if wanted("flows: one 512 MB line"):
        def line():
            for _ in range(512):
                yield b"x" * (1 << 20)
        code, out, secs = suggest("-", stream=line(), timeout=120)
        row("flows: one 512 MB line without a newline", "skipped as it streams, counted",
            f"exit {code} in {secs:.1f} s", code == 0 and b"1 malformed" in out)

    if wanted("flows: FIFO"):
        d = os.path.join(WORK, "flows-fifo")
        os.makedirs(d)
        fifo = os.path.join(d, "flows.jsonl")
        os.mkfifo(fifo)
        code, out, secs = suggest(fifo, timeout=15)
        row("flows: a FIFO named as the capture", "error, no hang", f"exit {code} in {secs:.1f} s",
            code == 2 and b"not a regular file" in out)


def main():
    for part in (flows_cases, loader_cases, webhook_cases, engine_cases):
        print(f"== {part.__name__.replace('_cases', '')}", flush=True)
        try:
            part()
        except Exception as e:  # a case that cannot even run is a failure, never a skip
            row(f"{part.__name__}: could not run", "runs", repr(e)[:200], False)
    shutil.rmtree(WORK, ignore_errors=True)
    widths = [max(len(str(r[i])) for r in ROWS + [("case", "expected", "observed", "verdict")]) for i in range(4)]
    widths = [min(w, 70) for w in widths]
    print()
    for r in [("case", "expected", "observed", "verdict")] + ROWS:
        print("  ".join(str(c)[:70].ljust(w) for c, w in zip(r, widths)))
    failed = [r for r in ROWS if r[3] != "ok"]
    print(f"\nadversarial: {len(ROWS) - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failed or not ROWS else 0)


if __name__ == "__main__":
    main()
