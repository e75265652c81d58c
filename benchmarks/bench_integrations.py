"""What the framework callbacks cost a training loop (wattprint.integrations._common).

- batch_us: one training batch's bookkeeping, as every callback does it: ``TrainingRun.batch``
  on a Hugging Face style batch of torch tensors (32 x 128 ``input_ids`` and ``attention_mask``,
  ``labels``) plus ``TrainingRun.steps(1)``; median over blocks of 1,000.
- figures_us: one ``TrainingRun.figures()`` (what a log call adds: a record cut on the caller's
  thread, with the machine's own sensors), median of 200.
- hf_step_overhead_pct: a real ``Trainer.train()`` of a tiny BERT on CPU (32 steps), with and
  without the callback, alternated; the median difference per step as a share of the step.
  Noisy on a loaded machine: read it with the load average beside it.
The tracker runs with its default sensors and the SQLite store (a fresh home), at 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from _common import emit, fresh_env, run_python

MICRO = r"""
import json, statistics, time
import torch
from wattprint.integrations._common import TrainingRun

run = TrainingRun("bench", interval_s=1.0)
run.begin()
run.epoch_begin(0)
batch = {{"input_ids": torch.randint(1, 1000, (32, 128)),
         "attention_mask": torch.ones(32, 128, dtype=torch.long), "labels": torch.zeros(32)}}
perf, block = time.perf_counter, 1000

def per_call_us(body, blocks, n):
    out = []
    for _ in range(blocks):
        t0 = perf()
        body()
        out.append((perf() - t0) / n * 1e6)
    return statistics.median(out)

def batches():
    for _ in range(block):
        run.batch(batch)
        run.steps(1)

batches()  # warm up
batch_us = per_call_us(batches, {blocks}, block)
figures_us = per_call_us(run.figures, 200, 1)
run.end()
print(json.dumps({{"batch_us": batch_us, "figures_us": figures_us}}))
"""

HF = r"""
import json, statistics, time
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments
from transformers.utils import logging as hf_logging
from wattprint.integrations.hf import WattprintCallback

hf_logging.set_verbosity_error()
torch.manual_seed(0)
rows = [{{"input_ids": torch.randint(1, 100, (32,)), "attention_mask": torch.ones(32, dtype=torch.long),
         "labels": torch.tensor(i % 2)}} for i in range(512)]

def train(with_callback):
    model = BertForSequenceClassification(BertConfig(
        vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=128, num_labels=2))
    args = TrainingArguments(output_dir="out", max_steps=32, per_device_train_batch_size=8,
                             logging_steps=8, report_to="none", use_cpu=True, disable_tqdm=True,
                             save_strategy="no")
    callbacks = [WattprintCallback(interval_s=1.0)] if with_callback else []
    trainer = Trainer(model=model, args=args, train_dataset=rows, callbacks=callbacks)
    t0 = time.perf_counter()
    trainer.train()
    return (time.perf_counter() - t0) / 32

train(False)  # warm up
without, with_ = [], []
for _ in range({rounds}):
    without.append(train(False))
    with_.append(train(True))
base = statistics.median(without)
print(json.dumps({{"step_ms": base * 1e3,
                  "overhead_pct": (statistics.median(with_) - base) / base * 100}}))
"""


def _last_json(stdout: str) -> dict[str, float]:
    """The snippet's result: its last line (the Trainer prints its logs before it)."""
    result: dict[str, float] = json.loads(stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blocks", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2, help="HF trainings with and without")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = fresh_env(Path(tmp))
        micro = _last_json(run_python(MICRO.format(blocks=args.blocks), env, Path(tmp)))
        hf = _last_json(run_python(HF.format(rounds=args.rounds), env, Path(tmp)))
    emit("integrations", {
        "batch_us": round(micro["batch_us"], 2),
        "figures_us": round(micro["figures_us"], 1),
        "hf_step_ms": round(hf["step_ms"], 2),
        "hf_step_overhead_pct": round(hf["overhead_pct"], 2),
        "load_average": round(os.getloadavg()[0], 1),
    })


if __name__ == "__main__":
    main()
