"""Human-readable lines for a run's summary and live figures (CLI and logs)."""

from __future__ import annotations

from station.pipeline.figures import PipelineFigures
from station.pipeline.run_summary import RunSummary
from station.pipeline.station_status import StationStatus, StoreFigures


def format_figures(figures: PipelineFigures) -> str:
    """One status line: coverage, speed, throughput, latency, queues, drops, defects."""
    queues = " ".join(f"{q.name}={q.depth}/{q.capacity}" for q in figures.queues)
    return (
        f"{figures.metres_seen:.2f} m seen, {figures.metres_inspected:.2f} m inspected, "
        f"{figures.metres_uninspected:.2f} m not inspected | "
        f"{figures.lines_per_s:.0f} lines/s ({figures.web_speed_m_per_min:.1f} m/min), "
        f"{figures.tiles_per_s:.1f} tiles/s, latency {figures.latency_s:.2f} s "
        f"(max {figures.max_latency_s:.2f}) over {figures.rate_window_s:.0f} s | "
        f"queues {queues} | dropped: source {figures.source_dropped_blocks} blocks, "
        f"{figures.dropped_rows} rows | defects {figures.defects}"
    )


def format_age(seconds: float | None) -> str:
    """``42 s``, ``3.5 min`` or ``2.0 h`` (``-`` when unknown)."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_bytes(count: int | None) -> str:
    """``812 MB``, ``12.3 GB`` (``?`` when unknown)."""
    if count is None:
        return "?"
    if count >= 10**9:
        return f"{count / 10**9:.1f} GB"
    return f"{count / 10**6:.0f} MB"


def format_store(store: StoreFigures) -> str:
    """The store part of the status line: database, journal, writer queue, image disk."""
    if store.database_online is None:
        database = "database closed"
    elif store.database_online:
        database = "database online"
    else:
        database = f"DATABASE UNREACHABLE for {format_age(store.offline_for_s)}"
    journal = f"journal {store.journal_records} record(s)"
    if store.journal_records:
        journal += f", oldest {format_age(store.journal_oldest_age_s)}"
    return (
        f"{database}, {journal}, store queue {store.queued}, {store.dropped} dropped | "
        f"image disk {format_bytes(store.image_disk_free_bytes)} free"
    )


def format_status(status: StationStatus) -> str:
    """The ``station run`` status line: the pipeline's figures and the store's state."""
    offline = " | STARTED WITHOUT ITS DATABASE" if status.offline_start else ""
    return f"{format_figures(status.figures)} | {format_store(status.store)}{offline}"


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


def format_status_block(status: StationStatus, *, source: str) -> str:
    """``station status``'s block for a running station (``source``: where it was read)."""
    figures, store = status.figures, status.store
    queues = ", ".join(f"{q.name} {q.depth}/{q.capacity}" for q in figures.queues)
    if store.database_online is None:
        database = "closed"
    elif store.database_online:
        database = f"{store.url}, online"
    else:
        database = f"{store.url}, UNREACHABLE for {format_age(store.offline_for_s)}"
    if status.offline_start:
        database += " (started without it: store.allow_offline_start)"
    journal = f"{store.journal_records} record(s) waiting"
    if store.journal_records:
        journal += f", oldest {format_age(store.journal_oldest_age_s)}"
    rows = [
        f"station {status.station}: {status.state} (read from {source})",
        f"  web            {figures.metres_seen:.2f} m seen, {figures.metres_inspected:.2f} m "
        f"inspected, {figures.metres_uninspected:.2f} m not inspected",
        f"  speed          {figures.lines_per_s:.0f} lines/s "
        f"({figures.web_speed_m_per_min:.1f} m/min), {figures.tiles_per_s:.1f} tiles/s "
        f"(over {figures.rate_window_s:.0f} s)",
        f"  latency        {figures.latency_s:.2f} s (max {figures.max_latency_s:.2f} s)",
        f"  queues         {queues}",
        f"  dropped        {figures.source_dropped_blocks} source block(s), "
        f"{figures.dropped_rows} tile row(s)",
        f"  defects        {figures.defects}",
        f"  database       {database}",
        f"  journal        {journal}",
        f"  store queue    {store.queued} record(s), {store.dropped} dropped",
        f"  image disk     {format_bytes(store.image_disk_free_bytes)} free",
    ]
    return "\n".join(rows)
