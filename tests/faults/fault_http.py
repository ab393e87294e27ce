#!/usr/bin/env python3
"""fault_http.py - a weather and presence API that fails or stalls on command.

Two listeners on 127.0.0.1, so that the API can be truly down (connection
refused) while the control port stays up:

  API port (printed as "API_PORT=<n>"):
    GET /data/2.5/weather   an OpenWeatherMap current-weather answer
    GET /presence           {"people":[{"name","home"}...]}
  control port (printed as "CONTROL_PORT=<n>", after API_PORT):
    POST /mode  {"weather": MODE, "presence": MODE, "delay_s": S, "down": BOOL}
                any field may be left out; answers the whole state
    GET  /stats {"requests": {"weather": n, "presence": n},
                 "faulted": {"weather": n, "presence": n}, ...state}

MODE is "ok", "error" (HTTP 503 with a JSON body), "slow" (waits delay_s,
default 30, before answering ok; a client with a shorter timeout gives up),
or "reset" (closes the connection without any answer). "down": true closes
the API listener (connections are refused); false listens again on the same
port. Stdlib only; runs until SIGTERM or SIGINT.
"""
import argparse
import json
import signal
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODES = ("ok", "error", "slow", "reset")
LOCK = threading.Lock()
STATE = {"weather": "ok", "presence": "ok", "delay_s": 30.0, "down": False}
COUNTS = {"requests": {"weather": 0, "presence": 0}, "faulted": {"weather": 0, "presence": 0}}


def weather_body():
    now = int(time.time())
    return {"coord": {"lon": 13.4, "lat": 52.5},
            "weather": [{"id": 500, "main": "Rain", "description": "light rain", "icon": "10d"}],
            "main": {"temp": 7.5, "feels_like": 5.1, "pressure": 1009, "humidity": 88},
            "wind": {"speed": 3.6, "deg": 200}, "dt": now, "name": "Faults", "cod": 200}


class Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send_json(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Api(Quiet):
    def do_GET(self):
        path = self.path.split("?", 1)[0]
        kind = {"/data/2.5/weather": "weather", "/presence": "presence"}.get(path)
        if kind is None:
            self.send_json(404, {"error": "not found"})
            return
        with LOCK:
            COUNTS["requests"][kind] += 1
            mode, delay = STATE[kind], STATE["delay_s"]
            if mode != "ok":
                COUNTS["faulted"][kind] += 1
        if mode == "reset":
            self.close_connection = True
            linger = struct.pack("ii", 1, 0)  # close with a RST
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            return
        if mode == "error":
            self.send_json(503, {"cod": 503, "message": "fault_http: failing on command"})
            return
        if mode == "slow":
            time.sleep(delay)
        if kind == "weather":
            self.send_json(200, weather_body())
        else:
            self.send_json(200, {"people": [{"name": "Faultine", "home": True}]})


class Control(Quiet):
    def __init__(self, *args, api=None, **kw):
        self.api = api
        super().__init__(*args, **kw)

    def answer(self):
        with LOCK:
            doc = dict(STATE)
            doc.update(json.loads(json.dumps(COUNTS)))
        self.send_json(200, doc)

    def do_GET(self):
        if self.path != "/stats":
            self.send_json(404, {"error": "not found"})
            return
        self.answer()

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            body = None
        if self.path != "/mode" or not isinstance(body, dict):
            self.send_json(400 if self.path == "/mode" else 404, {"error": "bad request"})
            return
        for kind in ("weather", "presence"):
            if kind in body and body[kind] not in MODES:
                self.send_json(400, {"error": "%s mode must be one of %s" % (kind, MODES)})
                return
        with LOCK:
            for k in ("weather", "presence"):
                STATE[k] = body.get(k, STATE[k])
            STATE["delay_s"] = float(body.get("delay_s", STATE["delay_s"]))
        if "down" in body:
            self.api.set_down(bool(body["down"]))
        self.answer()


class ApiServer:
    """The API listener, which can be closed and reopened on the same port."""

    def __init__(self, port):
        self.port = port
        self.srv = None
        self.thread = None
        self.open()

    def open(self):
        self.srv = ThreadingHTTPServer(("127.0.0.1", self.port), Api)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.srv = None

    def set_down(self, down):
        with LOCK:
            if down == STATE["down"]:
                return
            STATE["down"] = down
        if down:
            self.close()
        else:
            self.open()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="API port (0 picks one)")
    ap.add_argument("--control-port", type=int, default=0, help="control port (0 picks one)")
    args = ap.parse_args()
    api = ApiServer(args.port)
    ctl = ThreadingHTTPServer(("127.0.0.1", args.control_port),
                              lambda *a, **kw: Control(*a, api=api, **kw))
    ctl.daemon_threads = True
    print("API_PORT=%d" % api.port, flush=True)
    print("CONTROL_PORT=%d" % ctl.server_address[1], flush=True)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=ctl.shutdown).start())
    try:
        ctl.serve_forever()
    except KeyboardInterrupt:
        pass
    ctl.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
