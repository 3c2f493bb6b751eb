#!/usr/bin/env python3
"""End-to-end benchmark of `tenure enrich` against `tenure sandbox` in its own process.

    python3 benches/e2e.py                    # every scenario group: about 13 minutes here, half
                                              # of it filling a store with 1,000,000 answers
    python3 benches/e2e.py --quick            # smaller files, a few minutes
    python3 benches/e2e.py --only group,cpu   # some groups only (with or without --quick)

Scenario groups (`--only`):

  rate      the rate limit: --qps 200 and 1000 at a fixed --concurrency, and
            --qps 100 with the default concurrency (auto) at 50, 150 and 400 ms
  group     three runs at once in one rate group (one store, one key, --qps 60)
  cpu       CPU per request: no rate limit at --concurrency 8, and with the
            default concurrency at --qps 1000000 and --qps 2000
  cached    fully cached reruns against the csvcopy floor (few distinct numbers,
            every number distinct, ten times the rows), and invalid-only files
  postgres  the cached reruns on a PostgreSQL store (TENURE_TEST_POSTGRES, else
            postgresql://postgres@127.0.0.1:5432/test), in a schema of its own
  hostile   /dev/zero, a header of ten million columns, a server that answers
            with a 1 GiB body: exit code, time and peak RSS

Builds the release binary and the `csvcopy` example (the floor: a plain csv
read-and-write of the same file), generates inputs under $TMPDIR, and prints a
Markdown table: rows/s, requests/s (measured at the sandbox, from the first to
the last arrival), the most requests the sandbox saw in any one-second window,
CPU seconds (user+sys) and peak RSS of the `tenure enrich` process
(GNU time, from Debian's `time` package); then a table of the targets, each
with what was measured and whether it was met.

Every run gets a data folder of its own (XDG_DATA_HOME under the work folder),
so the default store is never yours; TENURE_* variables are not passed on.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile_server import HugeBodyServer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TENURE = os.path.join(ROOT, "target", "release", "tenure")
CSVCOPY = os.path.join(ROOT, "target", "release", "examples", "csvcopy")
GROUPS = ("rate", "group", "cpu", "cached", "postgres", "hostile")
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432/test"
MIB = 1024 * 1024

parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
parser.add_argument("--quick", action="store_true", help="smaller files")
parser.add_argument("--only", metavar="NAME[,NAME]",
                    help="scenario groups to run: " + ", ".join(GROUPS))
ARGS = parser.parse_args()
QUICK = ARGS.quick
_chosen = GROUPS if not ARGS.only else [name.strip() for name in ARGS.only.split(",") if name.strip()]
for _name in _chosen:
    if _name not in GROUPS:
        parser.error(f"unknown group {_name!r}; the groups are {', '.join(GROUPS)}")
ONLY = tuple(name for name in GROUPS if name in _chosen)  # always in this order

WORK = tempfile.mkdtemp(prefix="tenure-bench-")
# The environment of every tenure process: no TENURE_* of the caller's, and a
# data folder of the benchmark's own, so the default store is never the user's.
BASE_ENV = {k: v for k, v in os.environ.items() if not k.startswith("TENURE_")}
BASE_ENV["XDG_DATA_HOME"] = os.path.join(WORK, "xdg")
SANDBOX_KEY = "sandbox-key"


def say(message):
    print(message, file=sys.stderr, flush=True)


class Sandbox:
    """`tenure sandbox` on a free loopback port, in its own process."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(
            [TENURE, "sandbox", "--listen", "127.0.0.1:0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=BASE_ENV)
        line = self.proc.stdout.readline()
        self.url = line.rsplit(" ", 1)[1].strip()

    def stats(self):
        with urllib.request.urlopen(self.url + "/__stats") as answer:
            return json.load(answer)

    def probe(self):
        """Sends one API request (no key: refused) and returns time.monotonic()
        just before it left: the sandbox's arrival time of it, to within the
        loopback's fraction of a millisecond, ties the sandbox's clock to ours."""
        sent = time.monotonic()
        try:
            with urllib.request.urlopen(self.url + "/mobileOnline/query") as answer:
                answer.read()
        except urllib.error.HTTPError:
            pass
        return sent

    def close(self):
        self.proc.kill()
        self.proc.wait()


def timed(argv, env=None, ok=(0, 3), stderr_to=subprocess.PIPE):
    """Runs argv under /usr/bin/time; returns (exit code, wall s, cpu s, peak RSS MiB).

    GNU time, not wait4 from here: a child forked from this Python process
    would report Python's own pages in its peak RSS. The wall time is ours,
    to the microsecond (GNU time gives hundredths, and a floor of a few
    hundredths would round to nothing). An exit code outside `ok` stops the
    benchmark.
    """
    with tempfile.NamedTemporaryFile("r") as report:
        started = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-o", report.name, "-f", "%U %S %M", *argv],
                              env=env or BASE_ENV, stdout=subprocess.DEVNULL, stderr=stderr_to)
        wall = time.monotonic() - started
        user, system, rss_kib = report.read().split()[-3:]
    if proc.returncode not in ok:
        stderr = proc.stderr.decode(errors="replace") if proc.stderr else ""
        sys.exit(f"{argv[:3]} exited {proc.returncode}, expected {ok}: {stderr[-4000:]}")
    return proc.returncode, float(wall), float(user) + float(system), int(rss_kib) / 1024


