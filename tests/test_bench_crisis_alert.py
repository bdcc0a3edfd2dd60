"""bench/crisis_alert.py runs end to end and prints its table (issue #6). No timing is asserted:
the figures are for docs/performance.md, not for the test suite.

A three-user run on SQLite and the in-memory layer against both servers (the relay baseline and
the real app): every crisis message must reach every console as `case_opened` (CN-CRI-05,
CN-CRI-08: the safety team hears of each case), whatever it took.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_crisis_alert_bench_runs_and_prints_its_table(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH", "DJANGO_SETTINGS_MODULE")}
    report = tmp_path / "crisis.json"
    result = subprocess.run(
        [sys.executable, "bench/crisis_alert.py", "--users", "3", "--consoles", "2", "--warmup", "1",
         "--rounds", "1", "--duration", "1", "--timeout", "30", "--no-snapshot", "--json", str(report)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    assert "Crisis → console" in out
    assert "phase" in out and "p99" in out and "all p99" in out
    assert any(line.startswith("baseline #1") for line in out.splitlines())
    assert any(line.startswith("ours #1") for line in out.splitlines())
    assert "PASS" in out.splitlines() or "FAIL" in out.splitlines()

    data = json.loads(report.read_text())
    assert data["server"]["db_vendor"] == "sqlite"
    phases = {phase["name"]: phase for phase in data["phases"]}
    assert set(phases) == {"baseline", "ours"}
    for phase in phases.values():
        assert phase["connected"] == 3 and phase["consoles_connected"] == 2
        assert phase["sent"] == 3
        assert phase["failed"] == 0, phase["failures"]
        assert len(phase["console_ms"]) == len(phase["all_consoles_ms"]) == 3
        assert len(phase["crisis_ms"]) == len(phase["waiting_ms"]) == 3
