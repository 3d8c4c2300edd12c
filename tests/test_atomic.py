"""atomic_write leaves the old file or the new one, never a broken one."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from histomammo._atomic import atomic_write


def test_smoke(tmp_path):
    target = tmp_path / "index.bin"
    with atomic_write(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"
    assert list(tmp_path.iterdir()) == [target]


def test_exception_keeps_old_file_and_removes_temp(tmp_path):
    target = tmp_path / "index.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target, "w") as f:
        f.write("half of the new")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_kill_mid_write_keeps_old_file(tmp_path):
    target = tmp_path / "index.txt"
    target.write_text("old")
    script = textwrap.dedent(
        f"""
        import os, signal
        from histomammo._atomic import atomic_write
        with atomic_write({str(target)!r}, "w") as f:
            f.write("half of the new")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    result = subprocess.run([sys.executable, "-c", script])
    assert result.returncode == -9
    assert target.read_text() == "old"


def test_exception_bad_mode(tmp_path):
    with pytest.raises(ValueError, match="'a'"), atomic_write(tmp_path / "x", "a"):
        pass


def test_written_file_has_the_permissions_open_would_give(tmp_path):
    import os
    import stat

    from histomammo._atomic import _default_mode, atomic_write

    old = os.umask(0o022)
    _default_mode.cache_clear()
    try:
        with atomic_write(tmp_path / "a.bin") as f:
            f.write(b"x")
        (tmp_path / "b.bin").write_bytes(b"x")
    finally:
        os.umask(old)
        _default_mode.cache_clear()
    mode = stat.S_IMODE((tmp_path / "a.bin").stat().st_mode)
    assert mode == stat.S_IMODE((tmp_path / "b.bin").stat().st_mode) == 0o644
