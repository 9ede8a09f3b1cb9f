// Internal helpers shared by model.cc, train.cc and segment.cc (LibTorch types; not public API).
#pragma once

#include <torch/script.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "voxsex/mel.h"
#include "voxsex/model.h"
#include "voxsex/model_card.h"
#include "voxsex/vad.h"

namespace voxsex::internal {

// A TorchScript module with its model card. Copies share the module (torch::jit::Module is a
// handle): a GenderModel wrapping a copy runs the weights a trainer is changing.
struct LoadedModule {
  torch::jit::Module module;
  ModelCard card;
  std::string metadata_json;  // voxsex.json as stored in the file
};

// A TorchScript module with one extra file of its archive (a voxsex file's metadata JSON).
struct TorchScriptFile {
  torch::jit::Module module;
  std::string extra;  // the extra file's bytes, never empty
};

// Loads the TorchScript file `path` on the CPU, in eval mode, with its extra file `extra_name`:
// the one loader of voxsex's TorchScript files (the gender model, the speech detector).
// `what` names the file's role in messages ("model", "speech detector"), `kind` what a file
// without the extra file is not ("voxsex model"). Throws ModelError naming `path` when the file
// does not exist, is not TorchScript (LibTorch's reason, without its backtrace), lacks the extra
// file or has no forward method.
TorchScriptFile LoadTorchScript(const std::string& path, const std::string& what,
                                const std::string& extra_name, const std::string& kind);

// Loads a TorchScript file and its model card (ModelCard::FromJson), in eval mode.
// Throws ModelError naming `path` and the reason.
LoadedModule LoadModule(const std::string& path);

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

// The bytes of `module` saved as TorchScript with `card` as its voxsex.json extra file, for
// WriteFilesAtomic. Throws ModelError naming `path` (the destination, for the message).
std::string SerializeModule(torch::jit::Module& module, const ModelCard& card,
                            const std::string& path);

}  // namespace voxsex::internal
