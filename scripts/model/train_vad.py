#!/usr/bin/python3
"""Trains voxsex's learned speech detector (the `segment` VAD) and writes it as TorchScript.

A frame-level speech/non-speech classifier on voxsex's log-mel frames (torchaudio's
MelSpectrogram with the options of the C++ front end, the one tests/test_mel.cc checks against):
per-band mean normalisation over the input block, then dilated Conv1d layers (a non-causal
temporal convolutional network as in S. Bai, J. Z. Kolter and V. Koltun, "An empirical evaluation
of generic convolutional and recurrent networks for sequence modeling", arXiv:1803.01271, 2018:
dilations 1, 2, 4, 8, kernel 5, so each frame's logit sees the 0.61 s centred on it) and one
logit per frame. Trained with binary cross-entropy on synthetic conversations made by
scripts/data/make_conversations.py from the train split (clean and telephone copies; the truth is
truth.tsv), with recorded noise from voxsex-data/noise and white noise added under the whole crop
at random levels so that speech must be found in noise too.

Input of the saved module: log-mel [1, num_mels, frames] (log(mel power + 1e-6)); output: speech
logits [frames].

Usage: /usr/bin/python3 scripts/model/train_vad.py --conversations DIR [DIR...] --out vad.pt
       /usr/bin/python3 scripts/model/train_vad.py --export-untrained vad0.pt [--seed S]
The second form writes the untrained network (the same initial weights the first form starts from)
for the C++ trainer, `voxsex train-vad --init vad0.pt` (the recipe, scripts/model/train_vad.sh).
Needs torch, torchaudio, soundfile (Debian 12's python3-torch 1.13).
"""
import argparse
import csv
import json
import math
import os
import random
from collections import defaultdict

import soundfile as sf
import torch
import torch.nn as nn
import torchaudio
import torchaudio.functional as AF

RATE = 16000
HOP = 160
N_MELS = 64
# The C++ front end's options (MelOptions; scripts/model/export_model.py's MEL).
MEL = dict(sample_rate_hz=RATE, n_fft=512, win_length=400, hop_length=HOP, num_mels=N_MELS,
           f_min_hz=0.0, f_max_hz=8000.0, log_offset=1e-6)


class SpeechDetector(nn.Module):
    """Per-band mean normalisation, then Conv1d (kernel 5, dilations 1-2-4-8) -> BatchNorm -> ReLU
    blocks and a 1x1 Conv1d to one speech logit per frame. [1, M, T] -> [T]."""

    def __init__(self, num_mels: int = N_MELS, channels: int = 64):
        super().__init__()
        layers = []
        c_in = num_mels
        for d in (1, 2, 4, 8):
            layers += [nn.Conv1d(c_in, channels, 5, dilation=d, padding=2 * d), nn.BatchNorm1d(channels), nn.ReLU()]
            c_in = channels
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv1d(channels, 1, 1)

    def logits(self, log_mel: torch.Tensor) -> torch.Tensor:
        x = log_mel - log_mel.mean(dim=2, keepdim=True)
        return self.out(self.body(x)).squeeze(1)  # [B, T]

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        return self.logits(log_mel)[0]


def mel_transform():
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=RATE, n_fft=512, win_length=400, hop_length=HOP, f_min=0.0, f_max=8000.0,
        n_mels=N_MELS, power=2.0, norm="slaney", mel_scale="slaney", center=True, pad_mode="reflect")


def read(path):
    x, rate = sf.read(path, dtype="float32", always_2d=True)
    x = torch.from_numpy(x.mean(axis=1))
    if rate != RATE:
        x = AF.resample(x, rate, RATE)
    return x


