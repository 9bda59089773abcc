#!/usr/bin/env python3
"""The measuring half of bench/run (docs/benchmarks.md); standard library only.

bench/run installs the tools and builds the release binaries, then runs this.
It starts every process itself (pinned with taskset), measures each step with
wrk and /proc, writes bench/results/latest.json and prints a Markdown report.
It asserts nothing about timing: with --smoke it fails only when a step did
not run, answered non-2xx, or had socket errors.

Every process it starts is stopped by its pid when it exits (normally, on an
error or on SIGINT/SIGTERM). Traffic goes only to 127.0.0.1.
"""

import base64
import datetime
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK = os.sysconf("SC_CLK_TCK")
UPSTREAMS = ["users", "orders", "catalog", "pricing", "inventory", "recommendations", "notifications", "reviews"]


def env_int(name, default):
    value = os.environ.get(name, "")
    return int(value) if value else default


SMOKE = "--smoke" in sys.argv[1:]
SECONDS = env_int("BENCH_SECONDS", 1 if SMOKE else 10)
WARMUP = env_int("BENCH_WARMUP_SECONDS", 1 if SMOKE else 2)
LATENCY = env_int("BENCH_LATENCY_MS", 10)
BFF_CORE = os.environ.get("BENCH_BFF_CORE", "0")
LOAD_CORE = os.environ.get("BENCH_LOAD_CORE", "1")
USERS = env_int("BENCH_USERS", 1000)
BIN = os.environ.get("BENCH_BIN", os.path.join(ROOT, "target", "release"))
OUT = os.environ.get("BENCH_OUT", os.path.join(ROOT, "bench", "results", "latest.json"))
FAN_WIDTHS = [1, 4] if SMOKE else [1, 2, 4, 8, 16, 32]
# 16: up to 32 calls per request the core stays unsaturated (16 x 32 calls
# every ~12 ms), so the steps draw cost against width, not a queue.
FAN_CONNS = env_int("BENCH_FAN_CONNS", 16)
HOME_CONNS = [1, 64] if SMOKE else [1, 64, 256]
PASS_CONNS = [1] if SMOKE else [1, 64]

# ---------------------------------------------------------------- processes

STARTED = []  # Popen objects of every process this script started


def stop_all(*_):
    for proc in reversed(STARTED):
        stop(proc)
    STARTED.clear()


def on_signal(signum, _frame):
    stop_all()
    sys.exit(128 + signum)


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    if proc in STARTED:
        STARTED.remove(proc)


def start(argv, core, env=None, log=None):
    """Starts argv pinned to core; taskset execs it, so the pid is the program's."""
    out = open(log or os.devnull, "ab")
    proc = subprocess.Popen(
        ["taskset", "-c", core] + argv, env=env, stdout=subprocess.DEVNULL, stderr=out, stdin=subprocess.DEVNULL
    )
    STARTED.append(proc)
    return proc


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, proc, what, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"bench: {what} exited with {proc.returncode} at start-up (log in {TMP})")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status < 500:
                    return
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return
        except OSError:
            pass
        time.sleep(0.05)
    raise SystemExit(f"bench: {what} not ready at {url} within {timeout} s")


