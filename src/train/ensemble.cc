#include "train/ensemble.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "voxsex/error.h"
#include "voxsex/train.h"
#include "voxsex/tsv.h"

namespace voxsex {
namespace internal {

torch::jit::Module EnsembleOf(const std::vector<torch::jit::Module>& networks) {
  torch::jit::Module ensemble("voxsex.Ensemble");
  std::string sum;
  for (std::size_t k = 0; k < networks.size(); ++k) {
    const std::string name = "member" + std::to_string(k);
    ensemble.register_module(name, networks[k]);
    sum += (k ? " + " : "") + std::string("self.") + name + ".forward(log_mel, lengths)";
  }
  ensemble.define("def forward(self, log_mel: Tensor, lengths: Tensor) -> Tensor:\n    return (" +
                  sum + ") / " + std::to_string(networks.size()) + ".0\n");
  ensemble.eval();
  return ensemble;
}

std::vector<torch::jit::Module> NetworksOf(const torch::jit::Module& module) {
  if (module.type()->name() && module.type()->name()->name() == "Ensemble") {
    std::vector<torch::jit::Module> networks;
    for (const auto& child : module.named_children()) {
      if (child.name.rfind("member", 0) == 0 && child.name != "members") {
        networks.push_back(child.value);  // EnsembleOf: member0, member1, ...
      } else if (child.name == "members") {  // scripts/make_ensemble.py (format 1): a ModuleList
        for (const auto& m : child.value.children()) networks.push_back(m);
      }
    }
    if (!networks.empty()) return networks;
  }
  return {module};
}

long long CountParameters(const torch::jit::Module& module) {
  long long n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace internal

void EnsembleOptions::Validate() const {
  if (out_path.empty()) throw ConfigError("--out is required");
  if (model_paths.empty()) throw ConfigError("give the models to combine");
}

int MakeEnsemble(const EnsembleOptions& opts) {
  opts.Validate();
  std::vector<torch::jit::Module> networks;
  ModelCard card;
  nlohmann::json members = nlohmann::json::array();
  std::vector<EnsembleSource> sources;
  for (std::size_t i = 0; i < opts.model_paths.size(); ++i) {
    const std::string& path = opts.model_paths[i];
    const internal::LoadedModule loaded = internal::LoadModule(path);
    const ModelCard& c = loaded.card;
    const bool drops = c.vad && c.vad->drop_non_speech;
    if (i == 0) {
      card = c;
    } else if (!(c.front_end == card.front_end) ||
               drops != (card.vad && card.vad->drop_non_speech)) {
      throw ModelError("model '" + path + "' has another front end or speech-frame dropping "
                       "(vad.drop_non_speech) than '" + opts.model_paths[0] +
                       "': predict feeds every network the same frames");
    }
    const auto mine = internal::NetworksOf(loaded.module);
    networks.insert(networks.end(), mine.begin(), mine.end());
    const std::string name = std::filesystem::path(path).filename().string();
    sources.push_back({name, static_cast<int>(mine.size()), c.architecture});
    // Every network's training record, naming its source.
    const nlohmann::json& t = c.training;
    const nlohmann::json listed = t.is_object() && t.contains("members") && t["members"].is_array()
                                      ? t["members"]
                                      : nlohmann::json::array({nlohmann::json::object()});
    for (nlohmann::json m : listed) {
      m["source"] = name;
      if (t.is_object()) {
        m["augment"] = t.value("augment", nlohmann::json());
        m["vad"] = t.value("vad", nlohmann::json());
      }
      members.push_back(m);
    }
  }
  if (networks.size() < 2) throw ConfigError("give models with two or more networks in all");
  torch::jit::Module ensemble = internal::EnsembleOf(networks);
  card.architecture = "ensemble of " + std::to_string(networks.size()) + " networks (voxsex ensemble)";
  card.parameters = internal::CountParameters(ensemble);
  card.ensemble = sources;
  if (!card.training.is_object()) card.training = nlohmann::json::object();
  card.training["members"] = members;
  card.training["ensemble"] = networks.size();
  card.training.erase("ensemble_of_models");  // format 1: now the card's ensemble
  card.calibration.reset();
  card.metrics = nullptr;
  card.voxsex_version = VOXSEX_VERSION;
  WriteFilesAtomic({{opts.out_path, internal::SerializeModule(ensemble, card, opts.out_path)}});
  spdlog::info("wrote {}: {} networks, {} parameters", opts.out_path, networks.size(),
               card.parameters);
  return static_cast<int>(networks.size());
}

}  // namespace voxsex
