"""
Benchmark saltwire against Salt's own clients on one running lab.

Run it with the lab venv's python (so `import salt.client` works), inside a
lab started by `saltwire-lab`; `bench/run.sh` does both:

    .venvs/salt-3008.4/bin/python bench/bench.py --config-dir DIR --saltwire target/release/saltwire

It measures, interleaved round-robin after warm-up rounds, on one lab:

`'*' test.ping`
    saltwire       `saltwire -c DIR run '*' test.ping --out json`, a subprocess
    salt           `salt -c DIR '*' test.ping --out json` (the venv's CLI), a subprocess
    python-script  a fresh `python -c`: import salt.client, LocalClient(), cmd()
    python-warm    one cmd() in a long-lived process that already holds a LocalClient

the four-step quick deploy (--deploy-iterations, 0 skips it)
    saltwire       `saltwire deploy --out json`
    python-script  a fresh `python -c` with the four cmd() calls
    python-warm    the four cmd() calls in the long-lived process

publish only (--publish-iterations, 0 skips it)
    saltwire / salt  `'*' test.ping --async`: start, publish, print the jid

peer mode (--peer-iterations, 0 skips it; needs --master, which run.sh sets)
    saltwire-peer        `saltwire --master HOST:PORT --id saltwire-bench --keys-dir DIR
                         run -C '* and not saltwire-bench' test.ping --out json`: authenticate
                         like a minion (`_auth`), `minion_pub`, poll `pub_ret`
    salt                 `salt -C '* and not saltwire-bench' test.ping --out json`
    saltwire             the same job in local mode (`-c DIR`)
    saltwire-peer-async  the peer run with --async: `_auth` and `minion_pub` only

The peer id is created (`saltwire key init`) and authenticated (one unmeasured
run; the lab master auto-accepts new keys) only when the peer rounds start,
after the other workloads: from then on it is an accepted minion that never
answers, so `'*'` would wait for it, and the peer rounds leave it out with a
compound target. The master must let it publish (`saltwire-lab --peer ID`).

Subprocesses run under a small C launcher (bench/rusage_exec.c, compiled with
$CC or cc on each run) that times fork to wait4 and reports the child's
rusage: peak RSS (ru_maxrss) and user+system CPU. It exists because a child
forked from this Python process would inherit its ~25 MiB RSS high-water
mark. In the long-lived process, cmd() is timed inside the process and the
peak RSS is its own ru_maxrss.

Every run must return from exactly the expected minions (True for test.ping,
the step's value for the deploy) with exit code 0; anything else stops the
benchmark with that run's output. Peer mode cannot see retcodes, so there each
minion must be in state `returned` (in local mode: `succeeded`).

Results: a Markdown report on stdout, progress on stderr, raw numbers with
--json FILE.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

MINIONS = ("web1", "web2", "redis1")

# Seconds a single measured run may take before it counts as hung.
RUN_TIMEOUT = 60.0

# The four-step quick deploy: (target, tgt_type, function, minions it must reach).
DEPLOY_STEPS = (
    ("G@roles:webserver or G@roles:redisserver", "compound", "myproject.update_code", ("web1", "web2", "redis1")),
    ("web1", "glob", "myproject.collectstatic", ("web1",)),
    ("roles:webserver", "grain", "myproject.restart_apache", ("web1", "web2")),
    ("roles:redisserver", "grain", "myproject.restart_supervisord", ("redis1",)),
)

PING_SCRIPT = """\
import json, sys
import salt.client
client = salt.client.LocalClient(c_path=sys.argv[1])
print(json.dumps(client.cmd('*', 'test.ping')))
"""

DEPLOY_SCRIPT = """\
import json, sys
import salt.client
client = salt.client.LocalClient(c_path=sys.argv[1])
returns = []
returns.append(client.cmd('G@roles:webserver or G@roles:redisserver', 'myproject.update_code', [], tgt_type='compound'))
returns.append(client.cmd('web1', 'myproject.collectstatic'))
returns.append(client.cmd('roles:webserver', 'myproject.restart_apache', [], tgt_type='grain'))
returns.append(client.cmd('roles:redisserver', 'myproject.restart_supervisord', [], tgt_type='grain'))
print(json.dumps(returns))
"""


class RunFailed(Exception):
    """A measured run did not succeed; the message carries its output."""


def log(message):
    print(f"bench: {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Running and measuring one subprocess


class Sample:
    def __init__(self, wall_s, maxrss_kib, cpu_s):
        self.wall_s = wall_s
        self.maxrss_kib = maxrss_kib
        self.cpu_s = cpu_s
        # Wall-clock (epoch) bounds of a subprocess run, for comparing with
        # the master's job cache; None for in-process calls.
        self.started_at = None
        self.ended_at = None
        # Seconds from the last minion return stored in the master's job
        # cache to the client's exit (peer section only).
        self.after_last_return_s = None


class Launcher:
    """Runs commands through rusage-exec (bench/rusage_exec.c), compiled here.

    Spawning straight from this process would not do: a child's ru_maxrss
    starts at the peak RSS of the process it was forked from (this one, some
    25 MiB), so only a small forking process measures a small command.
    """

    def __init__(self, workdir):
        self.workdir = workdir
        self.path = os.path.join(workdir, "rusage-exec")
        source = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rusage_exec.c")
        cc = os.environ.get("CC", "cc")
        build = subprocess.run([cc, "-O2", "-Wall", "-o", self.path, source], capture_output=True, text=True)
        if build.returncode != 0:
            sys.exit(f"bench: cannot compile {source} with {cc}:\n{build.stderr}")
        self.usage_path = os.path.join(workdir, "usage")

    def run(self, argv):
        """Runs argv to completion; returns (Sample, exit code, stdout, stderr)."""
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                (os.POSIX_SPAWN_DUP2, err.fileno(), 2),
            ]
            if os.path.exists(self.usage_path):
                os.unlink(self.usage_path)
            started_at = time.time()
            # Its own session, so a hung run is killed with everything it started.
            pid = os.posix_spawn(
                self.path, [self.path, self.usage_path, *argv], os.environ, file_actions=actions, setsid=True
            )
            reaped = threading.Event()
            lock = threading.Lock()
            timed_out = []

            def kill_if_hung():
                with lock:
                    if not reaped.is_set():
                        timed_out.append(True)
                        os.killpg(pid, signal.SIGKILL)

            watchdog = threading.Timer(RUN_TIMEOUT, kill_if_hung)
            watchdog.start()
            _, status = os.waitpid(pid, 0)
            ended_at = time.time()
            with lock:
                reaped.set()
            watchdog.cancel()
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        if timed_out:
            raise RunFailed(f"{shlex.join(argv)}: did not finish within {RUN_TIMEOUT:.0f} s\n{stdout}\n{stderr}")
        if os.waitstatus_to_exitcode(status) != 0:
            raise RunFailed(f"{shlex.join(argv)}: rusage-exec failed ({status})\n{stderr}")
        with open(self.usage_path, encoding="ascii") as f:
            wall_ns, maxrss_kib, utime_us, stime_us, child_status = (int(x) for x in f.read().split())
        sample = Sample(wall_ns / 1e9, maxrss_kib, (utime_us + stime_us) / 1e6)
        sample.started_at = started_at
        sample.ended_at = ended_at
        return sample, os.waitstatus_to_exitcode(child_status), stdout, stderr


def json_documents(text):
    """Every JSON document in text (salt --out json prints one per minion)."""
    decoder = json.JSONDecoder()
    docs = []
    i = 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i == len(text):
            return docs
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)


def check_returns(returns, minions, what, want_true=True):
    """returns maps minion id -> return; every expected minion, nothing else."""
    if set(returns) != set(minions):
        raise RunFailed(f"{what}: returns from {sorted(returns)}, expected {sorted(minions)}")
    for minion, ret in returns.items():
        if want_true and ret is not True:
            raise RunFailed(f"{what}: {minion} returned {ret!r}, expected True")
        if not want_true and not ret:
            raise RunFailed(f"{what}: {minion} returned {ret!r}")


def check_deploy_returns(step_returns, what):
    if len(step_returns) != len(DEPLOY_STEPS):
        raise RunFailed(f"{what}: {len(step_returns)} steps ran, expected {len(DEPLOY_STEPS)}")
    for returns, (_, _, fun, minions) in zip(step_returns, DEPLOY_STEPS):
        check_returns(returns, minions, f"{what}: {fun}", want_true=fun != "myproject.update_code")


def check_jid(stdout):
    found = re.search(r"\b\d{20}\b", stdout)
    if not found:
        raise RunFailed("no job id in the output")
    return found.group(0)


def run_checked(launcher, argv, check):
    sample, code, stdout, stderr = launcher.run(argv)
    try:
        if code != 0:
            raise RunFailed(f"exit code {code}")
        check(stdout)
    except (RunFailed, ValueError, KeyError, TypeError) as e:
        raise RunFailed(
            f"{shlex.join(argv)}: {e}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}"
        ) from None
    return sample


# ---------------------------------------------------------------------------
# The clients


class Clients:
    def __init__(self, args, launcher):
        self.launcher = launcher
        self.config_dir = args.config_dir
        self.master_conf = os.path.join(args.config_dir, "master")
        self.saltwire = os.path.abspath(args.saltwire)
        self.python = sys.executable
        self.salt = os.path.join(os.path.dirname(sys.executable), "salt")
        self.warm = WarmWorker(self.python, self.master_conf)
        self.master = args.master
        self.peer_id = args.peer_id
        self.peer_target = f"* and not {args.peer_id}"
        self.keys_dir = os.path.join(launcher.workdir, "peer-keys")
        self.job_dir = None
        self.hash_type = None
        self.jid_dir = None
        # Jobs published with --async whose returns may still be on their way.
        self.outstanding = []

    def peer_argv(self, *rest):
        return [self.saltwire, "--master", self.master, "--id", self.peer_id, "--keys-dir", self.keys_dir, *rest]

    def load_job_cache_config(self):
        if self.job_dir is not None:
            return
        import logging

        import salt.config
        import salt.utils.jid

        # Only for cachedir and hash_type; its warnings about the lab's
        # settings are not the benchmark's business.
        logging.disable(logging.WARNING)
        try:
            opts = salt.config.master_config(self.master_conf)
        finally:
            logging.disable(logging.NOTSET)
        self.job_dir = os.path.join(opts["cachedir"], "jobs")
        self.hash_type = opts["hash_type"]
        self.jid_dir = salt.utils.jid.jid_dir

    def peer_setup(self):
        """Creates the peer key and authenticates it once (auto_accept takes it).

        Returns the first run's Sample: first contact, the master's key pinned."""
        self.settle()
        argv = [self.saltwire, "--keys-dir", self.keys_dir, "--id", self.peer_id, "key", "init"]
        init = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if init.returncode != 0:
            raise RunFailed(f"{shlex.join(argv)}: exit code {init.returncode}\n{init.stdout}\n{init.stderr}")
        return self.saltwire_peer_ping()

    def last_return_at(self, jid, minions):
        """Epoch mtime of the newest return.p of jid in the master's job cache.

        In local mode the client can exit before the last one is written (the
        master fires the return event first), so this waits a little for it."""
        path = self.jid_dir(jid, self.job_dir, self.hash_type)
        give_up = time.monotonic() + 10
        while True:
            try:
                return max(os.stat(os.path.join(path, minion, "return.p")).st_mtime for minion in minions)
            except FileNotFoundError as e:
                if time.monotonic() > give_up:
                    raise RunFailed(f"job {jid}: no return in the job cache ({e})") from None
                time.sleep(0.02)

    def saltwire_peer_ping(self):
        return self._saltwire_compound(self.peer_argv(), "returned", "saltwire peer run")

    def saltwire_compound_ping(self):
        return self._saltwire_compound([self.saltwire, "-c", self.config_dir], "succeeded", "saltwire run")

    def _saltwire_compound(self, head, state, what):
        argv = [*head, "run", "-C", self.peer_target, "test.ping", "--out", "json"]
        jid = []

        def check(stdout):
            doc = json.loads(stdout)
            minions = doc["minions"]
            for minion, entry in minions.items():
                if entry.get("state") != state:
                    raise RunFailed(f"{minion}: state {entry.get('state')}, expected {state}")
            check_returns({m: e["return"] for m, e in minions.items()}, MINIONS, what)
            jid.append(doc["jid"])

        sample = run_checked(self.launcher, argv, check)
        sample.after_last_return_s = sample.ended_at - self.last_return_at(jid[0], MINIONS)
        return sample

    def saltwire_peer_async(self):
        sample = self._async(self.peer_argv("run", "-C", self.peer_target, "test.ping", "--async"))
        self.settle()
        return sample

    def _async(self, argv):
        """An --async run; its job's returns are waited for later by settle()."""
        jids = []
        sample = run_checked(self.launcher, argv, lambda out: jids.append(check_jid(out)))
        self.outstanding.extend(jids)
        return sample

    def settle(self):
        """Waits (unmeasured) until the --async jobs' returns are in the job cache.

        A peer publish must not overlap them: the master runs `minion_pub` in
        a worker that publishes through its own request port, and with the
        lab's 3 workers (Salt's minimum) two returns dispatched meanwhile send
        that publish back to the blocked worker, which then stalls for 30 s.
        """
        self.load_job_cache_config()
        while self.outstanding:
            self.last_return_at(self.outstanding.pop(), MINIONS)

    def salt_compound_ping(self):
        argv = [self.salt, "-c", self.config_dir, "-C", self.peer_target, "test.ping", "--out", "json"]

        def check(stdout):
            returns = {}
            for doc in json_documents(stdout):
                returns.update(doc)
            check_returns(returns, MINIONS, "salt -C")

        return run_checked(self.launcher, argv, check)

    def saltwire_ping(self):
        argv = [self.saltwire, "-c", self.config_dir, "run", "*", "test.ping", "--out", "json"]

        def check(stdout):
            doc = json.loads(stdout)
            minions = doc["minions"]
            for minion, entry in minions.items():
                if entry.get("state") != "succeeded":
                    raise RunFailed(f"{minion}: state {entry.get('state')}")
            check_returns({m: e["return"] for m, e in minions.items()}, MINIONS, "saltwire run")

        return run_checked(self.launcher, argv, check)

    def salt_ping(self):
        argv = [self.salt, "-c", self.config_dir, "*", "test.ping", "--out", "json"]

        def check(stdout):
            returns = {}
            for doc in json_documents(stdout):
                returns.update(doc)
            check_returns(returns, MINIONS, "salt")

        return run_checked(self.launcher, argv, check)

    def python_script_ping(self):
        argv = [self.python, "-c", PING_SCRIPT, self.master_conf]
        return run_checked(self.launcher, argv, lambda out: check_returns(json.loads(out), MINIONS, "LocalClient script"))

    def python_warm_ping(self):
        return self.warm.call("ping")

    def saltwire_async(self):
        return self._async([self.saltwire, "-c", self.config_dir, "run", "*", "test.ping", "--async"])

    def salt_async(self):
        return self._async([self.salt, "-c", self.config_dir, "*", "test.ping", "--async"])

    def saltwire_deploy(self):
        argv = [self.saltwire, "-c", self.config_dir, "deploy", "--out", "json"]

        def check(stdout):
            doc = json.loads(stdout)
            if not doc["succeeded"] or doc["steps_run"] != len(DEPLOY_STEPS):
                raise RunFailed("the deploy did not succeed")
            steps = []
            for step in doc["steps"]:
                for entry in step["minions"]:
                    if entry["state"] != "succeeded":
                        raise RunFailed(f"{step['fun']}: {entry['minion']} {entry['state']}")
                steps.append({e["minion"]: e["return"] for e in step["minions"]})
            funs = [s["fun"] for s in doc["steps"]]
            if funs != [fun for _, _, fun, _ in DEPLOY_STEPS]:
                raise RunFailed(f"steps {funs}")
            check_deploy_returns(steps, "saltwire deploy")

        return run_checked(self.launcher, argv, check)

    def python_script_deploy(self):
        argv = [self.python, "-c", DEPLOY_SCRIPT, self.master_conf]
        return run_checked(self.launcher, argv, lambda out: check_deploy_returns(json.loads(out), "LocalClient script"))

    def python_warm_deploy(self):
        return self.warm.call("deploy")


