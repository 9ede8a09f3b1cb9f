#!/usr/bin/python3
"""Tests of scripts/data/make_selection_fold.py on the real corpus's meta.tsv (voxsex-data v2).
Run by ctest (tests/CMakeLists.txt, selection_fold) with the corpus directory as argument; exits
77 (reported as skipped) when the corpus is absent. Standard library only."""
import collections
import csv
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "data",
                      "make_selection_fold.py")
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "voxsex-data")


def read_targets(path):
    with open(path) as f:
        return [line.rstrip("\n").split("\t") for line in f]


def run(out, *args):
    return subprocess.run([sys.executable, SCRIPT, "--data", DATA, "--out", out, *args],
                          capture_output=True, text=True)


class SelectionFold(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(os.path.join(DATA, "meta.tsv"), newline="") as f:
            cls.meta = {r["id"]: r for r in csv.DictReader(f, delimiter="\t")}
        cls.train = {i for i, r in cls.meta.items() if r["split"] == "train"}
        cls.dir = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.dir.name, "fold")
        result = run(cls.out)
        assert result.returncode == 0, result.stderr
        cls.train_rows = read_targets(os.path.join(cls.out, "train_targets.tsv"))
        cls.selection_rows = read_targets(os.path.join(cls.out, "selection_targets.tsv"))

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def speakers(self, rows):
        return {self.meta[i]["speaker"] for i, _ in rows}

    def test_speaker_disjoint_and_every_train_file_accounted_for(self):
        train_speakers, fold_speakers = self.speakers(self.train_rows), self.speakers(self.selection_rows)
        self.assertFalse(train_speakers & fold_speakers)
        # Every train file is either trained on or belongs to a fold speaker (kept or capped away).
        trained = {i for i, _ in self.train_rows}
        self.assertEqual({i for i in self.train if self.meta[i]["speaker"] not in fold_speakers}, trained)
        self.assertTrue({i for i, _ in self.selection_rows} <= self.train - trained)

    def test_labels_are_the_corpus_genders_and_files_sorted(self):
        for rows in (self.train_rows, self.selection_rows):
            self.assertEqual([i for i, _ in rows], sorted(i for i, _ in rows))
            for i, gender in rows:
                self.assertEqual(self.meta[i]["gender"], gender, i)

    def test_quarter_of_each_stratum_and_file_cap(self):
        strata = collections.defaultdict(set)
        for i in self.train:
            r = self.meta[i]
            strata[(r["source"], r["age_group"], r["gender"])].add(r["speaker"])
        fold_speakers = self.speakers(self.selection_rows)
        # speechocean762's 37 girls (no speaker in two sources): round(37 / 4) = 9 in the fold.
        girls = strata[("speechocean762", "child", "1")]
        self.assertEqual(len(girls), 37)
        self.assertEqual(len(girls & fold_speakers), 9)
        # Every stratum of at least 4 speakers gives the fold 1 to half of them.
        for stratum, speakers in strata.items():
            if len(speakers) >= 4:
                n = len(speakers & fold_speakers)
                self.assertTrue(1 <= n <= len(speakers) // 2, (stratum, n))
        per_speaker = collections.Counter(self.meta[i]["speaker"] for i, _ in self.selection_rows)
        self.assertLessEqual(max(per_speaker.values()), 10)
        files = collections.Counter(self.meta[i]["speaker"] for i in self.train)
        self.assertEqual(per_speaker, {s: min(files[s], 10) for s in fold_speakers})

    def test_deterministic_and_seed_changes_the_fold(self):
        again = os.path.join(self.dir.name, "again")
        other = os.path.join(self.dir.name, "other")
        self.assertEqual(run(again).returncode, 0)
        self.assertEqual(run(other, "--seed", "2").returncode, 0)
        for name in ("train_targets.tsv", "selection_targets.tsv", "selection_speakers.tsv"):
            with open(os.path.join(self.out, name)) as a, open(os.path.join(again, name)) as b:
                self.assertEqual(a.read(), b.read(), name)
        self.assertNotEqual(read_targets(os.path.join(other, "selection_targets.tsv")),
                            self.selection_rows)

    def test_train_fraction_nests_training_speakers_and_keeps_the_fold(self):
        subsets = {}
        for fraction in ("0.5", "0.25"):
            out = os.path.join(self.dir.name, "train" + fraction)
            result = run(out, "--train-fraction", fraction)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual(read_targets(os.path.join(out, "selection_targets.tsv")),
                             self.selection_rows)
            subsets[fraction] = read_targets(os.path.join(out, "train_targets.tsv"))
        full, half, quarter = (self.speakers(self.train_rows), self.speakers(subsets["0.5"]),
                               self.speakers(subsets["0.25"]))
        self.assertTrue(quarter < half < full)
        # A kept speaker keeps every file: the subset is the full training part's rows of its speakers.
        self.assertEqual(subsets["0.5"], [r for r in self.train_rows if self.meta[r[0]]["speaker"] in half])
        # speechocean762's girls: 37 - 9 in the fold = 28 training speakers; round(28 / 2) = 14.
        girls = {self.meta[i]["speaker"] for i in self.train
                 if (self.meta[i]["source"], self.meta[i]["age_group"], self.meta[i]["gender"])
                 == ("speechocean762", "child", "1")}
        self.assertEqual(len(girls & full), 28)
        self.assertEqual(len(girls & half), 14)
        self.assertEqual(len(girls & quarter), 7)
        bad = run(os.path.join(self.dir.name, "bad_train"), "--train-fraction", "0")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--train-fraction", bad.stderr)

    def test_bad_fraction_and_missing_meta_are_errors(self):
        bad = run(os.path.join(self.dir.name, "bad"), "--fraction", "1.5")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--fraction", bad.stderr)
        missing = subprocess.run([sys.executable, SCRIPT, "--data", self.dir.name, "--out",
                                  os.path.join(self.dir.name, "none")], capture_output=True, text=True)
        self.assertEqual(missing.returncode, 2)
        self.assertIn("meta.tsv", missing.stderr)
        self.assertFalse(os.path.exists(os.path.join(self.dir.name, "none")))


if __name__ == "__main__":
    if not os.path.isfile(os.path.join(DATA, "meta.tsv")):
        print(f"skipped: no corpus at {DATA}", file=sys.stderr)
        sys.exit(77)
    unittest.main(argv=sys.argv[:1])
