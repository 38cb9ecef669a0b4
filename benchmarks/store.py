"""Defect store: writer throughput and QA query latency, SQLite vs PostgreSQL.

Prints one table. Rows:

* ``writer``: defects per second the background writer sustains: N defects are
  submitted as fast as possible into a queue large enough to hold them all, and
  the clock stops when ``flush`` reports every one durable (committed). Run with
  and without images (a crop and a heatmap PNG per defect, fsync'ed).
* ``roll page``: time of one 50-defect page of a roll (roll map order, keyset
  paging) at random depths, with 100,000 defects in the database
  (one roll of 50,000 and ten of 5,000); p50 and p99 over the repeats.
* ``roll count`` / ``unreviewed page``: counting a roll's defects; the first page
  of the plant-wide "unreviewed, newest first" list.

Ratios compare the two databases within this one run.

Usage (from the repository root)::

    python benchmarks/store.py                       # SQLite and the local PostgreSQL
    python benchmarks/store.py --writer-defects 5000 --query-repeats 200 --no-postgres
"""

from __future__ import annotations

import argparse
import io
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image
from sqlalchemy import create_engine, make_url, text

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from station.store.config import StoreConfig  # noqa: E402
from station.store.engine import create_store_engine  # noqa: E402
from station.store.migrate import upgrade_database  # noqa: E402
from station.store.records import DefectRecord, ReviewStatus, RollStart, StoredDefect  # noqa: E402
from station.store.repository import DefectRepository  # noqa: E402
from station.store.store import DefectStore  # noqa: E402
from station.store.views import DefectOrder, DefectQuery  # noqa: E402

POSTGRES_URL = os.environ.get(
    "CRAS_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
T0 = datetime(2025, 1, 1, tzinfo=UTC)


def png(seed: int, size: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (size, size), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def make_defect(roll_key: uuid.UUID, index: int, rng: random.Random) -> DefectRecord:
    return DefectRecord(
        roll_key=roll_key,
        along_mm=rng.uniform(0, 2_000_000),
        across_mm=rng.uniform(0, 1800),
        length_mm=rng.uniform(1, 300),
        width_mm=rng.uniform(1, 50),
        area_mm2=rng.uniform(1, 900),
        peak_score=rng.random(),
        points=rng.randint(1, 4),
        fabric_class=rng.choice(["denim", "twill"]),
        detected_at=T0 + timedelta(seconds=index),
    )


@contextmanager
def database(kind: str, folder: Path) -> Iterator[str]:
    """A fresh, migrated database: a SQLite file or a PostgreSQL schema (dropped afterwards)."""
    if kind == "sqlite":
        url = f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}"
        schema = None
    else:
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = (
            make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    engine = create_store_engine(url, create=True)
    upgrade_database(engine)
    engine.dispose()
    try:
        yield url
    finally:
        if schema is not None:
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def bench_writer(url: str, folder: Path, *, count: int, with_images: bool) -> float:
    """Defects per second from first submit until all are committed."""
    tag = uuid.uuid4().hex[:6]
    config = StoreConfig(
        url=url,
        image_root=folder / f"img-{tag}",
        journal_dir=folder / f"j-{tag}",
        queue_size=count + 100,
    )
    rng = random.Random(0)
    crops = [png(i, 64) for i in range(16)] if with_images else [None] * 16
    heatmaps = [png(100 + i, 64) for i in range(16)] if with_images else [None] * 16
    store = DefectStore.open(config)
    try:
        roll = store.start_roll(
            lot_number="BENCH", station="bench", fabric_type="denim", width_mm=1800
        )
        store.writer.flush(timeout_s=30)
        records = [make_defect(roll.key, i, rng) for i in range(count)]
        start = time.perf_counter()
        for i, record in enumerate(records):
            store.writer.submit_defect(record, crop_png=crops[i % 16], heatmap_png=heatmaps[i % 16])
        if not store.writer.flush(timeout_s=600):
            raise RuntimeError("writer did not finish")
        elapsed = time.perf_counter() - start
        stats = store.writer.stats()
        if stats.dropped or stats.journaled or stats.committed != count + 1:
            raise RuntimeError(f"unexpected writer stats {stats}")
        return count / elapsed
    finally:
        store.close()


def load_100k(repository: DefectRepository) -> tuple[uuid.UUID, list[uuid.UUID]]:
    """One roll with 50,000 defects and ten with 5,000; a third of them reviewed."""
    rng = random.Random(1)
    big = RollStart(
        lot_number="BIG", station="bench", fabric_type="denim", width_mm=1800, started_at=T0
    )
    others = [
        RollStart(
            lot_number=f"R{i}",
            station="bench",
            fabric_type="twill",
            width_mm=1600,
            started_at=T0 + timedelta(hours=i + 1),
        )
        for i in range(10)
    ]
    repository.write_batch([big, *others])
    index = 0
    for roll, count in [(big, 50_000)] + [(r, 5_000) for r in others]:
        for start in range(0, count, 5_000):
            batch = [
                StoredDefect(record=make_defect(roll.key, index + i, rng))
                for i in range(min(5_000, count - start))
            ]
            index += len(batch)
            repository.write_batch(batch)
    with repository.engine.begin() as connection:
        connection.execute(text("UPDATE defects SET review_status = 'confirmed' WHERE id % 3 = 0"))
        if repository.engine.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))
        else:
            connection.execute(text("ANALYZE"))
    return big.key, [r.key for r in others]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(function: Callable[[], object], repeats: int) -> list[float]:
    function()  # warm caches and the connection pool
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1000)
    return times


