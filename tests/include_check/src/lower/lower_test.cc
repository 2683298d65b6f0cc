// Fixture of tools/include_check: never compiled.
#include "lower/lower.h"

int main() { return Lower() - 1; }
