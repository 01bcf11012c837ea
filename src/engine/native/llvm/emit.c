/*
 * emit.c -- the compiler's driver: decode and validate the module, translate it, verify and
 * optimize the IR (LLVM's legacy pass pipeline at -O0..-O3), emit an x86-64 ELF relocatable
 * object for the feature set kpArtifact_hostCpu() names, and wrap it with the module's bytes in
 * a .kwasm artifact. The only file that talks to LLVM's target and pass managers.
 */
#include <stdio.h>
#include <stdlib.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassManagerBuilder.h>

#include "engine/native/llvm/emit.h"
#include "engine/native/llvm/translate.h"

/* LLVM's spelling of the artifact's feature list: "x86-64:avx2,bmi" -> "+avx2,+bmi". */
static void llvm_features(const char *cpu, char *out, size_t cap) {
    const char *p = strchr(cpu, ':');
    size_t n = 0;
    out[0] = 0;
    if (!p) return;
    for (p++; *p && n + 2 < cap;) {
        out[n++] = '+';
        while (*p && *p != ',' && n + 2 < cap) out[n++] = *p++;
        if (*p == ',') out[n++] = *p++;
    }
    out[n] = 0;
}

/* A target machine for x86-64 Linux with the recorded features; PIC, small code model. */
static LLVMTargetMachineRef target_machine(unsigned opt, kapsul_error *err) {
    LLVMInitializeX86TargetInfo();
    LLVMInitializeX86Target();
    LLVMInitializeX86TargetMC();
    LLVMInitializeX86AsmPrinter();
    LLVMTargetRef target;
    char *msg = NULL;
    if (LLVMGetTargetFromTriple("x86_64-pc-linux-gnu", &target, &msg)) {
        kpError_set(err, KAPSUL_ERR_LIMIT, 0, "LLVM has no x86-64 target: %s", msg ? msg : "");
        LLVMDisposeMessage(msg);
        return NULL;
    }
    char features[512];
    llvm_features(kpArtifact_hostCpu(), features, sizeof features);
    static const LLVMCodeGenOptLevel levels[] = { LLVMCodeGenLevelNone, LLVMCodeGenLevelLess,
                                                  LLVMCodeGenLevelDefault, LLVMCodeGenLevelAggressive };
    return LLVMCreateTargetMachine(target, "x86_64-pc-linux-gnu", "x86-64", features, levels[opt],
                                   LLVMRelocPIC, LLVMCodeModelSmall);
}

/* The legacy pass pipeline at opt level 0..3 (O0 still promotes locals to registers). */
static void optimize(LLVMModuleRef mod, LLVMTargetMachineRef tm, unsigned opt) {
    LLVMPassManagerBuilderRef pmb = LLVMPassManagerBuilderCreate();
    LLVMPassManagerBuilderSetOptLevel(pmb, opt);
    if (opt >= 2) LLVMPassManagerBuilderUseInlinerWithThreshold(pmb, opt == 3 ? 275 : 225);
    LLVMPassManagerRef fpm = LLVMCreateFunctionPassManagerForModule(mod);
    LLVMPassManagerRef mpm = LLVMCreatePassManager();
    LLVMAddAnalysisPasses(tm, fpm);
    LLVMAddAnalysisPasses(tm, mpm);
    LLVMPassManagerBuilderPopulateFunctionPassManager(pmb, fpm);
    LLVMPassManagerBuilderPopulateModulePassManager(pmb, mpm);
    LLVMInitializeFunctionPassManager(fpm);
    for (LLVMValueRef f = LLVMGetFirstFunction(mod); f; f = LLVMGetNextFunction(f))
        if (!LLVMIsDeclaration(f)) LLVMRunFunctionPassManager(fpm, f);
    LLVMFinalizeFunctionPassManager(fpm);
    LLVMRunPassManager(mpm, mod);
    LLVMDisposePassManager(fpm);
    LLVMDisposePassManager(mpm);
    LLVMPassManagerBuilderDispose(pmb);
}

/* Translate, verify, optimize and emit; the object's bytes go to obj. */
static kapsul_status compile_object(const kpModule *m, unsigned opt, bool checks, kpBuf *obj,
                                    kapsul_error *err) {
    kapsul_status st = KAPSUL_OK;
    LLVMContextRef c = LLVMContextCreate();
    LLVMModuleRef mod = LLVMModuleCreateWithNameInContext("kapsul", c);
    LLVMTargetMachineRef tm = target_machine(opt, err);
    LLVMMemoryBufferRef buf = NULL;
    char *msg = NULL;
    if (!tm) {
        st = KAPSUL_ERR_LIMIT;
        goto fail;
    }
    LLVMSetTarget(mod, "x86_64-pc-linux-gnu");
    LLVMTargetDataRef dl = LLVMCreateTargetDataLayout(tm);
    LLVMSetModuleDataLayout(mod, dl);
    LLVMDisposeTargetData(dl);
    st = kpTranslate_module(m, !checks, c, mod, err);
    if (st) goto fail;
    if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
        if (getenv("KAPSUL_DUMP_LLVM")) LLVMDumpModule(mod);
        st = kpError_set(err, KAPSUL_ERR_LIMIT, 0,
                         "internal error: LLVM rejected the translated module: %.300s", msg ? msg : "");
        goto fail;
    }
    optimize(mod, tm, opt);
    if (getenv("KAPSUL_DUMP_LLVM")) LLVMDumpModule(mod);
    LLVMDisposeMessage(msg);
    msg = NULL;
    if (LLVMTargetMachineEmitToMemoryBuffer(tm, mod, LLVMObjectFile, &msg, &buf)) {
        st = kpError_set(err, KAPSUL_ERR_LIMIT, 0, "LLVM could not emit code: %.300s", msg ? msg : "");
        goto fail;
    }
    if (kpBuf_push(obj, LLVMGetBufferStart(buf), LLVMGetBufferSize(buf)))
        st = kpError_set(err, KAPSUL_ERR_NOMEM, 0, "out of memory");
fail:
    if (msg) LLVMDisposeMessage(msg);
    if (buf) LLVMDisposeMemoryBuffer(buf);
    if (tm) LLVMDisposeTargetMachine(tm);
    LLVMDisposeModule(mod);
    LLVMContextDispose(c);
    return st;
}

kapsul_status kpEmit_compile(const uint8_t *wasm, size_t len, unsigned opt, bool checks, kpBuf *out,
                             kapsul_error *err) {
    kpModule *m = NULL;
    kpBuf obj = { 0 };
    kapsul_status st = kpDecode_module(wasm, len, &m, err);
    if (st) goto fail;
    st = kpValidate_module(m, err);
    if (st) goto fail;
    if (opt > 3) opt = 3;
    st = compile_object(m, opt, checks, &obj, err);
    if (st) goto fail;
    kpArtifact a;
    memset(&a, 0, sizeof a);
    snprintf(a.version, sizeof a.version, "%s", kpArtifact_version());
    kpSha256(wasm, len, a.module_hash);
    snprintf(a.cpu, sizeof a.cpu, "%s", kpArtifact_hostCpu());
    snprintf(a.flags, sizeof a.flags, "O%u%s", opt, checks ? ",bounds-checks" : "");
    a.wasm = wasm;
    a.wasm_size = len;
    a.object = obj.data;
    a.object_size = obj.len;
    a.nfuncs = kpModule_numFuncs(m);
    st = kpArtifact_write(&a, out, err);
fail:
    kpBuf_free(&obj);
    if (m) kpModule_free(m);
    return st;
}
