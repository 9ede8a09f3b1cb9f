#!/usr/bin/python3
"""The Python pipeline voxsex predict is measured against (issue 4, bench/README.md).

What a Python user would write: soundfile (libsndfile) to read, torchaudio to resample and to
compute the log-mel, the same TorchScript model through torch.jit.load, batched, all cores
(torch intra-op threads). It reproduces `voxsex predict DIR answers.tsv`:

- files: the audio files of DIR (same extensions, case-insensitive), sorted by path; id = file
  name without its extension; files sharing an id are skipped, as predict fails them;
- per file (preprocess()): channels averaged to mono (NaN/Inf read as 0), clamped to [-1, 1],
  resampled to the model's rate, refused like CheckAudio (shorter than 0.1 s, or no signal:
  RMS about the mean below -90 dBFS), cut into blocks of one model window (999 hops: 1,000
  frames), each block's log-mel with the model's front-end options (MelSpectrogram: periodic
  Hann, center, reflect, Slaney scale and norm, power 2, then log(x + log_offset)); when the
  model's metadata has a `vad` object, only the frames its energy VAD calls speech are kept
  (select_speech(), as src/vad.cc SelectSpeech);
- model (predict_blocks()): files in chunks of 64 in path order (predict's kChunk); a file's
  blocks are classified four at a time as they are read, the rest with its chunk; blocks sorted
  by length (stable), batches of up to 32 blocks and 8,000 padded frames, padded with zeros to a
  multiple of 16 frames, true lengths passed; a file's logits are the average of its blocks' weighted by speech frames (by all frames
  when no block has speech: BlockVotes in src/cli/predict.cc); p_female = softmax of the logits
  divided by the metadata's calibration temperature (if any); gender = 1 when p_female >= 0.5;
- output: `id<TAB>gender` lines sorted by id.

Known differences from voxsex: resampling uses torchaudio's windowed-sinc resampler where voxsex
uses soxr (HQ), so files not at the model's rate (16 kHz) get slightly different samples; the STFT
(torch vs FFTW) and sums differ in float rounding. Either can flip a file whose p_female is within
about 1e-5 of 0.5. Failing files are skipped with a message on stderr, not diagnosed as voxsex does.

Usage: reference_torchaudio.py DIR answers.tsv [--model M] [--batch-size 32] [--threads N]
"""

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import soundfile
import torch
import torchaudio

AUDIO_EXTENSIONS = {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff",
                    ".aifc", ".au", ".snd", ".caf", ".w64", ".rf64", ".voc"}
CHUNK_FILES = 64        # src/cli/predict.cc kChunk: files whose features are held at once
MAX_PENDING_BLOCKS = 4  # src/cli/predict.cc kMaxPendingBlocks: a long file's blocks per model call
MAX_WINDOW_S = 10.0     # ModelOptions::max_window_s
PAD_FRAMES = 16         # batches are padded to a multiple of this many frames
MAX_BATCH_FRAMES = 8000  # ModelOptions::max_batch_frames: padded frames per forward pass
MIN_DURATION_S = 0.1    # AudioCheckOptions::min_duration_s
SILENCE_DBFS = -90.0    # AudioCheckOptions::silence_dbfs
DEFAULT_MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models",
                             "voxsex.pt")


class Refused(Exception):
    """A file voxsex predict would fail (unreadable, too short, no signal)."""


def load_model(path):
    """The TorchScript module (eval mode) and its voxsex metadata (a dict)."""
    extra = {"voxsex.json": ""}
    module = torch.jit.load(path, map_location="cpu", _extra_files=extra)
    module.eval()
    return module, json.loads(extra["voxsex.json"])


def make_mel(front_end):
    """torchaudio MelSpectrogram with the model's front-end options (src/mel.cc matches it)."""
    return torchaudio.transforms.MelSpectrogram(
        sample_rate=front_end["sample_rate_hz"], n_fft=front_end["n_fft"],
        win_length=front_end["win_length"], hop_length=front_end["hop_length"],
        f_min=front_end["f_min_hz"], f_max=front_end["f_max_hz"], n_mels=front_end["num_mels"],
        window_fn=torch.hann_window, power=2.0, center=True, pad_mode="reflect",
        norm="slaney", mel_scale="slaney")


