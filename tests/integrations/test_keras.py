"""A real Keras 3 model.fit() (torch backend, CPU) of a tiny token classifier, with the callback.

The fake clock moves 1 s per training batch and 0.5 s per validation batch under a fake 100 W
CPU; what the History and a CSVLogger got must equal the tracker's summary.
"""

from __future__ import annotations

import csv
import importlib
import importlib.util

import pytest
from training_fit import BATCH, BATCHES, EPOCH_S, EPOCHS, SAMPLES, SEQ, VAL, check_fit_summary

import wattprint

pytest.importorskip("torch")
np = pytest.importorskip("numpy")



@pytest.fixture
def keras(monkeypatch):
    """Keras on the torch backend, chosen here rather than for the whole test run."""
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    if importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    module = importlib.import_module("keras")
    if module.backend.backend() != "torch":
        pytest.skip(f"keras was imported earlier with the {module.backend.backend()} backend")
    return module


@pytest.fixture
def callback_class(keras):
    from wattprint.integrations.keras import WattprintCallback

    return WattprintCallback


def tiny_model(keras):
    keras.utils.set_random_seed(0)
    ids = keras.Input((SEQ,), dtype="int32", name="input_ids")
    mask = keras.Input((SEQ,), dtype="float32", name="attention_mask")
    hidden = keras.layers.Embedding(40, 8)(ids)
    hidden = keras.layers.Multiply()([hidden, keras.layers.Reshape((SEQ, 1))(mask)])
    out = keras.layers.Dense(2)(keras.layers.GlobalAveragePooling1D()(hidden))
    model = keras.Model({"input_ids": ids, "attention_mask": mask}, out)
    model.compile(optimizer="sgd",
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def token_rows(n):
    """Row i padded by i % 3 positions."""
    real = np.array([SEQ - i % 3 for i in range(n)])
    mask = (np.arange(SEQ)[None, :] < real[:, None]).astype("float32")
    ids = (np.arange(n * SEQ).reshape(n, SEQ) % 39 + 1).astype("int32") * mask.astype("int32")
    return {"input_ids": ids, "attention_mask": mask}, np.arange(n) % 2


def ticker(keras, clock):
    class Ticker(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            clock.advance(1.0)

        def on_test_batch_end(self, batch, logs=None):
            clock.advance(0.5)

    return Ticker()


def test_fit_logs_equal_the_tracker_summary(tmp_path, tracked, keras, callback_class):
    tracker = wattprint.Tracker(**tracked.settings)
    expected = []
    tracker.expect = lambda total, unit: expected.append((total, unit))  # noted, not predicted
    callback = callback_class(tracker=tracker)
    model = tiny_model(keras)
    log_path = tmp_path / "log.csv"
    history = model.fit(*token_rows(SAMPLES), batch_size=BATCH, epochs=EPOCHS, verbose=0,
                        validation_data=token_rows(VAL), shuffle=False,
                        callbacks=[callback, keras.callbacks.CSVLogger(str(log_path)),
                                   ticker(keras, tracked.clock)])

    summary = callback.summary
    assert expected == [(BATCHES * EPOCHS, "steps")]  # epochs x steps per epoch
    spans = check_fit_summary(summary, tracked)
    assert spans["train/epoch-1"]["energy_j"] == pytest.approx(tracked.cpu_w * EPOCH_S)
    assert spans["train/epoch-1/eval"]["energy_j"] == pytest.approx(tracked.cpu_w * 1.0)
    assert not spans["train/epoch-1/eval"]["work"]

    expected = [tracked.cpu_w * EPOCH_S, tracked.cpu_w * EPOCH_S * 2]
    assert history.history["wattprint/energy_j"] == pytest.approx(expected)
    with open(log_path) as f:
        rows = list(csv.DictReader(f))
    assert [float(r["wattprint/energy_j"]) for r in rows] == pytest.approx(expected)
    assert float(rows[-1]["wattprint/energy_j"]) == pytest.approx(summary.energy_j["total"])
    assert float(rows[-1]["wattprint/emissions_g"]) == pytest.approx(summary.emissions_g)
    assert float(rows[-1]["wattprint/intensity_g_per_kwh"]) == pytest.approx(
        summary.intensity["g_per_kwh"])
    assert "train_step" not in vars(model)  # the batch counter is gone after the fit


def test_a_fit_that_raised_is_ended_failed_by_the_next_fit(tracked, keras, callback_class):
    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise RuntimeError("out of memory")

    callback = callback_class(**tracked.settings)
    model = tiny_model(keras)
    with pytest.raises(RuntimeError):
        model.fit(*token_rows(SAMPLES), batch_size=BATCH, epochs=1, verbose=0,
                  callbacks=[callback, Boom()])
    crashed = callback.run.tracker
    assert callback.run.active
    model.fit(*token_rows(SAMPLES), batch_size=BATCH, epochs=1, verbose=0, callbacks=[callback])
    assert crashed.summary.status == "failed"
    assert callback.summary.status == "finished"
    assert {w["unit"]: w["count"] for w in callback.summary.work}["samples"] == SAMPLES



def test_a_compiled_train_step_is_not_wrapped_and_the_log_says_what_is_not_counted(
        tracked, keras, callback_class, caplog):
    """torch.compile (jit_compile=True) would run the counting Python once, at tracing."""
    callback = callback_class(**tracked.settings)
    model = tiny_model(keras)
    model.jit_compile = True
    callback.set_model(model)
    with caplog.at_level("WARNING", logger="wattprint"):
        callback.on_train_begin()
        callback.on_train_batch_end(0)
        callback.on_train_end()
    assert "train_step" not in vars(model)
    assert "samples and tokens are not counted under Keras' torch backend with a compiled " \
           "train_step (only steps are)" in caplog.text
    assert {w["unit"]: w["count"] for w in callback.summary.work} == {"steps": 1}
