# hookpost.py: one JSON POST on a kept-alive HTTP/1.1 connection, for the
# load generators of the benchmarks (contrib/bench-e2e.sh, bench-w1.sh)
# and of the tests (tests/integration/post-hooks.py): it sends the body,
# reads the whole answer and returns its status.

async def post_json(r, w, path, body):
    """POST body (bytes) to path (bytes) on the streams r, w; the status."""
    w.write(b"POST %s HTTP/1.1\r\nHost: b\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n"
            b"\r\n%s" % (path, len(body), body))
    head = await r.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = 0
    for h in lines[1:]:
        if h.lower().startswith(b"content-length:"):
            length = int(h.split(b":", 1)[1])
    await r.readexactly(length)
    return int(lines[0].split(b" ")[1])
