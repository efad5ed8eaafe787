#!/usr/bin/env python3
# ratelimit_client.py — a paced HTTP client for test_ratelimit.sh: sends
# GETs to one path at a fixed rate (or as fast as it can) over keep-alive
# connections, and checks the rate-limit headers of every answer.
#
#   ratelimit_client.py URL TOKEN_FILE PATH RATE SECONDS [THREADS] [COUNT]
#
# RATE requests per second spread over THREADS connections (0: no pacing);
# stops after SECONDS or, if COUNT is given, after COUNT requests.  Prints
# one line: ok=N limited=N other=N bad=N policy=<last RateLimit-Policy>,
# where bad counts answers whose headers break docs/api.md (a 429 without
# Retry-After >= 1 or without RateLimit/RateLimit-Policy, a 200 without
# them, a RateLimit remaining above its policy's quota).
import http.client
import re
import sys
import threading
import time
import urllib.parse

url, token_file, path = sys.argv[1], sys.argv[2], sys.argv[3]
rate, seconds = float(sys.argv[4]), float(sys.argv[5])
threads = int(sys.argv[6]) if len(sys.argv) > 6 else 4
count = int(sys.argv[7]) if len(sys.argv) > 7 else 0
with open(token_file) as f:
    token = f.readline().strip()
target = urllib.parse.urlsplit(url)
lock = threading.Lock()
totals = {"ok": 0, "limited": 0, "other": 0, "bad": 0}
last_policy = [""]
sent = [0]
bad_examples = []

POLICY = re.compile(r'"([a-z-]+)";q=(\d+);w=(\d+)')
STATE = re.compile(r'"([a-z-]+)";r=(\d+);t=(\d+)')


def judge(status, headers):
    """'' if the answer's rate-limit headers are right, else why not."""
    policy = headers.get("ratelimit-policy", "")
    state = headers.get("ratelimit", "")
    if not policy or not state:
        return "no RateLimit headers"
    quotas = {name: int(q) for name, q, _ in POLICY.findall(policy)}
    for name, r, _ in STATE.findall(state):
        if name not in quotas or int(r) > quotas[name]:
            return "RateLimit %s does not match policy %s" % (state, policy)
    if status == 429:
        retry = headers.get("retry-after", "")
        if not retry.isdigit() or int(retry) < 1:
            return "429 without Retry-After >= 1"
        if ";r=0;" not in state:
            return "429 with remaining requests: " + state
        if headers.get("content-type") != "application/problem+json":
            return "429 not a problem"
    return ""


def run(index):
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=10)
    start = time.monotonic()
    i = 0
    per_thread = rate / threads if rate > 0 else 0
    while True:
        now = time.monotonic()
        if now - start >= seconds:
            break
        with lock:
            if count and sent[0] >= count:
                break
            sent[0] += 1
        if per_thread > 0:
            # an absolute schedule, offset per thread: the pace stays even
            due = start + (i + index / threads) / per_thread
            if due > now:
                time.sleep(due - now)
        i += 1
        conn.request("GET", path, headers={"Authorization": "Bearer " + token})
        resp = conn.getresponse()
        resp.read()
        headers = {k.lower(): v for k, v in resp.getheaders()}
        why = judge(resp.status, headers)
        with lock:
            if resp.status == 200 or resp.status == 404:
                totals["ok"] += 1
            elif resp.status == 429:
                totals["limited"] += 1
            else:
                totals["other"] += 1
            if why:
                totals["bad"] += 1
                if len(bad_examples) < 3:
                    bad_examples.append("%d: %s" % (resp.status, why))
            last_policy[0] = headers.get("ratelimit-policy", "")
    conn.close()


workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
for w in workers:
    w.start()
for w in workers:
    w.join()
print("ok=%d limited=%d other=%d bad=%d policy=%s" %
      (totals["ok"], totals["limited"], totals["other"], totals["bad"], last_policy[0]))
for example in bad_examples:
    print("bad answer: " + example, file=sys.stderr)
