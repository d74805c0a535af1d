"""The update side store of an index directory: changes since the build, applied when a retriever opens.

A built index is never patched in place. Changes go to a side store next to it, which every retriever
applies when it opens the index:
- `updates.jsonl`: passages added since the build, one JSON object a line, like `passages.jsonl`; a pid
  that is already indexed means the passage was replaced;
- `deleted.json`: a JSON list of pids removed since the build.
Deletions win over older additions; adding a deleted pid again takes it out of `deleted.json`.
`manifest.json` keeps the counts under "updates". Rebuilding the index (`rebuild_index` in build.py)
folds the side store into a fresh index and removes it.

Simplified: one writer at a time (no file lock); each change rewrites the side store files atomically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.atomic import write_json_atomic, write_text_atomic
from core.errors import ConfigError, DataError, RunFormatError
from data.loaders import Passage, load_corpus
from retrieval.indexdir import MANIFEST_FILE, PASSAGES_FILE, passages_jsonl, read_manifest

UPDATES_FILE = "updates.jsonl"
DELETED_FILE = "deleted.json"


@dataclass
class SideStore:
    """The changes since an index was built."""

    updates: list[Passage] = field(default_factory=list)
    """Added or replaced passages, in the order they were added (one per pid)."""
    deleted: set[str] = field(default_factory=set)
    """Pids removed from the index."""

    def changed_pids(self) -> set[str]:
        """Pids whose indexed version must be hidden: replaced or deleted."""
        return {passage.pid for passage in self.updates} | self.deleted

    def live_updates(self) -> list[Passage]:
        """Added passages that were not deleted afterwards."""
        return [passage for passage in self.updates if passage.pid not in self.deleted]


def read_side_store(index_dir: Path) -> SideStore:
    """The side store of an index directory (empty when there is none)."""
    store = SideStore()
    if (index_dir / UPDATES_FILE).is_file():
        store.updates = load_corpus(index_dir / UPDATES_FILE, allow_empty=True)
    if (index_dir / DELETED_FILE).is_file():
        try:
            store.deleted = {str(pid) for pid in json.loads((index_dir / DELETED_FILE).read_text(encoding="utf-8"))}
        except (ValueError, TypeError) as err:
            raise RunFormatError(f"{index_dir / DELETED_FILE} is not a JSON list of pids ({err})") from None
    return store


def live_passages(index_dir: Path) -> list[Passage]:
    """Every passage the index serves now: the indexed ones with the side store applied."""
    store = read_side_store(index_dir)
    passages = {p.pid: p for p in load_corpus(index_dir / PASSAGES_FILE)}
    passages.update((p.pid, p) for p in store.updates)
    return [p for pid, p in passages.items() if pid not in store.deleted]


def _write_side_store(index_dir: Path, store: SideStore) -> None:
    """Save the side store and record its counts in the manifest."""
    write_text_atomic(index_dir / UPDATES_FILE, passages_jsonl(store.updates))
    write_json_atomic(index_dir / DELETED_FILE, sorted(store.deleted))
    manifest = read_manifest(index_dir)
    manifest["updates"] = {"added": len(store.live_updates()), "deleted": len(store.deleted)}
    write_json_atomic(index_dir / MANIFEST_FILE, manifest)


def add_passages(index_dir: str | Path, passages: Sequence[Passage]) -> int:
    """Add (or replace, by pid) passages without rebuilding the index; returns how many were added."""
    index_dir = Path(index_dir)
    read_manifest(index_dir)
    if not passages:
        raise DataError("no passages to add")
    store = read_side_store(index_dir)
    by_pid = {p.pid: p for p in store.updates}
    by_pid.update((p.pid, p) for p in passages)
    store.updates = list(by_pid.values())
    store.deleted -= {p.pid for p in passages}
    _write_side_store(index_dir, store)
    return len(passages)


def delete_passages(index_dir: str | Path, pids: Sequence[str]) -> int:
    """Remove passages by pid without rebuilding the index; returns how many were removed."""
    index_dir = Path(index_dir)
    read_manifest(index_dir)
    known = {p.pid for p in live_passages(index_dir)}
    unknown = [pid for pid in pids if pid not in known]
    if unknown:
        raise ConfigError(f"pid(s) not in the index at {index_dir}: {', '.join(unknown[:5])}")
    store = read_side_store(index_dir)
    store.deleted |= set(pids)
    _write_side_store(index_dir, store)
    return len(set(pids))
