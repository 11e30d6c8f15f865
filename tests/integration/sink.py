#!/usr/bin/env python3
# A local sink for the integration tests: an HTTP server on 127.0.0.1 that
# records every request it gets as one JSON line (method, path, the raw
# header lines in order, Idempotency-Key, body) and answers 200 with
# {"ok": true}. Usage: sink.py LOG PORTFILE; it writes its port to PORTFILE
# once it listens, and runs until killed. Each line is flushed as it is
# written, so the log is complete up to the moment a test reads it.
# SINK_DELAY_MS in the environment makes every answer wait that long.
# Each line also has "inflight": the requests being answered when it came,
# itself included. A path under /fail/ answers 500; one under /fail-once/
# answers 500 the first time that exact path is asked, then 200.
import http.server
import json
import os
import socketserver
import sys
import threading
import time

LOG = open(sys.argv[1], "a", buffering=1)
LOCK = threading.Lock()
INFLIGHT = [0]
SEEN = set()
DELAY = int(os.environ.get("SINK_DELAY_MS") or 0) / 1000.0


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def record(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        line = {
            "method": self.command,
            "path": self.path,
            "headers": [[k, v] for k, v in self.headers.items()],
            "key": self.headers.get("Idempotency-Key"),
            "body": body.decode("utf-8", "replace"),
        }
        with LOCK:
            INFLIGHT[0] += 1
            line["inflight"] = INFLIGHT[0]
            first = self.path not in SEEN
            SEEN.add(self.path)
            LOG.write(json.dumps(line) + "\n")
        if DELAY > 0:
            time.sleep(DELAY)
        with LOCK:
            INFLIGHT[0] -= 1
        fail = self.path.startswith("/fail/") or (
            first and self.path.startswith("/fail-once/"))
        out = b'{"ok": true}' if not fail else b'{"ok": false}'
        self.send_response(200 if not fail else 500)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_POST = record
    do_PUT = record
    do_GET = record


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024


srv = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
