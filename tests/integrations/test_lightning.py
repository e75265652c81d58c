"""A real Lightning Trainer.fit() of a tiny token classifier on CPU, with the callback.

The fake clock moves 1 s per training batch and 0.5 s per validation batch under a fake 100 W
CPU; what reaches the CSV logger must equal the tracker's summary.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest
from training_fit import (
    BATCH,
    BATCHES,
    EPOCH_S,
    EPOCHS,
    SAMPLES,
    SEQ,
    TOKENS_PER_EPOCH,
    VAL,
    check_fit_summary,
)

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")

from lightning.pytorch.loggers import CSVLogger  # noqa: E402

import wattprint  # noqa: E402
from fakes.powercap import FakePowercap  # noqa: E402
from wattprint.integrations.lightning import WattprintCallback  # noqa: E402


class TokenClassifier(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.embed = torch.nn.Embedding(40, 8)
        self.head = torch.nn.Linear(8, 2)

    def forward(self, batch):
        mask = batch["attention_mask"].unsqueeze(-1).float()
        pooled = (self.embed(batch["input_ids"]) * mask).sum(1) / mask.sum(1)
        return self.head(pooled)

    def training_step(self, batch, batch_idx):
        loss = torch.nn.functional.cross_entropy(self(batch), batch["labels"])
        self.log("train_loss", loss, batch_size=len(batch["labels"]))
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.nn.functional.cross_entropy(self(batch), batch["labels"]),
                 batch_size=len(batch["labels"]))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def token_rows(n):
    rows = []
    for i in range(n):
        real = SEQ - i % 3
        mask = torch.tensor([1] * real + [0] * (SEQ - real))
        rows.append({"input_ids": torch.randint(1, 40, (SEQ,)) * mask, "attention_mask": mask,
                     "labels": torch.tensor(i % 2)})
    return rows


class Ticker(L.Callback):
    def __init__(self, clock):
        self.clock = clock

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.clock.advance(1.0)

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx,
                                dataloader_idx=0):
        self.clock.advance(0.5)


def make_trainer(tmp_path, callbacks, **options):
    return L.Trainer(max_epochs=EPOCHS, accelerator="cpu", devices=1, callbacks=callbacks,
                     logger=CSVLogger(str(tmp_path), name="logs"), log_every_n_steps=2,
                     enable_checkpointing=False, enable_progress_bar=False,
                     enable_model_summary=False, num_sanity_val_steps=0, **options)


def loaders():
    torch.manual_seed(0)
    train = torch.utils.data.DataLoader(token_rows(SAMPLES), batch_size=BATCH)
    val = torch.utils.data.DataLoader(token_rows(VAL), batch_size=BATCH)
    return train, val


def test_fit_logs_equal_the_tracker_summary(tmp_path, tracked):
    tracker = wattprint.Tracker(**tracked.settings)
    expected = []
    tracker.expect = lambda total, unit: expected.append((total, unit))  # noted, not predicted
    callback = WattprintCallback(tracker=tracker)
    trainer = make_trainer(tmp_path, [Ticker(tracked.clock), callback])
    trainer.fit(TokenClassifier(), *loaders())

    summary = callback.summary
    assert expected == [(BATCHES * EPOCHS, "steps")]  # estimated_stepping_batches
    spans = check_fit_summary(summary, tracked)
    assert spans["train/epoch-2"]["energy_j"] == pytest.approx(tracked.cpu_w * EPOCH_S)
    assert spans["train/epoch-2/eval"]["energy_j"] == pytest.approx(tracked.cpu_w * 1.0)
    assert {w["unit"]: w["count"] for w in spans["train/epoch-1"]["work"]} == {
        "steps": BATCHES, "samples": SAMPLES, "tokens": TOKENS_PER_EPOCH}

    with open(trainer.logger.log_dir + "/metrics.csv") as f:
        logged = list(csv.DictReader(f))
    rows = [r for r in logged if r.get("wattprint/energy_j")]
    energies = [(r["step"], r["epoch"], float(r["wattprint/energy_j"])) for r in rows]
    # every 2nd step (1 s a batch), each epoch's end (with its 1 s of validation), then the
    # final figures after the tracker stopped
    w = tracked.cpu_w
    assert energies == [("1", "", 2 * w), ("3", "", 4 * w), ("3", "0", 5 * w),
                        ("5", "", 7 * w), ("7", "", 9 * w), ("7", "1", 10 * w),
                        ("7", "", summary.energy_j["total"])]
    loss_steps = [r["step"] for r in logged if r.get("train_loss")]
    assert loss_steps == ["1", "3", "5", "7"]  # the same rows as Lightning's own step metrics
    final = rows[-1]
    assert float(final["wattprint/emissions_g"]) == pytest.approx(summary.emissions_g)
    assert float(final["wattprint/intensity_g_per_kwh"]) == pytest.approx(
        summary.intensity["g_per_kwh"])
    assert trainer.callback_metrics["wattprint/energy_j"].item() == pytest.approx(
        tracked.cpu_w * EPOCH_S * 2)


def test_an_exception_in_training_ends_the_run_failed(tmp_path, tracked):
    class Boom(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            if batch_idx == 1:
                raise RuntimeError("out of memory")

    callback = WattprintCallback(**tracked.settings)
    trainer = make_trainer(tmp_path, [callback, Ticker(tracked.clock), Boom()])
    with pytest.raises(RuntimeError):
        trainer.fit(TokenClassifier(), *loaders())
    assert callback.summary.status == "failed"
    assert callback.summary.energy_j["total"] == pytest.approx(tracked.cpu_w * 2.0)
    assert not callback.run.active


DDP_SCRIPT = """
import json, sys
from pathlib import Path
import lightning.pytorch as L
import torch
from wattprint.host import HostPaths
from wattprint.integrations.lightning import WattprintCallback