def select_speech(log_mel, vad):
    """(log-mel of the speech frames, number of speech frames, no_speech) of one block's log_mel
    [num_mels, num_frames] by the energy VAD (src/vad.cc SelectSpeech).

    A frame is speech when its energy (10 log10 of the sum of its mel powers from first_band up)
    is >= the loudest frame's - dynamic_range_db and >= the background_percentile-th percentile +
    margin; with fewer than min_speech_frames such frames every frame is kept (no_speech); every
    frame is kept too when the model's detector does not drop_non_speech.
    """
    first = min(vad["first_band"], log_mel.shape[0] - 1)
    power = np.exp(log_mel[first:].double().numpy()).sum(axis=0)
    energy_db = 10.0 * np.log10(np.maximum(power, 1e-30))
    t = energy_db.shape[0]
    k = int(math.floor(vad["background_percentile"] / 100.0 * (t - 1) + 0.5))  # std::lround
    background = np.partition(energy_db, k)[k]
    threshold = max(energy_db.max() - vad["dynamic_range_db"],
                    background + vad["background_margin_db"])
    frames = np.nonzero(energy_db >= threshold)[0]
    if len(frames) < vad["min_speech_frames"]:
        return log_mel, 0, True
    if not vad["drop_non_speech"]:  # the detector only measures speech
        return log_mel, len(frames), False
    return log_mel[:, torch.from_numpy(frames)].contiguous(), len(frames), False


def block_log_mel(x, mel, front_end):
    """log(mel + log_offset) [num_mels, num_frames] of one block; blocks no longer than n_fft / 2
    are zero-padded rather than reflect-padded, as src/mel.cc does."""
    half = front_end["n_fft"] // 2
    if x.numel() <= half:
        frames = 1 + x.numel() // front_end["hop_length"]
        padded = torch.nn.functional.pad(x, (half, half))
        spec = torch.stft(padded, front_end["n_fft"], front_end["hop_length"],
                          front_end["win_length"], torch.hann_window(front_end["win_length"]),
                          center=False, return_complex=True).abs().pow(2)[:, :frames]
        return torch.log(mel.mel_scale(spec) + front_end["log_offset"])
    return torch.log(mel(x) + front_end["log_offset"])


def preprocess(path, meta, mel):
    """The blocks of one file as voxsex predict computes them: a list of (log-mel [num_mels,
    frames] float32 of the speech frames, or of every frame without a VAD or speech; the number
    of frames the VAD called speech; no_speech).

    Raises Refused when predict would fail the file.
    """
    front_end = meta["front_end"]
    try:
        data, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except Exception as e:  # soundfile raises RuntimeError / LibsndfileError / OSError
        raise Refused(f"cannot read: {e}") from e
    if data.shape[0] == 0:
        raise Refused("no audio frames")
    # Downmix: mean over channels in double, NaN/Inf counting as 0 (src/audio.cc).
    data = np.where(np.isfinite(data), data, 0.0).mean(axis=1, dtype=np.float64)
    x = torch.from_numpy(np.clip(data.astype(np.float32), -1.0, 1.0))
    target = front_end["sample_rate_hz"]
    if rate != target:
        x = torchaudio.functional.resample(x, rate, target).clamp_(-1.0, 1.0)
    if x.numel() < MIN_DURATION_S * target:
        raise Refused(f"shorter than {MIN_DURATION_S} s")
    centred = x.double() - x.double().mean()
    rms = math.sqrt(float((centred * centred).mean()))
    if rms <= 0.0 or 20.0 * math.log10(rms) < SILENCE_DBFS:
        raise Refused("no signal")
    hop = front_end["hop_length"]
    block = (int(MAX_WINDOW_S * target / hop) - 1) * hop
    blocks = []
    for start in range(0, x.numel(), block):
        log_mel = block_log_mel(x[start:start + block], mel, front_end)
        if "vad" in meta:
            blocks.append(select_speech(log_mel, meta["vad"]))
        else:
            blocks.append((log_mel, log_mel.shape[1], False))
    return blocks


def padded_length(frames):
    return (frames + PAD_FRAMES - 1) // PAD_FRAMES * PAD_FRAMES


def predict_blocks(module, blocks, batch_size):
    """Logits (male, female) of each block (log-mel [num_mels, frames] of at most one window),
    batched as GenderModel::Predict does: sorted by length (stable), batches padded to a multiple
    of PAD_FRAMES; float32, as Prediction holds them."""
    order = sorted(range(len(blocks)), key=lambda i: blocks[i].shape[1])
    logits = [None] * len(blocks)
    num_mels = blocks[0].shape[0] if blocks else 0
    b = 0
    while b < len(order):
        # Up to batch_size blocks and MAX_BATCH_FRAMES padded frames (ModelOptions).
        e = b + 1
        while (e < len(order) and e - b < batch_size and
               (e - b + 1) * padded_length(blocks[order[e]].shape[1]) <= MAX_BATCH_FRAMES):
            e += 1
        batch = order[b:e]
        b = e
        padded = padded_length(blocks[batch[-1]].shape[1])
        x = torch.zeros(len(batch), 1, num_mels, padded)
        lengths = torch.tensor([blocks[i].shape[1] for i in batch], dtype=torch.int64)
        for k, i in enumerate(batch):
            x[k, 0, :, :blocks[i].shape[1]] = blocks[i]
        out = module(x, lengths).numpy()
        for k, i in enumerate(batch):
            logits[i] = (float(np.float32(out[k, 0])), float(np.float32(out[k, 1])))
    return logits


