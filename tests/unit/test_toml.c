/*
 * test_toml.c -- the TOML reader (src/app/toml.c): every value form, the table rules of TOML 1.0,
 * and one bad document per error with its line, column and message.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "app/toml.h"
#include "test.h"

static kpTomlValue *parse_ok(const char *src) {
    kpTomlValue *v = NULL;
    kapsul_error err;
    kapsul_status st = kpToml_parse(src, strlen(src), &v, &err);
    if (st) fprintf(stderr, "unexpected error %d:%d: %s\n  in: %s\n", err.line, err.column, err.message, src);
    return v;
}

/* src must fail at line:column with a message containing want. */
static void bad(const char *src, int line, int column, const char *want) {
    kpTomlValue *v = NULL;
    kapsul_error err;
    memset(&err, 0, sizeof err);
    kapsul_status st = kpToml_parse(src, strlen(src), &v, &err);
    bool ok =
        st != KAPSUL_OK && v == NULL && err.line == line && err.column == column && strstr(err.message, want);
    if (!ok)
        fprintf(stderr, "bad(%s): got %d %d:%d: %s (want %d:%d: %s)\n", src, st, err.line, err.column,
                err.message, line, column, want);
    CHECK(ok);
}

static const kpTomlValue *path(const kpTomlValue *t, const char *a, const char *b, const char *c) {
    t = kpToml_get(t, a);
    if (t && b) t = kpToml_get(t, b);
    if (t && c) t = kpToml_get(t, c);
    return t;
}

static bool str_is(const kpTomlValue *v, const char *s, size_t n) {
    return v && v->kind == KP_TOML_STRING && v->u.str.len == n && memcmp(v->u.str.s, s, n) == 0 &&
           v->u.str.s[n] == 0;
}

static void test_strings(void) {
    kpTomlValue *d = parse_ok("a = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600\"\n"
                              "b = 'C:\\path\\x'\n"
                              "c = \"\"\"\nline1\nline2\"\"\"\n"
                              "d = \"\"\"one \\\n     two\"\"\"\n"
                              "e = '''\nraw\\n ''two'' '''\n"
                              "f = \"\"\"\"\"quoted\"\"\"\"\"\n"
                              "g = \"\\u0000x\"\n"
                              "h = \"\"\n"
                              "j = \"\"\"a\r\nb\"\"\"\n");
    CHECK(d != NULL);
    if (!d) return;
    CHECK(str_is(kpToml_get(d, "a"), "tab\there \"q\" \\ \xC3\xA9 \xF0\x9F\x98\x80", 22));
    CHECK(str_is(kpToml_get(d, "b"), "C:\\path\\x", 9));
    CHECK(str_is(kpToml_get(d, "c"), "line1\nline2", 11));
    CHECK(str_is(kpToml_get(d, "d"), "one two", 7));
    CHECK(str_is(kpToml_get(d, "e"), "raw\\n ''two'' ", 14));
    CHECK(str_is(kpToml_get(d, "f"), "\"\"quoted\"\"", 10));
    CHECK(str_is(kpToml_get(d, "g"), "\0x", 2));
    CHECK(str_is(kpToml_get(d, "h"), "", 0));

    kpToml_free(d);
}

static void test_numbers(void) {
    kpTomlValue *d =
        parse_ok("a = +99\nb = -17\nc = 0\nd = 1_000_000\ne = 0xDEAD_beef\nf = 0o755\ng = 0b1101\n"
                 "h = 9223372036854775807\ni = -9223372036854775808\n"
                 "j = 3.1415\nk = -0.01\nl = 5e+22\nm = 1e06\nn = -2E-2\no = 6.626e-34\np = 224_617.445_991\n"
                 "q = inf\nr = -inf\ns = nan\nt = +nan\nu = true\nv = false\nw = 0x7FFFFFFFFFFFFFFF\n");
    CHECK(d != NULL);
    if (!d) return;
    const int64_t ints[] = { 99, -17, 0, 1000000, 0xDEADBEEF, 0755, 13, INT64_MAX, INT64_MIN };
    const char *names[] = { "a", "b", "c", "d", "e", "f", "g", "h", "i" };
    for (int i = 0; i < 9; i++) {
        const kpTomlValue *v = kpToml_get(d, names[i]);
        CHECK(v && v->kind == KP_TOML_INTEGER && v->u.i == ints[i]);
    }
    CHECK(kpToml_get(d, "w")->u.i == INT64_MAX);
    CHECK(kpToml_get(d, "j")->kind == KP_TOML_FLOAT && kpToml_get(d, "j")->u.f == 3.1415);
    CHECK(kpToml_get(d, "l")->u.f == 5e22 && kpToml_get(d, "m")->u.f == 1e6 &&
          kpToml_get(d, "n")->u.f == -2e-2);
    CHECK(kpToml_get(d, "p")->u.f == 224617.445991);
    CHECK(isinf(kpToml_get(d, "q")->u.f) && kpToml_get(d, "r")->u.f < 0 && isnan(kpToml_get(d, "s")->u.f));
    CHECK(kpToml_get(d, "u")->kind == KP_TOML_BOOL && kpToml_get(d, "u")->u.b && !kpToml_get(d, "v")->u.b);
    kpToml_free(d);
}

