#!/usr/bin/env python3
"""rss_probe.py - memory and CPU of running processes, read from /proc.

Used by e2e_bench.py; also a small command line tool:

    tests/bench/rss_probe.py PID [PID...]     prints VmRSS, VmHWM (kB) and
                                              CPU seconds of each process

All sizes are in kB as the kernel reports them; CPU time is user + system
seconds from /proc/PID/stat. A process that has gone away reads as None.
"""
import os
import sys
import threading

CLK_TCK = os.sysconf("SC_CLK_TCK")


def status_kb(pid, field):
    """The value in kB of one /proc/PID/status line (VmRSS, VmHWM...), or None."""
    try:
        with open("/proc/%d/status" % pid, "rb") as f:
            for line in f:
                if line.startswith(field.encode() + b":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def cpu_seconds(pid):
    """User + system CPU seconds the process used so far (all threads), or None."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            text = f.read().decode()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: fields
    # after it start past the last ")". utime and stime are fields 14, 15.
    rest = text[text.rindex(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def rollup_kb(pid):
    """{"anon_kb", "file_kb"} of one process from /proc/PID/smaps_rollup:
    its anonymous memory (heap, stacks, librdkafka's buffers: what the
    process itself allocated) and its file-backed resident pages (code and
    data of the executable and the shared libraries it mapped, which VmRSS
    counts in full even when other processes share them), or None."""
    fields = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid, "rb") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(b":"):
                    fields[parts[0][:-1].decode()] = int(parts[1])
    except (OSError, ValueError):
        return None
    if "Rss" not in fields or "Anonymous" not in fields:
        return None
    return {"anon_kb": fields["Anonymous"], "file_kb": fields["Rss"] - fields["Anonymous"]}


def snapshot(pid):
    """{"rss_kb", "hwm_kb", "cpu_s"} of one process right now."""
    return {"rss_kb": status_kb(pid, "VmRSS"), "hwm_kb": status_kb(pid, "VmHWM"),
            "cpu_s": cpu_seconds(pid)}


class Sampler(threading.Thread):
    """Samples VmRSS of named processes every interval seconds in the
    background and keeps, per name, the largest VmRSS seen since the last
    reset(). Stop it with stop()."""

    def __init__(self, pids, interval=0.1):
        super().__init__(daemon=True)
        self.pids = dict(pids)
        self.interval = interval
        self.lock = threading.Lock()
        self.max_rss = {name: 0 for name in self.pids}
        self.samples = 0
        self.halt = threading.Event()

    def run(self):
        while not self.halt.is_set():
            with self.lock:
                for name, pid in self.pids.items():
                    rss = status_kb(pid, "VmRSS")
                    if rss is not None and rss > self.max_rss[name]:
                        self.max_rss[name] = rss
                self.samples += 1
            self.halt.wait(self.interval)

    def reset(self):
        with self.lock:
            self.max_rss = {name: 0 for name in self.pids}
            self.samples = 0

    def peak(self):
        """{name: largest VmRSS in kB since the last reset()}."""
        with self.lock:
            return dict(self.max_rss)

    def stop(self):
        self.halt.set()
        self.join()


def main(argv):
    if len(argv) < 2:
        print("usage: %s PID [PID...]" % argv[0], file=sys.stderr)
        return 2
    for arg in argv[1:]:
        s = snapshot(int(arg))
        print("%s VmRSS=%s kB VmHWM=%s kB cpu=%s s" % (arg, s["rss_kb"], s["hwm_kb"], s["cpu_s"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
