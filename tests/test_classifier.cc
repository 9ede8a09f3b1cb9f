// The one inference pipeline (include/voxsex/classifier.h): predict, calibrate and training
// validation score a file the same way; one training step and validation run in process.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "model_internal.h"
#include "test_util.h"
#include "train/batches.h"
#include "train/calibration.h"
#include "train/data.h"
#include "train/trainer.h"
#include "voxsex/audio.h"
#include "voxsex/classifier.h"
#include "voxsex/error.h"
#include "voxsex/train.h"
#include "voxsex/tsv.h"

namespace fs = std::filesystem;
using voxsex::test::Quote;
using voxsex::test::RunVoxsex;
using voxsex::test::WriteWav16;

namespace {

const fs::path kData = VOXSEX_TEST_DATA;

// Four files of 14-31 s (two to four model windows of 10 s), each the fixture clips one after
// another from a different start, with targets 0, 1, 0, 1; returns the directory.
fs::path LongFiles(const std::string& name) {
  const fs::path dir = voxsex::test::FreshDir(name);
  std::vector<std::vector<float>> clips;
  for (const char* f : {"clip_3_wav16_16k_mono.wav", "clip_2_flac16_44k1_stereo.flac",
                        "clip_5_vorbis_22k05_mono.ogg", "clip_4_mp3_48k_mono.mp3",
                        "clip_1_aiff24_32k_stereo.aiff", "clip_6_ulaw_8k_mono.wav"}) {
    clips.push_back(voxsex::ReadAudio((kData / f).string()).samples);
  }
  std::ofstream targets(dir / "targets.tsv");
  const double lengths_s[] = {14.0, 22.5, 31.0, 25.0};
  for (int k = 0; k < 4; ++k) {
    std::vector<float> x;
    for (std::size_t c = static_cast<std::size_t>(k); x.size() < lengths_s[k] * 16000; ++c) {
      const auto& clip = clips[c % clips.size()];
      x.insert(x.end(), clip.begin(), clip.end());
    }
    x.resize(static_cast<std::size_t>(lengths_s[k] * 16000));
    const std::string id = "long" + std::to_string(k);
    WriteWav16(dir / (id + ".wav"), x);
    targets << id << '\t' << k % 2 << '\n';
  }
  return dir;
}

}  // namespace

// predict's p_female (scores.tsv), the Classifier's, training validation's and the logits that
// calibrate fits its temperature on are one computation, for files longer than one window.
TEST(Classifier, PredictCalibrateAndValidationScoreLongFilesAlike) {
  const fs::path dir = LongFiles("classifier_long");
  const std::string model = voxsex::test::BundledModel();

  // predict, as a user runs it.
  auto r = RunVoxsex("predict " + Quote(dir.string()) + " " + Quote((dir / "a.tsv").string()) +
                         " --scores " + Quote((dir / "s.tsv").string()) + " --model " + Quote(model) +
                         " --threads 2",
                     dir / "run");
  ASSERT_EQ(r.status, 0) << r.err;
  const auto predicted = voxsex::test::ReadPFemale(dir / "s.tsv");
  ASSERT_EQ(predicted.size(), 4u);

  // The Classifier, one file at a time.
  const voxsex::Classifier classifier = voxsex::Classifier::Load(model);
  const double temperature = classifier.model().temperature();
  std::map<std::string, voxsex::Prediction> single;
  for (const auto& [id, p] : predicted) {
    const voxsex::FileResult f = classifier.Classify((dir / (id + ".wav")).string());
    ASSERT_TRUE(f.classified()) << f.error;
    EXPECT_GT(f.duration_s, 10.0) << id << ": longer than one window";
    single[id] = f.prediction;
    EXPECT_NEAR(f.prediction.p_female, p, 6e-5) << id << " (scores.tsv has 4 decimals)";
  }

  // Training validation: the files as Train loads them, scored by a Validator around the module.
  const voxsex::internal::LoadedModule loaded = voxsex::internal::LoadModule(model);
  const auto targets = voxsex::ReadTargets((dir / "targets.tsv").string());
  const auto val = voxsex::internal::LoadValidation((dir / "targets.tsv").string(), targets, "",
                                                    classifier, 2, /*strict=*/true);
  ASSERT_EQ(val.items.size(), 4u);
  const voxsex::internal::Validator validator(loaded, val.items, voxsex::ModelOptions{});
  const std::vector<voxsex::Prediction> validated = validator.Predict();
  std::vector<voxsex::Prediction> in_target_order;
  for (std::size_t i = 0; i < val.items.size(); ++i) {
    const voxsex::Prediction& want = single[val.items[i].id];
    in_target_order.push_back(want);
    EXPECT_NEAR(validated[i].logit_male, want.logit_male, 1e-4) << val.items[i].id;
    EXPECT_NEAR(validated[i].logit_female, want.logit_female, 1e-4) << val.items[i].id;
    EXPECT_NEAR(voxsex::PFemale(validated[i].logit_female - validated[i].logit_male, temperature),
                want.p_female, 1e-5)
        << val.items[i].id;
  }

  // calibrate: the temperature it stores is the one fitted on predict's own logits.
  voxsex::CalibrateOptions c;
  c.model_path = model;
  c.targets_path = (dir / "targets.tsv").string();
  c.out_path = (dir / "calibrated.pt").string();
  c.num_threads = 1;
  const double fitted = voxsex::Calibrate(c);
  const double expected = voxsex::internal::FitTemperature(in_target_order, validator.Truth());
  EXPECT_NEAR(fitted, expected, 1e-4 * expected);
  EXPECT_NEAR(voxsex::GenderModel::Load(c.out_path).temperature(), fitted, 1e-9);
}

