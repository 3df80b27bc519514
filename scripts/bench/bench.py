#!/usr/bin/env python3
"""scimgate's benchmark driver (run it through scripts/bench.sh, which builds and installs).

In one run it starts a static hyper server, the demo directory (seeded with --users users),
one gateway with the lookup cache on and one with it off, then for --rounds rounds runs
every case with wrk at --connections connections, alternating them. Each gateway figure is
divided by the direct backend figure of the same round; the median ratio over rounds is
compared with the targets of issue 6. Then: start-up to ready, peak RSS with every user
cached, and the scale series (--scale sizes). Exit status 1 on any error or non-2xx answer
or a crashed process (timings never fail the run).
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASE_LUA = os.path.join(ROOT, "scripts", "bench", "case.lua")
FIRST_BULK_ID = 1006  # Store::seeded() holds 1001-1005; seed_bulk continues from there.
TOKEN = "bench-%d" % os.getpid()
FILTER = "/scim/v2/Users?filter=userName%20eq%20%22user{n}%40example.com%22"
USER_BODY = (
    '{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"{u}@bench.example.com",'
    '"name":{"givenName":"Bench","familyName":"User"},"displayName":"Bench User",'
    '"emails":[{"type":"work","value":"{u}@bench.example.com","primary":true}],"active":true}'
)
DIRECT_USER_BODY = (
    '{"login":"{u}@bench.example.com","first_name":"Bench","last_name":"User",'
    '"display_name":"Bench User","contact":{"email":"{u}@bench.example.com"},"status":"ENABLED"}'
)
PATCH_BODY = (
    '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
    '"Operations":[{"op":"replace","path":"displayName","value":"Renamed {u}"}]}'
)
DIRECT_PATCH_BODY = '{"display_name":"Renamed {u}"}'

PATCH_OPS = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[%s]}'
MEMBER_OP = '{"op":"%s","path":"members","value":[{"value":"{m}"}]}'
# The soak's Entra-like mix: (kind, weight, method, path, body); see case.lua's MIX.
# Entra matches by userName, reads by id, PATCHes with capitalised ops and string booleans,
# adds and removes one member per PATCH, and deletes rarely.
SOAK_MIX = [
    ("filter", 40, "GET", FILTER.replace("{n}", "{i}"), ""),
    ("get", 28, "GET", "/scim/v2/Users/{n}", ""),
    ("patch_title", 8, "PATCH", "/scim/v2/Users/{n}",
     PATCH_OPS % '{"op":"Replace","path":"title","value":"Title {u}"}'),
    ("patch_disable", 2, "PATCH", "/scim/v2/Users/{n}",
     PATCH_OPS % '{"op":"Replace","path":"active","value":"False"}'),
    ("patch_enable", 2, "PATCH", "/scim/v2/Users/{n}",
     PATCH_OPS % '{"op":"Replace","path":"active","value":"True"}'),
    ("post", 8, "POST", "/scim/v2/Users", USER_BODY),
    ("member_add", 5, "PATCH", "/scim/v2/Groups/{g}", PATCH_OPS % (MEMBER_OP % "Add")),
    ("member_remove", 5, "PATCH", "/scim/v2/Groups/{g}", PATCH_OPS % (MEMBER_OP % "Remove")),
    ("delete", 2, "DELETE", "/scim/v2/Users/{d}", ""),
]

# Targets of issue 6: (minimum median ratio, what it is compared with).
TARGETS = {
    "gw_get_hit": 0.60,
    "gw_get_miss": 0.45,
    "gw_filter_warm": 0.40,
    "gw_filter_cold": 0.40,
    "gw_post": 0.40,
    "gw_page": 0.30,
}
P99_HIT_TARGET_MS = 10.0
RSS_TARGET_MB = 50.0
STARTUP_TARGET_MS = 100.0

failures = []


def fail(message):
    failures.append(message)
    print("FAIL: " + message, flush=True)


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Proc:
    """A started process with its output in a log file."""

    def __init__(self, name, argv, logdir, env=None):
        self.name = name
        self.log = os.path.join(logdir, name + ".log")
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(
            argv,
            stdout=open(self.log, "w"),
            stderr=subprocess.STDOUT,
            env=dict(os.environ, **(env or {})),
        )

    def wait_line(self, pattern, limit=60):
        deadline = time.time() + limit
        while time.time() < deadline:
            with open(self.log) as f:
                m = re.search(pattern, f.read())
            if m:
                return m
            self.check()
            time.sleep(0.02)
        raise SystemExit("%s: no line matching %r in %s" % (self.name, pattern, self.log))

    def check(self):
        if self.popen.poll() is not None:
            with open(self.log) as f:
                tail = f.read()[-2000:]
            raise SystemExit("%s exited with %s:\n%s" % (self.name, self.popen.returncode, tail))

    def status(self, field):
        with open("/proc/%d/status" % self.popen.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])  # kB
        return 0

    def stop(self):
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def call(host, port, method, path, body=None, conn=None):
    """One request; returns (status, parsed JSON or None). Reuses `conn` when given."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(host, port, timeout=120)
    headers = {"Authorization": "Bearer " + TOKEN}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/scim+json"
    conn.request(method, path, body=data, headers=headers)
    response = conn.getresponse()
    raw = response.read()
    if own:
        conn.close()
    parsed = json.loads(raw) if raw.strip() else None
    return response.status, parsed


