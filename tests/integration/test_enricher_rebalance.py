#!/usr/bin/env python3
"""test_enricher_rebalance.py - several enrichers share the raw topic, and
the consumer group's rebalances lose nothing (issue #4, "Delivery").

While hasim streams (200 events/s, no fixed count), enricher A takes every
partition; enricher B joins the same group (a rebalance splits the
partitions between them), both enrich for a while, then A stops with
SIGTERM in the middle of the stream (it commits what is done and leaves:
another rebalance gives B everything), and a second later the test ends
hasim's stream (SIGUSR2), so the stream always outlasts the rebalances
however long they take. Afterwards every state change hasim emitted is on
ha.events.enriched at least once (at-least-once: a rebalance may replay,
never drop), both enrichers produced some of them, and neither sent
anything to the DLQ.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

RATE = 200
PARTITIONS = 4


def consume_all(bootstrap, topic, count):
    """Every message of topic (until count, or 4 s without one), as dicts
    with "payload" (text) through tests/hostile's Kafka helper."""
    r = subprocess.run([harness.binary("tests/hostile/hostile-kafka"), "consume", bootstrap,
                        topic, str(count), "4000"], capture_output=True, timeout=180)
    assert r.returncode == 0, r.stderr.decode("utf-8", "replace")[-500:]
    # One message per line; str.splitlines() would also split at U+2028 and
    # the other line breaks a payload may hold.
    return [json.loads(line) for line in r.stdout.decode().split("\n") if line.strip()]


def enricher(name, env, workdir):
    st = harness.Stage("enricher", env, workdir)
    # Two of them: logs of their own.
    st.proc.out_path = os.path.join(workdir, name + ".out")
    st.proc.err_path = os.path.join(workdir, name + ".err")
    return st


def out_total(stage):
    return stage.json("/stats")["events_out_total"]


def test_two_enrichers_share_and_lose_nothing():
    workdir = tempfile.mkdtemp(prefix="hs-enricher-rebalance-")
    token = "test-ha-token-%d" % os.getpid()
    broker = harness.DevBroker(workdir, partitions=PARTITIONS)
    hasim = harness.HaSim(workdir, token, 0, rate=RATE, entities=40,
                          extra=["--late-entities", "0"])
    procs = []
    ok = False
    try:
        broker.start()
        procs.append(broker.proc)
        env = {"KAFKA_BROKERS": broker.bootstrap, "SITE": "home"}
        a = enricher("enricher-a", env, workdir).start()
        procs.append(a.proc)
        hasim.start()
        procs.append(hasim.proc)
        ing_env = dict(env, HA_URL=hasim.url, HA_TOKEN=token,
                       SPOOL_DIR=os.path.join(workdir, "spool"))
        ing = harness.Stage("ingestor", ing_env, workdir).start()
        procs.append(ing.proc)

        harness.wait_until(lambda: out_total(a) >= 300, 60, "enricher A enriching",
                           interval=0.2)
        b = enricher("enricher-b", env, workdir).start()
        procs.append(b.proc)
        # The rebalance gives B some partitions while the stream runs.
        harness.wait_until(lambda: out_total(b) >= 50, 90, "enricher B given partitions",
                           interval=0.2)
        ast = a.json("/stats")
        st_a = a.stop()
        assert st_a == 0, "enricher A exited %r on SIGTERM" % st_a
        time.sleep(1.0)
        os.kill(hasim.proc.p.pid, signal.SIGUSR2)
        events = hasim.wait_done(30)
        assert events > 0

        want = set()
        for ev in hasim.generated():
            data = ev.get("data", {})
            ns = data.get("new_state") or {}
            if ev.get("event_type") == "state_changed" and ns.get("last_updated"):
                want.add((data["entity_id"], ns["last_updated"]))
        assert len(want) == events, "hasim's log has %d state changes of %d" % (
            len(want), events)

        def all_enriched():
            ist = ing.json("/stats")
            bst = b.json("/stats")
            return bst["events_in_total"] >= 1 and bst.get("consumer_lag") == 0 and \
                ist["events_out_total"] >= ist["backfilled_total"] + events and bst
        bst = harness.wait_until(all_enriched, 150, "enricher B caught up", interval=0.5)

        got = set()
        for m in consume_all(broker.bootstrap, "ha.events.enriched", 10 * events):
            text = m.get("payload")
            if text is None:
                continue
            msg = json.loads(text)
            ns = msg.get("new_state") or {}
            if msg.get("event_type") == "state_changed" and ns.get("last_updated"):
                got.add((msg["entity_id"], ns["last_updated"]))
        missing = want - got
        assert not missing, "%d of %d state changes never enriched, e.g. %r" % (
            len(missing), len(want), sorted(missing)[:3])
        assert ast["events_out_total"] > 0 and bst["events_out_total"] > 0, (ast, bst)
        for name, stats in (("A", ast), ("B", bst)):
            assert stats["dlq_total"] == 0, "enricher %s sent %d to the DLQ" % (
                name, stats["dlq_total"])
        ok = True
    finally:
        for p in reversed(procs):
            p.stop()
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print("logs kept in %s" % workdir, file=sys.stderr)


if __name__ == "__main__":
    test_two_enrichers_share_and_lose_nothing()
    print("ok")
