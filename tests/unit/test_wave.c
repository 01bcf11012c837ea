/*
 * test_wave.c -- WAVE text read into component values (src/component/wave_parse.c): every value
 * kind, the forms only the type disambiguates (keywords and %-escaped cases, flat options and
 * results, {} and {:}), omitted option fields and trailing arguments, comments and multiline
 * strings, and for each kind the malformed text that must be an error with its line and column;
 * values read back print as the same text (wave.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "component/cabi.h"
#include "test.h"
#include "../fuzz/wave_types.h"

static kpComponent *comp;
static kpCArena arena;

static void setup(void) {
    kapsul_error e;
    if (!(comp = kpWaveTypes_component(&e))) {
        fprintf(stderr, "setup: %s at 0x%zx\n", e.message, e.offset);
        exit(1);
    }
}

static kpCVal T(uint32_t id) { return (kpCVal){ .type = id }; }
static kpCVal P(uint8_t prim) { return (kpCVal){ .prim = prim }; }

static kpCValue v;
static kapsul_error err;

static bool parses(kpCVal t, const char *text) {
    bool ok = kpWave_parse(comp, t, text, strlen(text), &arena, &v, &err) == KAPSUL_OK;
    if (!ok) fprintf(stderr, "  %s: %s\n", text, err.message);
    return ok;
}

/* Fails with KAPSUL_ERR_ARG and a message containing want. */
static bool rejects(kpCVal t, const char *text, const char *want) {
    kpCValue out;
    kapsul_status st = kpWave_parse(comp, t, text, strlen(text), &arena, &out, &err);
    bool ok = st == KAPSUL_ERR_ARG && strstr(err.message, want);
    if (!ok) fprintf(stderr, "  %s: status %d, '%s' (wanted '%s')\n", text, st, err.message, want);
    return ok;
}

/* Reads text and prints it back as want (NULL: as text itself). */
static bool reads_back(kpCVal t, const char *text, const char *want) {
    if (!parses(t, text)) return false;
    kpBuf b = { 0 };
    bool ok = kpWave_print(comp, t, &v, &b) == 0 && kpBuf_byte(&b, 0) == 0 &&
              strcmp((char *)b.data, want ? want : text) == 0;
    if (!ok) fprintf(stderr, "  %s: printed %s\n", text, b.data ? (char *)b.data : "(null)");
    kpBuf_free(&b);
    return ok;
}

static bool str_is(const kpCValue *x, const char *s) {
    return x->str.len == strlen(s) && memcmp(x->str.p, s, x->str.len) == 0;
}

static void test_scalars(void) {
    CHECK(parses(P(kpCP_BOOL), " true ") && v.b);
    CHECK(parses(P(kpCP_BOOL), "false") && !v.b);
    CHECK(rejects(P(kpCP_BOOL), "truex", "expected true or false"));
    CHECK(parses(P(kpCP_U8), "255") && v.u == 255);
    CHECK(rejects(P(kpCP_U8), "256", "out of range for u8"));
    CHECK(rejects(P(kpCP_U8), "-1", "out of range for u8"));
    CHECK(parses(P(kpCP_S8), "-128") && v.s == -128);
    CHECK(rejects(P(kpCP_S8), "128", "out of range for s8"));
    CHECK(parses(P(kpCP_S64), "-9223372036854775808") && v.s == INT64_MIN);
    CHECK(rejects(P(kpCP_S64), "9223372036854775808", "out of range"));
    CHECK(parses(P(kpCP_U64), "18446744073709551615") && v.u == UINT64_MAX);
    CHECK(rejects(P(kpCP_U64), "18446744073709551616", "out of range"));
    CHECK(rejects(P(kpCP_U32), "01", "leading zeros"));
    CHECK(rejects(P(kpCP_U32), "1.0", "expected u32"));
    CHECK(rejects(P(kpCP_U32), "0x10", "expected u32"));
    CHECK(rejects(P(kpCP_U32), "", "expected u32, found the end of the text"));
    CHECK(parses(P(kpCP_F64), "1.5e3") && v.f64 == 1500.0);
    CHECK(parses(P(kpCP_F64), "-0.25") && v.f64 == -0.25);
    CHECK(parses(P(kpCP_F64), "7") && v.f64 == 7.0);
    CHECK(parses(P(kpCP_F32), "nan") && isnan(v.f32));
    CHECK(parses(P(kpCP_F64), "-inf") && isinf(v.f64) && v.f64 < 0);
    CHECK(parses(P(kpCP_F32), "1e39") && isinf(v.f32));
    CHECK(rejects(P(kpCP_F64), "1.", "a digit must follow"));
    CHECK(rejects(P(kpCP_F64), "+1", "expected f64"));
    CHECK(rejects(P(kpCP_F64), "infinity", "expected f64"));
    CHECK(rejects(P(kpCP_F64), "1e", "exponent"));
    CHECK(parses(P(kpCP_CHAR), "'x'") && v.c == 'x');
    CHECK(parses(P(kpCP_CHAR), "'\\''") && v.c == '\'');
    CHECK(parses(P(kpCP_CHAR), "'\\u{1F600}'") && v.c == 0x1F600);
    CHECK(parses(P(kpCP_CHAR), "'\xc3\xa9'") && v.c == 0xE9);
    CHECK(rejects(P(kpCP_CHAR), "''", "empty char"));
    CHECK(rejects(P(kpCP_CHAR), "'ab'", "exactly one character"));
    CHECK(rejects(P(kpCP_CHAR), "'\\u{D800}'", "not a Unicode scalar value"));
    CHECK(rejects(P(kpCP_CHAR), "'\\u{1234567}'", "more than 6 hex digits"));
    CHECK(rejects(P(kpCP_CHAR), "'\\q'", "unknown escape"));
    CHECK(rejects(P(kpCP_CHAR), "'\xff'", "invalid UTF-8"));
}

