"""The report's LaTeX compiled by a real pdflatex and its HTML opened in a real headless
Chromium, once each, with a project name made of every character that breaks LaTeX or HTML.

pdflatex comes from Debian's texlive-latex-base (`make test` runs tools/report_test_deps.sh);
Chromium and its driver as for the dashboard's browser tests (tests/dashboard/browser.py).
Screenshots: tests/dashboard/artifacts/report-light.png, report-dark.png and report-phone.png.
"""

from __future__ import annotations

import shutil
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import reportkit

from wattprint.advice.report import build_report, render
from wattprint.store import open_repository

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "dashboard"))
import browser  # noqa: E402

HOSTILE = "paper_x %&#${}~^\\ <b>&amp;</b> \"q\" 'é' 中"
# every printable ASCII punctuation mark, accents, a ligature, a dash, an emoji, a tab
EVERY = string.punctuation + " àçéßøÆœ ﬁ – 😀\tend"
NO_PDFLATEX = ("the report's LaTeX test needs pdflatex: run `make test` (it runs "
               "tools/report_test_deps.sh), or `sudo apt-get install -y --no-install-recommends "
               "texlive-latex-base`")


def _report(tmp_path: Path, fmt: str) -> dict[str, Any]:
    path = tmp_path / "wattprint.db"
    reportkit.store_run(path, project=HOSTILE, experiment="exp_1 {a} ~b")
    repo = open_repository(path)
    try:
        return build_report(repo, reportkit.RUN_ID, store=str(path), version="0.1.0", fmt=fmt)
    finally:
        repo.close()


def _pdflatex(tex: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("pdflatex")
    if exe is None:
        pytest.fail(NO_PDFLATEX, pytrace=False)
    return subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "-no-shell-escape",
                           tex.name], cwd=tex.parent, capture_output=True, text=True,
                          timeout=120, check=False)


def test_the_latex_report_and_fragment_compile_with_pdflatex(tmp_path: Path) -> None:
    report = _report(tmp_path, "latex")
    doc = tmp_path / "report.tex"
    doc.write_text(render(report, "latex"), encoding="utf-8")
    # the fragment, pasted into the plainest document
    (tmp_path / "fragment.tex").write_text(render(report, "latex", fragment=True),
                                           encoding="utf-8")
    paper = tmp_path / "paper.tex"
    paper.write_text("\\documentclass{article}\n\\usepackage[utf8]{inputenc}\n"
                     "\\begin{document}\n\\input{fragment.tex}\n\\end{document}\n",
                     encoding="utf-8")
    for tex in (doc, paper):
        done = _pdflatex(tex)
        log = tex.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
        assert done.returncode == 0, log[-3000:]
        pdf = tex.with_suffix(".pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 5000
        assert "Missing character" not in log and "Undefined control sequence" not in log
    # the hostile name was set as text: its pieces are in the document's words
    text = doc.read_text(encoding="utf-8")
    assert r"paper\_x \%\&\#\$\{\}\textasciitilde{}" in text


def test_every_punctuation_mark_in_a_name_compiles(tmp_path: Path) -> None:
    path = tmp_path / "wattprint.db"
    reportkit.store_run(path, project=EVERY, experiment=EVERY[::-1])
    repo = open_repository(path)
    try:
        report = build_report(repo, reportkit.RUN_ID, store=str(path), version="0.1.0")
    finally:
        repo.close()
    doc = tmp_path / "every.tex"
    doc.write_text(render(report, "latex"), encoding="utf-8")
    done = _pdflatex(doc)
    log = doc.with_suffix(".log").read_text(encoding="utf-8", errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert "Missing character" not in log


def test_the_html_report_renders_offline_in_chromium(tmp_path: Path) -> None:
    report = _report(tmp_path, "html")
    page = tmp_path / "report.html"
    page.write_text(render(report, "html"), encoding="utf-8")
    driver = browser.start_driver(tmp_path / "downloads")
    try:
        for dark, name in ((False, "report-light"), (True, "report-dark")):
            browser.emulate(driver, dark=dark, metrics=browser.DESKTOP)
            driver.get(page.as_uri())
            title = driver.find_element("css selector", "h1").text
            assert title.startswith("Energy and emissions of run 3f9c2a1b (paper_x %&#${}~^\\ "
                                    "<b>&amp;</b>")
            # nothing fetched from anywhere: no resource entries, no blocked loads
            loaded = driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)")
            assert loaded == []
            assert browser.console_errors(driver) == []
            # both charts drawn, with their accessible names
            charts = driver.find_elements("css selector", "svg.chart")
            assert [c.get_attribute("aria-labelledby") for c in charts] == [
                "energy-title energy-desc", "power-title power-desc"]
            lines = driver.find_elements("css selector", "svg.chart polyline")
            assert len(lines) == 3  # gpu, cpu, ram
            bg = driver.execute_script(
                "return getComputedStyle(document.body).backgroundColor")
            assert bg == ("rgb(22, 22, 22)" if dark else "rgb(255, 255, 255)")
            assert browser.axe_violations(driver) == []
            browser.screenshot(driver, name)
        # on a phone the page does not scroll sideways: wide tables scroll in their own region
        browser.emulate(driver, dark=False, metrics=browser.PHONE)
        driver.get(page.as_uri())
        widths = driver.execute_script("const e = document.documentElement;"
                                       "return [e.scrollWidth, e.clientWidth]")
        assert widths == [browser.PHONE["width"]] * 2
        assert browser.axe_violations(driver) == []
        browser.screenshot(driver, "report-phone")
    finally:
        driver.quit()
