#!/usr/bin/env python3
"""Markdown tables and the cost-model fit from bench/trainer/sim.sh results.

Usage: bench/trainer/sim_tables.py [--steps 40,80,160] [--fit] [--group NAME] results.json [more.json ...]
Files after a --group NAME belong to that group (default: one group per file); a cell's W = 1 reference is
the W = 1 cell of the same group, P and f.
Efficiency for a step time t: (f t + o_1) / (f t + o_W), o = the measured overhead per round (round time minus
the slowest worker's steps), against the W = 1 cell of the same file, P and f. --fit fits
overhead = A + C W + B (D + E W) (B = state GB) by non-negative least squares on the relative error, over all cells given.
"""
import json
import sys

args = sys.argv[1:]
steps = [0.04, 0.08, 0.16]
fit = False
files = []
group = None
groups = {}
while args:
    a = args.pop(0)
    if a == "--steps":
        steps = [float(x) / 1e3 for x in args.pop(0).split(",")]
    elif a == "--fit":
        fit = True
    elif a == "--group":
        group = args.pop(0)
    else:
        files.append(a)
        groups[a] = group or a

cells = []
for fn in files:
    doc = json.load(open(fn))
    rows = [r for r in doc["results"]]
    for r in rows:
        r["file"] = groups[fn]
    cells += rows


def one(r):
    for o in cells:
        if o["file"] == r["file"] and "failed" not in o and o["params"] == r["params"] and o["frequency"] == r["frequency"] and o["executors"] == 1:
            return o
    return None


# per-process CPU seconds per round (newer runs): the driver's and the busiest executor's
cpu = any("driver_cpu_s" in r for r in cells)
head = "| P | W | f | state MB | round s | overhead s | broadcast | schedule | result prep | transfer | sum | update | " \
       + " | ".join("eff @%d ms" % round(t * 1e3) for t in steps) + " | overhead share @%d ms | eff measured |" % round(steps[len(steps) // 2] * 1e3) \
       + (" driver CPU s | executor CPU s (max) |" if cpu else "")
print(head)
print("|" + "---|" * (head.count("|") - 1))
for r in cells:
    if "failed" in r:
        print("| %.0fM | %d | - | failed: %s |" % (r["params"] / 1e6, r["executors"], r["failed"][:120].replace("|", "/")))
        continue
    o1 = one(r)
    f, ow = r["frequency"], r["overhead_s"]
    effs = ["%.0f%%" % (100 * (f * t + o1["overhead_s"]) / (f * t + ow)) if o1 else "-" for t in steps]
    tm = steps[len(steps) // 2]
    em = "%.0f%%" % (100 * r["steps_per_s"] / (r["executors"] * o1["steps_per_s"])) if o1 else "-"
    extra = (" %.2f | %.2f |" % (r["driver_cpu_s"], r["executor_cpu_s_max"]) if "driver_cpu_s" in r else " - | - |") if cpu else ""
    print("| %.0fM | %d | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %.0f%% | %s |%s" % (
        r["params"] / 1e6, r["executors"], f, r["state_mb"], r["round_s"], ow, r["broadcast_s"], r["schedule_s"],
        r["result_prep_s"], r["transfer_s"], r["sum_s"], r["update_s"], " | ".join(effs), 100 * ow / (f * tm + ow), em, extra))

loads = sorted({(r["file"], r.get("load_before", "")[:14], r.get("load_after", "")[:14]) for r in cells if "failed" not in r})
print()
for fn in sorted(set(groups.values())):
    ls = [r.get("load_after", "").split()[0] for r in cells if r["file"] == fn and "failed" not in r]
    if ls:
        print("load average (1 min) after each cell in %s: min %s, max %s" % (fn, min(ls, key=float), max(ls, key=float)))

if fit:
    import numpy as np
    ok = [r for r in cells if "failed" not in r]
    X = np.array([[1, r["executors"], r["state_mb"] / 1e3, r["state_mb"] / 1e3 * r["executors"]] for r in ok])
    y = np.array([r["overhead_s"] for r in ok])
    w = 1 / y  # relative error
    # non-negative: every term is a cost
    from scipy.optimize import nnls
    coef, _ = nnls(X * w[:, None], y * w)
    pred = X @ coef
    rel = np.abs(pred - y) / y
    print()
    print("fit overhead = A + C W + B (D + E W): A=%.4f C=%.4f D=%.4f E=%.4f; median |rel err| %.0f%%, max %.0f%% over %d cells"
          % (coef[0], coef[1], coef[2], coef[3], 100 * np.median(rel), 100 * rel.max(), len(ok)))
