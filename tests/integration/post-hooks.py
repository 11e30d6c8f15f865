# post-hooks.py HOST PORT PATH N: posts N webhooks ({"i": I}) over 64
# keep-alive connections, bounded to 60 s; prints how many got a 202.
# Shared by the integration tests that need a burst of runs.
import asyncio, os, sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "contrib"))
from hookpost import post_json

host, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n = int(sys.argv[4])

async def worker(todo, ok):
    r, w = await asyncio.open_connection(host, port)
    while todo:
        i = todo.pop()
        if await post_json(r, w, path.encode(), b'{"i": %d}' % i) == 202:
            ok.append(i)
    w.close()

async def main():
    todo, ok = list(range(n)), []
    await asyncio.gather(*(worker(todo, ok) for _ in range(64)))
    print(len(ok))

asyncio.run(asyncio.wait_for(main(), 60))