// The batch pipeline (ClassifyFiles, streaming a file's blocks as they come) and Classify agree,
// whatever the chunk and pending-block sizes.
TEST(Classifier, StreamingBatchesGiveTheSameResultsAsSingleFiles) {
  const fs::path dir = LongFiles("classifier_batch");
  voxsex::ClassifierOptions opts;
  opts.files_per_chunk = 3;
  opts.max_pending_blocks = 1;
  const voxsex::Classifier classifier = voxsex::Classifier::Load(voxsex::test::BundledModel(), opts);
  std::vector<voxsex::FileResult> files(4);
  for (int k = 0; k < 4; ++k) {
    files[k].path = (dir / ("long" + std::to_string(k) + ".wav")).string();
    files[k].id = "long" + std::to_string(k);
  }
  files.push_back({});
  files.back().path = (dir / "missing.wav").string();
  files.back().id = "missing";
  long reads = 0;
  std::vector<std::string> failures;
  voxsex::ClassifyHooks hooks;
  hooks.on_read = [&reads] { ++reads; };
  hooks.on_failure = [&failures](const voxsex::FileResult& f) { failures.push_back(f.error); };
  EXPECT_EQ(classifier.ClassifyFiles(files, hooks), 0);
  EXPECT_EQ(reads, 5);
  ASSERT_EQ(failures.size(), 1u);
  EXPECT_NE(failures[0].find("missing.wav"), std::string::npos) << failures[0];
  EXPECT_FALSE(files[4].classified());
  for (int k = 0; k < 4; ++k) {
    const voxsex::FileResult one = classifier.Classify(files[k].path);
    ASSERT_TRUE(files[k].classified()) << files[k].error;
    EXPECT_EQ(files[k].gender, one.gender);
    EXPECT_NEAR(files[k].prediction.p_female, one.prediction.p_female, 1e-5);
    EXPECT_NEAR(files[k].prediction.speech_s, one.prediction.speech_s, 1e-9);
    EXPECT_EQ(files[k].flags, one.flags);
  }
}

