#!/usr/bin/env python3
# A local OTLP/HTTP receiver for tests/integration/tracing.sh: an HTTP
# server on 127.0.0.1 that records every POST as one JSON line (path,
# Content-Type, the document as parsed, or "bad" with the text when it is
# not JSON) and answers 200 with {} as a collector does (an
# ExportTraceServiceResponse with no partial success). Usage:
# otlp-receiver.py LOG PORTFILE [PORT]; it writes its port to PORTFILE once
# it listens (PORT: that port, else a free one) and runs until killed.
import http.server
import json
import socketserver
import sys
import threading

LOG = open(sys.argv[1], "a", buffering=1)
LOCK = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        line = {"path": self.path,
                "type": self.headers.get("Content-Type")}
        try:
            line["doc"] = json.loads(body)
        except ValueError:
            line["bad"] = body.decode("utf-8", "replace")
        with LOCK:
            LOG.write(json.dumps(line) + "\n")
        out = b"{}"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


port = int(sys.argv[3]) if len(sys.argv) > 3 else 0
srv = Server(("127.0.0.1", port), Handler)
with open(sys.argv[2] + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
import os
os.rename(sys.argv[2] + ".tmp", sys.argv[2])
srv.serve_forever()
