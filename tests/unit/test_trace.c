/*
 * test_trace.c -- the W3C traceparent parser (src/serve/log.c, kpTrace_begin): a valid header is
 * continued (its trace id and flags kept, its span id as the parent, a new span id), and every
 * malformed form starts a new trace: wrong lengths, separators, upper-case or non-hex digits,
 * all-zero trace or parent ids, version ff, a version 00 header with trailing fields.
 */
#include <stdio.h>
#include <string.h>

#include "serve/log.h"
#include "test.h"

#define TRACE "4bf92f3577b34da6a3ce929d0e0e4736"
#define PARENT "00f067aa0ba902b7"

static bool is_lower_hex(const char *s, size_t n) {
    if (strlen(s) != n) return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return false;
    return true;
}

/* v must be continued: trace id kept, parent = its span id, sampled flag as given. */
static void continued(const char *v, uint8_t flags) {
    kpTrace t;
    kpTrace_begin(&t, v, strlen(v));
    bool ok = strcmp(t.trace_id, TRACE) == 0 && strcmp(t.parent_id, PARENT) == 0 && t.flags == flags &&
              is_lower_hex(t.span_id, 16) && strcmp(t.span_id, PARENT) != 0;
    CHECK(ok);
    if (!ok) printf("  not continued: '%s' -> %s %s %u\n", v, t.trace_id, t.parent_id, t.flags);
}

/* v must start a new trace: fresh valid ids, no parent, sampled. */
static void rejected(const char *v, size_t n) {
    kpTrace t;
    kpTrace_begin(&t, v, n);
    bool ok = is_lower_hex(t.trace_id, 32) && strcmp(t.trace_id, TRACE) != 0 && t.parent_id[0] == 0 &&
              is_lower_hex(t.span_id, 16) && t.flags == 1 && strspn(t.trace_id, "0") != 32;
    CHECK(ok);
    if (!ok) printf("  accepted: '%.*s'\n", (int)n, v ? v : "");
}

static void rejected_s(const char *v) { rejected(v, strlen(v)); }

static void test_valid(void) {
    continued("00-" TRACE "-" PARENT "-01", 1);
    continued("00-" TRACE "-" PARENT "-00", 0);
    continued("00-" TRACE "-" PARENT "-03", 1); /* unknown flag bits: only sampled is kept */
    continued("00-" TRACE "-" PARENT "-02", 0);
    /* A later version may carry more fields after a '-'; they are ignored. */
    continued("01-" TRACE "-" PARENT "-01", 1);
    continued("cc-" TRACE "-" PARENT "-01-what-ever", 1);
    continued("fe-" TRACE "-" PARENT "-00-", 0);
}

static void test_malformed(void) {
    rejected(NULL, 0);
    rejected_s("");
    rejected_s("00");
    rejected_s("00-" TRACE "-" PARENT "-0");        /* short flags */
    rejected_s("00-" TRACE "-" PARENT);             /* no flags */
    rejected_s("00-" TRACE "-" PARENT "-01-extra"); /* version 00 has exactly 4 fields */
    rejected_s("00-" TRACE "-" PARENT "-01 ");      /* trailing byte */
    rejected_s("01-" TRACE "-" PARENT "-01x");      /* later version: a '-' must follow */
    rejected_s("ff-" TRACE "-" PARENT "-01");       /* version ff is invalid */
    rejected_s("0g-" TRACE "-" PARENT "-01");       /* version not hex */
    rejected_s("0A-" TRACE "-" PARENT "-01");       /* upper case */
    rejected_s("00_" TRACE "-" PARENT "-01");       /* separators */
    rejected_s("00-" TRACE "_" PARENT "-01");
    rejected_s("00-" TRACE "-" PARENT "_01");
    rejected_s("00-4BF92F3577B34DA6A3CE929D0E0E4736-" PARENT "-01"); /* upper-case trace id */
    rejected_s("00-" TRACE "-00F067AA0BA902B7-01");                  /* upper-case parent id */
    rejected_s("00-" TRACE "-" PARENT "-0A");                        /* upper-case flags */
    rejected_s("00-4bf92f3577b34da6a3ce929d0e0e473z-" PARENT "-01"); /* non-hex */
    rejected_s("00-" TRACE "-00f067aa0ba902bz-01");
    rejected_s("00-" TRACE "-" PARENT "-0x");
    rejected_s("00-00000000000000000000000000000000-" PARENT "-01"); /* all-zero trace id */
    rejected_s("00-" TRACE "-0000000000000000-01");                  /* all-zero parent id */
    rejected_s("00-4bf92f3577b34da6a3ce929d0e0e473-" PARENT "-01");  /* trace id one short */
    rejected_s("00-" TRACE "-00f067aa0ba902b-01");                   /* parent id one short */
    rejected_s("00-" TRACE "0-" PARENT "-01");                       /* trace id one long */
    /* A NUL inside the value is a byte like any other: not hex. */
    char nul[] = "00-" TRACE "-" PARENT "-01";
    nul[10] = 0;
    rejected(nul, sizeof nul - 1);
    /* Only the first n bytes count. */
    rejected("00-" TRACE "-" PARENT "-01", 54);
}

static void test_format(void) {
    kpTrace t;
    char out[56];
    kpTrace_begin(&t, "00-" TRACE "-" PARENT "-00", 55);
    kpTrace_format(&t, out);
    CHECK(strlen(out) == 55 && strncmp(out, "00-" TRACE "-", 36) == 0 && strcmp(out + 52, "-00") == 0);
    CHECK(strncmp(out + 36, t.span_id, 16) == 0);
    /* What we send is what we accept. */
    kpTrace u;
    kpTrace_begin(&u, out, strlen(out));
    CHECK(strcmp(u.trace_id, TRACE) == 0 && strcmp(u.parent_id, t.span_id) == 0 && u.flags == 0);
    /* Two new traces differ. */
    kpTrace a, b;
    kpTrace_begin(&a, NULL, 0);
    kpTrace_begin(&b, NULL, 0);
    CHECK(strcmp(a.trace_id, b.trace_id) != 0 && strcmp(a.span_id, b.span_id) != 0);
}

int main(void) {
    test_valid();
    test_malformed();
    test_format();
    return kpt_finish();
}
