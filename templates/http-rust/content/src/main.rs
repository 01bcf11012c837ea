//! {{project-name}}: an HTTP handler, run by `kapsul up` as a WAGI component.
//!
//! WAGI is CGI for WebAssembly: each request starts this program afresh in its own sandbox, with
//! the request in the environment (REQUEST_METHOD, PATH_INFO, QUERY_STRING, HTTP_* headers, ...)
//! and its body on standard input. What it prints is the response: header lines, an empty line,
//! then the body. A "Status: 404" header sets the status code (200 without one).

use std::env;

/// The variable's value, or `fallback` when the request did not set it.
fn env_or(name: &str, fallback: &str) -> String {
    env::var(name).unwrap_or_else(|_| fallback.to_string())
}

fn main() {
    print!("Content-Type: text/plain\n\n");
    println!("Hello from {{project-name}}");
    println!("method: {}", env_or("REQUEST_METHOD", "?"));
    println!("path: {}", env_or("PATH_INFO", ""));
}
