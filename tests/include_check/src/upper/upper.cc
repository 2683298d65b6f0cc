// Fixture of tools/include_check: never compiled.
#include "upper/upper.h"

#include "lower/lower.h"

int Upper() { return Lower() + 1; }
