#!/usr/bin/python3
"""Combines trained voxsex models into one ensemble model that averages their logits.

Usage: scripts/make_ensemble.py --out OUT.pt MODEL.pt [MODEL.pt ...]

Each MODEL is a model written by `voxsex train` (a single network or an ensemble, whose members
are taken one by one). The result has the same forward signature, (log_mel [batch, 1, mels,
frames], lengths [batch]) -> logits [batch, 2], and returns the mean of the members' logits, as
`voxsex train --ensemble N` does (src/train.cc, MakeEnsemble). Its metadata (voxsex.json) is the
first model's, with the architecture, parameter count and the list of source models updated and
the calibration temperature removed: fit one for the combination with
`voxsex calibrate --model OUT.pt --targets dev/targets.tsv --out OUT.pt`.

Every model must have the same front end (voxsex.json "front_end"), labels and speech-frame
dropping ("vad" "drop_non_speech": predict feeds every member the same frames); otherwise the
script exits with status 2 naming the model. A file that cannot be loaded as a voxsex model exits
with status 1 naming it. Needs python3-torch (Debian); run with /usr/bin/python3.
"""
import argparse
import json
import os
import sys

import torch

METADATA = "voxsex.json"


class Ensemble(torch.nn.Module):
    def __init__(self, members):
        super().__init__()
        self.members = torch.nn.ModuleList(members)

    def forward(self, log_mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(0)
        first = True
        for m in self.members:
            logits = m(log_mel, lengths)
            if first:
                total = logits
                first = False
            else:
                total = total + logits
        return total / float(len(self.members))


def load(path):
    extra = {METADATA: ""}
    try:
        module = torch.jit.load(path, map_location="cpu", _extra_files=extra)
    except Exception as e:  # noqa: BLE001 - any load failure is the user's file
        sys.exit(f"make_ensemble: cannot load '{path}': {e}")
    try:
        meta = json.loads(extra[METADATA])
    except ValueError:
        sys.exit(f"make_ensemble: '{path}' has no valid voxsex metadata ({METADATA})")
    return module, meta


def members_of(module):
    children = dict(module.named_children())
    # `voxsex train --ensemble` names its members member0, member1, ...; this script's Ensemble
    # holds them in the ModuleList `members`.
    names = sorted((n for n in children if n.startswith("member") and n[6:].isdigit()),
                   key=lambda n: int(n[6:]))
    if module.original_name == "Ensemble" and names:
        return [children[n] for n in names]
    if module.original_name == "Ensemble" and "members" in children:
        return list(children["members"].children())
    return [module]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="output TorchScript model")
    ap.add_argument("models", nargs="+", help="trained voxsex models")
    args = ap.parse_args()

    members, sources, metas = [], [], []
    for path in args.models:
        module, meta = load(path)
        drops = (meta.get("vad") or {}).get("drop_non_speech", False)
        if metas and (meta.get("front_end") != metas[0].get("front_end")
                      or meta.get("labels") != metas[0].get("labels")
                      or drops != (metas[0].get("vad") or {}).get("drop_non_speech", False)):
            print(f"make_ensemble: '{path}' has another front end, labels or speech-frame "
                  f"dropping (vad.drop_non_speech) than '{args.models[0]}'", file=sys.stderr)
            sys.exit(2)
        got = members_of(module)
        members += got
        metas.append(meta)
        sources.append({"model": os.path.basename(path), "members": len(got),
                        "architecture": meta.get("architecture"),
                        "training": meta.get("training"),
                        "validation": meta.get("metrics", {}).get("validation")})
    if len(members) < 2:
        sys.exit("make_ensemble: give models with two or more networks in all")

    ensemble = torch.jit.script(Ensemble(members).eval())
    meta = dict(metas[0])
    meta["architecture"] = f"ensemble of {len(members)} networks (scripts/make_ensemble.py)"
    meta["parameters"] = sum(p.numel() for p in ensemble.parameters())
    meta["ensemble_sources"] = sources
    # `voxsex info` lists training.members: every network's, each naming its model and options.
    training = dict(meta.get("training") or {})
    listed = []
    for path, m in zip(args.models, metas):
        t = m.get("training") or {}
        for mj in t.get("members") or [{}]:
            listed.append(dict(mj, source=os.path.basename(path), augment=t.get("augment"),
                               vad=t.get("vad")))
    training["members"] = listed
    training["ensemble"] = len(members)
    training["ensemble_of_models"] = [os.path.basename(p) for p in args.models]
    meta["training"] = training
    meta.pop("calibration", None)
    meta.pop("metrics", None)
    tmp = args.out + ".tmp"
    torch.jit.save(ensemble, tmp, _extra_files={METADATA: json.dumps(meta, indent=1)})
    os.replace(tmp, args.out)
    print(f"make_ensemble: wrote {args.out}: {len(members)} networks, "
          f"{meta['parameters']:,} parameters")


if __name__ == "__main__":
    main()
