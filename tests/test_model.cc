// Model loading, metadata checks and windowed, batched inference.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "model_internal.h"
#include "test_util.h"
#include "voxsex/audio.h"
#include "voxsex/error.h"
#include "voxsex/mel.h"
#include "voxsex/model.h"
#include "voxsex/train.h"

namespace fs = std::filesystem;

namespace {

// Log-mel of a real clip from tests/data.
voxsex::LogMel ClipLogMel(const std::string& name, const voxsex::MelOptions& mel) {
  voxsex::Audio a = voxsex::ReadAudio(std::string(VOXSEX_TEST_DATA) + "/" + name);
  voxsex::MelFrontend fe(mel);
  return fe.Compute(a.samples);
}

// Writes `model` again with its metadata replaced by `meta` (a string, possibly invalid JSON).
std::string Resave(const std::string& model, const std::string& meta, const std::string& name) {
  auto dir = voxsex::test::FreshDir("model_" + name);
  auto m = torch::jit::load(model);
  const std::string out = (dir / (name + ".pt")).string();
  if (meta.empty()) {
    m.save(out);
  } else {
    m.save(out, {{voxsex::kModelMetadataName, meta}});
  }
  return out;
}

nlohmann::json UntrainedMetadata() {
  return nlohmann::json::parse(voxsex::internal::LoadModule(voxsex::test::UntrainedModel()).metadata_json);
}

}  // namespace

TEST(Model, LoadsMetadataAndFrontEndOptions) {
  auto model = voxsex::GenderModel::Load(voxsex::test::BundledModel());
  EXPECT_EQ(model.mel_options(), voxsex::MelOptions{});
  auto meta = nlohmann::json::parse(model.metadata_json());
  EXPECT_EQ(meta["format_version"].get<int>(), voxsex::kModelFormatVersion);
  EXPECT_EQ(meta["labels"], nlohmann::json({"male", "female"}));
  EXPECT_TRUE(meta["trained"].get<bool>());
  EXPECT_TRUE(meta.contains("training"));
}

TEST(Model, RefusesFilesThatAreNotVoxsexModels) {
  auto expect_model_error = [](const std::string& path, const std::string& needle) {
    try {
      voxsex::GenderModel::Load(path);
      ADD_FAILURE() << "no error for " << path;
    } catch (const voxsex::ModelError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path), std::string::npos) << what;
      EXPECT_NE(what.find(needle), std::string::npos) << what;
      EXPECT_EQ(what.find("Exception raised from"), std::string::npos) << "backtrace: " << what;
    }
  };
  expect_model_error("/no/such/model.pt", "no such file");
  expect_model_error(std::string(VOXSEX_TEST_DATA) + "/expected_answers.tsv",
                     "not a TorchScript file");
  const std::string untrained = voxsex::test::UntrainedModel();
  expect_model_error(Resave(untrained, "", "no_meta"), "no voxsex metadata");
  expect_model_error(Resave(untrained, "{not json", "bad_json"), "not valid JSON");
  auto meta = UntrainedMetadata();
  meta["format_version"] = 99;
  expect_model_error(Resave(untrained, meta.dump(), "future"), "format_version 99");
  meta = UntrainedMetadata();
  meta["labels"] = {"female", "male"};
  expect_model_error(Resave(untrained, meta.dump(), "labels"), "labels");
  meta = UntrainedMetadata();
  meta["front_end"]["hop_length"] = 0;
  expect_model_error(Resave(untrained, meta.dump(), "hop0"), "front_end");
  meta = UntrainedMetadata();
  meta["front_end"].erase("num_mels");
  expect_model_error(Resave(untrained, meta.dump(), "no_mels"), "num_mels");
}

TEST(Model, ConfigurationIsValidated) {
  voxsex::ModelOptions o;
  o.batch_size = 0;
  EXPECT_THROW(o.Validate(), voxsex::ConfigError);
  o = {};
  o.num_threads = -1;
  EXPECT_THROW(o.Validate(), voxsex::ConfigError);
  o = {};
  o.max_window_s = 0.0;
  EXPECT_THROW(o.Validate(), voxsex::ConfigError);
}

