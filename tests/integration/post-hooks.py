# post-hooks.py HOST PORT PATH N: posts N webhooks ({"i": I}) over 64
# keep-alive connections, bounded to 60 s; prints how many got a 202.
# Shared by the integration tests that need a burst of runs.
import asyncio, sys

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n = int(sys.argv[4])

async def worker(todo, ok):
    r, w = await asyncio.open_connection(host, port)
    while todo:
        i = todo.pop()
        body = b'{"i": %d}' % i
        w.write(b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: "
                b"application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (path.encode(), len(body), body))
        head = await r.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = 0
        for h in lines[1:]:
            if h.lower().startswith(b"content-length:"):
                length = int(h.split(b":", 1)[1])
        await r.readexactly(length)
        if lines[0].split(b" ")[1] == b"202":
            ok.append(i)
    w.close()

async def main():
    todo, ok = list(range(n)), []
    await asyncio.gather(*(worker(todo, ok) for _ in range(64)))
    print(len(ok))

asyncio.run(asyncio.wait_for(main(), 60))
