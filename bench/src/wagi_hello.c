/* wagi_hello: the WAGI "hello" handler of bench/instantiate.c -- reads the request's environment
 * as a CGI program does and answers with a header block and a body on stdout. */
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const char *method = getenv("REQUEST_METHOD");
    const char *path = getenv("PATH_INFO");
    fputs("Content-Type: text/plain\n\nhello", stdout);
    if (!method || !path) return 1;
    return 0;
}
