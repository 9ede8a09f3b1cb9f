#!/usr/bin/python3
"""Saves one network of a `voxsex ensemble` model as a model of its own.

An ensemble made by `voxsex ensemble` holds its networks as submodules member0, member1, ...; its
forward averages their logits. This writes member INDEX alone, with the ensemble's card
(voxsex.json) less its `ensemble` and `calibration` entries (the temperature was fitted to the
average, not to one network): the network can then be scored alone, or paired anew with `voxsex
ensemble` and calibrated with `voxsex calibrate`.

    /usr/bin/python3 scripts/model/ensemble_member.py models/voxsex.pt 0 build/member0.pt

Errors (exit status 2): MODEL is not an ensemble, or has no member INDEX.
Needs python3-torch (made with torch 1.13 on Debian 12).
"""
import argparse
import json
import sys

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("index", type=int)
    ap.add_argument("out")
    args = ap.parse_args()
    files = {"voxsex.json": ""}
    ensemble = torch.jit.load(args.model, _extra_files=files)
    card = json.loads(files["voxsex.json"])
    sources = card.get("ensemble", [])
    if not sources:
        print(f"ensemble_member: '{args.model}' is not an ensemble (no 'ensemble' in its card)",
              file=sys.stderr)
        sys.exit(2)
    if not 0 <= args.index < len(sources) or not hasattr(ensemble, f"member{args.index}"):
        print(f"ensemble_member: '{args.model}' has no member {args.index} ({len(sources)} members)",
              file=sys.stderr)
        sys.exit(2)
    member = getattr(ensemble, f"member{args.index}")
    source = sources[args.index]
    card.pop("ensemble")
    card.pop("calibration", None)
    card["architecture"] = source.get("architecture", card["architecture"])
    card["parameters"] = sum(p.numel() for p in member.parameters())
    card["training"] = {"extracted_from": args.model, "member": args.index,
                        "model": source.get("model", "")}
    torch.jit.save(member, args.out, _extra_files={"voxsex.json": json.dumps(card)})
    print(f"wrote {args.out}: member {args.index} of {args.model} ({source.get('model', '')}), "
          f"{card['parameters']} parameters")


if __name__ == "__main__":
    main()
