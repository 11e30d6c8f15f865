#!/usr/bin/env python3
# A misbehaving HTTP peer for tests/integration/network-faults.sh, Python's
# standard library only. It listens on 127.0.0.1 (a free port, written to
# PORTFILE once it accepts) and behaves by the first segment of the path:
#
#   /reset/...      reads the request, then closes with SO_LINGER 0: an RST
#   /hang/...       reads the request and never answers; it lets go when the
#                   client closes (or after 60 s)
#   /trickle/...    answers a valid 200 one byte every 200 ms
#   /garbage/...    sends bytes that are not HTTP, then closes
#   /huge/...       200 with Content-Length: 64 MiB, then streams the body
#   /stream/...     200 without a length (body until close), streams 20 MiB
#   /flaky/N/...    resets the first N requests to that exact path, then
#                   answers 200 {"ok": true, "seen": K} (K counts them)
#   /ok/...         200 {"ok": true}
#   /stats          {"MODE": requests seen, ...} and "paths": per path
#
# Usage: faulty-sink.py PORTFILE; it runs until killed. Every connection
# carries one request and is closed after it (no keep-alive), so each
# attempt of a client is one connection the counts see.
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time

LOCK = threading.Lock()
MODES = {}
PATHS = {}
CHUNK = b"x" * 65536


def count(mode, path):
    """Counts one request; returns how many that path got, this one too."""
    with LOCK:
        MODES[mode] = MODES.get(mode, 0) + 1
        PATHS[path] = PATHS.get(path, 0) + 1
        return PATHS[path]


class Handler(socketserver.BaseRequestHandler):
    def read_request(self):
        """The request's path, once its head is in (None on EOF)."""
        buf = b""
        self.request.settimeout(10)
        while b"\r\n\r\n" not in buf:
            try:
                data = self.request.recv(4096)
            except OSError:
                return None
            if not data:
                return None
            buf += data
            if len(buf) > 65536:
                return None
        line = buf.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
        return line[1] if len(line) >= 2 else "/"

    def send(self, data):
        try:
            self.request.sendall(data)
            return True
        except OSError:
            return False

    def answer(self, status, body, ctype="application/json"):
        self.send(("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: "
                   "%d\r\nConnection: close\r\n\r\n" %
                   (status, ctype, len(body))).encode() + body)

    def reset(self):
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                struct.pack("ii", 1, 0))
        self.request.close()

    def stream(self, total):
        sent = 0
        while sent < total:
            if not self.send(CHUNK):
                return
            sent += len(CHUNK)

    def handle(self):
        path = self.read_request()
        if path is None:
            return
        parts = path.split("?", 1)[0].strip("/").split("/")
        mode = parts[0]
        if mode == "stats":
            with LOCK:
                d = dict(MODES)
                d["paths"] = dict(PATHS)
            self.answer("200 OK", json.dumps(d).encode())
            return
        seen = count(mode, path)
        if mode == "reset":
            self.reset()
        elif mode == "hang":
            # Held until the client gives up and closes.
            self.request.settimeout(60)
            try:
                while self.request.recv(4096):
                    pass
            except OSError:
                pass
        elif mode == "trickle":
            body = b'{"ok": true}'
            msg = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                   b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" %
                   (len(body), body))
            for i in range(len(msg)):
                if not self.send(msg[i:i + 1]):
                    return
                time.sleep(0.2)
        elif mode == "garbage":
            self.send(b"\x00\x01\xffNOT-HTTP garbage \xde\xad\xbe\xef\r\n"
                      b"\r\n\x7fELF\x02\x01\x01" + os.urandom(256))
        elif mode == "huge":
            self.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n" %
                      (64 << 20))
            self.stream(64 << 20)
        elif mode == "stream":
            self.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                      b"Connection: close\r\n\r\n")
            self.stream(20 << 20)
        elif mode == "flaky":
            try:
                n = int(parts[1])
            except (IndexError, ValueError):
                n = 0
            if seen <= n:
                self.reset()
            else:
                self.answer("200 OK", json.dumps(
                    {"ok": True, "seen": seen}).encode())
        elif mode == "ok":
            self.answer("200 OK", b'{"ok": true}')
        else:
            self.answer("404 Not Found", b'{"error": "no such mode"}')


class Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 512


srv = Server(("127.0.0.1", 0), Handler)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % srv.server_address[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
srv.serve_forever()
