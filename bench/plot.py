#!/usr/bin/env python3
"""Draws bench/results/latest.json (written by bench/bench.py) into PNGs.

    plot.py RESULTS.json OUT_DIR

- home-latency.png: p50 and p99 of GET /v1/home against connections,
  bff-mobile and the minimal BFF (10 ms upstreams);
- home-cpu.png: CPU per home request against connections, both servers;
- fanout.png: latency (p50, p99) and CPU per request of the synthetic
  composite against its fan-out width, each CPU point labelled with the
  server's core usage (near 100 %, the latency on the left is queueing).
"""

import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

HOME_SERVERS = [("bff-mobile", "tab:blue"), ("minimal-bff", "tab:green")]


def rows(steps, scenario, server):
    found = [r for r in steps if r["scenario"] == scenario and r["server"] == server]
    return sorted(found, key=lambda r: r["conns"])


def subtitle(result):
    m = result["machine"]
    return (f"{m['cpu_model']}, server on 1 core, {result['config']['seconds']} s per point, "
            f"{m['date']} ({m['commit']})")


def home_latency(result, out):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for server, color in HOME_SERVERS:
        data = rows(result["steps"], "home", server)
        conns = [r["conns"] for r in data]
        ax.plot(conns, [r["p50_ms"] for r in data], "o-", color=color, label=f"{server} p50")
        ax.plot(conns, [r["p99_ms"] for r in data], "s--", color=color, label=f"{server} p99")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("connections")
    ax.set_ylabel("latency (ms)")
    ax.set_title("GET /v1/home, 10 ms upstreams, fragment cache off\n" + subtitle(result), fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "home-latency.png"), dpi=110)
    plt.close(fig)


def home_cpu(result, out):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for server, color in HOME_SERVERS:
        data = rows(result["steps"], "home", server)
        ax.plot([r["conns"] for r in data], [r["cpu_us_per_req"] for r in data], "o-", color=color, label=server)
        sat = rows(result["steps"], "home 0ms", server)
        if sat:
            ax.plot([sat[0]["conns"]], [sat[0]["cpu_us_per_req"]], "*", markersize=12, color=color,
                    label=f"{server}, 0 ms upstreams")
    ax.set_xscale("log", base=2)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("connections")
    ax.set_ylabel("CPU per request (µs)")
    ax.set_title("GET /v1/home: CPU per request of the server\n" + subtitle(result), fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(out, "home-cpu.png"), dpi=110)
    plt.close(fig)


def fanout(result, out):
    data = sorted((r for r in result["steps"] if r["scenario"].startswith("fanout")), key=lambda r: r["width"])
    if not data:
        return
    widths = [r["width"] for r in data]
    fig, (lat, cpu) = plt.subplots(1, 2, figsize=(10, 4.5))
    lat.plot(widths, [r["p50_ms"] for r in data], "o-", label="p50")
    lat.plot(widths, [r["p99_ms"] for r in data], "s--", label="p99")
    lat.set_xscale("log", base=2)
    lat.set_ylim(bottom=0)
    lat.set_xlabel("parallel upstream calls per request")
    lat.set_ylabel("latency (ms)")
    lat.grid(True, alpha=0.3)
    lat.legend()
    cpu.plot(widths, [r["cpu_us_per_req"] for r in data], "o-", color="tab:red")
    # Where the server's core is near 100 %, latency above is queueing.
    for r in data:
        cpu.annotate(f"{r['server_cpu_pct']:.0f}% core", (r["width"], r["cpu_us_per_req"]),
                     textcoords="offset points", xytext=(4, -12), fontsize=7)
    cpu.set_xlabel("parallel upstream calls per request")
    cpu.set_ylabel("CPU per request (µs)")
    cpu.set_ylim(bottom=0)
    cpu.grid(True, alpha=0.3)
    fig.suptitle(f"fanout-bff (bff-shared), {data[0]['conns']} connections, {data[0]['upstream_latency_ms']} ms "
                 "upstreams\n" + subtitle(result), fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(out, "fanout.png"), dpi=110)
    plt.close(fig)


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: plot.py RESULTS.json OUT_DIR")
    with open(sys.argv[1]) as f:
        result = json.load(f)
    os.makedirs(sys.argv[2], exist_ok=True)
    home_latency(result, sys.argv[2])
    home_cpu(result, sys.argv[2])
    fanout(result, sys.argv[2])
    print(f"plots in {sys.argv[2]}: home-latency.png, home-cpu.png, fanout.png")


if __name__ == "__main__":
    main()
