#!/usr/bin/env python3
"""bench/report.py RAW.tsv: the Markdown report of one bench/run.sh run.

RAW is what bench/run.sh writes (bench/out/raw.tsv): tab-separated lines

    WORKLOAD  SERVER  ROUND  KEY  VALUE      one raw measurement
    sysinfo   NAME    VALUE                  the machine and the settings
    version   SERVER  VERSION
    dead      SERVER  REASON                 a server left out, and why
    serverlog SERVER  LINE                   a warning from the server's logs

ROUND is "r" or, for the sliced workloads, "r.slice". A measured run
(lib/measure.sh) records, each under its prefix (none, alone_, during_, ...):
requests, duration_us, bytes, p99_us, errors, cpu_ns, units (what CPU per
request divides by), for mthttpd cpu_ns_workers (its event-loop threads'
share) and, when a process was counted in ticks, cpu_ticked.
This script derives per-run figures (req/s, MiB/s, CPU µs per request),
takes medians over the runs, and prints the tables, the ratios against
mthttpd and the targets of issues 4, 10, 16 and 17. Standard library only.
"""
import statistics
import sys
from collections import defaultdict

M = "mthttpd"
MD = "mthttpd-default"
TREES = {"files1k": "1,000 files, 5 directories",
         "files20k": "20,000 files, 100 directories",
         "files200k": "200,000 files, 2,000 directories"}


class Raw:
    """The raw file, indexed: runs[(workload, server, round)][key] -> [values]."""

    def __init__(self, path):
        self.runs = defaultdict(lambda: defaultdict(list))
        self.sysinfo, self.versions = {}, {}
        self.dead, self.serverlog = defaultdict(list), defaultdict(list)
        self.order = []  # servers in order of appearance
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                self.add(line.rstrip("\n").split("\t"))

    def add(self, f):
        if len(f) == 3 and f[0] == "sysinfo":
            self.sysinfo[f[1]] = f[2]
        elif len(f) == 3 and f[0] == "version":
            self.versions[f[1]] = f[2]
        elif len(f) == 3 and f[0] == "serverlog":
            self.serverlog[f[1]].append(f[2])
        elif len(f) == 3 and f[0] == "dead":
            self.dead[f[1]].append(f[2])
        elif len(f) == 5:
            try:
                v = float(f[4])
            except ValueError:
                return
            self.runs[(f[0], f[1], f[2])][f[3]].append(v)
            if f[1] not in self.order and f[1] != "disk":
                self.order.append(f[1])

    def servers(self):
        s = self.sysinfo.get("servers")
        return s.split() if s else list(self.order)

    def each(self, w, s):
        """The runs of workload w on server s, in round order."""
        return [(k[2], v) for k, v in self.runs.items() if k[0] == str(w) and k[1] == s]


def one(run, key):
    v = run.get(key)
    return v[0] if v else None


def derive(run, name, pre=""):
    """One run's figure: rps, mib_s, cpu_us_req, or a raw key."""
    g = lambda k: one(run, pre + k)  # noqa: E731
    if name == "rps":
        n, d = g("requests"), g("duration_us")
        return n * 1e6 / d if n is not None and d else None
    if name == "mib_s":
        b, d = g("bytes"), g("duration_us")
        return b * 1e6 / d / 1048576 if b is not None and d else None
    if name == "cpu_us_req":
        c, n = g("cpu_ns"), g("units")
        return c / 1e3 / n if c is not None and n else None
    return g(name)


