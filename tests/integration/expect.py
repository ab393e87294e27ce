"""expect.py - what the writer's `ha` schema must put in InfluxDB for an event.

Written from HA's own InfluxDB integration rules (DESIGN.md section 3), not
from the writer's code, so the integration tests check one against the other.
"""
import datetime
import math
import re

# HA's helpers/state.py state_as_number, less "unknown": HA's integration never
# writes unknown states at all; homestream keeps them as a state string only,
# so an unknown temperature does not graph as 0.
BOOL_LIKE = {
    "on": 1.0, "locked": 1.0, "above_horizon": 1.0, "open": 1.0, "home": 1.0,
    "off": 0.0, "unlocked": 0.0, "below_horizon": 0.0, "closed": 0.0, "not_home": 0.0,
}
NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
OWN_MEASUREMENTS = {"weather", "presence", "homestream"}


def iso_to_ns(text):
    """HA's isoformat with microseconds and an offset -> ns since the epoch."""
    dt = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    delta = dt - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def is_number(text):
    return isinstance(text, str) and NUMBER.match(text) is not None and math.isfinite(float(text))


def point_key(ev):
    """(measurement, domain tag, entity_id tag, time ns) of an HA state_changed event,
    or None when the event carries no new state (entity removed)."""
    data = ev["data"]
    new = data.get("new_state")
    if new is None:
        return None
    entity_id = data["entity_id"]
    domain, object_id = entity_id.split(".", 1)
    unit = new.get("attributes", {}).get("unit_of_measurement")
    measurement = unit if isinstance(unit, str) and unit != "" else entity_id
    return (measurement, domain, object_id, iso_to_ns(new["last_updated"]))


def check_fields(ev, row):
    """Returns a list of differences between the event and the InfluxDB row."""
    problems = []
    new = ev["data"]["new_state"]
    state = new["state"]
    if is_number(state):
        if row.get("value") != float(state):
            problems.append("value %r != %r" % (row.get("value"), float(state)))
    else:
        if row.get("state") != state:
            problems.append("state %r != %r" % (row.get("state"), state))
        if state in BOOL_LIKE and row.get("value") != BOOL_LIKE[state]:
            problems.append("value %r != %r for %r" % (row.get("value"), BOOL_LIKE[state], state))
    for key, val in new.get("attributes", {}).items():
        if key in ("unit_of_measurement", "value", "state"):
            continue
        if isinstance(val, bool):
            continue
        if isinstance(val, (int, float)):
            if math.isfinite(val) and row.get(key) != float(val):
                problems.append("attribute %s %r != %r" % (key, row.get(key), float(val)))
        elif isinstance(val, str):
            try:
                float(val)
                continue  # HA writes it as a number; covered by unit tests
            except ValueError:
                pass
            if row.get(key + "_str") != val:
                problems.append("attribute %s_str %r != %r" % (key, row.get(key + "_str"), val))
    return problems
