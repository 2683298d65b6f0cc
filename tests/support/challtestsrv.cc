// Placeholder: filled in by the peer harness work.
#include "support/process.h"