static void test_datetimes(void) {
    kpTomlValue *d = parse_ok("a = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00.999999-07:00\n"
                              "c = 1979-05-27 07:32:00\nd = 1979-05-27\ne = 07:32:00\nf = 00:32:00.5\n"
                              "g = 2000-02-29\n");
    CHECK(d != NULL);
    if (!d) return;
    const kpTomlValue *v = kpToml_get(d, "c");
    CHECK(v && v->kind == KP_TOML_DATETIME && strcmp(v->u.str.s, "1979-05-27 07:32:00") == 0);
    CHECK(kpToml_get(d, "e")->kind == KP_TOML_DATETIME);
    kpToml_free(d);
    bad("a = 1979-13-01\n", 1, 5, "invalid date-time");
    bad("a = 1979-02-30\n", 1, 5, "invalid date-time");
    bad("a = 1900-02-29\n", 1, 5, "invalid date-time");
    bad("a = 07:32\n", 1, 5, "invalid date-time");
    bad("a = 1979-05-27T25:00:00\n", 1, 5, "invalid date-time");
}

static void test_tables(void) {
    kpTomlValue *d = parse_ok("# comment\n"
                              "top = 1 # trailing\n"
                              "\"quoted key\" = 2\n"
                              "'lit.key' = 3\n"
                              "a . b . c = 4\n"
                              "a.d = 5\n"
                              "[t]\n"
                              "x = [ 1, 'two', [3], { y = 4 }, ]\n"
                              "multi = [\n  1, # one\n  2,\n]\n"
                              "[t.sub]\n"
                              "z = true\n"
                              "[x.y.z]\n"
                              "[x]\n"
                              "w = 1\n"
                              "[[arr]]\n"
                              "n = 1\n"
                              "[arr.inner]\n"
                              "m = 1\n"
                              "[[arr]]\n"
                              "n = 2\n"
                              "[[arr.list]]\n"
                              "[fruit]\n"
                              "apple.color = 'red'\n"
                              "[fruit.apple.texture]\n"
                              "smooth = true\n"
                              "inl = { a.b = 1, c = 'd' }\n"
                              "[ spaced . header ]\n"
                              "1234 = 'digits'\n");
    CHECK(d != NULL);
    if (!d) return;
    CHECK(kpToml_get(d, "top")->u.i == 1);
    CHECK(kpToml_get(d, "quoted key")->u.i == 2);
    CHECK(kpToml_get(d, "lit.key")->u.i == 3);
    CHECK(path(d, "a", "b", "c")->u.i == 4 && path(d, "a", "d", NULL)->u.i == 5);
    const kpTomlValue *x = path(d, "t", "x", NULL);
    CHECK(x && x->kind == KP_TOML_ARRAY && x->u.arr.n == 4);
    CHECK(x && x->u.arr.v[3]->kind == KP_TOML_TABLE && kpToml_get(x->u.arr.v[3], "y")->u.i == 4);
    CHECK(path(d, "t", "multi", NULL)->u.arr.n == 2);
    CHECK(path(d, "t", "sub", "z")->u.b);
    CHECK(path(d, "x", "w", NULL)->u.i == 1 && path(d, "x", "y", "z")->kind == KP_TOML_TABLE);
    const kpTomlValue *arr = kpToml_get(d, "arr");
    CHECK(arr && arr->kind == KP_TOML_ARRAY && arr->u.arr.n == 2);
    CHECK(arr && kpToml_get(arr->u.arr.v[0], "inner") && kpToml_get(arr->u.arr.v[1], "list"));
    CHECK(arr && arr->u.arr.v[1]->line == 22 && arr->u.arr.v[1]->column == 1);
    CHECK(str_is(path(d, "fruit", "apple", "color"), "red", 3));
    CHECK(path(d, "fruit", "apple", "texture")->kind == KP_TOML_TABLE);
    CHECK(kpToml_get(path(d, "fruit", "apple", "texture"), "inl")->kind == KP_TOML_TABLE);
    CHECK(str_is(path(d, "spaced", "header", "1234"), "digits", 6));
    const kpTomlEntry *e = kpToml_find(d, "top");
    CHECK(e && e->line == 2 && e->column == 1);
    CHECK(d->u.tab.n >= 3 && strcmp(d->u.tab.v[0].key, "top") == 0); /* document order */
    kpToml_free(d);
    kpToml_free(parse_ok(""));
    kpToml_free(parse_ok("\xEF\xBB\xBF"
                         "a = 1\r\n"));
    kpToml_free(parse_ok("[a.b]\n[a]\n"));
    kpToml_free(parse_ok("a = {}\nb = []\n"));
}

