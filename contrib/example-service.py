#!/usr/bin/env python3
"""A small local HTTP service for the background-task example and its tests.

It plays the two services the example talks to:

  GET  /customers/NAME   a customer record as JSON (404 for an unknown one)
  GET  /prices/SKU       {"sku": SKU, "price": P}: the unit price of an item
                         (the order-pricing example), the same for a SKU
                         every time
  POST /callback         records the body, the Idempotency-Key header and
                         the arrival time as one JSON line in --record
  POST /jobs             (recorded in --record as it arrives, its body as
                         text) accepts a job, {"callback_url": URL, "after_ms": N,
                         "result": ANY, "fail": "why"}: answers 202 at once,
                         and N ms later (default 500) POSTs {"job": ID,
                         "result": ANY} to URL, or {"error": "why"} to
                         URL/fail when "fail" is given (a task token's
                         callback; a 409 with Retry-After is tried again)
  GET  /healthz          200 {"status": "ok"}
  GET  /stats            how many requests each path got, the failures sent
                         and the last 10,000 requests (time, method, path,
                         and the failure injected: "500", "429", "close",
                         or "ok")
  POST /_control         changes the failure settings at run time (a JSON
                         object with the keys of the options below)

and can misbehave on purpose, which is what the tests need:

  --delay-ms N        answer every /customers and /callback request after N ms
  --fail-500 N        answer the next N requests with 500
  --fail-429 N        then the next N with 429 and Retry-After (--retry-after)
  --close N           then close the connection of the next N without answer
  --fail-on PREFIX    only requests whose path starts with PREFIX misbehave
                      (default: /customers and /callback alike)

It speaks HTTP/1.1 with keep-alive on asyncio, Python's standard library
only, so a thousand requests waiting out a delay cost no thread each. It
prints "example-service: listening on http://HOST:PORT" on stderr once it
accepts connections (--port 0 picks a free port).
"""

import argparse
import asyncio
import collections
import itertools
import json
import os
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import unquote

JOB_IDS = itertools.count(1)

CUSTOMERS = {
    "acme": {"id": "acme", "name": "Acme Corporation", "tier": "gold",
             "discount_pct": 10, "currency": "EUR",
             "email": "billing@acme.example"},
    "globex": {"id": "globex", "name": "Globex", "tier": "silver",
               "discount_pct": 5, "currency": "USD",
               "email": "ap@globex.example"},
    "initech": {"id": "initech", "name": "Initech", "tier": "bronze",
                "discount_pct": 0, "currency": "USD",
                "email": "invoices@initech.example"},
}

REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request",
           404: "Not Found", 405: "Method Not Allowed",
           429: "Too Many Requests", 500: "Internal Server Error"}


class Service:
    """The settings, counters and the callback record of one process."""

    def __init__(self, args):
        self.delay_ms = args.delay_ms
        self.fail_500 = args.fail_500
        self.fail_429 = args.fail_429
        self.retry_after = args.retry_after
        self.close = args.close
        self.fail_on = args.fail_on
        self.customers = dict(CUSTOMERS)
        if args.customers:
            with open(args.customers) as f:
                self.customers.update(json.load(f))
        self.record = open(args.record, "a") if args.record else None
        self.counts = {}
        self.sent = {"500": 0, "429": 0, "close": 0}
        self.log = collections.deque(maxlen=10000)
        self.quiet = args.quiet
        self.jobs = set()

    def control(self, d):
        """Applies a /_control body; answers the settings now in force."""
        for k in ("delay_ms", "fail_500", "fail_429", "retry_after",
                  "close"):
            if k in d:
                setattr(self, k, int(d[k]))
        if "fail_on" in d:
            self.fail_on = d["fail_on"]
        return {k: getattr(self, k) for k in
                ("delay_ms", "fail_500", "fail_429", "retry_after",
                 "close", "fail_on")}

    def write_record(self, rec):
        """Appends one JSON line to --record, when given."""
        if self.record is not None:
            self.record.write(json.dumps(rec) + "\n")
            self.record.flush()

    def misbehave(self, path):
        """The failure due for this request: "500", "429", "close" or None."""
        if self.fail_on and not path.startswith(self.fail_on):
            return None
        if self.fail_500 > 0:
            self.fail_500 -= 1
            return "500"
        if self.fail_429 > 0:
            self.fail_429 -= 1
            return "429"
        if self.close > 0:
            self.close -= 1
            return "close"
        return None


