"""minsheng/files.py: atomic replace, link-or-copy, file identity."""

from __future__ import annotations

import os
import stat

import pytest

from minsheng import files


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    dest = tmp_path / "t.txt"
    dest.write_text("old", encoding="utf-8")

    def fail(tmp):
        tmp.write_text("half", encoding="utf-8")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        files.atomic_write(dest, fail)
    assert dest.read_text(encoding="utf-8") == "old" and os.listdir(tmp_path) == ["t.txt"]  # temp removed
    assert files.atomic_write(dest, lambda tmp: tmp.write_text("new", encoding="utf-8")) == 3  # write's result
    assert dest.read_text(encoding="utf-8") == "new" and os.listdir(tmp_path) == ["t.txt"]


def test_write_json_and_text_take_a_mode(tmp_path):
    files.write_json(tmp_path / "u.json", {"用户": 1}, mode=0o600)
    assert (tmp_path / "u.json").read_text(encoding="utf-8") == '{\n  "用户": 1\n}\n'
    assert stat.S_IMODE((tmp_path / "u.json").stat().st_mode) == 0o600
    files.write_text(tmp_path / "a.txt", "甲\n")
    assert (tmp_path / "a.txt").read_text(encoding="utf-8") == "甲\n"


def test_link_or_copy_keeps_the_identity(tmp_path, monkeypatch):
    src = tmp_path / "src.parquet"
    src.write_bytes(b"x" * 100)
    files.link_or_copy(src, tmp_path / "linked")
    assert os.stat(tmp_path / "linked").st_ino == os.stat(src).st_ino

    def no_link(a, b):
        raise OSError("cross-device link")

    monkeypatch.setattr(os, "link", no_link)
    files.link_or_copy(src, tmp_path / "copied")
    assert os.stat(tmp_path / "copied").st_ino != os.stat(src).st_ino
    assert files.identity(tmp_path / "copied") == files.identity(src) == (100, os.stat(src).st_mtime_ns)
    assert files.identity(tmp_path / "missing") is None
