// Internal helpers shared by model.cc and train.cc (LibTorch types; not part of the public API).
#pragma once

#include <torch/script.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "voxsex/mel.h"
#include "voxsex/model.h"
#include "voxsex/vad.h"

namespace voxsex::internal {

// A TorchScript module with its parsed voxsex metadata.
struct LoadedModule {
  torch::jit::Module module;
  nlohmann::json metadata;
  std::string metadata_json;
  MelOptions mel;
  std::optional<VadOptions> vad;  // metadata "vad": speech-frame selection the model was trained with
  double temperature = 1.0;       // metadata "calibration.temperature": logits are divided by it
};

// Loads a TorchScript file and validates its voxsex metadata (format_version, labels, front_end,
// and the optional vad and calibration objects).
// Throws ModelError naming `path` and the reason.
LoadedModule LoadModule(const std::string& path);

// Front-end options <-> the metadata's "front_end" object. FromJson throws ModelError on missing
// or invalid fields.
MelOptions MelOptionsFromJson(const nlohmann::json& j);
nlohmann::json MelOptionsToJson(const MelOptions& opts);
// VAD options <-> the metadata's "vad" object. FromJson throws ModelError on invalid fields.
VadOptions VadOptionsFromJson(const nlohmann::json& j);
nlohmann::json VadOptionsToJson(const VadOptions& opts);

// Sets LibTorch's intra-op thread count (0 = all cores) and returns the count used.
int SetTorchThreads(int num_threads);

// Log-mel of one file as a tensor [num_mels, num_frames] (transposed copy of LogMel).
torch::Tensor ToTensor(const LogMel& log_mel);

// Classifies features [num_mels, num_frames] with `module` (already in eval mode), cutting inputs
// longer than max_window_frames into near-equal windows whose logits are averaged, weighted by
// window length. Windows are sorted by length and batched up to batch_size at a time and (when
// max_batch_frames > 0) up to max_batch_frames padded frames per batch, each batch padded
// to a multiple of 16 frames (bounded set of shapes). Runs under NoGradGuard. Returns one
// Prediction per input. Throws ModelError on a LibTorch error.
// Batches are moved to `device` (the module's) and the logits back to the CPU.
std::vector<Prediction> PredictTensors(torch::jit::Module& module,
                                       const std::vector<torch::Tensor>& features,
                                       int batch_size, int max_window_frames,
                                       torch::Device device = torch::kCPU,
                                       int64_t max_batch_frames = 0);

// The bytes of `module` saved as TorchScript with `metadata` as its voxsex.json extra file, for
// WriteFilesAtomic. Throws ModelError naming `path` (the destination, for the message).
std::string SerializeModule(torch::jit::Module& module, const nlohmann::json& metadata,
                            const std::string& path);

}  // namespace voxsex::internal