TEST(Model, BatchingAndPaddingDoNotChangeResults) {
  auto model = voxsex::GenderModel::Load(voxsex::test::BundledModel());
  const auto& mel = model.mel_options();
  const auto a = ClipLogMel("clip_1_aiff24_32k_stereo.aiff", mel);  // 1.3 s
  const auto b = ClipLogMel("clip_3_wav16_16k_mono.wav", mel);      // 4 s
  const auto together = model.Predict({&a, &b});
  const auto alone_a = model.Predict({&a});
  const auto alone_b = model.Predict({&b});
  ASSERT_EQ(together.size(), 2u);
  const float tol = 1e-4f;
  EXPECT_NEAR(together[0].logit_male, alone_a[0].logit_male, tol);
  EXPECT_NEAR(together[0].logit_female, alone_a[0].logit_female, tol);
  EXPECT_NEAR(together[1].logit_male, alone_b[0].logit_male, tol);
  EXPECT_NEAR(together[1].logit_female, alone_b[0].logit_female, tol);
  for (const auto& p : together) {
    EXPECT_GE(p.p_female, 0.0f);
    EXPECT_LE(p.p_female, 1.0f);
    EXPECT_EQ(p.gender(), p.p_female >= 0.5f ? 1 : 0);
  }
}

TEST(Model, LongInputsAreWindowedAndLogitsAveragedByLength) {
  voxsex::ModelOptions opts;
  opts.max_window_s = 1.0;  // 100 frames: the 4 s clip becomes 5 windows of 80 or 81 frames
  auto windowed = voxsex::GenderModel::Load(voxsex::test::BundledModel(), opts);
  auto whole = voxsex::GenderModel::Load(voxsex::test::BundledModel());
  const auto& mel = whole.mel_options();
  const auto clip = ClipLogMel("clip_3_wav16_16k_mono.wav", mel);
  ASSERT_EQ(clip.num_frames, 401);  // 1 + 64000 / 160
  const int n = 5;                  // ceil(401 / 100) windows
  // The same windows, cut by hand: near-equal pieces [T*k/n, T*(k+1)/n).
  double sum_m = 0, sum_f = 0;
  for (int k = 0; k < n; ++k) {
    const int s = clip.num_frames * k / n, e = clip.num_frames * (k + 1) / n;
    voxsex::LogMel piece;
    piece.num_mels = clip.num_mels;
    piece.num_frames = e - s;
    piece.data.assign(clip.frame(s), clip.frame(s) + static_cast<std::size_t>(e - s) * clip.num_mels);
    const auto p = whole.Predict({&piece})[0];
    sum_m += p.logit_male * (e - s);
    sum_f += p.logit_female * (e - s);
  }
  const auto got = windowed.Predict({&clip})[0];
  EXPECT_NEAR(got.logit_male, sum_m / clip.num_frames, 1e-4);
  EXPECT_NEAR(got.logit_female, sum_f / clip.num_frames, 1e-4);
}

TEST(Model, RejectsFeaturesOfTheWrongShape) {
  auto model = voxsex::GenderModel::Load(voxsex::test::BundledModel());
  voxsex::LogMel bad;
  bad.num_mels = 40;
  bad.num_frames = 10;
  bad.data.assign(400, 0.0f);
  EXPECT_THROW(model.Predict({&bad}), voxsex::ModelError);
}

TEST(Model, DefaultModelPathHonoursEnvironment) {
  ::setenv("VOXSEX_MODEL", "/some/where/m.pt", 1);
  EXPECT_EQ(voxsex::DefaultModelPath(), "/some/where/m.pt");
  ::unsetenv("VOXSEX_MODEL");
  EXPECT_FALSE(voxsex::FindBundledModel("voxsex-untrained.pt").empty());
  EXPECT_TRUE(voxsex::FindBundledModel("no-such-model.pt").empty());
}

