#!/usr/bin/python3
"""Tests of scripts/eval/compare_models.py on small suites written here, whose measures are
worked out by hand. Run by ctest (tests/CMakeLists.txt, compare_models); standard library only."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "eval",
                      "compare_models.py")

# 9 speakers: 3 men, 3 women (adults), a boy and two girls (so that balanced accuracy and
# accuracy over the children differ); each has 4 files, ids <speaker>_<j>.
SPEAKERS = [("m1", 0, "adult"), ("m2", 0, "adult"), ("m3", 0, "adult"),
            ("w1", 1, "adult"), ("w2", 1, "adult"), ("w3", 1, "adult"),
            ("b1", 0, "child"), ("g1", 1, "child"), ("g2", 1, "child")]


def ids_of(speaker):
    return [f"{speaker}_{j}" for j in range(4)]


class CompareModels(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        d = self.dir.name
        self.suite, self.a, self.b = (os.path.join(d, x) for x in ("suite", "a", "b"))
        self.meta = os.path.join(d, "meta.tsv")
        with open(self.meta, "w") as f:
            f.write("id\tsplit\tsource\tspeaker\tgender\tage_group\n")
            for spk, gender, age in SPEAKERS:
                for i in ids_of(spk):
                    f.write(f"{i}\tdev\tx\t{spk}\t{gender}\t{age}\n")
        for cond in ("clean", "noise"):
            os.makedirs(os.path.join(self.suite, cond))
            with open(os.path.join(self.suite, cond, "targets.tsv"), "w") as f:
                for spk, gender, _ in SPEAKERS:
                    for i in ids_of(spk):
                        f.write(f"{i}\t{gender}\n")
        os.makedirs(self.a)
        os.makedirs(self.b)

    def tearDown(self):
        self.dir.cleanup()

    def write_answers(self, model_dir, cond, wrong_speakers=(), wrong_ids=()):
        with open(os.path.join(model_dir, f"{cond}.answers.tsv"), "w") as f:
            for spk, gender, _ in SPEAKERS:
                for i in ids_of(spk):
                    wrong = spk in wrong_speakers or i in wrong_ids
                    f.write(f"{i}\t{1 - gender if wrong else gender}\n")

    def run_script(self, *extra, answers=None):
        """Runs the script on self.a against self.b, or on ANSWERS (the two arguments)."""
        a, b = answers or (self.a, self.b)
        return subprocess.run([sys.executable, SCRIPT, self.suite, a, b, "--meta", self.meta,
                               "--resamples", "400", *extra],
                              capture_output=True, text=True)

    def rows(self, out):
        """measure -> the row's cells after the name."""
        table = {}
        for line in out.splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) == 6 and cells[0] not in ("measure", "---"):
                table[cells[0]] = cells[1:]
        return table

    def test_identical_answers_differ_by_nothing(self):
        for cond in ("clean", "noise"):
            self.write_answers(self.a, cond, wrong_speakers=["w1"])
            self.write_answers(self.b, cond, wrong_speakers=["w1"])
        r = self.run_script()
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = self.rows(r.stdout)
        self.assertEqual(len(rows), 5)
        for cells in rows.values():
            self.assertEqual(cells[2], "+0.00")
            self.assertEqual(cells[3], "[+0.00, +0.00]")
            self.assertEqual(cells[4], "1.000")
        # Adults: 20 of 24 right (w1 wrong), children all right.
        self.assertEqual(rows["clean adults"][0], "83.33")
        self.assertEqual(rows["clean children balanced"][0], "100.00")
        self.assertEqual(rows["score"][0], f"{100 * (20 / 24 + 1) / 2:.2f}")

    def test_a_speaker_lost_by_b_is_a_negative_difference(self):
        for cond in ("clean", "noise"):
            self.write_answers(self.a, cond)
        self.write_answers(self.b, "clean", wrong_speakers=["m2"], wrong_ids=["b1_0"])
        self.write_answers(self.b, "noise")
        r = self.run_script("--names", "old,new")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("| new - old, points |", r.stdout)
        rows = self.rows(r.stdout)
        # clean adults: 20 of 24 for B; boys 3 of 4, girls 8 of 8: children balanced (3/4 + 1) / 2
        # (accuracy over the 12 children would be 11/12).
        self.assertEqual(rows["clean adults"][1], f"{100 * 20 / 24:.2f}")
        self.assertEqual(rows["clean adults"][2], f"{-100 * 4 / 24:+.2f}")
        self.assertEqual(rows["clean children balanced"][2], f"{-100 * 0.125:+.2f}")
        self.assertEqual(rows["suite adults mean"][2], f"{-100 * 4 / 24 / 2:+.2f}")
        score = ((20 / 24 + 0.875) / 2 + 1) / 2
        self.assertEqual(rows["score"][1], f"{100 * score:.2f}")
        # Speaker resamples: m2 is drawn in most, never does B do better: the interval is at or
        # below 0, and below it somewhere.
        lo, hi = (float(x) for x in rows["clean adults"][3].strip("[]").split(","))
        self.assertLess(lo, 0)
        self.assertLessEqual(hi, 0)
        self.assertEqual(rows["clean adults"][4], "1.000")

    def test_an_id_missing_from_meta_is_an_error_naming_it(self):
        for cond in ("clean", "noise"):
            self.write_answers(self.a, cond)
            self.write_answers(self.b, cond)
        with open(os.path.join(self.suite, "clean", "targets.tsv"), "a") as f:
            f.write("stranger_0\t1\n")
        r = self.run_script()
        self.assertEqual(r.returncode, 2)
        self.assertIn("stranger_0", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_no_condition_with_both_answers_is_an_error(self):
        self.write_answers(self.a, "clean")
        self.write_answers(self.b, "noise")
        r = self.run_script()
        self.assertEqual(r.returncode, 2)
        self.assertIn("no condition", r.stderr)

    def test_missing_answers_count_as_wrong(self):
        for cond in ("clean", "noise"):
            self.write_answers(self.a, cond)
            self.write_answers(self.b, cond)
        path = os.path.join(self.b, "clean.answers.tsv")
        with open(path) as f:
            lines = [l for l in f if not l.startswith("w3_")]
        with open(path, "w") as f:
            f.writelines(lines)
        r = self.run_script()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.rows(r.stdout)["clean adults"][1], f"{100 * 20 / 24:.2f}")

    def arms(self, arm_a, arm_b):
        """Makes each named network's directory under the temporary folder; returns the two
        comma-separated arguments."""
        paths = {}
        for name in arm_a + arm_b:
            paths[name] = os.path.join(self.dir.name, name)
            os.makedirs(paths[name], exist_ok=True)
        return ",".join(paths[n] for n in arm_a), ",".join(paths[n] for n in arm_b), paths

    def test_an_arms_measure_is_the_mean_of_its_networks(self):
        a, b, paths = self.arms(["a1"], ["b1", "b2"])
        for cond in ("clean", "noise"):
            self.write_answers(paths["a1"], cond)
            self.write_answers(paths["b2"], cond)
        self.write_answers(paths["b1"], "clean", wrong_speakers=["m2"])
        self.write_answers(paths["b1"], "noise")
        r = self.run_script(answers=(a, b))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("A: mean of 1 network(s), B: mean of 2", r.stdout)
        rows = self.rows(r.stdout)
        # b1 gets 20 of 24 clean adults, b2 all 24: the arm 22 of 24 on average.
        self.assertEqual(rows["clean adults"][1], f"{100 * (20 / 24 + 1) / 2:.2f}")
        self.assertEqual(rows["clean adults"][2], f"{-100 * 4 / 24 / 2:+.2f}")
        # Resamples that draw b2 twice differ by nothing; none has B ahead.
        lo, hi = (float(x) for x in rows["clean adults"][3].strip("[]").split(","))
        self.assertLess(lo, 0)
        self.assertEqual(hi, 0)

    def test_the_seeds_share_widens_the_interval_of_equal_arms(self):
        # Two recipes whose networks are the same two: a point difference of nothing, which one
        # network a side would give with an interval of nothing. The network draws make it span 0.
        a, b, paths = self.arms(["a1", "a2"], ["b1", "b2"])
        for cond in ("clean", "noise"):
            for good, bad in (("a1", "a2"), ("b1", "b2")):
                self.write_answers(paths[good], cond)
                self.write_answers(paths[bad], cond, wrong_speakers=["m2", "w1"])
        r = self.run_script(answers=(a, b))
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = self.rows(r.stdout)
        self.assertEqual(rows["clean adults"][2], "+0.00")
        lo, hi = (float(x) for x in rows["clean adults"][3].strip("[]").split(","))
        self.assertLess(lo, 0)
        self.assertGreater(hi, 0)
        # And with one network a side (a1 against b1), nothing.
        r = self.run_script(answers=(paths["a1"], paths["b1"]))
        self.assertEqual(self.rows(r.stdout)["clean adults"][3], "[+0.00, +0.00]")

    def test_an_empty_entry_in_an_arm_is_an_error(self):
        a, b, paths = self.arms(["a1"], ["b1"])
        r = self.run_script(answers=(a + ",", b))
        self.assertEqual(r.returncode, 2)
        self.assertIn("empty entry", r.stderr)


if __name__ == "__main__":
    unittest.main()
