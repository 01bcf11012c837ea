/*
 * test_wast.c -- the WAST script layer: every command form, values and expectations (nan
 * patterns, per-lane v128, references), module spans and their encoding, and errors with
 * positions that keep the commands parsed before them.
 */
#include <string.h>

#include "test.h"
#include "text/text.h"

static const char script[] =
    "(module $M (func (export \"f\") (param i32) (result i32) local.get 0))\n" /* 1 */
    "(module binary \"\\00asm\" \"\\01\\00\\00\\00\")\n"                       /* 2 */
    "(module $Q quote \"(func\" \"nop)\")\n"                                   /* 3 */
    "(register \"lib\" $M)\n"                                                  /* 4 */
    "(invoke $M \"f\" (i32.const -1))\n"                                       /* 5 */
    "(get \"g\\41\")\n"                                                        /* 6 */
    "(assert_return (invoke \"f\" (i64.const 0x10) (f32.const -0.0) (f64.const 1.5))\n"
    "  (i32.const 4294967295) (f32.const nan:canonical) (f64.const nan:arithmetic) (f64.const -nan))\n"
    "(assert_return (invoke \"v\" (v128.const i16x8 1 2 3 4 5 6 7 -1))\n" /* 9 */
    "  (v128.const f32x4 nan:canonical 1.0 nan:arithmetic -inf))\n"
    "(assert_return (invoke \"r\" (ref.null func) (ref.extern 7))\n" /* 11 */
    "  (ref.null extern) (ref.extern 7) (ref.func) (ref.extern))\n"
    "(assert_trap (invoke \"t\") \"unreachable\")\n" /* 13 */
    "(assert_trap (module (start 0) (func unreachable)) \"unreachable\")\n"
    "(assert_exhaustion (invoke $M \"loop\") \"call stack exhausted\")\n" /* 15 */
    "(assert_invalid (module (func (result i32))) \"type mismatch\")\n"
    "(assert_malformed (module quote \"(func (i32.const 0x))\") \"unknown operator\")\n"
    "(assert_unlinkable (module (import \"x\" \"y\" (func))) \"unknown import\")\n"
    "(assert_uninstantiable (module (memory 1) (data (i32.const 70000) \"a\")) \"out of bounds\")\n"
    ";; done\n";

