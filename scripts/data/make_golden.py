#!/usr/bin/python3
"""Writes golden log-mel reference data for tests/test_mel.cc into tests/data/mel/.

Run with the system interpreter that has torch + torchaudio:
    /usr/bin/python3 scripts/data/make_golden.py [--corpus DIR] [--out DIR]

Outputs (all float32 little-endian, row-major, no header; shapes in manifest.json):
  fbank.bin                 torchaudio.functional.melscale_fbanks(n_freqs=257, f_min=0, f_max=8000,
                            n_mels=64, sample_rate=16000, norm="slaney", mel_scale="slaney"),
                            transposed to [num_mels x n_freqs] as voxsex::MelFilterbank returns it.
  <name>.samples.bin        the input signal fed to both torch and the C++ test.
  <name>.logmel.bin         log(MelSpectrogram(...)(x) + 1e-6), transposed to [num_frames x num_mels].
  manifest.json             options, torch/torchaudio versions, shapes, file names.

Signals: a seeded chirp + noise with a silent stretch (length 1 sample past a hop multiple),
lengths that hit frame-count edge cases (exactly n_fft, a hop multiple, n_fft/2 + 1, the shortest
signal torch can reflect-pad), a signal too short to reflect-pad (reference computed with
pad_mode="constant", which is what voxsex does for such signals), and 2 s of real speech: the first
id of sorted dev/targets.tsv in the voxsex-data corpus.
"""

import argparse
import json
import math
import pathlib
import sys

import torch
import torchaudio

SAMPLE_RATE = 16000
N_FFT = 512
WIN_LENGTH = 400
HOP_LENGTH = 160
N_MELS = 64
F_MIN = 0.0
F_MAX = 8000.0
LOG_OFFSET = 1e-6
SPEECH_SECONDS = 2.0


def mel_transform(pad_mode: str) -> torchaudio.transforms.MelSpectrogram:
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=SAMPLE_RATE, n_fft=N_FFT, win_length=WIN_LENGTH, hop_length=HOP_LENGTH,
        f_min=F_MIN, f_max=F_MAX, n_mels=N_MELS, window_fn=torch.hann_window, power=2.0,
        center=True, pad_mode=pad_mode, norm="slaney", mel_scale="slaney")


def log_mel(x: torch.Tensor, pad_mode: str) -> torch.Tensor:
    """x: [num_samples] float32 -> [num_frames, num_mels] float32."""
    with torch.no_grad():
        mel = mel_transform(pad_mode)(x)  # [num_mels, num_frames]
        return torch.log(mel + LOG_OFFSET).transpose(0, 1).contiguous()


