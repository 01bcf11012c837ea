/*
 * {{project-name}}: an HTTP handler, run by `kapsul up` as a WAGI component.
 *
 * WAGI is CGI for WebAssembly: each request starts this program afresh in its own sandbox, with
 * the request in the environment (REQUEST_METHOD, PATH_INFO, QUERY_STRING, HTTP_* headers, ...)
 * and its body on standard input. What it prints is the response: header lines, an empty line,
 * then the body. A "Status: 404" header sets the status code (200 without one).
 */
#include <stdio.h>
#include <stdlib.h>

/* The variable's value, or fallback when the request did not set it. */
static const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v ? v : fallback;
}

int main(void) {
    printf("Content-Type: text/plain\n\n");
    printf("Hello from {{project-name}}\n");
    printf("method: %s\n", env_or("REQUEST_METHOD", "?"));
    printf("path: %s\n", env_or("PATH_INFO", ""));
    return 0;
}
