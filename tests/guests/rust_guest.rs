// rust_guest.rs -- a real Rust program built with Debian's rustc for wasm32-wasi, run by
// run-guests.py: files and directories beneath the preopen "data", arguments, environment,
// clocks, randomness and the exit code. Prints the same report as c_guest.c.
use std::fs;
use std::io::{Read, Write};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn random_get(buf: *mut u8, len: usize) -> u16;
}

fn check(failures: &mut u32, ok: bool, what: &str) {
    if !ok {
        println!("check failed: {}", what);
        *failures += 1;
    }
}

fn files(failures: &mut u32) {
    fs::write("data/out.txt", "line one\n").expect("write");
    {
        let mut f = fs::OpenOptions::new().append(true).open("data/out.txt").expect("append");
        f.write_all(b"line two\n").expect("append write");
    }
    let mut text = String::new();
    fs::File::open("data/out.txt").expect("open").read_to_string(&mut text).expect("read");
    print!("file: {} bytes: {}", text.len(), text);
    let md = fs::metadata("data/out.txt").expect("metadata");
    check(failures, md.len() == 18 && md.is_file(), "metadata");
    fs::create_dir("data/dir").expect("mkdir");
    fs::rename("data/out.txt", "data/dir/moved.txt").expect("rename");
    check(failures, fs::metadata("data/out.txt").is_err(), "renamed away");
    let mut entries = 0;
    for e in fs::read_dir("data/dir").expect("read_dir") {
        println!("dir entry: {}", e.expect("entry").file_name().to_string_lossy());
        entries += 1;
    }
    check(failures, entries == 1, "one entry");
    fs::remove_file("data/dir/moved.txt").expect("unlink");
    fs::remove_dir("data/dir").expect("rmdir");
    check(failures, fs::File::open("/etc/passwd").is_err(), "absolute path refused");
    let ro = fs::read_to_string("rodata/notes.txt").expect("read-only file");
    print!("read-only: {}", ro);
    check(failures, fs::OpenOptions::new().append(true).open("rodata/notes.txt").is_err(), "ro append");
    check(failures, fs::write("rodata/new.txt", "x").is_err(), "ro create");
    check(failures, fs::remove_file("rodata/notes.txt").is_err(), "ro unlink");
    check(failures, fs::write("data/../../escape", "x").is_err(), "escape refused");
}

fn main() {
    let mut failures = 0u32;
    let args: Vec<String> = std::env::args().collect();
    println!("argc: {}", args.len());
    for (i, a) in args.iter().enumerate().skip(1) {
        println!("arg {}: {}", i, a);
    }
    println!("GREETING: {}", std::env::var("GREETING").unwrap_or_else(|_| "(unset)".into()));
    println!("HOME: {}", if std::env::var("HOME").is_ok() { "leaked" } else { "(unset)" });
    files(&mut failures);
    let a = Instant::now();
    let b = Instant::now();
    check(&mut failures, b >= a, "monotonic");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("realtime");
    check(&mut failures, now.as_secs() > 1_600_000_000, "realtime");
    let mut rnd = [0u8; 32];
    let e = unsafe { random_get(rnd.as_mut_ptr(), rnd.len()) };
    check(&mut failures, e == 0 && rnd.iter().any(|&x| x != 0), "random");
    println!("clocks and random: ok");
    println!("failures: {}", failures);
    std::process::exit(if failures != 0 { 1 } else { 7 });
}
