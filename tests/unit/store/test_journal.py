"""The append-only journal: durable appends, torn tails cut, damage kept aside, one writer."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.store.errors import JournalLockedError
from station.store.journal import Journal, count_pending, encode_frame, read_frames


def _payloads(n: int, start: int = 0) -> list[dict]:
    return [
        {"type": "event", "data": {"i": i, "text": "é" * (i % 5)}} for i in range(start, start + n)
    ]


def test_appended_records_come_back_in_order_in_chunks(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(_payloads(10))
    journal.append(_payloads(5, start=10))
    assert journal.pending_count == 15 and count_pending(tmp_path) == 15
    chunks = list(journal.iter_pending(chunk_size=4))
    assert [len(c) for c in chunks] == [4, 4, 4, 3]
    assert [p["data"]["i"] for c in chunks for p in c] == list(range(15))
    journal.clear()
    assert journal.pending_count == 0 and list(journal.iter_pending(chunk_size=4)) == []
    journal.close()


def test_records_appended_during_iteration_are_read_too(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(_payloads(3))
    seen = []
    for chunk in journal.iter_pending(chunk_size=2):
        seen.extend(p["data"]["i"] for p in chunk)
        if seen == [0, 1]:
            journal.append(_payloads(2, start=3))
    assert seen == [0, 1, 2, 3, 4]
    journal.close()


def test_a_torn_last_record_is_cut_on_reopen(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(_payloads(4))
    journal.close()
    pending = tmp_path / "pending.journal"
    frame = encode_frame({"type": "event", "data": {"i": 99}})
    with open(pending, "ab") as file:
        file.write(frame[: len(frame) - 3])  # a crash in the middle of an append
    reopened = Journal(tmp_path)
    assert reopened.pending_count == 4
    reopened.append(_payloads(1, start=4))  # appends must follow an intact record
    frames, valid_end, damaged = read_frames(pending)
    assert [p["data"]["i"] for _, p in frames] == [0, 1, 2, 3, 4] and not damaged
    assert valid_end == pending.stat().st_size
    reopened.close()


def test_damage_in_the_middle_is_kept_aside_not_dropped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.append(_payloads(3))
    journal.close()
    pending = tmp_path / "pending.journal"
    data = bytearray(pending.read_bytes())
    first_end = read_frames(pending)[0][0][0]
    data[first_end + 12] ^= 0xFF  # flip a byte inside the second record's payload
    pending.write_bytes(bytes(data))
    reopened = Journal(tmp_path)
    assert reopened.pending_count == 1
    kept = list(tmp_path.glob("corrupt-*.journal"))
    assert len(kept) == 1 and kept[0].stat().st_size == len(data) - first_end
    reopened.close()


def test_only_one_process_may_write_a_journal_folder(tmp_path: Path) -> None:
    first = Journal(tmp_path)
    with pytest.raises(JournalLockedError) as raised:
        Journal(tmp_path)
    assert "journal_dir" in raised.value.hint
    first.close()
    Journal(tmp_path).close()  # free again once closed


def test_rejected_records_are_kept_with_their_reason(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.reject({"type": "defect", "data": {}}, reason="unknown roll")
    journal.reject({"type": "defect", "data": {}}, reason="unknown run")
    assert journal.rejected_count() == 2
    assert journal.pending_count == 0
    journal.close()
