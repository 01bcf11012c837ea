/* c_hot.c -- a known hot loop with DWARF for run-debug.py's profile test (built with
 * `clang --target=wasm32-wasi -g -O0`): spin() runs about 20 times as long from hot() as from
 * cold(); the profile's frames name each function's file and the line it starts on. */
static volatile unsigned sink;

static unsigned spin(unsigned n) {
    unsigned acc = 0;
    while (n--) acc = acc * 31 + n;
    return acc;
}

static unsigned hot(unsigned n) { return spin(n); }

static unsigned cold(unsigned n) { return spin(n); }

int main(void) {
    sink = cold(2500000);
    sink = hot(50000000);
    return 0;
}