def key_env():
    return dict(BASE_ENV, JUHE_KEY=SANDBOX_KEY)


def enrich(sandbox, path, out, *flags, ok=(0, 3)):
    return timed([TENURE, "enrich", path, "-o", out, "--endpoint", sandbox.url, "-q", *flags],
                 key_env(), ok=ok)


def enrich_with_progress(sandbox, path, out, *flags):
    """A long run (filling a store): its progress lines go to our stderr."""
    return timed([TENURE, "enrich", path, "-o", out, "--endpoint", sandbox.url,
                  "--progress-interval", "10s", *flags], key_env(), stderr_to=None)


def write_numbers(path, rows, distinct, invalid=False, base=0):
    """`rows` rows of `distinct` distinct numbers (all of them, as 7919 is a
    prime that divides none of the sizes used), from 138 + `base`."""
    with open(path, "w") as f:
        f.write("id,mobile\n")
        for i in range(rows):
            number = "12345" if invalid else f"138{base + (i * 7919) % distinct:08d}"
            f.write(f"{i},{number}\n")


def busiest_window(arrivals):
    busiest, j = 0, 0
    for i, start in enumerate(arrivals):
        while j < len(arrivals) and arrivals[j] < start + 1_000_000:
            j += 1
        busiest = max(busiest, j - i)
    return busiest


def arrival_rate(stats):
    arrivals = stats["arrivals_us"]
    if len(arrivals) < 2:
        return 0.0, len(arrivals)
    span = (arrivals[-1] - arrivals[0]) / 1e6
    return (len(arrivals) - 1) / span, busiest_window(arrivals)


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def remove(*paths):
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