static void test_commands(void) {
    kpWastScript s;
    kapsul_error err;
    kapsul_status st = kpWast_parse(script, sizeof script - 1, &s, &err);
    CHECK(st == KAPSUL_OK);
    CHECK(s.ncmds == 16);
    if (s.ncmds != 16) {
        kpWast_free(&s);
        return;
    }
    kpWastCommand *c = s.cmds;

    /* 1: a named text module whose span is the whole (module ...) */
    CHECK(c[0].kind == kpCmd_MODULE && c[0].has_module && c[0].module.kind == kpMod_TEXT);
    CHECK(c[0].module.name && strcmp(c[0].module.name, "M") == 0);
    CHECK(c[0].line == 1 && c[0].column == 1 && c[0].module.line == 1);
    CHECK(c[0].module.src == script &&
          c[0].module.len ==
              strlen("(module $M (func (export \"f\") (param i32) (result i32) local.get 0))"));
    kpBuf out = { 0 };
    CHECK(kpWat_toBinary(c[0].module.src, c[0].module.len, c[0].module.line, &out, &err) == KAPSUL_OK);
    static const uint8_t want[] = { 0, 'a', 's', 'm', 1, 0,   0, 0, 1,  6, 1, 0x60, 1, 0x7F, 1, 0x7F, 3, 2, 1,
                                    0, 7,   5,   1,   1, 'f', 0, 0, 10, 6, 1, 4,    0, 0x20, 0, 0x0B };
    CHECK(out.len == sizeof want && memcmp(out.data, want, sizeof want) == 0);
    kpBuf_free(&out);

    /* 2, 3: binary bytes decoded, quote strings joined into one text */
    CHECK(c[1].module.kind == kpMod_BINARY && c[1].module.name == NULL && c[1].module.bytes.len == 8 &&
          memcmp(c[1].module.bytes.data, "\0asm\1\0\0\0", 8) == 0);
    CHECK(c[2].module.kind == kpMod_QUOTE && strcmp(c[2].module.name, "Q") == 0 &&
          c[2].module.bytes.len == 10 && memcmp(c[2].module.bytes.data, "(func nop)", 10) == 0);

    /* 4: register */
    CHECK(c[3].kind == kpCmd_REGISTER && strcmp(c[3].register_name, "lib") == 0 &&
          strcmp(c[3].register_module, "M") == 0 && c[3].line == 4);

    /* 5, 6: bare actions */
    CHECK(c[4].kind == kpCmd_ACTION && c[4].has_action && c[4].action.kind == kpAct_INVOKE);
    CHECK(strcmp(c[4].action.module, "M") == 0 && c[4].action.field_len == 1 &&
          strcmp(c[4].action.field, "f") == 0);
    CHECK(c[4].action.nargs == 1 && c[4].action.args[0].kind == kpWV_I32 &&
          c[4].action.args[0].u.i32 == 0xFFFFFFFFu);
    CHECK(c[5].action.kind == kpAct_GET && c[5].action.module == NULL &&
          strcmp(c[5].action.field, "gA") == 0);

    /* 7: scalar arguments and expectations, nan patterns */
    kpWastAction *a = &c[6].action;
    CHECK(c[6].kind == kpCmd_ASSERT_RETURN && a->nargs == 3);
    CHECK(a->args[0].kind == kpWV_I64 && a->args[0].u.i64 == 16);
    CHECK(a->args[1].kind == kpWV_F32 && a->args[1].u.i32 == 0x80000000u);
    CHECK(a->args[2].kind == kpWV_F64 && a->args[2].u.i64 == 0x3FF8000000000000ull);
    CHECK(c[6].nresults == 4);
    CHECK(c[6].results[0].kind == kpWV_I32 && c[6].results[0].u.i32 == 0xFFFFFFFFu &&
          c[6].results[0].nan[0] == kpNan_NONE);
    CHECK(c[6].results[1].kind == kpWV_F32 && c[6].results[1].nan[0] == kpNan_CANONICAL);
    CHECK(c[6].results[2].kind == kpWV_F64 && c[6].results[2].nan[0] == kpNan_ARITHMETIC);
    CHECK(c[6].results[3].kind == kpWV_F64 && c[6].results[3].nan[0] == kpNan_NONE &&
          c[6].results[3].u.i64 == 0xFFF8000000000000ull);

    /* 9: v128 argument lanes (little-endian) and per-lane float expectations */
    kpWastVal *v = &c[7].action.args[0];
    CHECK(v->kind == kpWV_V128 && v->lane_shape == 1 && v->u.v128[0] == 1 && v->u.v128[1] == 0 &&
          v->u.v128[14] == 0xFF && v->u.v128[15] == 0xFF);
    v = &c[7].results[0];
    CHECK(v->kind == kpWV_V128 && v->lane_shape == 4);
    CHECK(v->nan[0] == kpNan_CANONICAL && v->nan[1] == kpNan_NONE && v->nan[2] == kpNan_ARITHMETIC &&
          v->nan[3] == kpNan_NONE);
    CHECK(v->u.v128[4] == 0x00 && v->u.v128[6] == 0x80 && v->u.v128[7] == 0x3F);    /* 1.0 */
    CHECK(v->u.v128[12] == 0x00 && v->u.v128[14] == 0x80 && v->u.v128[15] == 0xFF); /* -inf */

    /* 11: references */
    CHECK(c[8].action.nargs == 2 && c[8].action.args[0].kind == kpWV_REF_NULL &&
          c[8].action.args[0].reftype == 0x70);
    CHECK(c[8].action.args[1].kind == kpWV_REF_EXTERN && c[8].action.args[1].u.i64 == 7);
    CHECK(c[8].nresults == 4 && c[8].results[0].kind == kpWV_REF_NULL && c[8].results[0].reftype == 0x6F);
    CHECK(c[8].results[1].kind == kpWV_REF_EXTERN && c[8].results[1].u.i64 == 7);
    CHECK(c[8].results[2].kind == kpWV_REF_FUNC && c[8].results[3].kind == kpWV_REF_ANY_EXTERN);

    /* 13..: traps on actions and modules, exhaustion, module assertions with messages */
    CHECK(c[9].kind == kpCmd_ASSERT_TRAP && c[9].has_action && !c[9].has_module &&
          strcmp(c[9].message, "unreachable") == 0);
    CHECK(c[10].kind == kpCmd_ASSERT_TRAP && c[10].has_module && !c[10].has_action &&
          c[10].module.kind == kpMod_TEXT);
    CHECK(c[11].kind == kpCmd_ASSERT_EXHAUSTION && strcmp(c[11].action.module, "M") == 0 &&
          strcmp(c[11].message, "call stack exhausted") == 0 && c[11].line == 15);
    CHECK(c[12].kind == kpCmd_ASSERT_INVALID && c[12].module.kind == kpMod_TEXT &&
          strcmp(c[12].message, "type mismatch") == 0);
    CHECK(c[13].kind == kpCmd_ASSERT_MALFORMED && c[13].module.kind == kpMod_QUOTE);
    /* the malformed module fails when encoded, with the expected message */
    CHECK(kpWat_toBinary((const char *)c[13].module.bytes.data, c[13].module.bytes.len, 1, &out, &err) ==
              KAPSUL_ERR_MALFORMED &&
          strncmp(err.message, c[13].message, strlen(c[13].message)) == 0);
    kpBuf_free(&out);
    CHECK(c[14].kind == kpCmd_ASSERT_UNLINKABLE && strcmp(c[14].message, "unknown import") == 0);
    CHECK(c[15].kind == kpCmd_ASSERT_UNINSTANTIABLE && c[15].has_module &&
          strcmp(c[15].message, "out of bounds") == 0);
    kpWast_free(&s);
}

