/* main.c -- placeholder until the CLI lands. */
#include <stdio.h>
int main(void) { fprintf(stderr, "kapsul: not yet\n"); return 2; }
