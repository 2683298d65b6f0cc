// One tool's round in acme_bench (a stage): what it measured and what went
// wrong; and what every stage shares — interruption by ^C, the environment
// children get, counting lines in logs.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace certgate::bench::acme {

// One tool's round.
struct StageResult {
  bool ran = false;
  double wall = 0;   // seconds until every name was issued (or the give-up time)
  double cpu = 0;    // the client's CPU seconds in that time
  int issued = 0;    // names with a verified certificate
  int retries = 0;   // certgate: failed steps retried later; lego: badNonce retries
  double steal = 0;  // % over the stage
  std::vector<std::string> problems;
};

// Keeps at most a few problem lines; says how many more there were.
void AddProblem(StageResult& r, std::string text);

// For the signal handler: makes the next CheckStop throw.
void RequestStop();
bool StopRequested();
// The children live in their own process groups (Process): a ^C reaches only
// this program, which then unwinds and kills them by pid.
void CheckStop();
void SleepFor(std::chrono::milliseconds d);

// What children inherit: never a proxy (everything here is on 127.0.0.1).
std::map<std::string, std::string> NoProxyEnv();

size_t CountOccurrences(const std::string& text, std::string_view needle);

}  // namespace certgate::bench::acme
