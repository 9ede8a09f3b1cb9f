// The output formats of `voxsex segment` (include/voxsex/segment.h): segments.tsv, the summary,
// NIST RTTM and Praat TextGrid.
#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <cmath>

#include "voxsex/segment.h"
#include "voxsex/tsv.h"

namespace voxsex {
namespace {

std::string Fixed(double v, int decimals) { return fmt::format("{:.{}f}", v, decimals); }

const char* Label(int gender) { return gender == 1 ? "female" : "male"; }

std::vector<const SegmentResult*> ById(std::vector<const SegmentResult*> done) {
  std::sort(done.begin(), done.end(),
            [](const SegmentResult* a, const SegmentResult* b) { return a->id < b->id; });
  return done;
}

// A time for the TextGrid: rounded to the millisecond, shortest decimal form.
std::string GridTime(double t) { return fmt::format("{}", std::round(t * 1000.0) / 1000.0); }

}  // namespace

std::string SegmentsTsv(const std::vector<const SegmentResult*>& done) {
  std::string out = "id\tstart_s\tend_s\tlabel\tp_female\n";
  for (const SegmentResult* f : ById(done)) {
    for (const Segment& s : f->segments) {
      out += f->id + "\t" + Fixed(s.start_s, 2) + "\t" + Fixed(s.end_s, 2) + "\t" + Label(s.gender) +
             "\t" + FormatPFemale(s.p_female) + "\n";
    }
  }
  return out;
}

std::string SegmentSummaryTsv(const std::vector<const SegmentResult*>& done) {
  std::string out = "id\tduration_s\tspeech_s\tmale_s\tfemale_s\tfemale_share\n";
  for (const SegmentResult* f : ById(done)) {
    const double speech = f->speech_s(), female = f->gender_s(1);
    out += f->id + "\t" + Fixed(f->duration_s, 2) + "\t" + Fixed(speech, 2) + "\t" +
           Fixed(f->gender_s(0), 2) + "\t" + Fixed(female, 2) + "\t" +
           (speech > 0.0 ? Fixed(female / speech, 4) : std::string("-")) + "\n";
  }
  return out;
}

std::string SegmentsRttm(const std::vector<const SegmentResult*>& done) {
  std::string out;
  for (const SegmentResult* f : ById(done)) {
    for (const Segment& s : f->segments) {
      out += "SPEAKER " + f->id + " 1 " + Fixed(s.start_s, 3) + " " + Fixed(s.end_s - s.start_s, 3) +
             " <NA> <NA> " + Label(s.gender) + " <NA> <NA>\n";
    }
  }
  return out;
}

std::string SegmentsTextGrid(const SegmentResult& done) {
  struct Interval {
    double xmin, xmax;
    std::string text;
  };
  std::vector<Interval> iv;
  const double end = done.duration_s;
  double t = 0.0;
  for (const Segment& s : done.segments) {
    const double a = std::round(s.start_s * 1000.0) / 1000.0;
    const double b = std::round(std::min(s.end_s, end) * 1000.0) / 1000.0;
    if (b <= a || a < t) continue;
    if (a > t) iv.push_back({t, a, ""});
    iv.push_back({a, b, Label(s.gender)});
    t = b;
  }
  const double xmax = std::round(end * 1000.0) / 1000.0;
  if (xmax > t || iv.empty()) iv.push_back({t, std::max(t, xmax), ""});
  std::string out =
      "File type = \"ooTextFile\"\nObject class = \"TextGrid\"\n\n"
      "xmin = 0 \nxmax = " + GridTime(xmax) + " \ntiers? <exists> \nsize = 1 \nitem []: \n"
      "    item [1]:\n        class = \"IntervalTier\" \n        name = \"gender\" \n"
      "        xmin = 0 \n        xmax = " + GridTime(xmax) + " \n"
      "        intervals: size = " + std::to_string(iv.size()) + " \n";
  for (std::size_t i = 0; i < iv.size(); ++i) {
    out += "        intervals [" + std::to_string(i + 1) + "]:\n            xmin = " +
           GridTime(iv[i].xmin) + " \n            xmax = " + GridTime(iv[i].xmax) +
           " \n            text = \"" + iv[i].text + "\" \n";
  }
  return out;
}

}  // namespace voxsex
