// End-to-end tests of `voxsex info`, `voxsex --version` and the per-epoch training log.
// The bundled model may be retrained at any time: expectations come from its own metadata, never
// from numbers written here.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "voxsex/model.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;
using voxsex::test::BundledModel;
using voxsex::test::FreshDir;
using voxsex::test::Quote;
using voxsex::test::ReadFile;
using voxsex::test::RunVoxsex;
using voxsex::test::ScopedEnv;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;
const char* const kLogHeader =
    "member\tepoch\tloss\ttrain_accuracy\tval_accuracy\tval_balanced_accuracy\tseconds";

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  for (std::size_t tab; (tab = line.find('\t', start)) != std::string::npos; start = tab + 1) {
    fields.push_back(line.substr(start, tab - start));
  }
  fields.push_back(line.substr(start));
  return fields;
}

// A number as `voxsex info` prints it: integers plainly, 16000.0 as 16000.
std::string Shown(const nlohmann::json& v) {
  std::ostringstream s;
  s << v.get<double>();
  return s.str();
}

nlohmann::json MetadataOf(const std::string& model, const fs::path& dir) {
  auto r = RunVoxsex("info --json " + Quote(model), dir);
  EXPECT_EQ(r.status, 0) << r.err;
  return nlohmann::json::parse(r.out);
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST(InfoCli, ShowsTheBundledModelsFrontEndAndLabels) {
  const auto dir = FreshDir("info_bundled");
  const nlohmann::json meta = MetadataOf(BundledModel(), dir);
  auto r = RunVoxsex("info " + Quote(BundledModel()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const std::string& out = r.out;
  EXPECT_TRUE(Contains(out, "model: " + BundledModel())) << out;
  EXPECT_TRUE(Contains(out, "0 = male, 1 = female")) << out;
  EXPECT_TRUE(Contains(out, "format version")) << out;
  ASSERT_TRUE(meta.contains("architecture"));
  EXPECT_TRUE(Contains(out, meta["architecture"].get<std::string>())) << out;

  const auto& fe = meta["front_end"];
  EXPECT_TRUE(Contains(out, "\nfront end\n")) << out;
  EXPECT_TRUE(Contains(out, Shown(fe["sample_rate_hz"]) + " Hz")) << out;
  EXPECT_TRUE(Contains(out, "n_fft " + Shown(fe["n_fft"]))) << out;
  EXPECT_TRUE(Contains(out, "window " + Shown(fe["win_length"]))) << out;
  EXPECT_TRUE(Contains(out, "hop " + Shown(fe["hop_length"]))) << out;
  EXPECT_TRUE(Contains(out, Shown(fe["num_mels"]) + " mel bands")) << out;

  if (meta.value("trained", false)) {
    const auto& t = meta["training"];
    EXPECT_TRUE(Contains(out, "\ntraining data\n")) << out;
    EXPECT_TRUE(Contains(out, t["date_utc"].get<std::string>())) << out;
    EXPECT_TRUE(Contains(out, Shown(t["train_files"]) + " files")) << out;
    EXPECT_TRUE(Contains(out, "\ntraining options\n")) << out;
    EXPECT_TRUE(Contains(out, "epochs")) << out;
    EXPECT_TRUE(Contains(out, "seed")) << out;
  }
  if (meta.contains("metrics") && meta["metrics"].contains("validation")) {
    EXPECT_TRUE(Contains(out, "\nvalidation metrics\n")) << out;
    EXPECT_TRUE(Contains(out, "balanced accuracy")) << out;
  }
  EXPECT_TRUE(r.err.empty()) << "info writes its report on stdout only: " << r.err;
}

TEST(InfoCli, JsonIsTheStoredMetadata) {
  const auto dir = FreshDir("info_json");
  auto r = RunVoxsex("info --json " + Quote(BundledModel()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  nlohmann::json meta;
  ASSERT_NO_THROW(meta = nlohmann::json::parse(r.out)) << r.out;
  ASSERT_TRUE(meta.contains("format_version")) << r.out;
  EXPECT_EQ(meta["format_version"].get<int>(), voxsex::kModelFormatVersion);
  EXPECT_EQ(meta["labels"], nlohmann::json({"male", "female"}));
  EXPECT_TRUE(meta["front_end"].is_object());
}

TEST(InfoCli, NonModelFileExitsTwoNamingIt) {
  const auto dir = FreshDir("info_not_a_model");
  const std::string text_file = (kData / "expected_answers.tsv").string();
  auto r = RunVoxsex("info " + Quote(text_file), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Contains(r.err, text_file)) << r.err;
  EXPECT_TRUE(Contains(r.err, "not a TorchScript file")) << r.err;
  EXPECT_FALSE(Contains(r.err, "Exception raised from")) << "backtrace leaked: " << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;

  const std::string missing = (dir / "nope.pt").string();
  r = RunVoxsex("info --json " + Quote(missing), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_TRUE(Contains(r.err, missing)) << r.err;
  EXPECT_TRUE(r.out.empty()) << r.out;
}

TEST(InfoCli, VersionListsTheBundledModel) {
  const auto dir = FreshDir("version_bundled");
  ScopedEnv env("VOXSEX_MODEL", std::nullopt);
  auto r = RunVoxsex("--version", dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto lines = Lines(r.out);
  ASSERT_GE(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].rfind("voxsex ", 0), 0u) << r.out;
  const std::string prefix = "bundled model: ";
  ASSERT_EQ(lines[1].rfind(prefix, 0), 0u) << r.out;
  const fs::path model = lines[1].substr(prefix.size());
  EXPECT_EQ(model.filename().string(), "voxsex.pt") << r.out;
  EXPECT_TRUE(fs::is_regular_file(model)) << r.out;

  const nlohmann::json meta = MetadataOf(model.string(), dir);
  if (meta.contains("architecture")) {
    EXPECT_TRUE(Contains(r.out, "architecture: " + meta["architecture"].get<std::string>())) << r.out;
  }
  if (meta.contains("training")) {
    EXPECT_TRUE(Contains(r.out, meta["training"]["date_utc"].get<std::string>())) << r.out;
    EXPECT_TRUE(Contains(r.out, "on " + Shown(meta["training"]["train_files"]) + " files")) << r.out;
  }
  if (meta.contains("metrics") && meta["metrics"].contains("validation")) {
    EXPECT_TRUE(Contains(r.out, "validation balanced accuracy: ")) << r.out;
  }
}

TEST(InfoCli, VersionSurvivesAMissingOrInvalidModel) {
  const auto dir = FreshDir("version_bad_model");
  const std::string missing = (dir / "nope.pt").string();
  {
    ScopedEnv env("VOXSEX_MODEL", missing);
    auto r = RunVoxsex("--version", dir);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.rfind("voxsex ", 0), 0u) << r.out;
    EXPECT_TRUE(Contains(r.out, missing)) << r.out;
    EXPECT_TRUE(Contains(r.out, "cannot be read")) << r.out;
  }
  {
    ScopedEnv env("VOXSEX_MODEL", (kData / "expected_answers.tsv").string());
    auto r = RunVoxsex("--version", dir);
    ASSERT_EQ(r.status, 0) << r.err;
    EXPECT_EQ(r.out.rfind("voxsex ", 0), 0u) << r.out;
    EXPECT_TRUE(Contains(r.out, "cannot be read")) << r.out;
    EXPECT_FALSE(Contains(r.out, "Exception raised from")) << "backtrace leaked: " << r.out;
  }
}

TEST(InfoCli, TrainWritesThePerEpochLogBesideTheModel) {
  const auto dir = FreshDir("train_log");
  const auto model = dir / "small.pt";
  const std::string targets = (kData / "expected_answers.tsv").string();
  auto r = RunVoxsex("train --targets " + Quote(targets) + " --init " +
                         Quote(voxsex::test::UntrainedModel()) + " --out " +
                         Quote(model.string()) + " --epochs 2 --batch-size 3 --threads 2",
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto log = dir / "small.training.tsv";
  ASSERT_TRUE(fs::exists(log)) << r.err;
  const auto lines = Lines(ReadFile(log));
  ASSERT_EQ(lines.size(), 3u) << ReadFile(log);
  EXPECT_EQ(lines[0], kLogHeader);
  for (int epoch = 1; epoch <= 2; ++epoch) {
    const auto f = Fields(lines[epoch]);
    ASSERT_EQ(f.size(), 7u) << lines[epoch];
    EXPECT_EQ(f[0], "1") << lines[epoch];
    EXPECT_EQ(f[1], std::to_string(epoch)) << lines[epoch];
    EXPECT_GT(std::stod(f[2]), 0.0) << "loss: " << lines[epoch];
    const double train_accuracy = std::stod(f[3]);
    EXPECT_TRUE(train_accuracy >= 0.0 && train_accuracy <= 1.0) << lines[epoch];
    EXPECT_EQ(f[4], "") << "no validation set: empty val_accuracy: " << lines[epoch];
    EXPECT_EQ(f[5], "") << "no validation set: empty val_balanced_accuracy: " << lines[epoch];
    EXPECT_GE(std::stod(f[6]), 0.0) << lines[epoch];
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
  }

  // info on the new model shows where it was trained and on how many files.
  r = RunVoxsex("info " + Quote(model.string()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, targets + ": 6 files (3 male, 3 female)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "none (the last epoch is kept)")) << r.out;
}

TEST(InfoCli, EnsembleLogHasARowPerMemberAndEpochWithValidation) {
  const auto dir = FreshDir("train_log_ensemble");
  const auto model = dir / "ens.model.pt";
  const std::string targets = (kData / "expected_answers.tsv").string();
  auto r = RunVoxsex("train --targets " + Quote(targets) + " --val-targets " + Quote(targets) +
                         " --init " + Quote(voxsex::test::UntrainedModel()) + " --out " +
                         Quote(model.string()) +
                         " --epochs 1 --ensemble 2 --batch-size 3 --threads 2",
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  const auto log = dir / "ens.model.training.tsv";
  ASSERT_TRUE(fs::exists(log)) << r.err;
  const voxsex::Table table = voxsex::ReadTable(log.string());
  ASSERT_EQ(table.rows.size(), 2u) << ReadFile(log);
  for (std::size_t k = 0; k < 2; ++k) {
    const auto& row = table.rows[k];
    EXPECT_EQ(row.at("member"), std::to_string(k + 1));
    EXPECT_EQ(row.at("epoch"), "1");
    const double val_bal = std::stod(row.at("val_balanced_accuracy"));
    EXPECT_TRUE(val_bal >= 0.0 && val_bal <= 1.0) << ReadFile(log);
    EXPECT_FALSE(row.at("val_accuracy").empty());
  }

  r = RunVoxsex("info " + Quote(model.string()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "\nensemble members\n")) << r.out;
  EXPECT_TRUE(Contains(r.out, "member 2")) << r.out;
  EXPECT_TRUE(Contains(r.out, "\nvalidation metrics\n")) << r.out;
}

// voxsex keeps the pages it frees (src/cli/main.cc, `malloc_conf`): without that, jemalloc hands
// LibTorch's per-batch tensors back to the kernel and training runs about 4.5x slower. jemalloc
// prints its options at exit with MALLOC_CONF=stats_print:true; builds without jemalloc (the
// sanitizer builds) print none and skip.
TEST(InfoCli, JemallocKeepsFreedPages) {
  const auto dir = FreshDir("jemalloc_options");
  ScopedEnv env("MALLOC_CONF", std::string("stats_print:true"));
  auto r = RunVoxsex("--version", dir);
  ASSERT_EQ(r.status, 0) << r.err;
  if (!Contains(r.err, "opt.dirty_decay_ms")) {
    GTEST_SKIP() << "voxsex is not linked with jemalloc (VOXSEX_JEMALLOC=OFF or a sanitizer build)";
  }
  EXPECT_TRUE(Contains(r.err, "opt.dirty_decay_ms: -1")) << r.err.substr(0, 4000);
  EXPECT_TRUE(Contains(r.err, "opt.muzzy_decay_ms: -1")) << r.err.substr(0, 4000);
}
