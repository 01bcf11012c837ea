/* guest_symlink_outside.c -- hostile guest: creating a symlink whose own location is outside. */
#include "hostile.h"

int main(void) {
    BOX_AND_RO();
    REFUSED(__wasi_path_symlink("x", box, "../outside/evil"));
    REFUSED(__wasi_path_symlink("x", box, "/tmp/kapsul-evil"));
    return hostile_finish();
}
