#!/usr/bin/python3
"""Tests of scripts/data/make_conversations.py's --ids and speakers.tsv on the real corpus
(voxsex-data v2). Run by ctest (tests/CMakeLists.txt, conversations_ids) with the corpus directory
as argument; exits 77 (reported as skipped) when the corpus is absent. Needs what the script
needs (numpy, soundfile, torch, torchaudio)."""
import csv
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "data",
                      "make_conversations.py")
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "voxsex-data")
SOURCES = {"mini_librispeech", "librispeech_more", "speechocean762"}


def run(out, *args):
    return subprocess.run([sys.executable, SCRIPT, "--data", DATA, "--out", out, *args],
                          capture_output=True, text=True)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


class ConversationsIds(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.meta = {r["id"]: r for r in rows(os.path.join(DATA, "meta.tsv"))}
        by_speaker = {}
        for r in cls.meta.values():
            if r["split"] == "train" and r["age_group"] == "adult" and r["source"] in SOURCES:
                by_speaker.setdefault((r["gender"], r["speaker"]), []).append(r["id"])
        # Two men and two women of train: the speechocean762 ones of lowest id, 20 files each.
        cls.chosen = {g: sorted(s for gg, s in by_speaker if gg == g and s.startswith("so762_"))[:2]
                      for g in ("0", "1")}
        cls.dir = tempfile.TemporaryDirectory()
        cls.targets = os.path.join(cls.dir.name, "targets.tsv")
        with open(cls.targets, "w") as f:
            f.write("id\tgender\n")  # a header line, as some targets files have
            for g, speakers in cls.chosen.items():
                for s in speakers:
                    for i in by_speaker[(g, s)]:
                        f.write(f"{i}\t{g}\n")
        cls.out = os.path.join(cls.dir.name, "conv")
        result = run(cls.out, "--split", "train", "--ids", cls.targets, "--count", "2")
        assert result.returncode == 0, result.stderr
        cls.cast = rows(os.path.join(cls.out, "speakers.tsv"))
        cls.truth = rows(os.path.join(cls.out, "truth.tsv"))

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_only_the_listed_speakers_speak(self):
        listed = {s for speakers in self.chosen.values() for s in speakers}
        used = {r["speaker"] for r in self.cast}
        self.assertTrue(used <= listed, used - listed)
        self.assertGreaterEqual(len(used), 2)

    def test_cast_labels_are_the_corpus_genders_and_both_appear(self):
        gender_of = {r["speaker"]: r["gender"] for r in self.meta.values()}
        for r in self.cast:
            self.assertEqual(r["label"], "female" if gender_of[r["speaker"]] == "1" else "male")
        for cid in ("conv_train_00", "conv_train_01"):
            labels = {r["label"] for r in self.cast if r["id"] == cid}
            self.assertEqual(labels, {"male", "female"}, cid)
            spoken = {r["label"] for r in self.truth if r["id"] == cid}
            self.assertEqual(spoken, labels, cid)

    def test_every_file_is_written(self):
        self.assertEqual({r["id"] for r in self.truth}, {"conv_train_00", "conv_train_01"})
        for cid in ("conv_train_00", "conv_train_01"):
            self.assertTrue(os.path.getsize(os.path.join(self.out, "clean", cid + ".flac")) > 0)
            self.assertTrue(os.path.getsize(os.path.join(self.out, "phone", cid + ".wav")) > 0)

    def test_an_id_outside_the_split_is_an_error_naming_the_file(self):
        bad = os.path.join(self.dir.name, "bad.tsv")
        dev_id = next(i for i, r in self.meta.items() if r["split"] == "dev")
        with open(bad, "w") as f:
            f.write(f"{dev_id}\t0\n")
        out = os.path.join(self.dir.name, "bad_out")
        result = run(out, "--split", "train", "--ids", bad, "--count", "1")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(bad, result.stderr)
        self.assertIn(dev_id, result.stderr)
        self.assertFalse(os.path.exists(out))

    def test_a_missing_ids_file_is_an_error_naming_it(self):
        missing = os.path.join(self.dir.name, "missing.tsv")
        result = run(os.path.join(self.dir.name, "x"), "--split", "train", "--ids", missing)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(f"{missing}: no such file", result.stderr)


if __name__ == "__main__":
    if not os.path.isfile(os.path.join(DATA, "meta.tsv")):
        print(f"skipped: no corpus at {DATA}")
        sys.exit(77)
    unittest.main(argv=sys.argv[:1], verbosity=2)
