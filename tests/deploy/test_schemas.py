#!/usr/bin/env python3
"""test_schemas.py - schemas/*.schema.json accept the messages DESIGN.md section 2
describes and reject the ones it rules out.

Table-driven: every case is (name, kind, message, expected validity). The bad
cases each break one rule of an otherwise good message, so a schema that
stops enforcing a rule fails exactly the case named after it."""

import copy
import json
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schemacheck  # noqa: E402

TS = "2026-11-21T22:48:38.123456+00:00"


def state(value, **attributes):
    return {"entity_id": "sensor.x", "state": value, "attributes": attributes,
            "last_changed": TS, "last_updated": TS, "context": {"id": "01JD"}}


RAW = {
    "schema": 1, "site": "home", "event_type": "state_changed", "origin": "LOCAL",
    "entity_id": "sensor.living_room_temperature", "domain": "sensor",
    "object_id": "living_room_temperature", "time_fired": TS,
    "new_state": state("21.5", unit_of_measurement="°C", device_class="temperature",
                       friendly_name="Living room"),
    "old_state": state("21.4"),
    "context": {"id": "01JD", "parent_id": None, "user_id": None},
    "area": "Living Room", "device": "Aqara TH",
    "ingested_at": "2026-11-21T22:48:38.200001+00:00", "backfill": False,
}

RAW_SERVICE = {
    "schema": 1, "site": "home", "event_type": "call_service", "origin": "LOCAL",
    "time_fired": "2026-11-21T22:48:38Z",
    "data": {"domain": "light", "service": "turn_on", "service_data": {}},
    "context": {"id": "01JE"}, "area": None, "device": None,
    "ingested_at": TS, "backfill": False,
}

WEATHER = {"temperature": 4.2, "humidity": 81, "pressure": 1013.2, "condition": "rain",
           "provider": "openweathermap", "observed_at": "2026-11-21T22:40:00+00:00",
           "age_s": 518, "stale": False, "wind_speed": 3.1,
           "units": {"temperature": "°C", "pressure": "hPa", "wind_speed": None}}

PRESENCE = {"anyone_home": True, "people_home": 1, "people": [
    {"entity_id": "person.alice", "name": "Alice", "state": "home", "home": True},
    {"entity_id": "person.bob", "name": "bob", "state": "work", "home": False}]}


def enriched(raw, **extra):
    msg = copy.deepcopy(raw)
    msg.update({"time_ns": 1795301318123456000, "value": 21.5, "unit": "°C",
                "device_class": "temperature", "weather": WEATHER, "presence": PRESENCE})
    msg.update(extra)
    return msg


OWN_WEATHER = {"schema": 1, "site": "home", "event_type": "weather", "entity_id": None,
               "time_fired": "2026-11-21T22:40:00.000000+00:00",
               "time_ns": 1795300800000000000, "weather": WEATHER}
OWN_PRESENCE = {"schema": 1, "site": "cabin", "event_type": "presence", "entity_id": None,
                "time_fired": TS, "time_ns": 1795301318123456000, "presence": PRESENCE}

DLQ = {"stage": "writer", "error": "partial write: field type conflict", "at": TS,
       "payload": json.dumps(RAW)}


def variant(base, path, value=None, delete=False):
    """A deep copy of base with the member at path (a tuple of keys) replaced,
    or removed when delete is set."""
    msg = copy.deepcopy(base)
    target = msg
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return msg


GOOD = [
    ("raw state_changed as in DESIGN.md", "raw", RAW),
    ("raw entity removed: new_state null", "raw", variant(RAW, ("new_state",), None)),
    ("raw entity added: old_state null", "raw", variant(RAW, ("old_state",), None)),
    ("raw area and device unknown", "raw",
     variant(variant(RAW, ("area",), None), ("device",), None)),
    ("raw backfilled copy", "raw", variant(RAW, ("backfill",), True)),
    ("raw origin, time_fired and context null", "raw",
     variant(variant(variant(RAW, ("origin",), None), ("time_fired",), None),
             ("context",), None)),
    ("raw timestamp with Z and nanoseconds", "raw",
     variant(RAW, ("new_state", "last_updated"), "2026-11-21T22:48:38.123456789Z")),
    ("raw unknown extra field is ignored", "raw", variant(RAW, ("future_field",), 7)),
    ("raw other event without entity", "raw", RAW_SERVICE),
    ("raw other event with entity lifted", "raw",
     {**RAW_SERVICE, "event_type": "automation_triggered",
      "data": {"entity_id": "automation.night", "name": "Night"},
      "entity_id": "automation.night", "domain": "automation", "object_id": "night"}),
    ("enriched state_changed", "enriched", enriched(RAW)),
    ("enriched without weather, non-numeric state", "enriched",
     enriched(RAW, weather=None, value=None, unit=None, device_class=None)),
    ("enriched stale weather with null readings", "enriched",
     enriched(RAW, weather={**WEATHER, "temperature": None, "humidity": None,
                            "pressure": None, "condition": None, "stale": True})),
    ("enriched nobody home", "enriched",
     enriched(RAW, presence={"anyone_home": False, "people_home": 0, "people": []})),
    ("enriched other event", "enriched", enriched(RAW_SERVICE, value=None, unit=None,
                                                  device_class=None)),
    ("enriched own weather record", "enriched", OWN_WEATHER),
    ("enriched own presence record", "enriched", OWN_PRESENCE),
    ("dlq with text payload", "dlq", DLQ),
    ("dlq with empty payload", "dlq", variant(DLQ, ("payload",), "")),
    ("dlq with base64 payload", "dlq",
     {"stage": "enricher", "error": "not UTF-8", "at": TS, "payload_base64": "/v8A"}),
]

