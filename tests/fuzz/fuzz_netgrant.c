/*
 * fuzz_netgrant.c -- libFuzzer target: the wasi:sockets grant parser (src/wasip2/sockets_grant.c:
 * kpP2Net_allow's HOST:PORT, kpP2Net_allowUrl's SCHEME://HOST:PORT; what `kapsul run --allow-*`
 * and a Spin manifest's allowed_outbound_hosts feed it). The input is lines: the first byte of
 * each picks the kind (or the URL form), the rest is the text. Host names resolve through a stub
 * (one fixed address per name), so no DNS query ever leaves the fuzzer. Oracles: a failure is
 * KAPSUL_ERR_ARG (LIMIT after many grants, NOT_FOUND for another URL scheme) with a NUL-terminated
 * message; a grant accepted for a canonical A.B.C.D:PORT allows that address and port. ASan/UBSan catch everything else.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasip2/p2int.h"

static kpOs_err stub_resolve(const char *name, kpOs_addr *out, size_t cap, size_t *n) {
    (void)name;
    *n = 0;
    if (cap == 0) return KP_OS_OK;
    memset(out, 0, sizeof *out);
    out->family = 4, out->ip[0] = 10, out->ip[3] = 7;
    *n = 1;
    return KP_OS_OK;
}

static void one(kpP2Net *net, const char *line) {
    kapsul_error err;
    memset(&err, 0, sizeof err);
    unsigned pick = (unsigned char)line[0] % 6;
    const char *text = line[0] ? line + 1 : line;
    kapsul_status st =
        pick == 5 ? kpP2Net_allowUrl(net, text, &err) : kpP2Net_allow(net, (kpP2Allow)pick, text, &err);
    if (st != KAPSUL_OK) {
        if ((st != KAPSUL_ERR_ARG && st != KAPSUL_ERR_LIMIT && st != KAPSUL_ERR_NOT_FOUND &&
             st != KAPSUL_ERR_NOMEM) ||
            !memchr(err.message, 0, sizeof err.message))
            abort();
        return;
    }
    /* A.B.C.D:PORT, written canonically: that exact address is allowed now */
    unsigned a, b, c, d, port;
    char tail;
    char canon[40];
    if (pick < 4 && sscanf(text, "%3u.%3u.%3u.%3u:%5u%c", &a, &b, &c, &d, &port, &tail) == 5 && a < 256 &&
        b < 256 && c < 256 && d < 256 && port < 65536 &&
        snprintf(canon, sizeof canon, "%u.%u.%u.%u:%u", a, b, c, d, port) > 0 && strcmp(canon, text) == 0) {
        kpOs_addr x = { .family = 4,
                        .ip = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d },
                        .port = (uint16_t)port };
        if (!kpP2Net_allows(net, (kpP2Allow)pick, &x)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = 0;
    kpP2Net *net;
    kapsul_error err;
    if (kpP2Net_new(&net, &err) != KAPSUL_OK) {
        free(buf);
        return 0;
    }
    kpP2Net_setResolver(net, stub_resolve);
    for (char *line = buf, *nl; line; line = nl) {
        nl = strchr(line, '\n');
        if (nl) *nl++ = 0;
        one(net, line);
    }
    kpOs_addr probe = { .family = 6, .port = 80 };
    (void)kpP2Net_allows(net, KP_P2_TCP_CONNECT, &probe);
    (void)kpP2Net_any(net, true);
    kpP2Net_free(net);
    free(buf);
    return 0;
}
