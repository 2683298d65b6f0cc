#include "common/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace certgate::bench {

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double Quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(v.size())));
  return v[std::min(v.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string CountText(int n) {
  // Appended digit by digit: GCC 12 warns (-Wrestrict, wrongly) about
  // std::string::insert here.
  const std::string digits = std::to_string(n);
  const size_t sign = digits[0] == '-' ? 1 : 0;
  std::string out = digits.substr(0, sign);
  for (size_t i = sign; i < digits.size(); ++i) {
    if (i > sign && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

double MedianOfRatios(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ratios;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] > 0 && b[i] > 0) ratios.push_back(a[i] / b[i]);
  }
  return Median(ratios);
}

std::string RatioText(double ratio) {
  return ratio > 0 ? fmt::format("{:.2f}x", ratio) : std::string("-");
}

void ReportText::Line(std::string_view text) {
  text_.append(text);
  text_ += '\n';
}

void ReportText::Print() const {
  std::fputs(text_.c_str(), stdout);
  std::fflush(stdout);
}

}  // namespace certgate::bench
