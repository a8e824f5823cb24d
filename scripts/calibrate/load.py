"""An ab-like closed-loop load generator (its own process; stdlib asyncio only).

`requests` N in total from `concurrency` C clients; at t=0 C requests go out at once;
each client sends its next request as soon as its previous response is complete.
Request i (0-based, in the order sent) has body {"item_id": 123+i, "feature_value": 5.0+i/2}.

Connection modes:
  keepalive  one HTTP/1.1 keep-alive connection per client, opened (and accepted by the
             server) BEFORE t=0, reused for every request of that client (like `ab -k`,
             and like a browser tab or an httpx.AsyncClient pool). Default: the sends at
             t=0 are then just C write() calls, so "C requests go out at once" holds.
  new        a new TCP connection per request, `Connection: close` (like plain `ab`);
             the connect is part of the request's time (sent = when connect starts).

  httpx      keep-alive connections through httpx.AsyncClient, opened lazily by each
             client's first request: what a Python user would write; the client then
             costs ~0.3-1 ms of CPU per request, so the first C sends spread out.

Times are time.perf_counter() in ms since t0 (the first send). perf_counter is
CLOCK_MONOTONIC on Linux, so t0_abs lines up with server-side traces.
Output: one JSON object on stdout.

The client is a raw asyncio.Protocol (no HTTP library): the next request is written from
inside data_received, in the same callback that completed the response, so the client
adds microseconds, not the ~0.5 ms per request an HTTP library such as httpx costs.
"""

import argparse
import asyncio
import json
import socket
import sys
import time

pc = time.perf_counter


class Gen:
    def __init__(self, args):
        self.args = args
        self.n = args.requests
        self.next_i = 0
        self.results = [None] * self.n
        self.done_count = 0
        self.t0 = None
        self.loop = asyncio.get_running_loop()
        self.finished = self.loop.create_future()
        self.keepalive = args.conn == "keepalive"
        self.clients = []

    def request_bytes(self, i):
        body = json.dumps({"item_id": 123 + i, "feature_value": 5.0 + i / 2}).encode()
        conn = b"" if self.keepalive else b"Connection: close\r\n"
        head = (
            f"POST {self.args.path} HTTP/1.1\r\nHost: {self.args.host}:{self.args.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        ).encode()
        return head + conn + b"\r\n" + body

    def take(self):
        if self.next_i >= self.n:
            return None
        i = self.next_i
        self.next_i += 1
        return i

    def ms(self, t):
        return (t - self.t0) * 1000.0

    def complete(self, i, client, t_sent, t_conn, status, body):
        t = pc()
        self.results[i] = {
            "i": i,
            "client": client,
            "sent": round(self.ms(t_sent), 3),
            "connect": None if t_conn is None else round(self.ms(t_conn), 3),
            "answered": round(self.ms(t), 3),
            "status": status,
            "body": body,
        }
        self.done_count += 1
        if self.done_count == self.n and not self.finished.done():
            self.finished.set_result(None)


class Conn(asyncio.Protocol):
    """One TCP connection; forwards to its client while it is the client's current one."""

    def __init__(self, client):
        self.client = client

    def connection_made(self, tr):
        tr.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.client.made(self, tr)

    def data_received(self, data):
        if self.client.conn is self:
            self.client.data_received(data)

    def connection_lost(self, exc):
        if self.client.conn is self:
            self.client.lost(exc)


class Client:
    def __init__(self, gen, cid):
        self.gen = gen
        self.cid = cid
        self.conn = None
        self.tr = None
        self.buf = b""
        self.i = None
        self.t_sent = None
        self.t_conn = None

    def made(self, conn, tr):
        self.conn, self.tr = conn, tr
        if not self.gen.keepalive and self.i is not None:
            self._write()

    def lost(self, exc):
        self.conn = self.tr = None
        if self.i is not None and not self.gen.finished.done():
            self.gen.finished.set_exception(
                RuntimeError(f"client {self.cid}: connection lost during request {self.i}: {exc}")
            )

    def data_received(self, data):
        self.buf += data
        h = self.buf.find(b"\r\n\r\n")
        if h < 0:
            return
        head = self.buf[:h].decode("latin-1").split("\r\n")
        length = 0
        for line in head[1:]:
            k, _, v = line.partition(":")
            if k.strip().lower() == "content-length":
                length = int(v)
        if len(self.buf) < h + 4 + length:
            return
        body = self.buf[h + 4 : h + 4 + length].decode()
        status = int(head[0].split()[1])
        self.buf = self.buf[h + 4 + length :]
        i, t_sent, t_conn = self.i, self.t_sent, self.t_conn
        self.i = None
        # like ab: the next request goes out as soon as the response is complete
        self.gen.complete(i, self.cid, t_sent, t_conn, status, body)
        self.send_next()

    def _write(self):
        self.t_sent = pc()
        self.tr.write(self.gen.request_bytes(self.i))

    def send_next(self):
        i = self.gen.take()
        if i is None:
            if not self.gen.keepalive and self.tr is not None:
                self.conn = None
                self.tr.close()
            return
        self.i = i
        if self.gen.keepalive:
            self.t_conn = None
            self._write()
        else:
            if self.tr is not None:
                self.conn = None  # the old connection's close is not an error
                self.tr.close()
                self.tr = None
            self.buf = b""
            self.t_conn = pc()
            self.gen.loop.create_task(self._connect())

    async def _connect(self):
        a = self.gen.args
        await self.gen.loop.create_connection(lambda: Conn(self), a.host, a.port)


async def main_httpx(args):
    """The same closed loop written the way most Python users would: httpx.AsyncClient,
    one coroutine per client, connections opened lazily by the first request (like ab -k)."""
    import httpx

    gen = Gen(args)
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    base = f"http://{args.host}:{args.port}"
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=args.timeout) as client:

        async def worker(cid):
            while (i := gen.take()) is not None:
                t_sent = pc()
                r = await client.post(args.path, json={"item_id": 123 + i, "feature_value": 5.0 + i / 2})
                gen.complete(i, cid, t_sent, None, r.status_code, r.text)

        gen.t0 = pc()
        error = None
        try:
            await asyncio.wait_for(asyncio.gather(*(worker(c) for c in range(args.concurrency))), args.timeout)
        except Exception as e:
            error = repr(e)
    return {"t0_abs": gen.t0, "conn": "httpx", "error": error, "requests": [r for r in gen.results if r is not None]}


async def main(args):
    if args.conn == "httpx":
        return await main_httpx(args)
    gen = Gen(args)
    loop = gen.loop
    clients = [Client(gen, c) for c in range(args.concurrency)]
    if gen.keepalive:
        for c in clients:
            await loop.create_connection(lambda c=c: Conn(c), args.host, args.port)
        await asyncio.sleep(0.05)  # let the server accept and register every connection
    gen.t0 = pc()
    for c in clients:
        c.send_next()
    try:
        await asyncio.wait_for(gen.finished, args.timeout)
        error = None
    except Exception as e:  # timeout or lost connection: report what came back
        error = repr(e)
    for c in clients:
        if c.tr is not None:
            c.tr.close()
    return {
        "t0_abs": gen.t0,
        "conn": args.conn,
        "error": error,
        "requests": [r for r in gen.results if r is not None],
    }


def parse(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--path", required=True)
    p.add_argument("--requests", "-n", type=int, required=True)
    p.add_argument("--concurrency", "-c", type=int, required=True)
    p.add_argument("--conn", choices=["keepalive", "new", "httpx"], default="keepalive")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole run")
    return p.parse_args(argv)


if __name__ == "__main__":
    a = parse()
    out = asyncio.run(main(a))
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
