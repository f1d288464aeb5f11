"""The README's Python blocks run as written (in a fresh folder)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no Python block"
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        scope = {}
        exec(compile(code, str(README), "exec"), scope)      # noqa: S102 - our own README
    assert (tmp_path / "runs" / "readme_vca" / "summary.json").exists()
    assert (tmp_path / "runs" / "readme_vca_s1" / "summary.json").exists()
