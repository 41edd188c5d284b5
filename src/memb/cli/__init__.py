"""The `memb` command line: a thin layer over experiments/ and training/."""
