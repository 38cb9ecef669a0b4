"""Human-readable lines for a run's summary and live figures (CLI and logs)."""

from __future__ import annotations

from station.pipeline.figures import PipelineFigures
from station.pipeline.run_summary import RunSummary


def format_figures(figures: PipelineFigures) -> str:
    """One status line: speed, throughput, queues, drops, latency."""
    queues = " ".join(f"{q.name}={q.depth}/{q.capacity}" for q in figures.queues)
    return (
        f"{figures.metres_seen:.2f} m seen, {figures.metres_inspected:.2f} m inspected | "
        f"{figures.lines_per_s:.0f} lines/s ({figures.web_speed_m_per_min:.1f} m/min), "
        f"{figures.tiles_per_s:.1f} tiles/s | queues {queues} | dropped: source "
        f"{figures.source_dropped_blocks} blocks, {figures.dropped_rows} rows | "
        f"latency {figures.latency_s:.2f} s (max {figures.max_latency_s:.2f}) | "
        f"defects {figures.defects}"
    )


def format_summary(summary: RunSummary) -> str:
    """A few lines that say what a run found and how well it kept up."""
    lines = [
        f"roll {summary.lot_number or '(none: no line arrived)'}",
        f"  web seen        {summary.metres_seen:.3f} m",
        f"  inspected       {summary.metres_inspected:.3f} m",
        f"  not inspected   {summary.metres_uninspected:.3f} m in {len(summary.stretches)} "
        "stretch(es)",
        f"  defects         {summary.defect_count} ({summary.points} points)",
        f"  dropped         {summary.source_dropped_blocks} source block(s), "
        f"{summary.dropped_rows} tile row(s)",
        f"  throughput      {summary.mean_lines_per_s:.0f} lines/s, "
        f"{summary.mean_tiles_per_s:.1f} tiles/s",
    ]
    for stretch in summary.stretches[:10]:
        lines.append(
            f"  gap {stretch.from_mm / 1000:.3f}-{stretch.to_mm / 1000:.3f} m: "
            + "; ".join(stretch.reasons)
        )
    if len(summary.stretches) > 10:
        lines.append(f"  ... and {len(summary.stretches) - 10} more gap(s) (see the store)")
    if summary.writer is not None:
        writer = summary.writer
        lines.append(
            f"  store           {writer.acked} record(s) durable, {writer.dropped} dropped, "
            f"{writer.journal_pending} waiting in the journal"
        )
    if summary.error is not None:
        lines.append(f"  stopped by error: {summary.error}")
    return "\n".join(lines)
