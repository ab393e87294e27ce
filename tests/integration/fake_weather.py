#!/usr/bin/env python3
"""fake_weather.py - a fake weather and presence HTTP server for enricher tests.

Serves on 127.0.0.1 (port from --port, 0 picks one; the chosen port is
printed as "PORT=<n>" on stdout, then flushed):

  GET /data/2.5/weather?lat&lon&appid&units   OpenWeatherMap's answer shape
  GET /v1/forecast?latitude&longitude&current Open-Meteo's answer shape
  GET /presence                               {"people":[...]} (see below)

Control (JSON bodies):
  POST /control {"mode": M, "temperature": T, "people": [...], "delay_s": S}
     mode: "ok" (default), "401", "429", "500", "garbage" (200 with a
     non-JSON body), "shape" (200 with JSON of the wrong shape), "slow"
     (sleeps delay_s before answering, default 30). Any field may be left out.
  GET /control/requests  {"weather": n, "presence": n, "last_query": {...}}

The OpenWeatherMap answer needs appid == "good-key" unless mode says
otherwise; another key gets OpenWeatherMap's own 401 answer.
"""
import argparse
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = {
    "mode": "ok",
    "temperature": 4.5,
    "people": [{"name": "Alice", "home": True}],
    "delay_s": 30,
    "requests": {"weather": 0, "presence": 0},
    "last_query": {},
}
LOCK = threading.Lock()


def owm_body(q, temp):
    now = int(time.time())
    return {
        "coord": {"lon": float(q.get("lon", ["0"])[0]), "lat": float(q.get("lat", ["0"])[0])},
        "weather": [{"id": 803, "main": "Clouds", "description": "broken clouds", "icon": "04d"}],
        "base": "stations",
        "main": {"temp": temp, "feels_like": temp - 2, "temp_min": temp - 1,
                 "temp_max": temp + 1, "pressure": 1012, "humidity": 81},
        "visibility": 10000,
        "wind": {"speed": 4.1, "deg": 240},
        "clouds": {"all": 75},
        "dt": now,
        "sys": {"type": 2, "id": 1, "country": "DE"},
        "timezone": 3600, "id": 2950159, "name": "Fake", "cod": 200,
    }


def open_meteo_body(q, temp):
    now = int(time.time())
    unix = q.get("timeformat", [""])[0] == "unixtime"
    return {
        "latitude": float(q.get("latitude", ["0"])[0]),
        "longitude": float(q.get("longitude", ["0"])[0]),
        "generationtime_ms": 0.05, "utc_offset_seconds": 0, "timezone": "GMT",
        "timezone_abbreviation": "GMT", "elevation": 38.0,
        "current_units": {"time": "unixtime" if unix else "iso8601", "interval": "seconds",
                          "temperature_2m": "°C", "relative_humidity_2m": "%",
                          "surface_pressure": "hPa", "weather_code": "wmo code",
                          "wind_speed_10m": "km/h", "is_day": ""},
        "current": {"time": now if unix else time.strftime("%Y-%m-%dT%H:%M", time.gmtime(now)),
                    "interval": 900, "temperature_2m": temp, "relative_humidity_2m": 77,
                    "surface_pressure": 1004.2, "weather_code": 3, "wind_speed_10m": 11.2,
                    "is_day": 1},
    }


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def send_json(self, status, obj):
        self.send_body(status, json.dumps(obj).encode(), "application/json")

    def send_body(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def faulted(self):
        """Answers according to the fault mode; returns True when it did."""
        with LOCK:
            mode, delay = STATE["mode"], STATE["delay_s"]
        if mode == "slow":
            time.sleep(delay)
            return False
        if mode == "401":
            self.send_json(401, {"cod": 401, "message": "Invalid API key."})
        elif mode == "429":
            self.send_json(429, {"cod": 429, "message": "Too many requests."})
        elif mode == "500":
            self.send_body(500, b"Internal Server Error", "text/plain")
        elif mode == "garbage":
            self.send_body(200, b"<html>\x00\xff garbage", "text/html")
        elif mode == "shape":
            self.send_json(200, {"unexpected": [1, 2, 3]})
        else:
            return False
        return True

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(url.query)
        if url.path == "/control/requests":
            with LOCK:
                self.send_json(200, {"weather": STATE["requests"]["weather"],
                                     "presence": STATE["requests"]["presence"],
                                     "last_query": STATE["last_query"]})
            return
        if url.path in ("/data/2.5/weather", "/v1/forecast"):
            with LOCK:
                STATE["requests"]["weather"] += 1
                STATE["last_query"] = {k: v[0] for k, v in q.items()}
                temp = STATE["temperature"]
            if self.faulted():
                return
            if url.path == "/data/2.5/weather":
                if q.get("appid", [""])[0] != "good-key":
                    self.send_json(401, {"cod": 401, "message": "Invalid API key. Please see "
                                         "https://openweathermap.org/faq#error401 for more info."})
                    return
                self.send_json(200, owm_body(q, temp))
            else:
                self.send_json(200, open_meteo_body(q, temp))
            return
        if url.path == "/presence":
            with LOCK:
                STATE["requests"]["presence"] += 1
                people = STATE["people"]
            if self.faulted():
                return
            self.send_json(200, {"people": people})
            return
        self.send_json(404, {"error": "not found"})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            self.send_json(400, {"error": "body is not JSON"})
            return
        if url.path != "/control" or not isinstance(body, dict):
            self.send_json(404, {"error": "not found"})
            return
        with LOCK:
            for k in ("mode", "temperature", "people", "delay_s"):
                if k in body:
                    STATE[k] = body[k]
            out = {k: STATE[k] for k in ("mode", "temperature", "people", "delay_s")}
        self.send_json(200, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    srv.daemon_threads = True
    print("PORT=%d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
