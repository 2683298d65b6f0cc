// Fixture of tools/include_check: never compiled.
#include "side/side.h"

int SideTwice() { return 2 * Side(); }
