/*
 * flags.c -- option values that several subcommands read the same way (run, serve, up).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* "64M", "1G", "4096" -> bytes. */
bool kpCli_parseSize(const char *s, size_t *out) {
    char *end;
    errno = 0;
    if (*s < '0' || *s > '9') return false;
    unsigned long long v = strtoull(s, &end, 10);
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K') shift = 10, end++;
    else if (*end == 'm' || *end == 'M') shift = 20, end++;
    else if (*end == 'g' || *end == 'G') shift = 30, end++;
    if ((*end == 'b' || *end == 'B') && shift) end++;
    if (*end || errno || v > (SIZE_MAX >> shift)) return false;
    *out = (size_t)v << shift;
    return true;
}

/* "2s", "500ms", "10us", "1m", "1.5" (seconds) -> ns. */
bool kpCli_parseDuration(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    if ((*s < '0' || *s > '9') && *s != '.') return false;
    double v = strtod(s, &end);
    double mul = 1e9;
    if (strcmp(end, "ms") == 0) mul = 1e6;
    else if (strcmp(end, "us") == 0) mul = 1e3;
    else if (strcmp(end, "ns") == 0) mul = 1;
    else if (strcmp(end, "m") == 0) mul = 60e9;
    else if (strcmp(end, "h") == 0) mul = 3600e9;
    else if (*end && strcmp(end, "s") != 0) return false;
    if (errno || !(v >= 0) || v * mul > 1.8e19) return false;
    *out = (uint64_t)(v * mul);
    return true;
}

void kpCli_splitOption(int argc, char **argv, int *i, char *name, size_t cap, char **val) {
    char *a = argv[*i], *eq = strchr(a, '=');
    if (a[1] == '-' && eq && (size_t)(eq - a) < cap) {
        memcpy(name, a, (size_t)(eq - a));
        name[eq - a] = 0;
        *val = eq + 1;
    } else {
        snprintf(name, cap, "%s", a);
        *val = *i + 1 < argc ? argv[++*i] : NULL;
    }
}
