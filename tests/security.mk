# (fragment of Makefile.am; filled in later)
