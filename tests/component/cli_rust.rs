// cli_rust.rs -- a Rust CLI component guest (recipe: build.sh: rustc --target wasm32-wasi, then
// `jco new --wasi-command`): arguments, environment, reading, writing and listing a preopened
// directory through std::fs, stderr, and the exit status of std::process::exit.
// usage: cli_rust [copy FROM TO] | [STATUS] | [panic]
use std::io::{Read, Write};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    println!("args {:?}", &args[1..]);
    let mut vars: Vec<(String, String)> = std::env::vars().collect();
    vars.sort();
    println!("env {:?}", vars);
    if args.len() > 2 && args[1] == "copy" {
        let mut s = String::new();
        std::fs::File::open(&args[2]).and_then(|mut f| f.read_to_string(&mut s)).expect("read");
        std::fs::write(&args[3], s.to_uppercase()).expect("write");
        let entries: Vec<String> = match std::fs::read_dir("data") {
            Ok(d) => { let mut v: Vec<String> = d.map(|e| e.unwrap().file_name().into_string().unwrap()).collect(); v.sort(); v }
            Err(e) => vec![format!("readdir: {}", e)],
        };
        println!("dir {:?}", entries);
        println!("copied {}", std::fs::read_to_string(&args[3]).unwrap().trim());
    }
    eprintln!("rust stderr");
    std::io::stdout().flush().unwrap();
    if args.len() > 1 && args[1] == "panic" { panic!("rust panic"); }
    if args.len() > 1 { if let Ok(code) = args[1].parse::<i32>() { std::process::exit(code); } }
}
