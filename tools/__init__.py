"""Build and maintenance commands run by the Makefile."""