TEST(Train, SameSeedAndThreadsGiveTheSameModel) {
  auto dir = voxsex::test::FreshDir("train_determinism");
  voxsex::TrainOptions o;
  o.data.targets_path = std::string(VOXSEX_TEST_DATA) + "/expected_answers.tsv";
  o.init_model_path = voxsex::test::UntrainedModel();
  o.optimiser.epochs = 2;
  o.optimiser.batch_size = 3;
  o.optimiser.seed = 7;
  o.num_threads = 2;
  o.out_path = (dir / "a.pt").string();
  voxsex::Train(o);
  o.out_path = (dir / "b.pt").string();
  voxsex::Train(o);
  o.optimiser.seed = 8;
  o.out_path = (dir / "c.pt").string();
  voxsex::Train(o);
  auto a = torch::jit::load((dir / "a.pt").string());
  auto b = torch::jit::load((dir / "b.pt").string());
  auto c = torch::jit::load((dir / "c.pt").string());
  auto pa = a.named_parameters(), pb = b.named_parameters(), pc = c.named_parameters();
  auto ib = pb.begin(), ic = pc.begin();
  bool any_differs_with_other_seed = false;
  for (auto ia = pa.begin(); ia != pa.end(); ++ia, ++ib, ++ic) {
    ASSERT_EQ((*ia).name, (*ib).name);
    EXPECT_TRUE(torch::equal((*ia).value, (*ib).value)) << (*ia).name;
    if (!torch::equal((*ia).value, (*ic).value)) any_differs_with_other_seed = true;
  }
  EXPECT_TRUE(any_differs_with_other_seed);
  // Buffers too: batch-normalisation statistics and the band normalisation.
  auto ba = a.named_buffers(), bb = b.named_buffers();
  auto jb = bb.begin();
  for (auto ja = ba.begin(); ja != ba.end(); ++ja, ++jb) {
    ASSERT_EQ((*ja).name, (*jb).name);
    EXPECT_TRUE(torch::equal((*ja).value, (*jb).value)) << (*ja).name;
  }
}

