#!/usr/bin/python3
"""Builds the robustness suite: degraded copies of a voxsex-data split, one folder per condition.

Run with Debian's /usr/bin/python3 (python3-torch, python3-torchaudio; the `sox` command for MP3
and the pitch shift, `opusenc` from opus-tools for Opus).
Deterministic: every random draw comes from a generator seeded by the condition and file id.

    /usr/bin/python3 scripts/data/make_robustness.py --out build/robustness [--split test]
        [--every 1] [--v1-only] [--ids TARGETS]

Reads each file of the split as voxsex-data stores it (v1 dev and test files are FLAC, the rest Ogg
Opus). --v1-only keeps the files of corpus v1 (meta.tsv `v1` = yes), drawing babble from them too:
the suite it builds is the one built from v1's split, file for file. --ids keeps the files of
the split listed in a targets file (its first column), babble drawn from them too: a suite of a
selection fold of train (scripts/data/make_selection_fold.py: `--split train --ids
FOLD/selection_targets.tsv`).

Writes OUT/<condition>/<id>.wav (16-bit PCM; .mp3 and .opus for the codec conditions) and
OUT/<condition>/targets.tsv for every condition:

  clean                 the 16 kHz original
  white_{20,10,5}db     white noise at that SNR (signal and noise power over the whole file)
  pink_{20,10,5}db      pink (1/f) noise at that SNR
  babble_{20,10,5}db    the sum of four other speakers of the split (two male, two female),
                        none of them the file's own speaker, at that SNR
  noise_{20,10,5}db     recorded environmental noise (a clip of voxsex-data's noise/, ESC-10,
                        drawn per file, looped) at that SNR
  telephone             300-3400 Hz band-pass, 8 kHz, 8-bit u-law (and back to 16 kHz)
  mp3_32k               MP3 at 32 kbit/s (sox with libmp3lame)
  opus_12k              Ogg Opus at 12 kbit/s (opusenc --bitrate 12)
  pitch_up_4st          pitch raised by 4 semitones with sox's `pitch` (WSOLA time stretch and
                        resampling: the formants move up too, so it is harder than a raised
                        voice, whose formants stay)
  reverb                convolved with a synthetic room impulse response (exponentially decaying
                        noise, RT60 0.6 s, 5 ms direct path), level-matched to the original
  low_level             scaled to -35 dBFS RMS
  clipped               amplified by 20 dB and hard-clipped at full scale
  crop_1s, crop_0.5s    the 1 s / 0.5 s window with the most energy (speech, not silence)
"""
import argparse
import math
import pathlib
import shutil
import subprocess
import sys
import zlib

import torch
import torchaudio
import torchaudio.functional as AF

from id_list import read_ids

SR = 16000
SNRS = (20, 10, 5)


def seeded(condition: str, file_id: str) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(zlib.crc32(f"{condition}/{file_id}".encode()))
    return g


def power(x: torch.Tensor) -> float:
    return float(x.pow(2).mean().clamp_min(1e-12))


def mix_at_snr(speech: torch.Tensor, noise: torch.Tensor, snr_db: float) -> torch.Tensor:
    noise = noise[: speech.numel()]
    scale = math.sqrt(power(speech) / (power(noise) * 10 ** (snr_db / 10)))
    return speech + scale * noise


def pink_noise(n: int, g: torch.Generator) -> torch.Tensor:
    white = torch.randn(n, generator=g)
    spec = torch.fft.rfft(white)
    f = torch.arange(spec.numel(), dtype=torch.float32)
    f[0] = 1.0
    return torch.fft.irfft(spec / f.sqrt(), n=n)


def loop_to(x: torch.Tensor, n: int) -> torch.Tensor:
    reps = math.ceil(n / x.numel())
    return x.repeat(reps)[:n]


def telephone(x: torch.Tensor) -> torch.Tensor:
    y = AF.highpass_biquad(x, SR, 300.0)
    y = AF.lowpass_biquad(y, SR, 3400.0)
    y = AF.resample(y, SR, 8000)
    y = AF.mu_law_decoding(AF.mu_law_encoding(y.clamp(-1, 1), 256), 256)
    return AF.resample(y, 8000, SR)


