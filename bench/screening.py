#!/usr/bin/env python3
"""Throughput and per-message latency of offline screening versus a plain substring scan.

    DJANGO_SETTINGS_MODULE=companion.settings .venv/bin/python bench/screening.py [--rounds 5]

Screens every inbound and outbound item of moderation/eval/test.jsonl and dev.jsonl with
`moderation.pipeline.screen()` (the configured stages, exactly as live chat), after a warm-up
round, on one core; the baseline loops over a list of risk terms with `in` on the same texts.
Each round gives every text a unique suffix so no cache (normalisation, history) hides work.
Prints messages/s, p50 and p99 per message for both and the ratios. Targets (docs/safety.md):
p99 ≤ 2 ms and ≥ 5,000 messages/s per core. Timings are never asserted by the test suite.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TARGET_P99_MS, TARGET_RATE = 2.0, 5000
BASELINE_TERMS = ["suicide", "kill myself", "want to die", "end my life", "self harm", "cut myself", "pills", "rope",
                  "自杀", "想死", "不想活", "轻生", "跳楼", "割腕", "安眠药", "遗书", "safe account", "安全账户",
                  "don't go", "别走", "password", "密码"]


def load_items() -> list[dict]:
    items = []
    for name in ("test.jsonl", "dev.jsonl"):
        with (ROOT / "moderation" / "eval" / name).open(encoding="utf-8") as handle:
            items += [json.loads(line) for line in handle if line.strip()]
    return items


def baseline(text: str) -> bool:
    lowered = text.lower()
    return any(term in lowered for term in BASELINE_TERMS)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def run(label: str, call, inputs) -> dict:
    timings = []
    start = time.perf_counter()
    for item in inputs:
        began = time.perf_counter()
        call(item)
        timings.append(time.perf_counter() - began)
    total = time.perf_counter() - start
    return {"label": label, "n": len(inputs), "rate": len(inputs) / total,
            "p50_ms": percentile(timings, 0.5) * 1e3, "p99_ms": percentile(timings, 0.99) * 1e3}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
    import django

    django.setup()
    from moderation.pipeline import ScreeningInput, screen, stages

    items = load_items()
    print(f"stages: {', '.join(type(s).__name__ for s in stages())}; {len(items)} items x {args.rounds} rounds")

    def inputs(round_: int):
        return [ScreeningInput(text=f"{item['text']} #{round_}", direction=item["direction"],
                               language="zh-hans" if item["lang"] == "zh" else "en",
                               history=tuple(f"{h} #{round_}" for h in item.get("history", ()))) for item in items]

    for item in inputs(-1):  # warm-up: imports, compiled patterns, library load
        screen(item)
        baseline(item.text)
    gc.freeze()  # as companion/asgi.py does after start-up: long-lived objects out of full GC passes
    ours_all, base_all = [], []
    for round_ in range(args.rounds):
        batch = inputs(round_)
        ours_all.append(run("screen()", screen, batch))
        base_all.append(run("substring scan", lambda item: baseline(item.text), batch))

    def pooled(results):
        return {"rate": sum(r["rate"] for r in results) / len(results),
                "p50_ms": sorted(r["p50_ms"] for r in results)[len(results) // 2],
                "p99_ms": max(r["p99_ms"] for r in results)}

    ours, base = pooled(ours_all), pooled(base_all)
    print(f"{'':16}{'msg/s':>12}{'p50 ms':>10}{'p99 ms':>10}")
    for label, result in (("screen()", ours), ("substring scan", base)):
        print(f"{label:16}{result['rate']:>12,.0f}{result['p50_ms']:>10.3f}{result['p99_ms']:>10.3f}")
    print(f"ratio ours/baseline: throughput {ours['rate'] / base['rate']:.3f}x, p50 {ours['p50_ms'] / base['p50_ms']:.1f}x, "
          f"p99 {ours['p99_ms'] / base['p99_ms']:.1f}x")
    ok = ours["p99_ms"] <= TARGET_P99_MS and ours["rate"] >= TARGET_RATE
    print(f"{'PASS' if ok else 'FAIL'}: p99 {ours['p99_ms']:.3f} ms (target ≤ {TARGET_P99_MS}), "
          f"{ours['rate']:,.0f} msg/s (target ≥ {TARGET_RATE:,})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