BAD = [
    ("raw schema 2", "raw", variant(RAW, ("schema",), 2)),
    ("raw schema as text", "raw", variant(RAW, ("schema",), "1")),
    ("raw without site", "raw", variant(RAW, ("site",), delete=True)),
    ("raw empty site", "raw", variant(RAW, ("site",), "")),
    ("raw without event_type", "raw", variant(RAW, ("event_type",), delete=True)),
    ("raw without ingested_at", "raw", variant(RAW, ("ingested_at",), delete=True)),
    ("raw without backfill", "raw", variant(RAW, ("backfill",), delete=True)),
    ("raw backfill as text", "raw", variant(RAW, ("backfill",), "false")),
    ("raw area as number", "raw", variant(RAW, ("area",), 3)),
    ("raw without area", "raw", variant(RAW, ("area",), delete=True)),
    ("raw ingested_at not a timestamp", "raw", variant(RAW, ("ingested_at",), "yesterday")),
    ("raw time_fired without offset", "raw",
     variant(RAW, ("time_fired",), "2026-11-21T22:48:38.123456")),
    ("raw state_changed without new_state", "raw", variant(RAW, ("new_state",), delete=True)),
    ("raw state_changed without old_state", "raw", variant(RAW, ("old_state",), delete=True)),
    ("raw state_changed without entity_id", "raw", variant(RAW, ("entity_id",), delete=True)),
    ("raw state_changed without object_id", "raw", variant(RAW, ("object_id",), delete=True)),
    ("raw entity_id upper case", "raw", variant(RAW, ("entity_id",), "Sensor.X")),
    ("raw entity_id without domain", "raw", variant(RAW, ("entity_id",), "temperature")),
    ("raw entity_id with two dots", "raw", variant(RAW, ("entity_id",), "a.b.c")),
    ("raw new_state as text", "raw", variant(RAW, ("new_state",), "21.5")),
    ("raw new_state without attributes", "raw",
     variant(RAW, ("new_state", "attributes"), delete=True)),
    ("raw new_state without last_updated", "raw",
     variant(RAW, ("new_state", "last_updated"), delete=True)),
    ("raw new_state.state as number", "raw", variant(RAW, ("new_state", "state"), 21.5)),
    ("raw old_state.last_changed not a timestamp", "raw",
     variant(RAW, ("old_state", "last_changed"), "…")),
    ("raw state_changed with data", "raw", variant(RAW, ("data",), {})),
    ("raw other event without data", "raw", variant(RAW_SERVICE, ("data",), delete=True)),
    ("raw other event data as list", "raw", variant(RAW_SERVICE, ("data",), [])),
    ("raw other event entity_id without domain", "raw",
     variant(RAW_SERVICE, ("entity_id",), "light.kitchen")),
    ("raw message is a list", "raw", [RAW]),
    ("raw message is not JSON", "raw", "{\"schema\":1,"),
    ("raw message is not UTF-8", "raw", b"{\"site\":\"\xff\"}"),
    ("enriched without time_ns", "enriched", variant(enriched(RAW), ("time_ns",), delete=True)),
    ("enriched time_ns as text", "enriched", enriched(RAW, time_ns="1795301318123456000")),
    ("enriched time_ns fractional", "enriched", enriched(RAW, time_ns=1.5)),
    ("enriched without value", "enriched", variant(enriched(RAW), ("value",), delete=True)),
    ("enriched value as text", "enriched", enriched(RAW, value="21.5")),
    ("enriched value as boolean", "enriched", enriched(RAW, value=True)),
    ("enriched without unit", "enriched", variant(enriched(RAW), ("unit",), delete=True)),
    ("enriched without device_class", "enriched",
     variant(enriched(RAW), ("device_class",), delete=True)),
    ("enriched without weather", "enriched", variant(enriched(RAW), ("weather",), delete=True)),
    ("enriched weather without stale", "enriched",
     variant(enriched(RAW), ("weather", "stale"), delete=True)),
    ("enriched weather stale as text", "enriched",
     variant(enriched(RAW), ("weather", "stale"), "yes")),
    ("enriched weather negative age", "enriched",
     variant(enriched(RAW), ("weather", "age_s"), -1)),
    ("enriched weather unit as number", "enriched",
     variant(enriched(RAW), ("weather", "units", "temperature"), 1)),
    ("enriched weather without provider", "enriched",
     variant(enriched(RAW), ("weather", "provider"), delete=True)),
    ("enriched presence null", "enriched", enriched(RAW, presence=None)),
    ("enriched presence without people", "enriched",
     variant(enriched(RAW), ("presence", "people"), delete=True)),
    ("enriched presence negative count", "enriched",
     variant(enriched(RAW), ("presence", "people_home"), -1)),
    ("enriched presence anyone_home as number", "enriched",
     variant(enriched(RAW), ("presence", "anyone_home"), 1)),
    ("enriched person without home", "enriched",
     variant(enriched(RAW), ("presence", "people", 0, "home"), delete=True)),
    ("enriched raw part broken", "enriched", enriched(variant(RAW, ("schema",), 2))),
    ("enriched raw part without new_state", "enriched",
     variant(enriched(RAW), ("new_state",), delete=True)),
    ("own weather record without weather", "enriched",
     variant(OWN_WEATHER, ("weather",), delete=True)),
    ("own weather record with null weather", "enriched",
     variant(OWN_WEATHER, ("weather",), None)),
    ("own presence record without presence", "enriched",
     variant(OWN_PRESENCE, ("presence",), delete=True)),
    ("own record with an entity", "enriched",
     variant(OWN_PRESENCE, ("entity_id",), "sensor.x")),
    ("own record without time_ns", "enriched", variant(OWN_WEATHER, ("time_ns",), delete=True)),
    ("own record without time_fired", "enriched",
     variant(OWN_WEATHER, ("time_fired",), delete=True)),
    ("dlq without payload", "dlq", variant(DLQ, ("payload",), delete=True)),
    ("dlq with payload and payload_base64", "dlq", variant(DLQ, ("payload_base64",), "AA==")),
    ("dlq payload as object", "dlq", variant(DLQ, ("payload",), RAW)),
    ("dlq unknown stage", "dlq", variant(DLQ, ("stage",), "router")),
    ("dlq empty error", "dlq", variant(DLQ, ("error",), "")),
    ("dlq without at", "dlq", variant(DLQ, ("at",), delete=True)),
    ("dlq at not a timestamp", "dlq", variant(DLQ, ("at",), "now")),
    ("dlq base64 with bad characters", "dlq",
     {"stage": "writer", "error": "x", "at": TS, "payload_base64": "not base64!"}),
    ("dlq base64 with bad padding", "dlq",
     {"stage": "writer", "error": "x", "at": TS, "payload_base64": "AAA"}),
]