static void test_strings(void) {
    CHECK(parses(T(0), "\"a\\tb\\u{1F600}\\\"\"") && str_is(&v, "a\tb\xf0\x9f\x98\x80\""));
    CHECK(parses(T(0), "\"\"") && v.str.len == 0);
    CHECK(rejects(T(0), "\"abc", "without its closing"));
    CHECK(rejects(T(0), "\"a\nb\"", "line break"));
    CHECK(rejects(T(0), "\"\xc3\x28\"", "invalid UTF-8"));
    CHECK(parses(T(0), "\"\"\"\n  hi\n    there\n  \"\"\"") && str_is(&v, "hi\n  there"));
    CHECK(parses(T(0), "\"\"\"\nA single line\n\"\"\"") && str_is(&v, "A single line"));
    CHECK(parses(T(0), "\"\"\"\n  esc \\\"\"\\\" \\r\n  \"\"\"") && str_is(&v, "esc \"\"\" \r"));
    CHECK(rejects(T(0), "\"\"\" x\n\"\"\"", "line break must follow"));
    CHECK(rejects(T(0), "\"\"\"\n  a\n b\n  \"\"\"", "indented less"));
    CHECK(rejects(T(0), "\"\"\"\n  a", "without its closing"));
    CHECK(reads_back(T(0), "\"q\\\"\\n\\\\\"", NULL));
}

static void test_aggregates(void) {
    CHECK(reads_back(T(1), "[1, 2, 255]", NULL));
    CHECK(reads_back(T(1), "[ ]", "[]"));
    CHECK(reads_back(T(1), "[1, 2,]", "[1, 2]"));
    CHECK(rejects(T(1), "[1, 2", "expected ']'"));
    CHECK(rejects(T(1), "[1,, 2]", "expected u8"));
    CHECK(rejects(T(1), "[1 2]", "expected ']'"));
    CHECK(reads_back(T(12), "[[1,2],[],[3,],]", "[[1, 2], [], [3]]"));
    CHECK(reads_back(T(16), "[1.5, nan, -inf, 0]", "[1.5, nan, -inf, 0.0]"));
    CHECK(reads_back(T(3), "{a: 1, c: \"x\"}", "{a: 1, opt: none, c: \"x\"}"));
    CHECK(reads_back(T(3), "{c: \"x\", opt: 5, a: 1,}", "{a: 1, opt: some(5), c: \"x\"}"));
    CHECK(reads_back(T(3), "{%a: 1, opt: some(7), c: \"\"}", "{a: 1, opt: some(7), c: \"\"}"));
    CHECK(rejects(T(3), "{a: 1}", "field 'c' is missing"));
    CHECK(rejects(T(3), "{a: 1, a: 2, c: \"\"}", "given twice"));
    CHECK(rejects(T(3), "{z: 1}", "no field 'z'"));
    CHECK(rejects(T(3), "{:}", "field 'a' is missing"));
    CHECK(rejects(T(3), "{a 1}", "expected ':'"));
    CHECK(reads_back(T(9), "('a', true, -3)", NULL));
    CHECK(reads_back(T(9), "('a', true, -3,)", "('a', true, -3)"));
    CHECK(rejects(T(9), "('a', true)", "expected ','"));
    CHECK(rejects(T(9), "('a', true, 1, 2)", "expected ')'"));
    CHECK(reads_back(T(8), "{}", NULL));
    CHECK(reads_back(T(8), "{exec, read,}", "{read, exec}"));
    CHECK(rejects(T(8), "{read, read}", "given twice"));
    CHECK(rejects(T(8), "{foo}", "no flag 'foo'"));
}

