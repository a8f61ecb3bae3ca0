// The settings of `sdr serve` (HttpServer, http_server.h), each with its default and unit beside
// it. Four come from the one config table (runtime/config.h: SD_HOST, SD_PORT, SD_API_KEY,
// SD_MAX_QUEUE); the rest are limits with fixed defaults that tests and embedders may change.
//
// Thread-safety: a plain value.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

#include "runtime/config.h"

namespace sdr {

// What one request may ask for; each violation is a 400 naming the field (limits.h).
struct RequestLimits {
  size_t max_body_bytes = 1u << 20;          // request body; larger: 413, answered before it is read
  size_t max_image_body_bytes = 32u << 20;   // the same for bodies that carry images (png-info, img2img,
                                             // images/edits: a 2048x2048 PNG is at most 12 MiB, 16 in base64)
  size_t max_prompt_bytes = 8192;      // prompt and negative prompt, each, in UTF-8 bytes
  int min_side = 64;                   // pixels; width and height are multiples of 8 in [min_side, max_side]
  int max_side = 2048;                 // pixels
  int max_steps = 150;                 // sampler steps per image
  int max_n = 8;                       // images per request (A1111: batch_size * n_iter)
};

struct ServerOptions {
  std::string host{kDefaultServerHost};  // SD_HOST
  int port = kDefaultServerPort;         // SD_PORT; 0 = any free port (HttpServer::port() says which)
  std::string api_key;                   // SD_API_KEY; "" = no auth
  int max_queue = kDefaultMaxQueue;      // SD_MAX_QUEUE: jobs waiting for one of the Generator's slots
  RequestLimits limits;

  double result_ttl_s = 600;         // a finished job (and its image URLs) is kept this long, then 410
  int max_results = 64;              // finished jobs kept at once; the oldest go first (then 410)
  double preview_interval_s = 0.5;   // at most one live preview per job per this many seconds
  double header_timeout_s = 10;      // a request's line and headers must arrive within this (slow clients: closed)
  double body_timeout_s = 60;        // its body within this, once the headers are in
  double idle_timeout_s = 5;         // a kept-alive connection waits this long for its next request
  double write_timeout_s = 30;       // a response write may block this long (a client that stops reading)
  double heartbeat_s = 15;           // an SSE stream sends a comment when idle this long
  double shutdown_grace_s = 30;      // SIGTERM: running jobs get this long to finish, then are cancelled
  int http_threads = 0;              // connections served at once; 0 = 4 * (max_queue + slots) + 32

  // One line per request (access log). Empty: the lines go to stderr.
  std::function<void(const std::string& line)> access_log;
};

// host, port, api_key and max_queue from `config`; everything else default.
ServerOptions ServerOptionsFromConfig(const RuntimeConfig& config);

}  // namespace sdr
