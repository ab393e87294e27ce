#!/usr/bin/env python3
"""test_ingestor_registry.py - every raw message names the area and device
Home Assistant's registries give its entity, also for entities that appear
while the ingestor runs (issue #3, "Context from the registries").

hasim serves 60 entities, the last 6 of them "late": each appears during the
stream with an entity_registry_updated {"action": "create"} event first. The
ingestor must then ask for that entity alone (config/entity_registry/get),
not read the whole entity list again, and tag the entity's events with its
area and device. The expected names come from hasim itself: this test reads
its three registry lists over the WebSocket API once the stream is over, and
applies HA's rule (the entity's area, else its device's area; the device's
name_by_user, else its name).
"""
import base64
import json
import os
import shutil
import socket
import struct
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

ENTITIES = 60
LATE = 6
EVENTS = 600


class MiniWs:
    """Just enough of an RFC 6455 client for hasim: text frames, no
    extensions; frames from the server are never masked or fragmented by
    hasim."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /api/websocket HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           % (port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            assert chunk, "hasim closed during the handshake"
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head[:200]
        self.buf = head.split(b"\r\n\r\n", 1)[1]

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            assert chunk, "hasim closed the connection"
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, obj):
        data = json.dumps(obj).encode()
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x81, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x81, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x81, 0x80 | 127, n)
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def recv(self):
        """The next text message, parsed (pings and pongs are skipped)."""
        while True:
            b0, b1 = self._read(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._read(8))[0]
            payload = self._read(n)
            if b0 & 0x0F == 0x1:
                return json.loads(payload)
            assert b0 & 0x0F in (0x9, 0xA), "unexpected frame opcode %d" % (b0 & 0x0F)

    def close(self):
        self.sock.close()


def registries(port, token):
    """hasim's area, device and entity lists: {entity_id: (area, device)}
    by HA's naming rules (what the ingestor must attach)."""
    ws = MiniWs(port)
    try:
        assert ws.recv()["type"] == "auth_required"
        ws.send({"type": "auth", "access_token": token})
        assert ws.recv()["type"] == "auth_ok"
        results = {}
        for i, kind in enumerate(("area", "device", "entity"), start=1):
            ws.send({"id": i, "type": "config/%s_registry/list" % kind})
        while len(results) < 3:
            msg = ws.recv()
            if msg.get("type") == "result":
                assert msg["success"], msg
                results[msg["id"]] = msg["result"]
    finally:
        ws.close()
    areas = {a["area_id"]: a["name"] for a in results[1]}
    devices = {d["id"]: d for d in results[2]}
    out = {}
    for e in results[3]:
        dev = devices.get(e.get("device_id"))
        area_id = e.get("area_id") or (dev or {}).get("area_id")
        device = None
        if dev is not None:
            device = dev.get("name_by_user") or dev.get("name")
        out[e["entity_id"]] = (areas.get(area_id), device)
    return out


def test_areas_and_devices_follow_the_registries():
    workdir = tempfile.mkdtemp(prefix="hs-ingestor-registry-")
    token = "test-ha-token-%d" % os.getpid()
    broker = harness.DevBroker(workdir)
    hasim = harness.HaSim(workdir, token, EVENTS, rate=300, entities=ENTITIES,
                          extra=["--late-entities", str(LATE), "--recorder-commit-ms", "100"])
    procs = []
    try:
        broker.start()
        procs.append(broker.proc)
        hasim.start()
        procs.append(hasim.proc)
        env = {"HA_URL": hasim.url, "HA_TOKEN": token, "KAFKA_BROKERS": broker.bootstrap,
               "SITE": "home", "SPOOL_DIR": os.path.join(workdir, "spool"),
               "HA_RECORDER_COMMIT_S": "0"}
        stage = harness.Stage("ingestor", env, workdir).start()
        procs.append(stage.proc)
        hasim.wait_done(60)

        def all_out():
            st = stage.json("/stats")
            return st["events_in_total"] >= EVENTS and \
                st["events_out_total"] >= st["backfilled_total"] + EVENTS and st
        st = harness.wait_until(all_out, 30, "every live event produced", interval=0.2)
        # Three whole lists at the connect, then one get per new entity.
        assert st["ha"]["registry_loads_total"] == 3, st["ha"]
        assert st["ha"]["registry_entity_updates_total"] == LATE, st["ha"]

        want = registries(hasim.port, token)
        assert len(want) == ENTITIES, "hasim lists %d entities" % len(want)
        recent = stage.json("/events/recent?limit=1000")
        assert len(recent) >= EVENTS, "only %d recent messages" % len(recent)
        # The ring lists the newest first.
        recent.reverse()
        late, late_named, named = set(), set(), 0
        for msg in recent:
            eid = msg["entity_id"]
            area, device = want[eid]
            got = (msg.get("area"), msg.get("device"))
            if not msg.get("backfill") and msg.get("old_state") is None:
                # A late entity's first state follows its registry event at
                # once, before the answer to the ingestor's get: it may go
                # out unnamed (documented in ingestor/README.md).
                late.add(eid)
                assert got in ((None, None), (area, device)), \
                    "%s (first state): %r, the registries say %r" % (eid, got, (area, device))
                continue
            if eid in late and eid not in late_named and got == (None, None):
                # So may its next ones while the stream runs ahead of that
                # answer (seen under ASan+UBSan on a loaded machine); once
                # one carries the names, every later one must.
                continue
            assert got == (area, device), "%s: area, device %r, the registries say %r" % (
                eid, got, (area, device))
            named += got != (None, None)
            if eid in late and got != (None, None):
                late_named.add(eid)
        # Every late entity appeared, and those with an area or device had it
        # on their later events; the home is not one where nothing is named.
        assert len(late) == LATE, "late entities seen: %r" % sorted(late)
        assert late_named == {e for e in late if want[e] != (None, None)} and late_named, \
            "late entities named later: %r of %r" % (sorted(late_named), sorted(late))
        assert named > len(recent) // 2, "only %d of %d messages named" % (named, len(recent))
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    test_areas_and_devices_follow_the_registries()
    print("ok")
