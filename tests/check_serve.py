"""segstream serve from outside (tests/serve_http.sh):
  check_serve.py SEGSTREAM PORT STATE_DIR SNAPSHOT_DIR   (SNAPSHOT_DIR "-": serve runs without --snapshots)
/customers/{id} equals `get --json` for 100 customers; /segments and /snapshots/* equal the
published files; bad ids, a 10 KB URL, unknown paths, other methods get their 4xx with a JSON
body; 1,000 connections at once are all answered, and the server serves afterwards.
"""
import json
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

seg, port, state, snaps = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]


def fail(msg):
    print(f"FAIL: {msg}")
    sys.exit(1)


def fetch(path, method="GET"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers.get("Content-Type"), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type"), e.read()


def wait_up():
    deadline = time.time() + 30
    while True:
        try:
            return fetch("/segments")
        except (urllib.error.URLError, ConnectionError):
            if time.time() > deadline:
                fail("serve does not answer")
            time.sleep(0.1)


def expect_error(path, status, method="GET"):
    got, ctype, body = fetch(path, method)
    if got != status:
        fail(f"{method} {path[:60]}: {got}, expected {status}")
    if ctype != "application/json":
        fail(f"{method} {path[:60]}: content type {ctype}")
    doc = json.loads(body)
    if doc.get("status") != status or not doc.get("error"):
        fail(f"{method} {path[:60]}: body {doc}")


wait_up()
users = sorted(int(line.split(",")[0]) for line in open(f"{state}.csv").read().splitlines()[1:])
random.seed(7)
for user in random.sample(users, 100):
    status, ctype, body = fetch(f"/customers/{user}")
    if status != 200 or ctype != "application/json":
        fail(f"/customers/{user}: {status} {ctype}")
    want = json.loads(subprocess.run([seg, "get", "--state", state, "--json", str(user)], check=True,
                                     capture_output=True).stdout)
    got = json.loads(body)
    if list(got.items()) != list(want.items()):  # same names, same order, same values
        fail(f"/customers/{user}: {got} != get --json {want}")
print("100 customers equal get --json")

# The live report and the published files (the state has not changed since the snapshot).
if snaps == "-":
    expect_error("/snapshots/latest", 404)
elif fetch("/segments")[2] != open(f"{snaps}/0000000001/report.json", "rb").read():
    fail("/segments differs from the snapshot's report.json")
elif fetch("/snapshots/latest")[2] != open(f"{snaps}/0000000002/manifest.json", "rb").read():
    fail("/snapshots/latest is not the latest manifest")
elif fetch("/snapshots/1/report")[2] != open(f"{snaps}/0000000001/report.json", "rb").read():
    fail("/snapshots/1/report is not report.json")

absent = max(users) + 1
for path, status in [(f"/customers/{absent}", 404), ("/customers/0", 400), ("/customers/007", 400),
                     ("/customers/-1", 400), ("/customers/1x", 400), ("/customers/4294967296", 400),
                     ("/customers/99999999999999999999999", 400), ("/customers/", 400), ("/customers/1/", 400),
                     ("/customers/%20", 400), ("/snapshots/999/report", 404) if snaps != "-" else ("/snapshots/1/report", 404), ("/snapshots/0/report", 400),
                     ("/snapshots/1/manifest", 404), ("/snapshots", 404), ("/nope", 404), ("/dashboard/x.js", 404),
                     ("/customers/" + "1" * 10000, 414)]:
    expect_error(path, status)
for method in ["POST", "PUT", "DELETE"]:
    expect_error("/segments", 405, method)
print("bad requests answered with their 4xx")
status, ctype, body = fetch("/")  # the dashboard page and the charting library it loads
if status != 200 or not ctype.startswith("text/html") or b"/dashboard/chart.umd.min.js" not in body:
    fail(f"/: {status} {ctype}")
status, ctype, body = fetch("/dashboard/chart.umd.min.js")
if status != 200 or ctype != "application/javascript" or len(body) < 100000:
    fail(f"/dashboard/chart.umd.min.js: {status} {ctype} {len(body)} bytes")

# 1,000 connections open at once, each sending its request before any answer is read.
conns = []
for i in range(1000):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    conns.append((s, users[i % len(users)]))
for s, user in conns:
    s.sendall(f"GET /customers/{user} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
ok = refused = 0
for s, user in conns:
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if head.startswith(b"HTTP/1.1 200") and json.loads(body)["user_id"] == user:
        ok += 1
    elif not data:
        refused += 1
    else:
        fail(f"a parallel request got {data[:200]!r}")
print(f"parallel: {ok} answered, {refused} refused")
if ok != 1000:
    fail(f"{ok} of 1000 parallel requests answered")
status, _, body = fetch(f"/customers/{users[0]}")
if status != 200 or json.loads(body)["user_id"] != users[0]:
    fail("serve does not answer after the parallel requests")
print("1000 parallel connections answered; serve still serves")
