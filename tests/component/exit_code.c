/*
 * exit_code.c -- the smallest component guest (recipe: build.sh): no stdio, one line written with
 * write(2), exit status from the first argument. Small enough to be a fuzz seed
 * (tests/fuzz/corpus/component) and the first program `kapsul run` runs as a component.
 */
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    static const char msg[] = "exit_code\n";
    write(1, msg, sizeof msg - 1);
    return argc > 1 ? atoi(argv[1]) : 0;
}
