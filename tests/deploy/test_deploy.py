#!/usr/bin/env python3
"""test_deploy.py - the deployment files agree with the daemons and with each other.

    test_deploy.py [STAGE_BINARY...]

The stage binaries (homestream-ingestor, -enricher, -writer, as meson passes
them) are asked for their variables with --config-markdown; every variable
must then be documented in deploy/.env.example, wired into the stage's
service in deploy/docker-compose.yml and listed in its systemd environment
files. The compose file must pass `docker-compose config` with
.env.example, the units `systemd-analyze verify`, the container scripts must
behave as documented, and the runtime image must install every library the
binaries link.
"""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import unittest
from http.server import BaseHTTPRequestHandler, HTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
DEPLOY = os.path.join(ROOT, "deploy")
STAGES = ("ingestor", "enricher", "writer")
ADMIN_PORTS = {"ingestor": 8081, "enricher": 8082, "writer": 8083}
# Secrets the compose file and the units hand over as NAME_FILE.
SECRET_FILES = {"ingestor": {"HA_TOKEN"}, "enricher": {"WEATHER_API_KEY"},
                "writer": {"INFLUX_TOKEN"}}

BINARIES = {}


def read(*path):
    with open(os.path.join(ROOT, *path), encoding="utf-8") as f:
        return f.read()


def stage_variables(stage):
    """The variable names of a stage's --config-markdown table."""
    out = subprocess.run([BINARIES[stage], "--config-markdown"], capture_output=True,
                         text=True, timeout=30, env={"PATH": os.environ.get("PATH", "")})
    if out.returncode != 0:
        raise AssertionError("%s --config-markdown failed: %s" % (stage, out.stderr))
    names = re.findall(r"^\|\s*`([A-Z][A-Z0-9_]*)`\s*\|", out.stdout, re.M)
    if not names:
        raise AssertionError("%s --config-markdown listed no variables" % stage)
    return names


_compose_cache = {}


def compose_config(extra_args=()):
    """docker-compose's resolved configuration with .env.example (as YAML text)."""
    key = tuple(extra_args)
    if key not in _compose_cache:
        _compose_cache[key] = _compose_config(key)
    return _compose_cache[key]


def _compose_config(extra_args):
    exe = shutil.which("docker-compose")
    if exe is None:
        raise AssertionError("docker-compose is not installed (apt-get install docker-compose)")
    out = subprocess.run([exe, "-f", os.path.join(DEPLOY, "docker-compose.yml"),
                          "--env-file", os.path.join(DEPLOY, ".env.example"), *extra_args,
                          "config"], capture_output=True, text=True, timeout=120,
                         cwd=tempfile.gettempdir())
    if out.returncode != 0:
        raise AssertionError("docker-compose config failed:\n" + out.stderr + out.stdout)
    return out.stdout


def mounts(service):
    """(type, source, target) of a service's volumes, in the long form
    (docker compose v2) or the short "source:target[:mode]" form (1.29)."""
    out = []
    for v in service.get("volumes", []):
        if isinstance(v, dict):
            out.append((v["type"], v.get("source"), v["target"]))
        else:
            source, target = v.split(":")[:2]
            kind = "bind" if source.startswith(("/", ".")) else "volume"
            out.append((kind, source, target))
    return out


def load_yaml(text):
    import yaml  # python3-yaml, a dependency of docker-compose
    return yaml.safe_load(text)


