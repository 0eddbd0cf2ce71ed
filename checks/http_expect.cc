#include "checks/http_expect.h"

#include <curl/curl.h>
#include <re2/re2.h>

#include <algorithm>

#include "agent/base/strings.h"
#include "checks/api/http_status.h"
#include "checks/http_reasons.h"
#include "checks/http_request.h"

namespace gatewatch {

namespace {

std::unique_ptr<LinearRegex> CompileAt(const ConfigNode& node) {
  std::string error;
  auto re = LinearRegex::Compile(node.AsString(), &error);
  if (re == nullptr) node.Fail("invalid regular expression: " + error);
  return re;
}

}  // namespace

void ParseHttpExpect(const ConfigNode& expect, bool head, HttpExpectations& cfg) {
  if (!expect.IsDefined()) {
    cfg.expect_status.Add("2xx");
    return;
  }
  expect.ExpectMap();

  ConfigNode status = expect.Child("status");
  constexpr char kStatusForm[] = "must be a status code 100-599 or a class \"1xx\"..\"5xx\"";
  if (!status.IsDefined()) {
    cfg.expect_status.Add("2xx");
  } else if (status.IsSequence()) {
    if (status.size() == 0) status.Fail("must not be empty");
    for (size_t i = 0; i < status.size(); ++i) {
      ConfigNode item = status.At(i);
      if (!cfg.expect_status.Add(item.AsString())) item.Fail(kStatusForm);
    }
  } else if (!cfg.expect_status.Add(status.AsString())) {
    status.Fail(kStatusForm);
  }

  if (ConfigNode re = expect.Child("body_regex"); re.IsDefined()) cfg.body_regex = CompileAt(re);
  if (ConfigNode re = expect.Child("body_not_regex"); re.IsDefined()) {
    cfg.body_not_regex = CompileAt(re);
  }
  if (head && cfg.keeps_body()) {
    expect.Child(cfg.body_regex ? "body_regex" : "body_not_regex")
        .Fail("method HEAD receives no body to match");
  }

  if (ConfigNode headers = expect.Child("headers"); headers.IsDefined()) {
    if (!headers.IsMap()) headers.Fail("must be a map");
    for (const std::string& name : headers.Keys()) {
      ConfigNode value = headers.Child(name);
      if (!IsHttpToken(name)) value.Fail("is not a valid header name");
      cfg.expect_headers.push_back({name, CompileAt(value)});
    }
  }
  expect.RejectUnknownKeys();
}

std::unique_ptr<LinearRegex> LinearRegex::Compile(const std::string& pattern, std::string* error) {
  std::unique_ptr<LinearRegex> re(new LinearRegex(pattern));
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingLatin1);
  options.set_never_capture(true);  // only "does it match": no submatch bookkeeping
  options.set_log_errors(false);    // errors are reported as config errors, not on stderr
  // The DFA cache per pattern; when full RE2 resets it or falls back to its NFA, still linear.
  options.set_max_mem(2 << 20);
  re->re_ = std::make_unique<RE2>(pattern, options);
  if (!re->re_->ok()) {
    if (error != nullptr) {
      *error = re->re_->error();
      const std::string& arg = re->re_->error_arg();
      if (re->re_->error_code() == RE2::ErrorBadEscape && arg.size() == 2 && arg[1] >= '1' &&
          arg[1] <= '9') {
        *error += " (RE2 has no backreferences)";
      }
    }
    return nullptr;
  }
  return re;
}

LinearRegex::LinearRegex(std::string pattern) : pattern_(std::move(pattern)) {}
LinearRegex::~LinearRegex() = default;

bool LinearRegex::Search(std::string_view text) const {
  text = text.substr(0, std::min(text.size(), kMaxRegexInput));
  return RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *re_);
}

bool StatusExpectation::Add(std::string_view item) {
  std::optional<StatusSpec> spec = StatusSpec::Parse(item);
  if (!spec) return false;
  specs_.push_back(*spec);
  if (!text_.empty()) text_ += ", ";
  text_ += std::string(item);
  return true;
}

bool StatusExpectation::Matches(long status) const {
  return std::any_of(specs_.begin(), specs_.end(),
                     [status](const StatusSpec& s) { return s.Matches(status); });
}

Result EvaluateHttpOutcome(const HttpExpectations& c, const HttpRequest& request,
                           const HttpOutcome& o) {
  const TransferInfo& info = o.info;
  const std::string& where = o.address;
  std::string status_text = "HTTP " + std::to_string(info.status);
  std::string from = info.effective_url.empty() ? request.redacted_url : info.effective_url;
  bool status_ok = c.expect_status.Matches(info.status);
  auto bad_status = [&] {
    return Result::Failure(
        ReasonForHttpStatus(info.status),
        status_text + " from " + from + " (" + where + "), expected " + c.expect_status.ToString());
  };

  if (o.code != CURLE_OK) {
    if (o.body_too_large) {
      // A 502 page that is also too long is still a 502: the status is the better cause.
      if (info.status != 0 && !status_ok) return bad_status();
      return Result::Failure(Reason::kBodyTooLarge,
                             status_text + " from " + from + ": body exceeds body_limit of " +
                                 std::to_string(request.body_limit) + " bytes");
    }
    auto [reason, detail] = DescribeTransportFailure(o);
    return Result::Failure(reason, std::move(detail));
  }

  if (!status_ok) return bad_status();
  for (const HeaderExpectation& want : c.expect_headers) {
    auto values = o.headers.Values(want.name);
    if (values.empty()) {
      return Result::Failure(Reason::kHeaderMismatch,
                             status_text + " from " + from + " without header " + want.name);
    }
    bool any = std::any_of(values.begin(), values.end(),
                           [&](std::string_view v) { return want.value->Search(v); });
    if (!any) {
      return Result::Failure(Reason::kHeaderMismatch,
                             status_text + " from " + from + ": header " + want.name + " " +
                                 QuoteForDetail(values.front()) + " does not match " +
                                 QuoteForDetail(want.value->pattern()));
    }
  }
  if (c.body_regex != nullptr && !c.body_regex->Search(o.body)) {
    return Result::Failure(Reason::kBodyMismatch, status_text + " from " + from +
                                                      ": body does not match body_regex " +
                                                      QuoteForDetail(c.body_regex->pattern()));
  }
  if (c.body_not_regex != nullptr && c.body_not_regex->Search(o.body)) {
    return Result::Failure(Reason::kBodyMismatch, status_text + " from " + from +
                                                      ": body matches body_not_regex " +
                                                      QuoteForDetail(c.body_not_regex->pattern()));
  }
  Result ok = Result::Success();
  ok.detail = status_text + " from " + from + " (" + where + ") in " +
              std::to_string(info.times.total / 1000) + " ms";
  return ok;
}

}  // namespace gatewatch