def wait_ready(port, limit=30.0):
    """Polls /readyz every millisecond; returns the seconds until it answered 200."""
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/readyz")
            if conn.getresponse().status == 200:
                conn.close()
                return time.perf_counter() - started
            conn.close()
        except OSError:
            pass
        time.sleep(0.001)
    raise SystemExit("gateway on admin port %d not ready in %ss" % (port, limit))


class Bench:
    def __init__(self, args):
        self.args = args
        self.logdir = tempfile.mkdtemp(prefix="scimgate-bench-")
        self.procs = []

    # --- processes ----------------------------------------------------------------------

    def start(self, name, argv, env=None):
        p = Proc(name, argv, self.logdir, env)
        self.procs.append(p)
        return p

    def start_static(self):
        p = self.start("static", [self.args.static_bin, "127.0.0.1:0"])
        m = p.wait_line(r"listening on 127\.0\.0\.1:(\d+)")
        return p, int(m.group(1))

    def start_directory(self, users, name="directory"):
        """`scimgate demo` with `users` generated users; returns (proc, directory port)."""
        p = self.start(
            name,
            [
                self.args.bin, "demo", "--seed-users", str(users),
                "--listen", "127.0.0.1:%d" % free_port(), "--admin-listen", "",
                "--token", TOKEN,
            ],
            env={"SCIMGATE__LOG__LEVEL": "warn"},
        )
        m = p.wait_line(r"Example directory API:\s+http://127\.0\.0\.1:(\d+)/", limit=120)
        return p, int(m.group(1))

    def start_gateway(self, name, directory_port, cache=True, extra_env=None):
        """`scimgate serve` in front of the directory; returns (proc, port, admin port, start-up s)."""
        port, admin = free_port(), free_port()
        env = {
            "SCIMGATE__CACHE__ENABLED": "true" if cache else "false",
            # Long enough that nothing expires during a run: hits stay hits.
            "SCIMGATE__CACHE__TTL": "1h",
            "SCIMGATE__CACHE__IDLE": "1h",
            "SCIMGATE__CACHE__CAPACITY": str(max(100000, self.args.users + 1000)),
        }
        env.update(extra_env or {})
        p = self.start(
            name,
            [
                self.args.bin, "serve", "--config", os.path.join(ROOT, "config", "demo.yaml"),
                "--backend-url", "http://127.0.0.1:%d" % directory_port,
                "--listen", "127.0.0.1:%d" % port, "--admin-listen", "127.0.0.1:%d" % admin,
                "--token", TOKEN,
            ],
            env=env,
        )
        startup = wait_ready(admin)
        return p, port, admin, startup

    def check_alive(self):
        for p in self.procs:
            if p.popen.poll() is not None:
                fail("%s crashed (exit %s); log: %s" % (p.name, p.popen.returncode, p.log))

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []

    # --- wrk ----------------------------------------------------------------------------

    def wrk(self, port, method, path, first, count, body="", sequential=False,
            duration=None, tag="t"):
        return self.run_wrk(port, [method, path, str(first), str(count), body,
                                   "seq" if sequential else ""], duration or self.args.duration, tag)

    def run_wrk(self, port, script_args, duration, tag, env=None):
        """One wrk run of case.lua with `script_args`; its BENCH result plus rps and errors."""
        a = self.args
        argv = [
            "wrk", "-t%d" % a.threads, "-c%d" % a.connections, "-d%ds" % duration,
            "--timeout", "10s", "-s", CASE_LUA, "http://127.0.0.1:%d" % port, "--",
        ] + script_args
        env = dict(os.environ, BENCH_TOKEN=TOKEN, BENCH_TAG=tag, BENCH_THREADS=str(a.threads),
                   **(env or {}))
        out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=duration + 600)
        m = re.search(r"^BENCH (\{.*\})$", out.stdout, re.M)
        if not m:
            raise SystemExit("wrk gave no result:\n%s\n%s" % (out.stdout, out.stderr))
        r = json.loads(m.group(1))
        r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
        r["errors"] = sum(r[k] for k in ("connect", "read", "write", "status", "timeout"))
        return r

    # --- the cases ----------------------------------------------------------------------

    def cases(self, ports, users):
        """(name, port, method, path, first, count, body, compared with)."""
        s, d, g, c = ports["static"], ports["directory"], ports["gateway"], ports["nocache"]
        hot = min(users, self.args.hot_users)
        bulk = (FIRST_BULK_ID, users)
        return [
            ("direct_static", s, "GET", "/scim/v2/Users/{n}", FIRST_BULK_ID, hot, "", None),
            ("gw_get_hit", g, "GET", "/scim/v2/Users/{n}", FIRST_BULK_ID, hot, "", "direct_static"),
            ("direct_get", d, "GET", "/api/users/{n}", *bulk, "", None),
            ("gw_get_miss", c, "GET", "/scim/v2/Users/{n}", *bulk, "", "direct_get"),
            ("direct_filter", d, "GET", "/api/users?login=user{n}%40example.com", 1, users, "", None),
            ("gw_filter_warm", g, "GET", FILTER, 1, hot, "", "direct_filter"),
            ("gw_filter_cold", c, "GET", FILTER, 1, users, "", "direct_filter"),
            ("direct_post", d, "POST", "/api/users", 1, 1, DIRECT_USER_BODY, None),
            ("gw_post", g, "POST", "/scim/v2/Users", 1, 1, USER_BODY, "direct_post"),
            ("direct_patch", d, "PATCH", "/api/users/{n}", *bulk, DIRECT_PATCH_BODY, None),
            ("gw_patch", g, "PATCH", "/scim/v2/Users/{n}", *bulk, PATCH_BODY, "direct_patch"),
            ("direct_page", d, "GET", "/api/users?page=1&per_page=100", 1, 1, "", None),
            ("gw_page", g, "GET", "/scim/v2/Users?startIndex=1&count=100", 1, 1, "", "direct_page"),
        ]

    def warm(self, port, admin, first, count, with_filter):
        """Reads every user once by id (and by userName when asked), so they are cached."""
        self.read_all(port, admin, "/scim/v2/Users/{n}", first, count)
        if with_filter:
            self.read_all(port, admin, FILTER, 1, count)

    def read_all(self, port, admin, path, first, count):
        """Each of `count` paths once, with wrk; stopped (SIGINT: it still reports) once the
        gateway has answered them all, since wrk itself always runs its full duration."""
        a = self.args
        target = scim_requests(admin) + count
        argv = ["wrk", "-t%d" % a.threads, "-c%d" % a.connections, "-d600s", "--timeout", "10s",
                "-s", CASE_LUA, "http://127.0.0.1:%d" % port, "--", "GET", path, str(first),
                str(count), "", "seq"]
        env = dict(os.environ, BENCH_TOKEN=TOKEN, BENCH_TAG="warm", BENCH_THREADS=str(a.threads))
        w = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env,
                             text=True)
        # Each wrk thread stops at its first answer past its share and drops the requests
        # still in flight, which the gateway then never counts: allow for those, and stop
        # waiting once the count no longer moves.
        target -= a.connections
        last, still = -1, 0
        while w.poll() is None:
            done = scim_requests(admin)
            if done >= target or still > 40:
                break
            still = still + 1 if done == last else 0
            last = done
            time.sleep(0.05)
        w.send_signal(signal.SIGINT)
        out = w.communicate(timeout=30)[0]
        m = re.search(r"^BENCH (\{.*\})$", out, re.M)
        if not m:
            raise SystemExit("wrk gave no result:\n" + out)
        r = json.loads(m.group(1))
        errors = sum(r[k] for k in ("connect", "write", "status", "timeout"))
        if errors:
            fail("reading every user through %s: %d errors" % (path, errors))

    def run(self):
        a = self.args
        print("machine: nproc=%d, %s; load average at start %s" % (
            os.cpu_count(), cpu_model(), open("/proc/loadavg").read().strip()), flush=True)
        static, static_port = self.start_static()
        directory, dir_port = self.start_directory(a.users)
        gateway, gw_port, gw_admin, startup = self.start_gateway("gateway", dir_port, cache=True)
        nocache, nc_port, _, _ = self.start_gateway("gateway-nocache", dir_port, cache=False)
        ports = {"static": static_port, "directory": dir_port, "gateway": gw_port,
                 "nocache": nc_port}
        # Sanity: every gateway case answers 2xx before it is timed.
        for port in (gw_port, nc_port):
            st, body = call("127.0.0.1", port, "GET", "/scim/v2/Users/%d" % FIRST_BULK_ID)
            if st != 200 or body.get("userName") != "user1@example.com":
                raise SystemExit("gateway answered %s %s" % (st, body))
        hot = min(a.users, a.hot_users)
        self.warm(gw_port, gw_admin, FIRST_BULK_ID, hot, with_filter=True)

        results = {}  # case -> list of (round, result)
        cases = self.cases(ports, a.users)
        for rnd in range(1, a.rounds + 1):
            print("\nround %d/%d (load average %s)" % (rnd, a.rounds, load()), flush=True)
            print("  %-15s %10s %9s %9s %7s %8s  %s" % (
                "case", "req/s", "p50 ms", "p99 ms", "errors", "ratio", "load"), flush=True)
            for name, port, method, path, first, count, body, base in cases:
                r = self.wrk(port, method, path, first, count, body, tag="r%d%s" % (rnd, name))
                r["load"] = load()
                results.setdefault(name, []).append(r)
                ratio = ""
                if base:
                    r["ratio"] = r["rps"] / results[base][-1]["rps"]
                    ratio = "%7.1f%%" % (100 * r["ratio"])
                print("  %-15s %10.0f %9.2f %9.2f %7d %8s  %s" % (
                    name, r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000, r["errors"],
                    ratio, r["load"]), flush=True)
                if r["errors"]:
                    fail("%s round %d: %d errors (%s)" % (name, rnd, r["errors"], {
                        k: r[k] for k in ("connect", "read", "write", "status", "timeout")}))
                self.check_alive()

        summary = {}
        if a.rounds:
            summary = self.medians(cases, results)
        self.startup_and_memory(gateway, startup, dir_port)
        scale = {}
        if a.scale:
            scale = self.scale([int(n) for n in a.scale.split(",") if n])
        self.check_alive()
        self.stop_all()
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"cases": results, "summary": summary, "startup_ms": self.startups,
                           "rss_mb": self.hwm, "scale": scale}, f, indent=1)
        return 1 if failures else 0

    def medians(self, cases, results):
        a = self.args
        print("\nmedians over %d rounds (targets from issue 6):" % a.rounds)
        print("  %-15s %10s %9s %9s %8s %8s  %s" % (
            "case", "req/s", "p50 ms", "p99 ms", "ratio", "target", "met"))
        summary = {}
        for name, _, _, _, _, _, _, base in cases:
            rs = results[name]
            med = lambda k: statistics.median(r[k] for r in rs)
            row = {"rps": med("rps"), "p50_ms": med("p50_us") / 1000, "p99_ms": med("p99_us") / 1000}
            target, met = "", ""
            if base:
                row["ratio"] = med("ratio")
                if name in TARGETS:
                    target = "%7.0f%%" % (100 * TARGETS[name])
                    met = "yes" if row["ratio"] >= TARGETS[name] else "NO"
            if name == "gw_get_hit":
                ok = row["p99_ms"] < P99_HIT_TARGET_MS
                met += "; p99 %s 10 ms" % ("<" if ok else ">=")
            summary[name] = row
            print("  %-15s %10.0f %9.2f %9.2f %8s %8s  %s" % (
                name, row["rps"], row["p50_ms"], row["p99_ms"],
                "%7.1f%%" % (100 * row["ratio"]) if "ratio" in row else "", target, met))
        return summary

    def startup_and_memory(self, gateway, startup, dir_port):
        a = self.args
        # --- start-up and memory ---------------------------------------------------------
        startups = [startup]
        for i in range(a.startups - 1):
            p, _, _, t = self.start_gateway("startup-%d" % i, dir_port, cache=True)
            startups.append(t)
            p.stop()
            self.procs.remove(p)
        startup_ms = statistics.median(startups) * 1000
        print("\nstart-up to ready (/readyz 200), %d starts: median %.1f ms, max %.1f ms "
              "(target < %.0f ms: %s; load %s)" % (
                  len(startups), startup_ms, max(startups) * 1000, STARTUP_TARGET_MS,
                  "met" if startup_ms < STARTUP_TARGET_MS else "NOT met", load()))
        print("peak RSS of the cache-on gateway after the rounds: %.1f MB" % (
            gateway.status("VmHWM") / 1024))
        # A fresh gateway, so the peak is the cache's and not the load test's buffers.
        mem, mem_port, mem_admin, _ = self.start_gateway("gateway-memory", dir_port, cache=True)
        before = mem.status("VmRSS") / 1024
        t0 = time.perf_counter()
        self.warm(mem_port, mem_admin, FIRST_BULK_ID, a.users, with_filter=False)
        warm_s = time.perf_counter() - t0
        entries = cached_records(mem_admin)
        hwm = mem.status("VmHWM") / 1024
        print("memory: %d users read by id in %.1f s; %s records cached; RSS at ready %.1f MB, "
              "peak RSS (VmHWM) %.1f MB (target < %.0f MB with 100,000 cached users: %s; load %s)" % (
                  a.users, warm_s, entries, before, hwm, RSS_TARGET_MB,
                  ("met" if hwm < RSS_TARGET_MB else "NOT met") if a.users >= 100000
                  else "n/a below 100,000 users", load()), flush=True)
        # read_all stops once all but the last `connections` answers are in (wrk drops those
        # in flight), so up to that many users may be left unread: 3% of the smoke's 2,000.
        if entries is not None and entries < (a.users - a.connections) * 0.99:
            fail("only %s of %d users cached after the warm-up" % (entries, a.users))
        self.check_alive()
        self.stop_all()
        self.startups, self.hwm = startups, hwm

    # --- soak ---------------------------------------------------------------------------

    def soak(self):
        """Entra-like mixed traffic: its maximum rate measured briefly, then --soak-fraction of
        it for --soak minutes in back-to-back runs of --soak-interval seconds, each reporting
        its rate, errors, p99 and the gateway's RSS. Errors and crashes fail; timings never."""
        a = self.args
        print("machine: nproc=%d, %s; load average at start %s" % (
            os.cpu_count(), cpu_model(), open("/proc/loadavg").read().strip()), flush=True)
        # The first half of the users is read, patched and put into groups; the second half
        # is deleted, each user once, so no read ever meets a user deleted before it.
        readable = a.users // 2
        delete_first, delete_end = FIRST_BULK_ID + readable, FIRST_BULK_ID + a.users
        directory, dir_port = self.start_directory(a.users)
        # A capacity just above what the reads touch, all read before the soak: the cache
        # cannot grow much during it, so a rising RSS points to a leak, not to the cache.
        gateway, port, admin, _ = self.start_gateway(
            "gateway", dir_port, cache=True,
            extra_env={"SCIMGATE__CACHE__CAPACITY": str(readable + 1000)})
        self.warm(port, admin, FIRST_BULK_ID, readable, with_filter=True)
        groups = []
        for k in range(a.soak_groups):
            st, g = call("127.0.0.1", port, "POST", "/scim/v2/Groups", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": "soak-%d-%d" % (os.getpid(), k)})
            if st != 201:
                raise SystemExit("group create answered %s %s" % (st, g))
            groups.append(g["id"])
        mix = [str(x) for kind in SOAK_MIX for x in kind[1:]]
        script = ["MIX", str(FIRST_BULK_ID), str(readable)] + mix

        def interval(seconds, tag, pause_ms):
            r = self.run_wrk(port, script, seconds, tag, env={
                "BENCH_GROUPS": ",".join(groups), "BENCH_DELAY_MS": "%.3f" % pause_ms,
                "BENCH_MEMBERS": str(a.soak_members),
                "BENCH_DELETE": "%d:%d" % (self.delete_next, max(0, delete_end - self.delete_next))})
            self.delete_next += r["deletes"] * a.threads
            r["rss_mb"] = gateway.status("VmRSS") / 1024
            r["cached"] = cached_records(admin)
            r["load"] = load()
            self.check_alive()
            return r

        self.delete_next = delete_first
        print("\nmix (weights): %s" % ", ".join("%s %d" % (k[0], k[1]) for k in SOAK_MIX))
        print("%d users (%d read, %d to delete), %d groups of members drawn from %d users, "
              "%d connections, wrk -t%d" % (a.users, readable, a.users - readable, len(groups),
                                            min(a.soak_members, readable), a.connections, a.threads))
        peak = interval(a.soak_max_seconds, "max", 0)
        target = peak["rps"] * a.soak_fraction
        print("maximum: %.0f req/s over %d s (p99 %.2f ms, %d errors; load %s); soak target "
              "%.0f%% = %.0f req/s" % (peak["rps"], a.soak_max_seconds, peak["p99_us"] / 1000,
                                       peak["errors"], peak["load"], 100 * a.soak_fraction,
                                       target), flush=True)
        if peak["errors"]:
            fail("maximum-rate run: %d errors" % peak["errors"])
        # Each connection sends, waits for the answer, then pauses: at the maximum a cycle is
        # connections/peak seconds; the pause stretches it to connections/target. After every
        # interval the pause is corrected by how far that interval's rate was off.
        pause_ms = max(0.0, 1000 * a.connections * (1 / target - 1 / peak["rps"]))
        before = status_counts(admin)
        rows, started = [], time.perf_counter()
        print("\n  %7s %9s %8s %9s %9s %9s %7s %9s %8s  %s" % (
            "t s", "requests", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "RSS MB",
            "cached", "load"), flush=True)
        while time.perf_counter() - started < a.soak * 60 - 0.5:
            left = a.soak * 60 - (time.perf_counter() - started)
            r = interval(max(1, min(a.soak_interval, round(left))), "s%d" % len(rows), pause_ms)
            r["t_s"] = time.perf_counter() - started
            r["pause_ms"] = pause_ms
            rows.append(r)
            print("  %7.0f %9d %8.0f %9.2f %9.2f %9.2f %7d %9.1f %8s  %s" % (
                r["t_s"], r["requests"], r["rps"], r["p50_us"] / 1000, r["p99_us"] / 1000,
                r["max_us"] / 1000, r["errors"], r["rss_mb"], r["cached"], r["load"]), flush=True)
            if r["errors"]:
                fail("soak interval ending at %.0f s: %d errors (%s)" % (r["t_s"], r["errors"], {
                    k: r[k] for k in ("connect", "read", "write", "status", "timeout")}))
            if r["rps"] > 0:
                pause_ms = max(0.0, pause_ms + 1000 * a.connections * (1 / target - 1 / r["rps"]))
        after = status_counts(admin)
        answered = {k: after.get(k, 0) - before.get(k, 0) for k in after}
        answered = {k: v for k, v in answered.items() if v}
        non_2xx = {k: v for k, v in answered.items() if not k[1].startswith("2")}
        total = sum(r["requests"] for r in rows)
        errors = sum(r["errors"] for r in rows)
        p99s = [r["p99_us"] / 1000 for r in rows]
        seconds = sum(r["duration_us"] for r in rows) / 1e6
        print("\nsoak verdict: %.1f min, %d requests at %.0f req/s (target %.0f); errors %d "
              "(goal 0); gateway answers by operation and class: %s" % (
                  seconds / 60, total, total / seconds, target, errors,
                  ", ".join("%s %s %d" % (op, cls, n) for (op, cls), n in sorted(answered.items()))))
        print("  p99 per interval: min %.2f ms, median %.2f ms, max %.2f ms; RSS first %.1f MB, "
              "last %.1f MB, max %.1f MB; load at end %s" % (
                  min(p99s), statistics.median(p99s), max(p99s), rows[0]["rss_mb"],
                  rows[-1]["rss_mb"], max(r["rss_mb"] for r in rows), load()), flush=True)
        if non_2xx:
            fail("the gateway answered non-2xx during the soak: %s" % non_2xx)
        # The writes landed: the first user deleted is gone, the users before it remain.
        if self.delete_next > delete_first:
            st, _ = call("127.0.0.1", port, "GET", "/scim/v2/Users/%d" % delete_first)
            if st != 404:
                fail("user %d was deleted during the soak but answers %s" % (delete_first, st))
        st, body = call("127.0.0.1", port, "GET", "/scim/v2/Users/%d" % FIRST_BULK_ID)
        if st != 200 or body.get("userName") != "user1@example.com":
            fail("user %d after the soak: %s %s" % (FIRST_BULK_ID, st, str(body)[:200]))
        self.check_alive()
        self.stop_all()
        if a.json:
            with open(a.json, "w") as f:
                json.dump({"soak": {"max": peak, "target_rps": target, "intervals": rows,
                                    "answered": {"%s %s" % k: v for k, v in answered.items()}}},
                          f, indent=1)
        return 1 if failures else 0

    # --- scale --------------------------------------------------------------------------

    def scale(self, sizes):
        a = self.args
        print("\nscale (one client, sequential requests; load average %s)" % load(), flush=True)
        out = {}
        for n in sizes:
            directory, dir_port = self.start_directory(n, name="directory-%d" % n)
            gw, port, _, _ = self.start_gateway(
                "gateway-%d" % n, dir_port, cache=True,
                extra_env={"SCIMGATE__LIMITS__MAX_SCAN_RECORDS": str(n + 1000)})
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            row = {}
            # The directory alone, every page of 100: what the scan and the paging below
            # cost the backend (its pages are not free: it counts all matches for the total).
            direct = http.client.HTTPConnection("127.0.0.1", dir_port, timeout=300)
            t0 = time.perf_counter()
            page = 1
            while True:
                st, items = call("127.0.0.1", dir_port, "GET",
                                 "/api/users?page=%d&per_page=100" % page, conn=direct)
                if st != 200 or not items:
                    break
                page += 1
            row["direct_pages_s"] = time.perf_counter() - t0
            direct.close()
            # A filter the directory cannot answer: every record is read and evaluated.
            q = urllib.parse.quote('name.givenName eq "Nobody-at-all"')
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                st, body = call("127.0.0.1", port, "GET", "/scim/v2/Users?filter=" + q, conn=conn)
                times.append(time.perf_counter() - t0)
                if st != 200 or body.get("totalResults") != 0:
                    fail("scan filter at %d users: %s %s" % (n, st, str(body)[:200]))
            row["scan_s"] = statistics.median(times)
            # Paging through everything, 100 at a time.
            t0 = time.perf_counter()
            seen, start = 0, 1
            while True:
                st, body = call("127.0.0.1", port, "GET",
                                "/scim/v2/Users?startIndex=%d&count=100" % start, conn=conn)
                if st != 200:
                    fail("page at %d of %d users: %s" % (start, n, st))
                    break
                got = len(body.get("Resources", []))
                seen += got
                start += got
                if got == 0 or start > body["totalResults"]:
                    break
            row["page_all_s"] = time.perf_counter() - t0
            if seen != n + 5:
                fail("paging saw %d of %d users" % (seen, n + 5))
            row["pages"] = (seen + 99) // 100
            print("  %7d users: directory alone, all pages %.2f s; unpushable filter %.2f s "
                  "(%.1f us/user, %.1f us/user above the directory's); all %d pages of 100 %.2f s "
                  "(%.2f ms/page, %.2f ms/page above the directory's); load %s" % (
                      n, row["direct_pages_s"], row["scan_s"], row["scan_s"] / n * 1e6,
                      (row["scan_s"] - row["direct_pages_s"]) / n * 1e6, row["pages"],
                      row["page_all_s"], row["page_all_s"] / row["pages"] * 1000,
                      (row["page_all_s"] - row["direct_pages_s"]) / row["pages"] * 1000,
                      load()), flush=True)
            if n == max(sizes):
                row["group"] = self.group(conn, port, min(a.group_members, n))
            out[n] = row
            conn.close()
            gw.stop()
            directory.stop()
            self.procs = [p for p in self.procs if p not in (gw, directory)]
        return out

    def group(self, conn, port, members):
        """A group grown to `members` by PATCHes of 100 (as Entra sends), then shrunk."""
        batch = 100
        st, g = call("127.0.0.1", port, "POST", "/scim/v2/Groups",
                     {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                      "displayName": "bench-%d" % time.time_ns()}, conn=conn)
        if st != 201:
            fail("group create: %s %s" % (st, g))
            return {}
        gid = g["id"]
        def member_patch(op, ids):
            """One PATCH of `ids` (Entra's batch form); returns its seconds or None."""
            body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": op, "path": "members",
                                    "value": [{"value": str(i)} for i in ids]}]}
            t0 = time.perf_counter()
            st, resp = call("127.0.0.1", port, "PATCH", "/scim/v2/Groups/" + gid, body, conn=conn)
            if st not in (200, 204):
                fail("group %s of %d members: %s %s" % (op, len(ids), st, str(resp)[:200]))
                return None
            return time.perf_counter() - t0

        adds = []
        for start in range(0, members, batch):
            took = member_patch("add", range(FIRST_BULK_ID + start,
                                             FIRST_BULK_ID + min(start + batch, members)))
            if took is None:
                return {}
            adds.append(took)
        t0 = time.perf_counter()
        st, full = call("127.0.0.1", port, "GET", "/scim/v2/Groups/" + gid, conn=conn)
        get_s = time.perf_counter() - t0
        if st != 200 or len(full.get("members", [])) != members:
            fail("group has %s members, not %d" % (len(full.get("members", [])), members))
        removes = []
        for start in range(0, min(members, 10 * batch), batch):
            took = member_patch("remove", range(FIRST_BULK_ID + start, FIRST_BULK_ID + start + batch))
            if took is not None:
                removes.append(took)
        tenth = max(1, len(adds) // 10)
        row = {"members": members, "add_first_ms": statistics.mean(adds[:tenth]) * 1000,
               "add_last_ms": statistics.mean(adds[-tenth:]) * 1000,
               "add_total_s": sum(adds), "get_s": get_s,
               "remove_ms": statistics.mean(removes) * 1000 if removes else 0}
        print("  group of %d members, PATCH adding %d members: %.1f ms while the group is small "
              "(first tenth), %.1f ms near %d (last tenth), %.1f s in all; GET with all "
              "members %.3f s; PATCH removing %d: %.1f ms; load %s" % (
                  members, batch, row["add_first_ms"], row["add_last_ms"], members,
                  row["add_total_s"], get_s, batch, row["remove_ms"], load()), flush=True)
        return row


def metrics(admin_port):
    conn = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=10)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    return text


