/* bytecode: a small stack-machine interpreter with a switch dispatch loop,
 * running a branchy guest program (a random-number loop with a three-way
 * branch and a subroutine that counts bits). Measures unpredictable indirect
 * branches and small-array loads/stores: an interpreter inside an interpreter. */
#include "bench.h"

enum op {
    OP_PUSH,
    OP_LOAD,
    OP_STORE,
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_AND,
    OP_XOR,
    OP_SHR,
    OP_SHL,
    OP_LT,
    OP_EQ,
    OP_JMP,
    OP_JZ,
    OP_DUP,
    OP_POP,
    OP_CALL,
    OP_RET,
    OP_HALT
};

#define MAX_CODE 512

struct assembler {
    int32_t code[MAX_CODE];
    int len;
};

static int emit(struct assembler *as, int32_t op) {
    as->code[as->len] = op;
    return as->len++;
}

static int emit2(struct assembler *as, int32_t op, int32_t arg) {
    emit(as, op);
    return emit(as, arg);
}

/* Variables of the guest program. */
enum {
    V_I,
    V_N,
    V_X,
    V_A,
    V_B,
    V_C,
    V_T,
    V_K,
    NVARS
};

/* Assembles the guest program: a loop of n rounds; the branch taken in each
 * round depends on a pseudo-random value, and one arm calls a bit counter. */
static void assemble(struct assembler *as) {
    int loop, exit_patch, not0, not_lt4, join1, join2, sub, sub_loop, sub_exit, call_patch;
    as->len = 0;
    emit2(as, OP_PUSH, 0);
    emit2(as, OP_STORE, V_I);
    loop = as->len;
    emit2(as, OP_LOAD, V_I);
    emit2(as, OP_LOAD, V_N);
    emit(as, OP_LT);
    exit_patch = emit2(as, OP_JZ, 0);
    /* x = x * 1103515245 + 12345 */
    emit2(as, OP_LOAD, V_X);
    emit2(as, OP_PUSH, 1103515245);
    emit(as, OP_MUL);
    emit2(as, OP_PUSH, 12345);
    emit(as, OP_ADD);
    emit2(as, OP_STORE, V_X);
    /* t = (x >> 16) & 7 */
    emit2(as, OP_LOAD, V_X);
    emit2(as, OP_PUSH, 16);
    emit(as, OP_SHR);
    emit2(as, OP_PUSH, 7);
    emit(as, OP_AND);
    emit2(as, OP_STORE, V_T);
    /* if t == 0: a += x */
    emit2(as, OP_LOAD, V_T);
    emit2(as, OP_PUSH, 0);
    emit(as, OP_EQ);
    not0 = emit2(as, OP_JZ, 0);
    emit2(as, OP_LOAD, V_A);
    emit2(as, OP_LOAD, V_X);
    emit(as, OP_ADD);
    emit2(as, OP_STORE, V_A);
    join1 = emit2(as, OP_JMP, 0);
    as->code[not0] = as->len;
    /* elif t < 4: b ^= x >> 3 */
    emit2(as, OP_LOAD, V_T);
    emit2(as, OP_PUSH, 4);
    emit(as, OP_LT);
    not_lt4 = emit2(as, OP_JZ, 0);
    emit2(as, OP_LOAD, V_B);
    emit2(as, OP_LOAD, V_X);
    emit2(as, OP_PUSH, 3);
    emit(as, OP_SHR);
    emit(as, OP_XOR);
    emit2(as, OP_STORE, V_B);
    join2 = emit2(as, OP_JMP, 0);
    as->code[not_lt4] = as->len;
    /* else: c += bits(x & 0xfff) */
    emit2(as, OP_LOAD, V_X);
    emit2(as, OP_PUSH, 0xfff);
    emit(as, OP_AND);
    call_patch = emit2(as, OP_CALL, 0);
    emit2(as, OP_LOAD, V_C);
    emit(as, OP_ADD);
    emit2(as, OP_STORE, V_C);
    as->code[join1] = as->len;
    as->code[join2] = as->len;
    /* i += 1; loop */
    emit2(as, OP_LOAD, V_I);
    emit2(as, OP_PUSH, 1);
    emit(as, OP_ADD);
    emit2(as, OP_STORE, V_I);
    emit2(as, OP_JMP, loop);
    as->code[exit_patch] = as->len;
    emit(as, OP_HALT);
    /* bits(v): k = 0; while v != 0 { k += v & 1; v >>= 1 } return k */
    sub = as->len;
    as->code[call_patch] = sub;
    emit2(as, OP_STORE, V_T);
    emit2(as, OP_PUSH, 0);
    emit2(as, OP_STORE, V_K);
    sub_loop = as->len;
    emit2(as, OP_LOAD, V_T);
    emit2(as, OP_PUSH, 0);
    emit(as, OP_EQ);
    emit2(as, OP_PUSH, 1);
    emit(as, OP_XOR);
    sub_exit = emit2(as, OP_JZ, 0);
    emit2(as, OP_LOAD, V_K);
    emit2(as, OP_LOAD, V_T);
    emit2(as, OP_PUSH, 1);
    emit(as, OP_AND);
    emit(as, OP_ADD);
    emit2(as, OP_STORE, V_K);
    emit2(as, OP_LOAD, V_T);
    emit2(as, OP_PUSH, 1);
    emit(as, OP_SHR);
    emit2(as, OP_STORE, V_T);
    emit2(as, OP_JMP, sub_loop);
    as->code[sub_exit] = as->len;
    emit2(as, OP_LOAD, V_K);
    emit(as, OP_RET);
}

