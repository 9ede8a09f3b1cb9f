#!/usr/bin/python3
"""Defines the voxsex CNN and exports it, untrained, as TorchScript with voxsex metadata.

Run with Debian's /usr/bin/python3 (python3-torch). The exported file is what `voxsex train --init`
loads; training itself happens in C++ (src/train.cc). Usage:

    /usr/bin/python3 scripts/model/export_model.py models/voxsex-untrained.pt [--seed 0]

The architecture is a small x-vector-style time-delay network (1-D convolutions over time with the
mel bands as channels, https://www.danielpovey.com/files/2018_icassp_xvectors.pdf) with masked
statistics pooling (mean and standard deviation over the valid frames), so it takes log-mel of any
length together with the true lengths.
"""
import argparse
import json
import sys

import torch
from torch import nn

MEL = dict(sample_rate_hz=16000, n_fft=512, win_length=400, hop_length=160, num_mels=64,
           f_min_hz=0.0, f_max_hz=8000.0, log_offset=1e-6)


def masked_statistics(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean and standard deviation over time of x [batch, channels, frames] whose frames past
    lengths [batch] are zero -> [batch, 2 * channels]."""
    n = lengths.to(x.dtype).view(-1, 1)
    mean = x.sum(dim=2) / n
    var = (x * x).sum(dim=2) / n - mean * mean
    std = torch.sqrt(var.clamp(min=1e-5))
    return torch.cat([mean, std], dim=1)


class ConvBlock(nn.Module):
    """Conv1d -> BatchNorm1d -> ReLU over [batch, channels, frames]; padded frames are zeroed."""

    def __init__(self, c_in: int, c_out: int, kernel: int, dilation: int = 1, stride: int = 1):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride=stride, dilation=dilation,
                              padding=dilation * (kernel - 1) // 2, bias=False)
        self.bn = nn.BatchNorm1d(c_out)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x))) * mask


class GenderHead(nn.Module):
    """forward and fine_logits of the networks with a gender or gender x age head; a subclass
    sets age_classes and defines head_logits(log_mel, lengths) -> [batch, 4] or [batch, 2]."""

    age_classes: bool

    def forward(self, log_mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        z = self.head_logits(log_mel, lengths)
        if self.age_classes:  # [B, 4] = [B, age, gender] -> logsumexp over age -> [B, 2]
            return torch.logsumexp(z.view(-1, 2, 2), dim=1)
        return z

    @torch.jit.export
    def fine_logits(self, log_mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits [batch, 4] over FINE_LABELS (head "gender_age"); [batch, 2] otherwise."""
        return self.head_logits(log_mel, lengths)

    def head_logits(self, log_mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class VoxSexNet(GenderHead):
    """Speaker-gender classifier.

    forward(log_mel [batch, 1, num_mels, num_frames] float32, lengths [batch] int64)
      -> logits [batch, 2] (index 0 = male, 1 = female).
    band_mean / band_std [num_mels] are per-band normalisation statistics set by training.

    With age_classes (head "gender_age"), the network classifies gender x age group:
    fine_logits(log_mel, lengths) -> logits [batch, 4] (FINE_LABELS order), and forward returns the
    gender logits logsumexp over the age groups, so that softmax(forward) is the sum of the fine
    probabilities of each gender. `voxsex train` trains fine_logits when the model has it (it needs
    each file's age group); predict, calibrate and ensembles use forward only.
    """

    def __init__(self, num_mels: int = 64, channels: int = 128, embed: int = 256,
                 hidden: int = 128, dropout: float = 0.2, age_classes: bool = False):
        super().__init__()
        self.age_classes = age_classes
        self.register_buffer("band_mean", torch.zeros(num_mels))
        self.register_buffer("band_std", torch.ones(num_mels))
        self.stem = ConvBlock(num_mels, channels, 5, stride=2)
        self.block1 = ConvBlock(channels, channels, 3, dilation=1)
        self.block2 = ConvBlock(channels, channels, 3, dilation=2)
        self.block3 = ConvBlock(channels, channels, 3, dilation=3)
        self.expand = ConvBlock(channels, embed, 1)
        self.fc = nn.Linear(2 * embed, hidden)
        self.fc_bn = nn.BatchNorm1d(hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 4 if age_classes else 2)

    def head_logits(self, log_mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = log_mel.squeeze(1)  # [B, M, T]
        x = (x - self.band_mean.view(1, -1, 1)) / self.band_std.view(1, -1, 1)
        t_in = x.size(2)
        frames = torch.arange(t_in, device=x.device).view(1, -1)
        mask = (frames < lengths.view(-1, 1)).to(x.dtype).unsqueeze(1)  # [B, 1, T]
        x = x * mask
        # stride 2, kernel 5, padding 2: ceil(len / 2) valid output frames
        lengths2 = torch.div(lengths + 1, 2, rounding_mode="floor").clamp(min=1)
        t2 = (t_in + 1) // 2
        frames2 = torch.arange(t2, device=x.device).view(1, -1)
        mask2 = (frames2 < lengths2.view(-1, 1)).to(x.dtype).unsqueeze(1)
        x = self.stem(x, mask2)
        x = x + self.block1(x, mask2)
        x = x + self.block2(x, mask2)
        x = x + self.block3(x, mask2)
        x = self.expand(x, mask2)  # [B, E, T2]
        h = masked_statistics(x, lengths2)
        return self.out(self.dropout(torch.relu(self.fc_bn(self.fc(h)))))


class Conv2dBlock(nn.Module):
    """Conv2d 3x3 -> BatchNorm2d -> ReLU over [batch, channels, mels, frames]; padded frames zeroed."""

    def __init__(self, c_in: int, c_out: int, stride_f: int, stride_t: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, stride=(stride_f, stride_t), padding=1, bias=False)
        self.bn = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x))) * mask


