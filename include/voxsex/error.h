// Error kinds thrown by the voxsex library. Every message names the file (or option) concerned
// and what was expected, so the CLI can print it as is.
#pragma once

#include <stdexcept>
#include <string>

namespace voxsex {

// Base of every error the library throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An audio file could not be opened, decoded or resampled.
class AudioError : public Error {
 public:
  using Error::Error;
};

// An option is out of range or inconsistent (for example hop_length > win_length).
class ConfigError : public Error {
 public:
  using Error::Error;
};

// A model file is missing, not TorchScript, lacks voxsex metadata, or failed to run.
class ModelError : public Error {
 public:
  using Error::Error;
};

// A TSV or JSON input file is malformed (the message gives the path and the line number).
class FormatError : public Error {
 public:
  using Error::Error;
};

// A file or directory could not be opened, read, created, written or renamed (the message gives
// the path and the system's reason, e.g. "cannot open: No such file or directory"). Malformed
// content is a FormatError instead.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace voxsex
