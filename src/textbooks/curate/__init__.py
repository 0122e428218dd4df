"""CodeTextbook part 1: raw code sources and the filters that keep the educational files."""