static void test_errors(void) {
    bad("a = 1\na = 2\n", 2, 1, "duplicate key 'a' (first defined at 1:1)");
    bad("a.b = 1\na.b = 2\n", 2, 3, "duplicate key 'a.b'");
    bad("[a]\n[a]\n", 2, 2, "table 'a' is already defined (at 1:1)");
    bad("[a]\nb = 1\n[a.b]\n", 3, 4, "table 'a.b' is already defined");
    bad("a = 1\n[a]\n", 2, 2, "already defined");
    bad("[fruit]\napple.color = 'red'\n[fruit.apple]\n", 3, 8, "already defined");
    bad("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", 4, 1, "cannot add to table 'b' with a dotted key");
    bad("a = { b = 1 }\na.c = 2\n", 2, 1, "cannot add to table 'a'");
    bad("a = { b = 1 }\n[a.c]\n", 2, 2, "inline table");
    bad("a = [1]\n[[a]]\n", 2, 3, "array of tables");
    bad("[[a]]\n[a]\n", 2, 2, "already defined");
    bad("a = [1]\n[a.b]\n", 2, 2, "static array");
    bad("a = 1\nb.c = 2\nb = 3\n", 3, 1, "duplicate key 'b'");
    bad("a = 9223372036854775808\n", 1, 5, "integer out of range");
    bad("a = -9223372036854775809\n", 1, 5, "integer out of range");
    bad("a = 0x8000000000000000\n", 1, 5, "integer out of range");
    bad("a = 012\n", 1, 5, "leading zeros");
    bad("a = 1__2\n", 1, 5, "invalid number");
    bad("a = _1\n", 1, 5, "invalid value");
    bad("a = 1_\n", 1, 5, "invalid number");
    bad("a = 1.\n", 1, 5, "invalid float");
    bad("a = .5\n", 1, 5, "invalid value");
    bad("a = 1e\n", 1, 5, "exponent");
    bad("a = 1e400\n", 1, 5, "float out of range");
    bad("a = +0x1\n", 1, 5, "invalid number");
    bad("a = 0xg\n", 1, 5, "invalid integer");
    bad("a = TRUE\n", 1, 5, "invalid value");
    bad("a = bare\n", 1, 5, "strings need quotes");
    bad("a = \"x\n", 1, 7, "newline in a single-line string");
    bad("a = \"unterminated", 1, 5, "unterminated string");
    bad("a = \"\\q\"\n", 1, 6, "invalid escape");
    bad("a = \"\\u12\"\n", 1, 6, "hex digits");
    bad("a = \"\\uD800\"\n", 1, 6, "not a Unicode scalar");
    bad("a = \"\\U00110000\"\n", 1, 6, "not a Unicode scalar");
    bad("a = \"a\x01\"\n", 1, 7, "control character");
    bad("a = '''x''''''\n", 1, 9, "too many quotes");
    bad("a = \"\"\"x \\ y\"\"\"\n", 1, 10, "invalid escape");
    bad("a = 1 # \x7f\n", 1, 9, "control character in a comment");
    bad("a = 1\rb = 2\n", 1, 6, "carriage return not followed by a newline");
    bad("a = 1 b = 2\n", 1, 7, "expected the end of the line");
    bad("a =\n", 1, 4, "expected a value");
    bad("a\n", 1, 2, "expected '='");
    bad("= 1\n", 1, 1, "invalid character in a key");
    bad("\"\"\"a\"\"\" = 1\n", 1, 1, "multi-line");
    bad("a = [1 2]\n", 1, 8, "expected ',' or ']'");
    bad("a = [1,\n", 2, 1, "unterminated array");
    bad("a = {b = 1,}\n", 1, 12, "trailing comma");
    bad("a = {b = 1\n}\n", 1, 11, "newline in an inline table");
    bad("a = {b = 1, b = 2}\n", 1, 13, "duplicate key 'b'");
    bad("[a\n", 1, 3, "expected ']'");
    bad("[[a]\n", 1, 4, "expected ']]'");
    bad("[a] x\n", 1, 5, "after a table header");
    bad("[]\n", 1, 2, "invalid character in a key");
    bad("a = 1\n\xff\n", 2, 1, "invalid UTF-8");
    bad("a = \"\xed\xa0\x80\"\n", 1, 6, "invalid UTF-8");
    bad("a = \"\xc0\xaf\"\n", 1, 6, "invalid UTF-8");
}