class Regressor(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        return torch.nn.functional.mse_loss(self.net(batch[0]), batch[1])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


if __name__ == "__main__":
    sys_root, out = sys.argv[1], Path(sys.argv[2])
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    callback = WattprintCallback(paths=HostPaths(sys=Path(sys_root)), sinks=[], country="FR")
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", devices=2, strategy="ddp",
                        callbacks=[callback], logger=False, enable_progress_bar=False,
                        enable_checkpointing=False, enable_model_summary=False)
    trainer.fit(Regressor(), torch.utils.data.DataLoader(data, batch_size=4))
    summary = callback.summary
    (out / f"rank{trainer.global_rank}.json").write_text(json.dumps({
        "job": summary.job, "devices": [c["device"] for c in summary.components],
        "work": {w["unit"]: w["count"] for w in summary.work}}))
"""


@pytest.mark.slow
def test_under_lightning_ddp_each_rank_tracks_its_share_and_the_node_is_measured_once(tmp_path):
    """Lightning's own launcher, for real: the user's process is rank 0 and sets the job's
    variables inside fit(), after the callback was made; it starts rank 1 itself. Rank 0 alone
    measures the node (here a fake RAPL package); both runs carry one job id."""
    powercap = FakePowercap(tmp_path / "sys")
    powercap.package(0, energy_uj=1_000_000)
    script = tmp_path / "train.py"
    script.write_text(DDP_SCRIPT)
    subprocess.run([sys.executable, str(script), str(powercap.sys), str(tmp_path)], check=True,
                   capture_output=True, timeout=300, cwd=tmp_path)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert [r["job"]["source"] for r in ranks] == ["lightning", "lightning"]
    assert ranks[0]["job"]["job_id"] == ranks[1]["job"]["job_id"]
    assert [r["job"]["local_rank"] for r in ranks] == [0, 1]
    assert "rapl:package-0" in ranks[0]["devices"]
    assert ranks[1]["devices"] == []  # nothing machine-wide, and no GPU here
    # the sampler splits the 32 samples: 16 a rank, 4 batches of 4
    assert [r["work"] for r in ranks] == [{"samples": 16, "steps": 4}] * 2


def test_the_lightning_callback_setting_adds_a_callback_to_every_trainer(tmp_path, monkeypatch):
    """Through Lightning's own callbacks_factory entry point (declared in pyproject.toml): the
    training script is unchanged."""
    assert not [c for c in make_trainer(tmp_path, []).callbacks
                if isinstance(c, WattprintCallback)]  # off by default
    monkeypatch.setenv("WATTPRINT_LIGHTNING_CALLBACK", "1")
    monkeypatch.setenv("WATTPRINT_SINKS", "memory")
    trainer = make_trainer(tmp_path, [])
    added = [c for c in trainer.callbacks if isinstance(c, WattprintCallback)]
    assert len(added) == 1 and added[0].automatic
    trainer.fit(TokenClassifier(), *loaders())
    summary = added[0].summary
    assert summary.status == "finished"
    assert {w["unit"]: w["count"] for w in summary.work}["samples"] == SAMPLES * EPOCHS


def test_a_callback_the_script_adds_takes_precedence_over_the_automatic_one(
        tmp_path, monkeypatch, tracked):
    monkeypatch.setenv("WATTPRINT_LIGHTNING_CALLBACK", "true")
    mine = WattprintCallback(**tracked.settings)
    trainer = make_trainer(tmp_path, [mine])
    automatic = next(c for c in trainer.callbacks if isinstance(c, WattprintCallback)
                     and c.automatic)
    trainer.fit(TokenClassifier(), *loaders())
    assert mine.summary.status == "finished" and automatic.summary is None
    assert automatic.run.tracker is None  # never started: the fit was tracked once


def test_a_bad_lightning_callback_setting_leaves_the_trainer_alone(tmp_path, monkeypatch,
                                                                   caplog):
    monkeypatch.setenv("WATTPRINT_LIGHTNING_CALLBACK", "maybe")
    with caplog.at_level("WARNING", logger="wattprint"):
        trainer = make_trainer(tmp_path, [])
    assert not [c for c in trainer.callbacks if isinstance(c, WattprintCallback)]
    assert "no callback for this Lightning Trainer" in caplog.text
    assert "WATTPRINT_LIGHTNING_CALLBACK" in caplog.text
