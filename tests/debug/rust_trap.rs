// rust_trap.rs -- a panic at a known line for tests/debug/run-debug.py (built with rustc -g).
mod shapes {
    pub struct Grid {
        pub cells: Vec<u32>,
    }
    impl Grid {
        #[inline(never)]
        pub fn cell(&self, i: usize) -> u32 {
            self.cells[i] // PANIC: line 9
        }
    }
}

fn main() {
    let g = shapes::Grid { cells: vec![1, 2, 3] };
    let i = std::env::args().count() + 6;
    println!("{}", g.cell(i)); // CALL: line 17
}