def reverb(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    rt60, n = 0.6, int(0.8 * SR)
    t = torch.arange(n, dtype=torch.float32) / SR
    rir = torch.randn(n, generator=g) * torch.exp(-6.9 * t / rt60)
    rir[: int(0.005 * SR)] = 0.0
    rir[0] = 1.0
    rir = rir / rir.norm()
    size = x.numel() + n - 1
    y = torch.fft.irfft(torch.fft.rfft(x, size) * torch.fft.rfft(rir, size), size)[: x.numel()]
    return y * math.sqrt(power(x) / power(y))


def loudest_window(x: torch.Tensor, seconds: float) -> torch.Tensor:
    n = int(seconds * SR)
    if x.numel() <= n:
        return x
    energy = torch.nn.functional.avg_pool1d(x.pow(2).view(1, 1, -1), n, stride=160).view(-1)
    start = int(energy.argmax()) * 160
    return x[start:start + n]


def write_wav(path: pathlib.Path, x: torch.Tensor) -> None:
    torchaudio.save(str(path), x.clamp(-1, 1).view(1, -1), SR, encoding="PCM_S", bits_per_sample=16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=pathlib.Path, default=pathlib.Path("../shared/voxsex-data"))
    ap.add_argument("--split", default="test")
    ap.add_argument("--out", type=pathlib.Path, required=True)
    ap.add_argument("--every", type=int, default=1, help="keep every N-th file by id (a subset for CI)")
    ap.add_argument("--v1-only", action="store_true",
                    help="only the files of corpus v1 (meta.tsv v1 = yes), babble included")
    ap.add_argument("--ids", type=pathlib.Path,
                    help="only the split's files listed in this targets file (first column), babble included")
    args = ap.parse_args()
    for tool, what in (("sox", "the MP3 and pitch conditions"), ("opusenc", "the Opus condition")):
        if shutil.which(tool) is None:
            sys.exit(f"make_robustness.py: the {tool} command is needed for {what}")

    wanted = None
    if args.ids is not None:
        wanted = read_ids(args.ids, "make_robustness.py")
    meta = {}
    lines = (args.data / "meta.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t")))
        if (row["split"] == args.split and (not args.v1_only or row["v1"] == "yes")
                and (wanted is None or row["id"] in wanted)):
            meta[row["id"]] = row
    if wanted is not None and len(meta) != len(wanted):
        missing = sorted(wanted - set(meta))
        sys.exit(f"make_robustness.py: {args.ids}: {len(missing)} ids not among split {args.split}'s "
                 f"files{' of corpus v1' if args.v1_only else ''} in meta.tsv (first: {missing[0]})")
    ids = sorted(meta)
    chosen = ids[:: args.every]

    def load(i: str) -> torch.Tensor:
        paths = [args.data / args.split / f"{i}.{ext}" for ext in ("flac", "opus")]
        found = [p for p in paths if p.exists()]
        if len(found) != 1:
            sys.exit(f"make_robustness.py: expected one of {[str(p) for p in paths]}, found {len(found)}")
        x, sr = torchaudio.load(str(found[0]))
        x = x.mean(0)
        return x if sr == SR else AF.resample(x, sr, SR)

    by_gender = {g: [i for i in ids if meta[i]["gender"] == g] for g in ("0", "1")}
    noise_clips = sorted((args.data / "noise").glob("*.opus"))
    if not noise_clips:
        sys.exit(f"make_robustness.py: no noise clips in {args.data / 'noise'}")
    conditions = (["clean"] +
                  [f"{k}_{s}db" for k in ("white", "pink", "babble", "noise") for s in SNRS] +
                  ["telephone", "mp3_32k", "opus_12k", "pitch_up_4st", "reverb", "low_level",
                   "clipped", "crop_1s", "crop_0.5s"])
    for c in conditions:
        (args.out / c).mkdir(parents=True, exist_ok=True)
        (args.out / c / "targets.tsv").write_text("".join(f"{i}\t{meta[i]['gender']}\n" for i in chosen))

    for n, i in enumerate(chosen):
        x = load(i)
        speaker = meta[i]["speaker"]
        out = {"clean": x}
        for s in SNRS:
            out[f"white_{s}db"] = mix_at_snr(x, torch.randn(x.numel(), generator=seeded(f"white{s}", i)), s)
            out[f"pink_{s}db"] = mix_at_snr(x, pink_noise(x.numel(), seeded(f"pink{s}", i)), s)
        # Babble: two men and two women of the split, other speakers, picked by a seeded draw.
        g = seeded("babble", i)
        talkers = []
        for gender in ("0", "0", "1", "1"):
            pool = [j for j in by_gender[gender] if meta[j]["speaker"] != speaker and j not in talkers]
            talkers.append(pool[int(torch.randint(len(pool), (1,), generator=g))])
        voices = [load(j) for j in talkers]
        babble = sum(loop_to(v, x.numel()) / math.sqrt(power(v)) for v in voices)
        for s in SNRS:
            out[f"babble_{s}db"] = mix_at_snr(x, babble, s)
        g = seeded("noise", i)
        clip, sr = torchaudio.load(str(noise_clips[int(torch.randint(len(noise_clips), (1,), generator=g))]))
        clip = AF.resample(clip.mean(0), sr, SR) if sr != SR else clip.mean(0)
        for s in SNRS:
            out[f"noise_{s}db"] = mix_at_snr(x, loop_to(clip, x.numel()), s)
        out["telephone"] = telephone(x)
        out["reverb"] = reverb(x, seeded("reverb", i))
        out["low_level"] = x * math.sqrt(10 ** (-35 / 10) / power(x))
        out["clipped"] = (x * 10.0).clamp(-1.0, 1.0)
        out["crop_1s"] = loudest_window(x, 1.0)
        out["crop_0.5s"] = loudest_window(x, 0.5)
        for c, y in out.items():
            write_wav(args.out / c / f"{i}.wav", y)
        mp3 = args.out / "mp3_32k" / f"{i}.mp3"
        subprocess.run(["sox", "-R", str(args.out / "clean" / f"{i}.wav"), "-C", "32", str(mp3)],
                       check=True)
        subprocess.run(["opusenc", "--quiet", "--serial", "1", "--bitrate", "12", str(args.out / "clean" / f"{i}.wav"),
                        str(args.out / "opus_12k" / f"{i}.opus")], check=True)
        subprocess.run(["sox", "-R", str(args.out / "clean" / f"{i}.wav"),
                        str(args.out / "pitch_up_4st" / f"{i}.wav"), "pitch", "400"], check=True)
        if (n + 1) % 50 == 0:
            print(f"{n + 1}/{len(chosen)} files", file=sys.stderr)
    print(f"wrote {len(conditions)} conditions x {len(chosen)} files to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
