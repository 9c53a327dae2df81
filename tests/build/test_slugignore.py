"""`.slugignore`: gitignore-like patterns deleting source files before the build."""

import os
from pathlib import Path

from pyroku.build import apply_slugignore


def make(root: Path, names: list[str]) -> None:
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")


def remaining(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def test_patterns(tmp_path: Path) -> None:
    make(tmp_path, ["README.md", "docs/a.md", "docs/b.txt", "src/app.py", "src/docs/keep.txt", "tests/t.py",
                    "src/tests/t.py", "data/big.csv", "data/small.json", "deep/a/b/c.log", "build/out/x"])
    removed = apply_slugignore(tmp_path, "# comment\n*.md\n/docs/\ntests/\n/data/*.csv\n**/*.log\n!README.md\nbuild\n")
    assert remaining(tmp_path) == {"src/app.py", "src/docs/keep.txt", "data/small.json"}
    assert "docs" in removed and "tests" in removed and "src/tests" in removed


def test_symlinks_are_removed_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    make(outside, ["precious.md"])
    app = tmp_path / "app"
    make(app, ["keep.py"])
    os.symlink(outside, app / "linked")
    apply_slugignore(app, "linked\n*.md\n")
    assert (outside / "precious.md").exists()
    assert not (app / "linked").exists() and (app / "keep.py").exists()
