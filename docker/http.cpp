#include "docker/http.hpp"

#include <strings.h>

#include <new>
#include <string>
#include <system_error>
#include <utility>

namespace berth::docker {
namespace {

std::size_t appendBody(char* data, std::size_t size, std::size_t count, void* user_data) {
  auto* response = static_cast<HttpResponse*>(user_data);
  response->body.append(data, size * count);
  return size * count;
}

// Stores the Api-Version header in the response. libcurl calls this once per header line,
// including the status line and the final empty line.
std::size_t readHeader(char* data, std::size_t size, std::size_t count, void* user_data) {
  auto* response = static_cast<HttpResponse*>(user_data);
  std::string_view line(data, size * count);

  constexpr std::string_view kName = "api-version:";
  if (line.size() > kName.size() && strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
    std::string_view value = line.substr(kName.size());
    std::size_t first = value.find_first_not_of(" \t");
    std::size_t last = value.find_last_not_of(" \t\r\n");
    response->api_version =
        first == std::string_view::npos ? "" : std::string(value.substr(first, last - first + 1));
  }

  return size * count;
}

// A failed setopt means this libcurl lacks a feature berth needs, for example
// unix socket support, so no request can reach the engine.
void checkOption(const std::string& operation, CURLcode code) {
  if (code != CURLE_OK) {
    throw Error(Error::Kind::Transport, operation, 0,
                std::string("libcurl rejected an option: ") + curl_easy_strerror(code));
  }
}

}  // namespace

HttpConnection::HttpConnection(ClientOptions options) : options_(std::move(options)) {
  // A no-op after main() has called it. Otherwise it keeps curl_easy_init
  // from running the global init unguarded in each thread.
  globalInit();

  handle_ = curl_easy_init();
  if (handle_ == nullptr) throw std::bad_alloc();

  // An empty Expect header stops libcurl from waiting for "100 Continue"
  // before it sends a large POST body.
  headers_ = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_slist* with_expect = headers_ == nullptr ? nullptr : curl_slist_append(headers_, "Expect:");
  if (with_expect == nullptr) {
    curl_slist_free_all(headers_);
    curl_easy_cleanup(handle_);
    throw std::bad_alloc();
  }
  headers_ = with_expect;
}

HttpConnection::~HttpConnection() {
  curl_easy_cleanup(handle_);
  curl_slist_free_all(headers_);
}

HttpResponse HttpConnection::send(const std::string& operation, Method method,
                                  const std::string& target, const std::string& body) {
  HttpResponse response;
  std::string url = "http://localhost" + target;

  // A reset clears the previous request's options but keeps the open
  // connection, so each request starts from the same known state.
  curl_easy_reset(handle_);
  configure(operation, method, url, body, response);

  error_buffer_[0] = '\0';
  CURLcode code = curl_easy_perform(handle_);

  if (code != CURLE_OK) throwTransferError(operation, code);

  curl_easy_getinfo(handle_, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::string HttpConnection::escape(std::string_view text) {
  char* escaped = curl_easy_escape(handle_, text.data(), static_cast<int>(text.size()));
  if (escaped == nullptr) throw std::bad_alloc();

  std::string result(escaped);
  curl_free(escaped);
  return result;
}

void HttpConnection::throwTransferError(const std::string& operation, CURLcode code) {
  std::string detail = error_buffer_[0] != '\0' ? error_buffer_ : curl_easy_strerror(code);

  if (code == CURLE_OPERATION_TIMEDOUT) {
    throw Error(Error::Kind::Timeout, operation, 0,
                "no answer from " + options_.socket_path + " (" + detail + ")");
  }

  // libcurl reports a reply without an HTTP status line as an unsupported
  // protocol (HTTP/0.9) or a weird server reply.
  if (code == CURLE_WEIRD_SERVER_REPLY || code == CURLE_UNSUPPORTED_PROTOCOL) {
    throw Error(Error::Kind::Protocol, operation, 0,
                "not an HTTP response from " + options_.socket_path + " (" + detail + ")");
  }

  // libcurl's own text for a failed connect names "localhost port 80", which
  // is wrong for a unix socket, so the errno of connect(2) is used instead.
  long os_errno = 0;
  curl_easy_getinfo(handle_, CURLINFO_OS_ERRNO, &os_errno);
  if (code == CURLE_COULDNT_CONNECT && os_errno != 0) {
    throw Error(Error::Kind::Transport, operation, 0,
                "cannot connect to " + options_.socket_path + ": " +
                    std::system_category().message(static_cast<int>(os_errno)));
  }

  throw Error(Error::Kind::Transport, operation, 0,
              "request on " + options_.socket_path + " failed (" + detail + ")");
}

void HttpConnection::configure(const std::string& operation, Method method, const std::string& url,
                               const std::string& body, HttpResponse& response) {
  checkOption(operation,
              curl_easy_setopt(handle_, CURLOPT_UNIX_SOCKET_PATH, options_.socket_path.c_str()));
  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_URL, url.c_str()));
  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_PROTOCOLS_STR, "http"));
  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_NOSIGNAL, 1L));
  checkOption(operation,
              curl_easy_setopt(handle_, CURLOPT_CONNECTTIMEOUT_MS, options_.connect_timeout_ms));
  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_TIMEOUT_MS, options_.timeout_ms));
  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_ERRORBUFFER, error_buffer_));
  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_HTTPHEADER, headers_));

  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_WRITEFUNCTION, appendBody));
  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_WRITEDATA, &response));
  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_HEADERFUNCTION, readHeader));
  checkOption(operation, curl_easy_setopt(handle_, CURLOPT_HEADERDATA, &response));

  switch (method) {
    case Method::Get:
      checkOption(operation, curl_easy_setopt(handle_, CURLOPT_HTTPGET, 1L));
      break;

    case Method::Post:
      // POSTFIELDS is not copied, so body must outlive curl_easy_perform.
      checkOption(operation, curl_easy_setopt(handle_, CURLOPT_POST, 1L));
      checkOption(operation,
                  curl_easy_setopt(handle_, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size())));
      checkOption(operation, curl_easy_setopt(handle_, CURLOPT_POSTFIELDS, body.c_str()));
      break;

    case Method::Delete:
      checkOption(operation, curl_easy_setopt(handle_, CURLOPT_CUSTOMREQUEST, "DELETE"));
      break;
  }
}

}  // namespace berth::docker
