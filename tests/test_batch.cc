// The batch helpers of predict and segment (include/voxsex/batch.h): which files a run reports as
// failed, and the text of --errors.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "voxsex/batch.h"

namespace {

voxsex::FileResult File(const std::string& path, const std::string& error = "") {
  voxsex::FileResult f;
  f.path = path;
  f.error = error;
  return f;
}

std::vector<std::string> Paths(const std::vector<const voxsex::FileResult*>& files) {
  std::vector<std::string> paths;
  for (const voxsex::FileResult* f : files) paths.push_back(f->path);
  return paths;
}

TEST(Batch, FailedFilesAreTheFilesWithAnErrorSortedByPath) {
  const std::vector<voxsex::FileResult> files = {File("d/c.wav", "cannot read 'd/c.wav': x"),
                                                 File("d/a.wav"),
                                                 File("b.wav", "cannot read 'b.wav': y"),
                                                 File("d/b.wav", "its id 'b' is also ...")};
  EXPECT_EQ(Paths(voxsex::FailedFiles(files)),
            (std::vector<std::string>{"b.wav", "d/b.wav", "d/c.wav"}));
  // A --fail-fast run that stopped at d/c.wav reports that one only.
  EXPECT_EQ(Paths(voxsex::FailedFiles(files, &files[0])), std::vector<std::string>{"d/c.wav"});
  EXPECT_TRUE(voxsex::FailedFiles({File("a.wav")}).empty());
}

TEST(Batch, ErrorsTsvHasAHeaderAndOneEscapedRowPerFailedFile) {
  const voxsex::FileResult a = File("a\tb.wav", "cannot read 'a\tb.wav': line\nbreak \\ here");
  const voxsex::FileResult c = File("c.wav", "c.wav: no signal");
  EXPECT_EQ(voxsex::ErrorsTsv({}), "path\treason\n");
  EXPECT_EQ(voxsex::ErrorsTsv({&a, &c}),
            "path\treason\n"
            "a\\tb.wav\tcannot read 'a\\tb.wav': line\\nbreak \\\\ here\n"
            "c.wav\tc.wav: no signal\n");
}

}  // namespace
