#!/usr/bin/env python3
"""Instruction counts of one benchmark case under callgrind (stable on a noisy machine).

    python3 scripts/bench/profile.py CASE [REQUESTS]
    CASE: get, get-miss, filter, filter-cold, page, post, patch
    SCIMGATE_PROFILE_BIN=PATH profiles another binary (say, a copy of the last release)

Starts the demo directory (2,000 users) and a release gateway under
`valgrind --tool=callgrind` with instrumentation off, sends 200 warm-up requests of the case,
counts REQUESTS more (default 1000; page: 30), and prints the instructions per request and
the gateway's own functions by inclusive cost. `get-miss` and `filter-cold` run the
gateway with `cache.enabled=false`, as the benchmark's cache-off cases do. The raw profile
stays in
target/callgrind.CASE.out for `callgrind_annotate`. Needs `cargo build --release` first.
"""

import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

CASES = {
    "get": lambda i: ("GET", "/scim/v2/Users/%d" % (B.FIRST_BULK_ID + i % 100), None),
    "get-miss": lambda i: ("GET", "/scim/v2/Users/%d" % (B.FIRST_BULK_ID + i % 100), None),
    "filter": lambda i: ("GET", B.FILTER.replace("{n}", str(1 + i % 100)), None),
    "filter-cold": lambda i: ("GET", B.FILTER.replace("{n}", str(1 + i % 100)), None),
    "page": lambda i: ("GET", "/scim/v2/Users?startIndex=1&count=100", None),
    "post": lambda i: ("POST", "/scim/v2/Users",
                       json.loads(B.USER_BODY.replace("{u}", "prof%d-%d" % (os.getpid(), i)))),
    "patch": lambda i: ("PATCH", "/scim/v2/Users/%d" % (B.FIRST_BULK_ID + i % 100),
                        json.loads(B.PATCH_BODY.replace("{u}", str(i)))),
}


def main():
    case = sys.argv[1] if len(sys.argv) > 1 else ""
    if case not in CASES:
        raise SystemExit(__doc__)
    count = int(sys.argv[2]) if len(sys.argv) > 2 else (30 if case == "page" else 1000)
    binary = os.environ.get("SCIMGATE_PROFILE_BIN") or os.path.join(
        B.ROOT, "target", "release", "scimgate")
    settings = {"SCIMGATE__CACHE__TTL": "1h", "SCIMGATE__CACHE__IDLE": "1h"}
    if case in ("get-miss", "filter-cold"):
        settings["SCIMGATE__CACHE__ENABLED"] = "false"
    out = os.path.join(B.ROOT, "target", "callgrind.%s.out" % case)
    logdir = tempfile.mkdtemp(prefix="scimgate-profile-")
    directory = B.Proc("directory", [
        binary, "demo", "--seed-users", "2000", "--listen", "127.0.0.1:%d" % B.free_port(),
        "--admin-listen", "", "--token", B.TOKEN], logdir, {"SCIMGATE__LOG__LEVEL": "warn"})
    gateway = None
    try:
        dir_port = int(directory.wait_line(
            r"Example directory API:\s+http://127\.0\.0\.1:(\d+)/").group(1))
        port, admin = B.free_port(), B.free_port()
        gateway = B.Proc("gateway", [
            "valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + out,
            binary, "serve", "--config", os.path.join(B.ROOT, "config", "demo.yaml"),
            "--backend-url", "http://127.0.0.1:%d" % dir_port,
            "--listen", "127.0.0.1:%d" % port, "--admin-listen", "127.0.0.1:%d" % admin,
            "--token", B.TOKEN], logdir, settings)
        B.wait_ready(admin, 120)
        conn = B.http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        make = CASES[case]
        for i in range(200):
            B.call("127.0.0.1", port, *make(i), conn=conn)
        pid = str(gateway.popen.pid)
        subprocess.run(["callgrind_control", "-i", "on", pid], check=True, capture_output=True)
        for i in range(200, 200 + count):
            status, body = B.call("127.0.0.1", port, *make(i), conn=conn)
            if status >= 300:
                raise SystemExit("%s answered %s: %s" % (case, status, body))
        subprocess.run(["callgrind_control", "-i", "off", pid], check=True, capture_output=True)
    finally:
        if gateway:
            gateway.stop()
        directory.stop()
    report = subprocess.run(["callgrind_annotate", "--inclusive=yes", out],
                            capture_output=True, text=True).stdout
    total = next(int(line.split()[0].replace(",", "")) for line in report.splitlines()
                 if "PROGRAM TOTALS" in line)
    print("%s: %d requests, %.0f instructions per request (%s)" % (case, count, total / count, out))
    seen = set()
    for line in report.splitlines():
        if "scimgate::" in line and "[" in line:
            name = line.split("scimgate::", 1)[1].split(" [")[0]
            if name not in seen:
                seen.add(name)
                ir = int(line.split()[0].replace(",", ""))
                print("  %10.0f  %5.1f%%  %s" % (ir / count, 100 * ir / total, name[:110]))
            if len(seen) >= 25:
                break


if __name__ == "__main__":
    main()
