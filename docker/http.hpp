#pragma once

#include <curl/curl.h>

#include <string>
#include <string_view>

#include "docker/client.hpp"

namespace berth::docker {

enum class Method { Get, Post, Delete };

struct HttpResponse {
  long status = 0;
  std::string body;
  std::string api_version;  // the Api-Version header, empty if absent
};

// HTTP/1.1 over the engine's unix socket with one libcurl easy handle. The
// handle keeps its connection open between requests. Not thread-safe.
class HttpConnection {
 public:
  // Throws std::bad_alloc when libcurl cannot allocate the handle.
  explicit HttpConnection(ClientOptions options);
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Sends one request to "http://localhost" + target (path and query) and
  // returns the response, whatever its status. Method::Post sends body as
  // application/json, and the other methods ignore it. Throws Error, named
  // by operation, of Kind::Timeout when the connect or the whole-call
  // timeout expires, Kind::Protocol when the response is not HTTP, and
  // Kind::Transport for any other failure.
  HttpResponse send(const std::string& operation, Method method, const std::string& target,
                    const std::string& body);

  // Percent-encodes text for use as one path segment or query value.
  std::string escape(std::string_view text);

 private:
  [[noreturn]] void throwTransferError(const std::string& operation, CURLcode code);
  void configure(const std::string& operation, Method method, const std::string& url,
                 const std::string& body, HttpResponse& response);

  ClientOptions options_;
  CURL* handle_ = nullptr;
  curl_slist* headers_ = nullptr;
  char error_buffer_[CURL_ERROR_SIZE] = {};
};

}  // namespace berth::docker
