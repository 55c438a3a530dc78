// replay_main.cc - a tiny stand-in for libFuzzer's driver, used when the
// build is not clang/libFuzzer (option fuzz_engine=replay): runs
// LLVMFuzzerTestOneInput once over every file named on the command line or
// found (non-recursively) in a directory named there.  Exits non-zero if no
// input was found, so an empty or missing corpus fails the test.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool RunFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t runs = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;  // libFuzzer-style flags are ignored
    struct stat st;
    if (stat(arg.c_str(), &st) != 0) {
      std::fprintf(stderr, "replay: cannot stat %s\n", arg.c_str());
      return 2;
    }
    if (S_ISDIR(st.st_mode)) {
      DIR* d = opendir(arg.c_str());
      if (d == nullptr) return 2;
      while (dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        runs += RunFile(arg + "/" + name);
      }
      closedir(d);
    } else {
      runs += RunFile(arg);
    }
  }
  std::printf("replay: %zu inputs run\n", runs);
  return runs > 0 ? 0 : 1;
}
