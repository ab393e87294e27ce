"""harness.py - start homestream's real processes on loopback for tests.

Every test here runs the real binaries: the dev Kafka broker, Debian's
influxd (1.6, v1 API) in a temporary directory, the Home Assistant simulator
and the three stages. Nothing listens beyond 127.0.0.1. Each process is
stopped (and its output kept for the failure report) when the test ends.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def build_dir():
    return os.environ.get("HS_BUILD_DIR") or os.path.join(ROOT, "build")


def binary(rel):
    path = os.path.join(build_dir(), rel)
    if not os.access(path, os.X_OK):
        raise RuntimeError("missing binary %s (build first)" % path)
    return path


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout, what, interval=0.1):
    """Polls pred() until it returns a true value; raises after timeout s."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while time.monotonic() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as exc:  # noqa: BLE001 - reported on timeout
            last_exc = exc
        time.sleep(interval)
    raise TimeoutError("timed out after %ss waiting for %s (%s)" % (timeout, what, last_exc))


def http(method, url, body=None, headers=None, timeout=10):
    """Returns (status, headers, body bytes); never raises on HTTP errors."""
    data = body
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


class Proc:
    """A child process whose stdout/stderr go to files in the test's dir."""

    def __init__(self, name, argv, env, workdir):
        self.name = name
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.out_path = os.path.join(workdir, name + ".out")
        self.err_path = os.path.join(workdir, name + ".err")
        self.p = None

    def start(self):
        out = open(self.out_path, "ab")
        err = open(self.err_path, "ab")
        full_env = dict(os.environ)
        full_env.update(self.env)
        self.p = subprocess.Popen(self.argv, stdout=out, stderr=err, env=full_env,
                                  stdin=subprocess.DEVNULL, cwd=self.workdir)
        out.close()
        err.close()
        return self

    def alive(self):
        return self.p is not None and self.p.poll() is None

    def read_out(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_line(self, prefix, timeout=20):
        """Waits for a stdout line starting with prefix; returns the rest."""
        def find():
            if not self.alive():
                raise RuntimeError("%s exited with %s" % (self.name, self.p.returncode))
            for line in self.read_out().splitlines():
                if line.startswith(prefix):
                    return line[len(prefix):].strip()
            return None
        return wait_until(find, timeout, "%s to print %s" % (self.name, prefix))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops the process; returns its exit code (None if it had to be killed)."""
        if self.p is None:
            return None
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return None
        return self.p.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def tail(self, n=40):
        parts = []
        for path in (self.out_path, self.err_path):
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()[-n:]
            except OSError:
                continue
            parts.append("--- %s (last %d lines)\n%s" % (os.path.basename(path), n, "\n".join(lines)))
        return "\n".join(parts)


class Influxd:
    """Debian's influxd 1.6 in a temporary directory on free ports."""

    def __init__(self, workdir):
        self.dir = os.path.join(workdir, "influxd")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.rpc_port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        cfg = os.path.join(self.dir, "influxd.conf")
        with open(cfg, "w") as f:
            f.write(
                'reporting-disabled = true\n'
                'bind-address = "127.0.0.1:%d"\n'
                '[meta]\n  dir = "%s/meta"\n'
                '[data]\n  dir = "%s/data"\n  wal-dir = "%s/wal"\n'
                '  query-log-enabled = false\n'
                '[http]\n  bind-address = "127.0.0.1:%d"\n  log-enabled = false\n'
                '  max-body-size = 0\n  max-row-limit = 0\n'
                '[monitor]\n  store-enabled = false\n'
                '[subscriber]\n  enabled = false\n'
                '[continuous_queries]\n  enabled = false\n'
                % (self.rpc_port, self.dir, self.dir, self.dir, self.port))
        self.proc = Proc("influxd", [shutil.which("influxd") or "/usr/bin/influxd",
                                     "run", "-config", cfg], {}, workdir)

    def start(self):
        self.proc.start()
        wait_until(lambda: http("GET", self.url + "/ping")[0] == 204, 30, "influxd /ping")
        return self

    def stop(self):
        return self.proc.stop()

    def query(self, q, db=None):
        params = {"q": q, "epoch": "ns"}
        if db:
            params["db"] = db
        status, _, body = http("POST", self.url + "/query?" + urllib.parse.urlencode(params),
                               body=b"", timeout=60)
        doc = json.loads(body)
        if status != 200:
            raise RuntimeError("query %r failed: %s %s" % (q, status, doc))
        for res in doc.get("results", []):
            if "error" in res:
                raise RuntimeError("query %r failed: %s" % (q, res["error"]))
        return doc

    def series(self, q, db):
        """Runs q and returns a list of (name, tags, [row dicts])."""
        out = []
        for res in self.query(q, db).get("results", []):
            for s in res.get("series", []) or []:
                cols = s["columns"]
                rows = [dict(zip(cols, v)) for v in s.get("values", [])]
                out.append((s["name"], s.get("tags") or {}, rows))
        return out


class DevBroker:
    def __init__(self, workdir, partitions=3):
        self.proc = Proc("devbroker", [binary("tests/devbroker/homestream-devbroker"),
                                       "--partitions", str(partitions)], {}, workdir)
        self.bootstrap = None

    def start(self):
        self.proc.start()
        self.bootstrap = self.proc.wait_line("BOOTSTRAP=")
        return self

    def stop(self):
        return self.proc.stop()


class HaSim:
    def __init__(self, workdir, token, events, rate=0, entities=40, seed=1, extra=()):
        self.token = token
        self.events_log = os.path.join(workdir, "hasim-events.jsonl")
        self.proc = Proc("hasim", [binary("tests/hasim/homestream-hasim"),
                                   "--port", "0", "--token", token,
                                   "--events", str(events), "--rate", str(rate),
                                   "--entities", str(entities), "--seed", str(seed),
                                   "--events-log", self.events_log] + list(extra),
                         {}, workdir)
        self.port = None

    @property
    def url(self):
        return "ws://127.0.0.1:%s/api/websocket" % self.port

    def start(self):
        self.proc.start()
        self.port = int(self.proc.wait_line("LISTENING="))
        return self

    def wait_done(self, timeout):
        return int(self.proc.wait_line("DONE=", timeout))

    def generated(self):
        """The HA event objects hasim emitted, in order."""
        with open(self.events_log, "rb") as f:
            return [json.loads(line) for line in f if line.strip()]

    def stop(self):
        return self.proc.stop()


class Stage:
    """One homestream daemon with its admin endpoint on a free port."""

    def __init__(self, name, env, workdir, token=None):
        self.name = name
        self.admin_port = free_port()
        self.token = token
        e = {"ADMIN_ADDR": "127.0.0.1:%d" % self.admin_port, "LOG_LEVEL": "info"}
        if token:
            e["ADMIN_TOKEN"] = token
        e.update(env)
        self.proc = Proc(name, [binary("%s/homestream-%s" % (name, name))], e, workdir)

    @property
    def admin(self):
        return "http://127.0.0.1:%d" % self.admin_port

    def start(self, wait=True):
        self.proc.start()
        if wait:
            wait_until(lambda: self.get("/health")[0] in (200, 503), 20,
                       "%s admin endpoint" % self.name)
        return self

    def get(self, path, token=None, headers=None):
        h = dict(headers or {})
        tok = token if token is not None else self.token
        if tok:
            h["Authorization"] = "Bearer " + tok
        return http("GET", self.admin + path, headers=h)

    def json(self, path):
        status, _, body = self.get(path)
        if status != 200:
            raise RuntimeError("%s %s -> %s %s" % (self.name, path, status, body[:200]))
        return json.loads(body)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        return self.proc.stop(sig, timeout)


class Pipeline:
    """devbroker + influxd + hasim + the three stages, wired together."""

    DB = "homeassistant"

    def __init__(self, name, events=5000, rate=0, entities=40, seed=1, hasim_extra=(),
                 stage_env=None, admin_token=None):
        self.workdir = tempfile.mkdtemp(prefix="hs-%s-" % name)
        self.ha_token = "test-ha-token-%d" % os.getpid()
        self.admin_token = admin_token
        self.broker = DevBroker(self.workdir)
        self.influx = Influxd(self.workdir)
        self.hasim = HaSim(self.workdir, self.ha_token, events, rate, entities, seed, hasim_extra)
        self.stage_env = stage_env or {}
        self.stages = {}
        self.procs = []

    def start(self):
        self.influx.start()
        self.procs.append(self.influx.proc)
        self.influx.query("CREATE DATABASE %s" % self.DB)
        self.broker.start()
        self.procs.append(self.broker.proc)
        self.hasim.start()
        self.procs.append(self.hasim.proc)
        common = {"KAFKA_BROKERS": self.broker.bootstrap, "SITE": "home"}
        envs = {
            "writer": {"INFLUX_URL": self.influx.url, "INFLUX_API_VERSION": "1",
                       "INFLUX_DB": self.DB},
            "enricher": {},
            "ingestor": {"HA_URL": self.hasim.url, "HA_TOKEN": self.ha_token,
                         "SPOOL_DIR": os.path.join(self.workdir, "spool")},
        }
        for name in ("writer", "enricher", "ingestor"):
            env = dict(common)
            env.update(envs[name])
            env.update(self.stage_env.get(name, {}))
            st = Stage(name, env, self.workdir, self.admin_token)
            st.start()
            self.stages[name] = st
            self.procs.append(st.proc)
        return self

    def stop(self):
        codes = {}
        for name in ("ingestor", "enricher", "writer"):
            if name in self.stages:
                codes[name] = self.stages[name].stop()
        for p in (self.hasim, self.broker, self.influx):
            p.stop()
        return codes

    def report(self):
        return "\n".join(p.tail() for p in self.procs) + "\nworkdir: " + self.workdir

    def cleanup(self):
        if os.environ.get("HS_KEEP_TMP"):
            return
        shutil.rmtree(self.workdir, ignore_errors=True)


def run_test(fn):
    """Runs fn(); prints PASS/FAIL and exits 0/1 (meson reads the exit code)."""
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        print("FAIL: %s: %s" % (fn.__name__, exc), file=sys.stderr)
        raise
    print("PASS: %s" % fn.__name__)