// One optimiser step changes the weights and gives a finite loss; validating the module in
// process gives what predict gives for the same weights saved to a file.
TEST(Trainer, OneStepAndValidationInProcess) {
  namespace in = voxsex::internal;
  const auto targets_path = (kData / "expected_answers.tsv").string();
  const auto targets = voxsex::ReadTargets(targets_path);
  in::LoadedModule module = in::LoadModule(voxsex::test::UntrainedModel());
  const voxsex::MelOptions mel = module.card.front_end;
  auto train = in::LoadExamples(targets_path, targets, "", mel, 30.0, 2, true, nullptr);
  ASSERT_EQ(train.items.size(), 6u);
  const auto [mean, std] = in::BandStatistics(train.items);
  {
    torch::NoGradGuard g;
    module.module.attr("band_mean").toTensor().copy_(mean);
    module.module.attr("band_std").toTensor().copy_(std);
  }
  voxsex::TrainOptions opts;
  in::BatchMaker batches(opts.examples, opts.vad, mel, train.items, mean, 1);
  std::vector<torch::Tensor> params;
  std::vector<torch::Tensor> before;
  for (auto p : module.module.parameters()) {
    p.requires_grad_(true);
    params.push_back(p);
    before.push_back(p.detach().clone());
  }
  torch::optim::AdamW optimizer(params, torch::optim::AdamWOptions(1e-3));
  std::mt19937_64 rng(1);
  const std::vector<std::size_t> order = {0, 1, 2, 3, 4, 5};
  const in::Batch batch = batches.Make(order, 0, 6, rng);
  EXPECT_EQ(batch.x.size(0), 6);
  module.module.train(true);
  const in::StepResult step =
      in::TrainStep(module.module, optimizer, batch, torch::ones({2}, torch::kFloat32));
  EXPECT_TRUE(std::isfinite(step.loss));
  EXPECT_GT(step.loss, 0.0);
  bool changed = false;
  std::size_t i = 0;
  for (const auto& p : module.module.parameters()) changed |= !torch::equal(p.detach(), before[i++]);
  EXPECT_TRUE(changed);
  module.module.eval();

  // Validation of the module as it is now, and predict of the same weights written to a file.
  module.card.vad = voxsex::TrainOptions::DefaultTrainingVad();
  const voxsex::Classifier reader(voxsex::GenderModel::Wrap(module, {}, "test"),
                                  voxsex::ClassifierOptions{});
  const auto val = in::LoadValidation(targets_path, targets, "", reader, 2, true);
  const in::Validator validator(module, val.items, voxsex::ModelOptions{});
  const auto validated = validator.Predict();
  const auto metrics = validator.Score();
  EXPECT_EQ(metrics.num_files, 6);
  const fs::path dir = voxsex::test::FreshDir("trainer_in_process");
  const std::string saved = (dir / "step.pt").string();
  voxsex::WriteFilesAtomic({{saved, in::SerializeModule(module.module, module.card, saved)}});
  const voxsex::Classifier predict = voxsex::Classifier::Load(saved);
  std::map<std::string, std::string> file_of;
  for (const auto& e : fs::directory_iterator(kData)) {
    if (voxsex::HasAudioExtension(e.path().string())) {
      file_of[e.path().stem().string()] = e.path().string();
    }
  }
  for (std::size_t k = 0; k < val.items.size(); ++k) {
    const auto f = predict.Classify(file_of.at(val.items[k].id));
    ASSERT_TRUE(f.classified()) << f.error;
    EXPECT_NEAR(f.prediction.logit_male, validated[k].logit_male, 1e-4) << val.items[k].id;
    EXPECT_NEAR(f.prediction.logit_female, validated[k].logit_female, 1e-4) << val.items[k].id;
  }
}