def chirp_noise(num_samples: int, seed: int) -> torch.Tensor:
    """Linear chirp 100 Hz -> 7 kHz at amplitude 0.5, plus N(0, 0.01^2) noise, with 0.1 s of
    exact silence starting at 0.5 s (exercises the log floor)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(num_samples, dtype=torch.float64) / SAMPLE_RATE
    duration_s = num_samples / SAMPLE_RATE
    f0, f1 = 100.0, 7000.0
    phase = 2 * math.pi * (f0 * t + (f1 - f0) / (2 * duration_s) * t * t)
    x = 0.5 * torch.sin(phase) + 0.01 * torch.randn(num_samples, generator=g, dtype=torch.float64)
    silence = slice(int(0.5 * SAMPLE_RATE), int(0.6 * SAMPLE_RATE))
    x[silence] = 0.0
    return x.to(torch.float32)


def noise(num_samples: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.1 * torch.randn(num_samples, generator=g)).to(torch.float32)


def write_f32(path: pathlib.Path, t: torch.Tensor) -> None:
    path.write_bytes(t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes())


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent.parent
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=pathlib.Path, default=root.parent / "shared" / "voxsex-data")
    ap.add_argument("--out", type=pathlib.Path, default=root / "tests" / "data" / "mel")
    args = ap.parse_args()

    print(f"torch {torch.__version__}, torchaudio {torchaudio.__version__}")
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)

    n_freqs = N_FFT // 2 + 1
    fb = torchaudio.functional.melscale_fbanks(
        n_freqs=n_freqs, f_min=F_MIN, f_max=F_MAX, n_mels=N_MELS, sample_rate=SAMPLE_RATE,
        norm="slaney", mel_scale="slaney")  # [n_freqs, n_mels]
    write_f32(args.out / "fbank.bin", fb.transpose(0, 1))

    # (name, samples, pad_mode, description)
    signals = [
        ("chirp_noise", chirp_noise(131 * HOP_LENGTH + 1, seed=1), "reflect",
         "chirp 100 Hz-7 kHz + noise, 0.1 s silence, 131 * hop + 1 samples"),
        ("n_fft_exact", noise(N_FFT, seed=2), "reflect", "noise, exactly n_fft samples"),
        ("hop_multiple", noise(10 * HOP_LENGTH, seed=3), "reflect", "noise, 10 * hop samples"),
        ("min_reflect", noise(N_FFT // 2 + 1, seed=4), "reflect",
         "noise, n_fft/2 + 1 samples: the shortest signal torch can reflect-pad"),
        ("short_zero_pad", noise(200, seed=5), "constant",
         "noise, 200 samples <= n_fft/2: reference uses pad_mode=constant (voxsex zero-pads)"),
    ]

    targets = args.corpus / "dev" / "targets.tsv"
    # The first FLAC file of sorted dev ids: voxsex-data v2 keeps v1's dev files as FLAC (the
    # others are Opus), so this is the clip v1's first dev id gave.
    speech_id = sorted(i for i in (line.split("\t")[0] for line in targets.read_text().splitlines()
                                   if line.strip())
                       if (args.corpus / "dev" / f"{i}.flac").exists())[0]
    wav, sr = torchaudio.load(str(args.corpus / "dev" / f"{speech_id}.flac"))
    if sr != SAMPLE_RATE or wav.shape[0] != 1:
        print(f"error: {speech_id}.flac: expected mono {SAMPLE_RATE} Hz, got {wav.shape[0]} "
              f"channels at {sr} Hz", file=sys.stderr)
        return 1
    speech = wav[0, : int(SPEECH_SECONDS * SAMPLE_RATE)].contiguous()
    signals.append((
        "speech", speech, "reflect",
        f"voxsex-data dev/{speech_id}.flac (first FLAC id of sorted dev/targets.tsv; speechocean762, "
        f"CC BY 4.0, Zhang et al. 2021), first {SPEECH_SECONDS:g} s, torchaudio.load "
        "(int16 / 32768)"))

    manifest = {
        "note": "generated by scripts/data/make_golden.py, do not edit",
        "torch_version": str(torch.__version__),
        "torchaudio_version": str(torchaudio.__version__),
        "format": "raw float32 little-endian, row-major, no header",
        "options": {
            "sample_rate_hz": SAMPLE_RATE, "n_fft": N_FFT, "win_length": WIN_LENGTH,
            "hop_length": HOP_LENGTH, "num_mels": N_MELS, "f_min_hz": F_MIN, "f_max_hz": F_MAX,
            "log_offset": LOG_OFFSET, "window": "periodic hann", "power": 2.0, "center": True,
            "norm": "slaney", "mel_scale": "slaney",
        },
        "filterbank": {
            "file": "fbank.bin", "shape": [N_MELS, n_freqs],
            "reference": "torchaudio.functional.melscale_fbanks(...).T",
        },
        "signals": [],
    }
    for name, x, pad_mode, description in signals:
        y = log_mel(x, pad_mode)
        write_f32(args.out / f"{name}.samples.bin", x)
        write_f32(args.out / f"{name}.logmel.bin", y)
        manifest["signals"].append({
            "name": name, "description": description, "pad_mode": pad_mode,
            "num_samples": int(x.numel()), "samples_file": f"{name}.samples.bin",
            "logmel_file": f"{name}.logmel.bin", "logmel_shape": list(y.shape),
        })
        print(f"{name}: {x.numel()} samples -> log-mel {list(y.shape)}")

    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    total = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({total / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
