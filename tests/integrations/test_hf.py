"""A real Trainer.train() of a tiny BERT built from its config (no download), with the callback.

The fake clock moves 1 s per optimizer step and 0.5 s per evaluation batch, under a fake 100 W
CPU: every figure the Trainer logs is known exactly and must equal the tracker's summary.
"""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")
torch = pytest.importorskip("torch")

from transformers import (  # noqa: E402
    BertConfig,
    BertForSequenceClassification,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

import wattprint  # noqa: E402
from wattprint.integrations.hf import WattprintCallback, attach  # noqa: E402

SAMPLES, BATCH, EPOCHS, SEQ = 8, 2, 2, 6


class Ticker(TrainerCallback):
    """Moves the fake clock as training would spend time."""

    def __init__(self, clock):
        self.clock = clock

    def on_step_end(self, args, state, control, **kwargs):
        self.clock.advance(1.0)

    def on_prediction_step(self, args, state, control, **kwargs):
        self.clock.advance(0.5)


class Reporter(TrainerCallback):
    """Stands for a report_to integration: keeps what each on_log saw when it was called."""

    def __init__(self):
        self.seen = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        self.seen.append(dict(logs))


def tiny_bert():
    torch.manual_seed(0)
    config = BertConfig(vocab_size=40, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=16, num_labels=2)
    return BertForSequenceClassification(config)


def token_rows(n):
    """Rows of SEQ tokens, row i padded by i % 3 positions: 6, 5, 4, 6, 5, 4 ... real tokens."""
    rows = []
    for i in range(n):
        real = SEQ - i % 3
        mask = torch.tensor([1] * real + [0] * (SEQ - real))
        ids = torch.randint(1, 40, (SEQ,)) * mask
        rows.append({"input_ids": ids, "attention_mask": mask, "labels": torch.tensor(i % 2)})
    return rows


def make_trainer(tmp_path, callbacks):
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=BATCH,
        per_device_eval_batch_size=BATCH, num_train_epochs=EPOCHS, logging_steps=2,
        eval_strategy="epoch", save_strategy="no", report_to="none", use_cpu=True,
        disable_tqdm=True, dataloader_num_workers=0, seed=0)
    return Trainer(model=tiny_bert(), args=args, train_dataset=token_rows(SAMPLES),
                   eval_dataset=token_rows(4), callbacks=callbacks)


def test_trainer_logs_equal_the_tracker_summary(tmp_path, tracked):
    tracker = wattprint.Tracker(**tracked.settings)
    expected = []
    tracker.expect = lambda total, unit: expected.append((total, unit))  # noted, not predicted
    callback = WattprintCallback(tracker=tracker)
    reporter = Reporter()
    trainer = make_trainer(tmp_path, [reporter, Ticker(tracked.clock)])
    attach(trainer, callback)  # ahead of the reporter, as of a report_to integration
    trainer.train()

    summary = callback.summary
    steps = SAMPLES // BATCH * EPOCHS
    assert expected == [(steps, "steps")]  # the Trainer's max_steps, for the prediction
    seconds = steps * 1.0 + EPOCHS * 2 * 0.5  # 2 evaluation batches per epoch
    assert summary.status == "finished"
    assert summary.energy_j["total"] == pytest.approx(tracked.cpu_w * seconds)
    assert summary.emissions_g == pytest.approx(tracked.cpu_w * seconds * tracked.g_per_j)

    work = {w["unit"]: w["count"] for w in summary.work}
    tokens_per_epoch = sum(SEQ - i % 3 for i in range(SAMPLES))
    assert work == {"steps": steps, "samples": SAMPLES * EPOCHS,
                    "tokens": tokens_per_epoch * EPOCHS}

    spans = {s["span_id"]: s for s in summary.spans}
    assert sorted(spans) == ["train", "train/epoch-1", "train/epoch-2", "train/eval"]
    assert spans["train"]["energy_j"] == pytest.approx(summary.energy_j["total"])
    for epoch in ("train/epoch-1", "train/epoch-2"):
        assert spans[epoch]["energy_j"] == pytest.approx(tracked.cpu_w * steps / EPOCHS)
        epoch_work = {w["unit"]: w["count"] for w in spans[epoch]["work"]}
        assert epoch_work == {"steps": steps / EPOCHS, "samples": SAMPLES,
                              "tokens": tokens_per_epoch}
    assert spans["train/eval"]["count"] == EPOCHS
    assert spans["train/eval"]["energy_j"] == pytest.approx(tracked.cpu_w * EPOCHS * 1.0)
    assert not spans["train/eval"]["work"]  # evaluation batches are not training work

    # What the Trainer logged: in log_history and, through attach, in what the reporter saw.
    history = [h for h in trainer.state.log_history if "wattprint/energy_j" in h]
    assert len(history) == len(trainer.state.log_history)
    first = history[0]
    assert first["step"] == 2 and first["wattprint/energy_j"] == pytest.approx(200.0)
    final = trainer.state.log_history[-1]
    assert "train_runtime" in final
    assert final["wattprint/energy_j"] == pytest.approx(summary.energy_j["total"])
    assert final["wattprint/emissions_g"] == pytest.approx(summary.emissions_g)
    assert final["wattprint/intensity_g_per_kwh"] == pytest.approx(summary.intensity["g_per_kwh"])
    assert [s["wattprint/energy_j"] for s in reporter.seen] == [
        h["wattprint/energy_j"] for h in trainer.state.log_history]


def test_a_run_whose_training_raised_ends_failed_at_the_next_train(tmp_path, tracked):
    class Boom(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            raise RuntimeError("out of memory")

    callback = WattprintCallback(**tracked.settings)
    trainer = make_trainer(tmp_path, [callback, Boom()])
    with pytest.raises(RuntimeError):
        trainer.train()
    assert callback.run.active and callback.summary is None  # no Trainer event for a crash
    crashed = callback.run.tracker
    trainer.pop_callback(Boom)
    trainer.train()
    assert crashed.summary.status == "failed"
    assert callback.summary.status == "finished"
    assert callback.run.tracker is not crashed
