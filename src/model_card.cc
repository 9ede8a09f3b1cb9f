#include "voxsex/model_card.h"

#include "voxsex/error.h"

namespace voxsex {
namespace {

using nlohmann::json;

// j[key] as T; ModelError "<what> lacks '<key>'" or "<what> field '<key>': ..." otherwise.
template <typename T>
T Require(const json& j, const char* key, const char* what) {
  if (!j.is_object() || !j.contains(key)) {
    throw ModelError(std::string("metadata ") + what + " lacks '" + key + "'");
  }
  try {
    return j.at(key).get<T>();
  } catch (const json::exception& e) {
    throw ModelError(std::string("metadata ") + what + " field '" + key + "': " + e.what());
  }
}

// j[key] as T when present and not null, else `fallback`.
template <typename T>
T Optional(const json& j, const char* key, T fallback, const char* what) {
  if (!j.contains(key) || j.at(key).is_null()) return fallback;
  return Require<T>(j, key, what);
}

VadOptions VadOptionsFromJson(const json& j) {
  if (!j.is_object()) throw ModelError("metadata vad is not an object");
  VadOptions o;
  o.first_band = Require<int>(j, "first_band", "vad");
  o.dynamic_range_db = Require<double>(j, "dynamic_range_db", "vad");
  o.background_percentile = Require<double>(j, "background_percentile", "vad");
  o.background_margin_db = Require<double>(j, "background_margin_db", "vad");
  o.min_speech_frames = Require<int>(j, "min_speech_frames", "vad");
  o.drop_non_speech = Require<bool>(j, "drop_non_speech", "vad");
  try {
    o.Validate();
  } catch (const ConfigError& e) {
    throw ModelError(std::string("metadata vad is invalid: ") + e.what());
  }
  return o;
}

}  // namespace

MelOptions MelOptionsFromJson(const json& j) {
  MelOptions o;
  o.sample_rate_hz = Require<int>(j, "sample_rate_hz", "front_end");
  o.n_fft = Require<int>(j, "n_fft", "front_end");
  o.win_length = Require<int>(j, "win_length", "front_end");
  o.hop_length = Require<int>(j, "hop_length", "front_end");
  o.num_mels = Require<int>(j, "num_mels", "front_end");
  o.f_min_hz = Require<float>(j, "f_min_hz", "front_end");
  o.f_max_hz = Require<float>(j, "f_max_hz", "front_end");
  o.log_offset = Require<float>(j, "log_offset", "front_end");
  try {
    o.Validate();
  } catch (const ConfigError& e) {
    throw ModelError(std::string("metadata front_end is invalid: ") + e.what());
  }
  return o;
}

json MelOptionsToJson(const MelOptions& o) {
  return {{"type", "log-mel"},          {"sample_rate_hz", o.sample_rate_hz},
          {"n_fft", o.n_fft},           {"win_length", o.win_length},
          {"hop_length", o.hop_length}, {"num_mels", o.num_mels},
          {"f_min_hz", o.f_min_hz},     {"f_max_hz", o.f_max_hz},
          {"log_offset", o.log_offset}, {"window", "hann-periodic"},
          {"center", true},             {"pad_mode", "reflect"},
          {"mel_scale", "slaney"},      {"norm", "slaney"},
          {"power", 2.0}};
}

json VadOptionsToJson(const VadOptions& o) {
  return {{"type", "energy"},
          {"first_band", o.first_band},
          {"dynamic_range_db", o.dynamic_range_db},
          {"background_percentile", o.background_percentile},
          {"background_margin_db", o.background_margin_db},
          {"min_speech_frames", o.min_speech_frames},
          {"drop_non_speech", o.drop_non_speech}};
}

ModelCard ModelCard::FromJson(const std::string& text) {
  json m;
  try {
    m = json::parse(text);
  } catch (const json::exception& e) {
    throw ModelError(std::string("metadata is not valid JSON: ") + e.what());
  }
  if (!m.is_object() || !m.contains("format_version") || !m["format_version"].is_number_integer()) {
    throw ModelError("metadata lacks an integer format_version");
  }
  ModelCard c;
  c.format_version = m["format_version"].get<int>();
  if (c.format_version < kMinModelFormatVersion || c.format_version > kModelFormatVersion) {
    throw ModelError("metadata format_version " + std::to_string(c.format_version) +
                     ", this voxsex reads " + std::to_string(kMinModelFormatVersion) + " to " +
                     std::to_string(kModelFormatVersion));
  }
  if (!m.contains("labels") || m["labels"] != json({"male", "female"})) {
    throw ModelError("metadata labels must be [\"male\", \"female\"]");
  }
  if (!m.contains("front_end") || !m["front_end"].is_object()) {
    throw ModelError("metadata lacks front_end");
  }
  c.front_end = MelOptionsFromJson(m["front_end"]);
  if (m.contains("vad") && !m["vad"].is_null()) c.vad = VadOptionsFromJson(m["vad"]);
  if (m.contains("calibration") && !m["calibration"].is_null()) {
    const json& j = m["calibration"];
    if (!j.is_object() || !j.contains("temperature") || !j["temperature"].is_number() ||
        !(j["temperature"].get<double>() > 0.0 && j["temperature"].get<double>() < 1e3)) {
      throw ModelError("metadata calibration needs a temperature in (0, 1000)");
    }
    c.calibration = ModelCalibration{j["temperature"].get<double>(),
                                Optional<std::string>(j, "fitted_on", "", "calibration")};
  }
  if (m.contains("head") && !m["head"].is_null()) {
    const json& j = m["head"];
    ModelHead h;
    h.type = Require<std::string>(j, "type", "head");
    h.fine_labels = Optional<std::vector<std::string>>(j, "fine_labels", {}, "head");
    h.fine_output = Optional<std::string>(j, "fine_output", "", "head");
    c.head = h;
  }
  c.architecture = Optional<std::string>(m, "architecture", "", "card");
  c.parameters = Optional<long long>(m, "parameters", 0, "card");
  c.input = Optional<std::string>(m, "input", c.input, "card");
  c.output = Optional<std::string>(m, "output", c.output, "card");
  c.trained = Optional<bool>(m, "trained", false, "card");
  c.voxsex_version = Optional<std::string>(m, "voxsex_version", "", "card");
  if (m.contains("exported_with") && m["exported_with"].is_object()) {
    for (const auto& [k, v] : m["exported_with"].items()) {
      c.exported_with[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
  }
  // Version 1 (scripts/make_ensemble.py) listed the combined models as ensemble_sources, each
  // with its member count as "members".
  const bool v1 = c.format_version == 1;
  const char* sources_key = v1 ? "ensemble_sources" : "ensemble";
  if (m.contains(sources_key) && m[sources_key].is_array()) {
    for (const json& s : m[sources_key]) {
      EnsembleSource e;
      e.model = Optional<std::string>(s, "model", "", "ensemble");
      e.networks = Optional<int>(s, v1 ? "members" : "networks", 1, "ensemble");
      e.architecture = Optional<std::string>(s, "architecture", "", "ensemble");
      c.ensemble.push_back(e);
    }
  }
  if (m.contains("training") && m["training"].is_object()) c.training = m["training"];
  if (m.contains("metrics") && m["metrics"].is_object()) c.metrics = m["metrics"];
  return c;
}

std::string ModelCard::ToJson() const {
  json m = {{"format_version", kModelFormatVersion},
            {"labels", {"male", "female"}},
            {"architecture", architecture},
            {"parameters", parameters},
            {"input", input},
            {"output", output},
            {"front_end", MelOptionsToJson(front_end)},
            {"trained", trained}};
  if (head) {
    m["head"] = {{"type", head->type}, {"fine_labels", head->fine_labels},
                 {"fine_output", head->fine_output}};
  }
  if (vad) m["vad"] = VadOptionsToJson(*vad);
  if (calibration) {
    m["calibration"] = {{"temperature", calibration->temperature},
                        {"fitted_on", calibration->fitted_on}};
  }
  if (!voxsex_version.empty()) m["voxsex_version"] = voxsex_version;
  if (!exported_with.empty()) m["exported_with"] = exported_with;
  if (!ensemble.empty()) {
    json sources = json::array();
    for (const EnsembleSource& e : ensemble) {
      sources.push_back(
          {{"model", e.model}, {"networks", e.networks}, {"architecture", e.architecture}});
    }
    m["ensemble"] = sources;
  }
  if (!training.is_null()) m["training"] = training;
  if (!metrics.is_null()) m["metrics"] = metrics;
  return m.dump(1);
}

}  // namespace voxsex