static void test_uninstantiable(void) {
    const char *t =
        "(assert_uninstantiable (module (memory 1) (data (i32.const 70000) \"a\")) \"out of bounds\")";
    kpWastScript s;
    kapsul_error err;
    CHECK(kpWast_parse(t, strlen(t), &s, &err) == KAPSUL_OK && s.ncmds == 1 &&
          s.cmds[0].kind == kpCmd_ASSERT_UNINSTANTIABLE && s.cmds[0].has_module);
    kpWast_free(&s);
}

/* A bad command stops the parse with a position; the commands before it are kept. */
static void test_errors(void) {
    kpWastScript s;
    kapsul_error err;
    const char *t1 = "(module)\n(invoke \"f\")\n  (assert_return (invoke \"f\") (i32.const 1.5))\n(module)";
    CHECK(kpWast_parse(t1, strlen(t1), &s, &err) == KAPSUL_ERR_MALFORMED && s.ncmds == 2 && err.line == 3 &&
          err.column == 42);
    kpWast_free(&s);
    const char *t2 = "(module)\n(assert_bogus)";
    CHECK(kpWast_parse(t2, strlen(t2), &s, &err) == KAPSUL_ERR_MALFORMED && s.ncmds == 1 && err.line == 2 &&
          err.column == 2 && strcmp(err.message, "unknown command") == 0);
    kpWast_free(&s);
    const char *t3 = "(module)\n(module \"x\n";
    CHECK(kpWast_parse(t3, strlen(t3), &s, &err) == KAPSUL_ERR_MALFORMED && s.ncmds == 1 && err.line == 2 &&
          err.column == 9 && strcmp(err.message, "unclosed string") == 0);
    kpWast_free(&s);
    const char *t4 = "(module)\n(invoke \"f\"";
    CHECK(kpWast_parse(t4, strlen(t4), &s, &err) == KAPSUL_ERR_MALFORMED && s.ncmds == 1);
    kpWast_free(&s);
    const char *t5 = "(assert_return (invoke \"f\") (f32.const nan:0x0))";
    CHECK(kpWast_parse(t5, strlen(t5), &s, &err) == KAPSUL_ERR_MALFORMED && s.ncmds == 0 &&
          strcmp(err.message, "constant out of range") == 0);
    kpWast_free(&s);
    /* nan patterns are expectations only */
    const char *t6 = "(invoke \"f\" (f32.const nan:canonical))";
    CHECK(kpWast_parse(t6, strlen(t6), &s, &err) == KAPSUL_ERR_MALFORMED && s.ncmds == 0);
    kpWast_free(&s);
    /* an error inside a text module is not a script error: it surfaces when encoding */
    const char *t7 = "(module (func i32.bogus))";
    CHECK(kpWast_parse(t7, strlen(t7), &s, &err) == KAPSUL_OK && s.ncmds == 1);
    kpBuf out = { 0 };
    CHECK(kpWat_toBinary(s.cmds[0].module.src, s.cmds[0].module.len, s.cmds[0].module.line, &out, &err) ==
              KAPSUL_ERR_MALFORMED &&
          err.line == 1 && err.column == 15);
    kpBuf_free(&out);
    kpWast_free(&s);
    /* a module starting mid-line: kpWat_toBinaryAt keeps first-line columns exact */
    const char *t8 = "(assert_invalid (module (func i32.bogus)) \"x\")";
    CHECK(kpWast_parse(t8, strlen(t8), &s, &err) == KAPSUL_OK && s.ncmds == 1 &&
          s.cmds[0].module.column == 17);
    CHECK(kpWat_toBinaryAt(s.cmds[0].module.src, s.cmds[0].module.len, s.cmds[0].module.line,
                           s.cmds[0].module.column, &out, &err) == KAPSUL_ERR_MALFORMED &&
          err.line == 1 && err.column == 31);
    kpBuf_free(&out);
    kpWast_free(&s);
}

/* A script that is only module fields is one module (spec inline-module.wast). */
static void test_bare_module(void) {
    const char *t = "(func) (memory 0) (func (export \"f\"))";
    kpWastScript s;
    kapsul_error err;
    CHECK(kpWast_parse(t, strlen(t), &s, &err) == KAPSUL_OK && s.ncmds == 1 &&
          s.cmds[0].kind == kpCmd_MODULE && s.cmds[0].module.len == strlen(t));
    kpBuf out = { 0 };
    CHECK(kpWat_toBinary(s.cmds[0].module.src, s.cmds[0].module.len, 1, &out, &err) == KAPSUL_OK &&
          out.len > 8);
    kpBuf_free(&out);
    kpWast_free(&s);
    /* an empty script has no commands */
    CHECK(kpWast_parse(";; nothing\n", 11, &s, &err) == KAPSUL_OK && s.ncmds == 0);
    kpWast_free(&s);
}

int main(void) {
    test_commands();
    test_uninstantiable();
    test_errors();
    test_bare_module();
    return kpt_finish();
}
