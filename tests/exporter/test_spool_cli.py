"""`wattprint spool` and `wattprint spool deliver`, through wattprint.cli.main."""

from __future__ import annotations

import csv
import json

from exporter_helpers import make_info, make_record

from wattprint.cli import main
from wattprint.config import load_config
from wattprint.spool import Spool, spool_dir


def test_an_empty_spool_lists_as_empty_with_exit_0(capsys):
    assert main(["spool"]) == 0
    assert "The spool is empty" in capsys.readouterr().out
    assert main(["spool", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["spool", "deliver"]) == 0
    assert "Delivered 0 file(s)" in capsys.readouterr().out


def test_list_then_deliver_to_the_configured_csv(capsys, monkeypatch, tmp_path):
    out = tmp_path / "records.csv"
    monkeypatch.setenv("WATTPRINT_CSV_PATH", str(out))
    spool = Spool(spool_dir(load_config()))
    path = spool.write("csv", make_info(), [make_record(0), make_record(1)])

    assert main(["spool"]) == 0
    text = capsys.readouterr().out
    assert "csv" in text and str(path) in text and "wattprint spool deliver" in text
    assert main(["spool", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(f["sink"], f["run_id"], f["items"], f["state"], f["path"]) for f in listed] == [
        ("csv", make_info().run_id, 3, "pending", str(path))]

    assert main(["spool", "deliver", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["delivered"] == [str(path)] and report["items"] == 3 and report["left"] == []
    with out.open(newline="") as fh:
        assert [row["seq"] for row in csv.DictReader(fh)] == ["0", "1"]
    assert main(["spool", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_deliver_says_what_failed_and_exits_1(capsys):
    spool = Spool(spool_dir(load_config()))
    path = spool.write("postgres", make_info(), [make_record(0)])
    assert main(["spool", "deliver", "--sink", "postgres"]) == 1
    text = capsys.readouterr().out
    assert f"not delivered: {path}" in text and "unknown sink 'postgres'" in text
    assert "1 file(s) remain" in text and path.exists()