class Report:
    def __init__(self, raw):
        self.raw = raw
        self.out = []
        self.checks = defaultdict(list)  # issue -> [(name, ok)]

    # ------------------------------------------------------------ figures --
    def values(self, w, s, name, pre=""):
        vs = [derive(run, name, pre) for _, run in self.raw.each(w, s)]
        return [v for v in vs if v is not None]

    def med(self, w, s, name, pre=""):
        v = self.values(w, s, name, pre)
        return statistics.median(v) if v else None

    def has(self, w, s, name, pre=""):
        return bool(self.values(w, s, name, pre))

    def paired(self, w, s, other, name="cpu_us_req"):
        """s's figure over other's in each round (slice) where both ran,
        back to back: (median, first quartile, third quartile, pairs), or
        None. Slow swings of a shared machine move both runs of a pair
        alike, so this ratio is steadier than the ratio of the medians."""
        a = dict(self.raw.each(w, s))
        b = dict(self.raw.each(w, other))
        r = []
        for k in sorted(a.keys() & b.keys()):
            x, y = derive(a[k], name), derive(b[k], name)
            if x is not None and y:
                r.append(x / y)
        if not r:
            return None
        q = statistics.quantiles(r, n=4) if len(r) > 1 else [r[0]] * 3
        return statistics.median(r), q[0], q[2], len(r)

    def per_round(self, w, s, fn):
        """Median over rounds of fn(run) (None results skipped)."""
        v = [fn(run) for _, run in self.raw.each(w, s)]
        v = [x for x in v if x is not None]
        return statistics.median(v) if v else None

    # ------------------------------------------------------------- output --
    def w(self, line=""):
        self.out.append(line)

    def target(self, issue, name, ok):
        if ok is not None:
            self.checks[issue].append((name, ok))

    # ------------------------------------------------------------ sections --
    def header(self):
        si, servers = self.raw.sysinfo, self.raw.servers()
        self.w("# mthttpd benchmark results")
        self.w()
        self.w(f"{si.get('date', '')}; kernel {si.get('kernel', '?')}; "
               f"{si.get('ncpu', '?')} × {si.get('cpu', '?')}; bench dir on {si.get('fs', '?')}.  ")
        self.w(f"{si.get('settings', '')}; {si.get('wrk', 'wrk')}.  ")
        self.w("Servers: " + "; ".join(f"{s}: {self.raw.versions.get(s, '?')}" for s in servers) + ".")
        self.w()
        self.w("Every figure is the median over the rounds (workloads 1, 2, files* and threads: over the "
               "SLICE-second slices of every round, run in turn across the servers). "
               "CPU is the server's run time from the scheduler (schedstat, ns), summed over its threads "
               "and processes. \"mthttpd ÷ x\" is mthttpd's "
               "median divided by server x's: for req/s above 1 means mthttpd is faster; "
               "for CPU per request and p99 below 1 means mthttpd is cheaper/quicker.")
        self.w()

    def static(self, servers):
        names = {1: "1 KiB, keep-alive, 64 conns", 2: "1 KiB, Connection: close, 64 conns",
                 3: "1 MiB file, 16 conns", 4: "100 MiB file, 4 conns"}
        rows = [(n, s) for n in (1, 2, 3, 4) for s in servers if self.has(n, s, "rps")]
        if not rows:
            return
        med = self.med
        self.w("## Static files (workloads 1–4)")
        self.w()
        self.w("| # | workload | server | req/s | mthttpd ÷ x | p99 | mthttpd ÷ x | CPU µs/req | mthttpd ÷ x | MiB/s | errors |")
        self.w("|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        for n, s in rows:
            rps, p99, cpu = med(n, s, "rps"), med(n, s, "p99_us"), med(n, s, "cpu_us_req")
            self.w(f"| {n} | {names[n]} | {s} | {num(rps)} | {ratio(med(n, M, 'rps'), rps)} | {lat(p99)} | "
                   f"{ratio(med(n, M, 'p99_us'), p99)} | {num(cpu, 2)} | {ratio(med(n, M, 'cpu_us_req'), cpu)} | "
                   f"{num(med(n, s, 'mib_s'), 1)} | {num(med(n, s, 'errors'))} |")
        self.w()

    def rss_per_conn(self, run):
        a, b, n = one(run, "rss0_kib"), one(run, "rss1_kib"), one(run, "idle_ok")
        return (b - a) * 1024 / n if a is not None and b is not None and n else None

    def idle(self, servers):
        idle = self.raw.sysinfo.get("idle_conns", "?")
        rows = [s for s in servers if self.has(5, s, "rps", "base_") or self.has(5, s, "idle_ok")]
        if not rows:
            return
        med = self.med
        self.w(f"## {idle} idle keep-alive connections while workload 1 runs (workload 5)")
        self.w()
        self.w("| server | idle conns served | still served after load | RSS before | RSS Δ per idle conn | mthttpd ÷ x | "
               "req/s without | req/s with idle | retained | CPU µs/req with idle | p99 with idle | errors with idle |")
        self.w("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
        for s in rows:
            rss = self.per_round(5, s, self.rss_per_conn)
            r0 = med(5, s, "rss0_kib")
            base, idl = med(5, s, "rps", "base_"), med(5, s, "rps", "idle_")
            self.w(f"| {s} | {num(med(5, s, 'idle_ok'))} | {num(med(5, s, 'check_ok'))} | "
                   f"{num(r0 / 1024 if r0 is not None else None, 1)} MiB | {num(rss)} B | "
                   f"{ratio(self.per_round(5, M, self.rss_per_conn), rss)} | {num(base)} | {num(idl)} | {pct(idl, base)} | "
                   f"{num(med(5, s, 'cpu_us_req', 'idle_'), 2)} | {lat(med(5, s, 'p99_us', 'idle_'))} | "
                   f"{num(med(5, s, 'errors', 'idle_'))} |")
        self.w()

    def w6_ratio(self):
        """Each round's uploads/s against the mean of the probe runs just
        before and after it; the median over rounds."""
        probes = {rnd: run.get("probe_ops_s", []) for rnd, run in self.raw.each(6, "disk")}
        v = []
        for rnd, run in self.raw.each(6, M):
            up, p = derive(run, "rps"), probes.get(rnd)
            if up is not None and p and len(p) == 2 and sum(p) > 0:
                v.append(2 * up / sum(p))
        if v:
            return statistics.median(v)
        up, lim = self.med(6, M, "rps"), self.med(6, "disk", "probe_ops_s")
        return up / lim if up is not None and lim else None

    def uploads(self):
        med = self.med
        if self.has(6, M, "rps") or self.has(6, "disk", "probe_ops_s"):
            self.w("## Durable uploads, 32 connections, 200-byte JSON (workload 6)")
            self.w()
            self.w("| disk limit (probe, 32 threads) | probe CPU µs/op | mthttpd uploads/s | uploads ÷ limit (median of rounds) | p99 | CPU µs/upload | "
                   "files stored / 201s counted | temp files left | errors |")
            self.w("|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
            r = self.w6_ratio()
            self.w(f"| {num(med(6, 'disk', 'probe_ops_s'))} ops/s | {num(med(6, 'disk', 'probe_cpu_us_op'), 1)} | "
                   f"{num(med(6, M, 'rps'))} | {'—' if r is None else f'{r:.2f}'} | {lat(med(6, M, 'p99_us'))} | "
                   f"{num(med(6, M, 'cpu_us_req'), 2)} | {num(med(6, M, 'stored'))} / {num(med(6, M, 'requests'))} | "
                   f"{num(med(6, M, 'tmp_left'))} | {num(med(6, M, 'errors'))} |")
            self.w()
        if self.has(7, M, "rps", "during_") or self.has(7, M, "rps", "alone_"):
            self.w(f"## Small GETs ({self.hot_conns()} conns) while 32 connections upload (workload 7)")
            self.w()
            self.w("| GET p99 alone | GET p99 during uploads | GET req/s alone | GET req/s during | uploads/s during | upload p99 | errors |")
            self.w("|--:|--:|--:|--:|--:|--:|--:|")
            self.w(f"| {lat(med(7, M, 'p99_us', 'alone_'))} | {lat(med(7, M, 'p99_us', 'during_'))} | "
                   f"{num(med(7, M, 'rps', 'alone_'))} | {num(med(7, M, 'rps', 'during_'))} | "
                   f"{num(med(7, M, 'rps', 'bg_'))} | {lat(med(7, M, 'bg_p99_us'))} | "
                   f"{num(med(7, M, 'errors', 'during_'))} |")
            self.w()

    def hot_conns(self):
        for part in self.raw.sysinfo.get("settings", "").split():
            if part.startswith("HOT_CONNS="):
                return part.split("=", 1)[1]
        return "8"

    @staticmethod
    def hotup_get_cpu(run, pre):
        """CPU µs per GET in mthttpd's event-loop threads (worker-N): for
        the run with uploads, less the uploads stored in its window at the
        uploads-alone run's event-loop CPU per upload. The I/O pool's work
        (write, fsync, rename) is left out on both sides, so the subtraction
        is small."""
        c, n = one(run, pre + "cpu_ns_workers"), one(run, pre + "requests")
        if c is None or not n:
            return None
        if pre == "alone_":
            return c / 1e3 / n
        uc, un, k = one(run, "up_cpu_ns_workers"), one(run, "up_requests"), one(run, "during_uploads")
        if None in (uc, un, k) or un == 0:
            return None
        return (c - k * uc / un) / 1e3 / n

    def hotup(self):
        if not (self.has("hotup", M, "rps", "alone_") or self.has("hotup", M, "rps", "during_")):
            return
        med, H = self.med, "hotup"
        alone_cpu = self.per_round(H, M, lambda run: self.hotup_get_cpu(run, "alone_"))
        during_cpu = self.per_round(H, M, lambda run: self.hotup_get_cpu(run, "during_"))

        def rround(run):
            a, d = self.hotup_get_cpu(run, "alone_"), self.hotup_get_cpu(run, "during_")
            return d / a if a and d is not None else None
        cpu_ratio = self.per_round(H, M, rround)

        def up_loop(run):
            c, n = one(run, "up_cpu_ns_workers"), one(run, "up_requests")
            return c / 1e3 / n if c is not None and n else None
        p99_during = med(H, M, "p99_us", "during_")
        self.w(f"## Hot-page GETs ({self.hot_conns()} conns) with and without 32 uploading connections (workload hotup)")
        self.w()
        self.w("| | GET req/s | GET p99 | GET CPU µs/req, event loops | ÷ without uploads | GET CPU µs/req, whole server | "
               "uploads/s | CPU µs/upload, event loops / whole | errors |")
        self.w("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        self.w(f"| without uploads | {num(med(H, M, 'rps', 'alone_'))} | {lat(med(H, M, 'p99_us', 'alone_'))} | "
               f"{num(alone_cpu, 2)} | 1.00 | {num(med(H, M, 'cpu_us_req', 'alone_'), 2)} | — | — | "
               f"{num(med(H, M, 'errors', 'alone_'))} |")
        self.w(f"| uploads alone | — | — | — | — | — | {num(med(H, M, 'rps', 'up_'))} | "
               f"{num(self.per_round(H, M, up_loop), 1)} / {num(med(H, M, 'cpu_us_req', 'up_'), 1)} | "
               f"{num(med(H, M, 'errors', 'up_'))} |")
        self.w(f"| with uploads | {num(med(H, M, 'rps', 'during_'))} | {lat(p99_during)} | {num(during_cpu, 2)} | "
               f"{'—' if cpu_ratio is None else f'{cpu_ratio:.2f}'} | {num(med(H, M, 'cpu_us_req', 'during_'), 2)} "
               f"(uploads included) | {num(med(H, M, 'rps', 'bg_'))} | — | {num(med(H, M, 'errors', 'during_'))} |")
        self.w()
        self.w("GET CPU is counted in mthttpd's event-loop threads (`worker-N`), where a GET is served and "
               "where a cache invalidation costs; with uploads running, their event-loop share "
               "(receiving, validating, answering: the uploads stored in the run's window × the "
               "uploads-alone run's event-loop CPU per upload) is subtracted. \"÷ without uploads\" is the "
               "median of the per-round ratios.")
        self.w()
        self.target(17, "hotup: GET CPU/req with uploads ≤ 1.2 × without", le(cpu_ratio, 1.2))
        self.target(17, "hotup: GET p99 with uploads < 5 ms", le(p99_during, 4999))

    def files(self, servers):
        trees = [t for t in TREES if any(self.has(t, s, "rps") for s in servers)]
        if not trees:
            return
        med = self.med
        self.w("## Random GETs of 2 KiB pages over file trees, 64 conns (workloads files*)")
        self.w()
        self.w("| working set | server | req/s | p99 | mthttpd ÷ x | CPU µs/req | mthttpd ÷ x | errors |")
        self.w("|---|---|--:|--:|--:|--:|--:|--:|")
        for t in trees:
            for s in servers:
                if not self.has(t, s, "rps"):
                    continue
                p99, cpu = med(t, s, "p99_us"), med(t, s, "cpu_us_req")
                self.w(f"| {TREES[t]} | {s} | {num(med(t, s, 'rps'))} | {lat(p99)} | {ratio(med(t, M, 'p99_us'), p99)} | "
                       f"{num(cpu, 2)} | {ratio(med(t, M, 'cpu_us_req'), cpu)} | {num(med(t, s, 'errors'))} |")
        self.w()
        self.w(f"fs.inotify.max_user_watches: {self.raw.sysinfo.get('inotify_watches', '?')}. "
               "nginx runs with open_file_cache max=1000.")
        self.w()
        # The targets are judged on the paired ratios: each slice runs the
        # servers back to back, so a pair sees nearly the same machine.
        pairs = {}
        rows = []
        for t in trees:
            for s in servers:
                p = self.paired(t, M, s) if s != M else None
                if p is not None:
                    pairs[(t, s)] = p
                    rows.append(f"| {TREES[t]} | {s} | {p[0]:.2f} | {p[1]:.2f}–{p[2]:.2f} | {p[3]} |")
        if rows:
            self.w("CPU per request, mthttpd ÷ x within each slice (the servers run back to back), "
                   "then the median over the slices: the ratio the targets are judged on.")
            self.w()
            self.w("| working set | x | median of mthttpd ÷ x | quartiles | pairs |")
            self.w("|---|---|--:|--:|--:|")
            for r in rows:
                self.w(r)
            self.w()
        others = [pairs[("files1k", s)][0] for s in servers if ("files1k", s) in pairs]
        if others:
            self.target(17, "files1k: mthttpd the cheapest per request of the servers (paired)",
                        all(r < 1 for r in others))
        for t in ("files20k", "files200k"):
            if (t, "h2o") in pairs:
                self.target(17, f"{t}: CPU/req ≤ 0.9 × h2o (paired median {pairs[(t, 'h2o')][0]:.2f})",
                            pairs[(t, "h2o")][0] <= 0.9)

    def threads(self):
        rows = [s for s in (MD, M, "h2o") if self.has("threads", s, "rps")]
        if not rows:
            return
        med = self.med
        p99_d, p99_h = med("threads", MD, "p99_us"), med("threads", "h2o", "p99_us")
        cpu_d, cpu_1 = med("threads", MD, "cpu_us_req"), med("threads", M, "cpu_us_req")
        label = {MD: "mthttpd, default --threads", M: "mthttpd --threads 1", "h2o": "h2o, 1 thread"}
        self.w("## Default thread count on one CPU: 1 KiB keep-alive, 64 conns (workload threads)")
        self.w()
        self.w("| server | req/s | p99 | CPU µs/req | errors |")
        self.w("|---|--:|--:|--:|--:|")
        for s in rows:
            self.w(f"| {label[s]} | {num(med('threads', s, 'rps'))} | {lat(med('threads', s, 'p99_us'))} | "
                   f"{num(med('threads', s, 'cpu_us_req'), 2)} | {num(med('threads', s, 'errors'))} |")
        self.w()
        self.w(f"p99 default ÷ h2o p99: **{ratio(p99_d, p99_h)}** (target ≤ 2.0); "
               f"CPU/req default ÷ CPU/req --threads 1: **{ratio(cpu_d, cpu_1)}** (target ≤ 1.1).")
        self.w()
        self.target(10, "threads: p99 at the default ≤ 2.0 × h2o's", le(p99_d, p99_h, 2.0))
        self.target(10, "threads: CPU/req at the default ≤ 1.1 × --threads 1", le(cpu_d, cpu_1, 1.1))

    def gzip(self, servers):
        rows = [s for s in servers if self.has("gzip", s, "rps")]
        if not rows:
            return
        med = self.med
        codings = {0: "identity", 1: "gzip", 2: "br"}
        self.w("## Compression on the fly: 20 KiB HTML, Accept-Encoding: gzip, br, keep-alive, 64 conns (workload gzip)")
        self.w()
        self.w("| server | coding | body bytes | bytes/response on the wire | req/s | p99 | CPU µs/req | mthttpd ÷ x | "
               "identity: bytes/response | identity: CPU µs/req |")
        self.w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|")
        per_resp = lambda pre: (lambda run: (one(run, pre + "bytes") / one(run, pre + "requests")  # noqa: E731
                                             if one(run, pre + "requests") else None))
        for s in rows:
            c = med("gzip", s, "coding")
            cpu = med("gzip", s, "cpu_us_req")
            self.w(f"| {s} | {codings.get(int(c), '?') if c is not None else '—'} | {num(med('gzip', s, 'body_bytes'))} | "
                   f"{num(self.per_round('gzip', s, per_resp('')))} | {num(med('gzip', s, 'rps'))} | "
                   f"{lat(med('gzip', s, 'p99_us'))} | {num(cpu, 2)} | {ratio(med('gzip', M, 'cpu_us_req'), cpu)} | "
                   f"{num(self.per_round('gzip', s, per_resp('id_')))} | {num(med('gzip', s, 'cpu_us_req', 'id_'), 2)} |")
        self.w()
        mc = med("gzip", M, "cpu_us_req")
        others = [med("gzip", s, "cpu_us_req") for s in rows if s != M]
        others = [o for o in others if o is not None]
        if mc is not None and others:
            self.target(16, "gzip: CPU/req at or below the cheapest other server's", mc <= min(others))
        self.target(16, "gzip: CPU/req at or below mthttpd's own identity figure",
                    le(mc, med("gzip", M, "cpu_us_req", "id_")))

    def issue4(self, servers):
        if M not in servers:
            return
        med, t = self.med, lambda name, ok: self.target(4, name, ok)
        t("W1 CPU/req ≤ 0.9 × h2o", le(med(1, M, "cpu_us_req"), med(1, "h2o", "cpu_us_req"), 0.9))
        t("W1 req/s ≥ h2o", ge(med(1, M, "rps"), med(1, "h2o", "rps")))
        t("W2 CPU/req ≤ h2o", le(med(2, M, "cpu_us_req"), med(2, "h2o", "cpu_us_req")))
        t("W3 CPU/req ≤ lighttpd", le(med(3, M, "cpu_us_req"), med(3, "lighttpd", "cpu_us_req")))
        idle = self.raw.sysinfo.get("idle_conns", "?")
        if self.has(5, M, "idle_ok"):
            try:
                n = float(idle)
                t(f"W5 all {idle} idle conns served, before and after the load",
                  med(5, M, "idle_ok") == n and med(5, M, "check_ok") == n)
            except (ValueError, TypeError):
                pass
        t("W5 RSS ≤ 1 KiB per idle conn", le(self.per_round(5, M, self.rss_per_conn), 1024))
        t("W5 req/s with idle ≥ 90 % of without", ge(med(5, M, "rps", "idle_"), med(5, M, "rps", "base_"), 0.9))
        t("W6 uploads ≥ 0.8 × disk limit", ge(self.w6_ratio(), 1.0, 0.8))
        t("W7 GET p99 during uploads < 5 ms", le(med(7, M, "p99_us", "during_"), 4999))

    def targets(self):
        titles = {4: "Targets of issue 4", 10: "Target of issue 10 (item 8)", 16: "Targets of issue 16",
                  17: "Targets of issue 17"}
        for issue in (4, 10, 16, 17):
            if not self.checks[issue]:
                continue
            self.w(f"## {titles[issue]}")
            self.w()
            for name, ok in self.checks[issue]:
                self.w(f"- {'PASS' if ok else 'FAIL'}: {name}")
            self.w()

    def problems(self):
        out = []
        for s, reasons in self.raw.dead.items():
            out.append(f"- {s}: " + "; ".join(reasons))
        merged = defaultdict(list)
        for (wk, s, _), run in self.raw.runs.items():
            for k, v in run.items():
                merged[(wk, s, k)].extend(v)
        for (wk, s, k), v in sorted(merged.items()):
            if k.endswith("errors") and statistics.median(v) > 0:
                out.append(f"- workload {wk}, {s}: {k} median {statistics.median(v):.0f} (non-2xx/3xx or socket errors)")
            if k.endswith("failed") and k != "idle_failed" and max(v) > 0:
                out.append(f"- workload {wk}, {s}: a run produced no result")
            if k.endswith("requests") and min(v) == 0:
                out.append(f"- workload {wk}, {s}: a run completed no request at all "
                           f"({k}; a connection limit or a stall? see the server log lines below)")
            if k == "idle_failed" and max(v) > 0:
                out.append(f"- workload {wk}, {s}: {max(v):.0f} idle connections were not served")
            if k.endswith("cpu_ticked"):
                out.append(f"- workload {wk}, {s}: in {len(v)} run(s) a thread exited, so CPU was counted "
                           "in 10 ms ticks for that process (lib/cpu.sh)")
            if k == "tmp_left" and max(v) > 0:
                out.append(f"- workload {wk}, {s}: {max(v):.0f} temporary upload files left behind")
        if out:
            self.w("## Problems seen")
            self.w()
            self.out.extend(out)
            self.w()
        if self.raw.serverlog:
            self.w("## Server log lines (warnings and errors, with their counts)")
            self.w()
            for s, lines in self.raw.serverlog.items():
                for line in lines:
                    self.w(f"- {s}: `{line.strip()[:300].replace('`', chr(39))}`")
            self.w()

    def build(self):
        servers = [s for s in self.raw.servers() if s != MD]
        self.header()
        self.static(servers)
        self.idle(servers)
        self.uploads()
        self.files(servers)
        self.hotup()
        self.threads()
        self.gzip(servers)
        self.issue4(servers)
        self.targets()
        self.problems()
        return "\n".join(self.out)


def num(x, nd=0):
    return "—" if x is None else f"{x:,.{nd}f}"


def lat(us):
    if us is None:
        return "—"
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def ratio(a, b):
    return "—" if a is None or b is None or b == 0 else f"{a / b:.2f}"


def pct(a, b):
    return "—" if a is None or b is None or b == 0 else f"{100 * a / b:.0f} %"


def le(a, b, f=1.0):
    return None if a is None or b is None else a <= f * b


def ge(a, b, f=1.0):
    return None if a is None or b is None else a >= f * b


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    print(Report(Raw(argv[1])).build())


if __name__ == "__main__":
    main(sys.argv)