class Votes:
    """A file's logits over its blocks (src/cli/predict.cc BlockVotes)."""

    def __init__(self, frame_s):
        self.frame_s = frame_s
        self.speech = [0.0, 0.0, 0.0]  # male, female, frames
        self.other = [0.0, 0.0, 0.0]

    def add(self, logits, block):
        log_mel, n_speech, no_speech = block
        if not no_speech:
            w = (n_speech * self.frame_s) / self.frame_s
            acc = self.speech
        else:
            w = float(log_mel.shape[1])
            acc = self.other
        acc[0] += logits[0] * w
        acc[1] += logits[1] * w
        acc[2] += w

    def p_female(self, temperature):
        acc = self.speech if self.speech[2] > 0 else self.other
        return np.float32(1.0 / (1.0 + math.exp((acc[0] - acc[1]) / acc[2] / temperature)))


def list_audio(directory):
    """Audio files of `directory` (not recursive), sorted by path."""
    paths = []
    for entry in os.scandir(directory):
        if entry.is_dir() or os.path.splitext(entry.name)[1].lower() not in AUDIO_EXTENSIONS:
            continue
        paths.append(entry.path)
    return sorted(paths)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dir", help="directory of audio files")
    ap.add_argument("answers", help="output: id<TAB>gender, sorted by id")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="TorchScript model (default: %(default)s)")
    ap.add_argument("--batch-size", type=int, default=32, help="windows per forward pass")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0 = all cores)")
    args = ap.parse_args()

    t0 = time.monotonic()
    torch.set_num_threads(args.threads if args.threads > 0 else os.cpu_count())
    module, meta = load_model(args.model)
    front_end = meta["front_end"]
    temperature = meta.get("calibration", {}).get("temperature", 1.0)
    mel = make_mel(front_end)

    paths = list_audio(args.dir)
    ids = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    counts = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    frame_s = front_end["hop_length"] / front_end["sample_rate_hz"]
    answers = {}
    failed = 0
    with torch.inference_mode():
        for c in range(0, len(paths), CHUNK_FILES):
            chunk = []  # (id, votes, blocks left for the chunk's batch)
            for path, file_id in zip(paths[c:c + CHUNK_FILES], ids[c:c + CHUNK_FILES]):
                if counts[file_id] > 1:
                    print(f"[error] '{path}': id '{file_id}' is shared", file=sys.stderr)
                    failed += 1
                    continue
                try:
                    blocks = preprocess(path, meta, mel)
                except Refused as e:
                    print(f"[error] '{path}': {e}", file=sys.stderr)
                    failed += 1
                    continue
                votes = Votes(frame_s)
                full = len(blocks) // MAX_PENDING_BLOCKS * MAX_PENDING_BLOCKS
                for g in range(0, full, MAX_PENDING_BLOCKS):  # classified as they are read
                    group = blocks[g:g + MAX_PENDING_BLOCKS]
                    for logits, block in zip(predict_blocks(module, [b[0] for b in group],
                                                            args.batch_size), group):
                        votes.add(logits, block)
                chunk.append((file_id, votes, blocks[full:]))
            rest = [(v, b) for _, v, bs in chunk for b in bs]
            if rest:
                logits = predict_blocks(module, [b[0] for _, b in rest], args.batch_size)
                for lg, (v, b) in zip(logits, rest):
                    v.add(lg, b)
            answers.update({i: int(v.p_female(temperature) >= 0.5) for i, v, _ in chunk})

    with open(args.answers, "w", encoding="utf-8") as out:
        for file_id in sorted(answers, key=lambda s: s.encode("utf-8")):
            out.write(f"{file_id}\t{answers[file_id]}\n")
    secs = time.monotonic() - t0
    print(f"{len(paths)} files: {len(answers)} classified, {failed} failed ({secs:.2f} s, "
          f"{len(answers) / max(secs, 1e-9):.1f} files/s)", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