def time_mask(lengths: torch.Tensor, t: int, dtype: torch.dtype) -> torch.Tensor:
    frames = torch.arange(t, device=lengths.device).view(1, -1)
    return (frames < lengths.view(-1, 1)).to(dtype)  # [B, T]


class VoxSexCNN2d(nn.Module):
    """Speaker-gender classifier: a 2-D CNN over the log-mel image, frequency flattened into
    channels, then masked statistics pooling over time.

    forward(log_mel [batch, 1, num_mels, num_frames] float32, lengths [batch] int64)
      -> logits [batch, 2] (index 0 = male, 1 = female).
    """

    def __init__(self, num_mels: int = 64, embed: int = 256, hidden: int = 128,
                 dropout: float = 0.2):
        super().__init__()
        self.register_buffer("band_mean", torch.zeros(num_mels))
        self.register_buffer("band_std", torch.ones(num_mels))
        self.b0 = Conv2dBlock(1, 16, 1, 1)
        self.b1 = Conv2dBlock(16, 32, 2, 2)
        self.b2 = Conv2dBlock(32, 64, 2, 1)
        self.b3 = Conv2dBlock(64, 64, 2, 2)
        self.proj = ConvBlock(64 * (num_mels // 8), embed, 1)
        self.fc = nn.Linear(2 * embed, hidden)
        self.fc_bn = nn.BatchNorm1d(hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 2)

    def forward(self, log_mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = (log_mel - self.band_mean.view(1, 1, -1, 1)) / self.band_std.view(1, 1, -1, 1)
        t = x.size(3)
        m = time_mask(lengths, t, x.dtype)
        x = x * m.view(m.size(0), 1, 1, -1)
        x = self.b0(x, m.view(m.size(0), 1, 1, -1))
        l2 = torch.div(lengths - 1, 2, rounding_mode="floor") + 1
        t2 = (t - 1) // 2 + 1
        m2 = time_mask(l2, t2, x.dtype).view(x.size(0), 1, 1, -1)
        x = self.b1(x, m2)
        x = self.b2(x, m2)
        l4 = torch.div(l2 - 1, 2, rounding_mode="floor") + 1
        t4 = (t2 - 1) // 2 + 1
        m4 = time_mask(l4, t4, x.dtype).view(x.size(0), 1, 1, -1)
        x = self.b3(x, m4)
        x = x.flatten(1, 2)  # [B, C * F, T4]
        x = self.proj(x, m4.view(x.size(0), 1, -1))
        h = masked_statistics(x, l4)
        return self.out(self.dropout(torch.relu(self.fc_bn(self.fc(h)))))


class SERes2Block(nn.Module):
    """ECAPA-TDNN's SE-Res2Block (Desplanques et al. 2020, https://arxiv.org/abs/2005.07143, fig. 2):
    Conv1d 1x1 -> BatchNorm -> ReLU -> Res2 (scale groups, each a dilated Conv1d k3 fed by the
    previous group's output) -> Conv1d 1x1 -> BatchNorm -> ReLU -> squeeze-excitation (the mean over
    the valid frames) -> + input. [batch, channels, frames] -> the same; padded frames stay zero."""

    def __init__(self, channels: int, dilation: int, scale: int = 4, se_bottleneck: int = 64):
        super().__init__()
        self.scale = scale
        width = channels // scale
        self.pre = ConvBlock(channels, channels, 1)
        self.res2 = nn.ModuleList([ConvBlock(width, width, 3, dilation=dilation)
                                   for _ in range(scale - 1)])
        self.post = ConvBlock(channels, channels, 1)
        self.se_down = nn.Linear(channels, se_bottleneck)
        self.se_up = nn.Linear(se_bottleneck, channels)

    def forward(self, x: torch.Tensor, mask: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        y = self.pre(x, mask)
        groups = torch.chunk(y, self.scale, dim=1)
        outs = [groups[0]]
        prev = groups[0]
        i = 0
        for conv in self.res2:
            g = groups[i + 1]
            prev = conv(g if i == 0 else g + prev, mask)
            outs.append(prev)
            i += 1
        y = self.post(torch.cat(outs, dim=1), mask)
        s = y.sum(dim=2) / n  # [B, C] mean over the valid frames
        s = torch.sigmoid(self.se_up(torch.relu(self.se_down(s))))
        return x + y * s.unsqueeze(2)


class VoxSexECAPA(GenderHead):
    """Speaker-gender classifier after ECAPA-TDNN (Desplanques et al. 2020,
    https://arxiv.org/abs/2005.07143), sized for a 2-core CPU.

    forward(log_mel [batch, 1, num_mels, num_frames] float32, lengths [batch] int64)
      -> logits [batch, 2] (index 0 = male, 1 = female); fine_logits as VoxSexNet's (head
    "gender_age"). Per-band normalisation (band_mean / band_std, set by training), then, with
    utterance_cmn, each band's mean over the utterance's valid frames is subtracted (cepstral-mean
    style normalisation against the channel); Conv1d k5 stride 2 stem (50 frames/s) -> three
    SE-Res2 blocks (dilation 2, 3, 4) -> multi-layer feature aggregation (the blocks' outputs
    concatenated, Conv1d 1x1) -> channel- and context-dependent attentive statistics pooling ->
    BatchNorm -> Linear -> BatchNorm -> ReLU -> Dropout -> Linear.
    """

    def __init__(self, num_mels: int = 64, channels: int = 192, embed: int = 384,
                 attention: int = 128, hidden: int = 192, dropout: float = 0.2,
                 age_classes: bool = False, utterance_cmn: bool = True):
        super().__init__()
        self.age_classes = age_classes
        self.utterance_cmn = utterance_cmn
        self.register_buffer("band_mean", torch.zeros(num_mels))
        self.register_buffer("band_std", torch.ones(num_mels))
        self.stem = ConvBlock(num_mels, channels, 5, stride=2)
        self.block1 = SERes2Block(channels, 2)
        self.block2 = SERes2Block(channels, 3)
        self.block3 = SERes2Block(channels, 4)
        self.mfa = ConvBlock(3 * channels, embed, 1)
        self.att_hidden = nn.Conv1d(3 * embed, attention, 1)
        self.att_bn = nn.BatchNorm1d(attention)
        self.att_out = nn.Conv1d(attention, embed, 1)
        self.pool_bn = nn.BatchNorm1d(2 * embed)
        self.fc = nn.Linear(2 * embed, hidden)
        self.fc_bn = nn.BatchNorm1d(hidden)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, 4 if age_classes else 2)

    def head_logits(self, log_mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = log_mel.squeeze(1)  # [B, M, T]
        x = (x - self.band_mean.view(1, -1, 1)) / self.band_std.view(1, -1, 1)
        t_in = x.size(2)
        mask = time_mask(lengths, t_in, x.dtype).unsqueeze(1)  # [B, 1, T]
        x = x * mask
        if self.utterance_cmn:
            n_in = lengths.clamp(min=1).to(x.dtype).view(-1, 1, 1)
            x = (x - x.sum(dim=2, keepdim=True) / n_in) * mask
        # stride 2, kernel 5, padding 2: ceil(len / 2) valid output frames
        lengths2 = torch.div(lengths + 1, 2, rounding_mode="floor").clamp(min=1)
        t2 = (t_in + 1) // 2
        mask2 = time_mask(lengths2, t2, x.dtype).unsqueeze(1)
        n2 = lengths2.to(x.dtype).view(-1, 1)
        x = self.stem(x, mask2)
        h1 = self.block1(x, mask2, n2)
        h2 = self.block2(h1, mask2, n2)
        h3 = self.block3(h2, mask2, n2)
        h = self.mfa(torch.cat([h1, h2, h3], dim=1), mask2)  # [B, E, T2]
        # Attentive statistics pooling with global context (ECAPA-TDNN section 2.2).
        stats = masked_statistics(h, lengths2)  # [B, 2E]
        context = stats.unsqueeze(2).expand(-1, -1, t2)
        a = torch.tanh(self.att_bn(self.att_hidden(torch.cat([h, context], dim=1))))
        scores = self.att_out(a)  # [B, E, T2]
        scores = scores.masked_fill(mask2 == 0, -1e4)
        w = torch.softmax(scores, dim=2) * mask2
        mean = (w * h).sum(dim=2)
        var = (w * h * h).sum(dim=2) - mean * mean
        pooled = torch.cat([mean, torch.sqrt(var.clamp(min=1e-5))], dim=1)
        z = self.pool_bn(pooled)
        return self.out(self.dropout(torch.relu(self.fc_bn(self.fc(z)))))


ARCHITECTURES = {"tdnn": VoxSexNet, "cnn2d": VoxSexCNN2d, "ecapa": VoxSexECAPA}
# Head "gender_age": the fine classes of fine_logits, index = gender + 2 * (age group == child).
FINE_LABELS = ["male adult", "female adult", "male child", "female child"]


def metadata(model: nn.Module, arch: str, head: str) -> dict:
    meta = {
        "format_version": 2,  # the model card, include/voxsex/model_card.h
        "architecture": arch,
        "parameters": sum(p.numel() for p in model.parameters()),
        "labels": ["male", "female"],
        "input": "log_mel [batch, 1, num_mels, num_frames] float32, lengths [batch] int64",
        "output": "logits [batch, 2]",
        "front_end": dict(MEL, type="log-mel", window="hann-periodic", center=True,
                          pad_mode="reflect", mel_scale="slaney", norm="slaney", power=2.0),
        "trained": False,
        "exported_with": {"torch": torch.__version__, "python": sys.version.split()[0]},
    }
    if head == "gender_age":
        meta["head"] = {"type": "gender_age", "fine_labels": FINE_LABELS,
                        "fine_output": "fine_logits [batch, 4]; forward = logsumexp over age group"}
    return meta


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="output TorchScript file")
    ap.add_argument("--seed", type=int, default=0, help="initialisation seed")
    ap.add_argument("--arch", choices=sorted(ARCHITECTURES), default="tdnn", help="architecture")
    ap.add_argument("--channels", type=int, default=None,
                    help="channels of the conv layers (default: tdnn 128, ecapa 192)")
    ap.add_argument("--embed", type=int, default=384, help="ecapa: channels after aggregation")
    ap.add_argument("--no-utterance-cmn", action="store_true",
                    help="ecapa: keep each band's utterance mean (no per-utterance normalisation)")
    ap.add_argument("--head", choices=["gender", "gender_age"], default="gender",
                    help="tdnn, ecapa: output head; gender_age trains gender x age group "
                         "(child/adult) and answers gender (voxsex train needs --groups with "
                         "age_group)")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    if args.head != "gender" and args.arch == "cnn2d":
        ap.error("--head gender_age is for --arch tdnn or ecapa")
    age = args.head == "gender_age"
    if args.arch == "tdnn":
        kwargs = {"channels": args.channels or 128, "age_classes": age}
    elif args.arch == "ecapa":
        kwargs = {"channels": args.channels or 192, "embed": args.embed, "age_classes": age,
                  "utterance_cmn": not args.no_utterance_cmn}
    else:
        kwargs = {}
    model = ARCHITECTURES[args.arch](num_mels=MEL["num_mels"], **kwargs).eval()
    scripted = torch.jit.script(model)
    # Sanity: any length, any batch; padded items give the same logits as unpadded ones.
    with torch.no_grad():
        x = torch.randn(2, 1, MEL["num_mels"], 57)
        full = scripted(x, torch.tensor([57, 57]))
        short = scripted(x[1:, :, :, :31], torch.tensor([31]))
        padded = scripted(x, torch.tensor([57, 31]))
        assert full.shape == (2, 2)
        assert torch.allclose(short[0], padded[1], atol=1e-5), (short, padded)
    meta = metadata(model, args.arch, args.head)
    scripted.save(args.out, _extra_files={"voxsex.json": json.dumps(meta, indent=1)})
    print(f"wrote {args.out}: {meta['parameters']} parameters, torch {torch.__version__}")


if __name__ == "__main__":
    main()
