#include "cli/cli.h"

int main(int argc, char** argv) { return certgate::cli::Main(argc, argv); }
