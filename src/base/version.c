/*
 * version.c -- the library's version string, compiled from the same generated kapsul_version.h
 * that an embedder's kapsul.h includes, so comparing the two detects a header/library mismatch.
 */
#include "kapsul.h"

const char *kapsul_version(void) { return KAPSUL_VERSION; }
