// Finding shipped files beside the executable, the install prefix or the source tree
// (src/install_paths.h).
#include "install_paths.h"

#include <filesystem>
#include <optional>
#include <system_error>

namespace voxsex {
namespace {

namespace fs = std::filesystem;

// The directory `base` stands for, or nullopt when it is unknown.
std::optional<fs::path> BaseDir(InstallBase base) {
  switch (base) {
    case InstallBase::kExecutableDir: {
      std::error_code ec;
      const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
      if (ec) return std::nullopt;
      return exe.parent_path();
    }
    case InstallBase::kInstallDataDir:
#ifdef VOXSEX_INSTALL_DATADIR
      return fs::path(VOXSEX_INSTALL_DATADIR);
#else
      return std::nullopt;
#endif
    case InstallBase::kSourceDir:
#ifdef VOXSEX_SOURCE_DIR
      return fs::path(VOXSEX_SOURCE_DIR);
#else
      return std::nullopt;
#endif
    case InstallBase::kAbsolute:
      return fs::path();
  }
  return std::nullopt;
}

}  // namespace

InstalledFile FindInstalledFile(const std::string& name, const std::vector<InstallDir>& dirs) {
  InstalledFile found;
  for (const InstallDir& dir : dirs) {
    const std::optional<fs::path> base = BaseDir(dir.base);
    if (!base) continue;
    const fs::path candidate = *base / dir.subdir / name;
    found.searched.push_back(candidate.lexically_normal().string());
    std::error_code ec;
    if (found.path.empty() && fs::is_regular_file(candidate, ec)) {
      found.path = fs::weakly_canonical(candidate, ec).string();
    }
  }
  return found;
}

}  // namespace voxsex
