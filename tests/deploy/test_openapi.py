#!/usr/bin/env python3
"""test_openapi.py - docs/admin-api.yaml describes what the stages really serve.

The document must be OpenAPI 3.1 shaped. Then a small real pipeline
(tests/integration/harness.py: devbroker, influxd, hasim, the three stages,
with ADMIN_TOKEN set) answers, on every stage, every documented route and
method: without a token (401 everywhere but /health), with a bearer token and
with X-API-Key. Each status must be one the operation documents and each
JSON body must validate (Draft 2020-12) against the documented response
schema, #/components references resolved. Undocumented methods on a
documented path must be 405 and undocumented paths 404, as documented.
Needs HS_BUILD_DIR (the meson test sets it), python3-yaml and
python3-jsonschema.
"""
import json
import os
import re
import sys
import time
import unittest

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402

SPEC_PATH = os.path.join(ROOT, "docs", "admin-api.yaml")
DOC_URI = "urn:homestream:admin-api"
TOKEN = "h14-admin-token-0123456789"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Paths no stage may serve (each must be 404 with a token, 401 without).
UNDOCUMENTED_PATHS = ("/", "/stats/x", "/health/", "/healthz", "/metrics/x", "/events",
                      "/events/recent/x", "/config/x", "/admin", "/STATS")


