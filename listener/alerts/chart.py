"""The alert's chart: mentions per hour over the last days, the alert window shaded (PNG, matplotlib Agg)."""

from __future__ import annotations

import io
from datetime import datetime


def render_chart(details: dict, title: str = "") -> bytes | None:
    """PNG bytes of the chart stored in an alert's details; None when there is nothing to draw."""
    chart = details.get("chart") or {}
    times = [datetime.fromisoformat(t) for t in chart.get("times", [])]
    counts = chart.get("counts", [])
    if not times:
        return None
    import matplotlib

    matplotlib.use("Agg")  # no display: the chart goes into an e-mail
    from matplotlib import pyplot as plt
    from matplotlib.dates import DateFormatter

    fig, ax = plt.subplots(figsize=(7.5, 2.6), dpi=100)
    try:
        ax.bar(times, counts, width=1 / 24 * 0.9, align="edge", color="#6b8fb5", label="mentions per hour")
        start, end = (datetime.fromisoformat(t) for t in chart["window"])
        ax.axvspan(start, end, color="#d9534f", alpha=0.25, label="alert window")
        expected = details.get("expected")
        if details.get("observed") is not None:
            ax.set_title(f"observed {details['observed']:.0f} vs expected {expected:.1f} in the window",
                         fontsize=9, loc="left")
        ax.xaxis.set_major_formatter(DateFormatter("%d %b %H:%M"))
        ax.tick_params(labelsize=8)
        ax.set_xlabel("UTC", fontsize=8)
        ax.spines[["top", "right"]].set_visible(False)
        ax.legend(fontsize=8, loc="upper left", frameon=False)
        fig.autofmt_xdate()
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(fig)
