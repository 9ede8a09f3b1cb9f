#include "train/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "voxsex/error.h"
#include "voxsex/tsv.h"

namespace voxsex::internal {
namespace {

namespace fs = std::filesystem;

std::string MemberPath(const std::string& dir, int member) {
  return (fs::path(dir) / ("member" + std::to_string(member) + ".pt")).string();
}

void WriteTensors(torch::serialize::OutputArchive& ar, const std::string& key,
                  const std::vector<torch::Tensor>& tensors) {
  ar.write(key + ".count", c10::IValue(static_cast<int64_t>(tensors.size())));
  for (std::size_t i = 0; i < tensors.size(); ++i) ar.write(key + "." + std::to_string(i), tensors[i]);
}

std::vector<torch::Tensor> ReadTensors(torch::serialize::InputArchive& ar, const std::string& key) {
  c10::IValue count;
  ar.read(key + ".count", count);
  std::vector<torch::Tensor> tensors(static_cast<std::size_t>(count.toInt()));
  for (std::size_t i = 0; i < tensors.size(); ++i) ar.read(key + "." + std::to_string(i), tensors[i]);
  return tensors;
}

}  // namespace

std::string CheckpointDir(const std::string& out_path) { return out_path + ".checkpoint"; }

void SaveMemberState(const std::string& dir, int member, const std::string& run,
                     const MemberState& s, torch::optim::Optimizer& optimizer) {
  const std::string path = MemberPath(dir, member);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create checkpoint directory '" + dir + "': " + ec.message());
  std::ostringstream rng;
  rng << s.rng;
  const nlohmann::json meta = {{"run", run},
                               {"epochs_done", s.epochs_done},
                               {"step", s.step},
                               {"done", s.done},
                               {"rng", rng.str()},
                               {"order", s.order},
                               {"history", s.history},
                               {"best_epoch", s.best_epoch},
                               {"best_val_balanced_accuracy", s.best_val_balanced_accuracy}};
  std::ostringstream bytes;
  try {
    torch::serialize::OutputArchive ar;
    ar.write("meta", c10::IValue(meta.dump()));
    ar.write("torch_rng", s.torch_rng);
    WriteTensors(ar, "weights", s.weights);
    WriteTensors(ar, "best", s.best);
    WriteTensors(ar, "ema", s.ema);
    torch::serialize::OutputArchive opt;
    optimizer.save(opt);
    ar.write("optimizer", opt);
    ar.save_to(bytes);
  } catch (const c10::Error& e) {
    throw ModelError("cannot write checkpoint '" + path + "': " + e.what_without_backtrace());
  }
  WriteFilesAtomic({{path, std::move(bytes).str()}});
}

std::optional<MemberState> LoadMemberState(const std::string& dir, int member,
                                           const std::string& run,
                                           torch::optim::Optimizer& optimizer) {
  const std::string path = MemberPath(dir, member);
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::nullopt;
  MemberState s;
  nlohmann::json meta;
  try {
    torch::serialize::InputArchive ar;
    ar.load_from(path);
    c10::IValue text;
    ar.read("meta", text);
    meta = nlohmann::json::parse(text.toStringRef());
    if (meta.at("run").get<std::string>() != run) {
      throw ConfigError("checkpoint '" + path + "' is of a run with other options; remove '" +
                        dir + "' to start again, or resume with the options it was made with");
    }
    ar.read("torch_rng", s.torch_rng);
    s.weights = ReadTensors(ar, "weights");
    s.best = ReadTensors(ar, "best");
    s.ema = ReadTensors(ar, "ema");
    torch::serialize::InputArchive opt;
    ar.read("optimizer", opt);
    optimizer.load(opt);
  } catch (const c10::Error& e) {
    throw ModelError("cannot read checkpoint '" + path + "': " + e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    throw ModelError("cannot read checkpoint '" + path + "': " + e.what());
  }
  s.epochs_done = meta.at("epochs_done").get<int>();
  s.step = meta.at("step").get<std::size_t>();
  s.done = meta.at("done").get<bool>();
  std::istringstream rng(meta.at("rng").get<std::string>());
  rng >> s.rng;
  s.order = meta.at("order").get<std::vector<std::size_t>>();
  s.history = meta.at("history");
  s.best_epoch = meta.at("best_epoch").get<int>();
  s.best_val_balanced_accuracy = meta.at("best_val_balanced_accuracy").get<double>();
  return s;
}

}  // namespace voxsex::internal