class WarmWorker:
    """A long-lived python process holding one LocalClient (`bench.py worker`)."""

    def __init__(self, python, master_conf):
        self.proc = subprocess.Popen(
            [python, os.path.abspath(__file__), "worker", master_conf],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def call(self, what):
        self.proc.stdin.write(what + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RunFailed(f"the LocalClient worker exited (code {self.proc.wait()})")
        reply = json.loads(line)
        if "error" in reply:
            raise RunFailed(f"LocalClient in-process {what}: {reply['error']}")
        if what == "ping":
            check_returns(reply["returns"], MINIONS, "LocalClient in-process")
        else:
            check_deploy_returns(reply["returns"], "LocalClient in-process deploy")
        return Sample(reply["wall_s"], reply["maxrss_kib"], reply["cpu_s"])

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def worker_main(master_conf):
    """Answers one line per request on the original stdout; Salt may print to
    its own stdout, which goes to stderr here."""
    reply_fd = os.dup(1)
    os.dup2(2, 1)
    replies = os.fdopen(reply_fd, "w", buffering=1)

    import salt.client

    client = salt.client.LocalClient(c_path=master_conf)
    for line in sys.stdin:
        what = line.strip()
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        try:
            if what == "ping":
                returns = client.cmd("*", "test.ping")
            elif what == "deploy":
                returns = [
                    client.cmd(tgt, fun, [], tgt_type=tgt_type) for tgt, tgt_type, fun, _ in DEPLOY_STEPS
                ]
            else:
                raise ValueError(f"unknown request {what!r}")
        except Exception as e:  # reported to the harness, which stops
            replies.write(json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n")
            continue
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
        replies.write(
            json.dumps({"returns": returns, "wall_s": wall, "maxrss_kib": after.ru_maxrss, "cpu_s": cpu})
            + "\n"
        )


# ---------------------------------------------------------------------------
# Rounds, statistics, report


def measure(clients, order, iterations, warmup, label):
    """Round-robin over `order` ((name, fn) pairs); returns name -> [Sample]."""
    samples = {name: [] for name, _ in order}
    total = warmup + iterations
    for i in range(total):
        warm_round = i < warmup
        for name, fn in order:
            sample = fn()
            if not warm_round:
                samples[name].append(sample)
        log(
            f"{label}: {'warm-up' if warm_round else 'round'} "
            f"{i + 1 - (0 if warm_round else warmup)}/{warmup if warm_round else iterations}: "
            + ", ".join(f"{name} {samples[name][-1].wall_s * 1000:.0f} ms" for name, _ in order if samples[name])
        )
    return samples


def percentile(values, p):
    """Linear interpolation between closest ranks (numpy's default)."""
    values = sorted(values)
    if len(values) == 1:
        return values[0]
    k = (len(values) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summarize(samples):
    wall = [s.wall_s for s in samples]
    rss = [s.maxrss_kib for s in samples]
    cpu = [s.cpu_s for s in samples]
    return {
        "n": len(samples),
        "wall_median_s": statistics.median(wall),
        "wall_p10_s": percentile(wall, 10),
        "wall_p90_s": percentile(wall, 90),
        "wall_min_s": min(wall),
        "wall_max_s": max(wall),
        "cpu_median_s": statistics.median(cpu),
        "maxrss_median_kib": statistics.median(rss),
        "maxrss_max_kib": max(rss),
    }


def fmt_ms(seconds):
    ms = seconds * 1000
    return f"{ms:.0f}" if ms >= 100 else f"{ms:.1f}"


def fmt_mib(kib):
    return f"{kib / 1024:.1f}"


def table(rows, stats, baseline):
    base = stats[baseline]
    lines = [
        "| client | what is timed | median wall (ms) | p10 (ms) | p90 (ms) | median CPU (ms) "
        f"| median peak RSS (MiB) | wall / {baseline} | RSS / {baseline} |",
        "|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, what in rows:
        s = stats[name]
        lines.append(
            f"| {name} | {what} | {fmt_ms(s['wall_median_s'])} | {fmt_ms(s['wall_p10_s'])} "
            f"| {fmt_ms(s['wall_p90_s'])} | {fmt_ms(s['cpu_median_s'])} | {fmt_mib(s['maxrss_median_kib'])} "
            f"| {s['wall_median_s'] / base['wall_median_s']:.2f}x "
            f"| {s['maxrss_median_kib'] / base['maxrss_median_kib']:.1f}x |"
        )
    return "\n".join(lines)


def machine_info(saltwire):
    import salt.version

    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    version = subprocess.run([saltwire, "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": model,
        "mem_total_mib": mem_kib // 1024 if mem_kib else None,
        "kernel": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "salt_version": salt.version.__version__,
        "saltwire_version": version,
        "loadavg_at_start": os.getloadavg(),
    }


def verdicts(stats):
    sw = stats["saltwire"]
    salt = stats["salt"]
    ratio = sw["wall_median_s"] / salt["wall_median_s"]
    rss_mib = sw["maxrss_median_kib"] / 1024
    max_mib = sw["maxrss_max_kib"] / 1024
    lines = []
    if ratio <= 0.25:
        lines.append(f"- Wall time: saltwire's median is {ratio:.3f} of salt's (target at most 0.25): **met**.")
    else:
        needed = salt["wall_median_s"] * 0.25
        lines.append(
            f"- Wall time: saltwire's median is {ratio:.3f} of salt's (target at most 0.25): **missed**, "
            f"by {(sw['wall_median_s'] - needed) * 1000:.0f} ms (the target is {needed * 1000:.0f} ms)."
        )
    verdict = "met" if max_mib < 10 else "missed"
    lines.append(
        f"- Peak RSS: saltwire's median is {rss_mib:.1f} MiB, largest {max_mib:.1f} MiB "
        f"(target under 10 MiB): **{verdict}**."
    )
    return lines


def paired_ratio(samples, name, baseline="saltwire"):
    """Median over rounds of name's wall time / baseline's in the same round."""
    return statistics.median(a.wall_s / b.wall_s for a, b in zip(samples[name], samples[baseline]))


def ratio_line(samples, stats, names, baseline="saltwire"):
    base = stats[baseline]["wall_median_s"]
    return (
        "Ratios of median wall time: "
        + ", ".join(f"{name}/{baseline} = {stats[name]['wall_median_s'] / base:.2f}" for name in names)
        + ". Median of the same ratio taken round by round: "
        + ", ".join(f"{paired_ratio(samples, name, baseline):.2f}" for name in names)
        + "."
    )


def peer_lines(samples, stats, info):
    """Where the peer run's time goes, from the other rows and the job cache."""
    peer = stats["saltwire-peer"]["wall_median_s"]
    publish = stats["saltwire-peer-async"]["wall_median_s"]
    after = {
        name: statistics.median(x.after_last_return_s for x in samples[name]) for name in ("saltwire-peer", "saltwire")
    }
    first = info["peer_first_contact_s"]
    return [
        f"- Target: `-C '* and not {info['peer_id']}'` in every row. `{info['peer_id']}` is an accepted minion "
        "(its key was auto-accepted when the peer rounds started) that never answers jobs, so `'*'` would match "
        "it and wait for it; the compound target leaves it out, and every run was checked to select exactly "
        f"{', '.join(MINIONS)}.",
        "- Peer mode cannot see retcodes (`pub_ret` gives only each minion's return), so each peer run was "
        "checked for state `returned` and return `true` from all 3 minions (local mode: state `succeeded`).",
        "- Every saltwire-peer process authenticates from scratch: it loads its 2048-bit RSA key and does the "
        "`_auth` round trip (the master RSA-encrypts the AES key to it) before publishing; that cost is in "
        "its numbers. The first contact (key auto-accepted, master key pinned; not counted) took "
        f"{first * 1000:.0f} ms.",
        f"- Start + `_auth` + `minion_pub` (the --async row): {publish * 1000:.0f} ms median; the rest of the "
        f"peer run, {(peer - publish) * 1000:.0f} ms, is waiting for the returns by polling `pub_ret` "
        "(first poll 50 ms after the publish, the wait doubling up to 0.3 s).",
        "- From the last minion return written to the master's job cache to the client's exit (median): "
        f"saltwire-peer {after['saltwire-peer'] * 1000:.0f} ms, saltwire local {after['saltwire'] * 1000:.0f} ms. "
        "That is the peer run's idle time between the returns being there and the next poll seeing them; "
        "local mode hears of each return on the event bus, before the master writes it to the job cache "
        "(file mtimes have the kernel's timestamp granularity).",
    ]


# (section key, heading, rows: (client, what is timed))
SECTIONS = (
    (
        "test_ping",
        "`'*' test.ping`, 3 minions",
        (
            ("saltwire", "`saltwire run '*' test.ping --out json`, subprocess"),
            ("salt", "`salt '*' test.ping --out json`, subprocess"),
            ("python-script", "fresh `python -c`: import + LocalClient() + cmd()"),
            ("python-warm", "one cmd() in a long-lived process (client already built)"),
        ),
    ),
    (
        "deploy",
        "Four-step quick deploy",
        (
            ("saltwire", "`saltwire deploy --out json`, subprocess"),
            ("python-script", "fresh `python -c`: import + LocalClient() + 4 cmd()"),
            ("python-warm", "4 cmd() in a long-lived process (client already built)"),
        ),
    ),
    (
        "publish_only",
        "Publish only: `'*' test.ping --async` (start, publish, print the jid; no returns awaited)",
        (
            ("saltwire", "`saltwire run '*' test.ping --async`, subprocess"),
            ("salt", "`salt '*' test.ping --async`, subprocess"),
        ),
    ),
    (
        "peer",
        "Peer mode: `-C '* and not PEER_ID' test.ping`, 3 minions",
        (
            (
                "saltwire-peer",
                "`saltwire --master HOST:PORT --id PEER_ID --keys-dir DIR run -C TARGET test.ping "
                "--out json`, subprocess: `_auth`, `minion_pub`, `pub_ret` polls",
            ),
            ("salt", "`salt -C TARGET test.ping --out json`, subprocess"),
            ("saltwire", "`saltwire run -C TARGET test.ping --out json` (local mode), subprocess"),
            ("saltwire-peer-async", "the peer run with `--async`: `_auth` + `minion_pub`, no polling"),
        ),
    ),
)

# The row the ratio columns divide by, per section (default: saltwire).
BASELINES = {"peer": "salt"}


def report(info, args, results):
    out = []
    for key, heading, rows in SECTIONS:
        if key not in results:
            continue
        samples, stats = results[key]
        baseline = BASELINES.get(key, "saltwire")
        n = stats[baseline]["n"]
        heading = heading.replace("PEER_ID", args.peer_id)
        rows = [(name, what.replace("PEER_ID", args.peer_id)) for name, what in rows]
        out.append(f"## {heading}; {n} rounds after {args.warmup} warm-up\n")
        out.append(table(rows, stats, baseline))
        out.append("")
        out.append(ratio_line(samples, stats, [name for name, _ in rows if name != baseline], baseline))
        if key == "peer":
            out.append("")
            out.extend(peer_lines(samples, stats, info))
        if key == "test_ping":
            out.append("")
            out.extend(verdicts(stats))
            out.append(
                "- python-warm: wall and CPU are per cmd() call, timed inside the long-lived process; "
                "its RSS is that process's ru_maxrss after its test.ping calls."
            )
        out.append("")
    out.append("## Machine\n")
    out.append(f"- Date: {info['date_utc']}")
    out.append(f"- CPU: {info['cpu_model']}, nproc {info['nproc']}, memory {info['mem_total_mib']} MiB")
    loads = [("at start", info["loadavg_at_start"])]
    if "loadavg_at_peer" in info:
        loads.append(("when the peer rounds started", info["loadavg_at_peer"]))
    loads.append(("at end", info["loadavg_at_end"]))
    out.append(
        f"- OS: {info['kernel']}; load average (1, 5, 15 min) "
        + ", ".join(f"{' / '.join(f'{x:.2f}' for x in load)} {when}" for when, load in loads)
    )
    out.append(f"- Salt {info['salt_version']} (Python {info['python']}); {info['saltwire_version']} (release build)")
    out.append("- Master, 3 minions and all clients on this one machine, over loopback.")
    out.append(
        f"- Peak RSS floor of the measuring launcher: `/bin/true` under it reports "
        f"{info['launcher_floor_kib'] / 1024:.1f} MiB."
    )
    return "\n".join(out)


def bench_main(args):
    if not os.path.isfile(os.path.join(args.config_dir, "master")):
        sys.exit(f"bench: no master config in {args.config_dir}")
    if not os.access(args.saltwire, os.X_OK):
        sys.exit(f"bench: {args.saltwire} is not an executable (build it: cargo build --release -p saltwire)")
    info = machine_info(args.saltwire)
    workdir = tempfile.TemporaryDirectory(prefix="saltwire-bench-")
    launcher = Launcher(workdir.name)
    floor, _, _, _ = launcher.run(["/bin/true"])
    info["launcher_floor_kib"] = floor.maxrss_kib
    clients = Clients(args, launcher)
    phases = [
        (
            "test_ping",
            args.iterations,
            [
                ("saltwire", clients.saltwire_ping),
                ("salt", clients.salt_ping),
                ("python-script", clients.python_script_ping),
                ("python-warm", clients.python_warm_ping),
            ],
        ),
        (
            "deploy",
            args.deploy_iterations,
            [
                ("saltwire", clients.saltwire_deploy),
                ("python-script", clients.python_script_deploy),
                ("python-warm", clients.python_warm_deploy),
            ],
        ),
        (
            "publish_only",
            args.publish_iterations,
            [("saltwire", clients.saltwire_async), ("salt", clients.salt_async)],
        ),
        # Last: once its key is accepted, the peer id is a minion that `'*'`
        # matches and that never returns.
        (
            "peer",
            args.peer_iterations if args.master else 0,
            [
                ("saltwire-peer", clients.saltwire_peer_ping),
                ("salt", clients.salt_compound_ping),
                ("saltwire", clients.saltwire_compound_ping),
                ("saltwire-peer-async", clients.saltwire_peer_async),
            ],
        ),
    ]
    if args.peer_iterations > 0 and not args.master:
        log("no --master (or $SALTWIRE_LAB_MASTER): skipping the peer-mode rounds")
    results = {}
    try:
        t0 = time.monotonic()
        for key, iterations, order in phases:
            if iterations <= 0:
                continue
            if key == "peer":
                info["loadavg_at_peer"] = os.getloadavg()
                first = clients.peer_setup()
                info["peer_id"] = args.peer_id
                info["peer_first_contact_s"] = first.wall_s
                log(f"peer: key {args.peer_id} created, first contact (auto-accept, pin) {first.wall_s * 1000:.0f} ms")
            samples = measure(clients, order, iterations, args.warmup, key)
            results[key] = (samples, {name: summarize(s) for name, s in samples.items()})
        log(f"measured in {time.monotonic() - t0:.0f} s")
        info["loadavg_at_end"] = os.getloadavg()
    except RunFailed as e:
        log(f"a run failed, stopping:\n{e}")
        return 1
    finally:
        clients.warm.close()
        workdir.cleanup()

    print(report(info, args, results))

    if args.json:
        raw = {"machine": info, "warmup": args.warmup, "minions": list(MINIONS)}
        for key, (samples, stats) in results.items():
            raw[key] = {
                name: {
                    "summary": stats[name],
                    "wall_s": [x.wall_s for x in s],
                    "cpu_s": [x.cpu_s for x in s],
                    "maxrss_kib": [x.maxrss_kib for x in s],
                    **(
                        {"after_last_return_s": [x.after_last_return_s for x in s]}
                        if s and s[0].after_last_return_s is not None
                        else {}
                    ),
                }
                for name, s in samples.items()
            }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(raw, f, indent=2)
            f.write("\n")
        log(f"raw numbers in {args.json}")
    return 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "worker":
        worker_main(sys.argv[2])
        return 0
    parser = argparse.ArgumentParser(description="saltwire vs salt vs LocalClient on one lab")
    parser.add_argument(
        "--config-dir",
        default=os.environ.get("SALTWIRE_CONFIG_DIR"),
        help="the lab master's config dir (default: $SALTWIRE_CONFIG_DIR, set by saltwire-lab)",
    )
    parser.add_argument("--saltwire", default="target/release/saltwire", help="the saltwire binary")
    parser.add_argument("--iterations", type=int, default=15, help="measured test.ping rounds (default 15)")
    parser.add_argument(
        "--deploy-iterations", type=int, default=10, help="measured deploy rounds; 0 skips the deploy (default 10)"
    )
    parser.add_argument(
        "--publish-iterations",
        type=int,
        default=10,
        help="measured --async (publish only) rounds; 0 skips them (default 10)",
    )
    parser.add_argument(
        "--peer-iterations",
        type=int,
        default=10,
        help="measured peer-mode rounds; 0 skips them (default 10; they need --master)",
    )
    parser.add_argument(
        "--master",
        default=os.environ.get("SALTWIRE_LAB_MASTER"),
        help="the master's HOST:PORT for peer mode (default: $SALTWIRE_LAB_MASTER, set by saltwire-lab)",
    )
    parser.add_argument(
        "--peer-id",
        default="saltwire-bench",
        help="the minion id peer mode authenticates as; the master's `peer:` must let it publish "
        "(saltwire-lab --peer ID) and accept its key (default saltwire-bench)",
    )
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first (default 2)")
    parser.add_argument("--json", metavar="FILE", help="write the raw numbers here")
    args = parser.parse_args()
    if not args.config_dir:
        parser.error("--config-dir is required outside saltwire-lab")
    counts = (args.warmup, args.deploy_iterations, args.publish_iterations, args.peer_iterations)
    if args.iterations < 1 or min(counts) < 0:
        parser.error("--iterations must be at least 1, the other counts at least 0")
    return bench_main(args)


if __name__ == "__main__":
    sys.exit(main())
