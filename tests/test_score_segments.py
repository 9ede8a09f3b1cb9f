#!/usr/bin/python3
"""Tests of scripts/eval/score_segments.py on a small hand-made truth and output whose frame counts
are worked out below. Run by ctest (tests/CMakeLists.txt, score_segments). Standard library only."""
import os
import re
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "eval",
                      "score_segments.py")
HEADER = "id\tstart_s\tend_s\tlabel\n"
# Frames of 10 ms, a frame in a segment when its centre is: [1.00, 2.00) is frames 100-199.
# Truth: speech 100-199 male, 300-399 female (200 frames); the file ends at frame 410 (411 frames):
# 211 non-speech frames. Turns: 100-199 and 250-399, so 250-299 (50 frames) is a pause inside a
# turn and the other 161 non-speech frames are gaps.
TRUTH = HEADER + "a\t1.00\t2.00\tmale\na\t3.00\t4.00\tfemale\n"
TURNS = HEADER + "a\t1.00\t2.00\tmale\na\t2.50\t4.00\tfemale\n"
# Output: the male stretch, 20 frames of the pause (260-279), half the female stretch (300-349)
# and 10 frames of the gap after it (400-409).
OUTPUT = ("id\tstart_s\tend_s\tlabel\tp_female\n" "a\t1.00\t2.00\tmale\t0.1\n"
          "a\t2.60\t2.80\tfemale\t0.9\na\t3.00\t3.50\tfemale\t0.9\na\t4.00\t4.10\tfemale\t0.9\n")


class ScoreSegments(unittest.TestCase):
    def run_script(self, *extra, output=OUTPUT):
        with tempfile.TemporaryDirectory() as d:
            paths = {}
            for name, text in (("truth", TRUTH), ("turns", TURNS), ("out", output)):
                paths[name] = os.path.join(d, name + ".tsv")
                with open(paths[name], "w") as f:
                    f.write(text)
            args = [a.replace("TURNS", paths["turns"]) for a in extra]
            result = subprocess.run([sys.executable, SCRIPT, paths["truth"], paths["out"], *args],
                                    capture_output=True, text=True)
        self.assertEqual(result.returncode, 0, result.stderr)
        return result.stdout

    def test_totals(self):
        out = self.run_script()
        # recall 150 / 200; false alarms 30 / 211; all 150 found frames rightly labelled;
        # female share 50% truth, 80 / 180 output.
        self.assertIn("files 1\tgender_acc 100.00%\trecall 75.00%\tfalse_alarm 14.22%\t"
                      "share_err mean 5.56 max 5.56 points", out)
        self.assertNotIn("pauses", out)

    def test_false_alarms_split_into_pauses_and_gaps(self):
        out = self.run_script("--turns", "TURNS")
        # 20 of the 50 pause frames (9.48 points of 211), 10 of the 161 gap frames (4.74 points).
        self.assertIn("false_alarm in pauses 9.48 points (40.00% of 50 pause frames)\t"
                      "in gaps 4.74 points (6.21% of 161 gap frames)", out)

    def test_per_file_line_has_the_false_alarm_rate(self):
        out = self.run_script("--per-file")
        self.assertRegex(out, re.compile(r"^a\tacc 100\.00\trecall 75\.00\tfalse_alarm 14\.22\t"
                                         r"share truth 50\.0 out 44\.4$", re.M))

    def test_a_wrong_label_costs_gender_accuracy_not_recall(self):
        out = self.run_script(output=OUTPUT.replace("1.00\t2.00\tmale", "1.00\t2.00\tfemale"))
        # 100 of the 150 found frames now wrong; share 100% female in the output.
        self.assertIn("gender_acc 33.33%\trecall 75.00%\tfalse_alarm 14.22%\t"
                      "share_err mean 50.00 max 50.00 points", out)


if __name__ == "__main__":
    unittest.main(verbosity=2)