static void test_limits(void) {
    char buf[4096];
    size_t o = 0;
    o += (size_t)sprintf(buf + o, "a = ");
    for (int i = 0; i < 70; i++) buf[o++] = '[';
    for (int i = 0; i < 70; i++) buf[o++] = ']';
    buf[o] = 0;
    kpTomlValue *v = NULL;
    kapsul_error err;
    CHECK(kpToml_parse(buf, o, &v, &err) == KAPSUL_ERR_LIMIT && v == NULL && err.line == 1);
    o = 0;
    for (int i = 0; i < 70; i++) o += (size_t)sprintf(buf + o, "k.");
    o += (size_t)sprintf(buf + o, "k = 1\n");
    CHECK(kpToml_parse(buf, o, &v, &err) == KAPSUL_ERR_LIMIT && v == NULL);
    o = 0;
    for (int i = 0; i < 30; i++) o += (size_t)sprintf(buf + o, "a = { ");
    CHECK(kpToml_parse(buf, o, &v, &err) == KAPSUL_ERR_MALFORMED && v == NULL);
    /* Within the limits nothing is refused. */
    o = 0;
    o += (size_t)sprintf(buf + o, "a = ");
    for (int i = 0; i < 60; i++) buf[o++] = '[';
    for (int i = 0; i < 60; i++) buf[o++] = ']';
    kpTomlValue *ok = NULL;
    CHECK(kpToml_parse(buf, o, &ok, &err) == KAPSUL_OK && ok);
    kpToml_free(ok);
}

/* Tables past 16 keys are looked up through a hash index (toml.c): every key is still found,
 * duplicates still refused at their position, dotted keys still extend the right table. */
static void test_big_tables(void) {
    enum {
        N = 5000
    };
    kpBuf src = { 0 };
    char line[96];
    for (int i = 0; i < N; i++) {
        int n = snprintf(line, sizeof line, "k%d = %d\n[t.c%d]\nx = %d\n[u]\nd%d.v = %d\n", i, i, i, i, i, i);
        kpBuf_push(&src, line, (size_t)n);
    }
    /* "[u]" comes back at line 9: a table defined twice, refused where it is repeated. */
    kpTomlValue *v = NULL;
    kapsul_error err;
    CHECK(kpToml_parse((const char *)src.data, src.len, &v, &err) == KAPSUL_ERR_MALFORMED && err.line == 9);
    src.len = 0;
    kpBuf_push(&src, "[t]\n", 4);
    for (int i = 0; i < N; i++) {
        int n = snprintf(line, sizeof line, "c%d.x = %d\n", i, i);
        kpBuf_push(&src, line, (size_t)n);
    }
    CHECK(kpToml_parse((const char *)src.data, src.len, &v, &err) == KAPSUL_OK);
    const kpTomlValue *t = kpToml_get(v, "t");
    bool all = t && t->u.tab.n == N;
    for (int i = 0; all && i < N; i += 7) {
        snprintf(line, sizeof line, "c%d", i);
        const kpTomlValue *x = kpToml_get(kpToml_get(t, line), "x");
        all = x && x->kind == KP_TOML_INTEGER && x->u.i == i;
    }
    CHECK(all);
    CHECK(kpToml_get(t, "c5000") == NULL && kpToml_get(t, "c") == NULL);
    kpToml_free(v);
    int n = snprintf(line, sizeof line, "c17.x = 1\n");
    kpBuf_push(&src, line, (size_t)n);
    CHECK(kpToml_parse((const char *)src.data, src.len, &v, &err) == KAPSUL_ERR_MALFORMED);
    CHECK(err.line == N + 2 && strstr(err.message, "duplicate key 'c17.x'") != NULL);
    kpBuf_free(&src);
}

