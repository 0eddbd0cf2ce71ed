#include "checks/api/http_status.h"

namespace gatewatch {

std::optional<StatusSpec> StatusSpec::Parse(std::string_view item) {
  if (item.size() != 3) return std::nullopt;
  StatusSpec spec;
  if ((item[1] == 'x' || item[1] == 'X') && (item[2] == 'x' || item[2] == 'X')) {
    if (item[0] < '1' || item[0] > '5') return std::nullopt;
    spec.code_class = item[0] - '0';
    return spec;
  }
  int code = 0;
  for (char c : item) {
    if (c < '0' || c > '9') return std::nullopt;
    code = code * 10 + (c - '0');
  }
  if (code < 100 || code > 599) return std::nullopt;
  spec.code = code;
  return spec;
}

bool StatusSpec::Matches(long status) const {
  if (status < 100 || status > 599) return false;
  return is_class() ? status / 100 == code_class : status == code;
}

bool StatusSpec::MatchesLabel(std::string_view label) const {
  if (!is_class()) return label == std::to_string(code);
  return label.size() == 3 && label[0] == static_cast<char>('0' + code_class);
}

std::string StatusSpec::ToString() const {
  return is_class() ? std::to_string(code_class) + "xx" : std::to_string(code);
}

std::string StatusSpec::LabelRegex() const {
  return is_class() ? std::to_string(code_class) + ".." : std::to_string(code);
}

Reason ReasonForHttpStatus(long status) {
  if (status == 502) return Reason::kHttp502;
  if (status == 503) return Reason::kHttp503;
  if (status == 504) return Reason::kHttp504;
  if (status >= 500 && status <= 599) return Reason::kHttp5xx;
  if (status >= 400 && status <= 499) return Reason::kHttp4xx;
  return Reason::kUnexpectedStatus;
}

bool LabelsExactly(long status, CodeLabelScheme scheme) {
  switch (scheme) {
    case CodeLabelScheme::kGatewayExact:
      return status == 502 || status == 503 || status == 504;
    case CodeLabelScheme::kServerErrorsExact:
      return status >= 500 && status <= 599;
  }
  return false;
}

std::string StatusCodeLabel(long status, CodeLabelScheme scheme) {
  if (status < 100 || status > 599) return "none";
  if (LabelsExactly(status, scheme)) return std::to_string(status);
  return std::to_string(status / 100) + "xx";
}

}  // namespace gatewatch
