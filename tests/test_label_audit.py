#!/usr/bin/python3
"""Tests of scripts/data/label_audit.py: its pitch track on synthetic voiced sounds of known F0,
and its flag rule end to end on the real dev split (voxsex-data v2) with answers made from the
corpus's labels. Run by ctest (tests/CMakeLists.txt, label_audit) with the corpus directory as
argument; exits 77 (reported as skipped) when the corpus is absent. Needs numpy, soundfile, torch
and torchaudio, as the script."""
import csv
import importlib.util
import os
import subprocess
import sys
import tempfile
import unittest

import numpy as np

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "data",
                      "label_audit.py")
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "voxsex-data")
spec = importlib.util.spec_from_file_location("label_audit", SCRIPT)
label_audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(label_audit)


def vowel(f0, rate, seconds=1.0):
    """A voiced sound: 20 harmonics of f0 with a 1/k spectrum, then 0.3 s of silence."""
    t = np.arange(int(seconds * rate)) / rate
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 21) if k * f0 < rate / 2)
    return np.concatenate([0.1 * x, np.zeros(int(0.3 * rate))]).astype(np.float32)


class PitchTrack(unittest.TestCase):
    def test_median_within_two_percent_of_f0_from_men_to_women(self):
        for f0 in (95.0, 120.0, 165.0, 210.0, 260.0):
            track = label_audit.f0_track(vowel(f0, 16000), 16000)
            self.assertGreater(len(track), 80, f0)  # about 96 voiced frames in 1 s
            self.assertAlmostEqual(float(np.median(track)) / f0, 1.0, delta=0.02, msg=str(f0))

    def test_other_rates_are_resampled(self):
        track = label_audit.f0_track(vowel(130.0, 44100), 44100)
        self.assertAlmostEqual(float(np.median(track)) / 130.0, 1.0, delta=0.02)

    def test_silence_and_noise_have_no_voiced_frames(self):
        self.assertEqual(len(label_audit.f0_track(np.zeros(16000, np.float32), 16000)), 0)
        noise = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
        self.assertLess(len(label_audit.f0_track(noise, 16000)), 5)


class FlagRule(unittest.TestCase):
    """Answers equal to dev's labels but for one woman and one man, whose every answer is the other
    gender: both are called the other way on all their files, and their pitch decides."""

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(DATA, "meta.tsv"), newline="") as f:
            meta = [r for r in csv.DictReader(f, delimiter="\t") if r["split"] == "dev"]
        cls.meta = {r["id"]: r for r in meta}
        adults = [r for r in meta if r["age_group"] == "adult" and r["source"] == "mini_librispeech"]
        cls.woman = sorted({r["speaker"] for r in adults if r["gender"] == "1"})[0]
        cls.man = sorted({r["speaker"] for r in adults if r["gender"] == "0"})[0]
        cls.dir = tempfile.TemporaryDirectory()
        cls.answers = os.path.join(cls.dir.name, "answers.tsv")
        with open(cls.answers, "w") as f:
            for r in meta:
                g = r["gender"]
                if r["speaker"] in (cls.woman, cls.man):
                    g = "1" if g == "0" else "0"
                f.write(f"{r['id']}\t{g}\n")

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def audit(self, out, *extra):
        result = subprocess.run([sys.executable, SCRIPT, "--data", DATA, "--split", "dev",
                                 "--answers", self.answers, "--out", out, *extra],
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        with open(os.path.join(out, "speakers.tsv"), newline="") as f:
            speakers = {r["speaker"]: r for r in csv.DictReader(f, delimiter="\t")}
        with open(os.path.join(out, "targets.tsv")) as f:
            targets = [line.split("\t")[0] for line in f]
        return speakers, targets

    def test_the_answers_alone_do_not_flag_a_speaker_whose_pitch_fits_the_label(self):
        speakers, targets = self.audit(os.path.join(self.dir.name, "default"))
        for s in (self.woman, self.man):
            self.assertEqual(speakers[s]["called_other"], speakers[s]["files"], s)
            self.assertEqual(speakers[s]["flagged"], "no", s)
        self.assertLess(float(speakers[self.man]["f0_median_hz"]), 165.0)
        self.assertGreater(float(speakers[self.woman]["f0_median_hz"]), 165.0)
        self.assertEqual({s for s, r in speakers.items() if r["flagged"] == "yes"}, set())
        with open(os.path.join(DATA, "dev", "targets.tsv")) as f:
            self.assertEqual(targets, [line.split("\t")[0] for line in f])

    def test_answers_and_pitch_together_flag_and_leave_out_exactly_that_speaker(self):
        # A boundary of 400 Hz puts every woman's pitch on the men's side; only the woman whose
        # answers are also the other way is flagged, and only her files leave the targets.
        speakers, targets = self.audit(os.path.join(self.dir.name, "high"), "--boundary-hz", "400")
        self.assertEqual({s for s, r in speakers.items() if r["flagged"] == "yes"}, {self.woman})
        hers = {i for i, r in self.meta.items() if r["speaker"] == self.woman}
        with open(os.path.join(DATA, "dev", "targets.tsv")) as f:
            expected = [line.split("\t")[0] for line in f]
        self.assertEqual(targets, [i for i in expected if i not in hers])
        self.assertTrue(hers)

    def test_missing_answers_are_an_error_naming_the_file(self):
        short = os.path.join(self.dir.name, "short.tsv")
        with open(short, "w") as f:
            f.write("x\t0\n")
        result = subprocess.run([sys.executable, SCRIPT, "--data", DATA, "--split", "dev",
                                 "--answers", short, "--out", os.path.join(self.dir.name, "s")],
                                capture_output=True, text=True)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{short}: no answer for", result.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir.name, "s")))


if __name__ == "__main__":
    if not os.path.isfile(os.path.join(DATA, "meta.tsv")):
        print(f"skipped: no corpus at {DATA}")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
