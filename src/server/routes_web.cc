// The web page: GET / (index.html), /app.js, /style.css, compiled into the program at build time
// (src/server/web, cmake/Embed.cmake). The page is a client of the public API like any other: it
// calls /v1/capabilities, /v1/jobs and its events with the user's key, so its files need none.
#include <string_view>

#include "server/routes.h"

namespace sdr::embedded {
extern const unsigned char kWebIndexHtml[];
extern const unsigned long kWebIndexHtml_size;
extern const unsigned char kWebAppJs[];
extern const unsigned long kWebAppJs_size;
extern const unsigned char kWebStyleCss[];
extern const unsigned long kWebStyleCss_size;
}  // namespace sdr::embedded

namespace sdr {
namespace {

struct WebAsset {
  std::string_view path;
  std::string_view content_type;
  const unsigned char* bytes;
  const unsigned long* size;
};

const WebAsset kWebAssets[] = {
    {"/", "text/html; charset=utf-8", embedded::kWebIndexHtml, &embedded::kWebIndexHtml_size},
    {"/app.js", "text/javascript; charset=utf-8", embedded::kWebAppJs, &embedded::kWebAppJs_size},
    {"/style.css", "text/css; charset=utf-8", embedded::kWebStyleCss, &embedded::kWebStyleCss_size},
};

// Everything the page needs comes from this server: nothing else may load or be called.
constexpr char kContentSecurityPolicy[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'";

}  // namespace

bool IsWebAssetPath(const std::string& path) {
  for (const WebAsset& a : kWebAssets) {
    if (path == a.path) return true;
  }
  return false;
}

void AddWebRoutes(Router& router) {
  for (const WebAsset& a : kWebAssets) {
    router.Get(std::string(a.path), [&a](const httplib::Request&, httplib::Response& res) {
      res.status = 200;
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
      if (a.path == "/") res.set_header("Content-Security-Policy", kContentSecurityPolicy);
      res.set_content(reinterpret_cast<const char*>(a.bytes), static_cast<size_t>(*a.size), std::string(a.content_type));
    });
  }
}

}  // namespace sdr