/* Every allocation failure is reported as out of memory and leaks nothing (ASan build checks). */
static void test_allocfail(void) {
    const char *src =
        "a.b = 'x'\n[t]\nx = [1, {y = \"z\"}]\n[[arr]]\nn = 1\n[[arr]]\n[arr.s]\nq = 1979-05-27\n";
    bool saw_ok = false;
    for (long n = 0; n < 200 && !saw_ok; n++) {
        kpTomlValue *v = NULL;
        kapsul_error err;
        kpAlloc_failAfter(n);
        kapsul_status st = kpToml_parse(src, strlen(src), &v, &err);
        kpAlloc_failAfter(-1);
        if (st == KAPSUL_OK) saw_ok = true;
        else CHECK(st == KAPSUL_ERR_NOMEM && v == NULL);
        kpToml_free(v);
    }
    CHECK(saw_ok);
}

/* More of TOML 1.0's corners: empty multi-line strings, quoted keys with dots, nested arrays,
 * arrays of tables inside arrays of tables, dotted keys in inline tables; and their errors. */
static void test_corners(void) {
    kpTomlValue *d = parse_ok(
        "s1 = \"\"\"\n\"\"\"\ns2 = '''\n'''\n\"a.b\" = 1\na.b = 2\nn = [ [ 1, 2 ], [ \"a\", \"b\" ] ]\n"
        "c = 1\t# c\n[x.\"y.z\"]\n[[q]]\n[[q.r]]\n[q.r.s]\nt = {u.v = 1, u.w = 2}\n");
    CHECK(d != NULL);
    if (d) {
        CHECK(str_is(kpToml_get(d, "s1"), "", 0) && str_is(kpToml_get(d, "s2"), "", 0));
        CHECK(kpToml_get(d, "a.b")->u.i == 1 && path(d, "a", "b", NULL)->u.i == 2);
        CHECK(kpToml_get(d, "n")->u.arr.n == 2 &&
              kpToml_get(d, "n")->u.arr.v[1]->u.arr.v[0]->kind == KP_TOML_STRING);
        CHECK(path(d, "x", "y.z", NULL) != NULL);
        const kpTomlValue *q = kpToml_get(d, "q");
        const kpTomlValue *r = q ? kpToml_get(q->u.arr.v[0], "r") : NULL;
        CHECK(r && r->kind == KP_TOML_ARRAY && kpToml_get(r->u.arr.v[0], "s") &&
              path(kpToml_get(r->u.arr.v[0], "s"), "t", "u", "w")->u.i == 2);
        kpToml_free(d);
    }
    bad("[a]\n[[a.b]]\n[a.b]\n", 3, 4, "already defined");
    bad("a = {}\n[a]\n", 2, 2, "already defined");
    bad("a.b = 1\n[a.c]\n[a]\n", 3, 2, "already defined");
    bad("a = {b.c = 1}\n[a.b.d]\n", 2, 2, "inline table");
    bad("a = {b = 1, b.c = 2}\n", 1, 13, "is an integer, not a table");
    bad("a = -0x1\n", 1, 5, "invalid number");
    bad("a = 1979-05-27T07:32:00+25:00\n", 1, 5, "invalid date-time");
}

int main(void) {
    test_strings();
    test_numbers();
    test_datetimes();
    test_tables();
    test_errors();
    test_corners();
    test_limits();
    test_big_tables();
    test_allocfail();
    return kpt_finish();
}