def http_get(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.status, dict(answer.headers), answer.read()


# ---------------------------------------------------------------- /proc


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def busy_ticks():
    """Busy ticks of the whole machine (every core), from /proc/stat."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return sum(values) - values[3] - values[4]  # minus idle and iowait


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def mib(kib):
    return round(kib / 1024, 1)


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(status_meminfo("MemTotal") / 1048576, 1),
        "kernel": platform.release(),
        "bff_core": BFF_CORE,
        "load_core": LOAD_CORE,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(),
    }


def status_meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def git_commit():
    try:
        return subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        ).stdout.strip()
    except OSError:
        return ""


# ---------------------------------------------------------------- tokens and load scripts


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256(secret, sub, ttl=3600):
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": sub, "exp": int(time.time()) + ttl}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


LUA = r"""
-- One request per line of BENCH_REQUESTS ("path<TAB>header<TAB>value"),
-- built once in init and sent round-robin: every user of the run in turn.
local requests = {}
local i = 0
function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local path, name, value = line:match("([^\t]*)\t([^\t]*)\t(.*)")
    local headers = {}
    if name ~= "" then headers[name] = value end
    requests[#requests + 1] = wrk.format("GET", path, headers)
  end
end
function request()
  i = i % #requests + 1
  return requests[i]
end
"""


def request_file(name, lines):
    path = os.path.join(TMP, f"{name}.tsv")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------- wrk

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return round(float(match.group(1)) * UNITS[match.group(2)], 3) if match else None


def parse_wrk(out):
    result = {"requests": 0, "rps": 0.0, "non2xx": 0, "socket_errors": 0}
    for line in out.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] in ("50%", "90%", "99%"):
            result["p" + words[0][:-1] + "_ms"] = to_ms(words[1])
        elif "requests in" in line:
            result["requests"] = int(words[0])
        elif line.startswith("Requests/sec:"):
            result["rps"] = round(float(words[1]), 1)
        elif line.strip().startswith("Non-2xx or 3xx responses:"):
            result["non2xx"] = int(words[-1])
        elif line.strip().startswith("Socket errors:"):
            result["socket_errors"] = sum(int(n) for n in re.findall(r"\d+", line))
    return result


def wrk(url, conns, seconds, requests, out_name):
    """Runs wrk pinned to the load core; its output and its CPU ticks."""
    out_path = os.path.join(TMP, out_name + ".wrk")
    env = dict(os.environ, BENCH_REQUESTS=requests)
    with open(out_path, "w") as out:
        proc = subprocess.Popen(
            ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
             "--latency", "-s", LUA_PATH, url],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
        STARTED.append(proc)
        # wait4 gives wrk's own CPU time, which /proc no longer has once it exited.
        deadline = time.time() + seconds + 30
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.time() > deadline:
                stop(proc)
                raise SystemExit(f"bench: wrk did not finish in time ({out_path})")
            time.sleep(0.05)
        STARTED.remove(proc)
    with open(out_path) as f:
        text = f.read()
    if proc.returncode != 0:
        raise SystemExit(f"bench: wrk failed ({out_path}):\n{text}")
    return text, (usage.ru_utime + usage.ru_stime) * CLK


# ---------------------------------------------------------------- the fake and the servers


class Fake:
    """bench-upstream on the load core, restarted when the latency changes."""

    def __init__(self):
        self.proc, self.port, self.latency = None, None, None

    def run(self, latency):
        if self.proc and self.latency == latency:
            return
        if self.proc:
            stop(self.proc)
        self.port, self.latency = free_port(), latency
        self.proc = start(
            [os.path.join(BIN, "bench-upstream"), "--listen", f"127.0.0.1:{self.port}", "--latency-ms", str(latency)],
            LOAD_CORE, log=os.path.join(TMP, "fake.log"),
        )
        wait_ready(f"{self.url}/__calls", self.proc, "bench-upstream")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def calls(self):
        return int(http_get(f"{self.url}/__calls")[2])


def bff_env(fake, port, cache, extra=None):
    # Every feature at its default (rate limiting included: the requests
    # go round BENCH_USERS users, each far under its limit), except the
    # fragment cache, off unless `cache`.
    env = {"BFF_LISTEN": f"127.0.0.1:{port}", "BFF_JWT_HS256_SECRET": SECRET}
    if not cache:
        env.update({"BFF_CACHE_PRODUCT_TTL_MS": "0", "BFF_CACHE_PRICE_TTL_MS": "0"})
    for name in UPSTREAMS:
        env[f"BFF_UPSTREAM_{name.upper()}_URL"] = fake.url
    env.update(extra or {})
    return env


class Server:
    """A measured server: its pid (the process whose CPU is counted) and base URL."""

    def __init__(self, name, proc, port, pid=None, metrics=False):
        self.name, self.proc, self.port = name, proc, port
        self.pid = pid or proc.pid
        self.metrics = metrics

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def degraded_sections(self):
        """bff_degraded_sections_total summed (bff-shared servers only)."""
        if not self.metrics:
            return None
        text = http_get(f"{self.url}/metrics")[2].decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("bff_degraded_sections_total")
        )


def start_bff_mobile(fake, cache):
    port = free_port()
    proc = start([os.path.join(BIN, "bff-mobile")], BFF_CORE, env=bff_env(fake, port, cache),
                 log=os.path.join(TMP, "bff-mobile.log"))
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc, "bff-mobile")
    return Server("bff-mobile" if not cache else "bff-mobile (cache on)", proc, port, metrics=True)


def start_minimal(fake):
    port = free_port()
    proc = start([os.path.join(BIN, "minimal-bff"), "--listen", f"127.0.0.1:{port}", "--upstream", fake.url,
                  "--secret", SECRET], BFF_CORE, log=os.path.join(TMP, "minimal.log"))
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc, "minimal-bff")
    return Server("minimal-bff", proc, port)


def start_fanout(fake):
    port = free_port()
    env = {"BFF_LISTEN": f"127.0.0.1:{port}", "BFF_JWT_HS256_SECRET": SECRET,
           "BFF_UPSTREAM_FAN_URL": fake.url,
           # Up to 64 connections × 32 calls (BENCH_FAN_CONNS): the default
           # cap (512) could refuse calls (`overloaded`) and hide the work
           # this scenario measures.
           "BFF_UPSTREAM_FAN_MAX_IN_FLIGHT": "2048"}
    proc = start([os.path.join(BIN, "fanout-bff")], BFF_CORE, env=env, log=os.path.join(TMP, "fanout.log"))
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc, "fanout-bff")
    return Server("fanout-bff", proc, port, metrics=True)


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    # Like the BFF's access log: formatted and written, to /dev/null.
    access_log /dev/null combined;
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    fastcgi_temp_path {tmp}/nginx-fastcgi;
    uwsgi_temp_path {tmp}/nginx-uwsgi;
    scgi_temp_path {tmp}/nginx-scgi;
    upstream fake {{
        server 127.0.0.1:{fake_port};
        keepalive 64;
    }}
    server {{
        listen 127.0.0.1:{port};
        location /v1/orders/ {{
            proxy_pass http://fake/orders/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }}
        location = /healthz {{ return 200 "ok"; }}
    }}
}}
"""


def start_nginx(fake):
    port = free_port()
    conf = os.path.join(TMP, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(tmp=TMP, fake_port=fake.port, port=port))
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    proc = start([nginx, "-c", conf, "-p", TMP, "-e", os.path.join(TMP, "nginx-error.log")], BFF_CORE,
                 log=os.path.join(TMP, "nginx.log"))
    wait_ready(f"http://127.0.0.1:{port}/healthz", proc, "nginx")
    workers = children(proc.pid)
    if len(workers) != 1:
        raise SystemExit(f"bench: expected one nginx worker, found {workers}")
    return Server("nginx", proc, port, pid=workers[0])


# ---------------------------------------------------------------- steps

STEPS = []


def measure(scenario, server, conns, path_requests, fake, extra=None, seconds=None, rss_sampler=False):
    """One wrk step against server; appends and returns its row."""
    seconds = seconds or SECONDS
    name = f"{scenario}-{server.name}-c{conns}".replace(" ", "_").replace("(", "").replace(")", "")
    calls0, srv0, fake0, busy0 = fake.calls(), cpu_ticks(server.pid), cpu_ticks(fake.proc.pid), busy_ticks()
    degraded0 = server.degraded_sections()
    rss_peak = [0]
    stop_sampling = threading.Event()
    if rss_sampler:
        def sample():
            while not stop_sampling.wait(0.25):
                rss_peak[0] = max(rss_peak[0], status_kib(server.pid, "VmRSS"))
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
    t0 = time.time()
    out, wrk_ticks = wrk(server.url + "/", conns, seconds, path_requests, name)
    elapsed = time.time() - t0
    stop_sampling.set()
    srv1, fake1, busy1 = cpu_ticks(server.pid), cpu_ticks(fake.proc.pid), busy_ticks()
    calls1 = fake.calls()  # /__calls itself is not counted
    degraded1 = server.degraded_sections()
    row = {"scenario": scenario, "server": server.name, "conns": conns, "upstream_latency_ms": fake.latency,
           "seconds": seconds}
    row.update(parse_wrk(out))
    answers = max(row["requests"], 1)
    server_ticks, fake_ticks = srv1 - srv0, fake1 - fake0
    calls = calls1 - calls0
    others = (busy1 - busy0) - server_ticks - fake_ticks - wrk_ticks
    if server.name == "fake (direct)":
        others += fake_ticks  # counted once, as the server
    row.update({
        "cpu_us_per_req": round(server_ticks / CLK * 1e6 / answers, 1),
        "server_cpu_pct": round(100 * server_ticks / CLK / elapsed, 1),
        "fake_calls_per_answer": round(calls / answers, 2),
        "fake_cpu_us_per_call": round(fake_ticks / CLK * 1e6 / max(calls, 1), 1),
        "wrk_cpu_pct": round(100 * wrk_ticks / CLK / elapsed, 1),
        "others_cpu_pct": round(100 * max(others, 0) / CLK / elapsed, 1),
        "degraded_sections": None if degraded0 is None else int(degraded1 - degraded0),
    })
    if rss_sampler:
        row["rss_peak_mib"] = mib(rss_peak[0])
    row.update(extra or {})
    STEPS.append(row)
    print(f"  {scenario:<16} {server.name:<22} c={conns:<4} p50={row.get('p50_ms')} ms p99={row.get('p99_ms')} ms "
          f"req/s={row['rps']} cpu/req={row['cpu_us_per_req']} us non2xx={row['non2xx']} "
          f"errors={row['socket_errors']} others={row['others_cpu_pct']}%", file=sys.stderr, flush=True)
    return row


def warm_up(server, requests):
    wrk(server.url + "/", 64, WARMUP, requests, f"warmup-{server.name}".replace(" ", "_"))


def home_requests(tokens):
    return request_file("home", [f"/v1/home\tAuthorization\tBearer {t}" for t in tokens])


def memory(server):
    """RSS and CPU idle, then RSS with 256 idle keep-alive connections (one /healthz each)."""
    idle = status_kib(server.pid, "VmRSS")
    # Idle CPU: what the server spends with no request (timers, metric
    # windows); it weighs on CPU per request only at one connection.
    t0, ticks0 = time.time(), cpu_ticks(server.pid)
    time.sleep(2)
    idle_cpu = (cpu_ticks(server.pid) - ticks0) / CLK / (time.time() - t0)
    socks = []
    try:
        for _ in range(256):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            socks.append(s)
        for s in socks:
            if not s.recv(4096).startswith(b"HTTP/1.1 200"):
                raise SystemExit("bench: /healthz did not answer 200 on an idle connection")
        time.sleep(1)
        with_idle = status_kib(server.pid, "VmRSS")
    finally:
        for s in socks:
            s.close()
    return {"rss_idle_mib": mib(idle), "rss_256_idle_conns_mib": mib(with_idle),
            "idle_cpu_ms_per_s": round(idle_cpu * 1000, 1)}


def sample_headers(server, token):
    """One home answer's status and headers, to show in the report."""
    status, headers, body = http_get(server.url + "/v1/home", {"Authorization": f"Bearer {token}"})
    json.loads(body)
    return status, headers


# ---------------------------------------------------------------- the run


def run():
    global TMP, SECRET, LUA_PATH
    TMP = tempfile.mkdtemp(prefix="bff-bench-")
    os.chmod(TMP, 0o755)
    SECRET = "bench-" + os.urandom(16).hex()
    LUA_PATH = os.path.join(TMP, "requests.lua")
    with open(LUA_PATH, "w") as f:
        f.write(LUA)
    users = [f"u-{i}" for i in range(1, USERS + 1)]
    tokens = [hs256(SECRET, u) for u in users]
    home = home_requests(tokens)
    mem = {}
    fake = Fake()
    print(f"bench: {'smoke' if SMOKE else 'full'} run, {SECONDS} s per step, logs in {TMP}", file=sys.stderr)

    # Home at the configured upstream latency: bff-mobile, then the minimal BFF.
    fake.run(LATENCY)
    bff = start_bff_mobile(fake, cache=False)
    mem.update(memory(bff))
    warm_up(bff, home)
    for conns in HOME_CONNS:
        row = measure("home", bff, conns, home, fake, rss_sampler=conns == 256)
        if "rss_peak_mib" in row:
            mem["rss_serving_256_mib"] = row["rss_peak_mib"]
    mem["vm_hwm_mib"] = mib(status_kib(bff.pid, "VmHWM"))
    stop(bff.proc)

    minimal = start_minimal(fake)
    status, headers = sample_headers(minimal, tokens[0])
    if status != 200:
        raise SystemExit(f"bench: minimal-bff answered {status}")
    warm_up(minimal, home)
    for conns in HOME_CONNS:
        measure("home", minimal, conns, home, fake)
    stop(minimal.proc)

    if not SMOKE:
        cached = start_bff_mobile(fake, cache=True)
        warm_up(cached, home)
        measure("home cache on", cached, 256, home, fake)
        stop(cached.proc)

    # Fan-out width, at 64 connections.
    fanout = start_fanout(fake)
    for n in FAN_WIDTHS:
        fan = request_file(f"fan{n}", [f"/v1/fanout/{n}\tAuthorization\tBearer {t}" for t in tokens])
        if n == FAN_WIDTHS[0]:
            warm_up(fanout, fan)
        measure(f"fanout n={n}", fanout, FAN_CONNS, fan, fake, extra={"width": n})
    stop(fanout.proc)

    # Saturated (0 ms upstreams): home and the pass-through.
    fake.run(0)
    orders_bff = request_file("orders-bff", [f"/v1/orders/o-{i}-1\tAuthorization\tBearer {t}"
                                             for i, t in enumerate(tokens, 1)])
    orders_direct = request_file("orders-direct", [f"/orders/o-{i}-1\tX-User-Id\t{u}" for i, u in enumerate(users, 1)])
    orders_nginx = request_file("orders-nginx", [f"/v1/orders/o-{i}-1\tX-User-Id\t{u}" for i, u in enumerate(users, 1)])
    bff = start_bff_mobile(fake, cache=False)
    warm_up(bff, home)
    measure("home 0ms", bff, 64, home, fake)
    for conns in PASS_CONNS:
        measure("pass-through", bff, conns, orders_bff, fake)
    mem["vm_hwm_mib"] = max(mem["vm_hwm_mib"], mib(status_kib(bff.pid, "VmHWM")))
    stop(bff.proc)
    minimal = start_minimal(fake)
    warm_up(minimal, home)
    measure("home 0ms", minimal, 64, home, fake)
    # The floor of a pass-through on hyper's server and hyper-util's client
    # (no auth, logs or metrics): information beside nginx, not a target.
    measure("pass-through", minimal, 64, orders_nginx, fake)
    stop(minimal.proc)
    nginx = start_nginx(fake)
    warm_up(nginx, orders_nginx)
    for conns in PASS_CONNS:
        measure("pass-through", nginx, conns, orders_nginx, fake)
    stop(nginx.proc)
    direct = Server("fake (direct)", fake.proc, fake.port)
    for conns in PASS_CONNS:
        measure("pass-through", direct, conns, orders_direct, fake)
    stop_all()

    result = {
        "mode": "smoke" if SMOKE else "full",
        "machine": machine(),
        "config": {"seconds": SECONDS, "warmup_seconds": WARMUP, "upstream_latency_ms": LATENCY, "users": USERS},
        "memory": mem,
        "minimal_home_headers": {k: v for k, v in headers.items() if k.lower() != "date"},
        "steps": STEPS,
    }
    result["ratios"] = ratios(result)
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(result, f, indent=2)
    print(report(result))
    failures = check(result)
    if failures and SMOKE:
        print("\nbench: FAILED:\n  " + "\n  ".join(failures), file=sys.stderr)
        return 1
    if failures:
        # A full run reports and never fails: overload errors are results too.
        print("\nbench: note:\n  " + "\n  ".join(failures), file=sys.stderr)
    shutil.rmtree(TMP, ignore_errors=True)
    return 0


def find(scenario, server, conns):
    for row in STEPS:
        if row["scenario"] == scenario and row["server"] == server and row["conns"] == conns:
            return row
    return None


def ratio(a, b, key):
    if a and b and a.get(key) and b.get(key):
        return round(a[key] / b[key], 2)
    return None


def diff(a, b, key):
    if a and b and a.get(key) is not None and b.get(key) is not None:
        return round(a[key] - b[key], 3)
    return None


def ratios(result):
    """The targets' comparisons, each with its target (informative only)."""
    out = []

    def add(what, value, unit, target, met):
        out.append({"what": what, "value": value, "unit": unit, "target": target,
                    "met": None if value is None else met(value)})

    for conns in HOME_CONNS:
        b, m = find("home", "bff-mobile", conns), find("home", "minimal-bff", conns)
        if conns == 1:
            add("home c1: p50 added over minimal", diff(b, m, "p50_ms"), "ms", "≤ 0.5 ms", lambda v: v <= 0.5)
        if conns == 64:
            add("home c64: p50 added over minimal", diff(b, m, "p50_ms"), "ms", "≤ 1 ms", lambda v: v <= 1)
            add("home c64: p99 added over minimal", diff(b, m, "p99_ms"), "ms", "≤ 3 ms", lambda v: v <= 3)
        if conns >= 64:
            add(f"home c{conns}: CPU per request, bff/minimal", ratio(b, m, "cpu_us_per_req"), "×",
                "≤ 1.5× (aim 1.3×)", lambda v: v <= 1.5)
        if conns == 256:
            add("home c256: p99 added over minimal", diff(b, m, "p99_ms"), "ms", "≤ 10 ms", lambda v: v <= 10)
            add("home c256: req/s, bff/minimal", ratio(b, m, "rps"), "×", "(information)", lambda v: None)
    b, m = find("home 0ms", "bff-mobile", 64), find("home 0ms", "minimal-bff", 64)
    add("home 0 ms upstreams c64: CPU per request, bff/minimal", ratio(b, m, "cpu_us_per_req"), "×",
        "≤ 1.5× (aim 1.3×)", lambda v: v <= 1.5)
    cached = find("home cache on", "bff-mobile (cache on)", 256)
    if cached:
        add("home c256, fragment cache on: req/s", cached["rps"], "req/s", "≥ 5000", lambda v: v >= 5000)
    b, n = find("pass-through", "bff-mobile", 64), find("pass-through", "nginx", 64)
    if b:
        add("pass-through c64: CPU per request, bff/nginx", ratio(b, n, "cpu_us_per_req"), "×",
            "≤ 1.5× (aim 1.0×)", lambda v: v <= 1.5)
    f = find("pass-through", "minimal-bff", 64)
    if f:
        add("pass-through c64: CPU per request, bare hyper proxy (minimal-bff)/nginx", ratio(f, n, "cpu_us_per_req"),
            "×", "(information: the floor of this stack)", lambda v: None)
    b, n, d = (find("pass-through", s, 1) for s in ("bff-mobile", "nginx", "fake (direct)"))
    added_bff, added_nginx = diff(b, d, "p50_ms"), diff(n, d, "p50_ms")
    add("pass-through c1: p50 added over direct, nginx", added_nginx, "ms", "(yardstick)", lambda v: None)
    add("pass-through c1: p50 added over direct, bff", added_bff, "ms", "≤ nginx's + 0.05 ms",
        lambda v: added_nginx is not None and v <= added_nginx + 0.05)
    mem = result["memory"]
    add("RSS with 256 idle keep-alive connections", mem.get("rss_256_idle_conns_mib"), "MiB", "< 64 MiB",
        lambda v: v < 64)
    if "rss_serving_256_mib" in mem:
        add("RSS serving 256 connections", mem["rss_serving_256_mib"], "MiB", "< 128 MiB", lambda v: v < 128)
    fans = [r for r in STEPS if r["scenario"].startswith("fanout")]
    if len(fans) >= 2:
        first, last = fans[0], fans[-1]
        add(f"fan-out p50, n={last['width']} minus n={first['width']}", diff(last, first, "p50_ms"), "ms",
            "flat", lambda v: None)
        per_call = round((last["cpu_us_per_req"] - first["cpu_us_per_req"]) / (last["width"] - first["width"]), 1)
        add("fan-out CPU per extra call", per_call, "µs", "linear in n (see plot)", lambda v: None)
    return out


def fmt(v):
    return "–" if v is None else str(v)


def report(result):
    m = result["machine"]
    lines = [
        f"## Benchmark ({result['mode']} run, {m['date']}, commit {m['commit']})",
        "",
        f"Machine: {m['cores']} cores, {m['cpu_model']}, {m['memory_gib']} GiB, Linux {m['kernel']}; "
        f"measured server on core {m['bff_core']}, wrk and bench-upstream on core {m['load_core']}; "
        f"{result['config']['seconds']} s per step, {result['config']['users']} users in turn.",
        "",
        "| scenario | server | conns | upstream ms | req/s | p50 ms | p90 ms | p99 ms | non-2xx | sock err "
        "| degraded | calls/answer | CPU µs/req | server CPU % | fake µs/call | wrk CPU % | others CPU % |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["steps"]:
        lines.append("| " + " | ".join(fmt(v) for v in (
            r["scenario"], r["server"], r["conns"], r["upstream_latency_ms"], r["rps"], r.get("p50_ms"),
            r.get("p90_ms"), r.get("p99_ms"), r["non2xx"], r["socket_errors"], r["degraded_sections"],
            r["fake_calls_per_answer"], r["cpu_us_per_req"], r["server_cpu_pct"], r["fake_cpu_us_per_call"],
            r["wrk_cpu_pct"], r["others_cpu_pct"])) + " |")
    mem = result["memory"]
    lines += ["", "Memory of bff-mobile: " + ", ".join(f"{k} {v}" for k, v in mem.items()), "",
              "| comparison (targets) | value | target | met |", "|---|---|---|---|"]
    for r in result["ratios"]:
        met = {True: "yes", False: "**no**", None: ""}[r["met"]]
        lines.append(f"| {r['what']} | {fmt(r['value'])} {r['unit']} | {r['target']} | {met} |")
    return "\n".join(lines)


def check(result):
    """What makes a run fail: a step that did not run or went wrong; never timing."""
    failures = []
    for r in result["steps"]:
        label = f"{r['scenario']} / {r['server']} / c{r['conns']}"
        if r["requests"] == 0:
            failures.append(f"{label}: no answer")
        if r["non2xx"]:
            failures.append(f"{label}: {r['non2xx']} non-2xx answers")
        if r["socket_errors"]:
            failures.append(f"{label}: {r['socket_errors']} socket errors")
        if r["degraded_sections"]:
            failures.append(f"{label}: {r['degraded_sections']} degraded sections (partial answers)")
    return failures


if __name__ == "__main__":
    try:
        sys.exit(run())
    finally:
        stop_all()
