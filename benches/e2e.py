#!/usr/bin/env python3
"""End-to-end benchmark of `tenure enrich` against `tenure sandbox` in its own process.

    python3 benches/e2e.py            # every scenario, about 5 minutes on 2 cores
    python3 benches/e2e.py --quick    # smaller files, about a minute

Builds the release binary and the `csvcopy` example (the floor: a plain csv
read-and-write of the same file), generates inputs under $TMPDIR, and prints a
Markdown table: rows/s, requests/s (measured at the sandbox, from the first to
the last arrival), the most requests the sandbox saw in any one-second window,
CPU seconds (user+sys) and peak RSS of the `tenure enrich` process
(GNU time, from Debian's `time` package).
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TENURE = os.path.join(ROOT, "target", "release", "tenure")
CSVCOPY = os.path.join(ROOT, "target", "release", "examples", "csvcopy")
QUICK = "--quick" in sys.argv


class Sandbox:
    """`tenure sandbox` on a free loopback port, in its own process."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [TENURE, "sandbox", "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        self.url = line.rsplit(" ", 1)[1].strip()

    def stats(self):
        with urllib.request.urlopen(self.url + "/__stats") as answer:
            return json.load(answer)

    def close(self):
        self.proc.kill()
        self.proc.wait()


def timed(argv, env=None):
    """Runs argv under /usr/bin/time; returns (exit code, wall s, cpu s, peak RSS MiB).

    GNU time, not wait4 from here: a child forked from this Python process
    would report Python's own pages in its peak RSS.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        proc = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%e %U %S %M", *argv],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        wall, user, system, rss_kib = report.read().split()[-4:]
    if proc.returncode not in (0, 3):
        sys.exit(f"{argv[:3]} exited {proc.returncode}: {proc.stderr.decode()}")
    return proc.returncode, float(wall), float(user) + float(system), int(rss_kib) / 1024


def enrich(sandbox, path, out, *flags):
    env = dict(os.environ, JUHE_KEY="sandbox-key")
    return timed([TENURE, "enrich", path, "-o", out, "--endpoint", sandbox.url, "-q", *flags], env)


def write_numbers(path, rows, distinct, invalid=False):
    with open(path, "w") as f:
        f.write("id,mobile\n")
        for i in range(rows):
            number = "12345" if invalid else f"138{(i * 7919) % distinct:08d}"
            f.write(f"{i},{number}\n")


def arrival_rate(stats):
    arrivals = stats["arrivals_us"]
    if len(arrivals) < 2:
        return 0.0, len(arrivals)
    span = (arrivals[-1] - arrivals[0]) / 1e6
    busiest, j = 0, 0
    for i, start in enumerate(arrivals):
        while j < len(arrivals) and arrivals[j] < start + 1_000_000:
            j += 1
        busiest = max(busiest, j - i)
    return (len(arrivals) - 1) / span, busiest


def main():
    subprocess.run(["cargo", "build", "--release", "--bin", "tenure", "--example", "csvcopy"],
                   cwd=ROOT, check=True)
    work = tempfile.mkdtemp(prefix="tenure-bench-")
    results = []

    def row(name, rows, wall, cpu, rss, requests="", rate="", busiest="", note=""):
        results.append((name, rows, wall, rows / wall if wall else 0, requests, rate, busiest, cpu, rss, note))
        print(f"  {name}: {wall:.2f}s wall, {cpu:.2f}s cpu, {rss:.1f} MiB", file=sys.stderr)

    # 1-2. The rate limit: achieved rate and the busiest one-second window.
    for qps, latency, concurrency, numbers in ((200, 50, 32, 600 if QUICK else 3000),
                                               (1000, 20, 64, 3000 if QUICK else 15000)):
        sandbox = Sandbox("--latency-ms", str(latency))
        path = os.path.join(work, f"rate{qps}.csv")
        write_numbers(path, numbers, numbers)
        _, wall, cpu, rss = enrich(sandbox, path, path + ".out", "--no-cache", "--qps", str(qps),
                                   "--concurrency", str(concurrency))
        stats = sandbox.stats()
        rate, busiest = arrival_rate(stats)
        row(f"--qps {qps}, {latency} ms latency, --concurrency {concurrency}", numbers, wall, cpu,
            rss, stats["requests"], f"{rate:.1f} ({100 * rate / qps:.1f}%)", busiest)
        sandbox.close()

    # 3. CPU per request, no rate limit and no latency.
    sandbox = Sandbox()
    numbers = 5000 if QUICK else 20000
    path = os.path.join(work, "cpu.csv")
    write_numbers(path, numbers, numbers)
    _, wall, cpu, rss = enrich(sandbox, path, path + ".out", "--qps", "1000000", "--concurrency", "8")
    requests = sandbox.stats()["requests"]
    row("no rate limit, 0 ms latency, --concurrency 8", numbers, wall, cpu, rss, requests,
        f"{requests / wall:.0f}", "", f"{1e6 * cpu / requests:.1f} µs CPU per request")

    # 4-6. Cached reruns and invalid files against the floor.
    distinct = 20000 if QUICK else 100000
    sizes = (100_000,) if QUICK else (1_000_000, 10_000_000)
    cache = os.path.join(work, "store.sqlite")
    for size in sizes:
        path = os.path.join(work, f"cached{size}.csv")
        write_numbers(path, size, distinct)
        enrich(sandbox, path, path + ".out", "--qps", "1000000", "--concurrency", "8",
               "--cache", cache)  # fills the store
        _, floor_wall, floor_cpu, floor_rss = timed([CSVCOPY, path, path + ".copy"])
        row(f"floor: csvcopy, {size:,} rows", size, floor_wall, floor_cpu, floor_rss)
        _, wall, cpu, rss = enrich(sandbox, path, path + ".out", "--cache", cache)
        row(f"fully cached rerun, {size:,} rows", size, wall, cpu, rss, "", "", "",
            f"{wall / floor_wall:.1f}x the floor")
        if size == sizes[0]:
            invalid = os.path.join(work, f"invalid{size}.csv")
            write_numbers(invalid, size, 1, invalid=True)
            _, floor_wall, floor_cpu, floor_rss = timed([CSVCOPY, invalid, invalid + ".copy"])
            row(f"floor: csvcopy, {size:,} invalid rows", size, floor_wall, floor_cpu, floor_rss)
            _, wall, cpu, rss = enrich(sandbox, invalid, invalid + ".out", "--no-cache")
            row(f"only invalid numbers, {size:,} rows", size, wall, cpu, rss, "", "", "",
                f"{wall / floor_wall:.1f}x the floor")
            # The same through standard input, which is read on its own thread.
            env = dict(os.environ, JUHE_KEY="sandbox-key")
            _, wall, cpu, rss = timed(["sh", "-c", f'exec "{TENURE}" enrich - -o "{invalid}.out" '
                                       f'--endpoint {sandbox.url} -q --no-cache < "{invalid}"'], env)
            row(f"only invalid numbers on stdin, {size:,} rows", size, wall, cpu, rss, "", "", "",
                f"{wall / floor_wall:.1f}x the floor")
        for name in os.listdir(work):
            if name.startswith(f"cached{size}") or name.startswith(f"invalid{size}"):
                os.remove(os.path.join(work, name))
    sandbox.close()

    print("| scenario | rows | wall s | rows/s | requests | requests/s (share of --qps) "
          "| busiest 1 s window | CPU s | peak RSS MiB | note |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, rows, wall, per_s, requests, rate, busiest, cpu, rss, note in results:
        print(f"| {name} | {rows:,} | {wall:.2f} | {per_s:,.0f} | {requests} | {rate} | {busiest} "
              f"| {cpu:.2f} | {rss:.1f} | {note} |")


if __name__ == "__main__":
    main()
