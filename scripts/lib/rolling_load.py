#!/usr/bin/env python3
"""The steady load of scripts/rolling-restart (run by it, never alone).

N clients, each a thread with its own user (token) and its own keep-alive
connection to nginx, loop over GET /v1/home, GET /v1/products/{id} and
POST /v1/checkout (a fresh Idempotency-Key each), about --rate requests a
second each, until the file --stop exists. Every answer is recorded: its
status, and for checkout the key and the order id.

Then it checks, and prints the figures:
  - every answer was what it would be without a restart: 200 for the reads,
    201 for checkout; no other status, no connection error;
  - every checkout key replayed (same user, key and body) answers 201 with
    the order id it got the first time;
  - the simulator's orders service holds, for each user, exactly the orders
    its client was given: one order per key, none lost, none doubled.

A request that fails on a reused keep-alive connection before any byte of
the answer (nginx closed that idle connection, as it does to its old
workers' connections on a reload) is sent again once on a new connection,
as HTTP clients do (RFC 9112 section 9.3.1; for checkout the same
Idempotency-Key makes that safe). Those resends are counted and printed.
Exit 0 when every check holds, 1 otherwise. Standard library only.
"""

import argparse
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

EXPECTED = {"home": 200, "product": 200, "checkout": 201}
# One round of a client: mostly reads, one checkout in four requests.
ROUND = ["home", "product", "checkout", "product"]
STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


class Conn:
    """One keep-alive connection that knows whether it was used before."""

    def __init__(self, host, port):
        self.host, self.port = host, port
        self.conn = None
        self.used = False

    def close(self):
        if self.conn is not None:
            self.conn.close()
        self.conn, self.used = None, False

    def once(self, method, path, headers, body):
        if self.conn is None:
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=15)
            self.used = False
        reused = self.used
        try:
            self.conn.request(method, path, body=body, headers=headers)
            response = self.conn.getresponse()
        except STALE:
            self.close()
            if reused:
                return None
            raise
        data = response.read()
        self.used = True
        if response.will_close:
            self.close()
        return response.status, data

    def call(self, method, path, headers, body=None):
        """(status, body bytes, resent?)"""
        answer = self.once(method, path, headers, body)
        if answer is not None:
            return answer[0], answer[1], False
        answer = self.once(method, path, headers, body)
        return answer[0], answer[1], True


class Client(threading.Thread):
    def __init__(self, index, user, token, args, products, stop):
        super().__init__(daemon=True)
        self.index, self.user, self.token = index, user, token
        self.args, self.products, self.stop = args, products, stop
        url = urllib.parse.urlsplit(args.url)
        self.conn = Conn(url.hostname, url.port)
        self.records = []  # (kind, status or None, error, key, order_id)
        self.checkouts = []  # (key, body, order_id)
        self.resent = 0

    def headers(self):
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    def request(self, kind, n):
        headers = self.headers()
        key = order_id = None
        body = None
        if kind == "home":
            method, path = "GET", "/v1/home"
        elif kind == "product":
            method, path = "GET", f"/v1/products/{self.products[(n + self.index) % len(self.products)]}"
        else:
            method, path = "POST", "/v1/checkout"
            key = f"rr-{self.user}-{n}-{uuid.uuid4().hex[:12]}"
            product = self.products[(n * 7 + self.index) % len(self.products)]
            body = json.dumps({"lines": [{"product_id": product, "quantity": 1}]})
            headers.update({"Idempotency-Key": key, "Content-Type": "application/json"})
        try:
            status, data, resent = self.conn.call(method, path, headers, body)
        except Exception as e:  # noqa: BLE001 - every failure is a record
            self.conn.close()
            self.records.append((kind, None, f"{type(e).__name__}: {e}", key, None))
            return
        self.resent += resent
        error = None
        if status == 201 and kind == "checkout":
            try:
                order_id = json.loads(data)["order"]["id"]
                self.checkouts.append((key, body, order_id))
            except (ValueError, KeyError, TypeError):
                error = f"checkout 201 without an order id: {data[:200]!r}"
        elif status != EXPECTED[kind]:
            error = f"{method} {path}: {status} {data[:200]!r}"
        self.records.append((kind, status, error, key, order_id))

    def run(self):
        period = 1.0 / self.args.rate
        n = 0
        next_at = time.monotonic()
        while not self.stop.is_set():
            self.request(ROUND[n % len(ROUND)], n)
            n += 1
            next_at += period
            delay = next_at - time.monotonic()
            if delay > 0:
                self.stop.wait(delay)
            else:
                next_at = time.monotonic()
        self.conn.close()


def get_json(url):
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=15)
    try:
        conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""))
        response = conn.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status} {data[:200]!r}")
        return json.loads(data)
    finally:
        conn.close()


