"""The warm-up and timing rule of host/src/steady.rs, for the Python peers in
scripts/bench_pytorch.py and scripts/bench_onnxruntime.py, so every side of a
printed ratio is timed alike: warm up until the last WINDOW steps lie within
TOLERANCE of their median (at least MIN_WARMUP_STEPS steps; give up after
MAX_WARMUP_SECS of warm-up and say so), then time each of the timed steps and
report their median with min and max.
"""

import statistics
import time

WINDOW, TOLERANCE, MIN_WARMUP_STEPS, MAX_WARMUP_SECS = 3, 0.05, 3, 60.0


def settled(times):
    if len(times) < WINDOW:
        return False
    last = times[-WINDOW:]
    m = statistics.median(last)
    return all(abs(t - m) <= TOLERANCE * m for t in last)


def steady_times(step, timed):
    """(warm-up steps, settled, [seconds of each timed step])."""

    def run():
        start = time.perf_counter()
        step()
        return time.perf_counter() - start

    warmup = []
    while True:
        warmup.append(run())
        if len(warmup) >= MIN_WARMUP_STEPS and settled(warmup):
            ok = True
            break
        if sum(warmup) > MAX_WARMUP_SECS:
            ok = False
            break
    return len(warmup), ok, [run() for _ in range(max(1, timed))]


def describe(warmup, ok, times, scale=1e3, unit="ms"):
    note = "" if ok else ", never settled"
    return (f"median of {len(times)} steps after {warmup} warm-up{note}; "
            f"min {min(times) * scale:.2f}, max {max(times) * scale:.2f} {unit}")