def post_json(url, obj):
    """POSTs obj to url: (status, Retry-After or None)."""
    req = urllib.request.Request(
        url, data=json.dumps(obj).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, None
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Retry-After")
    except OSError:
        return 0, "1"


async def call_back(svc, job, d):
    """A job's callback, after_ms after it was accepted; again on a 409
    with Retry-After (the step's own request has not finished yet)."""
    await asyncio.sleep(int(d.get("after_ms", 500)) / 1000.0)
    url = d["callback_url"]
    if d.get("fail") is not None:
        url, obj = url + "/fail", {"error": str(d["fail"]),
                                   "retryable": bool(d.get("retryable"))}
    else:
        obj = {"job": job, "result": d.get("result")}
    for _ in range(30):
        status, again = await asyncio.to_thread(post_json, url, obj)
        if not svc.quiet:
            print("example-service: job %d called back: %d" % (job, status),
                  file=sys.stderr, flush=True)
        if again is None:
            return
        await asyncio.sleep(float(again))


def answer(status, obj=None, headers=None, keep_alive=True):
    """The bytes of one response with a JSON body."""
    body = b"" if obj is None else json.dumps(obj).encode() + b"\n"
    lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Status")),
             "Content-Length: %d" % len(body)]
    if obj is not None:
        lines.append("Content-Type: application/json")
    if not keep_alive:
        lines.append("Connection: close")
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def handle(svc, method, path, headers, body):
    """One request: (status, JSON body, extra headers), or None to close."""
    arrived = time.time()
    path = path.split("?", 1)[0]
    if path == "/healthz":
        return 200, {"status": "ok"}, None
    if path == "/stats" and method == "GET":
        return 200, {"requests": svc.counts, "sent": svc.sent,
                     "log": list(svc.log)}, None
    if path == "/_control" and method == "POST":
        try:
            return 200, svc.control(json.loads(body or b"{}")), None
        except (ValueError, TypeError) as e:
            return 400, {"error": "bad control body: %s" % e}, None
    key = "/customers" if path.startswith("/customers/") else \
        "/prices" if path.startswith("/prices/") else path
    svc.counts[key] = svc.counts.get(key, 0) + 1
    if path == "/jobs":
        svc.write_record({"time": arrived, "path": path,
                          "body": body.decode("utf-8", "replace")})
    if svc.delay_ms > 0:
        await asyncio.sleep(svc.delay_ms / 1000.0)
    bad = svc.misbehave(path)
    svc.log.append([arrived, method, path, bad or "ok"])
    if bad is not None:
        svc.sent[bad] += 1
        if bad == "close":
            return None
        if bad == "429":
            return 429, {"error": "slow down"}, {
                "Retry-After": str(svc.retry_after)}
        return 500, {"error": "injected failure"}, None
    if path.startswith("/customers/") and method == "GET":
        name = unquote(path[len("/customers/"):])
        c = svc.customers.get(name)
        if c is None:
            return 404, {"error": "no customer %s" % name}, None
        return 200, c, None
    if path.startswith("/prices/") and method == "GET":
        sku = unquote(path[len("/prices/"):])
        cents = 100 + sum(sku.encode()) * 37 % 9900
        return 200, {"sku": sku, "price": cents / 100.0}, None
    if path == "/callback" and method == "POST":
        try:
            doc = json.loads(body) if body else None
        except ValueError:
            doc = body.decode("utf-8", "replace")
        svc.write_record({"time": arrived, "path": path,
                          "idempotency_key": headers.get("idempotency-key"),
                          "authorization": headers.get("authorization"),
                          "content_type": headers.get("content-type"),
                          "body": doc})
        return 200, {"received": True}, None
    if path == "/jobs" and method == "POST":
        try:
            d = json.loads(body)
            d["callback_url"].startswith("http")
        except (ValueError, TypeError, KeyError, AttributeError):
            return 400, {"error": "a job is {\"callback_url\": URL, ...}"}, \
                None
        job = next(JOB_IDS)
        task = asyncio.ensure_future(call_back(svc, job, d))
        svc.jobs.add(task)
        task.add_done_callback(svc.jobs.discard)
        return 202, {"job": job}, None
    if path.startswith(("/customers/", "/prices/")) or \
            path in ("/callback", "/jobs"):
        return 405, {"error": "method not allowed"}, None
    return 404, {"error": "no such path %s" % path}, None


async def serve_conn(svc, reader, writer):
    """Requests of one connection, one after the other (keep-alive)."""
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                    ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            try:
                method, target, version = lines[0].split(" ", 2)
            except ValueError:
                return
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0") or 0)
            body = await reader.readexactly(n) if n > 0 else b""
            keep = headers.get("connection", "").lower() != "close" and \
                version == "HTTP/1.1"
            res = await handle(svc, method, target, headers, body)
            if res is None:
                # The injected fault: hang up without an answer.
                writer.transport.abort()
                return
            status, obj, extra = res
            writer.write(answer(status, obj, extra, keep))
            await writer.drain()
            if not svc.quiet:
                print("example-service: %s %s %d" % (method, target, status),
                      file=sys.stderr, flush=True)
            if not keep:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        return
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9100)
    p.add_argument("--record", help="JSON lines file of the callbacks")
    p.add_argument("--customers", help="JSON object of extra customers")
    p.add_argument("--delay-ms", type=int, default=0)
    p.add_argument("--fail-500", type=int, default=0)
    p.add_argument("--fail-429", type=int, default=0)
    p.add_argument("--retry-after", type=int, default=1)
    p.add_argument("--close", type=int, default=0)
    p.add_argument("--fail-on", default="")
    p.add_argument("--quiet", action="store_true",
                   help="no line per request on stderr")
    args = p.parse_args()
    svc = Service(args)
    server = await asyncio.start_server(
        lambda r, w: serve_conn(svc, r, w), args.host, args.port,
        backlog=4096, limit=1 << 20)
    port = server.sockets[0].getsockname()[1]
    print("example-service: listening on http://%s:%d" % (args.host, port),
          file=sys.stderr, flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        os._exit(0)