def scim_requests(admin_port):
    """SCIM requests the gateway has answered so far."""
    return sum(float(v) for v in re.findall(
        r"^scimgate_scim_requests_total\{[^}]*\} (\S+)$", metrics(admin_port), re.M))


def status_counts(admin_port):
    """{(operation, status class): SCIM requests answered} from the gateway's metrics."""
    counts = {}
    for labels, value in re.findall(
            r"^scimgate_scim_requests_total\{([^}]*)\} (\S+)$", metrics(admin_port), re.M):
        l = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        key = (l.get("resource", "") + " " + l.get("operation", ""), l.get("status_class", ""))
        counts[key] = counts.get(key, 0) + float(value)
    return counts


def cached_records(admin_port):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=10)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        m = re.search(r'^scimgate_cache_entries\{[^}]*cache="records"[^}]*\} (\S+)', text, re.M)
        return int(float(m.group(1))) if m else None
    except OSError:
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            return m.group(1) if m else "unknown CPU"
    except OSError:
        return "unknown CPU"


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--duration", type=int, default=5, help="seconds per case and round")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=2, help="wrk threads")
    p.add_argument("--users", type=int, default=100000, help="users in the demo directory")
    p.add_argument("--hot-users", type=int, default=1000,
                   help="users the cache-hit cases read (all cached beforehand)")
    p.add_argument("--startups", type=int, default=5, help="gateway starts timed")
    p.add_argument("--scale", default="10000,50000,100000",
                   help="directory sizes of the scale series (empty: skip)")
    p.add_argument("--group-members", type=int, default=10000)
    p.add_argument("--soak", type=float, metavar="MINUTES",
                   help="run only the soak: the Entra-like mix for MINUTES at --soak-fraction "
                        "of its maximum rate")
    p.add_argument("--soak-interval", type=int, default=20,
                   help="seconds per soak interval (one wrk run: its own rate, p99 and RSS)")
    p.add_argument("--soak-max-seconds", type=int, default=10,
                   help="seconds of the unpaced run that measures the mix's maximum rate")
    p.add_argument("--soak-fraction", type=float, default=0.7, help="of the maximum rate")
    p.add_argument("--soak-groups", type=int, default=20, help="groups the member PATCHes use")
    p.add_argument("--soak-members", type=int, default=200,
                   help="users the member PATCHes draw from (a group settles near half of it)")
    p.add_argument("--json", help="also write every figure to this file")
    p.add_argument("--bin", default=os.path.join(ROOT, "target", "release", "scimgate"))
    p.add_argument("--static-bin",
                   default=os.path.join(ROOT, "target", "release", "examples", "static_user"))
    p.add_argument("--keep-logs", action="store_true")
    args = p.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is not installed (scripts/bench.sh installs it)")
    bench = Bench(args)
    try:
        status = bench.soak() if args.soak else bench.run()
    finally:
        bench.stop_all()
        if not args.keep_logs and not failures:
            shutil.rmtree(bench.logdir, ignore_errors=True)
        else:
            print("logs: " + bench.logdir)
    if failures:
        print("\n%d failure(s):\n  %s" % (len(failures), "\n  ".join(failures)))
    sys.exit(status)


if __name__ == "__main__":
    main()