// Speaker-balanced epochs: at most the cap of each speaker, drawn anew each epoch; without a cap,
// every example once.
TEST(Trainer, EpochOrderCapsFilesPerSpeaker) {
  std::vector<voxsex::internal::Example> train(12);
  for (std::size_t i = 0; i < train.size(); ++i) train[i].speaker = i < 10 ? "many" : "few";
  std::mt19937_64 rng(4), same(4);
  std::set<std::set<std::size_t>> draws;  // which files each epoch had
  for (int epoch = 0; epoch < 5; ++epoch) {
    const auto order = voxsex::internal::EpochOrder(train, 3, rng);
    EXPECT_EQ(order, voxsex::internal::EpochOrder(train, 3, same));
    ASSERT_EQ(order.size(), 5u);
    std::map<std::string, int> per_speaker;
    for (std::size_t i : order) ++per_speaker[train[i].speaker];
    EXPECT_EQ(per_speaker["many"], 3);
    EXPECT_EQ(per_speaker["few"], 2);
    draws.insert(std::set<std::size_t>(order.begin(), order.end()));
  }
  EXPECT_GT(draws.size(), 1u) << "the same files every epoch";
  const auto all = voxsex::internal::EpochOrder(train, 0, rng);
  EXPECT_EQ(std::set<std::size_t>(all.begin(), all.end()).size(), 12u);
}

// A run stopped after its second epoch and resumed (--resume) gives the uninterrupted run's
// weights, bit for bit; the checkpoints go once the model is written; a checkpoint of other
// options is refused.
TEST(Trainer, ResumedRunGivesTheUninterruptedRunsWeights) {
  const fs::path dir = voxsex::test::FreshDir("trainer_resume");
  voxsex::TrainOptions o;
  o.data.targets_path = (kData / "expected_answers.tsv").string();
  o.data.val_targets_path = o.data.targets_path;  // a validation set: the kept epoch is resumed too
  o.init_model_path = voxsex::test::UntrainedModel();
  o.optimiser.epochs = 4;
  o.optimiser.batch_size = 3;
  o.optimiser.seed = 5;
  o.num_threads = 1;
  o.examples.augment.noise_prob = 0.5;  // the generators' states matter
  o.out_path = (dir / "whole.pt").string();
  voxsex::Train(o);
  EXPECT_FALSE(fs::exists(dir / "whole.pt.checkpoint"));

  o.out_path = (dir / "resumed.pt").string();
  voxsex::TrainOptions stopping = o;
  stopping.on_progress = [](int, int epoch, std::size_t, std::size_t) {
    if (epoch == 3) throw std::runtime_error("stopped in epoch 3");
  };
  EXPECT_THROW(voxsex::Train(stopping), std::runtime_error);
  EXPECT_FALSE(fs::exists(dir / "resumed.pt"));
  EXPECT_TRUE(fs::exists(dir / "resumed.pt.checkpoint" / "member1.pt"));

  voxsex::TrainOptions other = o;
  other.resume = true;
  other.optimiser.lr = 1e-3;
  EXPECT_THROW(voxsex::Train(other), voxsex::ConfigError);

  o.resume = true;
  voxsex::Train(o);
  EXPECT_FALSE(fs::exists(dir / "resumed.pt.checkpoint"));
  auto a = torch::jit::load((dir / "whole.pt").string());
  auto b = torch::jit::load((dir / "resumed.pt").string());
  auto pa = a.named_parameters(), pb = b.named_parameters();
  auto ib = pb.begin();
  for (auto ia = pa.begin(); ia != pa.end(); ++ia, ++ib) {
    EXPECT_TRUE(torch::equal((*ia).value, (*ib).value)) << (*ia).name;
  }
  auto ba = a.named_buffers(), bb = b.named_buffers();
  auto jb = bb.begin();
  for (auto ja = ba.begin(); ja != ba.end(); ++ja, ++jb) {
    EXPECT_TRUE(torch::equal((*ja).value, (*jb).value)) << (*ja).name;
  }
  const auto card_a = voxsex::GenderModel::Load((dir / "whole.pt").string()).card();
  const auto card_b = voxsex::GenderModel::Load((dir / "resumed.pt").string()).card();
  EXPECT_EQ(card_a.training["members"][0]["best_epoch"], card_b.training["members"][0]["best_epoch"]);
  EXPECT_EQ(card_a.training["members"][0]["history"].size(), 4u);
  EXPECT_EQ(card_b.training["members"][0]["history"].size(), 4u);
  EXPECT_EQ(card_a.temperature(), card_b.temperature());
}
