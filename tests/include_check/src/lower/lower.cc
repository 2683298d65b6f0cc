// Fixture of tools/include_check: never compiled.
#include "lower/lower.h"

int Lower() { return 1; }
