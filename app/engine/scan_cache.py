"""A persistent cache of per-file probe results, so an unchanged folder is not re-decoded.

One JSON file per scanned root, ``cache_dir()/scans/<sha1 of the resolved root>.json``,
written atomically. It maps each file's path relative to the root (as the file
system spells it) to the ``(size, mtime_ns, inode)`` it had when probed and the
probe result, content hash included (duplicates and conflicts need it). A file
whose stat differs is probed again; files that are gone drop out on the next write.

Only results that cannot go stale unseen are kept:

* a file modified less than :data:`RACY_NS` before the scan started is not
  stored: a same-size rewrite within the file system's timestamp granularity
  (coarse kernel clock, 1-2 s on FAT/HFS+) would keep its mtime, so its entry
  could never be told from the new content (git's "racy clean" problem);
* "unreadable" results are not stored: a chmod fixes them without touching mtime.

The header records what else decides a result (the cache format, PIL's version,
the pixel and byte limits); a mismatch, or a damaged file, means an empty cache.
Pure standard library; no PIL decoding here.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from PIL import __version__ as PIL_VERSION

FORMAT = 1
RACY_NS = 2_000_000_000
_UNREADABLE = "unreadable"  # data_scan.UNREADABLE (not imported: data_scan imports this module)

Key = tuple[int, int, int]  # (size, mtime_ns, inode)


def settings(max_pixels: int | None, max_bytes: int) -> dict[str, Any]:
    """What, besides a file's bytes, decides its probe result."""
    return {"format": FORMAT, "pil": PIL_VERSION, "max_pixels": max_pixels, "max_bytes": max_bytes}


def stat_key(st: os.stat_result) -> Key:
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def cache_path(root: str | os.PathLike[str]) -> Path:
    from app.paths import cache_dir

    resolved = os.path.realpath(os.fspath(root))
    digest = hashlib.sha1(os.fsencode(resolved)).hexdigest()  # noqa: S324 - a file name, not security
    return cache_dir() / "scans" / f"{digest}.json"


def encode_result(res: tuple) -> list[Any]:
    if res[0] == "ok":
        _, digest, w, h, mode, fmt = res
        return ["ok", digest.hex(), w, h, mode, fmt]
    return list(res)


def decode_result(data: list[Any]) -> tuple:
    """The probe tuple back; raises (ValueError, TypeError, ...) on a malformed entry."""
    if data[0] == "ok":
        _, digest, w, h, mode, fmt = data
        if not (isinstance(w, int) and isinstance(h, int) and isinstance(mode, str) and isinstance(fmt, str)):
            raise TypeError("bad ok entry")
        return ("ok", bytes.fromhex(digest), w, h, mode, fmt)
    if data[0] == "bad":
        _, kind, reason = data
        if not (isinstance(kind, str) and isinstance(reason, str)):
            raise TypeError("bad bad entry")
        return ("bad", kind, reason)
    raise ValueError(f"unknown status {data[0]!r}")


def load(root: str, expected: dict[str, Any]) -> dict[str, list[Any]]:
    """``{relative path: [size, mtime_ns, inode, *encoded result]}``; {} when missing or unusable."""
    try:
        path = cache_path(root)
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    if not isinstance(obj, dict) or obj.get("settings") != expected or obj.get("root") != os.path.realpath(root):
        return {}
    entries = obj.get("entries")
    return entries if isinstance(entries, dict) else {}


def lookup(entries: dict[str, list[Any]], rel: str, key: Key) -> tuple | None:
    """The cached result for ``rel`` if its stat still matches ``key`` (and the entry is sound)."""
    hit = entries.get(rel)
    if not isinstance(hit, list) or len(hit) < 4 or tuple(hit[:3]) != key:
        return None
    try:
        return decode_result(hit[3:])
    except (ValueError, TypeError, IndexError, AttributeError):
        return None


def cacheable(key: Key, res: tuple, fresh_after_ns: int) -> bool:
    return key[1] < fresh_after_ns and not (res[0] == "bad" and res[1] == _UNREADABLE)


def save(root: str, current: dict[str, Any], entries: dict[str, list[Any]]) -> bool:
    """Write the cache atomically; False (and no error) when the cache folder is not writable."""
    from app.core.atomic import write_text_atomic

    text = json.dumps({"root": os.path.realpath(root), "settings": current, "entries": entries}, separators=(",", ":"))
    try:
        write_text_atomic(cache_path(root), text)
    except OSError:
        return False
    return True


__all__ = ["RACY_NS", "cache_path", "cacheable", "decode_result", "encode_result", "load", "lookup", "save",
           "settings", "stat_key"]  # fmt: skip
