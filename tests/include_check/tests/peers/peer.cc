// Fixture of tools/include_check: never compiled.
int Peer() { return 0; }
