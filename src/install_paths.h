// Finding the files voxsex ships beside its executable (models, scripts), wherever the binary was
// installed, unpacked or built. Internal: not part of the public API.
#pragma once

#include <string>
#include <vector>

namespace voxsex {

// What a directory searched by FindInstalledFile is relative to.
enum class InstallBase {
  kExecutableDir,   // the running executable's directory (from /proc/self/exe)
  kInstallDataDir,  // <CMAKE_INSTALL_PREFIX>/share/voxsex, as configured at build time
  kSourceDir,       // the source tree the library was built from
  kAbsolute,        // `subdir` is the whole directory (e.g. from an environment variable)
};

// One directory to search: `subdir` (e.g. "../share/voxsex/scripts") under `base`.
struct InstallDir {
  InstallBase base = InstallBase::kExecutableDir;
  std::string subdir;
};

// The result of FindInstalledFile.
struct InstalledFile {
  std::string path;                   // weakly canonical path of the first match; empty if none
  std::vector<std::string> searched;  // each candidate file, lexically normalised, in search order
};

// Looks for the regular file `name` (e.g. "voxsex.pt", "plot_report.py") in each of `dirs`, in
// order, and returns the first one that exists. A directory whose base is unknown (no
// /proc/self/exe) is skipped and not listed in `searched`. No errors: a candidate that cannot be
// examined counts as absent.
InstalledFile FindInstalledFile(const std::string& name, const std::vector<InstallDir>& dirs);

}  // namespace voxsex
