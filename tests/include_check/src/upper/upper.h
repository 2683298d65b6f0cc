// Fixture of tools/include_check: never compiled.
#pragma once
int Upper();
