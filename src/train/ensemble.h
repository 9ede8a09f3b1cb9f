// Ensembles of networks (src/train/ensemble.cc). Internal to the library.
#pragma once

#include <torch/script.h>

#include <vector>

#include "model_internal.h"

namespace voxsex::internal {

// One TorchScript module "Ensemble" holding `networks` as member0, member1, ..., whose forward
// (same signature as theirs) returns the mean of their logits, summed in member order.
torch::jit::Module EnsembleOf(const std::vector<torch::jit::Module>& networks);

// The networks of a module: an Ensemble's members (EnsembleOf's member0..., or the `members`
// ModuleList of format-1 ensembles made by scripts/make_ensemble.py), else the module itself.
std::vector<torch::jit::Module> NetworksOf(const torch::jit::Module& module);

// Parameters of `module` in all (elements).
long long CountParameters(const torch::jit::Module& module);

}  // namespace voxsex::internal
