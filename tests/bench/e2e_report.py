#!/usr/bin/env python3
"""e2e_report.py - turns one benchmark run's results into tables.

Reads the directory tests/bench/run.sh filled (e2e.json from e2e_bench.py,
<stage>_bench.txt with each stage benchmark's output or <stage>_bench.missing
/ <stage>_bench.failed), prints the tables as Markdown, and with --doc FILE
replaces what lies between the lines "<!-- bench:begin -->" and
"<!-- bench:end -->" of FILE with them (FILE must already hold both).

Nothing here judges speed: targets are printed next to the numbers, with
"yes"/"no" for whether this run met them. A number that was not measured is
printed as "not measured", never guessed.

Usage: e2e_report.py --results DIR --build DIR --command "..." [--doc FILE]
"""
import argparse
import datetime
import json
import os
import platform
import re
import subprocess
import sys

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
STAGES = ("ingestor", "enricher", "writer")
NM = "not measured"


def machine(build):
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kb = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kb = int(line.split()[1])
    except OSError:
        pass
    buildtype = "unknown"
    try:
        out = subprocess.run(["meson", "introspect", "--buildoptions", build],
                             capture_output=True, text=True, check=True).stdout
        for opt in json.loads(out):
            if opt["name"] == "buildtype":
                buildtype = opt["value"]
    except (OSError, subprocess.CalledProcessError, ValueError):
        pass
    try:
        load = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        load = "unknown"
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": mem_kb / 1048576.0,
            "kernel": platform.release(), "buildtype": buildtype, "load_end": load}


def num(x, fmt="{:,.0f}"):
    return NM if x is None else fmt.format(x)


def mb(kb):
    return NM if not kb else "%.1f" % (kb / 1024.0)


def yes_no(ok):
    return "—" if ok is None else ("yes" if ok else "no")


def stage_bench(results, stage):
    """(status, rates [(label, value, unit)], ratios [(label, value)], cpu lines, text,
    the members of every JSON object printed, later ones winning, or {})."""
    base = os.path.join(results, stage + "_bench")
    if os.path.exists(base + ".missing"):
        return "missing", [], [], [], open(base + ".missing").read().strip(), {}
    text = ""
    if os.path.exists(base + ".txt"):
        with open(base + ".txt", errors="replace") as f:
            text = f.read()
    status = "failed" if os.path.exists(base + ".failed") else "ok"
    rates, ratios, cpu, last = [], [], [], {}
    for line in text.splitlines():
        obj = None
        if line.lstrip().startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                obj = None
        if isinstance(obj, dict):
            last.update(obj)  # a benchmark may print several (writer: throughput, latency)
            # One JSON object: *_per_s are rates, *over*/*ratio* ratios, *cpu* CPU.
            for k, v in obj.items():
                if not isinstance(v, (int, float)) or isinstance(v, bool):
                    continue
                if k.endswith("_per_s"):
                    what = k[:-len("_per_s")]
                    unit = what.split("_")[-1] + "/s"
                    label = "_".join(what.split("_")[:-1]) or what
                    if v > 0:
                        rates.append((label, float(v), unit))
                elif "over" in k or "ratio" in k:
                    ratios.append((k, float(v)))
                elif "cpu" in k:
                    cpu.append("%s = %s" % (k, v))
            continue
        m = re.search(r"^\s*([^:=]+?)\s*:.*?(-?[\d][\d,]*(?:\.\d+)?)\s*"
                      r"(events/s|points/s|msgs/s|messages/s|ev/s)", line)
        if m and not m.group(2).startswith("-"):
            rates.append((m.group(1), float(m.group(2).replace(",", "")), m.group(3)))
        m = re.search(r"ratio[^:]*:\s*([\d.]+)", line, re.I)
        if m:
            ratios.append((line.split(":")[0].strip(), float(m.group(1))))
        if re.search(r"cpu", line, re.I):
            cpu.append(line.strip())
    return status, rates, ratios, cpu, text, last


def runs(e2e, kind):
    return [r for r in e2e.get("runs", []) if r.get("kind") == kind]


def by_entities(e2e, kind):
    return {r["entities"]: r for r in runs(e2e, kind)}


