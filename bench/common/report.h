// What the benchmarks' tables share: medians and quantiles, ratio columns,
// counts with thousands separators, and the text printed at once to stdout
// when a run is done.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace certgate::bench {

// The median; 0 for none.
double Median(std::vector<double> values);

// The value at fraction q of the samples (nearest rank); 0 for none.
double Quantile(std::vector<double> v, double q);

// "100,000".
std::string CountText(int n);

// a[i]/b[i] for every round i where both are above 0, and the median of
// those: two systems measured seconds apart in the same round share its
// noise, so a slow round slows both. 0 when no round has both.
double MedianOfRatios(const std::vector<double>& a, const std::vector<double>& b);

// "1.23x", or "-" when ratio is 0 (nothing to compare).
std::string RatioText(double ratio);

// A report built line by line, printed to stdout in one piece.
class ReportText {
 public:
  void Line(std::string_view text);
  void Print() const;

 private:
  std::string text_;
};

}  // namespace certgate::bench
