// Fixture of tools/include_check: never compiled.
#pragma once
#include "lower/lower.h"

inline int Side() { return Lower(); }
