"""The `/stats` chart: milliseconds to draw it (target ≤ 500 ms, issue 10) and its size.

`/stats` draws its chart inside the bus's transaction, so the drawing time adds to the
coordinator's wait. Prints the first drawing (it imports matplotlib), then the median and the
slowest of the following ones, and the PNG's size, for each language.

    .venv/bin/python tests/bench/bench_charts.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from adapters.charts import render_chart  # noqa: E402
from bots.app import build_services  # noqa: E402
from core.context import Context  # noqa: E402
from core.figure_chart import figures_chart  # noqa: E402
from core.model import Figures  # noqa: E402

TARGET_MS = 500.0
FIGURES = Figures(
    students=1240, mentors=580, vetted_mentors=410, active_mentors=330, coordinators=27,
    schools=15, active_matches=610, ended_matches=480, average_days=47.3, relayed=53210,
    influenced=380, influence_answers=520, first_response_hours=6.4, answered_matches=1000,
    waiting_matches=9,
)


def main(rounds: int) -> None:
    ctx = Context(None, build_services(), datetime(2026, 9, 1, tzinfo=UTC))  # type: ignore[arg-type]
    for lang in ("fr", "en"):
        shown = dict(scope="École secondaire Saint-Joseph", period="2025-07-01 — 2026-06-30",
                     response="6,4 h", days="47")
        spec = figures_chart(ctx, lang, FIGURES, shown)
        start = time.perf_counter()
        data = render_chart(spec)
        first = (time.perf_counter() - start) * 1000
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            render_chart(spec)
            times.append((time.perf_counter() - start) * 1000)
        median = statistics.median(times)
        verdict = "ok" if median <= TARGET_MS else "SLOW"
        print(f"{lang}: first {first:.0f} ms; then median {median:.0f} ms, slowest "
              f"{max(times):.0f} ms over {rounds} ({verdict}, target {TARGET_MS:.0f} ms); "
              f"{len(data) / 1024:.0f} KiB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
