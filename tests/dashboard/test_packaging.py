"""The wheel ships the dashboard's templates and vendored static files (no CDN, no Node)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "src" / "wattprint" / "server" / "dashboard"


def test_the_chart_library_is_vendored_under_its_version_with_its_licence():
    from wattprint.server.dashboard import UPLOT_VERSION

    static = DASHBOARD / "static"
    assert (static / f"uplot-{UPLOT_VERSION}.min.js").stat().st_size > 40_000
    assert "Leon Sorokin" in (static / f"uplot-{UPLOT_VERSION}.LICENSE").read_text()
    for page in (DASHBOARD / "templates").glob("*.html"):
        assert "http://" not in page.read_text() and "https://" not in page.read_text(), page


@pytest.mark.slow
def test_the_wheel_ships_templates_and_static_files(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "ATTRIBUTION.md"):
        shutil.copy2(REPO / name, tree / name)
    shutil.copytree(REPO / "src" / "wattprint", tree / "src" / "wattprint",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                           str(tmp_path / "dist"), str(tree)],
                          capture_output=True, text=True, timeout=180)
    if done.returncode and "setuptools" in done.stderr and "satisfies the requirement" in done.stderr:
        pytest.skip("the build backend (setuptools>=77) cannot be installed offline here")
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("wattprint-*.whl")
    package = REPO / "src" / "wattprint"
    wanted = [p for folder in ("templates", "static") for p in (DASHBOARD / folder).iterdir()]
    assert len(wanted) >= 9
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for path in wanted:
            arc = "wattprint/" + path.relative_to(package).as_posix()
            assert arc in names, arc
