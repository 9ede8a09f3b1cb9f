// `voxsex info`: a model's metadata, readably; and the text of `voxsex --version`.
#include "cli/info.h"

#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "voxsex/error.h"
#include "voxsex/model.h"
#include "voxsex/model_card.h"

namespace voxsex::cli {
namespace {

using nlohmann::json;

// The metadata is whatever the file holds: only format_version, labels and front_end are checked
// on load, so every other field may be missing or of an unexpected type. These helpers never throw.

// j[key] when j is an object holding key, else nullptr.
const json* Find(const json& j, const char* key) {
  if (!j.is_object()) return nullptr;
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? nullptr : &*it;
}

bool IsNumber(const json* v) { return v != nullptr && v->is_number(); }

double Num(const json* v) { return v->get<double>(); }

// A scalar as text: strings unquoted, numbers in their shortest form, the rest as compact JSON.
std::string Text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_float()) return fmt::format("{:g}", v.get<double>());
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

std::string Text(const json* v) { return v == nullptr ? "" : Text(*v); }

// 288898 -> "288,898".
std::string Grouped(long long n) {
  std::string digits = std::to_string(n < 0 ? -n : n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return (n < 0 ? "-" : "") + out;
}

std::string Percent(const json* v) {
  return IsNumber(v) ? fmt::format("{:.2f}%", 100.0 * Num(v)) : std::string("?");
}

// One "  label  value" line; nothing when the value is empty.
void Line(std::ostream& out, const std::string& label, const std::string& value) {
  if (!value.empty()) out << fmt::format("  {:<18} {}\n", label, value);
}

void PrintModel(std::ostream& out, const std::string& path, const json& m) {
  out << "model: " << path << "\n";
  std::string arch = Text(Find(m, "architecture"));
  if (const json* p = Find(m, "parameters"); p != nullptr && p->is_number_integer()) {
    arch += (arch.empty() ? "" : ", ") + Grouped(p->get<long long>()) + " parameters";
  }
  Line(out, "architecture", arch);
  Line(out, "format version", Text(Find(m, "format_version")));
  if (const json* labels = Find(m, "labels"); labels != nullptr && labels->is_array()) {
    std::string text;
    for (std::size_t i = 0; i < labels->size(); ++i) {
      text += fmt::format("{}{} = {}", i ? ", " : "", i, Text((*labels)[i]));
    }
    Line(out, "labels", text);
  }
  if (const json* head = Find(m, "head"); head != nullptr && head->is_object()) {
    std::string text = Text(Find(*head, "type"));
    if (const json* fine = Find(*head, "fine_labels"); fine != nullptr && fine->is_array()) {
      text += " (";
      for (std::size_t i = 0; i < fine->size(); ++i) text += (i ? ", " : "") + Text((*fine)[i]);
      text += "), answers gender";
    }
    Line(out, "head", text);
  }
  std::string trained = Text(Find(m, "trained"));
  if (const json* t = Find(m, "training"); t != nullptr && Find(*t, "date_utc") != nullptr) {
    trained += (trained.empty() ? "" : ", ") + Text(Find(*t, "date_utc"));
  }
  Line(out, "trained", trained);
  Line(out, "input", Text(Find(m, "input")));
  Line(out, "output", Text(Find(m, "output")));
}

void PrintFrontEnd(std::ostream& out, const json& fe) {
  out << "\nfront end\n";
  const auto num = [&](const char* key) { return Text(Find(fe, key)); };
  std::string features = num("type");
  if (!num("num_mels").empty()) {
    features += fmt::format("{}{} mel bands {}-{} Hz", features.empty() ? "" : ", ", num("num_mels"),
                            num("f_min_hz"), num("f_max_hz"));
  }
  if (!num("mel_scale").empty() || !num("norm").empty()) {
    features += fmt::format(" ({} scale, {} norm)", num("mel_scale"), num("norm"));
  }
  Line(out, "features", features);
  Line(out, "log", num("log_offset").empty() ? "" : "log(mel + " + num("log_offset") + ")");
  Line(out, "sample rate", num("sample_rate_hz").empty() ? "" : num("sample_rate_hz") + " Hz");
  std::string stft;
  if (!num("n_fft").empty()) stft += "n_fft " + num("n_fft");
  if (!num("win_length").empty()) {
    stft += ", window " + num("win_length");
    if (!num("window").empty()) stft += " (" + num("window") + ")";
  }
  if (!num("hop_length").empty()) stft += ", hop " + num("hop_length");
  if (const json* c = Find(fe, "center"); c != nullptr && c->is_boolean()) {
    stft += c->get<bool>() ? ", centred" : ", not centred";
    if (c->get<bool>() && !num("pad_mode").empty()) stft += " (" + num("pad_mode") + " padding)";
  }
  if (!num("power").empty()) stft += ", power " + num("power");
  Line(out, "STFT", stft);
  if (const json* sr = Find(fe, "sample_rate_hz"); IsNumber(sr)) {
    const json* hop = Find(fe, "hop_length");
    const json* win = Find(fe, "win_length");
    if (IsNumber(hop) && IsNumber(win) && Num(sr) > 0) {
      Line(out, "frames", fmt::format("{:g} ms window, {:g} ms hop", 1000 * Num(win) / Num(sr),
                                      1000 * Num(hop) / Num(sr)));
    }
  }
}

std::string FileCounts(const json& t, const char* files, const char* male, const char* female) {
  std::string text = Text(Find(t, files));
  if (text.empty()) return "";
  text += " files";
  if (IsNumber(Find(t, male)) && IsNumber(Find(t, female))) {
    text += fmt::format(" ({} male, {} female)", Text(Find(t, male)), Text(Find(t, female)));
  }
  return text;
}

void PrintTraining(std::ostream& out, const json& t, const std::vector<EnsembleSource>& sources) {
  out << "\ntraining data\n";
  std::string train = Text(Find(t, "targets"));
  const std::string train_counts = FileCounts(t, "train_files", "train_male", "train_female");
  if (!train_counts.empty()) train += (train.empty() ? "" : ": ") + train_counts;
  Line(out, "targets", train);
  std::string val = Text(Find(t, "val_targets"));
  const std::string val_files = Text(Find(t, "val_files"));
  if (val.empty() && (val_files.empty() || val_files == "0")) {
    val = "none (the last epoch is kept)";
  } else if (!val_files.empty()) {
    val += (val.empty() ? "" : ": ") + val_files + " files";
  }
  Line(out, "validation", val);

  out << "\ntraining options\n";
  std::string epochs = Text(Find(t, "epochs"));
  if (!epochs.empty() && Find(t, "best_epoch") != nullptr) {
    epochs += " (best epoch " + Text(Find(t, "best_epoch")) + ")";
  }
  Line(out, "epochs", epochs);
  Line(out, "batch size", Text(Find(t, "batch_size")));
  if (Find(t, "lr") != nullptr) {
    std::string opt = "AdamW, peak lr " + Text(Find(t, "lr"));
    if (Find(t, "weight_decay") != nullptr) opt += ", weight decay " + Text(Find(t, "weight_decay"));
    Line(out, "optimiser", opt + ", warm-up then cosine decay");
  }
  Line(out, "seed", Text(Find(t, "seed")));
  if (const json* e = Find(t, "ensemble"); e != nullptr && e->is_number_integer()) {
    const long long n = e->get<long long>();
    if (!sources.empty()) {  // voxsex ensemble
      std::string names;
      for (const EnsembleSource& s : sources) names += (names.empty() ? "" : ", ") + s.model;
      Line(out, "ensemble", fmt::format("{} members from {} (voxsex ensemble), logits averaged; "
                                        "options below are the first model's",
                                        n, names));
    } else {
      Line(out, "ensemble", n == 1 ? std::string("1 model")
                                   : fmt::format("{} members (seeds seed .. seed+{}), logits averaged",
                                                 n, n - 1));
    }
  }
  Line(out, "threads", Text(Find(t, "threads")));
  if (const json* c = Find(t, "crop_s"); c != nullptr && c->is_array() && c->size() == 2) {
    Line(out, "random crops", Text((*c)[0]) + "-" + Text((*c)[1]) + " s");
  }
  if (const json* g = Find(t, "gain_db"); IsNumber(g)) {
    Line(out, "random gain", Num(g) > 0 ? "+-" + Text(*g) + " dB" : std::string("off"));
  }
  if (const json* sa = Find(t, "spec_augment"); sa != nullptr && sa->is_object()) {
    const json* fm = Find(*sa, "freq_masks");
    const json* tm = Find(*sa, "time_masks");
    std::string text;
    if (IsNumber(fm) && Num(fm) > 0) {
      text += fmt::format("{} frequency masks of up to {} bands", Text(*fm),
                          Text(Find(*sa, "freq_mask_bands")));
    }
    if (IsNumber(tm) && Num(tm) > 0) {
      text += fmt::format("{}{} time masks of up to {} of the crop", text.empty() ? "" : ", ",
                          Text(*tm), Text(Find(*sa, "time_mask_ratio")));
    }
    Line(out, "SpecAugment", text.empty() ? std::string("off") : text);
  }
  if (const json* ema = Find(t, "ema_decay"); IsNumber(ema)) {
    Line(out, "weight EMA", Num(ema) > 0 ? "decay " + Text(*ema) : std::string("off"));
  }
  Line(out, "feature norm", Text(Find(t, "feature_norm")));
  if (const json* s = Find(t, "seconds"); IsNumber(s)) {
    Line(out, "training time", fmt::format("{:.0f} s", Num(s)));
  }
  if (const json* h = Find(t, "history"); h != nullptr && h->is_array()) {
    Line(out, "history", fmt::format("{} epochs logged (--json shows them)", h->size()));
  }

  const json* members = Find(t, "members");
  if (members == nullptr || !members->is_array() || members->empty()) return;
  out << "\nensemble members\n";
  for (std::size_t k = 0; k < members->size(); ++k) {
    const json& mj = (*members)[k];
    std::string text = "seed " + Text(Find(mj, "seed"));
    if (Find(mj, "best_epoch") != nullptr) text += ", best epoch " + Text(Find(mj, "best_epoch"));
    if (const json* v = Find(mj, "validation"); v != nullptr) {
      text += ", val balanced accuracy " + Percent(Find(*v, "balanced_accuracy"));
    }
    if (const json* h = Find(mj, "history"); h != nullptr && h->is_array()) {
      text += fmt::format(", {} epochs logged", h->size());
    }
    Line(out, fmt::format("member {}", k + 1), text);
  }
}

void PrintMetrics(std::ostream& out, const std::string& name, const json& m) {
  out << "\n" << name << " metrics\n";
  Line(out, "files", Text(Find(m, "files")));
  std::string acc = Percent(Find(m, "accuracy"));
  if (const json* ci = Find(m, "accuracy_ci95");
      ci != nullptr && ci->is_array() && ci->size() == 2 && (*ci)[0].is_number() && (*ci)[1].is_number()) {
    acc += fmt::format(" (Wilson 95% interval {:.2f}-{:.2f}%)", 100 * (*ci)[0].get<double>(),
                       100 * (*ci)[1].get<double>());
  }
  Line(out, "accuracy", acc);
  Line(out, "balanced accuracy", Percent(Find(m, "balanced_accuracy")));
  if (Find(m, "recall_male") != nullptr || Find(m, "recall_female") != nullptr) {
    Line(out, "recall", "male " + Percent(Find(m, "recall_male")) + ", female " +
                            Percent(Find(m, "recall_female")));
  }
}

// Prints the model card: every key ModelCard writes (include/voxsex/model_card.h).
void PrintInfo(std::ostream& out, const std::string& path, const ModelCard& card) {
  const json m = json::parse(card.ToJson());
  PrintModel(out, path, m);
  if (const json* fe = Find(m, "front_end"); fe != nullptr) PrintFrontEnd(out, *fe);
  if (const json* t = Find(m, "training"); t != nullptr && t->is_object()) {
    PrintTraining(out, *t, card.ensemble);
  }
  if (const json* metrics = Find(m, "metrics"); metrics != nullptr && metrics->is_object()) {
    for (const auto& [name, value] : metrics->items()) PrintMetrics(out, name, value);
  }
  if (const json* v = Find(m, "vad"); v != nullptr && v->is_object()) {
    out << "\nspeech detector\n";
    Line(out, "type", Text(Find(*v, "type")) + " (include/voxsex/vad.h)");
    Line(out, "speech frames",
         fmt::format("within {} dB of the loudest, {} dB above the {}th percentile, from mel band "
                     "{}; at least {} frames",
                     Text(Find(*v, "dynamic_range_db")), Text(Find(*v, "background_margin_db")),
                     Text(Find(*v, "background_percentile")), Text(Find(*v, "first_band")),
                     Text(Find(*v, "min_speech_frames"))));
    if (const json* d = Find(*v, "drop_non_speech"); d != nullptr && d->is_boolean()) {
      Line(out, "model input", d->get<bool>() ? "speech frames only" : "every frame (measures only)");
    }
  }
  if (const json* c = Find(m, "calibration"); c != nullptr && c->is_object()) {
    out << "\ncalibration\n";
    Line(out, "temperature", Text(Find(*c, "temperature")));
    Line(out, "fitted on", Text(Find(*c, "fitted_on")));
  }

  out << "\nsoftware\n";
  Line(out, "voxsex", Text(Find(m, "voxsex_version")));
  if (const json* e = Find(m, "exported_with"); e != nullptr && e->is_object()) {
    std::string text;
    for (const auto& [name, value] : e->items()) {
      text += (text.empty() ? "" : ", ") + name + " " + Text(value);
    }
    Line(out, "exported with", text);
  }

  if (!card.ensemble.empty()) {
    out << "\ncombined models\n";
    for (const EnsembleSource& s : card.ensemble) {
      Line(out, s.model, fmt::format("{} network{}, {}", s.networks, s.networks == 1 ? "" : "s",
                                     s.architecture.empty() ? "?" : s.architecture));
    }
  }

  // Fields this version does not know how to present: shown as compact JSON, not hidden.
  static const std::set<std::string> kKnown = {
      "format_version", "architecture", "parameters", "labels",   "input",  "output",
      "front_end",      "trained",      "training",   "metrics",  "voxsex_version",
      "exported_with",  "vad",          "calibration", "head",     "ensemble"};
  bool header = false;
  for (const auto& [key, value] : m.items()) {
    if (kKnown.count(key) != 0) continue;
    if (!header) out << "\nother fields\n";
    header = true;
    std::string text = value.dump();
    if (text.size() > 100) text = text.substr(0, 97) + "...";
    Line(out, key, text);
  }
  out.flush();
}

}  // namespace

CLI::App* setup_info(CLI::App& app, InfoOptions& o) {
  CLI::App* cmd = app.add_subcommand("info", "Show a model's metadata: architecture, front end, "
                                             "training data and options, validation metrics");
  cmd->add_option("MODEL", o.model_path, "TorchScript model (default: the bundled model)");
  cmd->add_flag("--json", o.json, "Print the metadata JSON exactly as stored in the model");
  cmd->footer("Example:\n  voxsex info models/voxsex.pt\n\n"
              "Exit status: 0 success; 2 the model is missing, unreadable or not a voxsex model.");
  return cmd;
}

int run_info(const InfoOptions& opts) {
  std::string path = opts.model_path;
  if (path.empty()) path = DefaultModelPath();
  if (path.empty()) {
    spdlog::error("no MODEL given and no bundled model found (looked for models/voxsex.pt beside "
                  "the binary, in share/voxsex/models and in the source tree)");
    return 2;
  }
  try {
    const GenderModel model = GenderModel::Load(path);
    const std::string& text = model.metadata_json();
    if (opts.json) {
      std::cout << text << (text.empty() || text.back() != '\n' ? "\n" : "") << std::flush;
      return 0;
    }
    PrintInfo(std::cout, path, model.card());
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return 2;
  } catch (const std::exception& e) {  // e.g. std::bad_alloc: still a clean exit status
    spdlog::error("cannot show model '{}': {}", path, e.what());
    return 2;
  }
  return 0;
}

std::string VersionText() {
  std::string text = std::string("voxsex ") + VOXSEX_VERSION;
  try {
    const char* env = std::getenv("VOXSEX_MODEL");
    const std::string label =
        env != nullptr && *env != '\0' ? "model ($VOXSEX_MODEL)" : "bundled model";
    const std::string path = DefaultModelPath();
    if (path.empty()) return text + "\n" + label + ": not found";
    text += "\n" + label + ": " + path;
    try {
      const GenderModel model = GenderModel::Load(path);
      const json m = json::parse(model.card().ToJson());
      std::string arch = Text(Find(m, "architecture"));
      if (const json* p = Find(m, "parameters"); p != nullptr && p->is_number_integer()) {
        arch += (arch.empty() ? "" : ", ") + Grouped(p->get<long long>()) + " parameters";
      }
      if (!arch.empty()) text += "\n  architecture: " + arch;
      const json* t = Find(m, "training");
      if (t == nullptr) {
        text += "\n  trained: no (an untrained architecture)";
      } else {
        std::string trained = Text(Find(*t, "date_utc"));
        if (Find(*t, "train_files") != nullptr) {
          trained += (trained.empty() ? "" : " ") + std::string("on ") +
                     Text(Find(*t, "train_files")) + " files";
        }
        if (!trained.empty()) text += "\n  trained: " + trained;
      }
      const json* metrics = Find(m, "metrics");
      const json* val = metrics == nullptr ? nullptr : Find(*metrics, "validation");
      if (val != nullptr && IsNumber(Find(*val, "balanced_accuracy"))) {
        text += "\n  validation balanced accuracy: " + Percent(Find(*val, "balanced_accuracy"));
        if (Find(*val, "files") != nullptr) text += " (" + Text(Find(*val, "files")) + " files)";
      }
    } catch (const std::exception& e) {
      text += "\n  cannot be read: " + std::string(e.what());
    }
  } catch (...) {  // --version must always print the version
  }
  return text;
}

}  // namespace voxsex::cli