def in_stock_products(args, token):
    """Products that checkout can place (in stock), probed through nginx."""
    url = urllib.parse.urlsplit(args.url)
    conn = Conn(url.hostname, url.port)
    found = []
    for n in range(1, 41):
        status, data, _ = conn.call("GET", f"/v1/products/p-{n}", {"Authorization": f"Bearer {token}"})
        if status == 200 and json.loads(data).get("stock", {}).get("in_stock"):
            found.append(f"p-{n}")
    conn.close()
    if len(found) < 5:
        raise SystemExit(f"rolling-load: only {len(found)} products in stock among p-1..p-40")
    return found


def placed_orders(orders_url, user):
    """The ids of the orders `user` placed (o-new-*), from the orders service."""
    ids, cursor = [], None
    while True:
        query = {"user_id": user, "limit": "100"}
        if cursor:
            query["cursor"] = cursor
        page = get_json(f"{orders_url}/orders?{urllib.parse.urlencode(query)}")
        ids += [o["id"] for o in page["items"] if o["id"].startswith("o-new-")]
        cursor = page.get("next_cursor")
        if not cursor:
            return ids


def replay(args, client):
    """Sends every checkout of `client` again; returns the mismatches."""
    url = urllib.parse.urlsplit(args.url)
    conn = Conn(url.hostname, url.port)
    bad = []
    for key, body, order_id in client.checkouts:
        headers = client.headers()
        headers.update({"Idempotency-Key": key, "Content-Type": "application/json"})
        try:
            status, data, _ = conn.call("POST", "/v1/checkout", headers, body)
            again = json.loads(data).get("order", {}).get("id") if status == 201 else None
        except Exception as e:  # noqa: BLE001
            status, again = f"{type(e).__name__}: {e}", None
        if status != 201 or again != order_id:
            bad.append(f"key {key}: first {order_id}, replay {status} {again}")
    conn.close()
    return bad


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="nginx, bff-mobile's URL")
    parser.add_argument("--orders-url", required=True, help="the simulator's orders service")
    parser.add_argument("--tokens", required=True, help="a file of 'user token' lines, one per client")
    parser.add_argument("--rate", type=float, default=15, help="requests a second per client")
    parser.add_argument("--ready", required=True, help="file written once the load runs")
    parser.add_argument("--stop", required=True, help="the load stops when this file exists")
    parser.add_argument("--max-seconds", type=float, default=150, help="stop anyway after this long")
    args = parser.parse_args()

    users = [line.split() for line in open(args.tokens) if line.strip()]
    products = in_stock_products(args, users[0][1])
    stop = threading.Event()
    clients = [Client(i, user, token, args, products, stop) for i, (user, token) in enumerate(users)]
    started = time.monotonic()
    for client in clients:
        client.start()
    with open(args.ready, "w") as f:
        f.write("running\n")
    while not os.path.exists(args.stop) and time.monotonic() - started < args.max_seconds:
        time.sleep(0.05)
    stop.set()
    for client in clients:
        client.join(20)
    elapsed = time.monotonic() - started

    records = [r for c in clients for r in c.records]
    failures = [r for r in records if r[2] is not None]
    by_status = {}
    for kind, status, *_ in records:
        by_status.setdefault(kind, {}).setdefault(str(status), 0)
        by_status[kind][str(status)] += 1
    checkouts = sum(len(c.checkouts) for c in clients)
    resent = sum(c.resent for c in clients)

    problems = []
    for kind, status, error, key, _ in failures[:20]:
        problems.append(f"{kind}{' key ' + key if key else ''}: {error}")
    if len(failures) > 20:
        problems.append(f"... and {len(failures) - 20} more failed requests")
    if not os.path.exists(args.stop):
        problems.append(f"the load ran {args.max_seconds:.0f} s without being told to stop")

    replay_bad = []
    for client in clients:
        replay_bad += replay(args, client)
    problems += replay_bad[:10]

    order_bad = []
    for client in clients:
        got = [order_id for _, _, order_id in client.checkouts]
        placed = placed_orders(args.orders_url, client.user)
        if len(set(got)) != len(got):
            order_bad.append(f"{client.user}: one order id was given for two keys")
        if sorted(placed) != sorted(got):
            lost = set(got) - set(placed)
            extra = set(placed) - set(got)
            order_bad.append(
                f"{client.user}: the orders service holds {len(placed)} orders, the client was given "
                f"{len(got)} (missing there: {sorted(lost)[:5]}, not given to the client: {sorted(extra)[:5]})"
            )
    problems += order_bad

    print(f"load: {len(clients)} clients, {len(records)} requests in {elapsed:.1f} s "
          f"({len(records) / elapsed:.0f}/s), {len(failures)} failed")
    for kind in ("home", "product", "checkout"):
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(by_status.get(kind, {}).items()))
        print(f"load:   {kind:9} {statuses}")
    print(f"load: checkouts {checkouts} placed, {checkouts - len(replay_bad)} replayed with the same order id, "
          f"{len(clients) - len(order_bad)}/{len(clients)} users' orders match the orders service exactly")
    print(f"load: requests sent again on a new connection (an idle keep-alive connection nginx had closed): {resent}")
    for problem in problems:
        print(f"load: FAILED {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
