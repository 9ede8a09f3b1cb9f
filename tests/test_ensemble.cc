// `voxsex ensemble`: combining trained models into one that averages their networks' logits.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "model_internal.h"
#include "test_util.h"
#include "voxsex/model.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;
using voxsex::test::BundledModel;
using voxsex::test::FreshDir;
using voxsex::test::Quote;
using voxsex::test::ReadFile;
using voxsex::test::RunVoxsex;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;

// Writes `model` again with its card changed by `edit`.
template <typename Edit>
std::string Rewrite(const std::string& model, const fs::path& out, Edit edit) {
  voxsex::internal::LoadedModule loaded = voxsex::internal::LoadModule(model);
  edit(loaded.card);
  voxsex::WriteFilesAtomic(
      {{out.string(), voxsex::internal::SerializeModule(loaded.module, loaded.card, out.string())}});
  return out.string();
}

}  // namespace

// The bundled model (an ensemble of N networks) combined with itself is an ensemble of 2N
// networks with the same mean logits: the same answers and, given the bundled model's
// temperature, the same p_female.
TEST(Ensemble, BundledModelWithItselfAnswersAsTheBundledModel) {
  const fs::path dir = FreshDir("ensemble_double");
  const std::string doubled = (dir / "double.pt").string();
  const voxsex::ModelCard bundled = voxsex::GenderModel::Load(BundledModel()).card();
  int n = 0;
  for (const auto& source : bundled.ensemble) n += source.networks;
  ASSERT_GE(n, 2) << "the bundled model is an ensemble";
  const std::string doubled_n = std::to_string(2 * n);
  auto r = RunVoxsex("ensemble " + Quote(BundledModel()) + " " + Quote(BundledModel()) +
                         " --out " + Quote(doubled),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find(doubled_n + " networks"), std::string::npos) << r.err;

  const voxsex::GenderModel model = voxsex::GenderModel::Load(doubled);
  const voxsex::ModelCard& card = model.card();
  EXPECT_EQ(card.format_version, voxsex::kModelFormatVersion);
  EXPECT_EQ(card.architecture, "ensemble of " + doubled_n + " networks (voxsex ensemble)");
  ASSERT_EQ(card.ensemble.size(), 2u);
  EXPECT_EQ(card.ensemble[0].model, "voxsex.pt");
  EXPECT_EQ(card.ensemble[0].networks, n);
  EXPECT_FALSE(card.calibration.has_value()) << "a combination needs its own temperature";
  EXPECT_EQ(card.training["members"].size(), static_cast<std::size_t>(2 * n));
  EXPECT_EQ(card.parameters, 2 * bundled.parameters);

  r = RunVoxsex("info " + Quote(doubled), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find(doubled_n + " members from voxsex.pt, voxsex.pt (voxsex ensemble)"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("combined models"), std::string::npos) << r.out;

  // Same answers; p_female equal once both have the bundled model's temperature.
  const auto calibrated = Rewrite(doubled, dir / "double_t.pt", [](voxsex::ModelCard& c) {
    c.calibration = voxsex::GenderModel::Load(BundledModel()).card().calibration;
  });
  r = RunVoxsex("-q predict " + Quote(kData.string()) + " " + Quote((dir / "one.tsv").string()) +
                    " --scores " + Quote((dir / "one_s.tsv").string()) + " --model " +
                    Quote(BundledModel()),
                dir);
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunVoxsex("-q predict " + Quote(kData.string()) + " " + Quote((dir / "two.tsv").string()) +
                    " --scores " + Quote((dir / "two_s.tsv").string()) + " --model " +
                    Quote(calibrated),
                dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(ReadFile(dir / "one.tsv"), ReadFile(dir / "two.tsv"));
  const auto one = voxsex::test::ReadPFemale(dir / "one_s.tsv");
  const auto two = voxsex::test::ReadPFemale(dir / "two_s.tsv");
  ASSERT_EQ(one.size(), 6u);
  for (const auto& [id, p] : one) EXPECT_NEAR(two.at(id), p, 2e-4) << id;
}

// A `voxsex train --ensemble 2` model is taken apart into its networks too.
TEST(Ensemble, TakesApartTrainedEnsembles) {
  const fs::path dir = FreshDir("ensemble_trained");
  const std::string trained = (dir / "trained2.pt").string();
  auto r = RunVoxsex("-q train --targets " + Quote((kData / "expected_answers.tsv").string()) +
                         " --epochs 1 --batch-size 3 --threads 1 --crop-min 1 --crop-max 1 "
                         "--ensemble 2 --out " + Quote(trained),
                     dir);
  ASSERT_EQ(r.status, 0) << r.err;
  r = RunVoxsex("ensemble " + Quote(trained) + " " + Quote(trained) + " --out " +
                    Quote((dir / "four.pt").string()),
                dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("4 networks"), std::string::npos) << r.err;
}

// Refusals: not a model, fewer than two networks, another speech-frame dropping. Nothing written.
TEST(Ensemble, RefusesWhatItCannotCombineAndWritesNothing) {
  const fs::path dir = FreshDir("ensemble_refusals");
  const fs::path out = dir / "out.pt";
  std::ofstream(dir / "bogus.pt") << "not a model\n";
  auto r = RunVoxsex("ensemble " + Quote(BundledModel()) + " " + Quote((dir / "bogus.pt").string()) +
                         " --out " + Quote(out.string()),
                     dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("bogus.pt"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));

  const std::string untrained = voxsex::test::UntrainedModel();
  r = RunVoxsex("ensemble " + Quote(untrained) + " --out " + Quote(out.string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("two or more networks"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(out));

  const auto drops = Rewrite(BundledModel(), dir / "drops.pt",
                             [](voxsex::ModelCard& c) { c.vad->drop_non_speech = true; });
  r = RunVoxsex("ensemble " + Quote(BundledModel()) + " " + Quote(drops) + " --out " +
                    Quote(out.string()),
                dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("drops.pt' has another front end or speech-frame dropping"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(out));
}