/* The dispatch loop. Returns the number of instructions executed. */
static uint64_t run(const int32_t *code, uint32_t *vars) {
    uint32_t stack[64];
    int32_t rstack[16];
    int sp = 0, rsp = 0, pc = 0;
    uint64_t steps = 0;
    for (;;) {
        int32_t op = code[pc++];
        steps++;
        switch (op) {
        case OP_PUSH: stack[sp++] = (uint32_t)code[pc++]; break;
        case OP_LOAD: stack[sp++] = vars[code[pc++]]; break;
        case OP_STORE: vars[code[pc++]] = stack[--sp]; break;
        case OP_ADD:
            sp--;
            stack[sp - 1] += stack[sp];
            break;
        case OP_SUB:
            sp--;
            stack[sp - 1] -= stack[sp];
            break;
        case OP_MUL:
            sp--;
            stack[sp - 1] *= stack[sp];
            break;
        case OP_AND:
            sp--;
            stack[sp - 1] &= stack[sp];
            break;
        case OP_XOR:
            sp--;
            stack[sp - 1] ^= stack[sp];
            break;
        case OP_SHR:
            sp--;
            stack[sp - 1] >>= (stack[sp] & 31);
            break;
        case OP_SHL:
            sp--;
            stack[sp - 1] <<= (stack[sp] & 31);
            break;
        case OP_LT:
            sp--;
            stack[sp - 1] = stack[sp - 1] < stack[sp];
            break;
        case OP_EQ:
            sp--;
            stack[sp - 1] = stack[sp - 1] == stack[sp];
            break;
        case OP_JMP: pc = code[pc]; break;
        case OP_JZ: pc = stack[--sp] ? pc + 1 : code[pc]; break;
        case OP_DUP:
            stack[sp] = stack[sp - 1];
            sp++;
            break;
        case OP_POP: sp--; break;
        case OP_CALL:
            rstack[rsp++] = pc + 1;
            pc = code[pc];
            break;
        case OP_RET: pc = rstack[--rsp]; break;
        case OP_HALT: return steps;
        default: return steps;
        }
    }
}

int main(int argc, char **argv) {
    static struct assembler as;
    uint32_t vars[NVARS] = { 0 };
    vars[V_N] = (uint32_t)bench_param(argc, argv, 4500000);
    vars[V_X] = 42;
    assemble(&as);
    uint64_t steps = run(as.code, vars);
    uint32_t check = BENCH_SEED;
    for (int i = 0; i < NVARS; i++) check = bench_mix(check, vars[i]);
    printf("bytecode: %u rounds, %llu instructions, a=%u b=%u c=%u, checksum %08x\n", vars[V_N],
           (unsigned long long)steps, vars[V_A], vars[V_B], vars[V_C], check);
    return 0;
}