def load_spec():
    with open(SPEC_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


def resolve(spec, obj):
    """Follows one local $ref (#/a/b) chain; returns the object referred to."""
    seen = 0
    while isinstance(obj, dict) and "$ref" in obj:
        ref = obj["$ref"]
        if not ref.startswith("#/"):
            raise AssertionError("only local references are allowed: %s" % ref)
        node = spec
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        obj = node
        seen += 1
        if seen > 20:
            raise AssertionError("reference loop at %s" % ref)
    return obj


def validator(spec, schema):
    """A Draft 2020-12 validator (with format checks) for schema, whose
    #/components/... references resolve inside the whole document."""
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
    except ImportError:  # jsonschema < 4.18
        resolver = jsonschema.RefResolver(DOC_URI, spec)
        return jsonschema.Draft202012Validator(_rebase(schema), resolver=resolver,
                                               format_checker=checker)
    registry = Registry().with_resource(DOC_URI, Resource(contents=spec,
                                                          specification=DRAFT202012))
    return jsonschema.Draft202012Validator(_rebase(schema), registry=registry,
                                           format_checker=checker)


def _rebase(schema):
    """Rewrites local refs "#/x" in schema to DOC_URI + "#/x"
    so they resolve in the document, wherever schema sits."""
    if isinstance(schema, dict):
        out = {}
        for k, v in schema.items():
            if k == "$ref" and isinstance(v, str) and v.startswith("#/"):
                out[k] = DOC_URI + v
            else:
                out[k] = _rebase(v)
        return out
    if isinstance(schema, list):
        return [_rebase(v) for v in schema]
    return schema


class SpecShape(unittest.TestCase):
    """The document is OpenAPI 3.1 shaped and says what DESIGN.md section 4 says."""

    def setUp(self):
        self.spec = load_spec()

    def test_top_level(self):
        s = self.spec
        self.assertRegex(s["openapi"], r"^3\.1\.\d+$")
        self.assertTrue(s["info"]["title"])
        self.assertIsInstance(s["info"]["version"], str)
        self.assertEqual(sorted(s["paths"]), ["/config", "/events/recent", "/health",
                                              "/metrics", "/stats"])
        for key in s:
            self.assertIn(key, ("openapi", "info", "jsonSchemaDialect", "servers", "paths",
                                "webhooks", "components", "security", "tags", "externalDocs"))

    def test_operations(self):
        s = self.spec
        ops = {(p, m) for p, item in s["paths"].items() for m in item if m in METHODS}
        self.assertEqual(ops, {("/health", "get"), ("/stats", "get"), ("/metrics", "get"),
                               ("/events/recent", "get"), ("/config", "get"),
                               ("/config", "put")})
        ids = []
        for (path, method) in ops:
            op = s["paths"][path][method]
            ids.append(op["operationId"])
            self.assertTrue(op["responses"], (path, method))
            for code, resp in op["responses"].items():
                self.assertRegex(str(code), r"^[1-5]\d\d$")
                resp = resolve(s, resp)
                self.assertTrue(resp.get("description"), (path, method, code))
                for media, content in resp.get("content", {}).items():
                    self.assertIn("schema", content, (path, method, code, media))
                    jsonschema.Draft202012Validator.check_schema(content["schema"])
        self.assertEqual(len(ids), len(set(ids)), "operationIds are unique")

    def test_security(self):
        s = self.spec
        schemes = s["components"]["securitySchemes"]
        self.assertEqual(schemes["bearer"], {**schemes["bearer"], "type": "http",
                                             "scheme": "bearer"})
        self.assertEqual((schemes["apiKey"]["type"], schemes["apiKey"]["in"],
                          schemes["apiKey"]["name"]), ("apiKey", "header", "X-API-Key"))
        self.assertEqual(s["security"], [{"bearer": []}, {"apiKey": []}])
        self.assertEqual(s["paths"]["/health"]["get"]["security"], [])
        for path, item in s["paths"].items():
            for m, op in item.items():
                if m in METHODS and path != "/health":
                    self.assertNotIn("security", op, "only /health overrides security")
                    self.assertIn("401", op["responses"], (path, m))

    def test_every_local_ref_resolves_and_schemas_are_valid(self):
        refs = []

        def walk(o):
            if isinstance(o, dict):
                if isinstance(o.get("$ref"), str):
                    refs.append(o["$ref"])
                for v in o.values():
                    walk(v)
            elif isinstance(o, list):
                for v in o:
                    walk(v)
        walk(self.spec)
        self.assertTrue(refs)
        for ref in refs:
            resolve(self.spec, {"$ref": ref})
        for name, schema in self.spec["components"]["schemas"].items():
            with self.subTest(schema=name):
                jsonschema.Draft202012Validator.check_schema(schema)

    def test_validation_rejects_what_it_should(self):
        """The schemas are strict enough to catch a wrong answer."""
        s = self.spec
        err = validator(s, {"$ref": "#/components/schemas/Error"})
        err.validate({"detail": {"code": "NOT_FOUND", "message": "no such route"}})
        self.assertFalse(err.is_valid({"detail": {"code": "NOT_FOUND"}}))
        self.assertFalse(err.is_valid({"error": "x"}))
        h = s["paths"]["/health"]["get"]["responses"]
        ok = validator(s, h["200"]["content"]["application/json"]["schema"])
        good = {"status": "ok", "stage": "writer",
                "dependencies": {"influxdb": {"state": "ok", "breaker": {
                    "name": "influxdb", "state": "closed"}}}}
        ok.validate(good)
        self.assertFalse(ok.is_valid(dict(good, status="unhealthy")))
        self.assertFalse(ok.is_valid(dict(good, stage="mixer")))
        bad_breaker = json.loads(json.dumps(good))
        bad_breaker["dependencies"]["influxdb"]["breaker"]["state"] = "ajar"
        self.assertFalse(ok.is_valid(bad_breaker))
        un = validator(s, h["503"]["content"]["application/json"]["schema"])
        self.assertTrue(un.is_valid(dict(good, status="unhealthy")))
        self.assertFalse(un.is_valid(good))
        stats = validator(s, {"$ref": "#/components/schemas/Stats"})
        self.assertFalse(stats.is_valid({"stage": "writer"}))
        cfg = validator(s, {"$ref": "#/components/schemas/Config"})
        base = {k: "x" for k in s["components"]["schemas"]["Config"]["required"]}
        base.update(LOG_LEVEL="info", LOG_FORMAT="json", ADMIN_TOKEN="****1234")
        cfg.validate(base)
        self.assertFalse(cfg.is_valid(dict(base, ADMIN_TOKEN="secret-token-1234")))


class LiveStages(unittest.TestCase):
    """Every stage of a real pipeline answers as documented."""

    @classmethod
    def setUpClass(cls):
        cls.spec = load_spec()
        cls.pipe = harness.Pipeline("openapi", events=200, admin_token=TOKEN)
        try:
            cls.pipe.start()
            cls.pipe.hasim.wait_done(60)
            # Wait until each stage handled events, so /events/recent has items.
            for name, st in cls.pipe.stages.items():
                harness.wait_until(lambda st=st: st.json("/stats")["events_in_total"] > 0,
                                   60, "%s to handle events" % name)
        except Exception:
            print(cls.pipe.report(), file=sys.stderr)
            cls.pipe.stop()
            cls.pipe.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        codes = cls.pipe.stop()
        failed = {n: c for n, c in codes.items() if c != 0}
        if failed:
            print(cls.pipe.report(), file=sys.stderr)
        cls.pipe.cleanup()
        if failed:
            raise AssertionError("stages did not exit cleanly: %s" % failed)

    # -- helpers

    def call(self, stage, method, path, auth="bearer", body=None, headers=None):
        h = dict(headers or {})
        if auth == "bearer":
            h["Authorization"] = "Bearer " + TOKEN
        elif auth == "apikey":
            h["X-API-Key"] = TOKEN
        elif auth == "wrong":
            h["Authorization"] = "Bearer " + TOKEN + "x"
        if body is not None and "Content-Type" not in h:
            h["Content-Type"] = "application/json"
        return harness.http(method.upper(), stage.admin + path, body=body, headers=h)

    def check(self, stage, path, method, status, headers, body, what):
        """Asserts status is documented for (path, method) and the answer
        matches its content type, schema and documented headers."""
        op = self.spec["paths"][path][method]
        responses = op["responses"]
        self.assertIn(str(status), responses,
                      "%s %s %s %s: undocumented status %s: %r"
                      % (stage.name, method.upper(), path, what, status, body[:300]))
        resp = resolve(self.spec, responses[str(status)])
        self.check_response(stage, resp, headers, body,
                            "%s %s %s %s -> %s" % (stage.name, method.upper(), path, what, status))
        return resp

    def check_response(self, stage, resp, headers, body, label):
        hdrs = {k.lower(): v for k, v in headers.items()}
        for name, hdef in resp.get("headers", {}).items():
            if hdef.get("required"):
                self.assertIn(name.lower(), hdrs, label + ": header " + name)
            if name.lower() in hdrs and "schema" in hdef:
                validator(self.spec, hdef["schema"]).validate(hdrs[name.lower()])
        content = resp.get("content", {})
        if not content:
            self.assertEqual(body, b"", label)
            return None
        ctype = hdrs.get("content-type", "").split(";")[0].strip()
        self.assertIn(ctype, content, "%s: content type %r" % (label, ctype))
        schema = content[ctype]["schema"]
        if ctype == "application/json":
            doc = json.loads(body)
        else:
            doc = body.decode("utf-8")
        errors = sorted(validator(self.spec, schema).iter_errors(doc), key=str)
        self.assertEqual([], ["%s at %s" % (e.message, list(e.absolute_path)) for e in errors],
                         label)
        return doc

    def stages(self):
        return sorted(self.pipe.stages.items())

    # -- tests

    def test_documented_gets(self):
        for name, st in self.stages():
            for path, item in self.spec["paths"].items():
                if "get" not in item:
                    continue
                for auth in ("bearer", "apikey"):
                    with self.subTest(stage=name, path=path, auth=auth):
                        status, hdrs, body = self.call(st, "get", path, auth)
                        self.assertEqual(status, 200, body[:300])
                        self.check(st, path, "get", status, hdrs, body, auth)

    def test_health_content(self):
        for name, st in self.stages():
            status, hdrs, body = self.call(st, "get", "/health", auth=None)
            doc = json.loads(body)
            self.assertEqual(doc["stage"], name)
            self.check(st, "/health", "get", status, hdrs, body, "no token")

    def test_stats_and_metrics_agree(self):
        for name, st in self.stages():
            stats = json.loads(self.call(st, "get", "/stats")[2])
            self.assertEqual(stats["stage"], name)
            metrics = self.call(st, "get", "/metrics")[2].decode()
            self.assertRegex(metrics, r"(?m)^homestream_%s_events_in_total \d+$" % name)
            for b in stats["breakers"]:
                self.assertIn('homestream_%s_breaker_state{breaker="%s"}' % (name, b), metrics)

    def test_without_token_every_route_but_health_is_401(self):
        for name, st in self.stages():
            for path, item in self.spec["paths"].items():
                for method in (m for m in item if m in METHODS):
                    for auth in (None, "wrong"):
                        with self.subTest(stage=name, path=path, method=method, auth=auth):
                            body = {"LOG_LEVEL": "info"} if method == "put" else None
                            status, hdrs, raw = self.call(st, method, path, auth, body)
                            if path == "/health":
                                self.assertEqual(status, 200, raw[:300])
                            else:
                                self.assertEqual(status, 401, raw[:300])
                            self.check(st, path, method, status, hdrs, raw, str(auth))

    def test_recent_events(self):
        op = "/events/recent"
        for name, st in self.stages():
            with self.subTest(stage=name):
                status, hdrs, body = self.call(st, "get", op + "?limit=3")
                self.assertEqual(status, 200)
                self.check(st, op, "get", status, hdrs, body, "limit=3")
                events = json.loads(body)
                self.assertTrue(1 <= len(events) <= 3, len(events))
                status, hdrs, body = self.call(st, "get", op + "?limit=1000")
                self.check(st, op, "get", status, hdrs, body, "limit=1000")
                entities = [e["entity_id"] for e in json.loads(body)
                            if "." in (e.get("entity_id") or "")]
                self.assertTrue(entities, "%s handled no entity's event" % name)
                entity = entities[0]
                status, hdrs, body = self.call(st, "get", op + "?limit=1000&entity_id=" + entity)
                self.check(st, op, "get", status, hdrs, body, "entity_id")
                only = json.loads(body)
                self.assertTrue(only)
                self.assertEqual({e["entity_id"] for e in only}, {entity})
                status, hdrs, body = self.call(st, "get", op + "?limit=1")
                self.check(st, op, "get", status, hdrs, body, "limit=1")
                self.assertEqual(len(json.loads(body)), 1)
            for bad in ("0", "1001", "-1", "abc", "5x", "", "1e2"):
                with self.subTest(stage=name, limit=bad):
                    status, hdrs, body = self.call(st, "get", op + "?limit=" + bad)
                    self.assertEqual(status, 400, body[:300])
                    self.check(st, op, "get", status, hdrs, body, "limit=" + bad)
                    self.assertEqual(json.loads(body)["detail"]["code"], "BAD_REQUEST")

    def test_put_config(self):
        for name, st in self.stages():
            with self.subTest(stage=name, case="valid"):
                for level in ("debug", "info"):
                    status, hdrs, body = self.call(st, "put", "/config", "apikey",
                                                   {"LOG_LEVEL": level})
                    self.assertEqual(status, 200, body[:300])
                    doc = json.loads(body)
                    self.check(st, "/config", "put", status, hdrs, body, "valid")
                    self.assertEqual(doc["LOG_LEVEL"], level)
                self.assertTrue(json.loads(self.call(st, "get", "/config")[2])["ADMIN_TOKEN"]
                                .endswith(TOKEN[-4:]))
            cases = [
                ("unknown setting", {"NO_SUCH_SETTING": "1"}, 400, "VALIDATION_ERROR"),
                ("bad value", {"LOG_LEVEL": "loud"}, 400, "VALIDATION_ERROR"),
                ("array", b"[1,2]", 400, "BAD_REQUEST"),
                ("not json", b"{nope", 400, "BAD_REQUEST"),
                ("empty", b"", 400, "BAD_REQUEST"),
                ("too large", json.dumps({"LOG_LEVEL": "info",
                                          "X": "y" * (70 * 1024)}).encode(),
                 413, "PAYLOAD_TOO_LARGE"),
            ]
            for what, body, want, code in cases:
                with self.subTest(stage=name, case=what):
                    status, hdrs, raw = self.call(st, "put", "/config", "bearer", body)
                    self.assertEqual(status, want, raw[:300])
                    self.check(st, "/config", "put", status, hdrs, raw, what)
                    self.assertEqual(json.loads(raw)["detail"]["code"], code)
            self.assertEqual(json.loads(self.call(st, "get", "/config")[2])["LOG_LEVEL"],
                             "info", "a rejected PUT changes nothing")

    def test_undocumented_methods_are_405(self):
        for name, st in self.stages():
            for path, item in self.spec["paths"].items():
                documented = {m for m in item if m in METHODS}
                for method in ("put", "post", "delete", "patch"):
                    if method in documented:
                        continue
                    with self.subTest(stage=name, path=path, method=method):
                        status, hdrs, raw = self.call(st, method, path, "bearer",
                                                      b"{}" if method != "delete" else None)
                        self.assertEqual(status, 405, raw[:300])
                        resp = resolve(self.spec, {"$ref": "#/components/responses/"
                                                           "MethodNotAllowed"})
                        self.check_response(st, resp, hdrs, raw, "%s %s %s" % (name, method, path))
                        allow = {m.strip().lower() for m in
                                 {k.lower(): v for k, v in hdrs.items()}["allow"].split(",")}
                        self.assertEqual(allow - {"head"}, documented)

    def test_undocumented_paths_are_404(self):
        nf = resolve(self.spec, {"$ref": "#/components/responses/NotFound"})
        un = resolve(self.spec, {"$ref": "#/components/responses/Unauthorized"})
        for name, st in self.stages():
            for path in UNDOCUMENTED_PATHS:
                self.assertNotIn(path, self.spec["paths"])
                with self.subTest(stage=name, path=path):
                    status, hdrs, raw = self.call(st, "get", path, "bearer")
                    self.assertEqual(status, 404, "%s serves undocumented %s: %r"
                                     % (name, path, raw[:200]))
                    self.check_response(st, nf, hdrs, raw, name + " " + path)
                    status, hdrs, raw = self.call(st, "get", path, None)
                    self.assertEqual(status, 401, raw[:200])
                    self.check_response(st, un, hdrs, raw, name + " " + path + " no token")


if __name__ == "__main__":
    if not os.environ.get("HS_BUILD_DIR"):
        print("HS_BUILD_DIR is not set (run through meson test)", file=sys.stderr)
        sys.exit(1)
    unittest.main(verbosity=2)
