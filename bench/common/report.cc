#include "common/report.h"

#include <algorithm>
#include <cstdio>

#include <fmt/format.h>

namespace certgate::bench {

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
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
