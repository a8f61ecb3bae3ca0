// embed_file: a build-time tool that turns a data file into a C++ source defining its bytes, so
// that the installed library and program carry the file with them (the CLIP vocabulary, the web
// page). Usage:
//   embed_file INPUT OUTPUT.cc SYMBOL [--deflate]
// writes
//   namespace sdr::embedded {
//   extern const unsigned char SYMBOL[] = {...};   // the bytes (zlib-deflated with --deflate)
//   extern const unsigned long SYMBOL_size = N;     // bytes in SYMBOL
//   extern const unsigned long SYMBOL_raw_size = M; // bytes of INPUT (= N without --deflate)
//   }
// Exit 1 with a message on any failure; the output is written through a temporary file so that a
// failed run never leaves a half-written source behind.
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace {

int Fail(const std::string& message) {
  std::fprintf(stderr, "embed_file: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && !(argc == 5 && std::strcmp(argv[4], "--deflate") == 0)) {
    return Fail("usage: embed_file INPUT OUTPUT.cc SYMBOL [--deflate]");
  }
  const std::string input = argv[1], output = argv[2], symbol = argv[3];
  const bool deflate = argc == 5;
  std::ifstream in(input, std::ios::binary);
  if (!in) return Fail("cannot read '" + input + "'");
  const std::vector<unsigned char> raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<unsigned char> data = raw;
  if (deflate) {
    uLongf n = compressBound(static_cast<uLong>(raw.size()));
    data.resize(n);
    if (compress2(data.data(), &n, raw.data(), static_cast<uLong>(raw.size()), Z_BEST_COMPRESSION) != Z_OK) {
      return Fail("deflating '" + input + "' failed");
    }
    data.resize(n);
  }
  const std::string tmp = output + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) return Fail("cannot write '" + tmp + "'");
  std::fprintf(f, "// Generated at build time by tools/embed_file from %s. Do not edit.\n",
               input.substr(input.find_last_of('/') + 1).c_str());
  std::fprintf(f, "namespace sdr::embedded {\nextern const unsigned char %s[] = {", symbol.c_str());
  for (size_t i = 0; i < data.size(); ++i) {
    std::fprintf(f, "%s%u,", i % 24 == 0 ? "\n" : "", data[i]);
  }
  if (data.empty()) std::fprintf(f, "0");
  std::fprintf(f, "\n};\nextern const unsigned long %s_size = %zuUL;\nextern const unsigned long %s_raw_size = %zuUL;\n}\n",
               symbol.c_str(), data.size(), symbol.c_str(), raw.size());
  const bool ok = std::fflush(f) == 0 && !std::ferror(f);
  if (std::fclose(f) != 0 || !ok) return Fail("writing '" + tmp + "' failed");
  if (std::rename(tmp.c_str(), output.c_str()) != 0) return Fail("cannot rename '" + tmp + "' to '" + output + "'");
  return 0;
}