class Compose(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cfg = load_yaml(compose_config())
        cls.services = cls.cfg["services"]

    def test_sites_profile_resolves(self):
        cfg = load_yaml(compose_config(["--profile", "sites"]))
        cabin = cfg["services"]["ingestor-cabin"]
        self.assertEqual(cabin["environment"]["SITE"], "cabin")
        self.assertEqual(cabin["environment"]["HA_TOKEN_FILE"], "/run/secrets/ha_token_cabin")
        self.assertIn("sites", cabin.get("profiles", []))
        self.assertNotEqual(mounts(cabin)[0][1], mounts(cfg["services"]["ingestor"])[0][1])

    def test_stages_share_one_image_with_health_and_restart(self):
        images = set()
        for name in STAGES + ("ingestor-cabin",):
            svc = self.services[name]
            with self.subTest(name):
                images.add(svc["image"])
                self.assertEqual(svc["restart"], "unless-stopped")
                self.assertEqual(svc["healthcheck"]["test"], ["CMD", "homestream-healthcheck"])
                self.assertEqual(svc["build"]["dockerfile"], "Dockerfile")
                stage = name.split("-")[0]
                self.assertEqual(svc["command"], [stage])
                self.assertEqual(svc["environment"]["ADMIN_ADDR"],
                                 "0.0.0.0:%d" % ADMIN_PORTS[stage])
                self.assertEqual(svc["environment"]["KAFKA_BROKERS"], "kafka:9092")
                self.assertEqual(svc["depends_on"]["kafka-init"]["condition"],
                                 "service_completed_successfully")
        self.assertEqual(len(images), 1)
        self.assertEqual(self.services["writer"]["depends_on"]["influxdb"]["condition"],
                         "service_healthy")
        self.assertEqual(self.services["kafka-init"]["depends_on"]["kafka"]["condition"],
                         "service_healthy")
        self.assertEqual(self.services["grafana"]["depends_on"]["influxdb"]["condition"],
                         "service_healthy")
        for name in ("kafka", "influxdb", "grafana"):
            self.assertIn("healthcheck", self.services[name])
            self.assertEqual(self.services[name]["restart"], "unless-stopped")

    def test_spool_and_data_on_named_volumes(self):
        ing = self.services["ingestor"]
        spool = ing["environment"]["SPOOL_DIR"]
        self.assertEqual(spool, "/var/lib/homestream/spool")
        self.assertEqual([(m[0], m[2]) for m in mounts(ing)], [("volume", spool)])
        for svc, target in (("kafka", "/var/lib/kafka/data"), ("influxdb", "/var/lib/influxdb2"),
                            ("grafana", "/var/lib/grafana")):
            self.assertIn(("volume", target), [(m[0], m[2]) for m in mounts(self.services[svc])])

    def test_secrets_come_from_files(self):
        for stage, names in SECRET_FILES.items():
            env = self.services[stage]["environment"]
            for name in names:
                with self.subTest(stage=stage, secret=name):
                    self.assertNotIn(name, env, "a secret must not be in the environment")
                    path = env[name + "_FILE"]
                    secret = os.path.basename(path)
                    self.assertEqual(path, "/run/secrets/" + secret)
                    self.assertIn(secret, [s["source"] for s in self.services[stage]["secrets"]])
                    self.assertTrue(os.path.exists(
                        os.path.join(DEPLOY, "secrets", secret + ".example")))
        for secret in self.cfg["secrets"].values():
            rel = os.path.relpath(secret["file"], DEPLOY)
            self.assertTrue(rel.startswith("secrets" + os.sep), rel)
            self.assertTrue(os.path.exists(os.path.join(DEPLOY, rel + ".example")), rel)
        ignore = read("deploy", ".gitignore")
        self.assertIn("/secrets/*", ignore)
        self.assertIn("/.env", ignore)

    def test_topics_partitions_and_retention(self):
        env = self.services["kafka-init"]["environment"]
        self.assertEqual((env["TOPIC_PARTITIONS"], env["TOPIC_RETENTION_DAYS"],
                          env["DLQ_RETENTION_DAYS"]), ("6", "7", "30"))
        script = read("deploy", "kafka", "create-topics.sh")
        self.assertIn('topic "${TOPIC_DLQ:-ha.events.dlq}" 1 "$dlq_days"', script)

    def test_grafana_provisioning_matches_dashboards(self):
        g = self.services["grafana"]
        binds = {target: source for kind, source, target in mounts(g) if kind == "bind"}
        provider = load_yaml(read("deploy", "grafana", "provisioning", "dashboards",
                                  "homestream.yml"))["providers"][0]
        path = provider["options"]["path"]
        self.assertEqual(os.path.realpath(binds[path]),
                         os.path.join(DEPLOY, "grafana", "dashboards"))
        home = g["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
        self.assertTrue(os.path.exists(os.path.join(binds[path], os.path.basename(home))))
        ds = load_yaml(read("deploy", "grafana", "provisioning", "datasources",
                            "influxdb.yml"))["datasources"][0]
        self.assertEqual(ds["type"], "influxdb")
        self.assertEqual(ds["jsonData"]["httpHeaderName1"], "Authorization")
        self.assertEqual(ds["secureJsonData"]["httpHeaderValue1"],
                         "Token $__file{/run/secrets/influx_token}")
        self.assertIn("influx_token", [s["source"] for s in g["secrets"]])
        for name in ("home.json", "pipeline.json"):
            with open(os.path.join(DEPLOY, "grafana", "dashboards", name)) as f:
                dash = json.load(f)
            ds_var = [v for v in dash["templating"]["list"] if v["type"] == "datasource"][0]
            self.assertEqual(ds_var["current"]["value"], ds["uid"])


class Variables(unittest.TestCase):
    """Every variable of every stage is documented and wired."""

    def setUp(self):
        missing = [s for s in STAGES if s not in BINARIES]
        if missing:
            self.fail("stage binaries not given: %s" % ", ".join(missing))
        self.env_example = read("deploy", ".env.example")
        self.compose = load_yaml(compose_config())["services"]

    def test_env_example_documents_every_variable(self):
        assigned = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", self.env_example, re.M))
        for stage in STAGES:
            for name in stage_variables(stage):
                with self.subTest(stage=stage, variable=name):
                    self.assertTrue(re.search(r"\b%s\b" % name, self.env_example),
                                    "%s is not mentioned in .env.example" % name)
                    if name not in ("ADMIN_ADDR", "SPOOL_DIR", "PRESENCE_STATE_FILE", "KAFKA_GROUP") and \
                            name not in SECRET_FILES[stage]:
                        self.assertIn(name, assigned, "no %s= line" % name)

    def test_every_env_example_line_is_used(self):
        """A NAME= line that nothing reads is a typo or a stale setting."""
        compose_text = read("deploy", "docker-compose.yml")
        for name in re.findall(r"^([A-Z][A-Z0-9_]*)=", self.env_example, re.M):
            with self.subTest(variable=name):
                self.assertRegex(compose_text, r"\$\{%s[:}-]" % name)

    def test_compose_wires_every_variable(self):
        for stage in STAGES:
            env = self.compose[stage]["environment"]
            for name in stage_variables(stage):
                with self.subTest(stage=stage, variable=name):
                    if name in SECRET_FILES[stage]:
                        self.assertIn(name + "_FILE", env)
                    elif name in ("HA_TOKEN", "INFLUX_PASSWORD", "WEATHER_API_KEY",
                                  "INFLUX_TOKEN"):
                        self.assertTrue(name in env or name + "_FILE" in env)
                    else:
                        self.assertIn(name, env)

    def test_systemd_env_files_list_every_variable(self):
        common = read("deploy", "systemd", "homestream.env")
        for stage in STAGES:
            text = common + read("deploy", "systemd", stage + ".env")
            unit = read("deploy", "systemd", "homestream-%s.service" % stage)
            for name in stage_variables(stage):
                with self.subTest(stage=stage, variable=name):
                    if name in SECRET_FILES[stage]:
                        self.assertIn("Environment=%s_FILE=%%d/" % name, unit)
                    else:
                        self.assertTrue(re.search(r"(?m)^#?%s=" % name, text),
                                        "no %s= line in homestream.env or %s.env" % (name, stage))

    def test_defaults_in_env_files_match_the_daemons(self):
        """A commented NAME=value in the systemd files claims the default."""
        for stage in STAGES:
            out = subprocess.run([BINARIES[stage], "--config-markdown"], capture_output=True,
                                 text=True, timeout=30).stdout
            defaults = dict(re.findall(r"^\|\s*`([A-Z0-9_]+)`\s*\|[^|]*\|\s*`([^`]*)`", out, re.M))
            text = read("deploy", "systemd", "homestream.env") + \
                read("deploy", "systemd", stage + ".env")
            for name, value in re.findall(r"(?m)^#([A-Z][A-Z0-9_]*)=(.+)$", text):
                if name in defaults:
                    with self.subTest(stage=stage, variable=name):
                        self.assertEqual(value, defaults[name])

    def test_check_config_accepts_the_compose_environment(self):
        """Each stage's compose environment, secrets as empty-or-dummy files,
        passes the daemon's own --check-config."""
        with tempfile.TemporaryDirectory() as tmp:
            for stage in STAGES:
                env = {"PATH": os.environ.get("PATH", "")}
                for k, v in self.compose[stage]["environment"].items():
                    v = "" if v is None else str(v)
                    if v.startswith("/run/secrets/"):
                        path = os.path.join(tmp, os.path.basename(v))
                        with open(path, "w") as f:
                            f.write("" if "weather" in v else "dummy-secret-1234\n")
                        v = path
                    env[k] = v
                with self.subTest(stage=stage):
                    out = subprocess.run([BINARIES[stage], "--check-config"], env=env,
                                         capture_output=True, text=True, timeout=30)
                    self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                    self.assertNotIn("dummy-secret-1234", out.stdout + out.stderr)


class Systemd(unittest.TestCase):
    def test_units_verify(self):
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            self.fail("systemd-analyze not found (package systemd)")
        with tempfile.TemporaryDirectory() as tmp:
            for stage in STAGES:
                text = read("deploy", "systemd", "homestream-%s.service" % stage)
                text = text.replace("/usr/local/bin/homestream-" + stage, "/bin/true")
                text = text.replace("/etc/homestream/", tmp + "/")
                with open(os.path.join(tmp, "homestream-%s.service" % stage), "w") as f:
                    f.write(text)
                open(os.path.join(tmp, stage + ".env"), "w").close()
            open(os.path.join(tmp, "homestream.env"), "w").close()
            units = [os.path.join(tmp, "homestream-%s.service" % s) for s in STAGES]
            out = subprocess.run([analyze, "verify", *units], capture_output=True, text=True,
                                 timeout=60)
            # verify exits 0 on unknown keys too: any message is a finding.
            complaints = [l for l in (out.stdout + out.stderr).splitlines()
                          if "homestream-" in l]
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(complaints, [])

    def test_units_are_hardened(self):
        for stage in STAGES:
            unit = read("deploy", "systemd", "homestream-%s.service" % stage)
            with self.subTest(stage):
                for line in ("Restart=on-failure", "DynamicUser=yes", "NoNewPrivileges=yes",
                             "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
                             "EnvironmentFile=/etc/homestream/homestream.env",
                             "EnvironmentFile=/etc/homestream/%s.env" % stage,
                             "ExecStart=/usr/local/bin/homestream-%s\n" % stage,
                             "CapabilityBoundingSet=\n"):
                    self.assertIn(line, unit)
        unit = read("deploy", "systemd", "homestream-ingestor.service")
        self.assertIn("StateDirectory=homestream/ingestor\n", unit)
        if "ingestor" in BINARIES:
            # The StateDirectory must be the daemon's default SPOOL_DIR.
            out = subprocess.run([BINARIES["ingestor"], "--config-markdown"],
                                 capture_output=True, text=True).stdout
            self.assertRegex(out, r"`SPOOL_DIR`[^\n]*`/var/lib/homestream/ingestor`")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ContainerScripts(unittest.TestCase):
    def test_scripts_parse_and_are_executable(self):
        for shell, path in (("sh", "deploy/docker/entrypoint.sh"),
                            ("sh", "deploy/docker/healthcheck.sh"),
                            ("bash", "deploy/kafka/create-topics.sh"),
                            ("bash", "deploy/influxdb/init/10-homestream-dbrp.sh")):
            with self.subTest(path):
                full = os.path.join(ROOT, path)
                self.assertTrue(os.access(full, os.X_OK), "not executable")
                out = subprocess.run([shell, "-n", full], capture_output=True, text=True)
                self.assertEqual(out.returncode, 0, out.stderr)

    def run_entrypoint(self, args, env_extra):
        with tempfile.TemporaryDirectory() as bindir:
            for stage in ADMIN_PORTS:
                fake = os.path.join(bindir, "homestream-" + stage)
                with open(fake, "w") as f:
                    f.write('#!/bin/sh\necho "%s ${ADMIN_ADDR-unset} $*"\n' % stage)
                os.chmod(fake, 0o755)
            env = {"PATH": os.environ.get("PATH", ""), "HOMESTREAM_BIN_DIR": bindir}
            env.update(env_extra)
            return subprocess.run(["sh", os.path.join(DEPLOY, "docker", "entrypoint.sh"), *args],
                                  capture_output=True, text=True, env=env)

    def test_entrypoint_picks_stage_and_admin_addr(self):
        cases = [
            (["enricher", "--version"], {}, "enricher 0.0.0.0:8082 --version"),
            (["homestream-writer"], {}, "writer 0.0.0.0:8083 "),
            (["ingestor"], {"ADMIN_ADDR": "127.0.0.1:9000"}, "ingestor 127.0.0.1:9000 "),
            (["ingestor"], {"ADMIN_ADDR": ""}, "ingestor  "),
            (["echo", "other"], {}, "other"),
        ]
        for args, env, expected in cases:
            with self.subTest(args=args, env=env):
                out = self.run_entrypoint(args, env)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertEqual(out.stdout.rstrip("\n"), expected)
        out = self.run_entrypoint([], {})
        self.assertEqual(out.returncode, 0)
        self.assertIn("usage:", out.stdout)

    def test_healthcheck_follows_health_status(self):
        if shutil.which("curl") is None:
            self.fail("curl not found")
        state = {"code": 200}

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                code = state["code"] if self.path == "/health" else 404
                self.send_response(code)
                self.end_headers()
                self.wfile.write(b'{"status":"x"}')

            def log_message(self, *a):
                pass

        server = HTTPServer(("127.0.0.1", 0), Handler)
        port = server.server_address[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            script = os.path.join(DEPLOY, "docker", "healthcheck.sh")
            env = {"PATH": os.environ.get("PATH", "")}
            for addr, code, ok in (("0.0.0.0:%d" % port, 200, True),
                                   ("127.0.0.1:%d" % port, 200, True),
                                   ("0.0.0.0:%d" % port, 503, False),
                                   ("0.0.0.0:%d" % free_port(), 200, False)):
                with self.subTest(addr=addr, code=code):
                    state["code"] = code
                    out = subprocess.run(["sh", script], env=dict(env, ADMIN_ADDR=addr),
                                         capture_output=True, text=True, timeout=30)
                    self.assertEqual(out.returncode == 0, ok, out.stderr)
        finally:
            server.shutdown()
            server.server_close()


def owning_package(path):
    """The Debian package owning a library file (merged /usr aware), or None."""
    real = os.path.realpath(path)
    for candidate in (path, real, re.sub(r"^/usr/lib/", "/lib/", real)):
        out = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if out.returncode == 0:
            return out.stdout.split(":")[0]
    return None


class Dockerfile(unittest.TestCase):
    def setUp(self):
        self.text = read("Dockerfile")
        runtime = self.text.split("\nFROM ")[-1]
        m = re.search(r"apt-get install -y --no-install-recommends(.*?)&&", runtime, re.S)
        self.runtime_packages = set(m.group(1).replace("\\", " ").split())

    def test_layout(self):
        froms = re.findall(r"^FROM (\S+)", self.text, re.M)
        self.assertEqual(len(froms), 2, "multi-stage: build and runtime")
        self.assertIn("ARG DEBIAN_IMAGE=debian:12-slim", self.text)
        self.assertIn("USER homestream:homestream", self.text)
        self.assertIn("--buildtype=release", self.text)
        for stage in STAGES:
            self.assertIn("/out/usr/local/bin/homestream-" + stage, self.text)
        self.assertIn('HEALTHCHECK', self.text)
        self.assertIn("curl", self.runtime_packages)
        ignore = read(".dockerignore")
        for entry in (".git", "**/build*/", "deploy/secrets/", "deploy/.env"):
            self.assertIn(entry + "\n", ignore)

    def test_runtime_packages_cover_linked_libraries(self):
        """Every shared library a stage links comes from a package the runtime
        stage installs, or from one they pull in, or from the base image."""
        missing = [s for s in STAGES if s not in BINARIES]
        if missing:
            self.fail("stage binaries not given: %s" % ", ".join(missing))
        provided = set()
        todo = list(self.runtime_packages | {"libc6"})
        while todo:
            pkg = todo.pop()
            if pkg in provided:
                continue
            provided.add(pkg)
            out = subprocess.run(["dpkg-query", "-W", "-f=${Depends},${Pre-Depends}", pkg],
                                 capture_output=True, text=True)
            for dep in re.split(r"[,|]", out.stdout):
                name = dep.strip().split(" ")[0].split(":")[0]
                if name:
                    todo.append(name)
        for stage in STAGES:
            needed = re.findall(r"\(NEEDED\).*\[(.+)\]",
                                subprocess.run(["readelf", "-d", BINARIES[stage]],
                                               capture_output=True, text=True).stdout)
            self.assertTrue(needed)
            ldd = subprocess.run(["ldd", BINARIES[stage]], capture_output=True, text=True).stdout
            for lib in needed:
                with self.subTest(stage=stage, lib=lib):
                    m = re.search(r"^\s*%s => (\S+)" % re.escape(lib), ldd, re.M)
                    self.assertIsNotNone(m, "ldd does not resolve " + lib)
                    pkg = owning_package(m.group(1))
                    self.assertIsNotNone(pkg, "no package owns " + m.group(1))
                    self.assertIn(pkg, provided, "%s comes from %s" % (lib, pkg))


def main():
    args = []
    for arg in sys.argv[1:]:
        base = os.path.basename(arg)
        if base.startswith("homestream-") and base[len("homestream-"):] in STAGES:
            BINARIES[base[len("homestream-"):]] = os.path.abspath(arg)
        else:
            args.append(arg)
    unittest.main(argv=[sys.argv[0]] + args, verbosity=2)


if __name__ == "__main__":
    main()
