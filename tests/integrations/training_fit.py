"""The small fit the Keras and Lightning callback tests share: its shape (two epochs of four
training batches and two validation batches of token rows; the tests' ticker moves the fake
clock 1 s a training batch, 0.5 s a validation batch) and what a tracked fit's summary says."""

from __future__ import annotations

import pytest

SAMPLES, BATCH, EPOCHS, SEQ, VAL = 8, 2, 2, 6, 4
BATCHES = SAMPLES // BATCH  # training batches per epoch
EPOCH_S = BATCHES * 1.0 + VAL // BATCH * 0.5
TOKENS_PER_EPOCH = sum(SEQ - i % 3 for i in range(SAMPLES))  # row i has SEQ - i % 3 real tokens


def check_fit_summary(summary, tracked) -> dict[str, dict]:
    """The figures any callback's summary of this fit must hold; returns its spans by id."""
    assert summary.status == "finished"
    assert summary.energy_j["total"] == pytest.approx(tracked.cpu_w * EPOCH_S * EPOCHS)
    assert summary.emissions_g == pytest.approx(summary.energy_j["total"] * tracked.g_per_j)
    work = {w["unit"]: w["count"] for w in summary.work}
    assert work == {"steps": BATCHES * EPOCHS, "samples": SAMPLES * EPOCHS,
                    "tokens": TOKENS_PER_EPOCH * EPOCHS}
    spans = {s["span_id"]: s for s in summary.spans}
    assert sorted(spans) == ["train", "train/epoch-1", "train/epoch-1/eval", "train/epoch-2",
                             "train/epoch-2/eval"]
    return spans
