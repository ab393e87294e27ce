#!/usr/bin/env python3
"""test_ingestor_states.py - a get_states answer over the ingestor's streaming
threshold (1 MiB) is read state by state and every state lands (issue #3).

hasim serves 1,500 entities plus one entity with 700 KB of attributes (as
large as still fits a Kafka record), so its get_states answer is several MB;
it streams live events while the ingestor closes its start-up gap. The ingestor
(with the dev broker) must produce every state once and every live event,
with nothing unusable; then, restarted, it must close the gap again from its
safe mark (get_states streamed again, history asked for every entity).
"""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import harness  # noqa: E402

ENTITIES = 1500
EVENTS = 300


def stats(stage):
    return stage.json("/stats")


def wait_gap_closed(stage, backfills):
    def closed():
        st = stats(stage)
        return st["gap"]["state"] == "done" and st["gap"]["backfills_total"] >= backfills \
            and st
    return harness.wait_until(closed, 60, "the ingestor's gap closed", interval=0.2)


def assert_clean(st):
    assert st["ha"]["frames_invalid_total"] == 0, "unusable frames: %r" % st["ha"]
    assert st["ha"]["events_invalid_total"] == 0, "unusable states: %r" % st["ha"]
    assert st["dlq_total"] == 0, "records sent to the DLQ: %r" % st


def test_streamed_get_states_all_land():
    workdir = tempfile.mkdtemp(prefix="hs-ingestor-states-")
    token = "test-ha-token-%d" % os.getpid()
    broker = harness.DevBroker(workdir)
    hasim = harness.HaSim(workdir, token, EVENTS, rate=200, entities=ENTITIES,
                          extra=["--late-entities", "0", "--huge-states-kb", "700",
                                 "--recorder-commit-ms", "100"])
    procs = []
    stage = None
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

        st = wait_gap_closed(stage, 1)
        states = ENTITIES + 1
        # Each state goes out once: backfilled, or dropped as the duplicate
        # of a live event of the same instant.
        assert st["backfilled_total"] + st["gap"]["deduped_total"] == states, \
            "states: %d backfilled + %d deduped, want %d" % (
                st["backfilled_total"], st["gap"]["deduped_total"], states)
        assert_clean(st)
        hasim.wait_done(60)

        def all_out():
            s = stats(stage)
            return s["events_in_total"] == EVENTS and \
                s["events_out_total"] >= s["backfilled_total"] + EVENTS and s
        st = harness.wait_until(all_out, 30, "every live event produced", interval=0.2)
        assert_clean(st)

        # Restarted, it closes the gap from its safe mark: get_states is
        # streamed again (old states skipped), history covers the rest.
        assert stage.stop() == 0
        stage = harness.Stage("ingestor", env, workdir).start()
        procs.append(stage.proc)
        st = wait_gap_closed(stage, 1)
        assert_clean(st)
        assert stage.stop() == 0
        stage = None
        print("%d states and %d live events produced; restart closed the gap cleanly"
              % (states, EVENTS))
    except BaseException:
        for p in procs:
            print(p.tail())
        print("workdir: " + workdir)
        raise
    finally:
        if stage is not None:
            stage.stop()
        hasim.stop()
        broker.stop()
    if not os.environ.get("HS_KEEP_TMP"):
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    harness.run_test(test_streamed_get_states_all_land)
