/*
 * sha256.h -- SHA-256 (FIPS 180-4), for content hashes: the module hash a compiled artifact
 * records and the native tier's cache keys.
 */
#ifndef KP_SHA256_H
#define KP_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* The digest of data[0..len) into out. */
void kpSha256(const uint8_t *data, size_t len, uint8_t out[32]);

#endif /* KP_SHA256_H */