static void test_cases(void) {
    CHECK(reads_back(T(4), "x", NULL));
    CHECK(reads_back(T(4), "y(5)", NULL));
    CHECK(parses(T(4), "%ok(1.5)") && v.var.disc == 2 && v.var.payload->f32 == 1.5f);
    CHECK(rejects(T(4), "ok(1.5)", "WAVE keyword"));
    CHECK(reads_back(T(4), "%ok(1.5)", NULL)); /* printed with its %, so it reads back */
    CHECK(reads_back(T(7), "%true", NULL));
    CHECK(rejects(T(4), "x(1)", "has no payload"));
    CHECK(rejects(T(4), "y", "expected '('"));
    CHECK(rejects(T(4), "w", "no case 'w'"));
    CHECK(reads_back(T(7), "q", NULL));
    CHECK(parses(T(7), "%true") && v.var.disc == 2);
    CHECK(rejects(T(7), "true", "WAVE keyword"));
    CHECK(reads_back(T(5), "none", NULL));
    CHECK(reads_back(T(5), "some(\"a\")", NULL));
    CHECK(reads_back(T(5), "\"flat\"", "some(\"flat\")"));
    CHECK(reads_back(T(11), "some(none)", NULL));
    CHECK(reads_back(T(11), "some(some(3))", NULL));
    CHECK(reads_back(T(11), "some(3)", "some(some(3))"));
    CHECK(rejects(T(11), "3", "expected some(...) or none"));
    CHECK(reads_back(T(6), "ok(3)", NULL));
    CHECK(reads_back(T(6), "err(\"e\")", NULL));
    CHECK(reads_back(T(6), "3", "ok(3)"));
    CHECK(rejects(T(6), "\"e\"", "expected u32"));
    CHECK(reads_back(T(13), "ok", NULL));
    CHECK(reads_back(T(13), "err", NULL));
    CHECK(rejects(T(13), "ok(1)", "has no payload"));
    CHECK(rejects(T(13), "1", "expected ok or err"));
    CHECK(reads_back(T(14), "err", NULL));
    CHECK(reads_back(T(14), "7", "ok(7)"));
}

static void test_text(void) {
    CHECK(reads_back(T(1), "[1, // one\n 2 // two\n]", "[1, 2]"));
    CHECK(rejects(T(1), "[1] 2", "unexpected text after the value"));
    /* Errors say where: line 2, column 3 (columns count characters, not bytes). */
    CHECK(rejects(T(1), "[1,\n  x]", "line 2 column 3") && err.line == 2 && err.column == 3);
    CHECK(rejects(T(0), "\"\xc3\xa9\" x", "line 1 column 5"));
}

static void test_calls(void) {
    const kpCType *ft = kpComponent_resolve(comp, 15);
    const char *name;
    size_t n;
    kpCValue *params;
    const char *call = "ns:pkg/iface#greet(\"x\")";
    CHECK(kpWave_callName(call, strlen(call), &name, &n, &err) == KAPSUL_OK && n == 18 &&
          memcmp(name, "ns:pkg/iface#greet", n) == 0);
    CHECK(kpWave_callName("greet", 5, &name, &n, &err) == KAPSUL_ERR_ARG);
    CHECK(kpWave_callName("(1)", 3, &name, &n, &err) == KAPSUL_ERR_ARG);
    call = "f(-4)";
    CHECK(kpWave_parseArgs(comp, ft, call, strlen(call), &arena, &params, &err) == KAPSUL_OK &&
          params[0].s == -4 && params[1].var.disc == 0);
    call = "f( 1 , some(2) , )";
    CHECK(kpWave_parseArgs(comp, ft, call, strlen(call), &arena, &params, &err) == KAPSUL_OK &&
          params[0].s == 1 && params[1].var.disc == 1 && params[1].var.payload->u == 2);
    call = "f()";
    CHECK(kpWave_parseArgs(comp, ft, call, strlen(call), &arena, &params, &err) == KAPSUL_ERR_ARG &&
          strstr(err.message, "missing argument 1 ('a')"));
    call = "f(1, 2, 3)";
    CHECK(kpWave_parseArgs(comp, ft, call, strlen(call), &arena, &params, &err) == KAPSUL_ERR_ARG &&
          strstr(err.message, "more arguments"));
    call = "f(1) x";
    CHECK(kpWave_parseArgs(comp, ft, call, strlen(call), &arena, &params, &err) == KAPSUL_ERR_ARG &&
          strstr(err.message, "after the call"));
    call = "f(1";
    CHECK(kpWave_parseArgs(comp, ft, call, strlen(call), &arena, &params, &err) == KAPSUL_ERR_ARG);
}

/* A list longer than the host-value budget is an error, not an exhausted host. */
static void test_limits(void) {
    size_t n = (size_t)KP_MAX_CABI_HOST_BYTES / sizeof(kpCValue) + 1;
    char *big = malloc(n * 2 + 3);
    if (!big) return;
    size_t k = 0;
    big[k++] = '[';
    for (size_t i = 0; i < n; i++) big[k++] = '0', big[k++] = ',';
    big[k++] = ']';
    kpCArena small = { 0 };
    kpCValue out;
    CHECK(kpWave_parse(comp, T(16), big, k, &small, &out, &err) == KAPSUL_ERR_ARG &&
          strstr(err.message, "bytes in all"));
    kpCArena_free(&small);
    free(big);
}

int main(void) {
    setup();
    test_scalars();
    test_strings();
    test_aggregates();
    test_cases();
    test_text();
    test_calls();
    test_limits();
    kpCArena_free(&arena);
    kpComponent_free(comp);
    return kpt_finish();
}