TEST(Model, PredictWithAModelThatFailsOnEveryFileWritesNothing) {
  // Valid metadata (40 mel bands) for a network built for 64: loading succeeds, every forward
  // pass fails. predict must report it and exit 2 without writing answers.
  auto meta = UntrainedMetadata();
  meta["front_end"]["num_mels"] = 40;
  const std::string model = Resave(voxsex::test::BundledModel(), meta.dump(), "mels40");
  const auto dir = voxsex::test::FreshDir("model_fails_everywhere");
  const auto answers = dir / "answers.tsv";
  auto r = voxsex::test::RunVoxsex(
      "predict " + voxsex::test::Quote(VOXSEX_TEST_DATA) + " " +
          voxsex::test::Quote(answers.string()) + " --model " + voxsex::test::Quote(model),
      dir);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_NE(r.err.find("model forward failed"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("nothing written"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(answers));
}

namespace {

// The voxsex.json metadata of a saved model.
nlohmann::json SavedMetadata(const fs::path& model) {
  torch::jit::ExtraFilesMap extra{{voxsex::kModelMetadataName, ""}};
  torch::jit::load(model.string(), torch::kCPU, extra);
  return nlohmann::json::parse(extra[voxsex::kModelMetadataName]);
}

// A groups table for tests/data's six clips: one speaker each; clips 1, 2 and 5 children.
void WriteAgeGroups(const fs::path& path) {
  std::ofstream(path) << "id\tspeaker\tage_group\n"
                      << "clip_1_aiff24_32k_stereo\ts1\tchild\n"
                      << "clip_2_flac16_44k1_stereo\ts2\tchild\n"
                      << "clip_3_wav16_16k_mono\ts3\tadult\n"
                      << "clip_4_mp3_48k_mono\ts4\tadult\n"
                      << "clip_5_vorbis_22k05_mono\ts5\tchild\n"
                      << "clip_6_ulaw_8k_mono\ts6\tadult\n";
}

}  // namespace

TEST(TrainCli, GroupsHoldOutWholeSpeakersAndTheModelCarriesVadAndCalibration) {
  const auto dir = voxsex::test::FreshDir("train_groups");
  const std::string data = VOXSEX_TEST_DATA;
  // fixtures.tsv has `id` and `speaker` columns: six clips of six speakers.
  auto r = voxsex::test::RunVoxsex(
      "train --targets " + voxsex::test::Quote(data + "/expected_answers.tsv") + " --groups " +
          voxsex::test::Quote(data + "/fixtures.tsv") + " --val-fraction 0.34 --epochs 1 " +
          "--batch-size 2 --threads 1 --out " + voxsex::test::Quote((dir / "m.pt").string()),
      dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("2 of 6 speakers (2 files) held out"), std::string::npos) << r.err;
  const auto meta = SavedMetadata(dir / "m.pt");
  EXPECT_EQ(meta["training"]["train_files"].get<int>(), 4);
  EXPECT_EQ(meta["training"]["val_files"].get<int>(), 2);
  EXPECT_EQ(meta["vad"]["first_band"].get<int>(), voxsex::VadOptions{}.first_band);
  EXPECT_FALSE(meta["vad"]["drop_non_speech"].get<bool>());  // --vad 0 by default: measure only
  const double t = meta["calibration"]["temperature"].get<double>();
  EXPECT_GT(t, 0.05);
  EXPECT_LT(t, 20.0);
  // The saved model loads, and predict applies its temperature: p_female is the softmax of the
  // logits divided by it.
  const auto model = voxsex::GenderModel::Load((dir / "m.pt").string());
  EXPECT_DOUBLE_EQ(model.temperature(), t);
  const auto lm = ClipLogMel("clip_3_wav16_16k_mono.wav", model.mel_options());
  const auto p = model.Predict({&lm})[0];
  EXPECT_NEAR(p.p_female, 1.0 / (1.0 + std::exp((p.logit_male - p.logit_female) / t)), 1e-6);
  EXPECT_GT(p.speech_s, 0.3);
  EXPECT_FALSE(p.no_speech);

  // A groups table without a speaker column is refused, naming the file.
  std::ofstream(dir / "bad_groups.tsv") << "id\tsex\nclip_1_aiff24_32k_stereo\t0\n";
  r = voxsex::test::RunVoxsex("train --targets " +
                                  voxsex::test::Quote(data + "/expected_answers.tsv") +
                                  " --groups " + voxsex::test::Quote((dir / "bad_groups.tsv").string()) +
                                  " --epochs 1 --out " + voxsex::test::Quote((dir / "b.pt").string()),
                              dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("bad_groups.tsv: --groups needs a header with 'id' and 'speaker'"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir / "b.pt"));
}

TEST(TrainCli, ChildWeightWeighsChildrenInTheLoss) {
  const auto dir = voxsex::test::FreshDir("train_child_weight");
  const std::string data = VOXSEX_TEST_DATA;
  WriteAgeGroups(dir / "groups.tsv");
  const std::string common = "train --targets " + voxsex::test::Quote(data + "/expected_answers.tsv") +
                             " --epochs 2 --batch-size 3 --seed 7 --threads 1 --crop-min 1 " +
                             "--crop-max 1 --groups " + voxsex::test::Quote((dir / "groups.tsv").string()) +
                             " --val-targets " + voxsex::test::Quote(data + "/expected_answers.tsv");
  auto r = voxsex::test::RunVoxsex(
      common + " --child-weight 5 --out " + voxsex::test::Quote((dir / "w5.pt").string()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("child weight 5: 3 of 6 training files are children"), std::string::npos)
      << r.err;
  EXPECT_EQ(SavedMetadata(dir / "w5.pt")["training"]["child_weight"].get<double>(), 5.0);
  r = voxsex::test::RunVoxsex(
      common + " --child-weight 1 --out " + voxsex::test::Quote((dir / "w1.pt").string()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  // Same seed, same data: only the loss weights differ, so the weights must.
  auto w5 = torch::jit::load((dir / "w5.pt").string());
  auto w1 = torch::jit::load((dir / "w1.pt").string());
  auto p5 = w5.named_parameters(), p1 = w1.named_parameters();
  bool differs = false;
  for (auto i5 = p5.begin(), i1 = p1.begin(); i5 != p5.end(); ++i5, ++i1) {
    if (!torch::equal((*i5).value, (*i1).value)) differs = true;
  }
  EXPECT_TRUE(differs) << "--child-weight 5 trained the same weights as --child-weight 1";

  // Without --groups, or with groups lacking age_group: refused before training, nothing written.
  r = voxsex::test::RunVoxsex("train --targets " + voxsex::test::Quote(data + "/expected_answers.tsv") +
                                  " --child-weight 3 --epochs 1 --out " +
                                  voxsex::test::Quote((dir / "x.pt").string()),
                              dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("--child-weight needs --groups"), std::string::npos) << r.err;
  r = voxsex::test::RunVoxsex("train --targets " + voxsex::test::Quote(data + "/expected_answers.tsv") +
                                  " --child-weight 3 --epochs 1 --groups " +
                                  voxsex::test::Quote(data + "/fixtures.tsv") + " --val-targets " +
                                  voxsex::test::Quote(data + "/expected_answers.tsv") + " --out " +
                                  voxsex::test::Quote((dir / "y.pt").string()),
                              dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("fixtures.tsv: --child-weight needs a header with 'id' and 'age_group'"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(dir / "x.pt"));
  EXPECT_FALSE(fs::exists(dir / "y.pt"));
}

// Children's crops: every probability times --child-augment-scale, speed's also times
// --child-speed-scale; both need --groups (which crops are children's) and lie in [0, 1].
TEST(Train, ChildAugmentScalesSpeedPerturbationTwice) {
  voxsex::ExampleOptions e;
  e.augment.noise_prob = e.augment.pitch_prob = e.augment.speed_prob = 0.8;
  e.augment.gain_db = 6.0;
  e.child_augment_scale = 0.5;
  e.child_speed_scale = 0.0;
  voxsex::AugmentOptions child = e.ChildAugment();
  EXPECT_DOUBLE_EQ(child.noise_prob, 0.4);
  EXPECT_DOUBLE_EQ(child.pitch_prob, 0.4);
  EXPECT_DOUBLE_EQ(child.speed_prob, 0.0);
  EXPECT_DOUBLE_EQ(child.gain_db, 6.0);
  e.child_speed_scale = 0.5;
  EXPECT_DOUBLE_EQ(e.ChildAugment().speed_prob, 0.2);

  voxsex::TrainOptions o;
  o.data.targets_path = "targets.tsv";
  o.init_model_path = "untrained.pt";
  o.out_path = "model.pt";
  const auto validation_error = [&o]() -> std::string {
    try {
      o.Validate();
    } catch (const voxsex::ConfigError& error) {
      return error.what();
    }
    return "";
  };
  ASSERT_EQ(validation_error(), "");
  o.examples.child_speed_scale = 0.0;
  EXPECT_EQ(validation_error(),
            "--child-speed-scale needs --groups (a table with id and age_group columns)");
  o.data.groups_path = "meta.tsv";
  EXPECT_EQ(validation_error(), "");
  for (double bad : {-0.1, 1.5}) {
    o.examples.child_speed_scale = bad;
    EXPECT_EQ(validation_error(), "--child-speed-scale must be in [0, 1]") << bad;
  }
}

TEST(TrainCli, GenderAgeHeadTrainsFourClassesAndAnswersGender) {
  const auto dir = voxsex::test::FreshDir("train_gender_age");
  const std::string data = VOXSEX_TEST_DATA;
  const std::string init = (dir / "untrained_ga.pt").string();
  const std::string export_cmd = "/usr/bin/python3 " +
                                 voxsex::test::Quote(std::string(VOXSEX_SOURCE_DIR) +
                                                     "/scripts/model/export_model.py") +
                                 " " + voxsex::test::Quote(init) + " --head gender_age > /dev/null 2>&1";
  if (std::system(export_cmd.c_str()) != 0) {
    GTEST_SKIP() << "/usr/bin/python3 with torch (python3-torch) is needed to export the head: " << export_cmd;
  }
  WriteAgeGroups(dir / "groups.tsv");
  const std::string targets = voxsex::test::Quote(data + "/expected_answers.tsv");
  const std::string common = "train --targets " + targets + " --init " + voxsex::test::Quote(init) +
                             " --epochs 2 --batch-size 3 --seed 7 --threads 1 --crop-min 1 --crop-max 1";
  auto r = voxsex::test::RunVoxsex(common + " --groups " + voxsex::test::Quote((dir / "groups.tsv").string()) +
                                       " --val-targets " + targets + " --out " +
                                       voxsex::test::Quote((dir / "ga.pt").string()),
                                   dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("gender x age head: 3 of 6 training files are children"), std::string::npos) << r.err;
  EXPECT_EQ(SavedMetadata(dir / "ga.pt")["head"]["type"], "gender_age");
  r = voxsex::test::RunVoxsex("info " + voxsex::test::Quote((dir / "ga.pt").string()), dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("gender_age (male adult, female adult, male child, female child), answers gender"),
            std::string::npos)
      << r.out;

  // The trained head: four fine logits; forward's gender probabilities are the sums of the fine
  // probabilities of each gender over the two age groups.
  auto m = torch::jit::load((dir / "ga.pt").string());
  m.eval();
  torch::NoGradGuard no_grad;
  const auto mel = voxsex::MelOptions{};
  auto x = voxsex::internal::ToTensor(ClipLogMel("clip_3_wav16_16k_mono.wav", mel)).unsqueeze(0).unsqueeze(0);
  const auto lengths = torch::tensor({x.size(3)}, torch::kInt64);
  const auto gender = m.forward({x, lengths}).toTensor();
  const auto fine = m.run_method("fine_logits", x, lengths).toTensor();
  ASSERT_EQ(gender.sizes(), (std::vector<int64_t>{1, 2}));
  ASSERT_EQ(fine.sizes(), (std::vector<int64_t>{1, 4}));
  const auto pf = fine.softmax(1)[0];
  const auto pg = gender.softmax(1)[0];
  EXPECT_NEAR(pg[0].item<double>(), (pf[0] + pf[2]).item<double>(), 1e-5);
  EXPECT_NEAR(pg[1].item<double>(), (pf[1] + pf[3]).item<double>(), 1e-5);

  // predict answers gender with it, like any model.
  r = voxsex::test::RunVoxsex("predict " + voxsex::test::Quote(data) + " " +
                                  voxsex::test::Quote((dir / "answers.tsv").string()) + " --model " +
                                  voxsex::test::Quote((dir / "ga.pt").string()),
                              dir);
  ASSERT_EQ(r.status, 0) << r.err;
  std::ifstream answers(dir / "answers.tsv");
  std::string id;
  int label = -1, rows = 0;
  while (answers >> id >> label) {
    EXPECT_TRUE(label == 0 || label == 1) << id;
    ++rows;
  }
  EXPECT_EQ(rows, 6);

  // Without age groups the head cannot be trained: refused before training, nothing written.
  r = voxsex::test::RunVoxsex(common + " --out " + voxsex::test::Quote((dir / "x.pt").string()), dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("classifies gender x age group: it needs --groups"), std::string::npos) << r.err;
  std::ofstream(dir / "partial.tsv") << "id\tspeaker\tage_group\n"
                                     << "clip_1_aiff24_32k_stereo\ts1\tchild\n"
                                     << "clip_2_flac16_44k1_stereo\ts2\tadult\n";
  r = voxsex::test::RunVoxsex(common + " --groups " + voxsex::test::Quote((dir / "partial.tsv").string()) +
                                  " --val-targets " + targets + " --out " +
                                  voxsex::test::Quote((dir / "y.pt").string()),
                              dir);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("needs an age_group of 'child' or 'adult'"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir / "x.pt"));
  EXPECT_FALSE(fs::exists(dir / "y.pt"));
}

TEST(TrainCli, WarnsWhenValidationAudioIsAlsoInTraining) {
  const auto dir = voxsex::test::FreshDir("train_shared_audio");
  const std::string data = VOXSEX_TEST_DATA;
  fs::create_directories(dir / "val");
  fs::copy_file(data + "/clip_3_wav16_16k_mono.wav", dir / "val" / "copy.wav");
  fs::copy_file(data + "/clip_2_flac16_44k1_stereo.flac", dir / "val" / "other.flac");
  std::ofstream(dir / "val" / "targets.tsv") << "copy\t0\nother\t1\n";
  // Training without clip_2: only the copy of clip_3 is shared.
  std::ofstream(dir / "train.tsv") << "clip_1_aiff24_32k_stereo\t0\nclip_3_wav16_16k_mono\t0\n"
                                      "clip_4_mp3_48k_mono\t1\nclip_6_ulaw_8k_mono\t1\n";
  const auto r = voxsex::test::RunVoxsex(
      "train --targets " + voxsex::test::Quote((dir / "train.tsv").string()) + " --audio-dir " +
          voxsex::test::Quote(data) + " --val-targets " +
          voxsex::test::Quote((dir / "val" / "targets.tsv").string()) +
          " --epochs 1 --batch-size 2 --threads 1 --out " +
          voxsex::test::Quote((dir / "m.pt").string()),
      dir);
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.err.find("1 validation files have the same audio as a training file ('copy' = "
                       "training 'clip_3_wav16_16k_mono')"),
            std::string::npos)
      << r.err;
}

TEST(Model, StoredVadMeasuresSpeechAndDropsFramesOnlyWhenAsked) {
  // The bundled model's weights without a "vad" block in its metadata, with one measuring only,
  // and with one dropping non-speech frames.
  auto meta = SavedMetadata(voxsex::test::BundledModel());
  meta.erase("vad");
  const std::string without = Resave(voxsex::test::BundledModel(), meta.dump(), "vad_none");
  meta["vad"] = voxsex::VadOptionsToJson(voxsex::VadOptions{});
  meta["vad"]["drop_non_speech"] = false;
  const std::string measuring = Resave(voxsex::test::BundledModel(), meta.dump(), "vad_measure");
  meta["vad"]["drop_non_speech"] = true;
  const std::string dropping = Resave(voxsex::test::BundledModel(), meta.dump(), "vad_drop");

  const auto plain = voxsex::GenderModel::Load(without);
  const auto lm = ClipLogMel("clip_1_aiff24_32k_stereo.aiff", plain.mel_options());
  const auto p0 = plain.Predict({&lm})[0];
  const auto p1 = voxsex::GenderModel::Load(measuring).Predict({&lm})[0];
  const auto p2 = voxsex::GenderModel::Load(dropping).Predict({&lm})[0];
  const double duration_s = lm.num_frames * 0.01;
  // Without a detector every frame counts as speech; with one, the pauses do not.
  EXPECT_NEAR(p0.speech_s, duration_s, 1e-9);
  EXPECT_GT(p1.speech_s, 0.2);
  EXPECT_LT(p1.speech_s, 0.95 * duration_s);
  EXPECT_DOUBLE_EQ(p1.speech_s, p2.speech_s);
  // Measuring only: the model sees the same frames, so the same logits.
  EXPECT_EQ(p1.logit_male, p0.logit_male);
  EXPECT_EQ(p1.logit_female, p0.logit_female);
  // Dropping: fewer frames, other logits.
  EXPECT_NE(p2.logit_female - p2.logit_male, p0.logit_female - p0.logit_male);
}

// The model card reads what it writes, and reads format 1 (before the card): its
// ensemble_sources become the card's ensemble.
TEST(ModelCard, RoundTripsAndReadsFormatOne) {
  const voxsex::ModelCard card = voxsex::GenderModel::Load(voxsex::test::BundledModel()).card();
  ASSERT_EQ(card.format_version, voxsex::kModelFormatVersion);
  ASSERT_GE(card.ensemble.size(), 2u) << "the bundled model is an ensemble";
  const std::size_t last = card.ensemble.size() - 1;
  const voxsex::ModelCard again = voxsex::ModelCard::FromJson(card.ToJson());
  EXPECT_EQ(again.ToJson(), card.ToJson());
  EXPECT_EQ(again.front_end, card.front_end);
  ASSERT_TRUE(again.vad && again.calibration && again.head);
  EXPECT_EQ(again.temperature(), card.temperature());
  EXPECT_EQ(again.head->fine_labels.size(), 4u);

  auto v1 = nlohmann::json::parse(card.ToJson());
  v1["format_version"] = 1;
  v1["ensemble_sources"] = nlohmann::json::array();
  for (const auto& s : v1["ensemble"]) {
    v1["ensemble_sources"].push_back(
        {{"model", s["model"]}, {"members", s["networks"]}, {"architecture", s["architecture"]}});
  }
  v1.erase("ensemble");
  const voxsex::ModelCard old = voxsex::ModelCard::FromJson(v1.dump());
  EXPECT_EQ(old.format_version, 1);
  ASSERT_EQ(old.ensemble.size(), card.ensemble.size());
  EXPECT_EQ(old.ensemble[last].model, card.ensemble[last].model);
  EXPECT_EQ(old.ensemble[last].networks, card.ensemble[last].networks);
  // Written again, it is format 2.
  EXPECT_EQ(nlohmann::json::parse(old.ToJson())["format_version"].get<int>(), 2);
  EXPECT_FALSE(nlohmann::json::parse(old.ToJson()).contains("ensemble_sources"));
}