def bench_queries(url: str, *, repeats: int) -> dict[str, list[float]]:
    repository = DefectRepository.connect(url)
    try:
        big, _ = load_100k(repository)
        cursors: list[str | None] = [None]
        cursor = None
        while True:  # walk the big roll once to have cursors at every depth
            page = repository.find_defects(DefectQuery(roll_key=big, limit=50, cursor=cursor))
            if page.next_cursor is None:
                break
            cursors.append(page.next_cursor)
            cursor = page.next_cursor
        rng = random.Random(2)

        def random_page() -> None:
            page = repository.find_defects(
                DefectQuery(roll_key=big, limit=50, cursor=rng.choice(cursors))
            )
            assert len(page.items) == 50 or page.next_cursor is None

        unreviewed = DefectQuery(
            review_status=(ReviewStatus.UNREVIEWED,), order=DefectOrder.NEWEST, limit=50
        )
        return {
            "roll page (50 of 50,000; 100k in db)": timed(random_page, repeats),
            "roll count (50,000)": timed(
                lambda: repository.count_defects(DefectQuery(roll_key=big)), max(20, repeats // 10)
            ),
            "unreviewed page, newest first": timed(
                lambda: repository.find_defects(unreviewed), repeats
            ),
        }
    finally:
        repository.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writer-defects", type=int, default=20_000)
    parser.add_argument("--query-repeats", type=int, default=500)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    kinds = ["sqlite"] + ([] if args.no_postgres else ["postgresql"])
    rows: list[tuple[str, str, str]] = []
    writer: dict[tuple[str, bool], float] = {}
    queries: dict[str, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="store-bench-") as temp:
        folder = Path(temp)
        for kind in kinds:
            for with_images in (False, True):
                with database(kind, folder) as url:
                    writer[kind, with_images] = bench_writer(
                        url, folder, count=args.writer_defects, with_images=with_images
                    )
            with database(kind, folder) as url:
                queries[kind] = bench_queries(url, repeats=args.query_repeats)
    print(
        f"defect store benchmark; {args.writer_defects} defects per writer run, "
        f"{args.query_repeats} query repeats; {datetime.now(UTC):%Y-%m-%d}"
    )
    header = f"{'measure':<40} {'database':<11} {'value':>22} {'vs sqlite':>10}"
    print(header)
    print("-" * len(header))
    for with_images in (False, True):
        name = "writer, defects/s" + (" (+2 PNGs each)" if with_images else "")
        for kind in kinds:
            value = writer[kind, with_images]
            ratio = value / writer["sqlite", with_images]
            print(f"{name:<40} {kind:<11} {value:>22,.0f} {ratio:>9.2f}x")
    for measure in queries["sqlite"]:
        for kind in kinds:
            times = queries[kind][measure]
            p50, p99 = percentile(times, 0.5), percentile(times, 0.99)
            ratio = p99 / percentile(queries["sqlite"][measure], 0.99)
            value = f"p50 {p50:.2f} / p99 {p99:.2f} ms"
            print(f"{measure:<40} {kind:<11} {value:>22} {ratio:>9.2f}x")
    rows.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
