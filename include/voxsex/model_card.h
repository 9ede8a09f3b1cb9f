// The model card: what a voxsex model file says about itself. The one place its format is written
// down, and the one type that reads and writes it.
//
// A voxsex model is a TorchScript file (torch.jit.save) with
// - forward(log_mel [batch, 1, num_mels, num_frames] float32, lengths [batch] int64, the true frame
//   count of each item; frames past it are padding) -> logits [batch, 2], index 0 male, 1 female;
// - for a trainable architecture (scripts/model/export_model.py; `voxsex train --init`), the buffers
//   band_mean and band_std [num_mels], the per-band normalisation that training sets; with a
//   gender x age head also fine_logits(log_mel, lengths) -> [batch, 4] (ModelHead::fine_labels
//   order) and the attribute age_classes = True, forward being logsumexp over the age groups;
// - an ensemble (`voxsex train --ensemble`, `voxsex ensemble`) holds its networks as submodules
//   member0, member1, ... and its forward averages their logits;
// - the extra file "voxsex.json" (kModelMetadataName), a JSON object, format version 2:
//
//   key             type     written by             meaning
//   format_version  int      all                    2 (version 1, voxsex 0.1 before the model card,
//                                                   is read too: its ensemble_sources become ensemble)
//   labels          [str]    all                    always ["male", "female"]: logit index -> label
//   architecture    str      export, train, ensemble "tdnn", "ensemble of 3 x tdnn", ...
//   parameters      int      export, train, ensemble trainable parameters in all
//   input, output   str      export                 forward's signature, as text (above)
//   head            object   export (gender_age)    {type: "gender" | "gender_age", fine_labels,
//                                                   fine_output}; absent = gender
//   front_end       object   all                    MelOptions fields (sample_rate_hz, n_fft,
//                                                   win_length, hop_length, num_mels, f_min_hz,
//                                                   f_max_hz, log_offset) plus descriptive type,
//                                                   window, center, pad_mode, mel_scale, norm, power
//   vad             object   train, calibrate       VadOptions fields plus type "energy"; absent =
//                                                   every frame is speech
//   calibration     object   train, calibrate       {temperature (0, 1000), fitted_on: targets path}
//   trained         bool     all                    false for an exported architecture
//   voxsex_version  str      train, calibrate, ens. the voxsex that wrote the file
//   exported_with   object   export                 {torch, python} versions
//   ensemble        [object] ensemble               the models combined: {model (file name),
//                                                   networks, architecture}
//   training        object   train                  TrainOptions as run and the outcome: date_utc,
//                                                   targets, val_targets, groups, child_weight,
//                                                   train_files, train_male, train_female,
//                                                   val_files, epochs, batch_size, lr,
//                                                   weight_decay, seed, ensemble, threads, crop_s,
//                                                   gain_db, augment, vad, spec_augment, ema_decay,
//                                                   feature_norm, seconds, members (one object per
//                                                   network: seed, best_epoch, history [{epoch,
//                                                   loss, train_accuracy, val_accuracy,
//                                                   val_balanced_accuracy, seconds}], validation;
//                                                   for an ensemble, source: the model it came from)
//   metrics         object   train                  {validation: MetricsJson (src/
//                                                   metrics_json.h)}
//
// Keys not listed are dropped when a card is read and written again.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "voxsex/mel.h"
#include "voxsex/vad.h"

namespace voxsex {

// The format version this voxsex writes; kMinModelFormatVersion .. kModelFormatVersion are read.
inline constexpr int kModelFormatVersion = 2;
inline constexpr int kMinModelFormatVersion = 1;
inline constexpr const char* kModelMetadataName = "voxsex.json";

// A gender x age head (export_model.py --head gender_age).
struct ModelHead {
  std::string type = "gender";              // "gender" or "gender_age"
  std::vector<std::string> fine_labels;     // fine_logits' classes, e.g. "male adult"
  std::string fine_output;                  // fine_logits' signature, as text
};

// The temperature that divides the logits before the softmax (PFemale, include/voxsex/model.h).
struct ModelCalibration {
  double temperature = 1.0;
  std::string fitted_on;  // the targets file it was fitted on
};

// One model that `voxsex ensemble` combined.
struct EnsembleSource {
  std::string model;         // file name
  int networks = 1;          // networks it brought
  std::string architecture;  // its card's architecture
};

struct ModelCard {
  int format_version = kModelFormatVersion;
  std::string architecture;
  long long parameters = 0;
  std::string input = "log_mel [batch, 1, num_mels, num_frames] float32, lengths [batch] int64";
  std::string output = "logits [batch, 2]";
  std::optional<ModelHead> head;
  MelOptions front_end;
  std::optional<VadOptions> vad;
  std::optional<ModelCalibration> calibration;
  bool trained = false;
  std::string voxsex_version;
  std::map<std::string, std::string> exported_with;
  std::vector<EnsembleSource> ensemble;
  nlohmann::json training;  // null, or the object in the table above
  nlohmann::json metrics;   // null, or {validation: ...}

  // The calibration temperature, 1 without calibration.
  double temperature() const { return calibration ? calibration->temperature : 1.0; }

  // Parses voxsex.json. Throws ModelError (without a path: the caller names the file) when it is
  // not JSON, its format_version is missing or outside the versions read, its labels are not
  // ["male", "female"], front_end is missing or invalid (MelOptions::Validate), or vad,
  // calibration, head or ensemble are malformed.
  static ModelCard FromJson(const std::string& text);
  // voxsex.json with format_version kModelFormatVersion, indented by one space.
  std::string ToJson() const;
};

// The JSON objects of the table above for the options structs.
nlohmann::json MelOptionsToJson(const MelOptions& opts);
// The MelOptions of a front_end object (the fields of the table; others are ignored). Throws
// ModelError "metadata front_end lacks '<field>'", "... field '<field>': <reason>" or "metadata
// front_end is invalid: <reason>" (MelOptions::Validate).
MelOptions MelOptionsFromJson(const nlohmann::json& front_end);
nlohmann::json VadOptionsToJson(const VadOptions& opts);

}  // namespace voxsex