def render(results, build, command):
    out = []
    m = machine(build)
    try:
        with open(os.path.join(results, "e2e.json")) as f:
            e2e = json.load(f)
    except (OSError, ValueError):
        e2e = {"runs": []}
    started = ""
    try:
        started = open(os.path.join(results, "started")).read().strip()
    except OSError:
        pass
    out.append("Run of %s (UTC), on a shared 2-core machine where other work may have been "
               "running: treat every number as indicative." %
               (started or datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M")))
    out.append("")
    out.append("| machine | |")
    out.append("|---|---|")
    out.append("| CPU | %s (%d cores visible) |" % (m["cpu"], m["cores"] or 0))
    out.append("| RAM | %.1f GiB |" % m["ram_gib"])
    out.append("| kernel | %s |" % m["kernel"])
    out.append("| build type | %s |" % m["buildtype"])
    try:
        out.append("| load average at start / end | %s / %s |" % (
            open(os.path.join(results, "load_start")).read().strip(), m["load_end"]))
    except OSError:
        pass
    out.append("| reproduce | `%s` |" % command)
    out.append("")

    # 1. per-stage benchmarks
    out.append("#### 1. Per-stage throughput (each stage against a baseline in the same run)")
    out.append("")
    out.append("| stage | measured | baseline | ratio | target | met |")
    out.append("|---|---|---|---|---|---|")
    targets = {"ingestor": ("events/s >= 100,000 and ratio >= 0.5", 100000, 0.5),
               "enricher": ("events/s >= 150,000 and ratio >= 0.6", 150000, 0.6),
               "writer": ("ratio >= 0.9; writer CPU < 10 % of influxd's (second half; "
                          "from the first point on the long backlog)", None, 0.9)}
    raw_blocks = []
    for st in STAGES:
        status, rates, ratios, cpu, text, obj = stage_bench(results, st)
        tgt, min_rate, min_ratio = targets[st]
        if status == "missing":
            out.append("| %s | %s (%s) | | | %s | — |" % (st, NM, text, tgt))
            continue
        if status == "failed" or not rates:
            out.append("| %s | %s (the benchmark %s; output below) | | | %s | — |"
                       % (st, NM, "failed" if status == "failed" else "printed no rate", tgt))
            raw_blocks.append((st, text))
            continue
        own = [r for r in rates if st in r[0].lower()] or rates[-1:]
        other = [r for r in rates if r not in own]
        meas = "; ".join("%s %s %s" % (lab, num(v), unit) for lab, v, unit in own)
        base = "; ".join("%s %s %s" % (lab, num(v), unit) for lab, v, unit in other)
        ratio = ratios[-1][1] if ratios else None
        ok = None
        if ratio is not None:
            ok = ratio >= min_ratio
            if min_rate is not None:
                ok = ok and own[0][1] >= min_rate
        if cpu:
            meas += " (%s)" % "; ".join(cpu)
        shown = num(ratio, "{:.2f}")
        if st == "writer":
            # The second target: the writer's CPU against influxd's on the
            # same points, while the writer wrote.
            w = obj.get("writer_cpu_s_per_million_points")
            i = obj.get("influxd_cpu_s_per_million_points")
            share = w / i if isinstance(w, (int, float)) and isinstance(i, (int, float)) \
                and w >= 0 and i > 0 else None
            shown += "; CPU %s of influxd's" % num(share, "{:.3f}")
            ww = obj.get("writer_cpu_s_per_million_points_whole_run")
            iw = obj.get("influxd_cpu_s_per_million_points_whole_run")
            if isinstance(ww, (int, float)) and isinstance(iw, (int, float)) and iw > 0:
                shown += " (from its first point %s)" % num(ww / iw, "{:.3f}")
            ok = None if ok is None or share is None else ok and share < 0.1
            # The long backlog (writer_bench --backlog): from the writer's
            # first point, fetching included, the worse of two runs.
            bl = obj.get("backlog") if isinstance(obj.get("backlog"), dict) else None
            bshare = bl.get("writer_over_influxd_cpu_whole_run") if bl else None
            reached = bl.get("writer_reached") if bl else None
            whole = isinstance(reached, list) and len(reached) == 2 and \
                all(r == bl.get("events") for r in reached)
            if isinstance(bshare, (int, float)) and bshare >= 0 and whole:
                shown += "; on a backlog of %s events of %s entities, from the first " \
                    "point: %s" % (num(bl.get("events")), num(bl.get("entities")),
                                   num(bshare, "{:.3f}"))
                ok = None if ok is None else ok and bshare < 0.1
            else:
                shown += "; long backlog %s%s" % (
                    NM, "" if whole or not bl else " (a run stopped short: %s of %s points)"
                    % (reached, num(bl.get("events"))))
                ok = None
        out.append("| %s | %s | %s | %s | %s | %s |" % (
            st, meas, base or "—", shown, tgt, yes_no(ok)))
        raw_blocks.append((st, text))
    out.append("")
    for st, text in raw_blocks:
        lines = [ln for ln in text.splitlines() if ln.strip()][-24:]
        out.append("<details><summary>%s benchmark output</summary>" % st)
        out.append("")
        out.append("```")
        out.extend(lines or ["(no output)"])
        out.append("```")
        out.append("</details>")
        out.append("")

    lat = by_entities(e2e, "latency")
    idle = by_entities(e2e, "idle")
    flood = by_entities(e2e, "flood")
    ents = sorted(set(lat) | set(idle) | set(flood))
    base_e = ents[0] if ents else None

    # 2. latency
    out.append("#### 2. End-to-end latency, hasim event -> queryable in InfluxDB")
    out.append("")
    out.append("| entities | rate | events emitted / followed | lost | p50 ms | p90 ms | p99 ms "
               "| max ms | resolution p50 / p99 ms | target p50 < 25, p99 < 100 met |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for e in ents:
        r = lat.get(e)
        if r is None or "error" in r:
            out.append("| %s | | %s%s | | | | | | | — |" % (
                num(e), NM, (": " + r["error"]) if r else ""))
            continue
        L, P = r["latency"], r.get("resolution") or r.get("poll_cycle") or {}
        ok = L.get("count", 0) > 0 and L["p50_ms"] < 25 and L["p99_ms"] < 100
        out.append("| %s | %s/s | %s / %s | %s | %s | %s | %s | %s | %s / %s | %s |" % (
            num(e), num(r["rate"]), num(r.get("emitted")), num(L.get("count")), r["lost"],
            num(L.get("p50_ms"), "{:.1f}"), num(L.get("p90_ms"), "{:.1f}"),
            num(L.get("p99_ms"), "{:.1f}"), num(L.get("max_ms"), "{:.1f}"),
            num(P.get("p50_ms"), "{:.1f}"), num(P.get("p99_ms"), "{:.1f}"), yes_no(ok)))
    out.append("")
    with_q = [e for e in ents if lat.get(e, {}).get("query_counts")]
    if with_q:
        out.append("The poller: " + "; ".join(
            "%s entities: 1 in %s events followed, %.0f queries/s, each "
            "%.1f ms p50 / %.1f ms p99, answered %s / %s ms (p50 / p99) after the WAL "
            "change that led to them, %s points found only by the %.0f ms fallback query" % (
                num(e), lat[e].get("sample_every"),
                lat[e]["queries_per_s"], lat[e]["query"].get("p50_ms") or 0,
                lat[e]["query"].get("p99_ms") or 0,
                num((lat[e].get("after_write") or {}).get("p50_ms"), "{:.1f}"),
                num((lat[e].get("after_write") or {}).get("p99_ms"), "{:.1f}"),
                num(lat[e]["query_counts"].get("found_by_fallback")),
                lat[e].get("fallback_ms") or 0) for e in with_q) + ".")
        out.append("")
    hops = (("ingested", "ingestor got it (ingested_at)"),
            ("raw", "on ha.events.raw (producer timestamp, ms)"),
            ("enriched", "on ha.events.enriched (producer timestamp, ms)"),
            ("queryable", "queryable in InfluxDB (poller)"))
    with_bd = [e for e in ents if lat.get(e, {}).get("breakdown")]
    if with_bd:
        out.append("Where the time goes: time from emission until the event had passed each "
                   "point, p50 / p99 ms (homestream-e2e-tap reads both topics' producer "
                   "timestamps):")
        out.append("")
        out.append("| passed | " + " | ".join("%s entities" % num(e) for e in with_bd) + " |")
        out.append("|---" * (len(with_bd) + 1) + "|")
        for hop, label in hops:
            cells = []
            for e in with_bd:
                h = lat[e]["breakdown"].get(hop, {})
                cells.append("%s / %s" % (num(h.get("p50_ms"), "{:.1f}"),
                                          num(h.get("p99_ms"), "{:.1f}")) if h.get("count") else NM)
            out.append("| %s | %s |" % (label, " | ".join(cells)))
        out.append("")
    with_w = [e for e in ents if (lat.get(e, {}).get("writer_write_latency_ms") or {}).get("samples")]
    if with_w:
        out.append("The writer's own view (its /stats at the end of the latency run): "
                   + "; ".join("%s entities: InfluxDB write p50 / p90 / p99 %.1f / %.1f / %.1f ms, "
                               "%s points in %s batches" % (
                                   num(e), w["p50"], w["p90"], w["p99"],
                                   num(lat[e].get("writer_points")),
                                   num(lat[e].get("writer_batches")))
                               for e in with_w
                               for w in [lat[e]["writer_write_latency_ms"]]) + ".")
        out.append("")
    with_cpu = [e for e in ents if lat.get(e, {}).get("cpu_pct")]
    if with_cpu:
        out.append("CPU use while measuring latency (% of one core; the poller and the tap are "
                   "the benchmark's own):")
        out.append("")
        names = ("ingestor", "enricher", "writer", "influxd", "devbroker", "hasim", "tap",
                 "poller")
        out.append("| entities | " + " | ".join(names) + " |")
        out.append("|---" * (len(names) + 1) + "|")
        for e in with_cpu:
            c = lat[e]["cpu_pct"]
            out.append("| %s | %s |" % (num(e), " | ".join(num(c.get(n), "{:.0f}") for n in names)))
        out.append("")

    # 3. RSS
    out.append("#### 3. Resident memory of each stage (MB; VmRSS, peak = largest VmRSS sampled "
               "every 100 ms during the flood)")
    out.append("")
    if base_e is not None:
        out.append("At %s entities (targets: idle < 12 MB, loaded < 64 MB):" % num(base_e))
        out.append("")
        out.append("| stage | idle | idle: anonymous / file-backed | "
                   "its libraries alone (lib-floor) | the stage's own (idle - libraries) | "
                   "peak at full load (flood) | VmHWM after flood | "
                   "idle < 12 met | loaded < 64 met |")
        out.append("|---|---|---|---|---|---|---|---|---|")
        ir, fr = idle.get(base_e, {}), flood.get(base_e, {})
        for st in STAGES:
            i_mem = ir.get("memory", {}).get(st, {})
            i_kb = i_mem.get("rss_kb")
            p_kb = fr.get("rss_peak_kb", {}).get(st)
            h_kb = fr.get("memory", {}).get(st, {}).get("hwm_kb")
            split = ("%s / %s" % (mb(i_mem["anon_kb"]), mb(i_mem["file_kb"]))
                     if "anon_kb" in i_mem else "")
            f_kb = ir.get("lib_floor", {}).get(st, {}).get("rss_kb")
            own = mb(i_kb - f_kb) if i_kb and f_kb else mb(None)
            out.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                st, mb(i_kb), split, mb(f_kb), own, mb(p_kb), mb(h_kb),
                yes_no(None if not i_kb else i_kb < 12 * 1024),
                yes_no(None if not p_kb else p_kb < 64 * 1024)))
        out.append("")
        out.append("The libraries alone: homestream-lib-floor-STAGE (tests/bench/lib_floor.c) "
                   "links the stage's shared libraries and sets them up as the stage does "
                   "(its Kafka clients connected, the admin HTTP server listening, libcurl or "
                   "libwebsockets ready) and does nothing else; it runs while the pipeline "
                   "idles, so shared pages count as they do in the stage.")
        out.append("")

    # 4. scaling
    out.append("#### 4. From %s to %s entities" % (num(ents[0]) if ents else "?",
                                                   num(ents[-1]) if ents else "?"))
    out.append("")
    out.append("| entities | dev broker partitions per topic "
               "| startup states in InfluxDB after s | flood points/s (writer, 10-90 %) "
               "| ingestor / enricher events/s in flood | flood points lost | latency p50 / p99 ms "
               "| idle RSS ing / enr / wr MB | flood peak RSS ing / enr / wr MB |")
    out.append("|---|---|---|---|---|---|---|---|---|")
    for e in ents:
        i, f, l = idle.get(e, {}), flood.get(e, {}), lat.get(e, {})
        if all("error" in r or not r for r in (i, f, l)):
            out.append("| %s | | %s (below) | | | | | | |" % (num(e), NM))
            continue
        parts = next((r["partitions"] for r in (i, f, l) if r.get("partitions")), None)
        rates = f.get("rate_10_90") or {}
        lat_s = NM
        if l.get("latency", {}).get("count"):
            lat_s = "%.1f / %.1f" % (l["latency"]["p50_ms"], l["latency"]["p99_ms"])
        idle_s = " / ".join(mb(i.get("memory", {}).get(s, {}).get("rss_kb")) for s in STAGES)
        peak_s = " / ".join(mb((f.get("rss_peak_kb") or {}).get(s)) for s in STAGES)
        lost = NM
        if "missing" in f:
            lost = "%d of %s" % (f["missing"], num(f["flood_points"]))
        out.append("| %s | %s | %s | %s | %s / %s | %s | %s | %s | %s |" % (
            num(e), num(parts), num(i.get("startup_s"), "{:.1f}"), num(rates.get("writer")),
            num(rates.get("ingestor")), num(rates.get("enricher")), lost, lat_s,
            idle_s, peak_s))
    errors = {}
    for r in e2e.get("runs", []):
        if "error" in r:
            errors.setdefault((r["entities"], r["error"]), []).append(r["kind"])
    if errors:
        out.append("")
        for (e, err), kinds in sorted(errors.items()):
            out.append("- %s entities, %s run%s not measured: %s" % (
                num(e), ", ".join(kinds), "s" if len(kinds) > 1 else "", err))
    out.append("")

    out.append("CPU seconds per million points written during the flood (all processes share "
               "the same 2 cores):")
    out.append("")
    procs = ("ingestor", "enricher", "writer", "influxd", "devbroker", "hasim")
    out.append("| entities | " + " | ".join(procs) + " | writer / influxd |")
    out.append("|---" * (len(procs) + 2) + "|")
    for e in ents:
        f = flood.get(e, {})
        c = f.get("cpu_s_per_mpoint") or {}
        if not c:
            out.append("| %s | %s |%s" % (num(e), NM, " |" * len(procs)))
            continue
        ratio = None
        if c.get("influxd"):
            ratio = c.get("writer", 0) / c["influxd"]
        out.append("| %s | %s | %s |" % (num(e), " | ".join(num(c.get(p)) for p in procs),
                                         num(ratio, "{:.2f}")))
    out.append("")
    idle_cpu = [(e, idle[e].get("idle_cpu_pct")) for e in ents if idle.get(e, {}).get("idle_cpu_pct")]
    if idle_cpu:
        out.append("CPU while idle (%% of one core, over %s): %s" % (
            "the idle window",
            "; ".join("%s entities: %s" % (num(e), ", ".join(
                "%s %.1f" % (s, v[s]) for s in STAGES)) for e, v in idle_cpu)))
        out.append("")
    return "\n".join(out)


def replace_between(path, text):
    with open(path) as f:
        doc = f.read()
    a, b = doc.find(BEGIN), doc.find(END)
    if a < 0 or b < a:
        raise SystemExit("%s lacks the %s / %s markers" % (path, BEGIN, END))
    doc = doc[:a + len(BEGIN)] + "\n" + text.rstrip() + "\n" + doc[b:]
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(doc)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--command", default="tests/bench/run.sh")
    ap.add_argument("--doc")
    args = ap.parse_args()
    text = render(args.results, args.build, args.command)
    print(text)
    if args.doc:
        replace_between(args.doc, text)
        print("\nwrote %s" % args.doc, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
