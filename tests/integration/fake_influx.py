#!/usr/bin/env python3
"""fake_influx.py - a scripted stand-in for InfluxDB's write endpoints.

Answers POST /write (v1) and POST /api/v2/write (v2/v3) from a script, so the
writer's fault handling can be tested without breaking a real influxd:

    python3 fake_influx.py [--port 0]     prints "PORT=<n>" once listening

Control routes (JSON):
    POST /_script    {"steps":[...], "reject":"<substring>", "max_body":<bytes>}
                     replaces the script. Each step answers one write request:
                       {"status":503, "retry_after":"1", "body":"...", "delay":0.5,
                        "count":2}
                     (count repeats the step; delay sleeps before answering; a
                     step with status 2xx stores the points like a success).
                     Once the steps are used up, writes succeed, except that:
                       - a body larger than max_body gets 413, as InfluxDB's
                         http max-body-size does;
                       - lines containing `reject` are refused the way
                         InfluxDB 1.x does a partial write: the other lines are
                         stored and the answer is 400
                         {"error":"partial write: unable to parse '<line>':
                         invalid field format dropped=<n>"}.
    GET /_points     {"lines":[...]} every line stored, in arrival order
    GET /_requests   [{"path","status","lines","bytes","gzip","auth"}...]
    POST /_reset     forgets points and requests, clears the script
    GET /ping        204, as InfluxDB

Gzip bodies (Content-Encoding: gzip) are decompressed first. Stdlib only.
"""
import argparse
import gzip
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.steps = []
        self.reject = None
        self.max_body = None
        self.points = []
        self.requests = []

    def next_step(self):
        with self.lock:
            while self.steps:
                step = self.steps[0]
                if step.get("count", 1) <= 0:
                    self.steps.pop(0)
                    continue
                step["count"] = step.get("count", 1) - 1
                return dict(step)
            return None


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, status, body=b"", headers=None, ctype="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if status >= 200 and status < 300 and status != 204:
            self.send_header("X-Influxdb-Version", "fake")
        self.end_headers()
        if body:
            self.wfile.write(body)

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path == "/ping":
            self._send(204)
        elif self.path == "/_points":
            with STATE.lock:
                self._send(200, {"lines": list(STATE.points)})
        elif self.path == "/_requests":
            with STATE.lock:
                self._send(200, list(STATE.requests))
        else:
            self._send(404, {"error": "not found"})

    def do_POST(self):
        raw = self._body()
        path = self.path.split("?", 1)[0]
        if path == "/_script":
            doc = json.loads(raw or b"{}")
            with STATE.lock:
                STATE.steps = list(doc.get("steps", []))
                STATE.reject = doc.get("reject")
                STATE.max_body = doc.get("max_body")
            self._send(200, {"ok": True})
            return
        if path == "/_reset":
            with STATE.lock:
                STATE.reset()
            self._send(200, {"ok": True})
            return
        if path not in ("/write", "/api/v2/write"):
            self._send(404, {"error": "not found"})
            return
        zipped = (self.headers.get("Content-Encoding") or "").lower() == "gzip"
        text = gzip.decompress(raw) if zipped else raw
        lines = [l for l in text.decode("utf-8", "replace").split("\n") if l]
        status, body, headers = self._answer(lines, len(raw))
        with STATE.lock:
            STATE.requests.append({"path": self.path, "status": status, "lines": len(lines),
                                   "bytes": len(raw), "gzip": zipped,
                                   "auth": self.headers.get("Authorization")})
        self._send(status, body, headers)

    def _answer(self, lines, nbytes):
        step = STATE.next_step()
        if step is not None:
            if step.get("delay"):
                time.sleep(step["delay"])
            status = step.get("status", 204)
            headers = {}
            if step.get("retry_after") is not None:
                headers["Retry-After"] = str(step["retry_after"])
            if 200 <= status < 300:
                with STATE.lock:
                    STATE.points.extend(lines)
            return status, step.get("body", ""), headers
        with STATE.lock:
            max_body, reject = STATE.max_body, STATE.reject
        if max_body is not None and nbytes > max_body:
            return 413, {"error": "Request Entity Too Large"}, {}
        bad = [l for l in lines if reject and reject in l]
        good = [l for l in lines if not (reject and reject in l)]
        with STATE.lock:
            STATE.points.extend(good)
        if bad:
            return 400, {"error": "partial write: unable to parse '%s': invalid field format "
                                  "dropped=%d" % (bad[0], len(bad))}, {}
        return 204, b"", {}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print("PORT=%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