class Report:
    """The scenario rows and the targets, printed at the end."""

    def __init__(self):
        self.rows = []
        self.targets = []
        self.notes = []

    def row(self, name, rows, wall, cpu, rss, requests="", rate="", busiest="", note=""):
        self.rows.append((name, rows, wall, rows / wall if wall else 0, requests, rate, busiest,
                          cpu, rss, note))
        say(f"  {name}: {wall:.2f}s wall, {cpu:.2f}s cpu, {rss:.1f} MiB {note}")

    def target(self, target, measured, met):
        """met: True, False, or None (no measure)."""
        self.targets.append((target, measured, {True: "yes", False: "**no**", None: "–"}[met]))

    def note(self, text):
        self.notes.append(text)
        say(f"  note: {text}")

    def print(self):
        print("| scenario | rows | wall s | rows/s | requests | requests/s (share of --qps) "
              "| busiest 1 s window | CPU s | peak RSS MiB | note |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        for name, rows, wall, per_s, requests, rate, busiest, cpu, rss, note in self.rows:
            print(f"| {name} | {rows:,} | {wall:.2f} | {per_s:,.0f} | {requests} | {rate} | {busiest} "
                  f"| {cpu:.2f} | {rss:.1f} | {note} |")
        print()
        print("| target | measured | met? |")
        print("| --- | --- | --- |")
        for target, measured, met in self.targets:
            print(f"| {target} | {measured} | {met} |")
        for text in self.notes:
            print(f"\n- {text}")


# ---------------------------------------------------------------- rate ----

def group_rate(report):
    # The rate limit at a fixed concurrency: achieved rate and busiest window.
    for qps, latency, concurrency, numbers in ((200, 50, 32, 600 if QUICK else 3000),
                                               (1000, 20, 64, 3000 if QUICK else 15000)):
        sandbox = Sandbox("--latency-ms", str(latency))
        path = os.path.join(WORK, f"rate{qps}.csv")
        write_numbers(path, numbers, numbers)
        _, wall, cpu, rss = enrich(sandbox, path, path + ".out", "--no-cache", "--qps", str(qps),
                                   "--concurrency", str(concurrency))
        stats = sandbox.stats()
        sandbox.close()
        rate, busiest = arrival_rate(stats)
        report.row(f"--qps {qps}, {latency} ms latency, --concurrency {concurrency}", numbers, wall,
                   cpu, rss, stats["requests"], f"{rate:.1f} ({100 * rate / qps:.1f}%)", busiest)
        report.target(f"never above --qps {qps} in any 1 s window ({latency} ms, --concurrency "
                      f"{concurrency})", f"busiest window {busiest}", busiest <= qps)
        remove(path, path + ".out")

    # Issue 12: the default concurrency (auto) reaches --qps whatever the latency.
    qps = 100
    numbers = 500 if QUICK else 1500
    for latency in (50, 150, 400):
        sandbox = Sandbox("--latency-ms", str(latency))
        path = os.path.join(WORK, f"auto{latency}.csv")
        summary = path + ".summary.json"
        write_numbers(path, numbers, numbers)
        _, wall, cpu, rss = enrich(sandbox, path, path + ".out", "--no-cache", "--qps", str(qps),
                                   "--summary-json", summary)
        stats = sandbox.stats()
        sandbox.close()
        rate, busiest = arrival_rate(stats)
        in_flight = read_json(summary).get("concurrency", "?")
        report.row(f"--qps {qps}, {latency} ms latency, default concurrency", numbers, wall, cpu,
                   rss, stats["requests"], f"{rate:.1f} ({100 * rate / qps:.1f}%)", busiest,
                   f"at most {in_flight} in flight")
        which = "issue 12" if latency == 400 else "issue 12, implied by 400 ms"
        report.target(f"rate ≥ 95% of --qps {qps} at {latency} ms, default concurrency ({which})",
                      f"{rate:.1f}/s = {100 * rate / qps:.1f}% ({in_flight} in flight)",
                      rate >= 0.95 * qps)
        report.target(f"never above --qps {qps} in any 1 s window ({latency} ms, default "
                      "concurrency)", f"busiest window {busiest}", busiest <= qps)
        remove(path, path + ".out", summary)


# --------------------------------------------------------------- group ----

def group_group(report):
    """Issue 12: three runs started together, one key, one store, --qps 60."""
    qps, latency, runs = 60, 50, 3
    per_run = 300 if QUICK else 1200
    sandbox = Sandbox("--latency-ms", str(latency))
    store = os.path.join(WORK, "group.sqlite")
    probe_sent = sandbox.probe()
    procs = []
    for k in range(runs):
        path = os.path.join(WORK, f"group{k}.csv")
        # Disjoint numbers: 13800000000…, 13810000000…, 13820000000…
        write_numbers(path, per_run, per_run, base=k * 10_000_000)
        procs.append({"path": path, "summary": path + ".summary.json",
                      "report": tempfile.NamedTemporaryFile("r")})
    for p in procs:
        argv = ["/usr/bin/time", "-o", p["report"].name, "-f", "%e %U %S %M",
                TENURE, "enrich", p["path"], "-o", p["path"] + ".out", "--endpoint", sandbox.url,
                "-q", "--cache", store, "--qps", str(qps), "--summary-json", p["summary"]]
        p["start"] = time.monotonic()
        p["proc"] = subprocess.Popen(argv, env=key_env(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

    def wait(p):
        p["stderr"] = p["proc"].stderr.read()
        p["proc"].wait()
        p["end"] = time.monotonic()

    waiters = [threading.Thread(target=wait, args=(p,)) for p in procs]
    for t in waiters:
        t.start()
    for t in waiters:
        t.join()
    stats = sandbox.stats()
    sandbox.close()
    for p in procs:
        if p["proc"].returncode not in (0, 3):
            sys.exit(f"a group run exited {p['proc'].returncode}: "
                     f"{p['stderr'].decode(errors='replace')[-4000:]}")

    # The probe is the first arrival; the sandbox's clock plus `offset` is ours.
    arrivals = stats["arrivals_us"]
    offset = probe_sent - arrivals[0] / 1e6
    arrivals = arrivals[1:]
    busiest = busiest_window(arrivals)
    whole = (len(arrivals) - 1) / ((arrivals[-1] - arrivals[0]) / 1e6) if len(arrivals) > 1 else 0
    # While all three run: from the last start to the first end.
    lo, hi = max(p["start"] for p in procs), min(p["end"] for p in procs)
    lo_us, hi_us = (lo - offset) * 1e6, (hi - offset) * 1e6
    inside = sum(1 for a in arrivals if lo_us <= a < hi_us)
    together = inside / (hi - lo) if hi > lo else 0.0
    shares, cpus, rsses = [], [], []
    first = min(p["start"] for p in procs)
    for k, p in enumerate(procs):
        wall, user, system, rss_kib = p["report"].read().split()[-4:]
        p["report"].close()
        summary = read_json(p["summary"])
        requests = summary.get("requests", 0)
        elapsed = summary.get("elapsed_secs") or float(wall)
        share = requests / elapsed if elapsed else 0.0
        shares.append(share)
        cpus.append(float(user) + float(system))
        rsses.append(int(rss_kib) / 1024)
        report.row(f"group of {runs}, --qps {qps}, {latency} ms: run {k + 1}", per_run, float(wall),
                   float(user) + float(system), int(rss_kib) / 1024, requests,
                   f"{share:.1f} over its life", "",
                   f"started +{p['start'] - first:.2f}s, ended +{p['end'] - first:.2f}s, "
                   f"at most {summary.get('concurrency', '?')} in flight")
        remove(p["path"], p["path"] + ".out", p["summary"])
    report.row(f"group of {runs}, --qps {qps}, {latency} ms: all runs, at the sandbox", per_run * runs,
               max(p["end"] for p in procs) - first, sum(cpus), max(rsses),
               len(arrivals), f"{together:.1f} ({100 * together / qps:.1f}%) while all run",
               busiest, f"{whole:.1f}/s first to last arrival; all three ran {hi - lo:.1f}s; CPU summed, "
               "RSS the largest")
    report.target(f"group of {runs} runs: never above --qps {qps} in any 1 s window, all runs "
                  "together (issue 12)", f"busiest window {busiest}", busiest <= qps)
    report.target(f"group of {runs} runs: together ≥ 85% of --qps {qps} = {0.85 * qps:.0f}/s "
                  "while all run (issue 12)",
                  f"{together:.1f}/s = {100 * together / qps:.1f}% over {hi - lo:.1f}s",
                  together >= 0.85 * qps)
    report.target(f"group of {runs} runs: each run's share (requests / its elapsed)",
                  ", ".join(f"{s:.1f}/s" for s in shares), None)


# ----------------------------------------------------------------- cpu ----

def group_cpu(report):
    numbers = 5000 if QUICK else 20000
    path = os.path.join(WORK, "cpu.csv")
    write_numbers(path, numbers, numbers)

    # No rate limit and no latency, fixed concurrency (the store is the
    # default one, in the benchmark's own data folder).
    sandbox = Sandbox()
    _, wall, cpu, rss = enrich(sandbox, path, path + ".out", "--qps", "1000000",
                               "--concurrency", "8")
    requests = sandbox.stats()["requests"]
    sandbox.close()
    per_request = 1e6 * cpu / requests
    report.row("no rate limit, 0 ms latency, --concurrency 8", numbers, wall, cpu, rss, requests,
               f"{requests / wall:.0f}", "", f"{per_request:.1f} µs CPU per request")
    report.target("CPU per API request ≤ 50 µs (no rate limit, --concurrency 8; issue 6)",
                  f"{per_request:.1f} µs", per_request <= 50)

    # Issue 12: the limiter's cost, default concurrency, with a limit never
    # reached and with one that binds.
    for qps in (1000000, 2000):
        sandbox = Sandbox()
        store = os.path.join(WORK, f"cpu{qps}.sqlite")
        summary = os.path.join(WORK, f"cpu{qps}.summary.json")
        _, wall, cpu, rss = enrich(sandbox, path, path + ".out", "--qps", str(qps),
                                   "--cache", store, "--summary-json", summary)
        in_flight = read_json(summary).get("concurrency", "?")
        stats = sandbox.stats()
        sandbox.close()
        rate, busiest = arrival_rate(stats)
        requests = stats["requests"]
        per_request = 1e6 * cpu / requests
        share = f" ({100 * rate / qps:.1f}%)" if qps < 1000000 else ""
        report.row(f"--qps {qps}, 0 ms latency, default concurrency", numbers, wall, cpu, rss,
                   requests, f"{rate:.0f}{share}", busiest if qps < 1000000 else "",
                   f"{per_request:.1f} µs CPU per request, at most {in_flight} in flight")
        report.target(f"CPU per request, --qps {qps}, default concurrency (issue 12: the "
                      "limiter's cost)", f"{per_request:.1f} µs ({in_flight} in flight)", None)
        if qps < 1000000:
            report.target(f"never above --qps {qps} in any 1 s window (0 ms, default concurrency)",
                          f"busiest window {busiest}", busiest <= qps)
        remove(store, store + "-wal", store + "-shm", summary)
    remove(path, path + ".out")


# -------------------------------------------------------------- cached ----

class Cached:
    """The stores of the cached reruns, filled once, on one sandbox kept for
    both the `cached` and the `postgres` groups (an answer is kept per
    endpoint URL, so a rerun must ask the same sandbox)."""

    def __init__(self):
        self.sandbox = None
        self.distinct = 20_000 if QUICK else 100_000
        self.size_a = 100_000 if QUICK else 1_000_000
        self.size_b = 100_000 if QUICK else 1_000_000
        self.size_c = 1_000_000 if QUICK else 10_000_000
        self.stores = {}
        self.sqlite = {}  # scenario -> (wall, floor wall)

    def start(self):
        if self.sandbox is None:
            self.sandbox = Sandbox()

    def path(self, scenario):
        return os.path.join(WORK, f"cached_{scenario}.csv")

    def input(self, scenario):
        """The input file of scenario a, b or c, written if need be."""
        path = self.path(scenario)
        if not os.path.exists(path):
            rows = {"a": self.size_a, "b": self.size_b, "c": self.size_c}[scenario]
            distinct = self.size_b if scenario == "b" else self.distinct
            say(f"  writing {rows:,} rows ({distinct:,} distinct) to {path}")
            write_numbers(path, rows, distinct)
        return path

    def store(self, which):
        """The SQLite store holding every number of scenario a and c ("a"),
        or of scenario b ("b"), filled by a run at no rate limit."""
        if which not in self.stores:
            self.start()
            store = os.path.join(WORK, f"store_{which}.sqlite")
            if which == "a":
                fill = os.path.join(WORK, "fill_a.csv")
                write_numbers(fill, self.distinct, self.distinct)
            else:
                fill = self.input("b")
            count = self.distinct if which == "a" else self.size_b
            say(f"  filling {store} with {count:,} answers (progress every 10 s)...")
            _, wall, _, _ = enrich_with_progress(self.sandbox, fill, fill + ".out",
                                                 "--qps", "1000000", "--cache", store)
            say(f"  filled in {wall:.1f}s ({count / wall:,.0f} numbers/s)")
            remove(fill + ".out")
            if which == "a":
                remove(fill)
            self.stores[which] = store
        return self.stores[which]

    def floor(self, report, scenario, label):
        path = self.input(scenario)
        _, wall, cpu, rss = timed([CSVCOPY, path, path + ".copy"])
        remove(path + ".copy")
        report.row(f"floor: csvcopy, {label}", self.rows(scenario), wall, cpu, rss)
        return wall

    def rows(self, scenario):
        return {"a": self.size_a, "b": self.size_b, "c": self.size_c}[scenario]

    def rerun(self, report, scenario, label, cache, floor_wall):
        path = self.input(scenario)
        _, wall, cpu, rss = enrich(self.sandbox, path, path + ".out", "--cache", cache)
        remove(path + ".out")
        report.row(label, self.rows(scenario), wall, cpu, rss, "", "", "",
                   f"{wall / floor_wall:.1f}x the floor")
        return wall, rss

    def sqlite_rerun(self, report, scenario):
        """Floor and rerun of scenario a or b on SQLite, once."""
        if scenario not in self.sqlite:
            store = self.store("a" if scenario in "ac" else "b")
            label = self.label(scenario)
            floor_wall = self.floor(report, scenario, label)
            wall, rss = self.rerun(report, scenario, f"fully cached rerun, {label}", store,
                                   floor_wall)
            self.sqlite[scenario] = (wall, floor_wall, rss)
        return self.sqlite[scenario]

    def label(self, scenario):
        rows = self.rows(scenario)
        distinct = self.size_b if scenario == "b" else self.distinct
        return f"{rows:,} rows, {distinct:,} distinct"

    def close(self):
        if self.sandbox is not None:
            self.sandbox.close()


def group_cached(report, cached):
    a_wall, a_floor, a_rss = cached.sqlite_rerun(report, "a")
    report.target(f"(a) fully cached rerun, {cached.label('a')} ≤ 3x the floor (issue 11)",
                  f"{a_wall:.2f} s vs {a_floor:.2f} s = {a_wall / a_floor:.1f}x "
                  f"({cached.size_a / a_wall:,.0f} rows/s)", a_wall <= 3 * a_floor)
    report.target(f"peak RSS < 64 MiB, (a) {cached.label('a')}", f"{a_rss:.1f} MiB", a_rss < 64)

    # Invalid-only files, from a file and on standard input, at (a)'s size.
    size = cached.size_a
    invalid = os.path.join(WORK, f"invalid{size}.csv")
    write_numbers(invalid, size, 1, invalid=True)
    _, floor_wall, floor_cpu, floor_rss = timed([CSVCOPY, invalid, invalid + ".copy"])
    report.row(f"floor: csvcopy, {size:,} invalid rows", size, floor_wall, floor_cpu, floor_rss)
    cached.start()
    _, wall, cpu, rss = enrich(cached.sandbox, invalid, invalid + ".out", "--no-cache")
    report.row(f"only invalid numbers, {size:,} rows", size, wall, cpu, rss, "", "", "",
               f"{wall / floor_wall:.1f}x the floor")
    report.target(f"only invalid numbers, {size:,} rows ≤ 1.5x the floor (issue 6)",
                  f"{wall:.2f} s vs {floor_wall:.2f} s = {wall / floor_wall:.1f}x",
                  wall <= 1.5 * floor_wall)
    # The same through standard input, which is read on its own thread.
    _, wall, cpu, rss = timed(["sh", "-c", f'exec "{TENURE}" enrich - -o "{invalid}.out" '
                               f'--endpoint {cached.sandbox.url} -q --no-cache < "{invalid}"'],
                              key_env())
    report.row(f"only invalid numbers on stdin, {size:,} rows", size, wall, cpu, rss, "", "", "",
               f"{wall / floor_wall:.1f}x the floor")
    remove(invalid, invalid + ".copy", invalid + ".out")

    b_wall, b_floor, b_rss = cached.sqlite_rerun(report, "b")
    report.target(f"(b) fully cached rerun, {cached.label('b')} ≤ 8x the floor (issue 11)",
                  f"{b_wall:.2f} s vs {b_floor:.2f} s = {b_wall / b_floor:.1f}x "
                  f"({cached.size_b / b_wall:,.0f} rows/s)", b_wall <= 8 * b_floor)
    report.target(f"peak RSS < 64 MiB, (b) {cached.label('b')}", f"{b_rss:.1f} MiB", b_rss < 64)

    label = cached.label("c")
    floor_wall = cached.floor(report, "c", label)
    c_wall, c_rss = cached.rerun(report, "c", f"fully cached rerun, {label}", cached.store("a"),
                                 floor_wall)
    remove(cached.path("c"))
    report.target(f"(c) peak RSS < 64 MiB, fully cached rerun, {label} (issue 11)",
                  f"{c_rss:.1f} MiB ({c_wall:.2f} s, {c_wall / floor_wall:.1f}x the floor)",
                  c_rss < 64)
    report.target(f"peak RSS at {cached.size_c:,} rows within 10% of {cached.size_a:,} (issue 6)",
                  f"{c_rss:.1f} MiB vs {a_rss:.1f} MiB ({100 * (c_rss / a_rss - 1):+.0f}%)",
                  c_rss <= 1.1 * a_rss)


# ------------------------------------------------------------ postgres ----

def psql(server, sql):
    return subprocess.run(["psql", server, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          env=BASE_ENV, timeout=60)


def group_postgres(report, cached):
    server = os.environ.get("TENURE_TEST_POSTGRES") or PG_DEFAULT
    if shutil.which("psql") is None:
        report.note(f"postgres scenarios skipped: psql is not installed (server {server})")
        return
    try:
        reachable = psql(server, "SELECT 1")
    except subprocess.TimeoutExpired:
        reachable = None
    if reachable is None or reachable.returncode != 0:
        why = "timed out" if reachable is None else reachable.stderr.strip()
        report.note(f"postgres scenarios skipped: {server} is not reachable ({why})")
        return
    separator = "&" if "?" in server else "?"
    schemas = []
    try:
        for scenario in ("a", "b"):
            sqlite_wall, floor_wall, _ = cached.sqlite_rerun(report, scenario)
            schema = f"tenure_bench_{os.getpid()}_{scenario}"
            created = psql(server, f"CREATE SCHEMA {schema}")
            if created.returncode != 0:
                sys.exit(f"CREATE SCHEMA {schema}: {created.stderr}")
            schemas.append(schema)
            url = f"{server}{separator}options=-csearch_path%3D{schema}"
            store = cached.store("a" if scenario == "a" else "b")
            count = cached.distinct if scenario == "a" else cached.size_b
            say(f"  importing {count:,} answers into PostgreSQL schema {schema} (one "
                "transaction)...")
            _, wall, cpu, rss = timed([TENURE, "cache", "import", store, "--cache", url])
            report.row(f"tenure cache import into PostgreSQL, {count:,} answers", count, wall,
                       cpu, rss)
            # After a bulk load PostgreSQL's manual ("Populating a Database")
            # says to VACUUM ANALYZE, and autovacuum soon does: the timed
            # rerun then reads the table as a team's store is read, not as
            # the first reader after a load, who sets every row's hint bits.
            vacuumed = psql(server, f"VACUUM ANALYZE {schema}.tenure_answers")
            if vacuumed.returncode != 0:
                sys.exit(f"VACUUM ANALYZE {schema}.tenure_answers: {vacuumed.stderr}")
            label = cached.label(scenario)
            pg_wall, pg_rss = cached.rerun(report, scenario,
                                           f"fully cached rerun on PostgreSQL, {label}", url,
                                           floor_wall)
            report.rows[-1] = report.rows[-1][:-1] + (
                f"{pg_wall / floor_wall:.1f}x the floor, {pg_wall / sqlite_wall:.2f}x SQLite",)
            report.target(f"({scenario}) PostgreSQL rerun ≤ 2x SQLite, {label} (issue 11)",
                          f"{pg_wall:.2f} s vs {sqlite_wall:.2f} s = {pg_wall / sqlite_wall:.2f}x "
                          f"({pg_wall / floor_wall:.1f}x the floor, {pg_rss:.1f} MiB)",
                          pg_wall <= 2 * sqlite_wall)
    finally:
        for schema in schemas:
            dropped = psql(server, f"DROP SCHEMA {schema} CASCADE")
            if dropped.returncode != 0:
                say(f"  could not drop schema {schema}: {dropped.stderr.strip()}")


# ------------------------------------------------------------- hostile ----

def group_hostile(report):
    """Issue 10: hostile input and a hostile server; bounded memory, a clear exit."""
    limit = 120  # seconds before a run is killed (exit 137 then)
    env = key_env()

    def run(argv, ok):
        return timed(["timeout", "-s", "KILL", str(limit), *argv], env, ok=(*ok, 137))

    out = os.path.join(WORK, "hostile.out.csv")
    code, wall, cpu, rss = run([TENURE, "enrich", "/dev/zero", "-o", out, "--sandbox",
                                "--no-headers", "-q"], (2,))
    report.row("hostile: /dev/zero, --no-headers", 0, wall, cpu, rss, "", "", "", f"exit {code}")
    report.target("/dev/zero: exit 2, quickly, small peak RSS (issue 10)",
                  f"exit {code}, {wall:.2f} s, {rss:.1f} MiB", code == 2 and rss < 64 and wall < 10)

    wide = os.path.join(WORK, "wide.csv")
    with open(wide, "w") as f:
        f.write("," * 10_000_000 + "\n")
    code, wall, cpu, rss = run([TENURE, "enrich", wide, "-o", out, "--sandbox", "-q"], (2,))
    remove(wide)
    report.row("hostile: a header of 10,000,001 columns (10 MB)", 0, wall, cpu, rss, "", "", "",
               f"exit {code}")
    report.target("a header of ten million columns: exit 2, small peak RSS (issue 10)",
                  f"exit {code}, {wall:.2f} s, {rss:.1f} MiB", code == 2 and rss < 64)

    server = HugeBodyServer()
    numbers = os.path.join(WORK, "huge.csv")
    write_numbers(numbers, 5, 5)
    try:
        code, wall, cpu, rss = run([TENURE, "enrich", numbers, "-o", out, "--endpoint", server.url,
                                    "--no-cache", "--retries", "1", "--backoff-base", "10ms",
                                    "-q"], (3, 4))
    finally:
        time.sleep(0.2)  # the handlers see the hang-up
        requests, sent = server.requests, server.bytes_sent
        server.close()
    remove(numbers, out)
    report.row("hostile: every answer a 1 GiB body, 5 numbers, --retries 1", 5, wall, cpu, rss,
               requests, "", "", f"exit {code}; the server sent {sent / MIB:.1f} MiB in all")
    report.target("a server sending 1 GiB bodies: small peak RSS, the run ends (issue 10)",
                  f"exit {code}, {wall:.2f} s, {rss:.1f} MiB; {requests} requests, "
                  f"{sent / MIB:.1f} MiB sent before the hang-ups", code in (3, 4) and rss < 64)


def main():
    say(f"building in {ROOT}")
    subprocess.run(["cargo", "build", "--release", "--bin", "tenure", "--example", "csvcopy"],
                   cwd=ROOT, check=True)
    report = Report()
    cached = Cached()
    try:
        for name in ONLY:
            say(f"{name}:")
            started = time.monotonic()
            if name == "rate":
                group_rate(report)
            elif name == "group":
                group_group(report)
            elif name == "cpu":
                group_cpu(report)
            elif name == "cached":
                group_cached(report, cached)
            elif name == "postgres":
                group_postgres(report, cached)
            elif name == "hostile":
                group_hostile(report)
            say(f"{name}: {time.monotonic() - started:.0f}s")
    finally:
        cached.close()
        shutil.rmtree(WORK, ignore_errors=True)
    report.print()


if __name__ == "__main__":
    main()