class SchemaCases(unittest.TestCase):
    def test_good_messages_validate(self):
        for name, kind, msg in GOOD:
            with self.subTest(name):
                self.assertEqual(schemacheck.errors(kind, msg), [])
                schemacheck.validate(kind, msg)

    def test_bad_messages_are_rejected(self):
        for name, kind, msg in BAD:
            with self.subTest(name):
                self.assertNotEqual(schemacheck.errors(kind, msg), [])
                with self.assertRaises(schemacheck.SchemaViolation) as cm:
                    schemacheck.validate(kind, msg)
                self.assertTrue(cm.exception.problems)

    def test_text_and_bytes_are_parsed(self):
        text = json.dumps(RAW, ensure_ascii=False)
        self.assertEqual(schemacheck.errors("raw", text), [])
        self.assertEqual(schemacheck.errors("raw", text.encode("utf-8")), [])

    def test_violation_names_the_field(self):
        problems = schemacheck.errors("raw", variant(RAW, ("backfill",), "false"))
        self.assertTrue(any(p.startswith("backfill:") for p in problems), problems)

    def test_unknown_kind_is_an_error(self):
        with self.assertRaises(ValueError):
            schemacheck.errors("weather", {})

    def test_enriched_is_a_superset_of_raw(self):
        """Every good enriched state_changed message, with the enricher's fields
        removed, must be a good raw message ("adds, without changing")."""
        added = ("time_ns", "value", "unit", "device_class", "weather", "presence")
        for name, kind, msg in GOOD:
            if kind == "enriched" and msg.get("event_type") not in ("weather", "presence"):
                with self.subTest(name):
                    raw = {k: v for k, v in msg.items() if k not in added}
                    self.assertEqual(schemacheck.errors("raw", raw), [])

    def test_command_line(self):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemacheck.py")
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
            f.write(json.dumps(DLQ) + "\n\n" + json.dumps(variant(DLQ, ("at",), "now")) + "\n")
            path = f.name
        try:
            ok = subprocess.run([sys.executable, script, "dlq"], input=json.dumps(DLQ) + "\n",
                                capture_output=True, text=True)
            self.assertEqual(ok.returncode, 0, ok.stdout + ok.stderr)
            bad = subprocess.run([sys.executable, script, "dlq", path],
                                 capture_output=True, text=True)
            self.assertEqual(bad.returncode, 1)
            self.assertIn("line 3:", bad.stdout)
            self.assertNotIn("line 1:", bad.stdout)
        finally:
            os.unlink(path)


if __name__ == "__main__":
    unittest.main(verbosity=2)