def truth_frames(path):
    segs = defaultdict(list)
    with open(path) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            segs[row["id"]].append((float(row["start_s"]), float(row["end_s"])))
    return segs


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--conversations", nargs="+", help="make_conversations.py outputs (train split)")
    ap.add_argument("--export-untrained", metavar="OUT",
                    help="only write the untrained detector (seeded by --seed) for `voxsex train-vad --init`")
    ap.add_argument("--noise-dir", default=os.path.join(os.path.dirname(__file__), "../../../shared/voxsex-data/noise"))
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--crop-s", type=float, default=8.0)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threshold", type=float, default=0.0,
                    help="speech logit threshold stored in the detector (chosen on dev conversations)")
    ap.add_argument("--out")
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    rng = random.Random(a.seed)
    torch.set_num_threads(1)
    if a.export_untrained:
        model = SpeechDetector()
        model.eval()
        save(torch.jit.script(model), a.export_untrained, a.threshold, {"untrained": True, "seed": a.seed})
        print(f"wrote {a.export_untrained}: untrained, {sum(p.numel() for p in model.parameters())} parameters")
        return
    if not a.conversations or not a.out:
        ap.error("--conversations and --out are required (unless --export-untrained)")

    # Audio of every conversation (clean and telephone) with its frame labels.
    items = []
    for d in a.conversations:
        truth = truth_frames(os.path.join(d, "truth.tsv"))
        for cid, segs in sorted(truth.items()):
            for sub, ext in (("clean", ".flac"), ("phone", ".wav")):
                x = read(os.path.join(d, sub, cid + ext))
                n = len(x) // HOP + 1
                y = torch.zeros(n)
                for s, e in segs:
                    y[max(0, math.ceil(s * 100 - 0.5)):min(n, math.ceil(e * 100 - 0.5))] = 1
                items.append((x, y))
    noises = []
    for name in sorted(n for n in os.listdir(a.noise_dir) if n.endswith(".opus")):
        z = read(os.path.join(a.noise_dir, name))
        if len(z) > RATE // 2:
            noises.append(z / z.pow(2).mean().sqrt().clamp(min=1e-8))
    print(f"{len(items)} recordings, {sum(len(x) for x, _ in items) / RATE / 3600:.2f} h, {len(noises)} noise clips", flush=True)

    mel = mel_transform()
    model = SpeechDetector()
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps, pct_start=0.1)
    crop = int(a.crop_s * RATE)
    loss_f = nn.BCEWithLogitsLoss()
    model.train()
    for step in range(a.steps):
        xs, ys = [], []
        for _ in range(a.batch):
            x, y = items[rng.randrange(len(items))]
            s = rng.randrange(0, max(1, len(x) - crop))
            w = x[s:s + crop].clone()
            if len(w) < crop:
                w = torch.nn.functional.pad(w, (0, crop - len(w)))
            # Background under the whole crop: recorded or white noise, 0-40 dB under the speech
            # level (-26 dBFS), or none; then a random gain.
            r = rng.random()
            if r < 0.7:
                level_db = -26.0 - rng.uniform(0.0, 40.0)
                if r < 0.5:
                    z = noises[rng.randrange(len(noises))]
                    z = z.repeat(crop // len(z) + 1)
                    o = rng.randrange(len(z) - crop + 1)
                    z = z[o:o + crop]
                else:
                    z = torch.randn(crop)
                w = w + z * (10 ** (level_db / 20))
            w = (w * 10 ** (rng.uniform(-20.0, 10.0) / 20)).clamp(-1, 1)
            f0 = s // HOP
            lab = y[f0:f0 + crop // HOP + 1]
            lab = torch.nn.functional.pad(lab, (0, crop // HOP + 1 - len(lab)))
            xs.append(w)
            ys.append(lab)
        with torch.no_grad():
            feats = torch.log(mel(torch.stack(xs)) + 1e-6)  # [B, M, T]
        lab = torch.stack(ys)[:, : feats.shape[2]]
        loss = loss_f(model.logits(feats), lab)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == a.steps - 1:
            print(f"step {step} loss {loss.item():.4f}", flush=True)
    model.eval()
    save(torch.jit.script(model), a.out, a.threshold, vars(a))
    print(f"wrote {a.out}: {sum(p.numel() for p in model.parameters())} parameters", flush=True)


def save(scripted, out, threshold, options):
    """Writes the TorchScript detector with its metadata (voxsex_vad.json, read by
    voxsex::SpeechDetector::Load)."""
    meta = {
        "format": "voxsex-speech-detector",
        "version": 1,
        "front_end": MEL,
        "threshold": threshold,
        "parameters": sum(p.numel() for p in scripted.parameters()),
        "training": {k: v for k, v in options.items() if k != "out"},
        "torch": torch.__version__,
    }
    scripted.save(out, _extra_files={"voxsex_vad.json": json.dumps(meta, indent=1)})


if __name__ == "__main__":
    main()
